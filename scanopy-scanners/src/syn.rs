//! The SYN sweep: with raw sockets, a host's ports are swept by sending TCP SYN segments and
//! reading the answers (SYN-ACK: open; RST: closed; nothing: filtered), without a connection
//! per port. The kernel answers each SYN-ACK with a reset, as it does for any segment it did
//! not expect, so no connection is left half-open. Open ports are then connected to for
//! identification, as in a connect scan.
//!
//! Each SYN takes a probe permit, so the scan's rate limit paces the sweep. Unanswered ports
//! are asked once more; the wait for answers follows the host's round-trip time. Segments go
//! out, and answers come in, up to 64 per system call (`sendmmsg`, `recvmmsg`).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg};

use scanopy_core::ScanContext;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

/// What the sweep learned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SynResult {
    /// Ports that answered SYN-ACK.
    pub open: Vec<u16>,
    /// Ports that answered RST.
    pub closed: usize,
    /// The longest answer time seen.
    pub slowest: Option<Duration>,
    /// The IP TTL of the first SYN-ACK (else of the first RST): evidence of the host's OS.
    pub ttl: Option<u8>,
}

/// The answer a segment carries for our sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// SYN-ACK from this port.
    Open(u16),
    /// RST from this port.
    Closed(u16),
}

/// Builds a SYN segment (TCP header with an MSS option, checksum over the IPv4 pseudo-header).
pub fn syn_segment(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> [u8; 24] {
    let mut t = [0u8; 24];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 6 << 4; // data offset: 6 words
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&1024u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let sum = checksum(src, dst, &t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    t
}

fn checksum(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            sum += u32::from(w);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&[0, 6]);
    add(&u16::try_from(segment.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes());
    add(segment);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The sequence number for a port: tied to the port, so a SYN-ACK can be checked.
fn seq_for(key: u32, port: u16) -> u32 {
    key.rotate_left(u32::from(port % 31)) ^ (u32::from(port) << 16 | u32::from(port))
}

/// Reads an IPv4 packet received on a raw TCP socket: an answer from `host` to our `sport`,
/// checked against the sequence numbers we sent. Never panics, whatever the bytes.
pub fn parse_answer(packet: &[u8], host: Ipv4Addr, sport: u16, key: u32) -> Option<Answer> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || *packet.get(9)? != 6 {
        return None;
    }
    let src = Ipv4Addr::new(
        *packet.get(12)?,
        *packet.get(13)?,
        *packet.get(14)?,
        *packet.get(15)?,
    );
    if src != host {
        return None;
    }
    let tcp = packet.get(ihl..ihl + 20)?;
    let from = u16::from_be_bytes([tcp[0], tcp[1]]);
    let to = u16::from_be_bytes([tcp[2], tcp[3]]);
    if to != sport {
        return None;
    }
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let flags = tcp[13];
    let expected = seq_for(key, from).wrapping_add(1);
    if flags & 0x12 == 0x12 && ack == expected {
        Some(Answer::Open(from))
    } else if flags & 0x04 != 0 && (ack == expected || flags & 0x10 == 0) {
        Some(Answer::Closed(from))
    } else {
        None
    }
}

/// The local address the kernel would use to reach `host`.
fn source_for(host: Ipv4Addr) -> io::Result<Ipv4Addr> {
    let probe = UdpSocket::bind("0.0.0.0:0")?;
    probe.connect((host, 9))?;
    match probe.local_addr()? {
        SocketAddr::V4(a) => Ok(*a.ip()),
        SocketAddr::V6(_) => Err(io::Error::other("no IPv4 source address")),
    }
}

/// How many segments one `sendmmsg` sends, and answers one `recvmmsg` reads, at most.
const BATCH: usize = 64;
/// Bytes kept of each packet read: the IPv4 header (at most 60) and the TCP header's first 20
/// are all an answer needs; the rest of a longer segment is cut off by the kernel.
const KEEP: usize = 128;
/// The most `recvmmsg` calls one reading of the socket makes (1,024 packets).
const DRAIN_CALLS: usize = 16;

/// The sweep's record of each port: when its SYN went out and whether it was answered, in
/// tables indexed by port (no hashing per segment).
struct Ledger {
    start: tokio::time::Instant,
    /// Microseconds after `start` (plus one; zero: not sent) of each port's last SYN.
    sent: Vec<u32>,
    answered: Vec<u64>,
    answers: usize,
    wanted: usize,
}

impl Ledger {
    fn new(ports: &[u16]) -> Self {
        let mut seen = vec![0u64; 1024];
        let mut wanted = 0;
        for &p in ports {
            let (w, b) = (usize::from(p) / 64, 1u64 << (p % 64));
            if seen[w] & b == 0 {
                seen[w] |= b;
                wanted += 1;
            }
        }
        Ledger {
            start: tokio::time::Instant::now(),
            sent: vec![0; 65536],
            answered: vec![0; 1024],
            answers: 0,
            wanted,
        }
    }

    fn is_answered(&self, port: u16) -> bool {
        self.answered[usize::from(port) / 64] & (1u64 << (port % 64)) != 0
    }

    fn mark_sent(&mut self, port: u16) {
        let us = self.start.elapsed().as_micros();
        self.sent[usize::from(port)] = u32::try_from(us).unwrap_or(u32::MAX - 1) + 1;
    }

    /// Records an answer from `port`; its round-trip time, or `None` when the port was not
    /// asked or has answered already.
    fn answer(&mut self, port: u16) -> Option<Duration> {
        let sent = self.sent[usize::from(port)];
        if sent == 0 || self.is_answered(port) {
            return None;
        }
        self.answered[usize::from(port) / 64] |= 1u64 << (port % 64);
        self.answers += 1;
        let now = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        Some(Duration::from_micros(
            now.saturating_sub(u64::from(sent - 1)),
        ))
    }

    fn all_answered(&self) -> bool {
        self.answers >= self.wanted
    }
}

/// Sweeps `ports` of `host` with SYN segments. Errors when raw sockets are not allowed (the
/// caller falls back to connecting).
///
/// The socket is connected to `host`, so the kernel hands it only that host's segments, and
/// the segments go out and the answers come in up to 64 per system call
/// (`sendmmsg`, `recvmmsg`). With a rate limit each segment goes out on its own, when its
/// permit says.
pub async fn sweep(
    ctx: &ScanContext,
    host: Ipv4Addr,
    ports: &[u16],
    wait: impl Fn(Option<Duration>) -> Duration,
) -> io::Result<SynResult> {
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    // A roomy buffer keeps answers from being dropped between reads: 4 MiB, beyond the
    // system's limit where we may (CAP_NET_ADMIN), else as much as the limit allows.
    if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(4 << 20))
        .is_err()
    {
        let _ = socket.set_recv_buffer_size(4 << 20);
    }
    socket.connect(&SockAddr::from(SocketAddrV4::new(host, 0)))?;
    let fd = register(socket)?;
    let src = source_for(host)?;
    let key: u32 = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(u32::from(host));
        h.finish() as u32
    };
    let sport = 40000 + (key % 20000) as u16;
    let batch = if ctx.config().rate.is_some() {
        1
    } else {
        BATCH
    };

    let mut result = SynResult::default();
    let mut ledger = Ledger::new(ports);
    let mut io = Batches::new();
    let answers = Answers { host, sport, key };

    for round in 0..2 {
        let todo: Vec<u16> = ports
            .iter()
            .copied()
            .filter(|p| !ledger.is_answered(*p))
            .collect();
        if todo.is_empty() {
            break;
        }
        for chunk in todo.chunks(batch) {
            io.segments.clear();
            for &port in chunk {
                // Each permit is let go before the next is asked for: none is held while
                // waiting.
                if ctx.probe().await.is_none() {
                    result.open.sort_unstable();
                    return Ok(result);
                }
                io.segments
                    .push(syn_segment(src, host, sport, port, seq_for(key, port)));
            }
            let mut off = 0;
            while off < io.segments.len() {
                let mut guard = fd.writable().await?;
                match guard.try_io(|inner| send_segments(inner.get_ref(), &io.segments[off..])) {
                    Ok(Ok(n)) => {
                        for &port in &chunk[off..off + n] {
                            ledger.mark_sent(port);
                        }
                        off += n;
                    }
                    Ok(Err(e)) if is_no_buffer(&e) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => continue,
                }
            }
            if round == 0 {
                ctx.progress()
                    .add_ports_probed(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
            }
            // Read answers while sending, so the socket's buffer never overflows.
            let _more = io.drain(fd.get_ref(), &answers, &mut ledger, &mut result)?;
        }
        let deadline = tokio::time::Instant::now() + wait(result.slowest);
        let mut more = false;
        while !ledger.all_answered() {
            if more {
                // A full helping was read: read on without waiting for readiness (it was
                // cleared), but yield and heed the deadline and cancellation between helpings.
                if tokio::time::Instant::now() >= deadline || ctx.is_cancelled() {
                    break;
                }
                tokio::task::yield_now().await;
                more = io.drain(fd.get_ref(), &answers, &mut ledger, &mut result)?;
                continue;
            }
            tokio::select! {
                r = fd.readable() => {
                    let mut guard = r?;
                    guard.clear_ready();
                    drop(guard);
                    more = io.drain(fd.get_ref(), &answers, &mut ledger, &mut result)?;
                }
                _ = tokio::time::sleep_until(deadline) => break,
                _ = ctx.cancelled() => {
                    result.open.sort_unstable();
                    return Ok(result);
                }
            }
        }
    }
    result.open.sort_unstable();
    Ok(result)
}

/// Registers the socket with the runtime. `AsyncFd` owns the socket, so the descriptor lives
/// exactly as long as its registration: the soundness concern behind the deprecation (a
/// descriptor closed while registered) cannot arise, and the replacement is `unsafe`.
#[expect(
    deprecated,
    reason = "the safe constructor is deprecated; AsyncFd owns the socket here"
)]
fn register(socket: Socket) -> io::Result<AsyncFd<Socket>> {
    AsyncFd::new(socket)
}

/// What tells our answers from other segments.
struct Answers {
    host: Ipv4Addr,
    sport: u16,
    key: u32,
}

/// The buffers of the batched system calls, allocated once per sweep. (The system calls'
/// headers hold raw pointers, so they are made per call: the sweep's future must be `Send`.)
struct Batches {
    segments: Vec<[u8; 24]>,
    bufs: Vec<[u8; KEEP]>,
}

impl Batches {
    fn new() -> Self {
        Batches {
            segments: Vec::with_capacity(BATCH),
            bufs: vec![[0u8; KEEP]; BATCH],
        }
    }

    /// Reads the answers waiting on the socket, up to [`BATCH`] per system call and
    /// [`DRAIN_CALLS`] calls: whether more may be waiting (a host that floods us is read in
    /// bounded helpings, so the sweep's deadlines are still checked).
    fn drain(
        &mut self,
        socket: &Socket,
        answers: &Answers,
        ledger: &mut Ledger,
        result: &mut SynResult,
    ) -> io::Result<bool> {
        // With room for each sender's address: the kernel writes it back (and its length into
        // the header, which is reused).
        let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
        for _ in 0..DRAIN_CALLS {
            let mut lens = [0usize; BATCH];
            let got = {
                let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
                    self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
                match recvmmsg(
                    socket.as_raw_fd(),
                    &mut headers,
                    &mut iovs,
                    MsgFlags::MSG_DONTWAIT,
                    None,
                ) {
                    Ok(msgs) => {
                        let mut n = 0;
                        for (m, len) in msgs.zip(lens.iter_mut()) {
                            *len = m.bytes.min(KEEP);
                            n += 1;
                        }
                        n
                    }
                    Err(nix::errno::Errno::EAGAIN) => return Ok(false),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(io::Error::from(e)),
                }
            };
            for (buf, &len) in self.bufs.iter().zip(&lens[..got]) {
                record(&buf[..len], answers, ledger, result);
            }
            if got < BATCH {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Sends `segments` on the connected socket, as many as one `sendmmsg` takes; how many went
/// out.
fn send_segments(socket: &Socket, segments: &[[u8; 24]]) -> io::Result<usize> {
    let iovs: Vec<[IoSlice<'_>; 1]> = segments.iter().map(|s| [IoSlice::new(s)]).collect();
    let addrs = vec![None::<()>; iovs.len()];
    let mut headers = MultiHeaders::<()>::preallocate(iovs.len(), None);
    let sent = sendmmsg(
        socket.as_raw_fd(),
        &mut headers,
        &iovs,
        addrs,
        [],
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    Ok(sent.count())
}

/// The kernel is out of buffers for now (on a fast link): wait a little and send again.
fn is_no_buffer(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32)
        || e.kind() == io::ErrorKind::WouldBlock
}

/// Takes one packet read from the socket into the sweep's result, if it answers us.
fn record(packet: &[u8], answers: &Answers, ledger: &mut Ledger, result: &mut SynResult) {
    let Some(a) = parse_answer(packet, answers.host, answers.sport, answers.key) else {
        return;
    };
    let port = match a {
        Answer::Open(p) | Answer::Closed(p) => p,
    };
    let Some(rtt) = ledger.answer(port) else {
        return;
    };
    result.slowest = Some(result.slowest.map_or(rtt, |s| s.max(rtt)));
    // parse_answer read the whole IPv4 header, so byte 8 (the TTL) is there.
    let ttl = packet.get(8).copied();
    match a {
        Answer::Open(p) => {
            if result.open.is_empty() {
                result.ttl = ttl;
            }
            result.open.push(p);
        }
        Answer::Closed(_) => {
            result.ttl = result.ttl.or(ttl);
            result.closed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_syn_segment_has_a_valid_checksum() {
        let (s, d) = (Ipv4Addr::new(10, 77, 0, 2), Ipv4Addr::new(10, 77, 0, 10));
        let seg = syn_segment(s, d, 40001, 80, 12345);
        // A correct checksum makes the sum over pseudo-header and segment come out as zero.
        assert_eq!(checksum(s, d, &seg), 0);
        assert_eq!(seg[13], 0x02);
    }

    #[test]
    fn answers_are_checked_against_what_was_sent() {
        let (us, host) = (Ipv4Addr::new(10, 77, 0, 2), Ipv4Addr::new(10, 77, 0, 10));
        let key = 0xdead_beef;
        let packet = |flags: u8, ack: u32, from: Ipv4Addr| {
            let mut p = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0];
            p.extend_from_slice(&from.octets());
            p.extend_from_slice(&us.octets());
            p.extend_from_slice(&80u16.to_be_bytes());
            p.extend_from_slice(&40001u16.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 1]);
            p.extend_from_slice(&ack.to_be_bytes());
            p.extend_from_slice(&[0x50, flags, 0, 0, 0, 0, 0, 0]);
            p
        };
        let good = seq_for(key, 80).wrapping_add(1);
        assert_eq!(
            parse_answer(&packet(0x12, good, host), host, 40001, key),
            Some(Answer::Open(80))
        );
        assert_eq!(
            parse_answer(&packet(0x14, good, host), host, 40001, key),
            Some(Answer::Closed(80))
        );
        assert_eq!(
            parse_answer(&packet(0x12, good + 1, host), host, 40001, key),
            None,
            "wrong ack"
        );
        assert_eq!(
            parse_answer(&packet(0x12, good, us), host, 40001, key),
            None,
            "another host"
        );
        assert_eq!(
            parse_answer(&packet(0x12, good, host), host, 40002, key),
            None,
            "another sweep"
        );
    }

    #[test]
    fn the_ledger_counts_each_asked_port_once() {
        let mut l = Ledger::new(&[22, 80, 80, 443]);
        assert_eq!(l.wanted, 3, "a port listed twice is one port");
        assert_eq!(l.answer(22), None, "not asked yet: not an answer");
        l.mark_sent(22);
        l.mark_sent(80);
        assert!(l.answer(22).is_some());
        assert_eq!(
            l.answer(22),
            None,
            "a second answer from a port is not counted"
        );
        assert!(l.is_answered(22) && !l.is_answered(80));
        assert!(!l.all_answered());
        assert!(l.answer(80).is_some());
        l.mark_sent(443);
        assert!(l.answer(443).is_some());
        assert!(l.all_answered());
        assert_eq!(l.answer(65535), None);
    }

    #[tokio::test]
    async fn a_batch_goes_out_and_comes_back_on_loopback() {
        // Raw sockets need CAP_NET_RAW: without it, say so and check nothing.
        let probe = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP));
        if probe.is_err() {
            eprintln!("skipped: no raw sockets here (needs CAP_NET_RAW)");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let open = listener.local_addr().expect("addr").port();
        // A port that was just bound and released is closed.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        let (ctx, _rx) = ScanContext::standalone(
            "tcp",
            scanopy_core::ScanConfig::default(),
            scanopy_core::TargetSet::default(),
            tokio_util::sync::CancellationToken::new(),
        );
        let ports: Vec<u16> = (1..=200).chain([open, closed]).collect();
        let r = sweep(&ctx, Ipv4Addr::LOCALHOST, &ports, |_| {
            Duration::from_millis(300)
        })
        .await
        .expect("sweep loopback");
        assert!(r.open.contains(&open), "{r:?}");
        assert!(!r.open.contains(&closed), "{r:?}");
        assert_eq!(
            r.open.len() + r.closed,
            ports.len(),
            "every port answered once: {r:?}"
        );
    }

    #[test]
    fn a_flood_is_read_in_bounded_helpings() {
        let Ok(socket) = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)) else {
            eprintln!("skipped: no raw sockets here (needs CAP_NET_RAW)");
            return;
        };
        socket.set_nonblocking(true).unwrap();
        // More than one helping must fit in the socket's buffer: that needs CAP_NET_ADMIN.
        if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(4 << 20))
            .is_err()
        {
            eprintln!("skipped: the receive buffer cannot be raised here (needs CAP_NET_ADMIN)");
            return;
        }
        socket
            .connect(&SockAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        // 3,000 SYNs to loopback, unread: the socket hears each SYN and its reset, 6,000
        // packets waiting (fewer if the buffer is smaller, but more than one helping).
        let lo = Ipv4Addr::LOCALHOST;
        let segs: Vec<[u8; 24]> = (1..=3000u16)
            .map(|p| syn_segment(lo, lo, 40123, p, seq_for(7, p)))
            .collect();
        let mut off = 0;
        while off < segs.len() {
            match send_segments(&socket, &segs[off..]) {
                Ok(n) => off += n,
                Err(e) if is_no_buffer(&e) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("send: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        let ports: Vec<u16> = (1..=3000).collect();
        let mut ledger = Ledger::new(&ports);
        for &p in &ports {
            ledger.mark_sent(p);
        }
        let mut io = Batches::new();
        let mut result = SynResult::default();
        let answers = Answers {
            host: lo,
            sport: 40123,
            key: 7,
        };
        let mut helpings = 1;
        let mut more = io
            .drain(&socket, &answers, &mut ledger, &mut result)
            .unwrap();
        assert!(more, "one helping read everything: the cap did not hold");
        while more {
            helpings += 1;
            assert!(helpings < 20, "the flood never ended");
            more = io
                .drain(&socket, &answers, &mut ledger, &mut result)
                .unwrap();
        }
        assert!(helpings >= 2);
        // Every port answered once (a reset, or a SYN-ACK from whatever listens here).
        assert_eq!(result.closed + result.open.len(), 3000, "{result:?}");
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), key in any::<u32>()) {
            let _ = parse_answer(&bytes, Ipv4Addr::new(10, 0, 0, 1), 40000, key);
        }
    }
}

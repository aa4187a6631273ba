//! The SYN sweep: with raw sockets, a host's ports are swept by sending TCP SYN segments and
//! reading the answers (SYN-ACK: open; RST: closed; nothing: filtered), without a connection
//! per port. The kernel answers each SYN-ACK with a reset, as it does for any segment it did
//! not expect, so no connection is left half-open. Open ports are then connected to for
//! identification, as in a connect scan.
//!
//! Each SYN takes a probe permit, so the scan's rate limit paces the sweep. Unanswered ports
//! are asked once more; the wait for answers follows the host's round-trip time.

use std::collections::HashSet;
use std::io;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

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

/// Sweeps `ports` of `host` with SYN segments. Errors when raw sockets are not allowed (the
/// caller falls back to connecting).
pub async fn sweep(
    ctx: &ScanContext,
    host: Ipv4Addr,
    ports: &[u16],
    wait: impl Fn(Option<Duration>) -> Duration,
) -> io::Result<SynResult> {
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    // Every raw TCP socket sees every TCP segment of the namespace: with several hosts swept
    // at once, a roomy buffer keeps answers from being dropped between reads.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let fd = register(socket)?;
    let src = source_for(host)?;
    let key: u32 = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(u32::from(host));
        h.finish() as u32
    };
    let sport = 40000 + (key % 20000) as u16;
    let dest = SockAddr::from(SocketAddrV4::new(host, 0));

    let mut result = SynResult::default();
    let mut answered: HashSet<u16> = HashSet::new();
    let mut sent_at: std::collections::HashMap<u16, tokio::time::Instant> = Default::default();
    let mut buf = vec![0u8; 2048];

    for round in 0..2 {
        let todo: Vec<u16> = ports
            .iter()
            .copied()
            .filter(|p| !answered.contains(p))
            .collect();
        if todo.is_empty() {
            break;
        }
        for port in todo {
            let Some(_permit) = ctx.probe().await else {
                return Ok(result);
            };
            let seg = syn_segment(src, host, sport, port, seq_for(key, port));
            loop {
                let mut guard = fd.writable().await?;
                match guard.try_io(|inner| inner.get_ref().send_to(&seg, &dest)) {
                    Ok(Ok(_)) => break,
                    Ok(Err(e)) if e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => continue,
                }
            }
            if round == 0 {
                ctx.progress().add_ports_probed(1);
            }
            sent_at.insert(port, tokio::time::Instant::now());
            // Read answers now and then while sending, so the socket's buffer never overflows.
            if sent_at.len() % 16 == 0 {
                drain(
                    &fd,
                    &mut buf,
                    host,
                    sport,
                    key,
                    &sent_at,
                    &mut answered,
                    &mut result,
                )?;
            }
        }
        let deadline = tokio::time::Instant::now() + wait(result.slowest);
        loop {
            tokio::select! {
                r = fd.readable() => {
                    let mut guard = r?;
                    guard.clear_ready();
                    drop(guard);
                    drain(&fd, &mut buf, host, sport, key, &sent_at, &mut answered, &mut result)?;
                }
                _ = tokio::time::sleep_until(deadline) => break,
                _ = ctx.cancelled() => return Ok(result),
            }
            if answered.len() == ports.len() {
                break;
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

#[expect(
    clippy::too_many_arguments,
    reason = "the sweep's state, kept local to it"
)]
fn drain(
    fd: &AsyncFd<Socket>,
    buf: &mut [u8],
    host: Ipv4Addr,
    sport: u16,
    key: u32,
    sent_at: &std::collections::HashMap<u16, tokio::time::Instant>,
    answered: &mut HashSet<u16>,
    result: &mut SynResult,
) -> io::Result<()> {
    loop {
        let mut socket: &Socket = fd.get_ref();
        match socket.read(buf) {
            Ok(n) => {
                if let Some(a) = parse_answer(&buf[..n], host, sport, key) {
                    let port = match a {
                        Answer::Open(p) | Answer::Closed(p) => p,
                    };
                    if !sent_at.contains_key(&port) || !answered.insert(port) {
                        continue;
                    }
                    if let Some(t) = sent_at.get(&port) {
                        let rtt = t.elapsed();
                        result.slowest = Some(result.slowest.map_or(rtt, |s| s.max(rtt)));
                    }
                    // parse_answer read the whole IPv4 header, so byte 8 (the TTL) is there.
                    let ttl = buf.get(8).copied();
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
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
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

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), key in any::<u32>()) {
            let _ = parse_answer(&bytes, Ipv4Addr::new(10, 0, 0, 1), 40000, key);
        }
    }
}

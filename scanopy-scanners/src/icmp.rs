//! ICMP discovery: an echo request to every IPv4 target, and a timestamp request (type 13) to
//! those that did not answer echo, so hosts that drop TCP, beyond the local segment too, are
//! found. Each answer proves the address alive (`icmp-echo` or `icmp-timestamp`, with its
//! round-trip time) and its TTL is kept as a low-confidence OS hint ([`scanopy_core::os::ttl_hint`]).
//!
//! Requests are paced by the scan's rate budget (one probe permit per packet, released once the
//! packet is sent) while the replies are read at the same time. Silent addresses are asked again
//! (`retries` rounds); each round waits for replies only as long as the replies seen so far
//! suggest (four times the slowest, between 20 ms and the configured timeout), and the whole
//! sweep stops at [`IcmpSettings::max_duration`], saying how many addresses were left unasked.
//! Replies count only when they come from an address asked, carry this sweep's identifier and a
//! token tied to that address, and pass their checksum; any other ICMP is ignored.
//! Every wait is bounded: a request waits at most 1 s for the socket and 50 ms for a kernel
//! buffer (`ENOBUFS`, when the neighbour table is full of addresses being resolved; such an
//! address is asked in the next round, and one never asked is a warning).
//!
//! Built from the registry it leaves the subnets ARP sweeps to ARP ([`IcmpSettings::skip`]): it
//! is for hosts beyond the segment, and for every host when ARP cannot run.
//!
//! Raw sockets (CAP_NET_RAW) give echo, timestamp and the TTL. Without them the unprivileged
//! ICMP datagram socket (allowed where `net.ipv4.ping_group_range` includes the user's group)
//! still gives echo, but the kernel lets it send nothing else and hands over no IP header:
//! no timestamp requests and no TTL, which the scan's warnings say ([`DATAGRAM_LIMITS`]).
//! Without either, the scanner fails to start with [`NO_ICMP_SOCKETS`], and the other
//! discovery scanners go on.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use scanopy_core::{Fact, OsHint, ScanContext, ScanError, Scanner, ScannerKind, Scope};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The message given when neither a raw nor an unprivileged ICMP socket can be opened.
pub const NO_ICMP_SOCKETS: &str = "ICMP needs raw sockets (CAP_NET_RAW) or unprivileged ICMP \
     sockets (net.ipv4.ping_group_range including the user's group): run as root, grant the \
     capability with `sudo setcap cap_net_raw+ep $(command -v scanopy-daemon)`, or allow ICMP \
     sockets with `sudo sysctl net.ipv4.ping_group_range=\"0 2147483647\"`; no host is found by \
     ICMP";

/// What the unprivileged fallback cannot do, said once per scan that uses it.
pub const DATAGRAM_LIMITS: &str = "no raw sockets (CAP_NET_RAW): ICMP echo only, over an \
     unprivileged ICMP socket; no timestamp requests to hosts that ignore echo, and no TTL from \
     replies (so no OS hint from it)";

/// The longest IPv4 packet read; longer replies are cut there and then fail their checks.
const MAX_PACKET: usize = 2048;

/// Settings of the [`IcmpScanner`].
#[derive(Debug, Clone)]
pub struct IcmpSettings {
    /// Send echo requests (type 8).
    pub echo: bool,
    /// Send timestamp requests (type 13) to the addresses that did not answer echo (raw
    /// sockets only: the unprivileged socket can send echo alone).
    pub timestamp: bool,
    /// The shortest wait for replies after a round.
    pub min_wait: Duration,
    /// The longest the whole sweep may take; it stops there, with a warning.
    pub max_duration: Duration,
    /// Subnets left to another discovery scanner: ARP sweeps attached subnets better, without
    /// a neighbour-table entry per address (ICMP to thousands of unresolved on-link addresses
    /// fills the kernel's table, which then refuses to send, `ENOBUFS`).
    pub skip: Vec<ipnet::IpNet>,
}

impl Default for IcmpSettings {
    fn default() -> Self {
        IcmpSettings {
            echo: true,
            timestamp: true,
            min_wait: Duration::from_millis(20),
            max_duration: Duration::from_secs(15 * 60),
            skip: Vec::new(),
        }
    }
}

/// The ICMP discovery scanner.
#[derive(Debug, Clone, Default)]
pub struct IcmpScanner {
    settings: IcmpSettings,
}

impl IcmpScanner {
    /// A scanner with these settings.
    pub fn new(settings: IcmpSettings) -> Self {
        IcmpScanner { settings }
    }
}

/// The request a reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Echo request (8) and reply (0).
    Echo,
    /// Timestamp request (13) and reply (14).
    Timestamp,
}

impl Kind {
    /// The method an answer is reported with (`Fact::Alive`).
    pub fn method(self) -> &'static str {
        match self {
            Kind::Echo => "icmp-echo",
            Kind::Timestamp => "icmp-timestamp",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Kind::Echo => "icmp echo",
            Kind::Timestamp => "icmp timestamp",
        }
    }
}

/// An ICMP echo or timestamp reply, as read from the ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Which request it answers.
    pub kind: Kind,
    /// The identifier of the request.
    pub ident: u16,
    /// The sequence number of the request.
    pub seq: u16,
    /// The token the request carried (echo: the first four payload bytes; timestamp: the
    /// originate timestamp, which the answer copies).
    pub token: u32,
}

/// A reply read from an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Who sent it.
    pub src: Ipv4Addr,
    /// The TTL it arrived with.
    pub ttl: u8,
    /// The ICMP message.
    pub message: Message,
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in bytes.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
        // Folded as it goes, so no length of input overflows.
        sum = (sum & 0xffff) + (sum >> 16);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds a request: echo (8 bytes of header, the token and `scnp` as payload) or timestamp
/// (20 bytes, the token as originate timestamp), checksum filled in.
pub fn request(kind: Kind, ident: u16, seq: u16, token: u32) -> Vec<u8> {
    let mut m = match kind {
        Kind::Echo => {
            let mut m = vec![8, 0, 0, 0];
            m.extend_from_slice(&ident.to_be_bytes());
            m.extend_from_slice(&seq.to_be_bytes());
            m.extend_from_slice(&token.to_be_bytes());
            m.extend_from_slice(b"scnp");
            m
        }
        Kind::Timestamp => {
            let mut m = vec![13, 0, 0, 0];
            m.extend_from_slice(&ident.to_be_bytes());
            m.extend_from_slice(&seq.to_be_bytes());
            m.extend_from_slice(&token.to_be_bytes());
            m.extend_from_slice(&[0; 8]);
            m
        }
    };
    let sum = checksum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// Reads an echo reply (type 0) or a timestamp reply (type 14) from an ICMP message; `None`
/// for any other type, a code other than 0, a message too short for its type, or a wrong
/// checksum. Never panics, whatever the bytes.
pub fn parse_message(icmp: &[u8]) -> Option<Message> {
    let header = icmp.get(0..8)?;
    if header[1] != 0 || checksum(icmp) != 0 {
        return None;
    }
    let kind = match header[0] {
        0 => Kind::Echo,
        14 if icmp.len() >= 20 => Kind::Timestamp,
        _ => return None,
    };
    let token = icmp.get(8..12)?;
    Some(Message {
        kind,
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
        token: u32::from_be_bytes([token[0], token[1], token[2], token[3]]),
    })
}

/// Reads a reply from an IPv4 packet as a raw ICMP socket receives it: version 4, a header
/// length (IHL) of at least 20 bytes within the packet, protocol ICMP, not a fragment, the
/// total length within what was read (the bytes beyond it are ignored), and then
/// [`parse_message`] on the ICMP part. Never panics, whatever the bytes.
pub fn parse_reply(packet: &[u8]) -> Option<Reply> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let header = packet.get(..ihl.max(20))?;
    if ihl < 20 || header[9] != 1 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let flags_fragment = u16::from_be_bytes([header[6], header[7]]);
    // More fragments, or an offset: a piece of a larger message, which cannot be checked.
    if flags_fragment & 0x3fff != 0 || total < ihl {
        return None;
    }
    let icmp = packet.get(ihl..total)?;
    Some(Reply {
        src: Ipv4Addr::new(header[12], header[13], header[14], header[15]),
        ttl: header[8],
        message: parse_message(icmp)?,
    })
}

/// The low-confidence OS hint of a reply's TTL (`ttl 63 (icmp echo)`), by the one TTL rule
/// ([`scanopy_core::os::ttl_hint`]).
pub fn os_hint(ttl: u8, kind: Kind) -> Option<OsHint> {
    scanopy_core::os::ttl_hint(ttl, kind.words())
}

/// Which socket the sweep got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A raw ICMP socket: echo, timestamp, and the IP header (TTL) of replies.
    Raw,
    /// The unprivileged ICMP datagram socket: echo only, no IP header.
    Datagram,
}

/// Opens a raw ICMP socket, else an unprivileged datagram one. The socket goes to Tokio as a
/// [`UdpSocket`]: its `send_to` and `recv_from` are the plain `sendto`/`recvfrom` calls both
/// kinds of ICMP socket take, so no `unsafe` is needed to read into initialised memory; no UDP
/// is involved.
pub fn open() -> Result<(UdpSocket, Mode), ScanError> {
    let io_err = |context: &str, source| ScanError::Io {
        context: context.into(),
        source,
    };
    let denied = |e: &io::Error| {
        matches!(
            e.raw_os_error(),
            Some(code) if code == nix::errno::Errno::EPERM as i32
                || code == nix::errno::Errno::EACCES as i32
        )
    };
    let (socket, mode) = match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
        Ok(s) => (s, Mode::Raw),
        Err(e) if denied(&e) => {
            match Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)) {
                Ok(s) => (s, Mode::Datagram),
                Err(e) if denied(&e) => return Err(ScanError::Unavailable(NO_ICMP_SOCKETS.into())),
                Err(e) => return Err(io_err("open an ICMP datagram socket", e)),
            }
        }
        Err(e) => return Err(io_err("open a raw ICMP socket", e)),
    };
    socket
        .set_nonblocking(true)
        .map_err(|e| io_err("set the ICMP socket non-blocking", e))?;
    // A raw ICMP socket sees every ICMP packet of the namespace: a roomy buffer keeps replies
    // from being dropped between reads during a large sweep.
    let _ = socket.set_recv_buffer_size(4 << 20);
    if mode == Mode::Datagram {
        // The kernel names the socket by a port, which becomes the identifier of its requests.
        socket
            .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)).into())
            .map_err(|e| io_err("bind the ICMP datagram socket", e))?;
    }
    let std: std::net::UdpSocket = socket.into();
    let socket = UdpSocket::from_std(std).map_err(|e| io_err("register the ICMP socket", e))?;
    Ok((socket, mode))
}

/// The token a request to `dst` carries, tied to the sweep's key and the request's kind.
fn token(key: u32, dst: Ipv4Addr, kind: Kind) -> u32 {
    let k = match kind {
        Kind::Echo => 0x5ca0_0001,
        Kind::Timestamp => 0x5ca0_0002,
    };
    (key ^ u32::from(dst) ^ k)
        .wrapping_mul(0x9e37_79b1)
        .rotate_left(13)
        ^ key
}

/// What the sweep knows, shared by the sender and the receiver (never locked across an await).
#[derive(Debug, Default)]
struct State {
    /// When each address was last asked each kind of request (a late echo reply still counts
    /// after the timestamp request went out).
    sent: HashMap<(Ipv4Addr, Kind), Instant>,
    /// Addresses that answered.
    answered: HashSet<Ipv4Addr>,
    /// The longest reply time so far.
    slowest: Option<Duration>,
    /// Addresses the kernel had no buffer for at their latest request.
    no_buffer: HashSet<Ipv4Addr>,
}

/// An accepted reply, ready to report.
struct Found {
    ip: Ipv4Addr,
    kind: Kind,
    rtt: Duration,
    ttl: Option<u8>,
}

impl State {
    /// Checks a reply against what was sent: the address was asked this kind of request, the
    /// identifier and token match, and it has not answered before. The round-trip time is
    /// from the latest such request.
    fn accept(
        &mut self,
        src: Ipv4Addr,
        ttl: Option<u8>,
        m: Message,
        ident: Option<u16>,
        key: u32,
        at: Instant,
    ) -> Option<Found> {
        let kind = m.kind;
        let sent_at = *self.sent.get(&(src, kind))?;
        if ident.is_some_and(|i| i != m.ident)
            || m.token != token(key, src, kind)
            || !self.answered.insert(src)
        {
            return None;
        }
        let rtt = at.saturating_duration_since(sent_at);
        self.slowest = Some(self.slowest.map_or(rtt, |s| s.max(rtt)));
        Some(Found {
            ip: src,
            kind,
            rtt,
            ttl,
        })
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Errors of one address that do not stop the sweep (no route, a broadcast address, a local
/// firewall).
fn skippable(e: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(e.raw_os_error(), Some(c) if [
        Errno::EACCES, Errno::EPERM, Errno::EHOSTUNREACH, Errno::ENETUNREACH,
        Errno::EHOSTDOWN, Errno::EADDRNOTAVAIL, Errno::EINVAL,
    ].iter().any(|x| *x as i32 == c))
}

/// How long one request may wait for the socket to take it.
const SEND_LIMIT: Duration = Duration::from_secs(1);
/// How long one request is retried while the kernel has no buffer for it (`ENOBUFS`: on a
/// large on-link sweep, its neighbour table is full of addresses still being resolved). The
/// address is asked again in the next round instead.
const NO_BUFFER_LIMIT: Duration = Duration::from_millis(50);

/// What came of sending one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// On its way.
    Yes,
    /// This address cannot be sent to (no route, a broadcast address, a local firewall), or
    /// the socket did not take it in time.
    Skipped,
    /// The kernel had no buffer for it within [`NO_BUFFER_LIMIT`].
    NoBuffer,
}

/// Sends one request, bounded by [`SEND_LIMIT`] and [`NO_BUFFER_LIMIT`].
async fn send(socket: &UdpSocket, packet: &[u8], ip: Ipv4Addr) -> io::Result<Sent> {
    let to = SocketAddr::from((ip, 0));
    let start = Instant::now();
    loop {
        match tokio::time::timeout_at(start + SEND_LIMIT, socket.send_to(packet, to)).await {
            Ok(Ok(_)) => return Ok(Sent::Yes),
            Ok(Err(e)) if e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) => {
                if start.elapsed() >= NO_BUFFER_LIMIT {
                    return Ok(Sent::NoBuffer);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) if skippable(&e) => return Ok(Sent::Skipped),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(Sent::Skipped),
        }
    }
}

#[async_trait]
impl Scanner for IcmpScanner {
    fn name(&self) -> &str {
        "icmp"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Targets(targets) = scope else {
            return Err(ScanError::Config(
                "icmp sweeps targets, not one host".into(),
            ));
        };
        let addrs: Vec<Ipv4Addr> = targets
            .iter()
            .filter(|a| !self.settings.skip.iter().any(|n| n.contains(a)))
            .filter_map(|a| if let IpAddr::V4(a) = a { Some(a) } else { None })
            .collect();
        if addrs.is_empty() || ctx.is_cancelled() {
            return Ok(());
        }
        let (socket, mode) = open()?;
        if mode == Mode::Datagram {
            ctx.warn(DATAGRAM_LIMITS);
        }
        self.sweep(ctx, &socket, mode, &addrs).await
    }
}

impl IcmpScanner {
    async fn sweep(
        &self,
        ctx: &ScanContext,
        socket: &UdpSocket,
        mode: Mode,
        addrs: &[Ipv4Addr],
    ) -> Result<(), ScanError> {
        let key: u32 = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(addrs.len());
            h.finish() as u32
        };
        // The datagram socket's identifier is its port, which the kernel writes into each
        // request and checks on each reply itself.
        let ident = match mode {
            Mode::Raw => (key >> 16) as u16,
            Mode::Datagram => socket.local_addr().map(|a| a.port()).unwrap_or(0),
        };
        let started = Instant::now();
        let deadline = started + self.settings.max_duration;
        let max_wait = Duration::from_millis(ctx.config().timeout_ms.max(50));
        let state = Mutex::new(State::default());
        let replied = Notify::new();
        let stop = ctx.cancel_token().child_token();
        let gateways = crate::ping::default_gateways();

        let mut kinds = Vec::new();
        if self.settings.echo {
            kinds.extend((0..=ctx.config().retries).map(|_| Kind::Echo));
        }
        if self.settings.timestamp && mode == Mode::Raw {
            kinds.push(Kind::Timestamp);
        }

        let sender = async {
            let mut seq: u16 = 0;
            let mut unasked = 0usize;
            let mut failure: Option<io::Error> = None;
            'rounds: for kind in kinds {
                let todo: Vec<Ipv4Addr> = {
                    let s = lock(&state);
                    addrs
                        .iter()
                        .copied()
                        .filter(|a| !s.answered.contains(a))
                        .collect()
                };
                if todo.is_empty() {
                    break;
                }
                seq = seq.wrapping_add(1);
                for (i, ip) in todo.iter().enumerate() {
                    let permit = tokio::time::timeout_at(deadline, ctx.probe()).await;
                    let Ok(Some(permit)) = permit else {
                        if permit.is_err() {
                            unasked = todo.len() - i;
                        }
                        break 'rounds;
                    };
                    let packet = request(kind, ident, seq, token(key, *ip, kind));
                    let at = Instant::now();
                    let sent = send(socket, &packet, *ip).await;
                    drop(permit);
                    match sent {
                        Ok(Sent::Yes) => {
                            let mut s = lock(&state);
                            s.sent.insert((*ip, kind), at);
                            s.no_buffer.remove(ip);
                        }
                        Ok(Sent::NoBuffer) => {
                            lock(&state).no_buffer.insert(*ip);
                        }
                        Ok(Sent::Skipped) => {}
                        Err(e) => {
                            failure = Some(e);
                            break 'rounds;
                        }
                    }
                }
                // The wait follows the replies: recomputed whenever one arrives.
                let round_end = Instant::now();
                loop {
                    let slowest = lock(&state).slowest;
                    let wait = match slowest {
                        None => max_wait,
                        Some(s) => (s * 4 + Duration::from_millis(10))
                            .clamp(self.settings.min_wait, max_wait.max(self.settings.min_wait)),
                    };
                    let until = (round_end + wait).min(deadline);
                    tokio::select! {
                        _ = replied.notified() => {}
                        _ = tokio::time::sleep_until(until) => break,
                        _ = ctx.cancelled() => break 'rounds,
                    }
                    if lock(&state).answered.len() == addrs.len() {
                        break;
                    }
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            stop.cancel();
            (unasked, failure)
        };

        let receiver = async {
            let mut buf = vec![0u8; MAX_PACKET];
            let mut failure: Option<io::Error> = None;
            // Errors in a row: a socket that keeps failing is given up, not spun on.
            let mut errors = 0u32;
            loop {
                let (n, from) = tokio::select! {
                    r = socket.recv_from(&mut buf) => match r {
                        Ok(r) => r,
                        Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => continue,
                        // An ICMP error queued for the socket (an unreachable destination): not
                        // a reply, read on.
                        Err(e) if errors < 100 && e.raw_os_error().is_some() => {
                            errors += 1;
                            continue;
                        }
                        Err(e) => { failure = Some(e); break; }
                    },
                    _ = stop.cancelled() => break,
                };
                errors = 0;
                let at = Instant::now();
                let bytes = buf.get(..n).unwrap_or(&buf);
                let read = match mode {
                    Mode::Raw => parse_reply(bytes).map(|r| (r.src, Some(r.ttl), r.message)),
                    Mode::Datagram => match from {
                        SocketAddr::V4(a) => parse_message(bytes).map(|m| (*a.ip(), None, m)),
                        SocketAddr::V6(_) => None,
                    },
                };
                let Some((src, ttl, message)) = read else {
                    continue;
                };
                let ident = (mode == Mode::Raw).then_some(ident);
                let found = lock(&state).accept(src, ttl, message, ident, key, at);
                let Some(f) = found else { continue };
                replied.notify_one();
                let ip = IpAddr::V4(f.ip);
                ctx.observe(
                    ip,
                    Fact::Alive {
                        method: f.kind.method().into(),
                        rtt_us: u64::try_from(f.rtt.as_micros()).ok(),
                    },
                )
                .await;
                if let Some(hint) = f.ttl.and_then(|t| os_hint(t, f.kind)) {
                    ctx.observe(ip, Fact::Os(hint)).await;
                }
                if gateways.contains(&ip) {
                    ctx.observe(ip, Fact::Gateway).await;
                }
            }
            failure
        };

        let ((unasked, send_failure), recv_failure) = tokio::join!(sender, receiver);
        let never_asked = {
            let s = lock(&state);
            s.no_buffer
                .iter()
                .filter(|ip| {
                    !s.sent.contains_key(&(**ip, Kind::Echo))
                        && !s.sent.contains_key(&(**ip, Kind::Timestamp))
                })
                .count()
        };
        if never_asked > 0 {
            ctx.warn(format!(
                "{never_asked} addresses were never asked: the kernel had no buffer for their \
                 requests (ENOBUFS: its neighbour table full of addresses being resolved; \
                 ARP finds hosts on attached subnets without it)"
            ));
        }
        if unasked > 0 {
            ctx.warn(format!(
                "the sweep stopped at its {:?} limit with {unasked} requests of its last round \
                 unsent: those addresses may be up",
                self.settings.max_duration
            ));
        }
        if let Some(e) = send_failure {
            return Err(ScanError::Io {
                context: "send ICMP".into(),
                source: e,
            });
        }
        if let Some(e) = recv_failure {
            return Err(ScanError::Io {
                context: "read ICMP".into(),
                source: e,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use scanopy_core::Confidence;

    /// An IPv4 packet around `icmp`, as a raw socket hands it over.
    fn packet(src: Ipv4Addr, ttl: u8, icmp: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + icmp.len()).unwrap();
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x40, 0, ttl, 1, 0, 0]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&[10, 77, 0, 2]);
        p.extend_from_slice(icmp);
        p
    }

    /// The reply a host makes of a request: type 0 or 14, checksum recomputed.
    fn answer(request: &[u8]) -> Vec<u8> {
        let mut m = request.to_vec();
        m[0] = if m[0] == 8 { 0 } else { 14 };
        m[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&m);
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }

    const HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 20);

    #[test]
    fn requests_have_valid_checksums_and_their_answers_parse() {
        for kind in [Kind::Echo, Kind::Timestamp] {
            let req = request(kind, 0x1234, 7, 0xdead_beef);
            assert_eq!(checksum(&req), 0, "{kind:?}");
            assert_eq!(req[0], if kind == Kind::Echo { 8 } else { 13 });
            assert_eq!(parse_message(&req), None, "a request is not a reply");
            let r = parse_reply(&packet(HOST, 63, &answer(&req))).unwrap();
            assert_eq!(r.src, HOST);
            assert_eq!(r.ttl, 63);
            assert_eq!(
                r.message,
                Message {
                    kind,
                    ident: 0x1234,
                    seq: 7,
                    token: 0xdead_beef
                }
            );
        }
    }

    #[test]
    fn the_ip_header_length_comes_from_ihl() {
        let icmp = answer(&request(Kind::Echo, 1, 2, 3));
        // A header with 4 bytes of options (IHL 6).
        let mut p = packet(HOST, 64, &icmp);
        p[0] = 0x46;
        p.splice(20..20, [1, 1, 1, 0]);
        let total = u16::try_from(p.len()).unwrap();
        p[2..4].copy_from_slice(&total.to_be_bytes());
        assert_eq!(parse_reply(&p).unwrap().message.token, 3);
        // Read as if IHL were 5, the options would be the ICMP message: rejected.
        let mut wrong = p.clone();
        wrong[0] = 0x45;
        assert_eq!(parse_reply(&wrong), None);
    }

    #[test]
    fn damaged_or_foreign_packets_are_ignored() {
        let good = packet(HOST, 64, &answer(&request(Kind::Echo, 1, 2, 3)));
        assert!(parse_reply(&good).is_some());
        let mut bad_sum = good.clone();
        bad_sum[30] ^= 0xff;
        assert_eq!(parse_reply(&bad_sum), None, "checksum");
        let mut tcp = good.clone();
        tcp[9] = 6;
        assert_eq!(parse_reply(&tcp), None, "not ICMP");
        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert_eq!(parse_reply(&v6), None, "not IPv4");
        let mut fragment = good.clone();
        fragment[6] = 0x20;
        assert_eq!(parse_reply(&fragment), None, "more fragments");
        assert_eq!(parse_reply(&good[..good.len() - 1]), None, "cut short");
        let mut small_ihl = good.clone();
        small_ihl[0] = 0x44;
        assert_eq!(parse_reply(&small_ihl), None, "IHL below 5");
        // Bytes past the total length are not part of the packet.
        let mut padded = good.clone();
        padded.extend_from_slice(&[0xff; 6]);
        assert!(parse_reply(&padded).is_some());
        // An unreachable message, an echo request, a code other than 0.
        let mut unreachable = answer(&request(Kind::Echo, 1, 2, 3));
        unreachable[0] = 3;
        assert_eq!(parse_message(&unreachable), None);
        let mut code = answer(&request(Kind::Echo, 1, 2, 3));
        code[1] = 1;
        assert_eq!(parse_message(&code), None);
        // A timestamp reply too short to hold its timestamps.
        let mut short = answer(&request(Kind::Timestamp, 1, 2, 3));
        short.truncate(16);
        short[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&short);
        short[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(parse_message(&short), None);
    }

    #[test]
    fn replies_must_match_what_was_sent() {
        let key = 0x0bad_cafe;
        let at = Instant::now();
        let mut s = State::default();
        s.sent.insert((HOST, Kind::Echo), at);
        let msg = |kind, ident, token| Message {
            kind,
            ident,
            seq: 1,
            token,
        };
        let good = token(key, HOST, Kind::Echo);
        let other = Ipv4Addr::new(10, 77, 1, 21);
        assert!(
            s.accept(other, Some(64), msg(Kind::Echo, 9, good), Some(9), key, at)
                .is_none(),
            "not asked"
        );
        assert!(
            s.accept(HOST, Some(64), msg(Kind::Echo, 8, good), Some(9), key, at)
                .is_none(),
            "another identifier"
        );
        assert!(
            s.accept(
                HOST,
                Some(64),
                msg(Kind::Echo, 9, good ^ 1),
                Some(9),
                key,
                at
            )
            .is_none(),
            "another token"
        );
        assert!(
            s.accept(
                HOST,
                Some(64),
                msg(Kind::Timestamp, 9, good),
                Some(9),
                key,
                at
            )
            .is_none(),
            "another kind"
        );
        let f = s
            .accept(HOST, Some(63), msg(Kind::Echo, 9, good), Some(9), key, at)
            .unwrap();
        assert_eq!((f.ip, f.kind, f.ttl), (HOST, Kind::Echo, Some(63)));
        assert!(
            s.accept(HOST, Some(63), msg(Kind::Echo, 9, good), Some(9), key, at)
                .is_none(),
            "only once"
        );
        assert_ne!(token(key, HOST, Kind::Echo), token(key, other, Kind::Echo));
        assert_ne!(
            token(key, HOST, Kind::Echo),
            token(key, HOST, Kind::Timestamp)
        );
    }

    #[test]
    fn a_late_echo_reply_counts_after_the_timestamp_request() {
        let key = 7;
        let t0 = Instant::now();
        let mut s = State::default();
        s.sent.insert((HOST, Kind::Echo), t0);
        s.sent
            .insert((HOST, Kind::Timestamp), t0 + Duration::from_millis(500));
        let echo = |tok| Message {
            kind: Kind::Echo,
            ident: 1,
            seq: 1,
            token: tok,
        };
        // The timestamp's token in an echo reply: not what the echo request carried.
        let wrong = token(key, HOST, Kind::Timestamp);
        assert!(
            s.accept(HOST, None, echo(wrong), Some(1), key, t0)
                .is_none()
        );
        let at = t0 + Duration::from_millis(600);
        let f = s
            .accept(
                HOST,
                None,
                echo(token(key, HOST, Kind::Echo)),
                Some(1),
                key,
                at,
            )
            .unwrap();
        assert_eq!(f.kind, Kind::Echo);
        assert_eq!(
            f.rtt,
            Duration::from_millis(600),
            "timed from the echo request"
        );
    }

    #[test]
    fn the_ttl_points_to_a_family() {
        assert_eq!(os_hint(0, Kind::Echo), None);
        let h = os_hint(63, Kind::Echo).unwrap();
        assert_eq!(h.confidence, Confidence::Low);
        assert_eq!(h.family, "Unix");
        assert_eq!(h.evidence, "ttl 63 (icmp echo)");
        assert_eq!(
            os_hint(127, Kind::Timestamp).unwrap().evidence,
            "ttl 127 (icmp timestamp)"
        );
    }

    #[test]
    fn checksum_of_odd_lengths_and_long_input() {
        // RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2, complemented 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), !0xff00);
        assert_eq!(checksum(&vec![0xff; 1 << 20]), 0);
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse_reply(&bytes);
            let _ = parse_message(&bytes);
        }

        #[test]
        fn any_ipv4_looking_bytes_never_panic(
            ihl in 0u8..16,
            total in any::<u16>(),
            rest in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let mut p = vec![0x40 | ihl, 0];
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&rest);
            if p.len() > 9 {
                p[9] = 1;
            }
            if let Some(r) = parse_reply(&p) {
                // Whatever parses was checked: a valid checksum over the ICMP part.
                let ihl = usize::from(ihl) * 4;
                prop_assert!(ihl >= 20);
                prop_assert_eq!(checksum(&p[ihl..usize::from(total)]), 0);
                prop_assert_eq!(r.ttl, p[8]);
            }
        }

        #[test]
        fn every_answer_to_a_request_parses_back(
            echo in any::<bool>(),
            ident in any::<u16>(),
            seq in any::<u16>(),
            tok in any::<u32>(),
            ttl in any::<u8>(),
        ) {
            let kind = if echo { Kind::Echo } else { Kind::Timestamp };
            let r = parse_reply(&packet(HOST, ttl, &answer(&request(kind, ident, seq, tok))));
            prop_assert_eq!(r, Some(Reply { src: HOST, ttl, message: Message { kind, ident, seq, token: tok } }));
        }
    }
}

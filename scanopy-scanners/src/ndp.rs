//! IPv6 discovery on attached links: an ICMPv6 echo request to the all-nodes multicast address
//! `ff02::1`, sent from each of this machine's addresses on the link (its link-local address and
//! each one within the targets), and a router solicitation to `ff02::2`. Every node on the link
//! answers the echo from the address of the same scope as the request's source, so one request
//! finds the link's hosts without enumerating a /64 (2^64 addresses). Frames are sent and read
//! at the Ethernet layer (pnet, as ARP), so every answer carries its sender's MAC: a host's
//! global, SLAAC (EUI-64) or temporary address and its link-local address join one device by
//! MAC. Router advertisements mark their sender a gateway.
//!
//! It covers the IPv6 targets on attached links: [`scanopy_core::TargetSet::links`] (a /64 given
//! as a CIDR block) and IPv6 addresses and ranges within an attached prefix. An answer from within the targets is `alive` (method `ndp-echo`) and then
//! scanned like any host; one from outside them (a link-local address) is recorded with its MAC,
//! never probed. The hop limit of an echo reply is a low-confidence OS hint, as ICMP's TTL.
//!
//! Each round sends its requests under the scan's probe permits and waits for answers as long
//! as the answers so far suggest (four times the slowest, 200 ms to 1 s; 500 ms before the
//! first); `retries` more rounds follow. A link with a target prefix that no interface is on
//! is a warning: its hosts are found only where they are named.
//!
//! Needs raw sockets (CAP_NET_RAW), as ARP. The frame builders and the parser are pure and never
//! panic, whatever the bytes.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ipnet::Ipv6Net;
use pnet_datalink::NetworkInterface;
use scanopy_core::{
    Fact, MacAddr, Needs, ScanContext, ScanError, Scanner, ScannerKind, Scope, TargetSet,
};
use tokio::sync::mpsc;

use crate::arp::{open_ethernet, spawn_receiver, vendor};

/// The all-nodes multicast address.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The all-routers multicast address.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// The message given when raw sockets are not allowed.
pub const NO_RAW_SOCKETS: &str = "IPv6 neighbour discovery needs raw sockets (CAP_NET_RAW): run \
     as root, or grant the capability with `sudo setcap cap_net_raw+ep $(command -v scanopy-daemon)`";
/// The identifier of this scanner's echo requests.
pub const ECHO_ID: u16 = 0x5c6e;
/// The payload of the echo requests (answers echo it back).
const PAYLOAD: &[u8; 8] = b"scanopy6";

const ETH_IPV6: u16 = 0x86dd;
const ICMPV6: u8 = 58;
const DEST_OPTS: u8 = 60;

/// The Ethernet address an IPv6 multicast address maps to (RFC 2464 §7): `33:33` and its low
/// 32 bits.
pub fn multicast_mac(group: Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The ICMPv6 checksum of `msg` (its checksum field zero) from `src` to `dst` (RFC 4443 §2.3,
/// over the pseudo-header of RFC 8200 §8.1).
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let word = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            sum = sum.wrapping_add(u32::from(word));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes());
    add(&[0, 0, 0, ICMPV6]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying the ICMPv6 message `msg` from `src` to `dst` with `hop_limit`,
/// its checksum filled in.
fn frame(
    src_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    mut msg: Vec<u8>,
) -> Vec<u8> {
    let sum = checksum(src, dst, &msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40 + msg.len());
    f.extend_from_slice(&multicast_mac(dst));
    f.extend_from_slice(&src_mac.0);
    f.extend_from_slice(&ETH_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(msg.len()).unwrap_or(u16::MAX).to_be_bytes());
    f.push(ICMPV6);
    f.push(hop_limit);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&msg);
    f
}

/// An echo request to `ff02::1` from `src` (sequence `seq`).
pub fn echo_frame(src_mac: MacAddr, src: Ipv6Addr, seq: u16) -> Vec<u8> {
    let mut msg = vec![128, 0, 0, 0];
    msg.extend_from_slice(&ECHO_ID.to_be_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(PAYLOAD);
    frame(src_mac, src, ALL_NODES, 1, msg)
}

/// An echo request to `ff02::1` from `src` carrying a destination option no node knows (type
/// 0x80: "discard, and send a Parameter Problem even to multicast"): nodes that ignore multicast
/// echo (Windows) still answer it, with ICMPv6 Parameter Problem (RFC 8200 §4.2).
pub fn echo_bad_option_frame(src_mac: MacAddr, src: Ipv6Addr, seq: u16) -> Vec<u8> {
    let mut msg = vec![128, 0, 0, 0];
    msg.extend_from_slice(&ECHO_ID.to_be_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(PAYLOAD);
    let mut f = frame(src_mac, src, ALL_NODES, 1, msg);
    // The Destination Options header between the IPv6 header and the ICMPv6 message: next
    // header 58, length 0 (8 bytes), option 0x80 with 4 bytes of data.
    f.splice(54..54, [ICMPV6, 0, 0x80, 4, 0, 0, 0, 0]);
    f[20] = DEST_OPTS;
    let len = u16::from_be_bytes([f[18], f[19]]) + 8;
    f[18..20].copy_from_slice(&len.to_be_bytes());
    f
}

/// A router solicitation to `ff02::2` from the link-local `src`, with its link-layer address
/// (RFC 4861 §4.1: hop limit 255).
pub fn router_solicitation_frame(src_mac: MacAddr, src: Ipv6Addr) -> Vec<u8> {
    let mut msg = vec![133, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    msg.extend_from_slice(&src_mac.0);
    frame(src_mac, src, ALL_ROUTERS, 255, msg)
}

/// What an ICMPv6 packet heard on the link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeardKind {
    /// An answer to one of our echo requests (identifier [`ECHO_ID`]).
    EchoReply,
    /// A Parameter Problem about our echo with the unknown option: the sender is alive.
    ParamProblem,
    /// A router advertisement: the sender routes.
    RouterAdvert,
    /// A neighbour solicitation or advertisement from an address in use.
    Neighbour,
    /// A router solicitation: a host looking for routers (one that has just joined the link).
    RouterSolicit,
}

/// One ICMPv6 packet heard on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    /// What it is.
    pub kind: HeardKind,
    /// The sender's address.
    pub src: Ipv6Addr,
    /// The sender's MAC (the Ethernet source).
    pub mac: MacAddr,
    /// The packet's hop limit when it arrived.
    pub hop_limit: u8,
}

/// Reads an Ethernet frame: an ICMPv6 echo reply with our identifier, a router solicitation or
/// advertisement, or a neighbour message (IPv6 without extension headers, checksum verified), and `None` for
/// anything else or for a sender that is unspecified or multicast.
pub fn parse_frame(f: &[u8]) -> Option<Heard> {
    if f.len() < 14 + 40 + 4 || u16::from_be_bytes([f[12], f[13]]) != ETH_IPV6 {
        return None;
    }
    let ip = &f[14..];
    if ip[0] >> 4 != 6 || ip[6] != ICMPV6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let msg = ip.get(40..40 + len)?;
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).ok()?);
    if msg.len() < 4 || src.is_unspecified() || src.is_multicast() {
        return None;
    }
    let mut zeroed = msg.to_vec();
    zeroed[2..4].fill(0);
    if checksum(src, dst, &zeroed) != u16::from_be_bytes([msg[2], msg[3]]) {
        return None;
    }
    let kind = match msg[0] {
        129 if msg.len() >= 8 && u16::from_be_bytes([msg[4], msg[5]]) == ECHO_ID => {
            HeardKind::EchoReply
        }
        // Code 2, an unrecognised option; the packet it quotes is our echo with the option.
        4 if msg[1] == 2 && quotes_our_probe(&msg[8..]) => HeardKind::ParamProblem,
        133 if msg.len() >= 8 => HeardKind::RouterSolicit,
        134 if msg.len() >= 16 => HeardKind::RouterAdvert,
        135 | 136 if msg.len() >= 24 => HeardKind::Neighbour,
        _ => return None,
    };
    let mac = MacAddr(<[u8; 6]>::try_from(&f[6..12]).ok()?);
    if !mac.is_unicast() {
        return None;
    }
    Some(Heard {
        kind,
        src,
        mac,
        hop_limit: ip[7],
    })
}

/// Whether the packet a Parameter Problem quotes is our echo with the unknown option.
fn quotes_our_probe(quoted: &[u8]) -> bool {
    quoted.len() >= 40 + 8 + 8
        && quoted[0] >> 4 == 6
        && quoted[6] == DEST_OPTS
        && quoted[40] == ICMPV6
        && quoted[48] == 128
        && u16::from_be_bytes([quoted[52], quoted[53]]) == ECHO_ID
}

/// One interface to ask: its MAC, its link-local address and its addresses within the targets.
#[derive(Debug)]
struct Plan {
    iface: NetworkInterface,
    mac: MacAddr,
    /// The sources of the echo requests: the link-local address first.
    sources: Vec<Ipv6Addr>,
}

/// The target prefixes on this machine's links: for each up, broadcast-capable interface with
/// a MAC, the addresses it has on a prefix that holds targets (a target link, or a target
/// address within the prefix). Also returns the target links no interface is on.
fn plan(targets: &TargetSet) -> (Vec<Plan>, Vec<Ipv6Net>) {
    let mut out = Vec::new();
    let mut covered: HashSet<Ipv6Net> = HashSet::new();
    let v6_targets: Vec<Ipv6Addr> = targets
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(v6) => Some(v6),
            IpAddr::V4(_) => None,
        })
        .take(1 << 16)
        .collect();
    for iface in pnet_datalink::interfaces() {
        if !iface.is_up() || iface.is_loopback() || !iface.is_broadcast() {
            continue;
        }
        let Some(mac) = iface.mac.map(|m| MacAddr(m.octets())) else {
            continue;
        };
        let mut local = None;
        let mut sources = Vec::new();
        for net in &iface.ips {
            let ipnetwork::IpNetwork::V6(v6) = net else {
                continue;
            };
            let Ok(prefix) = Ipv6Net::new(v6.ip(), v6.prefix()) else {
                continue;
            };
            if scanopy_core::is_link_local(IpAddr::V6(v6.ip())) {
                local = Some(v6.ip());
                continue;
            }
            let links: Vec<Ipv6Net> = targets
                .links()
                .iter()
                .filter(|l| l.contains(&v6.ip()) || prefix.contains(&l.network()))
                .copied()
                .collect();
            if !links.is_empty() || v6_targets.iter().any(|a| prefix.trunc().contains(a)) {
                covered.extend(links);
                sources.push(v6.ip());
            }
        }
        if let (Some(local), false) = (local, sources.is_empty()) {
            sources.insert(0, local);
            out.push(Plan {
                iface: iface.clone(),
                mac,
                sources,
            });
        }
    }
    let unreached = targets
        .links()
        .iter()
        .filter(|l| !covered.contains(l))
        .copied()
        .collect();
    (out, unreached)
}

/// Settings of the [`NdpScanner`].
#[derive(Debug, Clone)]
pub struct NdpSettings {
    /// How long a round waits before any answer has shown the link's speed.
    pub initial_wait: Duration,
    /// The shortest wait of a round.
    pub min_wait: Duration,
}

impl Default for NdpSettings {
    fn default() -> Self {
        NdpSettings {
            initial_wait: Duration::from_millis(500),
            min_wait: Duration::from_millis(200),
        }
    }
}

/// The IPv6 neighbour discovery scanner.
#[derive(Debug, Clone, Default)]
pub struct NdpScanner {
    settings: NdpSettings,
}

impl NdpScanner {
    /// A scanner with these settings.
    pub fn new(settings: NdpSettings) -> Self {
        NdpScanner { settings }
    }
}

#[async_trait]
impl Scanner for NdpScanner {
    fn name(&self) -> &str {
        "ndp"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }

    fn needs(&self) -> Needs {
        Needs {
            raw_sockets: true,
            ..Needs::default()
        }
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Targets(targets) = scope else {
            return Err(ScanError::Config("ndp sweeps links, not one host".into()));
        };
        let (plans, unreached) = plan(targets);
        for l in unreached {
            ctx.warn(format!(
                "{l} is not on a link of this machine: its IPv6 hosts are found only where they \
                 are named (an address or a range)"
            ));
        }
        for p in plans {
            if ctx.is_cancelled() {
                break;
            }
            self.sweep(ctx, p).await?;
        }
        Ok(())
    }
}

impl NdpScanner {
    async fn sweep(&self, ctx: &ScanContext, plan: Plan) -> Result<(), ScanError> {
        let (mut tx, rx) = open_ethernet(&plan.iface, NO_RAW_SOCKETS)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (heard_tx, mut heard) = mpsc::unbounded_channel::<(Heard, Instant)>();
        let own = plan.mac;
        let receiver = spawn_receiver(
            "scanopy-ndp-rx",
            rx,
            Arc::clone(&stop),
            move |f| parse_frame(f).filter(|h| h.mac != own),
            heard_tx,
        )?;
        let mut state = Listen {
            sent: None,
            slowest: None,
            known: HashSet::new(),
            alive: HashSet::new(),
            routers: HashSet::new(),
        };
        let mut error = None;
        let rounds = 1 + u16::from(ctx.config().retries);
        'rounds: for round in 0..rounds {
            let mut frames: Vec<Vec<u8>> = plan
                .sources
                .iter()
                .flat_map(|s| {
                    [
                        echo_frame(plan.mac, *s, round),
                        echo_bad_option_frame(plan.mac, *s, round),
                    ]
                })
                .collect();
            if round == 0 {
                frames.push(router_solicitation_frame(plan.mac, plan.sources[0]));
            }
            for f in frames {
                let Some(_permit) = ctx.probe().await else {
                    break 'rounds;
                };
                if let Some(Err(e)) = tx.send_to(&f, None) {
                    error = Some(ScanError::Io {
                        context: format!("send ICMPv6 on {}", plan.iface.name),
                        source: e,
                    });
                    break 'rounds;
                }
            }
            state.sent = Some(Instant::now());
            let wait_for = |slowest: Option<Duration>| match slowest {
                None => self.settings.initial_wait,
                Some(s) => (s * 4 + Duration::from_millis(10))
                    .clamp(self.settings.min_wait, Duration::from_secs(1)),
            };
            let round_end = tokio::time::Instant::now();
            loop {
                let deadline = round_end + wait_for(state.slowest);
                tokio::select! {
                    h = heard.recv() => match h {
                        Some((h, at)) => state.handle(ctx, ctx.targets(), h, at).await,
                        None => break,
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = ctx.cancelled() => break 'rounds,
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || receiver.join()).await;
        while let Ok((h, at)) = heard.try_recv() {
            state.handle(ctx, ctx.targets(), h, at).await;
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What a sweep has heard so far.
struct Listen {
    /// When the current round's requests went out.
    sent: Option<Instant>,
    /// The slowest answer so far.
    slowest: Option<Duration>,
    /// Addresses whose MAC was observed.
    known: HashSet<Ipv6Addr>,
    /// Addresses observed alive.
    alive: HashSet<Ipv6Addr>,
    /// Routers observed.
    routers: HashSet<Ipv6Addr>,
}

impl Listen {
    /// Records what one packet says, once per address and kind: the sender's MAC and vendor;
    /// for an answer to our echo (a reply, or a Parameter Problem about its option) that it is
    /// alive, with the hop limit's OS hint; for a router advertisement that it is a gateway.
    async fn handle(&mut self, ctx: &ScanContext, targets: &TargetSet, h: Heard, at: Instant) {
        let addr = IpAddr::V6(h.src);
        if self.known.insert(h.src) {
            ctx.observe(addr, Fact::Mac { mac: h.mac }).await;
            if let Some(v) = vendor(h.mac) {
                ctx.observe(addr, Fact::Vendor { vendor: v }).await;
            }
        }
        match h.kind {
            HeardKind::RouterAdvert if self.routers.insert(h.src) => {
                ctx.observe(addr, Fact::Gateway).await;
            }
            HeardKind::EchoReply | HeardKind::ParamProblem if self.alive.insert(h.src) => {
                let rtt = self.sent.map(|s| at.saturating_duration_since(s));
                if let Some(r) = rtt {
                    self.slowest = Some(self.slowest.map_or(r, |s| s.max(r)));
                }
                if let Some(hint) = scanopy_core::os::ttl_hint(h.hop_limit, "icmpv6") {
                    ctx.observe(addr, Fact::Os(hint)).await;
                }
                let method = match (targets.contains(addr), h.kind) {
                    (true, HeardKind::EchoReply) => "ndp-echo",
                    (true, _) => "ndp-option-probe",
                    (false, _) => "ndp-outside-targets",
                };
                ctx.observe(
                    addr,
                    Fact::Alive {
                        method: method.into(),
                        rtt_us: rtt.and_then(|r| u64::try_from(r.as_micros()).ok()),
                    },
                )
                .await;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MAC: MacAddr = MacAddr([0x02, 0x77, 0, 0, 0, 0x02]);

    fn reply(src: Ipv6Addr, dst: Ipv6Addr, id: u16, mac: [u8; 6]) -> Vec<u8> {
        let mut msg = vec![129, 0, 0, 0];
        msg.extend_from_slice(&id.to_be_bytes());
        msg.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(PAYLOAD);
        let mut f = frame(MacAddr(mac), src, dst, 64, msg);
        f[0..6].copy_from_slice(&MAC.0);
        f
    }

    #[test]
    fn the_echo_request_is_well_formed() {
        let src: Ipv6Addr = "fd77::2".parse().unwrap();
        let f = echo_frame(MAC, src, 1);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!((f[14] >> 4, f[20], f[21]), (6, ICMPV6, 1));
        assert_eq!(&f[38..54], &ALL_NODES.octets());
        let msg = &f[54..];
        assert_eq!(
            (msg[0], usize::from(u16::from_be_bytes([f[18], f[19]]))),
            (128, msg.len())
        );
        // The checksum verifies: summing the message with it gives zero.
        assert_eq!(checksum(src, ALL_NODES, msg), 0);
        let rs = router_solicitation_frame(MAC, "fe80::77:2".parse().unwrap());
        assert_eq!(
            (&rs[0..6], rs[21], rs[54]),
            (&[0x33, 0x33, 0, 0, 0, 2][..], 255, 133)
        );
    }

    #[test]
    fn an_echo_reply_gives_the_sender_and_its_mac() {
        let web: Ipv6Addr = "fd77::211:32ff:fe77:10".parse().unwrap();
        let f = reply(
            web,
            "fd77::2".parse().unwrap(),
            ECHO_ID,
            [0, 0x11, 0x32, 0x77, 0, 0x10],
        );
        let h = parse_frame(&f).unwrap();
        assert_eq!(
            h,
            Heard {
                kind: HeardKind::EchoReply,
                src: web,
                mac: MacAddr([0, 0x11, 0x32, 0x77, 0, 0x10]),
                hop_limit: 64
            }
        );
        // Another program's echo, a bad checksum, a multicast sender: ignored.
        let other = reply(
            web,
            "fd77::2".parse().unwrap(),
            7,
            [0, 0x11, 0x32, 0x77, 0, 0x10],
        );
        assert_eq!(parse_frame(&other), None);
        let mut bad = f.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(parse_frame(&bad), None);
        let m = reply(
            ALL_NODES,
            "fd77::2".parse().unwrap(),
            ECHO_ID,
            [2, 0, 0, 0, 0, 1],
        );
        assert_eq!(parse_frame(&m), None);
    }

    #[test]
    fn a_parameter_problem_about_our_option_probe_proves_the_sender_alive() {
        let me: Ipv6Addr = "fd77::2".parse().unwrap();
        let probe = echo_bad_option_frame(MAC, me, 0);
        assert_eq!((probe[20], probe[54], probe[56]), (DEST_OPTS, ICMPV6, 0x80));
        assert_eq!(
            usize::from(u16::from_be_bytes([probe[18], probe[19]])),
            probe.len() - 54
        );
        // The echo's checksum still covers the ICMPv6 message alone.
        assert_eq!(checksum(me, ALL_NODES, &probe[62..]), 0);
        let host: Ipv6Addr = "fd77::99".parse().unwrap();
        let mut msg = vec![4, 2, 0, 0, 0, 0, 0, 40 + 2];
        msg.extend_from_slice(&probe[14..]);
        let mut f = frame(MacAddr([2, 0, 0, 0, 0, 0x99]), host, me, 128, msg.clone());
        f[0..6].copy_from_slice(&MAC.0);
        assert_eq!(
            parse_frame(&f).map(|h| (h.kind, h.src, h.hop_limit)),
            Some((HeardKind::ParamProblem, host, 128))
        );
        // A Parameter Problem about anything else is not ours.
        msg[8 + 40 + 8 + 4] ^= 0xff;
        let other = frame(MacAddr([2, 0, 0, 0, 0, 0x99]), host, me, 128, msg);
        assert_eq!(parse_frame(&other), None);
    }

    #[test]
    fn multicast_macs() {
        assert_eq!(multicast_mac(ALL_NODES), [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(
            multicast_mac("ff02::1:ff77:10".parse().unwrap()),
            [0x33, 0x33, 0xff, 0x77, 0, 0x10]
        );
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = parse_frame(&bytes);
        }

        #[test]
        fn any_icmpv6_body_never_panics(
            body in proptest::collection::vec(any::<u8>(), 4..120),
            len_delta in -8i32..8,
        ) {
            let src: Ipv6Addr = "fe80::1".parse().unwrap();
            let mut f = frame(MacAddr([2, 0, 0, 0, 0, 9]), src, ALL_NODES, 255, body);
            let len = u16::from_be_bytes([f[18], f[19]]);
            let len = u16::try_from((i32::from(len) + len_delta).max(0)).unwrap_or(0);
            f[18..20].copy_from_slice(&len.to_be_bytes());
            if let Some(h) = parse_frame(&f) {
                prop_assert_eq!(h.src, src);
            }
        }
    }
}

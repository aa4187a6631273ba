//! ARP discovery: sweeps the IPv4 subnets attached to this machine's interfaces with ARP
//! requests, at the scan's rate, while a receiver thread listens for replies.
//!
//! Silent addresses are asked again (`retries` rounds, 2 by default); each round waits for
//! replies only as long as the replies seen so far suggest (four times the slowest reply time,
//! at least 20 ms), so the sweep ends soon after its last request. Every reply gives the
//! address, its MAC, the vendor behind the MAC (the IEEE OUI table of the `oui-data` crate, no
//! download) and the reply time. ARP packets nobody asked for (gratuitous ARP, other hosts'
//! requests) are observations too when their sender is one of the scan's targets (one per
//! address, so a flood of random MACs cannot add devices the scan was not asked about), but
//! never start a port scan.
//!
//! Needs raw sockets (CAP_NET_RAW). Without them the scanner fails with a message naming the
//! capability and the fix; callers fall back to [`crate::TcpPing`], which reads the kernel's
//! neighbour table.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pnet_datalink::{Channel, Config, NetworkInterface};
use scanopy_core::{
    Fact, MacAddr, Needs, ScanContext, ScanError, Scanner, ScannerKind, Scope, TargetSet,
};
use tokio::sync::mpsc;

/// Settings of the [`ArpScanner`].
#[derive(Debug, Clone)]
pub struct ArpSettings {
    /// How long a round waits for replies before any reply has shown the network's speed.
    pub initial_wait: Duration,
    /// The shortest wait of a round.
    pub min_wait: Duration,
}

impl Default for ArpSettings {
    fn default() -> Self {
        ArpSettings {
            initial_wait: Duration::from_millis(300),
            min_wait: Duration::from_millis(20),
        }
    }
}

/// The ARP discovery scanner.
#[derive(Debug, Clone, Default)]
pub struct ArpScanner {
    settings: ArpSettings,
}

impl ArpScanner {
    /// A scanner with these settings.
    pub fn new(settings: ArpSettings) -> Self {
        ArpScanner { settings }
    }
}

/// The message given when raw sockets are not allowed.
pub const NO_RAW_SOCKETS: &str = "ARP needs raw sockets (CAP_NET_RAW): run as root, or grant the capability with \
     `sudo setcap cap_net_raw+ep $(command -v scanopy-daemon)`";

/// An ARP packet's addresses, as read from an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpFrame {
    /// 1 request, 2 reply.
    pub operation: u16,
    /// The sender's hardware address, from the ARP payload (not the Ethernet header).
    pub sender_mac: MacAddr,
    /// The sender's IPv4 address.
    pub sender_ip: Ipv4Addr,
    /// The address asked about.
    pub target_ip: Ipv4Addr,
}

/// Builds an Ethernet broadcast frame carrying an ARP request for `target`.
pub fn request_frame(src_mac: MacAddr, src_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&src_mac.0);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    f[22..28].copy_from_slice(&src_mac.0);
    f[28..32].copy_from_slice(&src_ip.octets());
    f[32..38].copy_from_slice(&[0; 6]);
    f[38..42].copy_from_slice(&target.octets());
    f
}

/// Reads an ARP packet (Ethernet/IPv4) from a frame; `None` for anything else. Never panics,
/// whatever the bytes.
pub fn parse_frame(frame: &[u8]) -> Option<ArpFrame> {
    if frame.len() < 42 || frame[12..14] != [0x08, 0x06] {
        return None;
    }
    let arp = &frame[14..42];
    // Ethernet hardware, IPv4 protocol, 6-byte and 4-byte addresses.
    if arp[0..6] != [0x00, 0x01, 0x08, 0x00, 6, 4] {
        return None;
    }
    let mac = |b: &[u8]| {
        let mut m = [0u8; 6];
        m.copy_from_slice(b);
        MacAddr(m)
    };
    let ip = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    Some(ArpFrame {
        operation: u16::from_be_bytes([arp[6], arp[7]]),
        sender_mac: mac(&arp[8..14]),
        sender_ip: ip(&arp[14..18]),
        target_ip: ip(&arp[24..28]),
    })
}

/// The vendor behind a MAC, from the IEEE OUI registries; `None` for locally administered
/// (randomised, virtual) MACs and unknown prefixes.
pub fn vendor(mac: MacAddr) -> Option<String> {
    if mac.is_locally_administered() {
        return None;
    }
    oui_data::lookup(&mac.to_string()).map(|r| r.organization().trim().to_owned())
}

/// One interface to sweep, and the addresses of the targets on its subnets.
#[derive(Debug)]
struct Plan {
    iface: NetworkInterface,
    mac: MacAddr,
    own_ip: Ipv4Addr,
    addrs: Vec<Ipv4Addr>,
}

/// The on-link addresses of `targets`, grouped by the interface that reaches them. Loopback,
/// down interfaces and point-to-point links are left out.
fn plan(targets: &TargetSet) -> Vec<Plan> {
    let mut out = Vec::new();
    let mut claimed: HashSet<Ipv4Addr> = HashSet::new();
    for iface in pnet_datalink::interfaces() {
        if !iface.is_up() || iface.is_loopback() || !iface.is_broadcast() {
            continue;
        }
        let Some(mac) = iface.mac.map(|m| MacAddr(m.octets())) else {
            continue;
        };
        if !mac.is_unicast() {
            continue;
        }
        for net in &iface.ips {
            let ipnetwork::IpNetwork::V4(v4) = net else {
                continue;
            };
            let Ok(block) = ipnet::Ipv4Net::new(v4.ip(), v4.prefix()) else {
                continue;
            };
            let addrs: Vec<Ipv4Addr> = targets
                .iter()
                .filter_map(|a| if let IpAddr::V4(a) = a { Some(a) } else { None })
                .filter(|a| block.contains(a) && claimed.insert(*a))
                .collect();
            if !addrs.is_empty() {
                out.push(Plan {
                    iface: iface.clone(),
                    mac,
                    own_ip: v4.ip(),
                    addrs,
                });
            }
        }
    }
    out
}

/// The IPv4 subnets ARP can sweep from this machine (for callers that split work between ARP
/// and TCP discovery).
pub fn arp_subnets() -> Vec<ipnet::Ipv4Net> {
    let mut out = Vec::new();
    for iface in pnet_datalink::interfaces() {
        if !iface.is_up() || iface.is_loopback() || !iface.is_broadcast() || iface.mac.is_none() {
            continue;
        }
        for net in &iface.ips {
            if let ipnetwork::IpNetwork::V4(v4) = net {
                if let Ok(n) = ipnet::Ipv4Net::new(v4.ip(), v4.prefix()) {
                    out.push(n.trunc());
                }
            }
        }
    }
    out
}

/// Whether this process may open raw packet sockets.
pub fn raw_sockets_allowed() -> bool {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .is_ok()
}

/// The sending and receiving halves of an Ethernet channel.
pub(crate) type Ethernet = (
    Box<dyn pnet_datalink::DataLinkSender>,
    Box<dyn pnet_datalink::DataLinkReceiver>,
);

/// Opens a raw Ethernet channel on `iface` (reads time out every 20 ms, so a receiver thread
/// sees its stop flag). Without CAP_NET_RAW the error is `no_raw`, a message naming the fix.
pub(crate) fn open_ethernet(iface: &NetworkInterface, no_raw: &str) -> Result<Ethernet, ScanError> {
    let config = Config {
        read_timeout: Some(Duration::from_millis(20)),
        promiscuous: false,
        ..Config::default()
    };
    match pnet_datalink::channel(iface, config) {
        Ok(Channel::Ethernet(tx, rx)) => Ok((tx, rx)),
        Ok(_) => Err(ScanError::Unavailable(format!(
            "{}: not an Ethernet interface",
            iface.name
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(ScanError::Unavailable(no_raw.into()))
        }
        Err(e) => Err(ScanError::Io {
            context: format!("open a raw socket on {}", iface.name),
            source: e,
        }),
    }
}

/// Starts the thread `name` that reads frames from `rx` until `stop` is set (or the channel or
/// `tx` closes) and hands what `parse` makes of each to `tx`, with the time it arrived.
pub(crate) fn spawn_receiver<T: Send + 'static>(
    name: &str,
    mut rx: Box<dyn pnet_datalink::DataLinkReceiver>,
    stop: Arc<AtomicBool>,
    parse: impl Fn(&[u8]) -> Option<T> + Send + 'static,
    tx: mpsc::UnboundedSender<(T, Instant)>,
) -> Result<std::thread::JoinHandle<()>, ScanError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match rx.next() {
                    Ok(frame) => {
                        if let Some(t) = parse(frame) {
                            if tx.send((t, Instant::now())).is_err() {
                                break;
                            }
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::TimedOut
                                | std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) => break,
                }
            }
        })
        .map_err(|e| ScanError::Io {
            context: format!("start the {name} thread"),
            source: e,
        })
}

#[async_trait]
impl Scanner for ArpScanner {
    fn name(&self) -> &str {
        "arp"
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
            return Err(ScanError::Config("arp sweeps targets, not one host".into()));
        };
        for p in plan(targets) {
            if ctx.is_cancelled() {
                break;
            }
            self.sweep(ctx, p).await?;
        }
        Ok(())
    }
}

impl ArpScanner {
    async fn sweep(&self, ctx: &ScanContext, plan: Plan) -> Result<(), ScanError> {
        let (mut tx, rx) = open_ethernet(&plan.iface, NO_RAW_SOCKETS)?;
        // The receiver: a thread blocking on the socket, handing ARP frames to the sweep.
        let stop = Arc::new(AtomicBool::new(false));
        let (reply_tx, mut replies) = mpsc::unbounded_channel::<(ArpFrame, Instant)>();
        let own_mac = plan.mac;
        let receiver = spawn_receiver(
            "scanopy-arp-rx",
            rx,
            Arc::clone(&stop),
            move |frame| parse_frame(frame).filter(|a| a.sender_mac != own_mac),
            reply_tx,
        )?;

        // The gateways are read once per sweep, not once per reply.
        let mut sweep = Sweep::new(
            plan.addrs.iter().copied().filter(|a| *a != plan.own_ip),
            crate::ping::default_gateways(),
        );
        let rounds = 1 + u32::from(ctx.config().retries);
        let mut error = None;
        'rounds: for _round in 0..rounds {
            if sweep.all_answered() {
                break;
            }
            for i in 0..sweep.addrs.len() {
                if sweep.is_answered(i) {
                    continue;
                }
                let ip = Ipv4Addr::from(sweep.addrs[i]);
                let Some(_permit) = ctx.probe().await else {
                    break 'rounds;
                };
                let frame = request_frame(plan.mac, plan.own_ip, ip);
                match tx.send_to(&frame, None) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        error = Some(ScanError::Io {
                            context: format!("send ARP on {}", plan.iface.name),
                            source: e,
                        });
                        break 'rounds;
                    }
                    None => {}
                }
                sweep.mark_sent(i);
                while let Ok((a, at)) = replies.try_recv() {
                    sweep.handle(ctx, a, at).await;
                }
            }
            // The wait follows the replies: it is recomputed whenever one arrives, so the first
            // answers of a fast network cut a round short even if they came in after it began.
            let wait_for = |slowest: Option<Duration>| match slowest {
                None => self.settings.initial_wait,
                Some(s) => (s * 4 + Duration::from_millis(10))
                    .clamp(self.settings.min_wait, Duration::from_secs(1)),
            };
            let round_end = tokio::time::Instant::now();
            loop {
                let deadline = round_end + wait_for(sweep.slowest);
                tokio::select! {
                    r = replies.recv() => match r {
                        Some((a, at)) => sweep.handle(ctx, a, at).await,
                        None => break,
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = ctx.cancelled() => break 'rounds,
                }
                if sweep.all_answered() {
                    break;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || receiver.join()).await;
        while let Ok((a, at)) = replies.try_recv() {
            sweep.handle(ctx, a, at).await;
        }
        // The machine itself is on the subnet too.
        if plan.addrs.contains(&plan.own_ip) && !ctx.is_cancelled() {
            let ip = IpAddr::V4(plan.own_ip);
            ctx.observe(ip, Fact::Mac { mac: plan.mac }).await;
            if let Some(v) = vendor(plan.mac) {
                ctx.observe(ip, Fact::Vendor { vendor: v }).await;
            }
        }

        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The state of one interface's sweep, in tables indexed by the address's place among the
/// sorted targets: a /16 costs about 0.5 MiB, not the several MiB of hash maps.
struct Sweep {
    /// Addresses asked about (the targets on the interface, but its own), sorted, once each.
    addrs: Vec<u32>,
    /// When the sweep began: `sent` counts from it.
    start: Instant,
    /// Microseconds after `start` (plus one; zero: not asked yet) of each address's last
    /// question.
    sent: Vec<u32>,
    /// Addresses that answered a question (a bit each).
    answered: Vec<u64>,
    /// Targets heard from before being asked (a bit each).
    seen_unasked: Vec<u64>,
    /// How many bits `answered` has set.
    answers: usize,
    /// The longest reply time so far.
    slowest: Option<Duration>,
    /// The default gateways of the namespace.
    gateways: Vec<IpAddr>,
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64)
        .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
}

/// Sets bit `i`; whether it was clear.
fn set_bit(bits: &mut [u64], i: usize) -> bool {
    let Some(w) = bits.get_mut(i / 64) else {
        return false;
    };
    let was = *w & (1u64 << (i % 64)) != 0;
    *w |= 1u64 << (i % 64);
    !was
}

impl Sweep {
    fn new(addrs: impl Iterator<Item = Ipv4Addr>, gateways: Vec<IpAddr>) -> Self {
        let mut addrs: Vec<u32> = addrs.map(u32::from).collect();
        addrs.sort_unstable();
        addrs.dedup();
        addrs.shrink_to_fit();
        let words = addrs.len().div_ceil(64);
        Sweep {
            sent: vec![0; addrs.len()],
            answered: vec![0; words],
            seen_unasked: vec![0; words],
            addrs,
            start: Instant::now(),
            answers: 0,
            slowest: None,
            gateways,
        }
    }

    fn index(&self, ip: Ipv4Addr) -> Option<usize> {
        self.addrs.binary_search(&u32::from(ip)).ok()
    }

    fn is_answered(&self, i: usize) -> bool {
        bit(&self.answered, i)
    }

    fn all_answered(&self) -> bool {
        self.answers >= self.addrs.len()
    }

    fn mark_sent(&mut self, i: usize) {
        let us = u32::try_from(self.start.elapsed().as_micros()).unwrap_or(u32::MAX - 1);
        if let Some(s) = self.sent.get_mut(i) {
            *s = us.saturating_add(1);
        }
    }

    /// When address `i` was last asked, if it was.
    fn sent_at(&self, i: usize) -> Option<Instant> {
        let us = *self.sent.get(i)?;
        (us != 0).then(|| self.start + Duration::from_micros(u64::from(us - 1)))
    }

    /// Records one ARP packet: a reply to our question, or one nobody asked for.
    async fn handle(&mut self, ctx: &ScanContext, a: ArpFrame, at: Instant) {
        if !a.sender_mac.is_unicast() || a.sender_ip.is_unspecified() {
            return;
        }
        let ip = a.sender_ip;
        // Outside the targets: not this scan's business (a flood's addresses, another subnet).
        let Some(i) = self.index(ip) else {
            return;
        };
        let sent = self.sent_at(i);
        let asked = sent.is_some();
        let first_time = if asked {
            set_bit(&mut self.answered, i)
        } else {
            set_bit(&mut self.seen_unasked, i)
        };
        if !first_time {
            return;
        }
        if asked {
            self.answers += 1;
        }
        let rtt = sent.map(|s| at.saturating_duration_since(s));
        if let (true, Some(r)) = (asked, rtt) {
            self.slowest = Some(self.slowest.map_or(r, |s| s.max(r)));
        }
        let addr = IpAddr::V4(ip);
        ctx.observe(addr, Fact::Mac { mac: a.sender_mac }).await;
        if let Some(v) = vendor(a.sender_mac) {
            ctx.observe(addr, Fact::Vendor { vendor: v }).await;
        }
        if self.gateways.contains(&addr) {
            ctx.observe(addr, Fact::Gateway).await;
        }
        let method = if asked { "arp" } else { "arp-unsolicited" };
        ctx.observe(
            addr,
            Fact::Alive {
                method: method.into(),
                rtt_us: rtt.and_then(|r| u64::try_from(r.as_micros()).ok()),
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_request_frame_parses_back() {
        let mac: MacAddr = "02:77:00:00:00:02".parse().unwrap();
        let f = request_frame(
            mac,
            Ipv4Addr::new(10, 77, 0, 2),
            Ipv4Addr::new(10, 77, 0, 10),
        );
        let a = parse_frame(&f).unwrap();
        assert_eq!(a.operation, 1);
        assert_eq!(a.sender_mac, mac);
        assert_eq!(a.sender_ip, Ipv4Addr::new(10, 77, 0, 2));
        assert_eq!(a.target_ip, Ipv4Addr::new(10, 77, 0, 10));
        let mut ipv6 = f;
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(parse_frame(&ipv6), None);
        assert_eq!(parse_frame(&f[..41]), None);
    }

    /// A flood of gratuitous ARPs from random MACs during a scan of one host: only that host's
    /// packet is an observation (once), whatever else the segment says.
    #[tokio::test]
    async fn arp_nobody_asked_for_counts_only_for_targets_once_each() {
        let target = Ipv4Addr::new(10, 77, 3, 20);
        let (ctx, mut rx) = ScanContext::standalone(
            "arp",
            scanopy_core::ScanConfig::default(),
            TargetSet::from_addrs([IpAddr::V4(target)]),
            tokio_util::sync::CancellationToken::new(),
        );
        let mut sweep = Sweep::new([target].into_iter(), Vec::new());
        let now = Instant::now();
        for i in 0..2_000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            let frame = ArpFrame {
                operation: 1,
                sender_mac: MacAddr([0x02, 0x99, 0, a, b, c]),
                sender_ip: Ipv4Addr::new(10, 77, 3, 160 + (i % 91) as u8),
                target_ip: Ipv4Addr::new(10, 77, 3, 160 + (i % 91) as u8),
            };
            sweep.handle(&ctx, frame, now).await;
        }
        for i in 0..3u8 {
            let frame = ArpFrame {
                operation: 1,
                sender_mac: MacAddr([0x02, 0x77, 0, 0, 3, 20 + i]),
                sender_ip: target,
                target_ip: target,
            };
            sweep.handle(&ctx, frame, now).await;
        }
        drop(ctx);
        let mut addrs = HashSet::new();
        let mut alive = 0;
        while let Some(o) = rx.recv().await {
            addrs.insert(o.ip);
            if let Fact::Alive { method, .. } = &o.fact {
                assert_eq!(method, "arp-unsolicited");
                alive += 1;
            }
        }
        assert_eq!(addrs, HashSet::from([IpAddr::V4(target)]));
        assert_eq!(alive, 1);
    }

    #[test]
    fn vendors_come_from_the_ieee_table() {
        assert_eq!(
            vendor("00:11:32:77:00:10".parse().unwrap()).as_deref(),
            Some("Synology Incorporated")
        );
        assert_eq!(
            vendor("02:77:00:00:00:11".parse().unwrap()),
            None,
            "locally administered"
        );
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_frame(&bytes);
        }

    }
}

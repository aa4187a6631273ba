//! Passive discovery: hear devices announce themselves without sending a packet. A raw packet
//! socket on every interface of the namespace, with a classic BPF filter in the kernel
//! ([`filter`]: ARP, and UDP between ports 67 and 68, nothing sent by this machine), hands ARP
//! and DHCP to a thread; [`Passive`] turns what it hears into observations:
//!
//! - an ARP packet with a sender address (request, reply, gratuitous): the address is alive
//!   (`passive-arp`) with its MAC and vendor;
//! - a DHCP client's DISCOVER, REQUEST or INFORM: its host name (source `dhcp`), its vendor class
//!   read by recog's `dhcp_vendor_class` database as an OS hint, and its parameter request list,
//!   recorded for the address it asks for or has (`dhcp`); a server's ACK gives the address to
//!   the client's MAC (`dhcp-ack`).
//!
//! Bounded whatever the network does: new MACs are followed at most
//! [`PassiveLimits::new_per_minute`] a minute (after a burst of [`PassiveLimits::new_burst`]),
//! at most [`PassiveLimits::max_macs`] at once (MACs quiet for ten minutes make room); more are
//! counted, [`Passive::untracked`], never observed: a MAC flood is a number, not thousands of
//! devices. Each followed MAC is observed at most [`PassiveLimits::per_mac`] times a minute. The
//! socket's thread hands frames over a bounded queue ([`LISTEN_QUEUE`]); what does not fit is
//! counted ([`Listener::overflow`]). Needs CAP_NET_RAW. The filter and [`Passive`] are pure;
//! the socket is the only I/O.
//!
//! The daemon's service runs it (`scanopy_daemon::passive`); what it hears goes to the server
//! through the same spool as scan results, with the sources `passive-arp` and `dhcp`
//! ([`source`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scanopy_core::{Confidence, Fact, MacAddr, OsHint};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::sync::mpsc;

use crate::arp::{self, ArpFrame};
use crate::dhcp::{self, MessageType};

/// One thing heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An ARP packet.
    Arp(ArpFrame),
    /// A DHCP message, with the Ethernet source.
    Dhcp(MacAddr, Box<dhcp::Message>),
}

/// The source (the observation's scanner name) of what `heard` says: `passive-arp` or `dhcp`.
pub fn source(heard: &Heard) -> &'static str {
    match heard {
        Heard::Arp(_) => "passive-arp",
        Heard::Dhcp(..) => "dhcp",
    }
}

/// Reads a frame the filter let through.
pub fn parse(frame: &[u8]) -> Option<Heard> {
    if let Some(a) = arp::parse_frame(frame) {
        return Some(Heard::Arp(a));
    }
    dhcp::parse_frame(frame).map(|(src, m)| Heard::Dhcp(src, Box::new(m)))
}

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LDX_B_MSH: u16 = 0xb1;
const LD_H_IND: u16 = 0x48;
const JEQ: u16 = 0x15;
const JSET: u16 = 0x45;
const RET: u16 = 0x06;
/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: the packet's type, as an absolute load.
const PKTTYPE: u32 = 0xffff_f004;
/// `PACKET_OUTGOING`.
const OUTGOING: u32 = 4;

/// The kernel filter as `(code, jump if true, jump if false, k)`: nothing this machine sent;
/// ARP; IPv4 UDP (not a later fragment) to port 67 or 68. Jumps count from the next
/// instruction; 13 accepts, 14 drops.
pub const PROGRAM: [(u16, u8, u8, u32); 15] = [
    (LD_W_ABS, 0, 0, PKTTYPE),             // 0
    (JEQ, 12, 0, OUTGOING),                // 1: sent by us -> drop
    (LD_H_ABS, 0, 0, 12),                  // 2: the ethertype
    (JEQ, 9, 0, 0x0806),                   // 3: ARP -> accept
    (JEQ, 0, 9, 0x0800),                   // 4: not IPv4 -> drop
    (LD_B_ABS, 0, 0, 23),                  // 5: the IP protocol
    (JEQ, 0, 7, 17),                       // 6: not UDP -> drop
    (LD_H_ABS, 0, 0, 20),                  // 7: flags and fragment offset
    (JSET, 5, 0, 0x1fff),                  // 8: a later fragment -> drop
    (LDX_B_MSH, 0, 0, 14),                 // 9: X = the IP header's length
    (LD_H_IND, 0, 0, 16),                  // 10: the UDP destination port
    (JEQ, 1, 0, dhcp::SERVER_PORT as u32), // 11: 67 -> accept
    (JEQ, 0, 1, dhcp::CLIENT_PORT as u32), // 12: 68 -> accept, else drop
    (RET, 0, 0, 65_535),                   // 13: accept the whole frame
    (RET, 0, 0, 0),                        // 14: drop
];

/// [`PROGRAM`] for the socket.
pub fn filter() -> Vec<SockFilter> {
    PROGRAM
        .iter()
        .map(|&(c, jt, jf, k)| SockFilter::new(c, jt, jf, k))
        .collect()
}

/// Limits of what [`Passive`] follows.
#[derive(Debug, Clone, Copy)]
pub struct PassiveLimits {
    /// MACs followed at most; more are counted, not observed.
    pub max_macs: usize,
    /// Observations of one MAC per minute, at most.
    pub per_mac: u32,
    /// New MACs taken at once before [`PassiveLimits::new_per_minute`] applies (a daemon that
    /// starts hears the hosts already there).
    pub new_burst: u32,
    /// New MACs taken per minute after the burst; more are counted as untracked.
    pub new_per_minute: u32,
}

impl Default for PassiveLimits {
    fn default() -> Self {
        PassiveLimits {
            max_macs: 4096,
            per_mac: 20,
            new_burst: 64,
            new_per_minute: 60,
        }
    }
}

/// A followed MAC quiet this long makes room for another when [`PassiveLimits::max_macs`] are
/// followed.
const IDLE: Duration = Duration::from_secs(600);

/// What a DHCP client said of itself, kept until its address is known.
#[derive(Debug, Clone, Default)]
struct Client {
    hostname: Option<String>,
    vendor_class: Option<String>,
    fingerprint: Option<String>,
}

/// One MAC's budget in the current minute.
#[derive(Debug, Clone)]
struct Budget {
    since: Instant,
    used: u32,
    client: Client,
}

/// Turns what the listener hears into observations, within [`PassiveLimits`].
#[derive(Debug)]
pub struct Passive {
    limits: PassiveLimits,
    macs: HashMap<MacAddr, Budget>,
    untracked: u64,
    dropped: u64,
    /// New MACs that may still be taken (a token bucket refilled at `new_per_minute`).
    tokens: f64,
    refilled: Option<Instant>,
    pruned: Option<Instant>,
}

impl Passive {
    /// A state with these limits.
    pub fn new(limits: PassiveLimits) -> Self {
        Passive {
            limits,
            macs: HashMap::new(),
            untracked: 0,
            dropped: 0,
            tokens: f64::from(limits.new_burst),
            refilled: None,
            pruned: None,
        }
    }

    /// Whether a MAC never followed may be taken now: room, and a token.
    fn admit(&mut self, now: Instant) -> bool {
        if self.macs.len() >= self.limits.max_macs
            && self
                .pruned
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(60))
        {
            self.pruned = Some(now);
            self.macs
                .retain(|_, b| now.saturating_duration_since(b.since) < IDLE);
        }
        if self.macs.len() >= self.limits.max_macs {
            return false;
        }
        if let Some(t) = self.refilled {
            let minutes = now.saturating_duration_since(t).as_secs_f64() / 60.0;
            self.tokens = (self.tokens + minutes * f64::from(self.limits.new_per_minute))
                .min(f64::from(self.limits.new_burst.max(1)));
        }
        self.refilled = Some(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// Packets from MACs beyond [`PassiveLimits::max_macs`]: a flood's size.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Packets of followed MACs over their per-minute budget.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// MACs followed.
    pub fn tracked(&self) -> usize {
        self.macs.len()
    }

    /// The budget of `mac` at `now`, or `None` when it is spent or the MAC cannot be followed.
    fn budget(&mut self, mac: MacAddr, now: Instant) -> Option<&mut Budget> {
        if !self.macs.contains_key(&mac) {
            if !self.admit(now) {
                self.untracked += 1;
                return None;
            }
            self.macs.insert(
                mac,
                Budget {
                    since: now,
                    used: 0,
                    client: Client::default(),
                },
            );
        }
        let b = self.macs.get_mut(&mac)?;
        if now.saturating_duration_since(b.since) >= Duration::from_secs(60) {
            b.since = now;
            b.used = 0;
        }
        if b.used >= self.limits.per_mac {
            self.dropped += 1;
            return None;
        }
        b.used += 1;
        Some(b)
    }

    /// The observations one packet makes, as `(address, fact)`.
    pub fn hear(&mut self, heard: &Heard, now: Instant) -> Vec<(IpAddr, Fact)> {
        match heard {
            Heard::Arp(a) => self.arp(a, now),
            Heard::Dhcp(_, m) => self.dhcp(m, now),
        }
    }

    fn arp(&mut self, a: &ArpFrame, now: Instant) -> Vec<(IpAddr, Fact)> {
        if !a.sender_mac.is_unicast() || a.sender_ip.is_unspecified() || a.sender_ip.is_broadcast()
        {
            return Vec::new();
        }
        if self.budget(a.sender_mac, now).is_none() {
            return Vec::new();
        }
        let ip = IpAddr::V4(a.sender_ip);
        let mut out = vec![(ip, Fact::Mac { mac: a.sender_mac })];
        if let Some(v) = arp::vendor(a.sender_mac) {
            out.push((ip, Fact::Vendor { vendor: v }));
        }
        out.push((
            ip,
            Fact::Alive {
                method: "passive-arp".into(),
                rtt_us: None,
            },
        ));
        out
    }

    fn dhcp(&mut self, m: &dhcp::Message, now: Instant) -> Vec<(IpAddr, Fact)> {
        let mac = m.client_mac;
        if !mac.is_unicast() {
            return Vec::new();
        }
        let Some(kind) = m.kind else {
            return Vec::new();
        };
        let Some(b) = self.budget(mac, now) else {
            return Vec::new();
        };
        let (ip, method) = if kind.from_client() {
            if m.hostname.is_some() {
                b.client.hostname = m.hostname.clone();
            }
            if m.vendor_class.is_some() {
                b.client.vendor_class = m.vendor_class.clone();
            }
            if m.fingerprint().is_some() {
                b.client.fingerprint = m.fingerprint();
            }
            // Its address, when it has or asks for one (a DISCOVER may ask already).
            match m.client_ip.or(m.requested_ip) {
                Some(ip) if kind != MessageType::Release && kind != MessageType::Decline => {
                    (ip, "dhcp")
                }
                _ => return Vec::new(),
            }
        } else if kind == MessageType::Ack {
            match m.your_ip.or(m.client_ip) {
                Some(ip) => (ip, "dhcp-ack"),
                None => return Vec::new(),
            }
        } else {
            return Vec::new();
        };
        client_facts(ip, mac, &b.client, method)
    }
}

/// The observations of a DHCP client at `ip`.
fn client_facts(ip: Ipv4Addr, mac: MacAddr, c: &Client, method: &str) -> Vec<(IpAddr, Fact)> {
    let ip = IpAddr::V4(ip);
    let mut out = vec![(ip, Fact::Mac { mac })];
    if let Some(v) = arp::vendor(mac) {
        out.push((ip, Fact::Vendor { vendor: v }));
    }
    if let Some(h) = &c.hostname {
        out.push((
            ip,
            Fact::Hostname {
                name: h.clone(),
                source: "dhcp".into(),
            },
        ));
    }
    if let Some(hint) = c.vendor_class.as_deref().and_then(|v| os_hint(v, c)) {
        out.push((ip, Fact::Os(hint)));
    }
    out.push((
        ip,
        Fact::Alive {
            method: method.into(),
            rtt_us: None,
        },
    ));
    out
}

/// What recog's DHCP vendor class database says of the client's OS.
fn os_hint(vendor_class: &str, c: &Client) -> Option<OsHint> {
    let m = crate::recog::database("dhcp_vendor_class")?.first_match(vendor_class)?;
    let family = m.get("os.family").or(m.get("os.product"))?;
    let product = m.get("os.product").filter(|p| *p != family);
    let evidence = match &c.fingerprint {
        Some(f) => format!("dhcp vendor class {vendor_class:?} (parameters {f})"),
        None => format!("dhcp vendor class {vendor_class:?}"),
    };
    Some(OsHint {
        confidence: Confidence::Medium,
        family: family.to_owned(),
        name: product.map(str::to_owned),
        version: m.get("os.version").map(str::to_owned),
        evidence,
    })
}

/// Frames waiting between the socket's thread and [`Passive`], at most; more are counted by
/// [`Listener::overflow`] and dropped.
pub const LISTEN_QUEUE: usize = 4096;

/// A running listener: a thread reading the filtered socket. Dropping it stops the thread
/// within 100 ms.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
    overflow: Arc<AtomicU64>,
    frames: Arc<AtomicU64>,
}

impl Listener {
    /// Frames dropped because the queue was full (the consumer fell behind).
    pub fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Frames the filter let through and the thread read (parsed or not).
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Opens the filtered packet socket (all interfaces of the namespace) and starts the thread
/// that hands what it hears to `tx`, with the time it arrived; make the channel
/// [`LISTEN_QUEUE`] long. A full channel drops the frame and counts it. Fails without
/// CAP_NET_RAW.
pub fn listen(tx: mpsc::Sender<(Heard, Instant)>) -> std::io::Result<Listener> {
    const ETH_P_ALL: u16 = 0x0003;
    let sock = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(ETH_P_ALL.to_be()))),
    )?;
    sock.attach_filter(&filter())?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let halt = Arc::clone(&stop);
    let overflow = Arc::new(AtomicU64::new(0));
    let frames = Arc::new(AtomicU64::new(0));
    let (over, read) = (Arc::clone(&overflow), Arc::clone(&frames));
    std::thread::Builder::new()
        .name("scanopy-listen".into())
        .spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 2048];
            while !halt.load(Ordering::Relaxed) {
                match (&sock).read(&mut buf) {
                    Ok(n) => {
                        read.fetch_add(1, Ordering::Relaxed);
                        if let Some(h) = parse(&buf[..n]) {
                            match tx.try_send((h, Instant::now())) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(_)) => {
                                    over.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(mpsc::error::TrySendError::Closed(_)) => break,
                            }
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::TimedOut
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) => break,
                }
            }
        })?;
    Ok(Listener {
        stop,
        overflow,
        frames,
    })
}

#[cfg(test)]
mod tests;

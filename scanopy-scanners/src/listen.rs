//! Passive discovery: hear devices announce themselves without sending a packet. A raw packet
//! socket on every interface of the namespace, with a classic BPF filter in the kernel
//! ([`filter`]: ARP, UDP to ports 67, 68 and 5353, ICMPv6 router and neighbour messages, LLDP
//! and CDP; nothing sent by this machine), hands ARP, DHCP, mDNS, NDP and neighbour
//! announcements to a thread; [`Passive`] turns
//! what it hears into observations:
//!
//! - an ARP packet with a sender address (request, reply, gratuitous): the address is alive
//!   (`passive-arp`) with its MAC and vendor;
//! - a DHCP client's DISCOVER, REQUEST or INFORM: its host name (source `dhcp`), its vendor class
//!   read by recog's `dhcp_vendor_class` database as an OS hint, and its parameter request list,
//!   recorded for the address it asks for or has (`dhcp`); a client with no address yet (a
//!   DISCOVER from a host that has just joined) is observed at once by its MAC
//!   ([`Fact::Unaddressed`]: the device of that MAC, at `0.0.0.0` until it has an address); a
//!   server's ACK gives the address to the client's MAC (`dhcp-ack`).
//! - an ICMPv6 router solicitation or advertisement, neighbour solicitation or advertisement
//!   from an address in use (a host that joins solicits routers from its link-local address):
//!   the address is alive (`passive-ndp`) with its MAC, so the device has its IPv6 addresses;
//!   an advertising router is a gateway;
//! - a DHCPv6 client's message (SOLICIT, REQUEST, CONFIRM, RENEW, REBIND,
//!   INFORMATION-REQUEST; [`crate::dhcp6`]) from its link-local address: alive there (`dhcp6`)
//!   with its MAC; its Client FQDN name and vendor class are the device's;
//! - an mDNS response (an announcement, or an answer to anyone's query): the sender's name
//!   (`mdns`), its type from its services, its 5353/udp service with model and friendly name,
//!   when what it says changed; - an LLDP or CDP frame from a switch or router on one of this machine's links
//!   ([`crate::lldp`]): which port of which switch this machine is plugged into, as this
//!   machine's link layer ([`Fact::L2`] of its address on that interface, one snapshot of every
//!   neighbour heard while their TTL lasts, sent when it changes), and the neighbour itself at
//!   its management address (`lldp`/`cdp`: alive, its name, a switch or a router), even
//!   without SNMP access to it.
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
use crate::lldp;

/// One thing heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An ARP packet.
    Arp(ArpFrame),
    /// A DHCP message, with the Ethernet source.
    Dhcp(MacAddr, Box<dhcp::Message>),
    /// An LLDP or CDP announcement, with the index of the interface that heard it.
    Neighbour(u32, Box<lldp::Announcement>),
    /// An mDNS response (an announcement, or an answer to someone's query): the sender's MAC
    /// and address, and its records.
    Mdns(MacAddr, Ipv4Addr, Vec<crate::mdns::Record>),
    /// An ICMPv6 router or neighbour solicitation or advertisement from an address in use
    /// (a link-local one, mostly: a host that joins solicits routers from it).
    Ndp(crate::ndp::Heard),
    /// A DHCPv6 client message: the Ethernet source, the IPv6 source (its link-local address)
    /// and what it said.
    Dhcp6(MacAddr, std::net::Ipv6Addr, Box<crate::dhcp6::Message6>),
}

/// The source (the observation's scanner name) of what `heard` says: `passive-arp`, `dhcp`,
/// `lldp` or `cdp`.
pub fn source(heard: &Heard) -> &'static str {
    match heard {
        Heard::Arp(_) => "passive-arp",
        Heard::Dhcp(..) => "dhcp",
        Heard::Neighbour(_, a) => a.protocol.name(),
        Heard::Mdns(..) => "mdns",
        Heard::Ndp(_) => "passive-ndp",
        Heard::Dhcp6(..) => "dhcp6",
    }
}

/// Reads a frame the filter let through, heard on interface `ifindex`.
pub fn parse(frame: &[u8], ifindex: u32) -> Option<Heard> {
    if let Some(a) = arp::parse_frame(frame) {
        return Some(Heard::Arp(a));
    }
    if let Some(a) = lldp::parse_frame(frame) {
        return Some(Heard::Neighbour(ifindex, Box::new(a)));
    }
    if let Some((mac, ip, records)) = crate::mdns::parse_frame(frame) {
        return Some(Heard::Mdns(mac, ip, records));
    }
    if let Some(h) = crate::ndp::parse_frame(frame) {
        return Some(Heard::Ndp(h));
    }
    if let Some((mac, src, m)) = crate::dhcp6::parse_frame(frame) {
        return Some(Heard::Dhcp6(mac, src, Box::new(m)));
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
const JGT: u16 = 0x25;
const JSET: u16 = 0x45;
const RET: u16 = 0x06;
/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: the packet's type, as an absolute load.
const PKTTYPE: u32 = 0xffff_f004;
/// `PACKET_OUTGOING`.
const OUTGOING: u32 = 4;

/// The kernel filter as `(code, jump if true, jump if false, k)`: nothing this machine sent;
/// ARP; LLDP; IPv4 UDP (not a later fragment) to port 67, 68 or 5353 (mDNS); IPv6 (no
/// extension header) ICMPv6 router and neighbour messages (types 133 to 136) and UDP to port
/// 547 (DHCPv6 clients); an 802.3 frame to CDP's group address. Jumps count from the next
/// instruction; 30 accepts, 31 drops.
pub const PROGRAM: [(u16, u8, u8, u32); 32] = [
    (LD_W_ABS, 0, 0, PKTTYPE),                     // 0
    (JEQ, 29, 0, OUTGOING),                        // 1: sent by us -> drop
    (LD_H_ABS, 0, 0, 12),                          // 2: the ethertype
    (JEQ, 26, 0, 0x0806),                          // 3: ARP -> accept
    (JEQ, 25, 0, lldp::LLDP_ETHERTYPE as u32),     // 4: LLDP -> accept
    (JEQ, 0, 9, 0x0800),                           // 5: not IPv4 -> 15 (IPv6?)
    (LD_B_ABS, 0, 0, 23),                          // 6: the IP protocol
    (JEQ, 0, 23, 17),                              // 7: not UDP -> drop
    (LD_H_ABS, 0, 0, 20),                          // 8: flags and fragment offset
    (JSET, 21, 0, 0x1fff),                         // 9: a later fragment -> drop
    (LDX_B_MSH, 0, 0, 14),                         // 10: X = the IP header's length
    (LD_H_IND, 0, 0, 16),                          // 11: the UDP destination port
    (JEQ, 17, 0, dhcp::SERVER_PORT as u32),        // 12: 67 -> accept
    (JEQ, 16, 0, dhcp::CLIENT_PORT as u32),        // 13: 68 -> accept
    (JEQ, 15, 16, crate::mdns::MDNS_PORT as u32),  // 14: 5353 -> accept, else drop
    (JEQ, 0, 9, 0x86dd),                           // 15: not IPv6 -> 25 (CDP?)
    (LD_B_ABS, 0, 0, 20),                          // 16: the next header
    (JEQ, 0, 4, 58),                               // 17: not ICMPv6 -> 22 (UDP?)
    (LD_B_ABS, 0, 0, 54),                          // 18: the ICMPv6 type
    (JGT, 0, 11, 132),                             // 19: below 133 -> drop
    (JGT, 10, 0, 136),                             // 20: above 136 -> drop
    (RET, 0, 0, 65_535),                           // 21: a router or neighbour message -> accept
    (JEQ, 0, 8, 17),                               // 22: not UDP -> drop
    (LD_H_ABS, 0, 0, 56),                          // 23: the UDP destination port
    (JEQ, 5, 6, crate::dhcp6::SERVER_PORT as u32), // 24: 547 -> accept, else drop
    (JGT, 5, 0, 1500),                             // 25: an ethertype, not a length -> drop
    (LD_W_ABS, 0, 0, 0),                           // 26: the destination's first four bytes
    (JEQ, 0, 3, 0x0100_0ccc),                      // 27: not CDP's group -> drop
    (LD_H_ABS, 0, 0, 4),                           // 28: its last two
    (JEQ, 0, 1, 0xcccc),                           // 29: CDP's group -> accept, else drop
    (RET, 0, 0, 65_535),                           // 30: accept the whole frame
    (RET, 0, 0, 0),                                // 31: drop
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

/// What a DHCP client said of itself, kept until its address is known; what its mDNS
/// responder told, and what of it was observed last.
#[derive(Debug, Clone, Default)]
struct Client {
    hostname: Option<String>,
    vendor_class: Option<String>,
    fingerprint: Option<String>,
    mdns: crate::mdns::Announcement,
    mdns_told: Option<(Ipv4Addr, crate::mdns::Announcement, Instant)>,
    /// The IPv6 addresses its router and neighbour messages were told for, and when.
    ndp_told: std::collections::BTreeMap<std::net::Ipv6Addr, Instant>,
}

/// One MAC's budget in the current minute.
#[derive(Debug, Clone)]
struct Budget {
    since: Instant,
    used: u32,
    client: Client,
}

/// One of this machine's interfaces, as the listener labels what it hears on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnInterface {
    /// Its index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// Its MAC.
    pub mac: Option<MacAddr>,
    /// Its first IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
}

/// This machine's interfaces now (loopback left out).
pub fn own_interfaces() -> Vec<OwnInterface> {
    pnet_datalink::interfaces()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| OwnInterface {
            index: i.index,
            name: i.name.clone(),
            mac: i
                .mac
                .map(|m| MacAddr(m.octets()))
                .filter(|m| *m != MacAddr([0; 6])),
            ipv4: i.ips.iter().find_map(|n| match n.ip() {
                IpAddr::V4(v) if !v.is_loopback() => Some(v),
                _ => None,
            }),
        })
        .collect()
}

/// Neighbours (LLDP, CDP) kept at most; more are counted as dropped.
pub const MAX_NEIGHBOURS: usize = 256;
/// What is heard unchanged is told again this often (and a neighbour's own facts).
pub const NEIGHBOUR_REFRESH: Duration = Duration::from_secs(600);
/// An IPv6 address heard in router and neighbour messages is told again this often.
pub const NDP_REFRESH: Duration = Duration::from_secs(60);

/// Which announcement: the interface that heard it, the protocol, the chassis and its port.
type NeighbourKey = (u32, lldp::Protocol, String, Option<String>);

#[derive(Debug, Clone)]
struct HeardNeighbour {
    a: lldp::Announcement,
    expires: Instant,
    /// When its own facts were last observed.
    announced: Instant,
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
    own: Vec<OwnInterface>,
    neighbours: std::collections::BTreeMap<NeighbourKey, HeardNeighbour>,
    /// The last link layer told of this machine: to which address, what, when.
    told: Option<(Ipv4Addr, scanopy_core::L2, Instant)>,
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
            own: Vec::new(),
            neighbours: std::collections::BTreeMap::new(),
            told: None,
        }
    }

    /// This machine's interfaces, to say which of them heard a neighbour ([`own_interfaces`]).
    pub fn set_interfaces(&mut self, own: Vec<OwnInterface>) {
        self.own = own;
    }

    /// Whether `index` is one of the interfaces set.
    pub fn knows_interface(&self, index: u32) -> bool {
        self.own.iter().any(|i| i.index == index)
    }

    /// Neighbours heard whose TTL has not run out.
    pub fn neighbours(&self) -> usize {
        self.neighbours.len()
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
            Heard::Neighbour(ifindex, a) => self.neighbour(*ifindex, a, now),
            Heard::Mdns(mac, ip, records) => self.mdns(*mac, *ip, records, now),
            Heard::Ndp(h) => self.ndp(h, now),
            Heard::Dhcp6(mac, src, m) => self.dhcp6(*mac, *src, m, now),
        }
    }

    /// A DHCPv6 client message: its sender is alive at its (link-local) address with its MAC
    /// (`dhcp6`); its name (Client FQDN) and vendor class are the device's, told as
    /// [`Fact::Unaddressed`] (what a device said of itself before it had an address the
    /// network knows), and remembered for its DHCPv4 messages.
    fn dhcp6(
        &mut self,
        mac: MacAddr,
        src: std::net::Ipv6Addr,
        m: &crate::dhcp6::Message6,
        now: Instant,
    ) -> Vec<(IpAddr, Fact)> {
        if !mac.is_unicast() || src.is_loopback() {
            return Vec::new();
        }
        let Some(b) = self.budget(mac, now) else {
            return Vec::new();
        };
        if let Some(n) = &m.fqdn {
            b.client.hostname = Some(n.clone());
        }
        if let Some((_, v)) = &m.vendor_class {
            b.client.vendor_class.get_or_insert_with(|| v.clone());
        }
        let ip = IpAddr::V6(src);
        let mut out = vec![(ip, Fact::Mac { mac })];
        if let Some(v) = arp::vendor(mac) {
            out.push((ip, Fact::Vendor { vendor: v }));
        }
        out.push((
            ip,
            Fact::Alive {
                method: "dhcp6".into(),
                rtt_us: None,
            },
        ));
        let said: Vec<Fact> = client_facts(Ipv4Addr::UNSPECIFIED, mac, &b.client, "dhcp6")
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| matches!(f, Fact::Hostname { .. } | Fact::Os(_)))
            .collect();
        if !said.is_empty() {
            out.push((
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Fact::Unaddressed { mac, facts: said },
            ));
        }
        out
    }

    /// An ICMPv6 router or neighbour message: its sender's address is in use, with its MAC
    /// (`passive-ndp`); a router advertisement makes it a gateway. Told once a minute per
    /// address at most, so a host's neighbour chatter does not spend its budget.
    fn ndp(&mut self, h: &crate::ndp::Heard, now: Instant) -> Vec<(IpAddr, Fact)> {
        if !h.mac.is_unicast() || h.src.is_loopback() {
            return Vec::new();
        }
        let told_lately = self.macs.get(&h.mac).is_some_and(|b| {
            b.client
                .ndp_told
                .get(&h.src)
                .is_some_and(|t| now.saturating_duration_since(*t) < NDP_REFRESH)
        });
        if told_lately {
            return Vec::new();
        }
        let Some(b) = self.budget(h.mac, now) else {
            return Vec::new();
        };
        if b.client.ndp_told.len() >= 8 {
            b.client.ndp_told.clear();
        }
        b.client.ndp_told.insert(h.src, now);
        let ip = IpAddr::V6(h.src);
        let mut out = vec![(ip, Fact::Mac { mac: h.mac })];
        if let Some(v) = arp::vendor(h.mac) {
            out.push((ip, Fact::Vendor { vendor: v }));
        }
        if h.kind == crate::ndp::HeardKind::RouterAdvert {
            out.push((ip, Fact::Gateway));
        }
        out.push((
            ip,
            Fact::Alive {
                method: "passive-ndp".into(),
                rtt_us: None,
            },
        ));
        out
    }

    /// An mDNS response: its records folded into what the sender's responder told; observed
    /// (its name, services, model, type) when that changed or [`NEIGHBOUR_REFRESH`] passed.
    fn mdns(
        &mut self,
        mac: MacAddr,
        ip: Ipv4Addr,
        records: &[crate::mdns::Record],
        now: Instant,
    ) -> Vec<(IpAddr, Fact)> {
        if !mac.is_unicast() || ip.is_loopback() || ip.is_link_local() {
            return Vec::new();
        }
        let Some(b) = self.budget(mac, now) else {
            return Vec::new();
        };
        b.client
            .mdns
            .add(&crate::dns::reverse_name(IpAddr::V4(ip)), records);
        let ann = b.client.mdns.clone();
        let said = ann.hostname.is_some() || !ann.services.is_empty() || !ann.instances.is_empty();
        let unchanged = b.client.mdns_told.as_ref().is_some_and(|(tip, t, at)| {
            *tip == ip && *t == ann && now.saturating_duration_since(*at) < NEIGHBOUR_REFRESH
        });
        if !said || unchanged {
            return Vec::new();
        }
        b.client.mdns_told = Some((ip, ann.clone(), now));
        let at = IpAddr::V4(ip);
        let (port, more) = crate::mdns::facts(&ann, "mdns-heard");
        let mut out = vec![
            (at, Fact::Mac { mac }),
            (
                at,
                Fact::Alive {
                    method: "mdns".into(),
                    rtt_us: None,
                },
            ),
        ];
        out.extend(more.into_iter().map(|f| (at, f)));
        out.push((at, Fact::Port(port)));
        out
    }

    /// What time alone changes: neighbours whose TTL ran out are forgotten, and this machine's
    /// link layer told again when that changed it. Call it every few seconds.
    pub fn tick(&mut self, now: Instant) -> Vec<(IpAddr, Fact)> {
        self.link_layer(now)
    }

    fn neighbour(
        &mut self,
        ifindex: u32,
        a: &lldp::Announcement,
        now: Instant,
    ) -> Vec<(IpAddr, Fact)> {
        if !a.source_mac.is_unicast() || self.budget(a.source_mac, now).is_none() {
            return Vec::new();
        }
        let key = (ifindex, a.protocol, a.chassis_id.clone(), a.port_id.clone());
        let mut out = Vec::new();
        if a.ttl == 0 {
            // It is leaving (or its port shut down).
            self.neighbours.remove(&key);
        } else {
            let fresh = match self.neighbours.get(&key) {
                Some(h) => {
                    h.a != *a || now.saturating_duration_since(h.announced) >= NEIGHBOUR_REFRESH
                }
                None => {
                    if self.neighbours.len() >= MAX_NEIGHBOURS {
                        self.dropped += 1;
                        return Vec::new();
                    }
                    true
                }
            };
            let announced = match self.neighbours.get(&key) {
                Some(h) if !fresh => h.announced,
                _ => now,
            };
            self.neighbours.insert(
                key,
                HeardNeighbour {
                    a: a.clone(),
                    expires: now + Duration::from_secs(u64::from(a.ttl)),
                    announced,
                },
            );
            if fresh {
                out.extend(self.neighbour_facts(a));
            }
        }
        out.extend(self.link_layer(now));
        out
    }

    /// What an announcement says of its sender, at its management address (an IPv4 one
    /// first; none of this machine's).
    fn neighbour_facts(&self, a: &lldp::Announcement) -> Vec<(IpAddr, Fact)> {
        let mine = |ip: &IpAddr| self.own.iter().any(|i| i.ipv4.map(IpAddr::V4) == Some(*ip));
        let Some(ip) = a
            .addresses
            .iter()
            .find(|ip| ip.is_ipv4() && !mine(ip))
            .or_else(|| a.addresses.iter().find(|ip| !mine(ip)))
            .copied()
        else {
            return Vec::new();
        };
        let source = a.protocol.name();
        let mut out = vec![(
            ip,
            Fact::Alive {
                method: source.into(),
                rtt_us: None,
            },
        )];
        if let Some(name) = &a.system_name {
            out.push((
                ip,
                Fact::Hostname {
                    name: name.clone(),
                    source: source.into(),
                },
            ));
        }
        let typed = if a.is_bridge() {
            Some(scanopy_core::DeviceType::Switch)
        } else if a.is_router() {
            Some(scanopy_core::DeviceType::Gateway)
        } else if a.capabilities.contains(&"wlan-ap") {
            Some(scanopy_core::DeviceType::AccessPoint)
        } else if a.capabilities.contains(&"phone") {
            Some(scanopy_core::DeviceType::Phone)
        } else {
            None
        };
        if let Some(device_type) = typed {
            out.push((
                ip,
                Fact::DeviceType {
                    device_type,
                    evidence: format!("{source} capabilities {}", a.capabilities.join(",")),
                },
            ));
        }
        out
    }

    /// This machine's link layer as heard: the interfaces that heard neighbours and those
    /// neighbours, told of the address of the lowest such interface that has one, when it
    /// changed or [`NEIGHBOUR_REFRESH`] passed.
    fn link_layer(&mut self, now: Instant) -> Vec<(IpAddr, Fact)> {
        self.neighbours.retain(|_, h| h.expires > now);
        let mut ports: Vec<scanopy_core::NetPort> = Vec::new();
        let mut neighbours = Vec::new();
        for ((ifindex, ..), h) in &self.neighbours {
            let own = self.own.iter().find(|i| i.index == *ifindex);
            let name = own.map_or_else(|| format!("if{ifindex}"), |i| i.name.clone());
            if !ports.iter().any(|p| p.index == *ifindex) {
                ports.push(scanopy_core::NetPort {
                    index: *ifindex,
                    name: name.clone(),
                    alias: None,
                    mac: own.and_then(|i| i.mac),
                    speed_mbps: None,
                    admin_up: Some(true),
                    oper_up: Some(true),
                    kind: Some("ethernet".into()),
                    vlan: h.a.vlan,
                });
            }
            neighbours.push(scanopy_core::Neighbour {
                port: name,
                source: h.a.protocol.name().into(),
                chassis_id: h.a.chassis_id.clone(),
                chassis_mac: h.a.chassis_mac,
                remote_port: h.a.port_id.clone(),
                remote_port_description: h.a.port_description.clone(),
                name: h.a.system_name.clone(),
                description: h.a.system_description.clone(),
                address: h.a.addresses.first().copied(),
                capabilities: h.a.capabilities.iter().map(|c| (*c).to_owned()).collect(),
            });
        }
        let anchor = ports
            .iter()
            .filter_map(|p| {
                let own = self.own.iter().find(|i| i.index == p.index)?;
                Some((p.index, own.ipv4?, own.mac))
            })
            .min();
        let (ip, mac, l2) = match (anchor, &self.told) {
            (Some((_, ip, mac)), _) => (
                ip,
                mac,
                scanopy_core::L2 {
                    ports,
                    neighbours,
                    ..Default::default()
                },
            ),
            // Every neighbour is gone: its ports are still there, with nobody heard on them.
            (None, Some((ip, told, _))) if !told.neighbours.is_empty() && neighbours.is_empty() => {
                let mut l2 = told.clone();
                l2.neighbours.clear();
                let mac = self
                    .own
                    .iter()
                    .find(|i| i.ipv4 == Some(*ip))
                    .and_then(|i| i.mac);
                (*ip, mac, l2)
            }
            _ => return Vec::new(),
        };
        let unchanged = self.told.as_ref().is_some_and(|(tip, tl2, at)| {
            *tip == ip && *tl2 == l2 && now.saturating_duration_since(*at) < NEIGHBOUR_REFRESH
        });
        if unchanged {
            return Vec::new();
        }
        self.told = Some((ip, l2.clone(), now));
        let mut out = Vec::new();
        if let Some(mac) = mac {
            out.push((IpAddr::V4(ip), Fact::Mac { mac }));
        }
        out.push((IpAddr::V4(ip), Fact::L2(Box::new(l2))));
        out
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
                // A host that has just joined, with no address yet: the device of its MAC,
                // at once, with what it said (the address follows with its REQUEST).
                None if matches!(kind, MessageType::Discover | MessageType::Request) => {
                    let facts = client_facts(Ipv4Addr::UNSPECIFIED, mac, &b.client, "dhcp")
                        .into_iter()
                        .map(|(_, f)| f)
                        .filter(|f| !matches!(f, Fact::Mac { .. }))
                        .collect();
                    return vec![(
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        Fact::Unaddressed { mac, facts },
                    )];
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
    if let Some(hint) = c.fingerprint.as_deref().and_then(dhcp::os_of) {
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
            use nix::errno::Errno;
            use nix::sys::socket::{LinkAddr, recvfrom};
            use std::os::fd::AsRawFd;
            let mut buf = [0u8; 2048];
            while !halt.load(Ordering::Relaxed) {
                match recvfrom::<LinkAddr>(sock.as_raw_fd(), &mut buf) {
                    Ok((n, from)) => {
                        read.fetch_add(1, Ordering::Relaxed);
                        let ifindex = from.map_or(0, |a| a.ifindex() as u32);
                        if let Some(h) = parse(&buf[..n.min(buf.len())], ifindex) {
                            match tx.try_send((h, Instant::now())) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(_)) => {
                                    over.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(mpsc::error::TrySendError::Closed(_)) => break,
                            }
                        }
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
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

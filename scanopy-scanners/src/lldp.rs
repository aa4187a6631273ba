//! LLDP (IEEE 802.1AB) and CDP frames as a switch or router sends them on a link: who it is,
//! which of its ports this link is, its management addresses, what it does (bridge, router…)
//! and the port's VLAN. Pure parsers of whole Ethernet frames, property-tested over arbitrary
//! bytes; the passive listener ([`crate::listen`]) hears the frames.
//!
//! Every text is cut at [`MAX_TEXT`] characters and control characters are dropped (it comes
//! from a device nobody here controls; where it is shown it is escaped too); at most
//! [`MAX_ADDRESSES`] management addresses are kept.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use scanopy_core::MacAddr;

/// The LLDP ethertype.
pub const LLDP_ETHERTYPE: u16 = 0x88cc;
/// The group address CDP frames go to.
pub const CDP_DST: [u8; 6] = [0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc];
/// The LLC/SNAP header of a CDP frame (after the 802.3 length).
const CDP_SNAP: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];
/// Longest text kept.
pub const MAX_TEXT: usize = 255;
/// Management addresses kept at most.
pub const MAX_ADDRESSES: usize = 8;

/// Which protocol a frame spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// LLDP.
    Lldp,
    /// Cisco Discovery Protocol.
    Cdp,
}

impl Protocol {
    /// `lldp` or `cdp`: the source of what it tells.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Lldp => "lldp",
            Protocol::Cdp => "cdp",
        }
    }
}

/// What one frame announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// LLDP or CDP.
    pub protocol: Protocol,
    /// The frame's Ethernet source (the sending port's MAC).
    pub source_mac: MacAddr,
    /// The sender's chassis id as text (a MAC written as one); CDP's device id.
    pub chassis_id: String,
    /// The chassis id when it is a MAC.
    pub chassis_mac: Option<MacAddr>,
    /// The sending port's id (a name, or a MAC written as one).
    pub port_id: Option<String>,
    /// The sending port's description.
    pub port_description: Option<String>,
    /// How long the information holds, in seconds (0: the sender is leaving).
    pub ttl: u16,
    /// Its system name.
    pub system_name: Option<String>,
    /// Its system description (CDP: the platform, then the software version's first line).
    pub system_description: Option<String>,
    /// Enabled capabilities: `bridge`, `router`, `wlan-ap`, `phone`, `station`, `repeater`,
    /// `docsis`, `other`, `host`.
    pub capabilities: Vec<&'static str>,
    /// Its management addresses.
    pub addresses: Vec<IpAddr>,
    /// The port's VLAN (LLDP's 802.1 port VLAN id; CDP's native VLAN).
    pub vlan: Option<u16>,
}

impl Announcement {
    /// Whether it switches (LLDP's bridge, CDP's switch or transparent bridge).
    pub fn is_bridge(&self) -> bool {
        self.capabilities.contains(&"bridge")
    }

    /// Whether it routes.
    pub fn is_router(&self) -> bool {
        self.capabilities.contains(&"router")
    }
}

/// Text from the network: control characters dropped, cut at [`MAX_TEXT`], surrounding white
/// space and NULs trimmed; `None` when nothing is left.
fn text(b: &[u8]) -> Option<String> {
    let s: String = String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An LLDP chassis or port id as text: a MAC written as one (the MAC subtype: 4 for a chassis,
/// 3 for a port), a network address's text (subtype 5 of a chassis, 4 of a port), else the
/// text when printable, else hex. The same rules read LLDP-MIB's tables.
pub fn id_text(subtype: Option<i64>, mac_subtype: i64, b: &[u8]) -> (String, Option<MacAddr>) {
    if subtype == Some(mac_subtype) {
        if let Ok(m) = <[u8; 6]>::try_from(b) {
            let m = MacAddr(m);
            return (m.to_string(), Some(m));
        }
    }
    if subtype == Some(mac_subtype + 1) {
        if let Some(ip) = network_address(b) {
            return (ip.to_string(), None);
        }
    }
    match std::str::from_utf8(b) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => {
            (s.chars().take(MAX_TEXT).collect(), None)
        }
        _ => (hex(&b[..b.len().min(MAX_TEXT / 2)]), None),
    }
}

/// An IANA address family byte and an address (1: IPv4, 2: IPv6).
fn network_address(b: &[u8]) -> Option<IpAddr> {
    match b.split_first()? {
        (1, a) => <[u8; 4]>::try_from(a)
            .ok()
            .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        (2, a) => <[u8; 16]>::try_from(a)
            .ok()
            .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        _ => None,
    }
}

/// An address worth keeping as a management address.
fn usable(ip: &IpAddr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v) if v.is_broadcast()))
}

/// Reads an Ethernet frame: an LLDPDU or a CDP packet, else `None`.
pub fn parse_frame(frame: &[u8]) -> Option<Announcement> {
    let dst: [u8; 6] = frame.get(..6)?.try_into().ok()?;
    let src = MacAddr(frame.get(6..12)?.try_into().ok()?);
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
    // One 802.1Q tag, when the kernel left it in.
    if ethertype == 0x8100 {
        at += 4;
        ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
    }
    let body = frame.get(at + 2..)?;
    if ethertype == LLDP_ETHERTYPE {
        return parse_lldp(src, body);
    }
    if dst == CDP_DST && ethertype <= 1500 {
        // 802.3: the field is a length; the LLC/SNAP header says CDP.
        let len = usize::from(ethertype).min(body.len());
        let body = &body[..len];
        if body.get(..8)? == CDP_SNAP {
            return parse_cdp(src, &body[8..]);
        }
    }
    None
}

/// An LLDPDU's TLVs (after the ethertype). The mandatory chassis id, port id and TTL must come
/// first, in that order (802.1AB 8.2); anything after an End TLV is ignored.
pub fn parse_lldp(source_mac: MacAddr, b: &[u8]) -> Option<Announcement> {
    let mut a = Announcement {
        protocol: Protocol::Lldp,
        source_mac,
        chassis_id: String::new(),
        chassis_mac: None,
        port_id: None,
        port_description: None,
        ttl: 0,
        system_name: None,
        system_description: None,
        capabilities: Vec::new(),
        addresses: Vec::new(),
        vlan: None,
    };
    let mut at = 0usize;
    let mut n = 0usize;
    while at + 2 <= b.len() {
        let h = u16::from_be_bytes([b[at], b[at + 1]]);
        let (t, len) = (h >> 9, usize::from(h & 0x1ff));
        let v = b.get(at + 2..at + 2 + len)?;
        at += 2 + len;
        // The first three are the mandatory ones, in order.
        match (n, t) {
            (0, 1) | (1, 2) | (2, 3) => {}
            (0..=2, _) => return None,
            _ => {}
        }
        n += 1;
        match t {
            0 => break,
            1 => {
                let (&sub, id) = v.split_first()?;
                if id.is_empty() {
                    return None;
                }
                let (text, mac) = id_text(Some(i64::from(sub)), 4, id);
                a.chassis_id = text;
                a.chassis_mac = mac;
            }
            2 => {
                let (&sub, id) = v.split_first()?;
                if id.is_empty() {
                    return None;
                }
                a.port_id = Some(id_text(Some(i64::from(sub)), 3, id).0);
            }
            3 => a.ttl = u16::from_be_bytes(v.get(..2)?.try_into().ok()?),
            4 => a.port_description = text(v),
            5 => a.system_name = text(v),
            6 => a.system_description = text(v),
            7 if v.len() >= 4 => {
                let enabled = u16::from_be_bytes([v[2], v[3]]);
                a.capabilities = lldp_capabilities(enabled);
            }
            8 => {
                // Address string length (subtype included), subtype, address, then interface
                // numbering and an OID, which are not needed.
                let (&l, rest) = v.split_first()?;
                let l = usize::from(l);
                if l >= 1 && a.addresses.len() < MAX_ADDRESSES {
                    if let Some(ip) = rest.get(..l).and_then(network_address) {
                        if usable(&ip) && !a.addresses.contains(&ip) {
                            a.addresses.push(ip);
                        }
                    }
                }
            }
            // 802.1 organisationally specific: subtype 1, the port VLAN id.
            127 if v.len() >= 6 && v[..3] == [0x00, 0x80, 0xc2] && v[3] == 1 => {
                let id = u16::from_be_bytes([v[4], v[5]]);
                if (1..=4094).contains(&id) {
                    a.vlan = Some(id);
                }
            }
            _ => {}
        }
    }
    (n >= 3).then_some(a)
}

/// LLDP's capability bits (other = 0x0001 … station = 0x0080) as names.
pub fn capability_bits(bits: u16) -> Vec<String> {
    lldp_capabilities(bits)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// CDP's capability bits as names.
pub fn cdp_capability_bits(bits: u32) -> Vec<String> {
    cdp_capabilities(bits)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn lldp_capabilities(bits: u16) -> Vec<&'static str> {
    const NAMES: [(u16, &str); 8] = [
        (0x0001, "other"),
        (0x0002, "repeater"),
        (0x0004, "bridge"),
        (0x0008, "wlan-ap"),
        (0x0010, "router"),
        (0x0020, "phone"),
        (0x0040, "docsis"),
        (0x0080, "station"),
    ];
    NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn cdp_capabilities(bits: u32) -> Vec<&'static str> {
    let mut out = Vec::new();
    if bits & 0x01 != 0 {
        out.push("router");
    }
    // Transparent bridge, source-route bridge, switch.
    if bits & 0x0e != 0 {
        out.push("bridge");
    }
    if bits & 0x10 != 0 {
        out.push("host");
    }
    if bits & 0x40 != 0 {
        out.push("repeater");
    }
    if bits & 0x80 != 0 {
        out.push("phone");
    }
    out
}

/// CDP's address list: a count, then entries of protocol type, protocol, address.
fn cdp_addresses(v: &[u8], out: &mut Vec<IpAddr>) {
    let Some(count) = v
        .get(..4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    else {
        return;
    };
    let mut at = 4usize;
    for _ in 0..count.min(64) {
        let Some(&[_ptype, plen]) = v.get(at..at + 2) else {
            return;
        };
        let plen = usize::from(plen);
        let Some(proto) = v.get(at + 2..at + 2 + plen) else {
            return;
        };
        let Some(alen) = v
            .get(at + 2 + plen..at + 4 + plen)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return;
        };
        let Some(addr) = v.get(at + 4 + plen..at + 4 + plen + alen) else {
            return;
        };
        at += 4 + plen + alen;
        let ip = match (proto, addr.len()) {
            ([0xcc], 4) => Some(IpAddr::V4(Ipv4Addr::new(
                addr[0], addr[1], addr[2], addr[3],
            ))),
            ([0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd], 16) => <[u8; 16]>::try_from(addr)
                .ok()
                .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
            _ => None,
        };
        if let Some(ip) = ip.filter(usable) {
            if out.len() < MAX_ADDRESSES && !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
}

/// A CDP packet (after LLC/SNAP): version 1 or 2, a TTL, a checksum (not checked: the kernel
/// checked the frame), then TLVs whose length counts their own four bytes. It must name its
/// device.
pub fn parse_cdp(source_mac: MacAddr, b: &[u8]) -> Option<Announcement> {
    let (&version, rest) = b.split_first()?;
    if !(1..=2).contains(&version) {
        return None;
    }
    let ttl = u16::from(*rest.first()?);
    let mut a = Announcement {
        protocol: Protocol::Cdp,
        source_mac,
        chassis_id: String::new(),
        chassis_mac: None,
        port_id: None,
        port_description: None,
        ttl,
        system_name: None,
        system_description: None,
        capabilities: Vec::new(),
        addresses: Vec::new(),
        vlan: None,
    };
    let (mut platform, mut software) = (None, None);
    let mut management = Vec::new();
    let mut at = 4usize;
    while at + 4 <= b.len() {
        let t = u16::from_be_bytes([b[at], b[at + 1]]);
        let len = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
        if len < 4 {
            return None;
        }
        let v = b.get(at + 4..at + len)?;
        at += len;
        match t {
            0x0001 => {
                if let Some(id) = text(v) {
                    a.system_name = Some(id.clone());
                    a.chassis_id = id;
                }
            }
            0x0002 => cdp_addresses(v, &mut a.addresses),
            0x0003 => {
                a.port_id = text(v);
                a.port_description = a.port_id.clone();
            }
            0x0004 if v.len() >= 4 => {
                a.capabilities = cdp_capabilities(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
            }
            0x0005 => {
                software = v.split(|&c| c == b'\n').next().and_then(text);
            }
            0x0006 => platform = text(v),
            0x000a if v.len() >= 2 => {
                let id = u16::from_be_bytes([v[0], v[1]]);
                if (1..=4094).contains(&id) {
                    a.vlan = Some(id);
                }
            }
            0x0016 => cdp_addresses(v, &mut management),
            _ => {}
        }
    }
    if a.chassis_id.is_empty() {
        return None;
    }
    // Management addresses first: they are where it is managed.
    for ip in a.addresses.drain(..).collect::<Vec<_>>() {
        if !management.contains(&ip) {
            management.push(ip);
        }
    }
    management.truncate(MAX_ADDRESSES);
    a.addresses = management;
    a.system_description = match (platform, software) {
        (Some(p), Some(s)) => text(format!("{p}, {s}").as_bytes()),
        (p, s) => p.or(s),
    };
    Some(a)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tlv(t: u16, v: &[u8]) -> Vec<u8> {
        let mut out = ((t << 9) | v.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(v);
        out
    }

    /// An LLDPDU as lldpd sends it from a switch port.
    pub(crate) fn lldp_frame() -> Vec<u8> {
        let mut f = vec![
            0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, 2, 0x77, 4, 0, 0, 3, 0x88, 0xcc,
        ];
        f.extend(tlv(1, &[4, 2, 0x77, 4, 0, 0, 3]));
        f.extend(tlv(2, &[5, b'g', b'e', b'1']));
        f.extend(tlv(3, &120u16.to_be_bytes()));
        f.extend(tlv(4, b"uplink to the scanner"));
        f.extend(tlv(5, b"sclan-sw1\x1b[2J"));
        f.extend(tlv(6, b"Debian GNU/Linux 12"));
        f.extend(tlv(7, &[0x00, 0x14, 0x00, 0x04]));
        f.extend(tlv(8, &[5, 1, 10, 77, 4, 3, 2, 0, 0, 0, 5, 0]));
        f.extend(tlv(8, &[5, 1, 127, 0, 0, 1, 2, 0, 0, 0, 5, 0]));
        f.extend(tlv(127, &[0x00, 0x80, 0xc2, 1, 0, 20]));
        f.extend(tlv(0, &[]));
        f.extend_from_slice(&[0xde, 0xad]);
        f
    }

    #[test]
    fn an_lldp_frame_names_its_switch_and_port() {
        let a = parse_frame(&lldp_frame()).unwrap();
        assert_eq!(a.protocol, Protocol::Lldp);
        assert_eq!(a.source_mac, MacAddr([2, 0x77, 4, 0, 0, 3]));
        assert_eq!(a.chassis_id, "02:77:04:00:00:03");
        assert_eq!(a.chassis_mac, Some(MacAddr([2, 0x77, 4, 0, 0, 3])));
        assert_eq!(a.port_id.as_deref(), Some("ge1"));
        assert_eq!(a.port_description.as_deref(), Some("uplink to the scanner"));
        assert_eq!(a.ttl, 120);
        // The escape sequence's ESC is dropped; the rest is text to escape where shown.
        assert_eq!(a.system_name.as_deref(), Some("sclan-sw1[2J"));
        assert_eq!(a.capabilities, ["bridge"]);
        assert!(a.is_bridge() && !a.is_router());
        assert_eq!(a.addresses, ["10.77.4.3".parse::<IpAddr>().unwrap()]);
        assert_eq!(a.vlan, Some(20));
    }

    #[test]
    fn lldp_frames_without_their_mandatory_tlvs_are_refused() {
        let good = lldp_frame();
        // Chassis id not first: the port id TLV moved ahead of it.
        let mut f = good[..14].to_vec();
        f.extend(tlv(2, &[5, b'g', b'e', b'1']));
        f.extend(tlv(1, &[4, 2, 0x77, 4, 0, 0, 3]));
        f.extend(tlv(3, &120u16.to_be_bytes()));
        assert_eq!(parse_frame(&f), None);
        // Cut inside a TLV.
        assert_eq!(parse_frame(&good[..20]), None);
        // An empty chassis id.
        let mut f = good[..14].to_vec();
        f.extend(tlv(1, &[4]));
        f.extend(tlv(2, &[5, b'x']));
        f.extend(tlv(3, &[0, 1]));
        assert_eq!(parse_frame(&f), None);
        // Not LLDP at all.
        let mut f = good.clone();
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(parse_frame(&f), None);
    }

    /// A CDPv2 frame as lldpd -c sends it.
    pub(crate) fn cdp_frame() -> Vec<u8> {
        let mut cdp = vec![2, 180, 0, 0];
        let mut t = |ty: u16, v: &[u8]| {
            cdp.extend_from_slice(&ty.to_be_bytes());
            cdp.extend_from_slice(&((v.len() + 4) as u16).to_be_bytes());
            cdp.extend_from_slice(v);
        };
        t(0x0001, b"core-sw.lab.test");
        t(0x0002, &[0, 0, 0, 1, 1, 1, 0xcc, 0, 4, 10, 77, 4, 9]);
        t(0x0003, b"GigabitEthernet0/7");
        t(0x0004, &[0, 0, 0, 0x28]);
        t(
            0x0005,
            b"Cisco IOS Software, C2960 15.0(2)SE\nCopyright (c) 1986-2013",
        );
        t(0x0006, b"cisco WS-C2960-24TT-L");
        t(0x000a, &[0, 30]);
        let mut f = CDP_DST.to_vec();
        f.extend_from_slice(&[2, 0x77, 4, 0, 0, 9]);
        f.extend_from_slice(&((cdp.len() + 8) as u16).to_be_bytes());
        f.extend_from_slice(&CDP_SNAP);
        f.extend_from_slice(&cdp);
        f
    }

    #[test]
    fn a_cdp_frame_names_its_device_port_and_platform() {
        let a = parse_frame(&cdp_frame()).unwrap();
        assert_eq!(a.protocol, Protocol::Cdp);
        assert_eq!(a.chassis_id, "core-sw.lab.test");
        assert_eq!(a.system_name.as_deref(), Some("core-sw.lab.test"));
        assert_eq!(a.port_id.as_deref(), Some("GigabitEthernet0/7"));
        assert_eq!(a.ttl, 180);
        assert_eq!(a.capabilities, ["bridge"]);
        assert_eq!(a.addresses, ["10.77.4.9".parse::<IpAddr>().unwrap()]);
        assert_eq!(a.vlan, Some(30));
        assert_eq!(
            a.system_description.as_deref(),
            Some("cisco WS-C2960-24TT-L, Cisco IOS Software, C2960 15.0(2)SE")
        );
        // Another group address, or no SNAP header: not CDP.
        let mut f = cdp_frame();
        f[5] = 0xcd;
        assert_eq!(parse_frame(&f), None);
        let mut f = cdp_frame();
        f[19] = 0x01;
        assert_eq!(parse_frame(&f), None);
    }

    proptest! {
        /// Whatever arrives, parsing ends without a panic, and what it keeps is bounded.
        #[test]
        fn any_frame_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
            if let Some(a) = parse_frame(&bytes) {
                prop_assert!(a.addresses.len() <= MAX_ADDRESSES);
                prop_assert!(a.system_name.as_ref().is_none_or(|s| s.chars().count() <= MAX_TEXT));
            }
        }

        /// Real frames with bytes changed or cut: still no panic.
        #[test]
        fn damaged_frames_never_panic(cdp in any::<bool>(),
                                      flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
                                      cut in any::<prop::sample::Index>()) {
            let mut f = if cdp { cdp_frame() } else { lldp_frame() };
            for (i, x) in flips {
                let i = i.index(f.len());
                f[i] ^= x;
            }
            f.truncate(cut.index(f.len() + 1));
            if let Some(a) = parse_frame(&f) {
                prop_assert!(!a.chassis_id.is_empty());
                prop_assert!(a.chassis_id.chars().all(|c| !c.is_control()));
            }
        }
    }
}

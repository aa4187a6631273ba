//! DHCPv6 client messages (RFC 8415) as the passive listener hears them: a host asking for
//! IPv6 addresses or settings from its link-local address, multicast to the servers
//! (`ff02::1:2`, UDP port 547). What it says of itself: its DUID (option 1), its name (option
//! 39, Client FQDN, RFC 4704), its vendor class (option 16: an enterprise number and opaque
//! strings, `MSFT 5.0` from Windows) and the options it asks for (option 6, the Option Request
//! Option: the DHCPv6 form of a fingerprint). Pure, bounded by the frame, never panics.

use std::net::Ipv6Addr;

use scanopy_core::MacAddr;

/// The servers' and relays' port: what clients send to.
pub const SERVER_PORT: u16 = 547;
/// The clients' port.
pub const CLIENT_PORT: u16 = 546;
/// Options read at most per message.
const MAX_OPTIONS: usize = 64;
/// Characters kept of a text field.
const MAX_TEXT: usize = 255;

/// A client's message type (RFC 8415 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind6 {
    /// 1: looking for servers (a host that has just joined).
    Solicit,
    /// 3: asking for what a server advertised.
    Request,
    /// 4: checking its addresses still fit the link (after moving).
    Confirm,
    /// 5: renewing with its server.
    Renew,
    /// 6: renewing with any server.
    Rebind,
    /// 11: settings only (stateless DHCPv6).
    InformationRequest,
}

impl Kind6 {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Kind6::Solicit,
            3 => Kind6::Request,
            4 => Kind6::Confirm,
            5 => Kind6::Renew,
            6 => Kind6::Rebind,
            11 => Kind6::InformationRequest,
            _ => return None,
        })
    }
}

/// What a DHCPv6 client message says of its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message6 {
    /// Its type.
    pub kind: Kind6,
    /// The client's DUID, as hex (at most 32 bytes of it).
    pub duid: Option<String>,
    /// The name in its Client FQDN option, as text (`laptop` or `laptop.example.`).
    pub fqdn: Option<String>,
    /// Its vendor class: the enterprise number and the first string.
    pub vendor_class: Option<(u32, String)>,
    /// The options it asks for, in its order.
    pub requested: Vec<u16>,
}

impl Message6 {
    /// The requested options as text, `23,24,39`: the DHCPv6 fingerprint.
    pub fn fingerprint(&self) -> Option<String> {
        (!self.requested.is_empty()).then(|| {
            self.requested
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

fn text(b: &[u8]) -> Option<String> {
    crate::dhcp::printable(b, MAX_TEXT)
}

/// A domain name in DNS wire form, as a client writes it in option 39 (a partial name lacks the
/// root label): labels joined by dots; `None` for a malformed or empty one.
fn wire_name(b: &[u8]) -> Option<String> {
    let mut labels = Vec::new();
    let mut pos = 0;
    while let Some(&len) = b.get(pos) {
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = b.get(pos + 1..pos + 1 + usize::from(len))?;
        labels.push(text(label)?);
        pos += 1 + usize::from(len);
    }
    let name = labels.join(".");
    (!name.is_empty() && name.len() <= MAX_TEXT).then_some(name)
}

/// Reads a DHCPv6 client message (a UDP payload); `None` for a server's message, a relayed one
/// or anything else.
pub fn parse(b: &[u8]) -> Option<Message6> {
    let kind = Kind6::from_byte(*b.first()?)?;
    if b.len() < 4 {
        return None;
    }
    let mut m = Message6 {
        kind,
        duid: None,
        fqdn: None,
        vendor_class: None,
        requested: Vec::new(),
    };
    let mut pos = 4;
    for _ in 0..MAX_OPTIONS {
        let Some(head) = b.get(pos..pos + 4) else {
            break;
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(v) = b.get(pos + 4..pos + 4 + len) else {
            break;
        };
        match code {
            1 if !v.is_empty() => {
                m.duid = Some(v.iter().take(32).map(|x| format!("{x:02x}")).collect());
            }
            6 => {
                m.requested = v
                    .chunks_exact(2)
                    .take(64)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
            }
            16 if v.len() >= 6 => {
                let enterprise = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                let n = usize::from(u16::from_be_bytes([v[4], v[5]]));
                if let Some(s) = v.get(6..6 + n).and_then(text) {
                    m.vendor_class = Some((enterprise, s));
                }
            }
            // A flags byte, then the name.
            39 if v.len() > 1 => m.fqdn = wire_name(&v[1..]),
            _ => {}
        }
        pos += 4 + len;
    }
    Some(m)
}

/// Reads an Ethernet frame carrying a DHCPv6 client message: IPv6 without extension headers,
/// UDP from port 546 to 547, from a unicast address. Returns the Ethernet source and the IPv6
/// source (a link-local address, mostly) with the message.
pub fn parse_frame(f: &[u8]) -> Option<(MacAddr, Ipv6Addr, Message6)> {
    if f.len() < 14 + 40 + 8 || f[12..14] != [0x86, 0xdd] {
        return None;
    }
    let ip = &f[14..];
    if ip[0] >> 4 != 6 || ip[6] != 17 {
        return None;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?);
    if src.is_unspecified() || src.is_multicast() || src.is_loopback() {
        return None;
    }
    let udp = &ip[40..];
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    if sport != CLIENT_PORT || dport != SERVER_PORT {
        return None;
    }
    let mac = MacAddr(<[u8; 6]>::try_from(&f[6..12]).ok()?);
    Some((mac, src, parse(&udp[8..])?))
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A SOLICIT as Windows sends it: DUID-LLT, ORO, Client FQDN `desktop-7`, vendor class
    /// 311 `MSFT 5.0`, an IA_NA.
    pub(crate) fn solicit() -> Vec<u8> {
        let mut b = vec![1, 0x12, 0x34, 0x56];
        b.extend_from_slice(&[0, 1, 0, 14, 0, 1, 0, 1, 0x2a, 0x3b, 0x4c, 0x5d]);
        b.extend_from_slice(&[0x02, 0x77, 0, 0, 1, 0x60]);
        b.extend_from_slice(&[0, 6, 0, 8, 0, 17, 0, 23, 0, 24, 0, 39]);
        b.extend_from_slice(&[0, 39, 0, 12, 0, 9]);
        b.extend_from_slice(b"desktop-7");
        b.push(0);
        b.extend_from_slice(&[0, 16, 0, 14, 0, 0, 1, 0x37, 0, 8]);
        b.extend_from_slice(b"MSFT 5.0");
        b.extend_from_slice(&[0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    /// `payload` in an Ethernet frame from `mac` at `src` to `ff02::1:2`, UDP 546 → 547.
    pub(crate) fn frame(mac: [u8; 6], src: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x33, 0x33, 0, 1, 0, 2];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0x86, 0xdd]);
        let len = (8 + payload.len()) as u16;
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[17, 1]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&"ff02::1:2".parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&CLIENT_PORT.to_be_bytes());
        f.extend_from_slice(&SERVER_PORT.to_be_bytes());
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_solicit_says_its_name_vendor_class_and_options() {
        let m = parse(&solicit()).unwrap();
        assert_eq!(m.kind, Kind6::Solicit);
        assert_eq!(m.fqdn.as_deref(), Some("desktop-7"));
        assert_eq!(m.vendor_class, Some((311, "MSFT 5.0".to_owned())));
        assert_eq!(m.fingerprint().as_deref(), Some("17,23,24,39"));
        assert_eq!(
            m.duid.as_deref(),
            Some("000100012a3b4c5d027700000160"),
            "DUID-LLT with the MAC"
        );
    }

    #[test]
    fn a_frame_gives_the_sender_and_only_client_messages_count() {
        let ll: Ipv6Addr = "fe80::77:ff:fe00:160".parse().unwrap();
        let mac = [0x02, 0x77, 0, 0, 1, 0x60];
        let f = frame(mac, ll, &solicit());
        let (m, src, msg) = parse_frame(&f).unwrap();
        assert_eq!((m, src), (MacAddr(mac), ll));
        assert_eq!(msg.fqdn.as_deref(), Some("desktop-7"));
        // An ADVERTISE (a server's), a RELAY-FORW, the unspecified source: not a client's.
        for t in [2u8, 7, 12] {
            let mut p = solicit();
            p[0] = t;
            assert_eq!(parse_frame(&frame(mac, ll, &p)), None, "type {t}");
        }
        assert_eq!(
            parse_frame(&frame(mac, Ipv6Addr::UNSPECIFIED, &solicit())),
            None
        );
        let mut wrong_port = f.clone();
        wrong_port[14 + 40 + 3] = 0x22;
        assert_eq!(parse_frame(&wrong_port), None);
    }

    #[test]
    fn a_name_with_a_domain_and_a_malformed_one() {
        let mut p = vec![11, 0, 0, 1, 0, 39, 0, 17, 1, 6];
        p.extend_from_slice(b"laptop");
        p.push(7);
        p.extend_from_slice(b"example");
        p.push(0);
        assert_eq!(parse(&p).unwrap().fqdn.as_deref(), Some("laptop.example"));
        // A label running past the option.
        let bad = [11, 0, 0, 1, 0, 39, 0, 4, 0, 9, b'a', b'b'];
        assert_eq!(parse(&bad).unwrap().fqdn, None);
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&b);
            let _ = parse_frame(&b);
            let ll: Ipv6Addr = "fe80::1".parse().unwrap();
            if let Some(m) = parse_frame(&frame([2, 0, 0, 0, 0, 1], ll, &b)).map(|(.., m)| m) {
                prop_assert!(m.fqdn.as_ref().is_none_or(|n| n.len() <= MAX_TEXT));
                prop_assert!(m.requested.len() <= 64);
            }
        }
    }
}

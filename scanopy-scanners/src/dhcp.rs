//! DHCPv4 messages as a listener hears them (RFC 2131, options of RFC 2132): a client asking for
//! an address says who it is: its MAC, the name it wants (option 12), its vendor class (60, e.g.
//! `android-dhcp-13`, `MSFT 5.0`), the options it asks for (55: a parameter request list whose
//! order fingerprints its DHCP client, and so its OS) and its client identifier (61). The
//! server's ACK says which address it got. [`os_of`] names the client, and so the OS, of a
//! parameter request list from `data/dhcp-fingerprints.json`: lists read from the clients'
//! own sources (busybox, ISC dhclient, systemd, dhcpcd, NetworkManager, Android, Apple's
//! IPConfiguration), each with where it was read.
//!
//! Everything here is pure: [`parse`] reads a UDP payload and [`parse_frame`] an Ethernet frame;
//! neither panics, and both bound what they keep, whatever the bytes.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use scanopy_core::{Confidence, MacAddr, OsHint};

/// The DHCP server port.
pub const SERVER_PORT: u16 = 67;
/// The DHCP client port.
pub const CLIENT_PORT: u16 = 68;
/// Characters kept of a host name or vendor class.
pub const MAX_TEXT: usize = 64;
/// Options read from one message, at most (a message that has more is read that far).
pub const MAX_OPTIONS: usize = 64;

const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// The message type (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// 1: a client looks for servers.
    Discover,
    /// 2: a server offers an address.
    Offer,
    /// 3: a client asks for the address offered, or to renew its own.
    Request,
    /// 4: a client found the address in use.
    Decline,
    /// 5: the server confirms the address.
    Ack,
    /// 6: the server refuses.
    Nak,
    /// 7: a client gives its address back.
    Release,
    /// 8: a client with an address asks for other settings.
    Inform,
    /// Any other value.
    Other(u8),
}

impl MessageType {
    fn from_byte(b: u8) -> Self {
        match b {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            b => MessageType::Other(b),
        }
    }

    /// Whether a client sent it (its fields describe the sender).
    pub fn from_client(self) -> bool {
        matches!(
            self,
            MessageType::Discover
                | MessageType::Request
                | MessageType::Decline
                | MessageType::Release
                | MessageType::Inform
        )
    }
}

/// What one DHCP message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Option 53; `None` for a BOOTP message without it.
    pub kind: Option<MessageType>,
    /// The transaction id.
    pub xid: u32,
    /// The client's hardware address (`chaddr`, Ethernet only).
    pub client_mac: MacAddr,
    /// The client's own address (`ciaddr`), when it has one.
    pub client_ip: Option<Ipv4Addr>,
    /// The address the server gives (`yiaddr`), in an offer or ACK.
    pub your_ip: Option<Ipv4Addr>,
    /// The address the client asks for (option 50).
    pub requested_ip: Option<Ipv4Addr>,
    /// The host name the client gives (option 12), cleaned.
    pub hostname: Option<String>,
    /// The vendor class identifier (option 60), cleaned.
    pub vendor_class: Option<String>,
    /// The parameter request list (option 55), in the client's order.
    pub parameters: Vec<u8>,
    /// The client identifier (option 61), hex.
    pub client_id: Option<String>,
}

impl Message {
    /// The parameter request list as text, `1,3,6,15,…`: the usual form of a DHCP fingerprint.
    pub fn fingerprint(&self) -> Option<String> {
        (!self.parameters.is_empty()).then(|| {
            self.parameters
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

/// One client's parameter request list, from `data/dhcp-fingerprints.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ClientFingerprint {
    /// The list, decimal, in wire order (`1,3,6,12,15,28,42`).
    pub prl: String,
    /// The client software that sends it.
    pub client: String,
    /// The OS family it runs on.
    pub family: String,
    /// The product within the family (`Android`), when the list tells.
    #[serde(default)]
    pub name: Option<String>,
    /// `low` or `medium`.
    pub confidence: String,
    /// Where the list was read (repository, commit, file).
    pub source: String,
}

#[derive(serde::Deserialize)]
struct Fingerprints {
    fingerprints: Vec<ClientFingerprint>,
}

/// The data file of client fingerprints, by list.
fn fingerprints() -> &'static HashMap<String, ClientFingerprint> {
    static TABLE: std::sync::LazyLock<HashMap<String, ClientFingerprint>> =
        std::sync::LazyLock::new(|| {
            let f: Fingerprints =
                serde_json::from_str(include_str!("../data/dhcp-fingerprints.json"))
                    .expect("data/dhcp-fingerprints.json is checked by its tests");
            f.fingerprints
                .into_iter()
                .map(|c| (c.prl.clone(), c))
                .collect()
        });
    &TABLE
}

/// The client that sends exactly this parameter request list ([`Message::fingerprint`]), from
/// our data file of lists read from the clients' sources.
pub fn client_of(prl: &str) -> Option<&'static ClientFingerprint> {
    fingerprints().get(prl)
}

/// What a parameter request list says of the OS: the client that sends it, as an OS hint.
pub fn os_of(prl: &str) -> Option<OsHint> {
    let c = client_of(prl)?;
    Some(OsHint {
        confidence: if c.confidence == "medium" {
            Confidence::Medium
        } else {
            Confidence::Low
        },
        family: c.family.clone(),
        name: c.name.clone(),
        version: None,
        evidence: format!("dhcp parameters {prl} ({})", c.client),
    })
}

/// Printable text of at most `max` characters: control characters dropped, trimmed; `None` if
/// nothing is left. Shared by the DHCPv6 parser.
pub(crate) fn printable(b: &[u8], max: usize) -> Option<String> {
    let s: String = String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    let s = s.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn text(b: &[u8]) -> Option<String> {
    printable(b, MAX_TEXT)
}

fn addr(b: &[u8]) -> Option<Ipv4Addr> {
    let a = Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?);
    (!a.is_unspecified()).then_some(a)
}

/// Reads a DHCP message (a UDP payload); `None` for anything that is not a DHCP message over
/// Ethernet (wrong magic cookie, hardware type or length).
pub fn parse(b: &[u8]) -> Option<Message> {
    if b.len() < 240 || !(b[0] == 1 || b[0] == 2) || b[1] != 1 || b[2] != 6 || b[236..240] != MAGIC
    {
        return None;
    }
    let mut m = Message {
        kind: None,
        xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        client_mac: MacAddr(<[u8; 6]>::try_from(&b[28..34]).ok()?),
        client_ip: addr(&b[12..16]),
        your_ip: addr(&b[16..20]),
        requested_ip: None,
        hostname: None,
        vendor_class: None,
        parameters: Vec::new(),
        client_id: None,
    };
    let mut pos = 240;
    for _ in 0..MAX_OPTIONS {
        let Some(&code) = b.get(pos) else { break };
        match code {
            0 => {
                pos += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = b.get(pos + 1) else { break };
        let Some(v) = b.get(pos + 2..pos + 2 + usize::from(len)) else {
            break;
        };
        match code {
            12 => m.hostname = text(v),
            50 => m.requested_ip = addr(v),
            53 if len == 1 => m.kind = Some(MessageType::from_byte(v[0])),
            55 => m.parameters = v.to_vec(),
            60 => m.vendor_class = text(v),
            61 if !v.is_empty() => {
                m.client_id = Some(v.iter().take(32).map(|x| format!("{x:02x}")).collect());
            }
            _ => {}
        }
        pos += 2 + usize::from(len);
    }
    Some(m)
}

/// Reads an Ethernet frame carrying DHCP: IPv4 (not a fragment), UDP between ports 67 and 68.
/// Returns the Ethernet source too (a relay's MAC differs from the client's `chaddr`).
pub fn parse_frame(f: &[u8]) -> Option<(MacAddr, Message)> {
    let u = crate::frame::ipv4_udp(f)?;
    let ports = [SERVER_PORT, CLIENT_PORT];
    if !ports.contains(&u.sport) || !ports.contains(&u.dport) {
        return None;
    }
    Some((u.src_mac, parse(u.payload)?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_fingerprint_file_is_well_formed() {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("../data/dhcp-fingerprints.json")).unwrap();
        let n = raw["fingerprints"].as_array().unwrap().len();
        assert_eq!(fingerprints().len(), n, "a list appears twice");
        for c in fingerprints().values() {
            let codes: Vec<u8> = c
                .prl
                .split(',')
                .map(|x| x.parse().unwrap_or_else(|_| panic!("{:?}", c.prl)))
                .collect();
            assert!(
                codes.len() >= 3 && codes.iter().all(|x| (1..255).contains(x)),
                "{c:?}"
            );
            assert!(["low", "medium"].contains(&c.confidence.as_str()), "{c:?}");
            assert!(
                ["Linux", "macOS", "iOS"].contains(&c.family.as_str()),
                "{c:?}: a family os.rs and classify.rs know"
            );
            assert!(!c.source.is_empty() && !c.client.is_empty());
        }
    }

    #[test]
    fn a_parameter_list_names_its_client() {
        // What busybox udhcpc sends (seen from Debian 12's busybox-static).
        let h = os_of("1,3,6,12,15,28,42").unwrap();
        assert_eq!((h.family.as_str(), h.name), ("Linux", None));
        assert!(h.evidence.contains("busybox udhcpc"), "{}", h.evidence);
        let a = os_of("1,3,6,15,26,28,51,58,59,43,114,108").unwrap();
        assert_eq!(a.name.as_deref(), Some("Android"));
        assert_eq!(a.confidence, Confidence::Medium);
        assert_eq!(os_of("1,121,3,6,15,108,114,119,252").unwrap().family, "iOS");
        // Order matters: the same options in another order are another client.
        assert_eq!(os_of("3,1,6,12,15,28,42"), None);
        assert_eq!(os_of(""), None);
    }

    /// A DHCPDISCOVER as busybox udhcpc sends it with `-x hostname:phone -V android-dhcp-13`.
    fn discover() -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[..4].copy_from_slice(&[1, 1, 6, 0]);
        b[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        b[28..34].copy_from_slice(&[0x02, 0x77, 0, 0, 0, 0x50]);
        b[236..240].copy_from_slice(&MAGIC);
        b.extend_from_slice(&[53, 1, 1]);
        b.extend_from_slice(&[61, 7, 1, 0x02, 0x77, 0, 0, 0, 0x50]);
        b.extend_from_slice(&[50, 4, 10, 77, 0, 50]);
        b.extend_from_slice(&[12, 5]);
        b.extend_from_slice(b"phone");
        b.extend_from_slice(&[60, 15]);
        b.extend_from_slice(b"android-dhcp-13");
        b.extend_from_slice(&[55, 7, 1, 3, 6, 15, 26, 28, 51]);
        b.extend_from_slice(&[0, 0, 255]);
        b
    }

    #[test]
    fn reads_what_a_client_says() {
        let m = parse(&discover()).unwrap();
        assert_eq!(m.kind, Some(MessageType::Discover));
        assert!(m.kind.unwrap().from_client());
        assert_eq!(m.xid, 0x1234_5678);
        assert_eq!(m.client_mac.to_string(), "02:77:00:00:00:50");
        assert_eq!((m.client_ip, m.your_ip), (None, None));
        assert_eq!(m.requested_ip, Some(Ipv4Addr::new(10, 77, 0, 50)));
        assert_eq!(m.hostname.as_deref(), Some("phone"));
        assert_eq!(m.vendor_class.as_deref(), Some("android-dhcp-13"));
        assert_eq!(m.fingerprint().as_deref(), Some("1,3,6,15,26,28,51"));
        assert_eq!(m.client_id.as_deref(), Some("01027700000050"));
    }

    #[test]
    fn the_vendor_class_goes_through_recog() {
        let db = crate::recog::database("dhcp_vendor_class").unwrap();
        let m = db.first_match("android-dhcp-13").unwrap();
        assert_eq!(
            (m.get("os.product"), m.get("os.version")),
            (Some("Android"), Some("13")),
            "{m:?}"
        );
    }

    #[test]
    fn a_frame_carries_it_over_udp_67_68() {
        let payload = discover();
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0x77, 0, 0, 0, 0x50, 0x08, 0x00]);
        let total = u16::try_from(20 + 8 + payload.len()).unwrap();
        f.extend_from_slice(&[
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255,
        ]);
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 68, 0, 67, 0, 0, 0, 0]);
        f.extend_from_slice(&payload);
        let (src, m) = parse_frame(&f).unwrap();
        assert_eq!(src.to_string(), "02:77:00:00:00:50");
        assert_eq!(m.hostname.as_deref(), Some("phone"));
        // Another UDP port, a fragment: not DHCP.
        let mut other = f.clone();
        other[14 + 20 + 3] = 53;
        assert_eq!(parse_frame(&other), None);
        let mut frag = f.clone();
        frag[14 + 6] = 0x20;
        assert_eq!(parse_frame(&frag), None);
    }

    #[test]
    fn hostile_text_is_cleaned_and_cut() {
        let mut b = discover();
        let at = b.iter().position(|x| *x == 12).unwrap();
        let name = b"\x1b]0;pwned\x07evil";
        b.splice(
            at + 1..at + 7,
            [[u8::try_from(name.len()).unwrap()].as_slice(), name].concat(),
        );
        let m = parse(&b).unwrap();
        assert_eq!(m.hostname.as_deref(), Some("]0;pwnedevil"));
        let mut long = discover();
        long.truncate(240);
        long.extend_from_slice(&[12, 255]);
        long.extend(std::iter::repeat_n(b'a', 255));
        let m = parse(&long).unwrap();
        assert_eq!(m.hostname.map(|h| h.len()), Some(MAX_TEXT));
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
            let _ = parse_frame(&bytes);
        }

        #[test]
        fn any_options_never_panic(opts in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut b = discover();
            b.truncate(240);
            b.extend_from_slice(&opts);
            if let Some(m) = parse(&b) {
                for t in [m.hostname, m.vendor_class].into_iter().flatten() {
                    prop_assert!(t.chars().count() <= MAX_TEXT);
                    prop_assert!(!t.chars().any(char::is_control));
                }
            }
        }
    }
}

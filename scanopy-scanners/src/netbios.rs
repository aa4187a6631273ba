//! NetBIOS name service (137/udp): a node status request (RFC 1002 §4.2.17) asks a host for
//! the names it has registered: its computer name, its workgroup or domain, and often its MAC.
//! Windows machines, Samba servers, NAS boxes and many printers answer.
//!
//! The functions here are pure: they build the request and read the answer, never panic, and
//! bound what they keep, whatever the bytes.

use crate::dns::read_name;

/// The NetBIOS name service port.
pub const NETBIOS_PORT: u16 = 137;
/// Names kept from one answer, at most.
pub const MAX_NAMES: usize = 32;

/// A node status request for the wildcard name `*`, with transaction id `id`.
pub fn node_status_query(id: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(50);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.push(32);
    // "*" padded with NULs, each half-byte as 'A' + nibble.
    q.extend_from_slice(b"CK");
    q.extend_from_slice(&[b'A'; 30]);
    q.push(0);
    q.extend_from_slice(&[0x00, 0x21, 0x00, 0x01]);
    q
}

/// One name a node has registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbName {
    /// The name, without its padding.
    pub name: String,
    /// The suffix byte: 0x00 workstation (or workgroup, for a group name), 0x20 file server,
    /// 0x1d/0x1e browser roles, 0x03 messenger.
    pub suffix: u8,
    /// A group name (a workgroup or domain), not the node's own.
    pub group: bool,
}

/// What a node status answer says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// The registered names, at most [`MAX_NAMES`].
    pub names: Vec<NbName>,
    /// The adapter's MAC, when the node tells one (Samba answers zeros: none).
    pub mac: Option<[u8; 6]>,
}

impl NodeStatus {
    /// The computer's name: its unique workstation (0x00) or server (0x20) name.
    pub fn computer(&self) -> Option<&str> {
        [0x00, 0x20].iter().find_map(|s| {
            self.names
                .iter()
                .find(|n| !n.group && n.suffix == *s && !n.name.is_empty())
                .map(|n| n.name.as_str())
        })
    }

    /// The workgroup or domain: the group name with suffix 0x00.
    pub fn workgroup(&self) -> Option<&str> {
        self.names
            .iter()
            .find(|n| n.group && n.suffix == 0x00 && !n.name.is_empty())
            .map(|n| n.name.as_str())
    }
}

/// Reads the answer to the request with id `id`; `None` for anything that is not one.
pub fn parse_node_status(id: u16, msg: &[u8]) -> Option<NodeStatus> {
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return None;
    }
    if u16::from_be_bytes([msg[6], msg[7]]) == 0 {
        return None;
    }
    let mut pos = 12;
    for _ in 0..u16::from_be_bytes([msg[4], msg[5]]).min(4) {
        pos = read_name(msg, pos)?.1 + 4;
    }
    let (_, next) = read_name(msg, pos)?;
    let rr = msg.get(next..next + 10)?;
    if u16::from_be_bytes([rr[0], rr[1]]) != 0x21 {
        return None;
    }
    let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
    let rdata = msg.get(next + 10..next + 10 + rdlen)?;
    let (&count, mut rest) = rdata.split_first()?;
    let mut status = NodeStatus::default();
    for _ in 0..count {
        let Some((entry, after)) = rest.split_first_chunk::<18>() else {
            return Some(status);
        };
        rest = after;
        if status.names.len() < MAX_NAMES {
            let name: String = String::from_utf8_lossy(&entry[..15])
                .trim_end_matches([' ', '\0'])
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            status.names.push(NbName {
                name,
                suffix: entry[15],
                group: entry[16] & 0x80 != 0,
            });
        }
    }
    if let Some((mac, _)) = rest.split_first_chunk::<6>() {
        if mac.iter().any(|b| *b != 0) {
            status.mac = Some(*mac);
        }
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What Samba's nmbd 4.17 answered to [`node_status_query`] on the test LAN.
    const SAMBA: &[u8] = b"NB\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00 CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00!\x00\x01\x00\x00\x00\x00\x00\x89\x05MEDIA          \x00\x04\x00MEDIA          \x03\x04\x00MEDIA           \x04\x00LAB            \x00\x84\x00LAB            \x1e\x84\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

    #[test]
    fn reads_what_samba_answers() {
        let s = parse_node_status(0x4e42, SAMBA).unwrap();
        assert_eq!(s.names.len(), 5);
        assert_eq!(s.computer(), Some("MEDIA"));
        assert_eq!(s.workgroup(), Some("LAB"));
        assert_eq!(s.mac, None, "Samba tells no MAC");
        assert_eq!(parse_node_status(0x4e43, SAMBA), None, "another id");
        assert_eq!(parse_node_status(0x4e42, &SAMBA[..60]), None, "cut short");
    }

    #[test]
    fn the_request_asks_for_the_wildcard_name() {
        let q = node_status_query(0x4e42);
        assert_eq!(q.len(), 50);
        assert_eq!(&q[12..15], b" CK");
        assert_eq!(&q[q.len() - 4..], &[0, 0x21, 0, 1]);
        // The answer repeats the question's name: the request is what Samba read.
        assert_eq!(&SAMBA[12..46], &q[12..46]);
    }

    #[test]
    fn a_windows_answer_gives_its_mac() {
        let mut m = SAMBA[..57].to_vec();
        m[56] = 1; // one name
        m.extend_from_slice(b"DESKTOP-42     \x00\x04\x00");
        m.extend_from_slice(&[0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]);
        let len = (m.len() - 56) as u16;
        m[54..56].copy_from_slice(&len.to_be_bytes());
        let s = parse_node_status(0x4e42, &m).unwrap();
        assert_eq!(s.computer(), Some("DESKTOP-42"));
        assert_eq!(s.mac, Some([0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]));
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), id in any::<u16>()) {
            let _ = parse_node_status(id, &bytes);
            let mut framed = SAMBA[..56].to_vec();
            framed.extend_from_slice(&bytes);
            if let Some(s) = parse_node_status(0x4e42, &framed) {
                prop_assert!(s.names.len() <= MAX_NAMES);
                let _ = (s.computer(), s.workgroup());
            }
        }
    }
}

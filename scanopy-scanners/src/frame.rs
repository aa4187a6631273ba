//! Ethernet frames that carry IPv4 UDP, as the passive listener hears them: the one reading of
//! their headers that the DHCP and mDNS parsers share. Pure, and bounded by the frame.

use std::net::Ipv4Addr;

use scanopy_core::MacAddr;

/// A UDP datagram in an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp4<'a> {
    /// The frame's Ethernet source.
    pub src_mac: MacAddr,
    /// The IPv4 source address.
    pub src: Ipv4Addr,
    /// The UDP source port.
    pub sport: u16,
    /// The UDP destination port.
    pub dport: u16,
    /// What follows the UDP header (to the frame's end).
    pub payload: &'a [u8],
}

/// The UDP datagram of an Ethernet frame: IPv4 (version 4, a sane header length, not a
/// fragment), protocol UDP; `None` for anything else.
pub fn ipv4_udp(f: &[u8]) -> Option<Udp4<'_>> {
    if f.len() < 14 + 20 + 8 || f[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if ip[0] >> 4 != 4 || ihl < 20 || ip[9] != 17 || fragment {
        return None;
    }
    let udp = ip.get(ihl..)?;
    Some(Udp4 {
        src_mac: MacAddr(<[u8; 6]>::try_from(&f[6..12]).ok()?),
        src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        sport: u16::from_be_bytes([*udp.first()?, *udp.get(1)?]),
        dport: u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]),
        payload: udp.get(8..)?,
    })
}

//! A minimal DNS client for reverse lookups (PTR), speaking to the resolvers named in the
//! system's `resolv.conf`. Pure functions build queries and read answers; they never panic,
//! whatever the bytes.

use std::net::{IpAddr, SocketAddr};

/// The name a reverse lookup asks for: `10.0.77.10.in-addr.arpa`, or the nibble form under
/// `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// A PTR query for `ip` with transaction id `id`.
pub fn ptr_query(id: u16, ip: IpAddr) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in reverse_name(ip).split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 12, 0, 1]);
    q
}

/// Reads a domain name at `pos` of `msg`, following compression pointers; gives up after 128
/// steps, so pointer loops end.
/// Returns the name and the position after it in the original sequence.
pub(crate) fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(pos)?;
        match len {
            0 => {
                return Some((labels.join("."), end.unwrap_or(pos + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let ptr = (usize::from(l & 0x3f) << 8) | usize::from(*msg.get(pos + 1)?);
                end.get_or_insert(pos + 2);
                pos = ptr;
            }
            l if l & 0xc0 == 0 => {
                let l = usize::from(l);
                let bytes = msg.get(pos + 1..pos + 1 + l)?;
                labels.push(String::from_utf8_lossy(bytes).into_owned());
                pos += 1 + l;
                if labels.len() > 127 {
                    return None;
                }
            }
            _ => return None,
        }
    }
    None
}

/// The first PTR answer of a response to the query with id `id`, without its trailing dot.
pub fn parse_ptr_answer(id: u16, msg: &[u8]) -> Option<String> {
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id {
        return None;
    }
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    if flags & 0x8000 == 0 || flags & 0x000f != 0 {
        return None; // not a response, or an error (NXDOMAIN…)
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]);
    let an = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = 12;
    for _ in 0..qd {
        let (_, next) = read_name(msg, pos)?;
        pos = next.checked_add(4)?;
    }
    for _ in 0..an {
        let (_, next) = read_name(msg, pos)?;
        let rr = msg.get(next..next + 10)?;
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
        let rdata_at = next + 10;
        msg.get(rdata_at..rdata_at + rdlen)?;
        if rtype == 12 {
            let (name, _) = read_name(msg, rdata_at)?;
            let name = name.trim_end_matches('.').to_owned();
            return (!name.is_empty()).then_some(name);
        }
        pos = rdata_at + rdlen;
    }
    None
}

/// The name servers of a `resolv.conf` text (at most three, as the C library uses).
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = parts.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .take(3)
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("10.77.0.10".parse().unwrap()),
            "10.0.77.10.in-addr.arpa"
        );
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(
            v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"),
            "{v6}"
        );
    }

    #[test]
    fn reads_a_real_answer_with_compression() {
        let id = 0x1234;
        let mut msg = ptr_query(id, "10.77.0.10".parse().unwrap());
        msg[2] = 0x85;
        msg[3] = 0x80;
        msg[7] = 1; // one answer
        // Answer: pointer to the question name, PTR, IN, TTL, rdata "web.lab.test".
        msg.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 0]);
        let rdata = b"\x03web\x03lab\x04test\x00";
        msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        msg.extend_from_slice(rdata);
        assert_eq!(parse_ptr_answer(id, &msg).as_deref(), Some("web.lab.test"));
        assert_eq!(
            parse_ptr_answer(id + 1, &msg),
            None,
            "another query's answer"
        );
        msg[3] = 0x83; // NXDOMAIN
        assert_eq!(parse_ptr_answer(id, &msg), None);
    }

    #[test]
    fn pointer_loops_end() {
        let mut msg = vec![0x12, 0x34, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 0, 0, 2, 0xc0, 12]);
        assert_eq!(parse_ptr_answer(0x1234, &msg), None);
    }

    #[test]
    fn resolv_conf() {
        let ns = nameservers(
            "# x\nsearch lan\nnameserver 10.77.0.1\nnameserver fe80::1%eth0\noptions ndots:1\n",
        );
        assert_eq!(ns.len(), 2);
        assert_eq!(ns[0].to_string(), "10.77.0.1:53");
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), id in any::<u16>()) {
            let _ = parse_ptr_answer(id, &bytes);
            let mut framed = id.to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            let _ = parse_ptr_answer(id, &framed);
        }
    }
}

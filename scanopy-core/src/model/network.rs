//! Networks: the scope within which an IP address names one device.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A network that one or more daemons document: a set of subnets in which an IP address names
/// at most one device at a time. Two networks may reuse the same private ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The network's id, fixed when it is made; daemons, runs and devices refer to it.
    pub id: Uuid,
    /// A name people recognise ("home", "office").
    pub name: String,
    /// The subnets known to belong to it, most specific first after [`Network::normalise`].
    pub subnets: Vec<IpNet>,
}

impl Network {
    /// A new network with a fresh id.
    pub fn new(name: impl Into<String>, subnets: Vec<IpNet>) -> Self {
        let mut n = Network {
            id: Uuid::new_v4(),
            name: name.into(),
            subnets,
        };
        n.normalise();
        n
    }

    /// Sorts subnets most specific first and removes duplicates, so that
    /// [`Network::subnet_of`] finds the longest match.
    pub fn normalise(&mut self) {
        for s in &mut self.subnets {
            *s = s.trunc();
        }
        self.subnets
            .sort_by(|a, b| b.prefix_len().cmp(&a.prefix_len()).then(a.cmp(b)));
        self.subnets.dedup();
    }

    /// The most specific known subnet holding `ip`.
    pub fn subnet_of(&self, ip: std::net::IpAddr) -> Option<IpNet> {
        subnet_of(&self.subnets, ip)
    }
}

/// Whether `ip` is link-local (IPv4 `169.254.0.0/16`, IPv6 `fe80::/10`): an address that means
/// something on one link only, which no network's subnets hold.
pub fn is_link_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => a.is_link_local(),
        std::net::IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Whether `ip` is an address a network knows a device by: neither `0.0.0.0`/`::` (a device
/// heard before it had one) nor link-local.
pub fn is_routable(ip: std::net::IpAddr) -> bool {
    !ip.is_unspecified() && !is_link_local(ip)
}

/// The most specific subnet of `subnets` holding `ip`.
pub fn subnet_of(subnets: &[IpNet], ip: std::net::IpAddr) -> Option<IpNet> {
    subnets
        .iter()
        .filter(|s| s.contains(&ip))
        .max_by_key(|s| s.prefix_len())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routable_addresses_are_neither_unspecified_nor_link_local() {
        let r = |s: &str| is_routable(s.parse().unwrap());
        assert!(r("10.0.0.1") && r("2001:db8::1") && r("fd00::1"));
        assert!(!r("0.0.0.0") && !r("::") && !r("169.254.1.2") && !r("fe80::1") && !r("febf::1"));
        assert!(
            is_link_local("fe80::1".parse().unwrap()) && !is_link_local("fec0::1".parse().unwrap())
        );
    }
}

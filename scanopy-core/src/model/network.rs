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

/// The most specific subnet of `subnets` holding `ip`.
pub fn subnet_of(subnets: &[IpNet], ip: std::net::IpAddr) -> Option<IpNet> {
    subnets
        .iter()
        .filter(|s| s.contains(&ip))
        .max_by_key(|s| s.prefix_len())
        .copied()
}

//! What the daemon reads from the machine it runs on: interfaces, and host names.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use scanopy_core::HostInterface;

/// The machine's interfaces with their addresses (of the calling thread's network namespace).
pub fn interfaces() -> Vec<HostInterface> {
    use nix::net::if_::InterfaceFlags;
    let mut by_name: BTreeMap<String, HostInterface> = BTreeMap::new();
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    for a in addrs {
        let entry = by_name
            .entry(a.interface_name.clone())
            .or_insert_with(|| HostInterface {
                name: a.interface_name.clone(),
                up: a.flags.contains(InterfaceFlags::IFF_UP),
                loopback: a.flags.contains(InterfaceFlags::IFF_LOOPBACK),
                addrs: Vec::new(),
            });
        let (Some(addr), Some(mask)) = (a.address, a.netmask) else {
            continue;
        };
        let net = if let (Some(ip), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            let prefix = u32::from(m.ip()).count_ones() as u8;
            IpNet::new(IpAddr::V4(ip.ip()), prefix).ok()
        } else if let (Some(ip), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            let prefix = u128::from(m.ip()).count_ones() as u8;
            IpNet::new(IpAddr::V6(ip.ip()), prefix).ok()
        } else {
            None
        };
        if let Some(n) = net {
            entry.addrs.push(n);
        }
    }
    by_name.into_values().collect()
}

/// Every subnet the machine has an address on (for labelling interfaces), loopback excluded.
pub fn local_subnets(ifaces: &[HostInterface]) -> Vec<IpNet> {
    ifaces
        .iter()
        .filter(|i| !i.loopback)
        .flat_map(|i| i.addrs.iter().map(|a| a.trunc()))
        .collect()
}

/// Resolves host names through the system's resolver; a name that does not resolve maps to an
/// empty list.
pub async fn resolve(names: &[String]) -> BTreeMap<String, Vec<IpAddr>> {
    let mut out = BTreeMap::new();
    for n in names {
        let ips = match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::net::lookup_host((n.as_str(), 0)),
        )
        .await
        {
            Ok(Ok(addrs)) => {
                let mut v: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                v.sort();
                v.dedup();
                v
            }
            _ => Vec::new(),
        };
        out.insert(n.clone(), ips);
    }
    out
}

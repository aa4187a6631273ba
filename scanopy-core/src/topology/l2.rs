//! Layer 2: which switch port each device hangs off, and how switches link, from what managed
//! devices told of their link layer ([`crate::model::L2`]).
//!
//! The rules, in order:
//! 1. **Neighbours are links.** An LLDP or CDP neighbour on a port that names a known device
//!    (by chassis MAC, a MAC of one of its ports, its management address or its name) links
//!    that port to it: a direct link, which beats any inference. A device that is no bridge
//!    hearing one (a host's own LLDP listener, a router's table) is plugged into that switch's
//!    port: the link is the switch's, on the port the neighbour names, unless the switch told
//!    a link to it itself.
//! 2. **Uplinks are not where hosts are.** A port is an uplink when its neighbour is another
//!    bridge, or when it learnt another bridge's own address. A MAC learnt only on uplinks is
//!    placed by the switch where it is learnt on an access port.
//! 3. **The smallest port wins.** A MAC learnt on access ports of several bridges (an
//!    unmanaged switch between them, or a missed LLDP) is placed on the port that learnt the
//!    fewest MACs: the one nearest to it. Ties go to the lowest switch id, then port index.
//!
//! Pure and deterministic: the same devices, in any order, give the same links.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use uuid::Uuid;

use crate::model::{Device, MacAddr};

/// A link between two devices, at layer 2.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct L2Link {
    /// The switch (or the device that told the link).
    pub switch: Uuid,
    /// Its port's name.
    pub port: String,
    /// Its port's interface index.
    pub port_index: u32,
    /// The device on the other end.
    pub device: Uuid,
    /// The other end's port, when known (a switch's, from LLDP or CDP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_port: Option<String>,
    /// `lldp`, `cdp` (a neighbour told) or `fdb` (placed from forwarding tables).
    pub source: String,
    /// The VLAN, when the forwarding table or the port tells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// Index of which device owns which MAC, address and name.
struct Owners {
    by_mac: HashMap<MacAddr, Uuid>,
    by_ip: HashMap<std::net::IpAddr, Uuid>,
    by_name: HashMap<String, Uuid>,
}

impl Owners {
    fn new(devices: &[&Device]) -> Self {
        let mut by_mac = HashMap::new();
        let mut by_ip = HashMap::new();
        let mut by_name = HashMap::new();
        // Sorted by id: the lowest id wins a MAC or name claimed twice.
        for d in devices.iter().rev() {
            for m in d.macs() {
                by_mac.insert(m, d.id);
            }
            if let Some(l2) = &d.l2 {
                for m in l2
                    .bridge_mac
                    .iter()
                    .chain(l2.ports.iter().filter_map(|p| p.mac.as_ref()))
                {
                    by_mac.insert(*m, d.id);
                }
            }
            for ip in d.ips() {
                by_ip.insert(ip, d.id);
            }
            if let Some(h) = &d.hostname {
                by_name.insert(h.to_ascii_lowercase(), d.id);
            }
        }
        Owners {
            by_mac,
            by_ip,
            by_name,
        }
    }

    fn neighbour(&self, n: &crate::model::Neighbour) -> Option<Uuid> {
        n.chassis_mac
            .and_then(|m| self.by_mac.get(&m))
            .or_else(|| n.address.and_then(|a| self.by_ip.get(&a)))
            .or_else(|| {
                n.name
                    .as_ref()
                    .and_then(|s| self.by_name.get(&s.to_ascii_lowercase()))
            })
            .copied()
    }
}

/// The layer-2 links among `devices`: switch–switch and switch–device, each with its source.
pub fn links(devices: &[Device]) -> Vec<L2Link> {
    let mut sorted: Vec<&Device> = devices.iter().collect();
    sorted.sort_by_key(|d| d.id);
    let owners = Owners::new(&sorted);
    let bridges: BTreeSet<Uuid> = sorted
        .iter()
        .filter(|d| d.l2.as_ref().is_some_and(|l| l.is_bridge()))
        .map(|d| d.id)
        .collect();
    let mut out: BTreeSet<L2Link> = BTreeSet::new();
    // Ports that are uplinks, and (switch, port) already linked by a neighbour.
    let mut uplinks: BTreeSet<(Uuid, u32)> = BTreeSet::new();
    let mut direct: BTreeMap<Uuid, (Uuid, u32)> = BTreeMap::new();

    // 1. Neighbours. What a device that is no bridge hears of a bridge waits for step 1b.
    let mut heard_up = Vec::new();
    for d in &sorted {
        let Some(l2) = &d.l2 else { continue };
        for n in &l2.neighbours {
            let Some(other) = owners.neighbour(n) else {
                continue;
            };
            if other == d.id {
                continue;
            }
            let Some(port) = l2.ports.iter().find(|p| p.name == n.port) else {
                continue;
            };
            if !bridges.contains(&d.id) && (bridges.contains(&other) || n.is_bridge()) {
                heard_up.push((*d, other, n, port));
                continue;
            }
            if bridges.contains(&other) {
                uplinks.insert((d.id, port.index));
            }
            if !bridges.contains(&other) {
                direct.entry(other).or_insert((d.id, port.index));
            }
            out.insert(L2Link {
                switch: d.id,
                port: port.name.clone(),
                port_index: port.index,
                device: other,
                device_port: n.remote_port_description.clone().or(n.remote_port.clone()),
                source: n.source.clone(),
                vlan: port.vlan,
            });
        }
    }
    // 1b. A device plugged into a switch's port, as the device heard it: the switch's port is
    // the one the neighbour names (matched to the switch's own ports when it was read).
    let by_id: HashMap<Uuid, &Device> = sorted.iter().map(|d| (d.id, *d)).collect();
    for (d, sw, n, own) in heard_up {
        if out.iter().any(|l| l.switch == sw && l.device == d.id) {
            continue;
        }
        let names = [n.remote_port.as_ref(), n.remote_port_description.as_ref()];
        let sw_ports = by_id[&sw]
            .l2
            .as_ref()
            .map(|l| l.ports.as_slice())
            .unwrap_or(&[]);
        let matched = names
            .iter()
            .flatten()
            .find_map(|name| sw_ports.iter().find(|p| &&p.name == name));
        let (port, port_index, vlan) = match matched {
            Some(p) => (p.name.clone(), p.index, p.vlan.or(own.vlan)),
            None => {
                // A port id that is a MAC says less than its description.
                let looks_mac = |s: &&String| s.parse::<MacAddr>().is_ok();
                let Some(name) = n
                    .remote_port
                    .as_ref()
                    .filter(|s| !looks_mac(s))
                    .or(n.remote_port_description.as_ref())
                    .or(n.remote_port.as_ref())
                else {
                    continue;
                };
                (name.clone(), 0, own.vlan)
            }
        };
        direct.entry(d.id).or_insert((sw, port_index));
        out.insert(L2Link {
            switch: sw,
            port,
            port_index,
            device: d.id,
            device_port: Some(own.name.clone()),
            source: n.source.clone(),
            vlan,
        });
    }
    // 2. Ports that learnt another bridge's own address are uplinks too.
    let bridge_macs: HashMap<MacAddr, Uuid> = sorted
        .iter()
        .filter(|d| bridges.contains(&d.id))
        .flat_map(|d| {
            let l2 = d.l2.as_ref().expect("a bridge has L2");
            l2.bridge_mac
                .into_iter()
                .chain(l2.ports.iter().filter_map(|p| p.mac))
                .map(move |m| (m, d.id))
        })
        .collect();
    let mut per_port: HashMap<(Uuid, u32), usize> = HashMap::new();
    for d in &sorted {
        let Some(l2) = &d.l2 else { continue };
        for l in &l2.learnt {
            *per_port.entry((d.id, l.port)).or_default() += 1;
            if bridge_macs.get(&l.mac).is_some_and(|b| *b != d.id) {
                uplinks.insert((d.id, l.port));
            }
        }
    }
    // 3. Every other device's MACs, placed on the smallest access port that learnt one.
    let mut best: BTreeMap<Uuid, (usize, Uuid, u32, Option<u16>)> = BTreeMap::new();
    for d in &sorted {
        let Some(l2) = &d.l2 else { continue };
        for l in &l2.learnt {
            if uplinks.contains(&(d.id, l.port)) || l2.port(l.port).is_none() {
                continue;
            }
            let Some(owner) = owners.by_mac.get(&l.mac).copied() else {
                continue;
            };
            if owner == d.id || bridges.contains(&owner) || direct.contains_key(&owner) {
                continue;
            }
            let size = per_port.get(&(d.id, l.port)).copied().unwrap_or(0);
            let cand = (size, d.id, l.port, l.vlan);
            best.entry(owner)
                .and_modify(|b| {
                    if (cand.0, cand.1, cand.2) < (b.0, b.1, b.2) {
                        *b = cand;
                    }
                })
                .or_insert(cand);
        }
    }
    for (owner, (_, sw, port, vlan)) in best {
        let l2 = by_id[&sw].l2.as_ref().expect("placed by a bridge");
        let p = l2.port(port).expect("checked above");
        out.insert(L2Link {
            switch: sw,
            port: p.name.clone(),
            port_index: port,
            device: owner,
            device_port: None,
            source: "fdb".into(),
            vlan: vlan.or(p.vlan),
        });
    }
    // A switch–switch link told by both ends is one link: the lower id's telling is kept (the
    // set is ordered by switch id), with all its parallel links.
    let mut teller: HashMap<(Uuid, Uuid), Uuid> = HashMap::new();
    out.into_iter()
        .filter(|l| {
            if !(bridges.contains(&l.switch) && bridges.contains(&l.device)) {
                return true;
            }
            let key = (l.switch.min(l.device), l.switch.max(l.device));
            *teller.entry(key).or_insert(l.switch) == l.switch
        })
        .collect()
}

#[cfg(test)]
#[path = "l2_tests.rs"]
mod tests;

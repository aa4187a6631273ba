//! What the rows of an agent's tables mean: the system group, IF-MIB, IP-MIB's addresses and
//! ARP cache, BRIDGE-MIB and Q-BRIDGE-MIB forwarding tables, LLDP-MIB neighbours.
//!
//! [`interpret`] is a pure function of the rows read, whatever they hold: holes, rows of the
//! wrong type, indexes of the wrong length are skipped, never a panic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use scanopy_core::model::MAX_L2_ENTRIES;
use scanopy_core::{L2, Learnt, MacAddr, Neighbour, NetPort, Vlan};

use super::ber::{Oid, Value};

/// An object identifier from its arcs.
fn o(arcs: &[u32]) -> Oid {
    Oid(arcs.to_vec())
}

/// The scalars read with one GET.
pub fn scalars() -> Vec<Oid> {
    vec![
        o(SYS_DESCR),
        o(SYS_OBJECT_ID),
        o(SYS_UPTIME),
        o(SYS_CONTACT),
        o(SYS_NAME),
        o(SYS_LOCATION),
        o(ENGINE_ID),
        o(IP_FORWARDING),
        o(BRIDGE_ADDRESS),
    ]
}

const SYS_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];
const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
const SYS_CONTACT: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 4, 0];
const SYS_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
const SYS_LOCATION: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 6, 0];
/// SNMP-FRAMEWORK-MIB snmpEngineID.0 (readable over v2c too).
const ENGINE_ID: &[u32] = &[1, 3, 6, 1, 6, 3, 10, 2, 1, 1, 0];
const IP_FORWARDING: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 1, 0];
const BRIDGE_ADDRESS: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 1, 1, 0];

const IF_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
const IF_TYPE: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 3];
const IF_SPEED: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 5];
const IF_PHYS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 6];
const IF_ADMIN: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 7];
const IF_OPER: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 8];
const IF_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1];
const IF_HIGH_SPEED: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15];
const IF_ALIAS: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18];
const IP_AD_IFINDEX: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 20, 1, 2];
const IP_AD_MASK: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 20, 1, 3];
const ARP_PHYS: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 22, 1, 2];
const ARP_TYPE: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 22, 1, 4];
const BASE_PORT_IFINDEX: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2];
const FDB_PORT: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 2];
const FDB_STATUS: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 3];
const QFDB_PORT: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2];
const QFDB_STATUS: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 3];
const QVLAN_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 3, 1, 1];
const QPVID: &[u32] = &[1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 5, 1, 1];
/// CISCO-VTP-MIB vtpVlanName, indexed by (management domain, VLAN): a Cisco switch's VLANs.
const VTP_VLAN_NAME: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 46, 1, 3, 1, 1, 4];
/// CISCO-VLAN-MEMBERSHIP-MIB vmVlan, indexed by ifIndex: an access port's VLAN.
const VM_VLAN: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 68, 1, 2, 2, 1, 2];
const LLDP_REM: &[u32] = &[1, 0, 8802, 1, 1, 2, 1, 4, 1, 1];
const LLDP_MAN_ADDR: &[u32] = &[1, 0, 8802, 1, 1, 2, 1, 4, 2, 1, 3];
const LLDP_LOC_PORT_DESC: &[u32] = &[1, 0, 8802, 1, 1, 2, 1, 3, 7, 1, 4];
const CDP_CACHE: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 23, 1, 2, 1, 1];
/// LLDP-V2-MIB lldpV2RemEntry (IEEE 802.1AB-2009), indexed by (time mark, local ifIndex,
/// destination address index, remote index); its columns are LLDP-MIB's plus one.
const LLDP_V2_REM: &[u32] = &[1, 3, 111, 2, 802, 1, 1, 13, 1, 4, 1, 1];
const ND_PHYS: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 35, 1, 4];
const ND_TYPE: &[u32] = &[1, 3, 6, 1, 2, 1, 4, 35, 1, 6];
/// ENTITY-MIB entPhysicalEntry: descr 2, class 5, firmware 9, software 10, serial 11,
/// manufacturer 12, model 13.
const ENT: &[u32] = &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1];

/// The subtrees walked, in order: interfaces first (ports name everything else), the
/// forwarding tables last (the biggest).
pub fn walks() -> Vec<Oid> {
    [
        IF_DESCR,
        IF_TYPE,
        IF_SPEED,
        IF_PHYS,
        IF_ADMIN,
        IF_OPER,
        IF_NAME,
        IF_HIGH_SPEED,
        IF_ALIAS,
        IP_AD_IFINDEX,
        IP_AD_MASK,
        ARP_PHYS,
        ARP_TYPE,
        LLDP_REM,
        LLDP_MAN_ADDR,
        LLDP_LOC_PORT_DESC,
        LLDP_V2_REM,
        CDP_CACHE,
        ND_PHYS,
        ND_TYPE,
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 2],
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 5],
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 9],
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 10],
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 11],
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 12],
        &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 13],
        BASE_PORT_IFINDEX,
        QVLAN_NAME,
        QPVID,
        VTP_VLAN_NAME,
        VM_VLAN,
        QFDB_PORT,
        QFDB_STATUS,
        FDB_PORT,
        FDB_STATUS,
    ]
    .iter()
    .map(|a| o(a))
    .collect()
}

/// An agent's tables, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentView {
    /// sysName.
    pub sys_name: Option<String>,
    /// sysDescr.
    pub sys_descr: Option<String>,
    /// sysObjectID, dotted.
    pub sys_object_id: Option<String>,
    /// sysLocation.
    pub sys_location: Option<String>,
    /// sysContact.
    pub sys_contact: Option<String>,
    /// sysUpTime, in hundredths of a second.
    pub uptime: Option<u32>,
    /// snmpEngineID, in hex.
    pub engine_id: Option<String>,
    /// ipForwarding is `forwarding(1)`: it routes.
    pub forwarding: bool,
    /// Its own IPv4 addresses, with prefix length and interface index.
    pub addresses: Vec<(Ipv4Addr, u8, u32)>,
    /// Its ARP cache: address, MAC, interface index.
    pub arp: Vec<(Ipv4Addr, MacAddr, u32)>,
    /// Its IPv6 neighbour cache (`ipNetToPhysicalTable`), link-local entries left out:
    /// address, MAC, interface index.
    pub nd: Vec<(std::net::Ipv6Addr, MacAddr, u32)>,
    /// What ENTITY-MIB says of its chassis.
    pub chassis: Option<Chassis>,
    /// Ports, neighbours, forwarding table, VLANs.
    pub l2: L2,
}

/// The hardware, from ENTITY-MIB's first chassis entry (class `chassis(3)`, else the first
/// entry that names a model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chassis {
    /// `entPhysicalModelName`.
    pub model: Option<String>,
    /// `entPhysicalMfgName`.
    pub vendor: Option<String>,
    /// `entPhysicalSerialNum`.
    pub serial: Option<String>,
    /// `entPhysicalFirmwareRev`, else `entPhysicalSoftwareRev`.
    pub firmware: Option<String>,
    /// `entPhysicalDescr`.
    pub description: Option<String>,
}

/// Text from an OCTET STRING, empty taken as none, at most 255 characters.
fn text(v: &Value) -> Option<String> {
    let t = v.as_text()?;
    (!t.is_empty()).then(|| t.chars().take(255).collect())
}

fn mac(v: &Value) -> Option<MacAddr> {
    let b: [u8; 6] = v.as_bytes()?.try_into().ok()?;
    Some(MacAddr(b))
}

/// The rows under `col`, as (index arcs, value).
fn column<'a>(
    rows: &'a BTreeMap<Oid, Value>,
    col: &'a [u32],
) -> impl Iterator<Item = (&'a [u32], &'a Value)> + 'a {
    let start = o(col);
    rows.range(start..)
        .take_while(move |(k, _)| k.0.starts_with(col))
        .filter_map(move |(k, v)| {
            let idx = &k.0[col.len()..];
            (!idx.is_empty()).then_some((idx, v))
        })
}

/// The rows under `col` with a one-arc index, by that index.
fn by_index(rows: &BTreeMap<Oid, Value>, col: &[u32]) -> HashMap<u32, Value> {
    column(rows, col)
        .filter_map(|(i, v)| match i {
            [one] => Some((*one, v.clone())),
            _ => None,
        })
        .collect()
}

fn ipv4(arcs: &[u32]) -> Option<Ipv4Addr> {
    match arcs {
        [a, b, c, d] if [a, b, c, d].iter().all(|x| **x <= 255) => {
            Some(Ipv4Addr::new(*a as u8, *b as u8, *c as u8, *d as u8))
        }
        _ => None,
    }
}

fn mac_index(arcs: &[u32]) -> Option<MacAddr> {
    let b: [u8; 6] = arcs
        .iter()
        .map(|x| u8::try_from(*x).ok())
        .collect::<Option<Vec<u8>>>()?
        .try_into()
        .ok()?;
    Some(MacAddr(b))
}

fn if_kind(t: i64) -> &'static str {
    match t {
        6 | 62 | 69 | 117 => "ethernet",
        24 => "loopback",
        71 => "wifi",
        53 => "virtual",
        131 => "tunnel",
        135 => "vlan",
        161 => "lag",
        209 => "bridge",
        _ => "other",
    }
}

/// Hex of bytes, lower case.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An LLDP chassis or port id as text ([`crate::lldp::id_text`]: the frames' rules).
fn lldp_id(subtype: Option<i64>, mac_subtype: i64, b: &[u8]) -> (String, Option<MacAddr>) {
    crate::lldp::id_text(subtype, mac_subtype, b)
}

/// What the rows say.
pub fn interpret(rows: &BTreeMap<Oid, Value>) -> AgentView {
    let get = |a: &[u32]| rows.get(&o(a));
    let mut v = AgentView {
        sys_name: get(SYS_NAME).and_then(text),
        sys_descr: get(SYS_DESCR).and_then(text),
        sys_object_id: get(SYS_OBJECT_ID).and_then(|v| match v {
            Value::Oid(o) => Some(o.to_string()),
            _ => None,
        }),
        sys_location: get(SYS_LOCATION).and_then(text),
        sys_contact: get(SYS_CONTACT).and_then(text),
        uptime: get(SYS_UPTIME).and_then(|v| match v {
            Value::TimeTicks(t) => Some(*t),
            _ => None,
        }),
        engine_id: get(ENGINE_ID)
            .and_then(Value::as_bytes)
            .filter(|b| b.len() >= 5 && b.len() <= 32)
            .map(hex),
        forwarding: get(IP_FORWARDING).and_then(Value::as_i64) == Some(1),
        ..Default::default()
    };
    let mut l2 = L2 {
        bridge_mac: get(BRIDGE_ADDRESS).and_then(mac).filter(|m| m.is_unicast()),
        ..Default::default()
    };

    // Ports.
    let descr = by_index(rows, IF_DESCR);
    let names = by_index(rows, IF_NAME);
    let types = by_index(rows, IF_TYPE);
    let speeds = by_index(rows, IF_SPEED);
    let high = by_index(rows, IF_HIGH_SPEED);
    let phys = by_index(rows, IF_PHYS);
    let admin = by_index(rows, IF_ADMIN);
    let oper = by_index(rows, IF_OPER);
    let alias = by_index(rows, IF_ALIAS);
    let pvid = by_index(rows, QPVID);
    let vm_vlan = by_index(rows, VM_VLAN);
    let base_port: HashMap<u32, u32> = by_index(rows, BASE_PORT_IFINDEX)
        .into_iter()
        .filter_map(|(p, v)| Some((p, u32::try_from(v.as_i64()?).ok()?)))
        .collect();
    let mut indexes: BTreeSet<u32> = descr.keys().chain(names.keys()).copied().collect();
    indexes.extend(types.keys());
    for i in indexes.into_iter().take(MAX_L2_ENTRIES) {
        let Some(name) = names
            .get(&i)
            .and_then(text)
            .or_else(|| descr.get(&i).and_then(text))
        else {
            continue;
        };
        let speed = high
            .get(&i)
            .and_then(Value::as_u64)
            .filter(|s| *s > 0)
            .or_else(|| {
                speeds
                    .get(&i)
                    .and_then(Value::as_u64)
                    .filter(|s| *s > 0 && *s < u64::from(u32::MAX))
                    .map(|s| s / 1_000_000)
            });
        let status = |m: &HashMap<u32, Value>| match m.get(&i).and_then(Value::as_i64) {
            Some(1) => Some(true),
            Some(2) | Some(7) => Some(false),
            _ => None,
        };
        // The bridge port whose interface this is carries the untagged VLAN.
        let vlan = base_port
            .iter()
            .filter(|(_, ifi)| **ifi == i)
            .find_map(|(p, _)| pvid.get(p))
            .or_else(|| vm_vlan.get(&i))
            .and_then(Value::as_u64)
            .and_then(|v| u16::try_from(v).ok())
            .filter(|v| (1..=4094).contains(v));
        l2.ports.push(NetPort {
            index: i,
            name,
            alias: alias.get(&i).and_then(text),
            mac: phys.get(&i).and_then(mac).filter(|m| m.is_unicast()),
            speed_mbps: speed,
            admin_up: status(&admin),
            oper_up: status(&oper),
            kind: types
                .get(&i)
                .and_then(Value::as_i64)
                .map(|t| if_kind(t).to_owned()),
            vlan,
        });
    }
    let port_name = |ifindex: u32, fallback: &str| {
        l2.ports
            .iter()
            .find(|p| p.index == ifindex)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| fallback.to_owned())
    };

    // Addresses and the ARP cache.
    let masks: HashMap<Ipv4Addr, u8> = column(rows, IP_AD_MASK)
        .filter_map(|(i, v)| match v {
            Value::IpAddress(m) => Some((ipv4(i)?, u32::from_be_bytes(*m).count_ones() as u8)),
            _ => None,
        })
        .collect();
    for (i, val) in column(rows, IP_AD_IFINDEX) {
        if let (Some(ip), Some(ifi)) = (ipv4(i), val.as_i64().and_then(|x| u32::try_from(x).ok())) {
            v.addresses
                .push((ip, masks.get(&ip).copied().unwrap_or(32), ifi));
        }
    }
    let arp_type: HashMap<&[u32], i64> = column(rows, ARP_TYPE)
        .filter_map(|(i, v)| Some((i, v.as_i64()?)))
        .collect();
    for (i, val) in column(rows, ARP_PHYS) {
        let [ifi, rest @ ..] = i else { continue };
        // invalid(2) entries are gone.
        if arp_type.get(i) == Some(&2) {
            continue;
        }
        if let (Some(ip), Some(m)) = (ipv4(rest), mac(val)) {
            if m.is_unicast() && v.arp.len() < MAX_L2_ENTRIES {
                v.arp.push((ip, m, *ifi));
            }
        }
    }

    // The IPv6 neighbour cache: index (ifIndex, address type 2 = IPv6, length 16, address).
    let nd_type: HashMap<&[u32], i64> = column(rows, ND_TYPE)
        .filter_map(|(i, v)| Some((i, v.as_i64()?)))
        .collect();
    for (i, val) in column(rows, ND_PHYS) {
        let [ifi, 2, 16, a @ ..] = i else { continue };
        if nd_type.get(i) == Some(&2) || a.len() != 16 {
            continue;
        }
        let Some(b) = a
            .iter()
            .map(|x| u8::try_from(*x).ok())
            .collect::<Option<Vec<u8>>>()
            .and_then(|v| <[u8; 16]>::try_from(v).ok())
        else {
            continue;
        };
        let ip = std::net::Ipv6Addr::from(b);
        if let Some(m) = mac(val).filter(|m| m.is_unicast()) {
            // Link-local entries are left out: a router's cache holds many of bridges and
            // hosts nobody else sees, each of which would be a device of one address.
            if !ip.is_multicast()
                && scanopy_core::is_routable(std::net::IpAddr::V6(ip))
                && v.nd.len() < MAX_L2_ENTRIES
            {
                v.nd.push((ip, m, *ifi));
            }
        }
    }

    // ENTITY-MIB: the chassis.
    let mut ents: BTreeMap<u32, HashMap<u32, &Value>> = BTreeMap::new();
    for (i, val) in column(rows, ENT) {
        if let [col, idx] = i {
            if ents.len() < 10_000 || ents.contains_key(idx) {
                ents.entry(*idx).or_default().insert(*col, val);
            }
        }
    }
    let chassis = ents
        .values()
        .find(|e| e.get(&5).and_then(|v| v.as_i64()) == Some(3))
        .or_else(|| {
            ents.values()
                .find(|e| e.get(&13).and_then(|v| text(v)).is_some())
        });
    if let Some(e) = chassis {
        let t = |c: u32| e.get(&c).and_then(|v| text(v));
        let c = Chassis {
            model: t(13),
            vendor: t(12),
            serial: t(11),
            firmware: t(9).or_else(|| t(10)),
            description: t(2),
        };
        if c != Chassis::default() {
            v.chassis = Some(c);
        }
    }

    // Forwarding tables: Q-BRIDGE (with the VLAN) where the agent has it, else BRIDGE-MIB.
    let to_ifindex = |port: u32| base_port.get(&port).copied().unwrap_or(port);
    let mut learnt: BTreeSet<Learnt> = BTreeSet::new();
    let mut truncated = false;
    // Q-BRIDGE's index is (filtering database, MAC); BRIDGE-MIB's the MAC alone.
    for (port_col, status_col, with_fdb) in [
        (QFDB_PORT, QFDB_STATUS, true),
        (FDB_PORT, FDB_STATUS, false),
    ] {
        if !learnt.is_empty() {
            break;
        }
        let status: HashMap<&[u32], i64> = column(rows, status_col)
            .filter_map(|(i, v)| Some((i, v.as_i64()?)))
            .collect();
        for (i, val) in column(rows, port_col) {
            let (vlan, mac_arcs) = match (with_fdb, i) {
                (true, [fdb, rest @ ..]) => (
                    u16::try_from(*fdb).ok().filter(|v| (1..=4094).contains(v)),
                    rest,
                ),
                (true, []) => continue,
                (false, _) => (None, i),
            };
            // self(4) is the bridge's own address; port 0 is unknown.
            if status.get(i) == Some(&4) {
                continue;
            }
            let (Some(m), Some(port)) = (
                mac_index(mac_arcs),
                val.as_u64().and_then(|p| u32::try_from(p).ok()),
            ) else {
                continue;
            };
            if port == 0 || !m.is_unicast() {
                continue;
            }
            if learnt.len() >= MAX_L2_ENTRIES {
                truncated = true;
                break;
            }
            learnt.insert(Learnt {
                mac: m,
                port: to_ifindex(port),
                vlan,
            });
        }
    }
    l2.learnt = learnt.into_iter().collect();
    l2.truncated = truncated;

    // VLANs.
    for (i, val) in column(rows, QVLAN_NAME) {
        if let [id] = i {
            if let Ok(id) = u16::try_from(*id) {
                if (1..=4094).contains(&id) && l2.vlans.len() < 4094 {
                    l2.vlans.push(Vlan {
                        id,
                        name: text(val),
                    });
                }
            }
        }
    }
    // A Cisco switch's VTP VLANs, where Q-BRIDGE-MIB did not name them.
    for (i, val) in column(rows, VTP_VLAN_NAME) {
        if let [_domain, id] = i {
            if let Ok(id) = u16::try_from(*id) {
                if (1..=4094).contains(&id)
                    && l2.vlans.len() < 4094
                    && !l2.vlans.iter().any(|v| v.id == id)
                {
                    l2.vlans.push(Vlan {
                        id,
                        name: text(val),
                    });
                }
            }
        }
    }

    // LLDP neighbours: lldpRemTable is indexed by (time mark, local port, remote index).
    let loc_desc = by_index(rows, LLDP_LOC_PORT_DESC);
    let mut rem: BTreeMap<(u32, u32), HashMap<u32, &Value>> = BTreeMap::new();
    for (i, val) in column(rows, LLDP_REM) {
        if let [col, _time, port, idx] = i {
            rem.entry((*port, *idx)).or_default().insert(*col, val);
        }
    }
    let mut man: HashMap<(u32, u32), IpAddr> = HashMap::new();
    for (i, _) in column(rows, LLDP_MAN_ADDR) {
        // time, port, index, address subtype (1 = IPv4), length, the address.
        if let [_time, port, idx, 1, 4, a @ ..] = i {
            if let Some(ip) = ipv4(a) {
                man.entry((*port, *idx)).or_insert(IpAddr::V4(ip));
            }
        }
    }
    for ((port, idx), cols) in rem.iter().take(MAX_L2_ENTRIES) {
        let sub = |c: u32| cols.get(&c).and_then(|v| v.as_i64());
        let Some(chassis) = cols.get(&5).and_then(|v| v.as_bytes()) else {
            continue;
        };
        let (chassis_id, chassis_mac) = lldp_id(sub(4), 4, chassis);
        let remote_port = cols
            .get(&7)
            .and_then(|v| v.as_bytes())
            .map(|b| lldp_id(sub(6), 3, b).0);
        // lldpd and most agents number LLDP ports by ifIndex.
        let local = if l2.port(*port).is_some() {
            port_name(*port, "")
        } else {
            loc_desc
                .get(port)
                .and_then(text)
                .unwrap_or_else(|| port.to_string())
        };
        l2.neighbours.push(Neighbour {
            port: local,
            source: "lldp".into(),
            chassis_id,
            chassis_mac,
            remote_port,
            remote_port_description: cols.get(&8).and_then(|v| text(v)),
            name: cols.get(&9).and_then(|v| text(v)),
            description: cols.get(&10).and_then(|v| text(v)),
            address: man.get(&(*port, *idx)).copied(),
            // lldpRemSysCapEnabled: BITS, other(0) first, most significant bit first.
            capabilities: cols
                .get(&12)
                .and_then(|v| v.as_bytes())
                .and_then(|b| b.first())
                .map(|&b| crate::lldp::capability_bits(u16::from(b.reverse_bits())))
                .unwrap_or_default(),
        });
    }
    // LLDP-V2-MIB, where an agent serves it: its local port is an ifIndex; a neighbour LLDP-MIB
    // already told (same port, same chassis) is not told twice.
    let mut rem2: BTreeMap<(u32, u32, u32), HashMap<u32, &Value>> = BTreeMap::new();
    for (i, val) in column(rows, LLDP_V2_REM) {
        if let [col, _time, ifindex, dest, idx] = i {
            rem2.entry((*ifindex, *dest, *idx))
                .or_default()
                .insert(*col, val);
        }
    }
    for ((ifindex, _, _), cols) in rem2.iter().take(MAX_L2_ENTRIES) {
        let sub = |c: u32| cols.get(&c).and_then(|v| v.as_i64());
        let Some(chassis) = cols.get(&6).and_then(|v| v.as_bytes()) else {
            continue;
        };
        let (chassis_id, chassis_mac) = lldp_id(sub(5), 4, chassis);
        let port = port_name(*ifindex, &ifindex.to_string());
        if l2
            .neighbours
            .iter()
            .any(|n| n.source == "lldp" && n.port == port && n.chassis_id == chassis_id)
        {
            continue;
        }
        l2.neighbours.push(Neighbour {
            port,
            source: "lldp".into(),
            chassis_id,
            chassis_mac,
            remote_port: cols
                .get(&8)
                .and_then(|v| v.as_bytes())
                .map(|b| lldp_id(sub(7), 3, b).0),
            remote_port_description: cols.get(&9).and_then(|v| text(v)),
            name: cols.get(&10).and_then(|v| text(v)),
            description: cols.get(&11).and_then(|v| text(v)),
            address: None,
            capabilities: cols
                .get(&13)
                .and_then(|v| v.as_bytes())
                .and_then(|b| b.first())
                .map(|&b| crate::lldp::capability_bits(u16::from(b.reverse_bits())))
                .unwrap_or_default(),
        });
    }
    // CDP (CISCO-CDP-MIB cdpCacheTable, indexed by (ifIndex, device index)).
    let mut cdp: BTreeMap<(u32, u32), HashMap<u32, &Value>> = BTreeMap::new();
    for (i, val) in column(rows, CDP_CACHE) {
        if let [col, ifi, idx] = i {
            cdp.entry((*ifi, *idx)).or_default().insert(*col, val);
        }
    }
    for ((ifi, _), cols) in cdp.iter().take(MAX_L2_ENTRIES) {
        let Some(device_id) = cols.get(&6).and_then(|v| text(v)) else {
            continue;
        };
        let address = cols
            .get(&4)
            .and_then(|v| v.as_bytes())
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|a| IpAddr::V4(Ipv4Addr::from(a)));
        l2.neighbours.push(Neighbour {
            port: port_name(*ifi, &ifi.to_string()),
            source: "cdp".into(),
            chassis_id: device_id.clone(),
            chassis_mac: None,
            remote_port: cols.get(&7).and_then(|v| text(v)),
            remote_port_description: None,
            name: Some(device_id),
            description: cols.get(&8).and_then(|v| text(v)),
            address,
            // cdpCacheCapabilities: four bytes, CDP's own bits.
            capabilities: cols
                .get(&9)
                .and_then(|v| v.as_bytes())
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| crate::lldp::cdp_capability_bits(u32::from_be_bytes(b)))
                .unwrap_or_default(),
        });
    }
    v.l2 = l2;
    v
}

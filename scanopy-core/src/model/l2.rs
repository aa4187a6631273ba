//! The link layer as a managed device tells it: its ports, the neighbours it hears on them
//! (LLDP, CDP), the MACs its bridge learnt on each port, and its VLANs.
//!
//! Scanners report one [`L2`] per device and read (an SNMP agent's tables are a snapshot): the
//! newest replaces the older. Placing hosts on switch ports from these is
//! [`crate::topology::l2_links`].

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::MacAddr;

/// Most entries of each list kept per device: a bigger forwarding table is cut (and says so in
/// [`L2::truncated`]).
pub const MAX_L2_ENTRIES: usize = 65_536;

/// What a managed device tells about its link layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct L2 {
    /// Its ports (interfaces), by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetPort>,
    /// Neighbours heard on its ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<Neighbour>,
    /// MACs its bridge learnt, and on which port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learnt: Vec<Learnt>,
    /// VLANs it knows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<Vlan>,
    /// The bridge's own address (BRIDGE-MIB `dot1dBaseBridgeAddress`), for a switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_mac: Option<MacAddr>,
    /// A list was cut at [`MAX_L2_ENTRIES`], or the agent stopped answering before the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl L2 {
    /// Whether it tells nothing.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
            && self.neighbours.is_empty()
            && self.learnt.is_empty()
            && self.vlans.is_empty()
            && self.bridge_mac.is_none()
    }

    /// The port with this interface index.
    pub fn port(&self, index: u32) -> Option<&NetPort> {
        self.ports.iter().find(|p| p.index == index)
    }

    /// Whether the device bridges (it has a forwarding table or a bridge address).
    pub fn is_bridge(&self) -> bool {
        self.bridge_mac.is_some() || !self.learnt.is_empty()
    }
}

/// One port (interface) of a device.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NetPort {
    /// The agent's interface index (`ifIndex`).
    pub index: u32,
    /// Its name (`ifName`, else `ifDescr`).
    pub name: String,
    /// The description the operator gave it (`ifAlias`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Its hardware address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Its speed in Mbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mbps: Option<u64>,
    /// Administratively up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_up: Option<bool>,
    /// Operationally up (the link is up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oper_up: Option<bool>,
    /// What kind of interface (`ethernet`, `loopback`, `bridge`, `tunnel`, `other`), from `ifType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its untagged VLAN (Q-BRIDGE-MIB `dot1qPvid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// A device heard on one of the ports by a discovery protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Neighbour {
    /// The local port's name it was heard on.
    pub port: String,
    /// `lldp` or `cdp`.
    pub source: String,
    /// The neighbour's chassis id as text (a MAC written as one).
    pub chassis_id: String,
    /// The neighbour's chassis MAC, when its chassis id is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chassis_mac: Option<MacAddr>,
    /// The neighbour's port: its id (a name or a MAC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_port: Option<String>,
    /// The neighbour's port description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_port_description: Option<String>,
    /// The neighbour's system name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The neighbour's system description (or CDP platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A management address the neighbour announces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// What it says it does, of `bridge`, `router`, `wlan-ap`, `phone`, `station`, `host`,
    /// `repeater`, `docsis`, `other` (its enabled capabilities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

impl Neighbour {
    /// Whether it says it bridges (a switch).
    pub fn is_bridge(&self) -> bool {
        self.capabilities.iter().any(|c| c == "bridge")
    }
}

/// A MAC that a bridge learnt on one of its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Learnt {
    /// The MAC.
    pub mac: MacAddr,
    /// The interface index of the port (`ifIndex`, mapped from the bridge port number).
    pub port: u32,
    /// The VLAN (or filtering database) it was learnt in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// A VLAN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Vlan {
    /// Its id, 1 to 4094.
    pub id: u16,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

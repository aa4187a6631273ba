//! Devices: what the inventory knows about one machine, virtual machine or container.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MacAddr, Service, Transport};

/// What kind of thing a device is, inferred from vendor, services and role.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    /// Nothing told.
    #[default]
    Unknown,
    /// Routes between subnets or is the default gateway.
    Gateway,
    /// A network switch; no built-in rule infers it, a scanner's `DeviceType` fact can.
    Switch,
    /// A wireless access point.
    AccessPoint,
    /// A printer or print server (a print port 9100, 515 or 631, or announced over IPP).
    Printer,
    /// Network storage.
    Nas,
    /// A network camera or video recorder.
    Camera,
    /// Runs virtual machines (Proxmox, ESXi).
    Hypervisor,
    /// Runs Docker containers.
    DockerHost,
    /// A container (its `parent` is the Docker host).
    Container,
    /// Offers services to others (SSH, mail, a database, or three open ports or more) and
    /// matched no more specific type.
    Server,
    /// A desktop or laptop computer.
    Computer,
    /// A phone or tablet.
    Phone,
    /// A television, media player or streaming box.
    Media,
    /// Another small connected thing (plug, sensor, hub).
    Iot,
}

impl DeviceType {
    /// Every type, in declaration order.
    pub const ALL: [DeviceType; 15] = [
        DeviceType::Unknown,
        DeviceType::Gateway,
        DeviceType::Switch,
        DeviceType::AccessPoint,
        DeviceType::Printer,
        DeviceType::Nas,
        DeviceType::Camera,
        DeviceType::Hypervisor,
        DeviceType::DockerHost,
        DeviceType::Container,
        DeviceType::Server,
        DeviceType::Computer,
        DeviceType::Phone,
        DeviceType::Media,
        DeviceType::Iot,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeviceType::Unknown => "unknown",
            DeviceType::Gateway => "gateway",
            DeviceType::Switch => "switch",
            DeviceType::AccessPoint => "access_point",
            DeviceType::Printer => "printer",
            DeviceType::Nas => "nas",
            DeviceType::Camera => "camera",
            DeviceType::Hypervisor => "hypervisor",
            DeviceType::DockerHost => "docker_host",
            DeviceType::Container => "container",
            DeviceType::Server => "server",
            DeviceType::Computer => "computer",
            DeviceType::Phone => "phone",
            DeviceType::Media => "media",
            DeviceType::Iot => "iot",
        }
    }
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown device type {s:?}"))
    }
}

/// One network interface of a device: an address, and the MAC behind it when the scanner was on
/// the same segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interface {
    /// The interface's address; a device has one interface per address. `0.0.0.0` when the
    /// device was heard before it had one (asking DHCP for one), with its MAC.
    pub ip: IpAddr,
    /// The hardware address, `null` when the device is beyond the scanner's segment.
    pub mac: Option<MacAddr>,
    /// The most specific known subnet holding `ip`.
    pub subnet: Option<IpNet>,
}

/// A container's Docker network attachment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContainerNetwork {
    /// The Docker network's name (`bridge`, `myapp_default`).
    pub name: String,
    /// The container's address on it, if it has one (stopped containers have none).
    pub ip: Option<IpAddr>,
}

/// A port a container publishes on its host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The host address it is bound to (`0.0.0.0`, `127.0.0.1`), if any.
    pub host_ip: Option<IpAddr>,
    /// The host port, when published.
    pub host_port: Option<u16>,
    /// The port inside the container.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Transport,
}

/// What Docker says about a container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Container {
    /// The container id (64 hex digits).
    pub id: String,
    /// Its name, without the leading slash.
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// `running`, `exited`, …
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `null` without a health check.
    pub health: Option<String>,
    /// The compose project label.
    pub compose_project: Option<String>,
    /// The compose service label.
    pub compose_service: Option<String>,
    /// Docker networks it is attached to.
    pub networks: Vec<ContainerNetwork>,
    /// Ports it exposes or publishes.
    pub ports: Vec<PublishedPort>,
}

/// Why two identities were folded into one device when the usual rules would have kept them
/// apart (for instance two MACs of one subnet sharing an SSH host key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MergeReason {
    /// The rule (`identity:ssh-hostkey`).
    pub rule: String,
    /// The value both identities shared: the `Identity` fact's value (e.g. a host key).
    pub value: String,
}

/// A device, as merged from observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Stable id: derived from the device's strongest identity (its lowest MAC, its container id,
    /// or its address when nothing else is known), so the same observations always give the same id.
    pub id: Uuid,
    /// The best known host name.
    pub hostname: Option<String>,
    /// The vendor behind the MAC's OUI.
    pub vendor: Option<String>,
    /// What kind of device it is.
    pub device_type: DeviceType,
    /// Why it was given that type.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device_type_evidence: Option<String>,
    /// Its interfaces, sorted by address.
    pub interfaces: Vec<Interface>,
    /// Its services, sorted by address, transport and port.
    pub services: Vec<Service>,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen: DateTime<Utc>,
    /// The scanners that saw it.
    pub sources: BTreeSet<String>,
    /// At least one of its MACs is locally administered (randomised, virtual).
    #[serde(default)]
    pub randomized_mac: bool,
    /// The device that runs it (the Docker host of a container).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent: Option<Uuid>,
    /// Docker facts, for a container.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub container: Option<Container>,
    /// Rules that joined identities the usual rules keep apart.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub merge_reasons: Vec<MergeReason>,
    /// Its operating system, as the evidence points; `None` when nothing points anywhere.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub os: Option<super::Os>,
    /// Its link layer, when it told it (a switch or router over SNMP).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub l2: Option<Box<super::L2>>,
}

impl Device {
    /// The device's MACs, sorted, without duplicates.
    pub fn macs(&self) -> Vec<MacAddr> {
        let mut macs: Vec<MacAddr> = self.interfaces.iter().filter_map(|i| i.mac).collect();
        macs.sort();
        macs.dedup();
        macs
    }

    /// The device's addresses, sorted; an interface without an address yet (`0.0.0.0`, see
    /// [`crate::Fact::Unaddressed`]) gives none.
    pub fn ips(&self) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self
            .interfaces
            .iter()
            .map(|i| i.ip)
            .filter(|ip| !ip.is_unspecified())
            .collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// The subnets it has an interface on.
    pub fn subnets(&self) -> BTreeSet<IpNet> {
        self.interfaces.iter().filter_map(|i| i.subnet).collect()
    }

    /// A short label for people: host name, else container name, else first address (its MAC
    /// when it has none yet).
    pub fn label(&self) -> String {
        if let Some(h) = &self.hostname {
            return h.clone();
        }
        if let Some(c) = &self.container {
            return c.name.clone();
        }
        // One heard before it had an address is known by its MAC.
        self.interfaces
            .first()
            .map(|i| match i.mac {
                Some(m) if i.ip.is_unspecified() => m.to_string(),
                _ => i.ip.to_string(),
            })
            .unwrap_or_else(|| self.id.to_string())
    }
}

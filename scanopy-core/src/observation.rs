//! Observations: the one thing scanners emit.
//!
//! An observation is a single fact about one address, stated by one scanner at one time:
//! "10.77.0.10 has MAC 00:11:32:aa:00:10 (arp, 12:00:01)", "10.77.0.10:80/tcp is open and runs
//! nginx 1.22.1 (tcp, 12:00:02)". Scanners never build devices; [`crate::merge::Inventory`] folds
//! observations into devices with one set of identity rules.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Confidence, Container, DeviceType, L2, MacAddr, OsHint, PortState, Transport};

/// A fact about an address, by a scanner, at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The address the fact is about. For a container, the address of its Docker host.
    pub ip: IpAddr,
    /// The scanner that saw it (`arp`, `tcp`, `docker`, or a custom scanner's name).
    pub scanner: String,
    /// When it was seen.
    pub at: DateTime<Utc>,
    /// What was seen.
    pub fact: Fact,
}

/// What an observation says about its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fact {
    /// The address answered: it is in use.
    Alive {
        /// How it was proven (`arp`, `tcp-open`, `tcp-refused`, `neighbour-table`, …).
        method: String,
        /// Round-trip time of the proof, in microseconds.
        rtt_us: Option<u64>,
    },
    /// The address belongs to this hardware address (seen on the same segment).
    Mac {
        /// The hardware address answering for `ip`; a broadcast or zero MAC names no device and
        /// only proves the address alive.
        mac: MacAddr,
    },
    /// A name for the address.
    Hostname {
        /// The name as the source gave it; the inventory trims it and drops a trailing dot.
        name: String,
        /// Where it came from (`ptr`, `http`, `tls`, `docker`, …).
        source: String,
    },
    /// The vendor behind the address's MAC.
    Vendor {
        /// The vendor's name from the OUI table.
        vendor: String,
    },
    /// What kind of device this is.
    DeviceType {
        /// The type the scanner concluded.
        device_type: DeviceType,
        /// What made the scanner conclude it, for people (`docker engine API`, `mdns _ipp._tcp`).
        evidence: String,
    },
    /// A port and what runs on it.
    Port(PortFact),
    /// A value that only one device can have (an SSH host key, an SNMP engine id, a Docker engine
    /// id). Addresses sharing one are the same device, even with different MACs.
    Identity {
        /// The rule's name (`ssh-hostkey`).
        rule: String,
        /// The identifying value itself (a host key fingerprint, an engine id): equal values
        /// mean the same device.
        value: String,
    },
    /// The address is a default gateway of its subnet.
    Gateway,
    /// Evidence of the operating system (a TTL, a greeting that names it); the device's
    /// [`crate::Os`] weighs it with the rest ([`crate::os::infer`]).
    Os(OsHint),
    /// The address is a Docker host, running this container.
    Container(Box<Container>),
    /// The address's device told its link layer (ports, neighbours, forwarding table, VLANs),
    /// as one snapshot: a newer one replaces it.
    L2(Box<L2>),
    /// A device heard before it had an address (a DHCP DISCOVER: a host that has just joined;
    /// a DHCPv6 message from its link-local address), observed at the unspecified address
    /// `0.0.0.0`: `facts` are about the device whose MAC is `mac`. Only `alive`, `hostname`, `vendor`, `device_type` and `os` count there; the
    /// device's interface is `0.0.0.0` with that MAC until the MAC is bound to an address.
    Unaddressed {
        /// The device's hardware address (a broadcast or zero MAC names no device).
        mac: MacAddr,
        /// What it said of itself.
        facts: Vec<Fact>,
    },
}

/// What a probe learned about one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortFact {
    /// The port number probed.
    pub port: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// Open, closed, filtered.
    pub state: PortState,
    /// The service name, when identified (`None` means not identified, not `unknown`).
    pub name: Option<String>,
    /// The product, when a rule could tell (`nginx`, `OpenSSH`); `None` when it could not.
    pub product: Option<String>,
    /// The product's version, when the service revealed it; `None` otherwise.
    pub version: Option<String>,
    /// Further facts (`http.title`, `tls.subject`).
    pub extra: BTreeMap<String, String>,
    /// How sure the identification is.
    pub confidence: Confidence,
    /// The rule id or reason behind the identification.
    pub evidence: String,
}

impl PortFact {
    /// A port in a state, not (yet) identified.
    pub fn state(port: u16, transport: Transport, state: PortState) -> Self {
        PortFact {
            port,
            transport,
            state,
            name: None,
            product: None,
            version: None,
            extra: BTreeMap::new(),
            confidence: Confidence::Low,
            evidence: String::new(),
        }
    }
}

impl Observation {
    /// An observation stamped now.
    pub fn now(ip: IpAddr, scanner: impl Into<String>, fact: Fact) -> Self {
        Observation {
            ip,
            scanner: scanner.into(),
            at: Utc::now(),
            fact,
        }
    }

    /// Whether this fact proves a host is there (the signal the pipeline uses to hand the host
    /// to per-host scanners).
    pub fn proves_alive(&self) -> bool {
        match &self.fact {
            Fact::Alive { .. } | Fact::Mac { .. } => true,
            Fact::Port(p) => matches!(p.state, PortState::Open | PortState::Closed),
            _ => false,
        }
    }
}

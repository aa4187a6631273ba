//! Services: what listens on a port of an address, and how sure we are of its name.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The transport a port belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
// The variants are the protocols' own names.
#[allow(missing_docs)]
pub enum Transport {
    Tcp,
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// What a probe learned about a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    /// Something accepted the connection or answered.
    Open,
    /// The host answered that nothing listens (a TCP reset, an ICMP port unreachable).
    Closed,
    /// No answer at all: a firewall drops the probes, or the host is gone.
    Filtered,
    /// UDP without an answer: open or filtered, nobody can tell.
    OpenFiltered,
}

/// How sure an identification is. Ordered: `Low < Medium < High`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Guessed from the port number alone.
    #[default]
    Low,
    /// A pattern matched, but not one unique to the product.
    Medium,
    /// The service said what it is (a banner, a header, a protocol answer).
    High,
}

/// A service on one port of one address, as the inventory keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// The address it listens on.
    pub ip: IpAddr,
    /// The port number; with `ip` and `transport`, which service this is.
    pub port: u16,
    /// TCP or UDP; serialised as `protocol`, the contract's name.
    #[serde(rename = "protocol")]
    pub transport: Transport,
    /// Open, closed, filtered.
    pub state: PortState,
    /// The usual service name (`http`, `ssh`, …) or `unknown` when nothing matched.
    pub name: String,
    /// The product, when a rule could tell (`nginx`, `OpenSSH`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub product: Option<String>,
    /// The product's version, when the service revealed it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// Further facts: `http.title`, `tls.subject`, `ssh.hostkey`, …
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub extra: BTreeMap<String, String>,
    /// How sure the name is.
    pub confidence: Confidence,
    /// The rule id or short reason behind the name.
    pub evidence: String,
    /// When this port was first seen in this state or any other.
    pub first_seen: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen: DateTime<Utc>,
}

impl Service {
    /// The name used when nothing identified the service.
    pub const UNKNOWN: &'static str = "unknown";
}

//! What operating system a device runs, and why we think so.

use serde::{Deserialize, Serialize};

use super::service::Confidence;

/// One piece of evidence about a device's operating system, as a scanner observed it (a TTL, an
/// SMB greeting, an SNMP description). Several hints are combined into the device's [`Os`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OsHint {
    /// How sure this one hint is. Compared first, so the strongest hints sort last.
    pub confidence: Confidence,
    /// The family (`Linux`, `Windows`, `macOS`, `iOS`, `FreeBSD`, `Cisco IOS`, …).
    pub family: String,
    /// The product within the family, when the hint names it (`Ubuntu`, `Windows Server 2019`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The product's version, when the hint names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What it was read from, for people (`ttl 128 (icmp echo)`).
    pub evidence: String,
}

/// A device's operating system as the evidence points: the family most of it agrees on, the
/// most specific product and version any of it names, how sure that is, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// The family (`Linux`, `Windows`, `macOS`, …).
    pub family: String,
    /// The product within the family (`Ubuntu`, `Debian`, `Windows 10`), when evidence names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The product's version, when evidence names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `high`: the device said so itself, or two independent medium hints agree; `medium`: a
    /// fingerprint or a port pattern typical of the family; `low`: a guess (a TTL, a vendor).
    pub confidence: Confidence,
    /// What pointed there, strongest first (at most eight entries).
    pub evidence: Vec<String>,
}

//! The one list of built-in scanners: name, label, kind, what each needs, whether a scan runs it
//! when none is named, and how to build it from the daemon's settings.
//!
//! The daemon's set-up builds scanners from this list, the server checks the scanner names of a
//! scan request against it, and the UI reads it through `GET /api/v1/scanners`. A new scanner
//! is one entry here (its [`Scanner::name`] must equal the entry's name: tested).

use std::net::IpAddr;

use ipnet::IpNet;
use scanopy_core::{Needs, Scanner, ScannerKind};
use serde::Serialize;

use crate::{
    ArpScanner, Catalogue, DockerScanner, DockerSettings, IcmpScanner, IcmpSettings, NameScanner,
    NdpScanner, SnmpScanner, SnmpSettings, TcpPing, TcpScanner, TcpSettings, UdpScanner,
};

/// What a scanner is built from: settings of the daemon and of the machine it runs on, decided
/// before the scan starts.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    /// The service catalogue that identifies ports.
    pub catalogue: Catalogue,
    /// Identify open ports (banners, probes, TLS); `false` tells open from closed only.
    pub identify: bool,
    /// Raw sockets are allowed: ports are swept with SYN segments.
    pub raw_sockets: bool,
    /// Subnets the ARP sweep covers, which TCP discovery then skips.
    pub arp_subnets: Vec<IpNet>,
    /// This machine's own address within the targets, where a local Docker engine's
    /// containers are attached.
    pub docker_host_ip: Option<IpAddr>,
    /// SNMP communities to try (secrets); `public` when empty.
    pub snmp: crate::snmp::Credentials,
}

/// One built-in scanner.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScannerEntry {
    /// The stable name used in `--scanners`, scan requests and observations.
    pub name: &'static str,
    /// A short label for people (the UI's checkbox).
    pub label: &'static str,
    /// Discovery or per-host.
    pub kind: ScannerKind,
    /// What it needs from the machine.
    pub needs: Needs,
    /// Run by a scan that names no scanner (Docker only where an engine is configured).
    pub default: bool,
    /// Builds it.
    #[serde(skip)]
    pub build: fn(&BuildSettings) -> Box<dyn Scanner>,
}

const RAW: Needs = Needs {
    raw_sockets: true,
    docker: false,
};
const DOCKER: Needs = Needs {
    raw_sockets: false,
    docker: true,
};
const NOTHING: Needs = Needs {
    raw_sockets: false,
    docker: false,
};

/// Every built-in scanner, in the order a pipeline runs them.
pub const SCANNERS: &[ScannerEntry] = &[
    ScannerEntry {
        name: "arp",
        label: "ARP",
        kind: ScannerKind::Discovery,
        needs: RAW,
        default: true,
        build: |_| Box::new(ArpScanner::default()),
    },
    // IPv6 links: the all-nodes multicast echo and a router solicitation, at the Ethernet layer.
    ScannerEntry {
        name: "ndp",
        label: "IPv6 neighbours",
        kind: ScannerKind::Discovery,
        needs: RAW,
        default: true,
        build: |_| Box::new(NdpScanner::default()),
    },
    // Raw sockets give it timestamp requests and TTLs, but it runs without them (echo over the
    // unprivileged ICMP socket, or a warning saying it cannot): it needs nothing to be run.
    ScannerEntry {
        name: "icmp",
        label: "ICMP",
        kind: ScannerKind::Discovery,
        needs: NOTHING,
        default: true,
        // The subnets ARP sweeps are left to it, as by tcp-ping.
        build: |s| {
            Box::new(IcmpScanner::new(IcmpSettings {
                skip: s.arp_subnets.clone(),
                ..IcmpSettings::default()
            }))
        },
    },
    ScannerEntry {
        name: "tcp-ping",
        label: "TCP ping",
        kind: ScannerKind::Discovery,
        needs: NOTHING,
        default: true,
        build: |s| {
            Box::new(TcpPing {
                skip: s.arp_subnets.clone(),
                ..TcpPing::default()
            })
        },
    },
    ScannerEntry {
        name: "tcp",
        label: "TCP ports",
        kind: ScannerKind::PerHost,
        needs: NOTHING,
        default: true,
        build: |s| {
            Box::new(TcpScanner::new(
                s.catalogue.clone(),
                TcpSettings {
                    identify: s.identify,
                    syn: s.raw_sockets,
                    ..TcpSettings::default()
                },
            ))
        },
    },
    ScannerEntry {
        name: "udp",
        label: "UDP",
        kind: ScannerKind::PerHost,
        needs: NOTHING,
        default: true,
        build: |_| Box::new(UdpScanner::default()),
    },
    // SNMP agents: system group, interfaces, ARP cache, forwarding tables, LLDP neighbours.
    // Not run unless named (or given a community): a full walk is more than a scan asks of a
    // host by default.
    ScannerEntry {
        name: "snmp",
        label: "SNMP",
        kind: ScannerKind::PerHost,
        needs: NOTHING,
        default: false,
        build: |s| {
            Box::new(SnmpScanner::new(SnmpSettings {
                communities: s.snmp.communities.clone(),
                users: s.snmp.users.clone(),
                ..Default::default()
            }))
        },
    },
    ScannerEntry {
        name: "names",
        label: "Names (DNS)",
        kind: ScannerKind::PerHost,
        needs: NOTHING,
        default: true,
        build: |_| Box::new(NameScanner::default()),
    },
    ScannerEntry {
        name: "docker",
        label: "Docker",
        kind: ScannerKind::Discovery,
        needs: DOCKER,
        default: true,
        build: |s| {
            Box::new(DockerScanner::new(DockerSettings {
                host: None,
                host_ip: s.docker_host_ip,
            }))
        },
    },
];

/// The entry named `name`.
pub fn find(name: &str) -> Option<&'static ScannerEntry> {
    SCANNERS.iter().find(|e| e.name == name)
}

/// Every scanner's name, in pipeline order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SCANNERS.iter().map(|e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_builds_the_scanner_it_names() {
        let settings = BuildSettings::default();
        for e in SCANNERS {
            let s = (e.build)(&settings);
            assert_eq!(s.name(), e.name, "entry {} builds {}", e.name, s.name());
            assert_eq!(s.kind(), e.kind, "{}: kind", e.name);
            assert_eq!(s.needs(), e.needs, "{}: needs", e.name);
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        let mut seen = std::collections::HashSet::new();
        for n in names() {
            assert!(seen.insert(n), "{n} listed twice");
            assert_eq!(find(n).map(|e| e.name), Some(n));
        }
        assert!(find("syn").is_none());
    }
}

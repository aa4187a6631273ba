//! Scan settings: what to scan, which ports, which scanners, how politely. Stored with every
//! scan run, so it is serde-serialisable and carries no runtime state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::targets::TargetSpec;

/// Which ports to probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// The most common N ports of the project's ranked list (`top100`, `top1000`).
    Top(u16),
    /// Every port, 1-65535.
    All,
    /// Explicit ports and inclusive ranges, as typed: `22,80,8000-8100`.
    List(Vec<(u16, u16)>),
}

/// A `--ports` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ports {token:?}: {reason}")]
pub struct PortSpecError {
    /// The part that is wrong.
    pub token: String,
    /// Why it cannot be used (`empty port list`, `range ends before it starts`), for people.
    pub reason: String,
}

impl Default for PortSpec {
    fn default() -> Self {
        PortSpec::Top(1000)
    }
}

impl PortSpec {
    /// The ports of an explicit list or of `all`, sorted, without duplicates; `None` for a
    /// top-N list, which the port scanner resolves from its ranked table.
    pub fn explicit_ports(&self) -> Option<Vec<u16>> {
        match self {
            PortSpec::Top(_) => None,
            PortSpec::All => Some((1..=u16::MAX).collect()),
            PortSpec::List(ranges) => {
                let mut v: Vec<u16> = ranges.iter().flat_map(|(a, b)| *a..=*b).collect();
                v.sort_unstable();
                v.dedup();
                Some(v)
            }
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Top(n) => write!(f, "top{n}"),
            PortSpec::All => f.write_str("all"),
            PortSpec::List(r) => {
                let parts: Vec<String> = r
                    .iter()
                    .map(|(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl FromStr for PortSpec {
    type Err = PortSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "top100" => return Ok(PortSpec::Top(100)),
            "top1000" => return Ok(PortSpec::Top(1000)),
            "all" => return Ok(PortSpec::All),
            "" => {
                return Err(PortSpecError {
                    token: s.into(),
                    reason: "empty port list".into(),
                });
            }
            _ => {}
        }
        let port = |t: &str, whole: &str| -> Result<u16, PortSpecError> {
            match t.trim().parse::<u16>() {
                Ok(p) if p > 0 => Ok(p),
                _ => Err(PortSpecError {
                    token: whole.into(),
                    reason:
                        "expected a port 1-65535, a range like 8000-8100, top100, top1000 or all"
                            .into(),
                }),
            }
        };
        let mut out = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (port(a, part)?, port(b, part)?),
                None => {
                    let p = port(part, part)?;
                    (p, p)
                }
            };
            if b < a {
                return Err(PortSpecError {
                    token: part.into(),
                    reason: "range ends before it starts".into(),
                });
            }
            out.push((a, b));
        }
        Ok(PortSpec::List(out))
    }
}

impl Serialize for PortSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Everything that defines a scan. Stored as JSON with each scan run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanConfig {
    /// Targets and exclusions; no target means the attached subnets.
    pub targets: TargetSpec,
    /// Ports to probe.
    pub ports: PortSpec,
    /// Ports never to probe, on any host (added to the printer ports unless
    /// `probe_printer_ports`).
    pub exclude_ports: Vec<u16>,
    /// Scanners to run, by name; empty means every available one.
    pub scanners: Vec<String>,
    /// Probes per second for the whole scan, across all hosts; `None` is unlimited.
    pub rate: Option<u32>,
    /// Probes in flight at once, across all hosts.
    pub concurrency: usize,
    /// Hosts whose per-host scans run at once.
    pub hosts_in_flight: usize,
    /// Allow targets larger than a /16.
    pub allow_large: bool,
    /// Send probes to printer ports (9100-9107), which print whatever reaches them. Off by default.
    pub probe_printer_ports: bool,
    /// Extra rounds for addresses that did not answer discovery.
    pub retries: u8,
    /// The first timeout of a probe, in milliseconds, before the measured RTT refines it.
    pub timeout_ms: u64,
    /// The longest a job may run, in milliseconds (default 6 h); a daemon stops it then and
    /// ends it failed, saying so. Absent in configurations stored before it existed: the default.
    pub max_duration_ms: u64,
    /// How long a job's progress counters may stand still, in milliseconds (default 10 min),
    /// before a daemon decides the scan stalled, stops it and ends it failed, saying so.
    pub stall_timeout_ms: u64,
}

/// The default [`ScanConfig::max_duration_ms`]: 6 hours.
pub const DEFAULT_MAX_DURATION_MS: u64 = 6 * 60 * 60 * 1000;
/// The default [`ScanConfig::stall_timeout_ms`]: 10 minutes.
pub const DEFAULT_STALL_TIMEOUT_MS: u64 = 10 * 60 * 1000;

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            targets: TargetSpec::default(),
            ports: PortSpec::default(),
            exclude_ports: Vec::new(),
            scanners: Vec::new(),
            rate: None,
            concurrency: 512,
            hosts_in_flight: 256,
            allow_large: false,
            probe_printer_ports: false,
            retries: 2,
            timeout_ms: 1000,
            max_duration_ms: DEFAULT_MAX_DURATION_MS,
            stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
        }
    }
}

/// The printer ports skipped by default: a JetDirect port prints whatever reaches it.
pub const PRINTER_PORTS: std::ops::RangeInclusive<u16> = 9100..=9107;

impl ScanConfig {
    /// Whether `port` may be probed under this configuration.
    pub fn port_allowed(&self, port: u16) -> bool {
        !(self.exclude_ports.contains(&port)
            || (!self.probe_printer_ports && PRINTER_PORTS.contains(&port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_parse_and_print() {
        for s in ["top100", "top1000", "all", "22", "22,80,8000-8100"] {
            let p: PortSpec = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        let p: PortSpec = "80, 22,20-23".parse().unwrap();
        assert_eq!(p.explicit_ports().unwrap(), vec![20, 21, 22, 23, 80]);
        assert_eq!(PortSpec::All.explicit_ports().unwrap().len(), 65535);
        assert_eq!(PortSpec::Top(100).explicit_ports(), None);
    }

    #[test]
    fn bad_port_specs_name_the_part() {
        for (s, part) in [
            ("0", "0"),
            ("22,x", "x"),
            ("65536", "65536"),
            ("90-80", "90-80"),
            ("", ""),
            ("top5", "top5"),
        ] {
            let e = s.parse::<PortSpec>().unwrap_err();
            assert_eq!(e.token, part, "{s}");
        }
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = ScanConfig {
            targets: TargetSpec::new(&["10.77.0.0/24"], &["10.77.0.1"]).unwrap(),
            ports: "22,80".parse().unwrap(),
            rate: Some(500),
            ..ScanConfig::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"ports\":\"22,80\""), "{json}");
        assert_eq!(serde_json::from_str::<ScanConfig>(&json).unwrap(), c);
        assert_eq!(
            serde_json::from_str::<ScanConfig>("{}").unwrap(),
            ScanConfig::default()
        );
    }

    #[test]
    fn configs_stored_before_the_job_bounds_get_the_defaults() {
        let old = r#"{"targets":{"include":["10.77.0.0/24"],"exclude":[]},"ports":"22,80","exclude_ports":[],"scanners":["tcp"],"rate":null,"concurrency":512,"hosts_in_flight":256,"allow_large":false,"probe_printer_ports":false,"retries":2,"timeout_ms":1000}"#;
        let c: ScanConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c.max_duration_ms, DEFAULT_MAX_DURATION_MS);
        assert_eq!(c.stall_timeout_ms, DEFAULT_STALL_TIMEOUT_MS);
        let json = serde_json::to_string(&ScanConfig {
            max_duration_ms: 5,
            stall_timeout_ms: 7,
            ..c
        })
        .unwrap();
        let back: ScanConfig = serde_json::from_str(&json).unwrap();
        assert_eq!((back.max_duration_ms, back.stall_timeout_ms), (5, 7));
    }

    #[test]
    fn printer_ports_are_skipped_unless_asked() {
        let c = ScanConfig::default();
        assert!(!c.port_allowed(9100));
        assert!(c.port_allowed(80));
        let c = ScanConfig {
            probe_printer_ports: true,
            exclude_ports: vec![80],
            ..c
        };
        assert!(c.port_allowed(9100));
        assert!(!c.port_allowed(80));
    }
}

//! The ranked port lists behind `--ports top100|top1000`, and the port list of a scan (data
//! compiled in from `data/top-tcp-ports.txt`, ranked by nmap-services frequency; `top1000`
//! adds the ports of [`IDENTIFIED_TCP`]).

use std::sync::OnceLock;

use crate::{PortSpec, ScanConfig};

const TOP_TCP: &str = include_str!("../data/top-tcp-ports.txt");

/// The ranked TCP ports with their usual names, most commonly open first.
pub fn ranked_tcp() -> &'static [(u16, &'static str)] {
    static LIST: OnceLock<Vec<(u16, &'static str)>> = OnceLock::new();
    LIST.get_or_init(|| {
        TOP_TCP
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let port = parts.next()?.parse().ok()?;
                Some((port, parts.next().unwrap_or("unknown")))
            })
            .collect()
    })
}

/// Ports outside the ranked top 1,000 that the service catalogue has a probe for (Redis, MQTT,
/// memcached, AMQP, media servers…): `top1000` and longer top lists probe them too, after the
/// ranked ones, so the default scan looks where we know how to identify. A test of the
/// scanners crate keeps this list and the catalogue's probes in step.
pub const IDENTIFIED_TCP: &[(u16, &str)] = &[
    (1883, "mqtt"),
    (6379, "redis"),
    (11211, "memcache"),
    (5672, "amqp"),
    (6380, "redis"),
    (5433, "postgresql"),
    (8123, "http"),
    (32400, "http"),
    (8096, "http"),
    (8554, "rtsp"),
    (8989, "http"),
    (7878, "http"),
    (591, "http"),
];

/// The usual name of a TCP port, from the ranked list (a hint, never an identification).
pub fn tcp_port_name(port: u16) -> Option<&'static str> {
    ranked_tcp()
        .iter()
        .chain(IDENTIFIED_TCP)
        .find(|(p, _)| *p == port)
        .map(|(_, n)| *n)
}

/// The TCP ports a scan probes on each host, in probing order (most common first for top-N
/// lists), without the ports the configuration excludes (printer ports unless asked).
pub fn tcp_ports(config: &ScanConfig) -> Vec<u16> {
    let ports: Vec<u16> = match &config.ports {
        PortSpec::Top(n) => {
            let ranked = ranked_tcp().iter().take(usize::from(*n));
            let identified = IDENTIFIED_TCP.iter().filter(|_| *n >= 1000);
            ranked.chain(identified).map(|(p, _)| *p).collect()
        }
        other => other.explicit_ports().unwrap_or_default(),
    };
    ports
        .into_iter()
        .filter(|p| config.port_allowed(*p))
        .collect()
}

/// The printer ports (9100-9107) a scan's port list names but may not send data to: a SYN
/// sweep may still learn that they are open (a SYN carries no data and the handshake is never
/// completed), so the device can be typed as a printer. Empty with `probe_printer_ports` (they
/// are in [`tcp_ports`] then) and for ports the configuration excludes.
pub fn printer_ports_to_sweep(config: &ScanConfig) -> Vec<u16> {
    if config.probe_printer_ports {
        return Vec::new();
    }
    let named: Vec<u16> = match &config.ports {
        PortSpec::Top(n) => ranked_tcp()
            .iter()
            .take(usize::from(*n))
            .map(|(p, _)| *p)
            .collect(),
        other => other.explicit_ports().unwrap_or_default(),
    };
    named
        .into_iter()
        .filter(|p| crate::config::PRINTER_PORTS.contains(p) && !config.exclude_ports.contains(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranked_list_has_a_thousand_distinct_ports() {
        let list = ranked_tcp();
        assert_eq!(list.len(), 1000);
        let mut ports: Vec<u16> = list.iter().map(|(p, _)| *p).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 1000);
        assert_eq!(list[0], (80, "http"));
        assert_eq!(tcp_port_name(22), Some("ssh"));
        assert_eq!(tcp_port_name(6379), Some("redis"));
    }

    #[test]
    fn identified_ports_are_distinct_and_outside_the_ranked_list() {
        let mut seen: Vec<u16> = ranked_tcp().iter().map(|(p, _)| *p).collect();
        for (p, _) in IDENTIFIED_TCP {
            assert!(!seen.contains(p), "{p} twice");
            seen.push(*p);
        }
        let top100 = ScanConfig {
            ports: PortSpec::Top(100),
            ..ScanConfig::default()
        };
        assert!(!tcp_ports(&top100).contains(&6379));
    }

    #[test]
    fn printer_ports_are_left_out_by_default() {
        let c = ScanConfig::default();
        let ports = tcp_ports(&c);
        assert!(!ports.contains(&9100));
        // The ranked thousand without the printer ports, and the identified ports after them.
        let n = IDENTIFIED_TCP.len();
        assert!(ports.len() < 1000 + n && ports.len() > 990 + n);
        assert!(ports.contains(&6379) && ports.contains(&1883));
        let c = ScanConfig {
            probe_printer_ports: true,
            ports: "9100,80".parse().unwrap(),
            ..c
        };
        assert_eq!(tcp_ports(&c), vec![80, 9100]);
        // 9100 (jetdirect) ranks in the top 100 and is left out.
        let c = ScanConfig {
            ports: PortSpec::Top(100),
            ..ScanConfig::default()
        };
        assert_eq!(tcp_ports(&c).len(), 99);
        assert_eq!(printer_ports_to_sweep(&c), vec![9100]);
        let asked = ScanConfig {
            probe_printer_ports: true,
            ..c.clone()
        };
        assert!(printer_ports_to_sweep(&asked).is_empty());
        let excluded = ScanConfig {
            exclude_ports: vec![9100],
            ..c
        };
        assert!(printer_ports_to_sweep(&excluded).is_empty());
    }
}

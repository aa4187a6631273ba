//! Benchmarks of scanopy (criterion, plus the `store` bench binary): see `benches/`. This
//! library holds what several benches share.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Utc;
use scanopy_core::{Fact, MacAddr, Observation, PortFact, PortState, Transport};

/// Observations of hosts `from..to` of 10.64.0.0/14 (10.64.0.1 upwards): a MAC each (Synology OUI) and `ports`
/// open ports (8000 upwards), as a scan of a large LAN would report them.
pub fn lan_observations(from: u32, to: u32, ports: u16) -> Vec<Observation> {
    let at = Utc::now();
    let mut out = Vec::with_capacity(((to - from) as usize) * (usize::from(ports) + 1));
    for i in from..to {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a40_0000 + i + 1));
        let b = i.to_be_bytes();
        let mac = Fact::Mac {
            mac: MacAddr([0, 0x11, 0x32, b[1], b[2], b[3]]),
        };
        out.push(Observation {
            ip,
            scanner: "bench".into(),
            at,
            fact: mac,
        });
        for p in 0..ports {
            let fact = Fact::Port(PortFact::state(8000 + p, Transport::Tcp, PortState::Open));
            out.push(Observation {
                ip,
                scanner: "bench".into(),
                at,
                fact,
            });
        }
    }
    out
}

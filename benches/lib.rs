//! Benchmarks of scanopy (criterion, plus the `store` bench binary): see `benches/`. This
//! library holds what several benches share.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Utc;
use ipnet::{IpNet, Ipv4Net};
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

/// The /24s of 10.64.0.0/14 that [`lan_observations`]`(0, devices, _)` fills, in order.
pub fn lan_subnets(devices: u32) -> Vec<IpNet> {
    // Device i is 10.64.0.0 + i + 1: the last one is in /24 number devices / 256.
    (0..=devices / 256)
        .filter_map(|k| Ipv4Net::new(Ipv4Addr::from(0x0a40_0000 + (k << 8)), 24).ok())
        .map(IpNet::V4)
        .collect()
}

/// Fills `store` with one network named `bench` whose subnets are the /24s [`lan_subnets`]
/// gives, and `devices` devices of [`lan_observations`] with `ports` open ports each, applied
/// in batches of 500 as one finished scan run. Returns the network's id.
pub async fn seed(
    store: &scanopy_store::SqlStore,
    devices: u32,
    ports: u16,
) -> Result<uuid::Uuid, scanopy_store::StoreError> {
    use scanopy_store::prelude::*;
    const BATCH: u32 = 500;
    let whole: IpNet = "10.64.0.0/14".parse().expect("a CIDR block");
    let net = store
        .create_network("bench", &lan_subnets(devices))
        .await?
        .id;
    let run = store
        .start_scan(scanopy_store::NewScanRun {
            network: net,
            daemon: None,
            config: scanopy_core::ScanConfig::default(),
            targets: vec![whole],
        })
        .await?
        .id;
    let mut from = 0;
    while from < devices {
        let to = (from + BATCH).min(devices);
        store
            .apply_batch(
                run,
                uuid::Uuid::new_v4(),
                &lan_observations(from, to, ports),
            )
            .await?;
        from = to;
    }
    store
        .finish_scan(run, scanopy_store::RunStatus::Done)
        .await?;
    Ok(net)
}

//! Run with `cargo run -p scanopy-examples --example store`.
//!
//! Opens a store (an SQLite file in a temporary directory), scans 127.0.0.1 into it twice, and
//! shows what it holds and what happened: the devices with their history, and the events a
//! consumer reads from a cursor, resuming where it left off.

use scanopy_core::{Pipeline, ScanConfig, ScanEvent, TargetSpec};
use scanopy_scanners::TcpScanner;
use scanopy_store::prelude::*;
use scanopy_store::{DeviceFilter, NewScanRun, SqlStore};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("scanopy-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = SqlStore::open(&dir.join("scanopy.db")).await?;
    let network = store
        .create_network("loopback", &["127.0.0.0/8".parse()?])
        .await?;

    // Something to find: a listener on 127.0.0.1.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();

    let mut cursor = 0;
    for round in 1..=2 {
        let targets = TargetSpec::new(&["127.0.0.1"], &[] as &[&str])?;
        let config = ScanConfig {
            targets: targets.clone(),
            ports: format!("{port}").parse()?,
            ..ScanConfig::default()
        };
        let run = store
            .start_scan(NewScanRun {
                network: network.id,
                daemon: None,
                config: config.clone(),
                targets: vec!["127.0.0.1/32".parse()?],
            })
            .await?;
        let set = targets.build(&Default::default(), &[], false)?;
        let (events, _) = Pipeline::new()
            .with(TcpScanner::default())
            .start(config, set, Default::default())
            .collect()
            .await;
        let observations: Vec<_> = events
            .into_iter()
            .filter_map(|e| {
                if let ScanEvent::Observation(o) = e {
                    Some(o)
                } else {
                    None
                }
            })
            .collect();
        // One batch with an id: a daemon that retries it changes nothing.
        let changes = store
            .apply_batch(run.id, uuid::Uuid::new_v4(), &observations)
            .await?;
        store
            .finish_scan(run.id, scanopy_store::RunStatus::Done)
            .await?;
        println!(
            "scan {round}: {} new device(s), {} new service(s)",
            changes.devices_new.len(),
            changes.services_new.len()
        );

        // A consumer reads the events after its cursor.
        for e in store.events(cursor, 100).await? {
            println!("  event #{} {} {}", e.seq, e.kind, e.detail);
            cursor = e.seq;
        }
    }

    let page = store
        .devices(
            &DeviceFilter {
                network: Some(network.id),
                ..Default::default()
            },
            50,
            None,
        )
        .await?;
    for d in &page.items {
        println!(
            "device {} first seen {} last seen {}, services: {:?}",
            d.device.label(),
            d.device.first_seen,
            d.device.last_seen,
            d.device
                .services
                .iter()
                .map(|s| (s.port, s.name.as_str()))
                .collect::<Vec<_>>()
        );
    }
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

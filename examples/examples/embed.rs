//! Run with `cargo run -p scanopy-examples --example embed` (scans 127.0.0.1), or pass targets:
//! `cargo run -p scanopy-examples --example embed -- 192.168.1.0/24`.
//!
//! The ten-line embedding: scan targets from a program with the built-in port scanner and
//! print each device found as a line of JSON.

use scanopy_core::{Inventory, Pipeline, ScanConfig, ScanEvent, TargetSpec};
use scanopy_scanners::TcpScanner;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut targets: Vec<String> = std::env::args().skip(1).collect();
    if targets.is_empty() {
        targets.push("127.0.0.1".into());
    }
    let set = TargetSpec::new(&targets, &[] as &[&str])?.build(&Default::default(), &[], false)?;
    let config = ScanConfig {
        ports: "top100".parse()?,
        ..ScanConfig::default()
    };
    let scan = Pipeline::new().with(Box::new(TcpScanner::default())).start(
        config,
        set,
        Default::default(),
    );
    let (events, summary) = scan.collect().await;

    let mut inventory = Inventory::default();
    for event in &events {
        if let ScanEvent::Observation(o) = event {
            inventory.apply(o);
        }
    }
    for device in inventory.devices() {
        println!("{}", serde_json::to_string(&device)?);
    }
    eprintln!(
        "{} ports probed, warnings: {:?}",
        summary.progress.ports_probed, summary.warnings
    );
    Ok(())
}

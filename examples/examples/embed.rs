//! Run with `cargo run -p scanopy-examples --example embed` (scans 127.0.0.1), or pass targets:
//! `cargo run -p scanopy-examples --example embed -- 192.168.1.0/24`.
//!
//! The ten-line embedding: scan targets from a program with the built-in port scanner and
//! print each device found as a line of JSON.

use scanopy_core::{Pipeline, ScanConfig, TargetSet};
use scanopy_scanners::TcpScanner;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut targets: Vec<String> = std::env::args().skip(1).collect();
    if targets.is_empty() {
        targets.push("127.0.0.1".into());
    }
    let set = TargetSet::parse(&targets)?;
    let config = ScanConfig {
        ports: "top100".parse()?,
        ..ScanConfig::default()
    };
    let (inventory, summary) = Pipeline::new()
        .with(TcpScanner::default())
        .start(config, set, Default::default())
        .inventory()
        .await;
    for device in inventory.devices() {
        println!("{}", serde_json::to_string(&device)?);
    }
    eprintln!(
        "{} ports probed, warnings: {:?}",
        summary.progress.ports_probed, summary.warnings
    );
    Ok(())
}

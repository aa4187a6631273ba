//! Seeds a server's data directory with a large inventory, for the server benchmark
//! (`bench/server.sh`) and the browser test's large map: one network, N devices of
//! 10.64.0.0/14 with a MAC and some open ports each (`scanopy_benches::lan_observations`),
//! ingested as one finished scan run. The network's subnets are the /24s the devices fill (40
//! for 10,000 devices), so the map has a group per /24, as a campus would.
//!
//! `seed DATA_DIR [DEVICES] [PORTS_PER_DEVICE]` — 10,000 devices and 10 ports by default, at
//! most 250,000 devices.
//! The database is `DATA_DIR/scanopy.db`, the file `scanopy-server --data-dir DATA_DIR` opens.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use scanopy_store::SqlStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: seed DATA_DIR [DEVICES] [PORTS_PER_DEVICE]");
        return ExitCode::from(2);
    };
    let devices: u32 = match args.next().map(|s| s.parse()) {
        None => 10_000,
        Some(Ok(n)) if n <= 250_000 => n,
        Some(_) => {
            eprintln!("seed: DEVICES is a number up to 250000");
            return ExitCode::from(2);
        }
    };
    let ports: u16 = match args.next().map(|s| s.parse()) {
        None => 10,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("seed: PORTS_PER_DEVICE is a number");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("seed: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let start = Instant::now();
    let store = match SqlStore::open(&dir.join("scanopy.db")).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("seed: cannot open the store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = scanopy_benches::seed(&store, devices, ports).await;
    match result {
        Ok(net) => {
            println!(
                "seeded {devices} devices with {ports} open ports each into {} (network {net}) in {:.2} s",
                dir.join("scanopy.db").display(),
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed: {e}");
            ExitCode::FAILURE
        }
    }
}

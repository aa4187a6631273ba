//! Store benchmarks (issue #4): ingest 10,000 devices with 100,000 services, a rescan of the
//! same 10,000 with no change, and a page of 100 devices out of 10,000 — on SQLite, and on
//! PostgreSQL when `SCANOPY_PG_URL` names a server (`testlan/postgres.sh up`).
//!
//! Run with `cargo bench -p scanopy-benches --bench store`.

use std::time::Instant;

use scanopy_core::{Observation, ScanConfig};
use scanopy_store::prelude::*;
use scanopy_store::{DeviceFilter, NewScanRun, SqlStore};
use uuid::Uuid;

/// Devices seeded (`SCANOPY_BENCH_DEVICES` sets another count, e.g. 100000).
fn devices() -> u32 {
    std::env::var("SCANOPY_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &u32| *n >= BATCH && n % BATCH == 0)
        .unwrap_or(10_000)
}
const SERVICES_PER_DEVICE: u16 = 10;
const BATCH: u32 = 500;

async fn run(name: &str, store: &SqlStore) {
    let net = store
        .create_network("bench", &["10.64.0.0/14".parse().unwrap()])
        .await
        .unwrap()
        .id;
    let new_run = || NewScanRun {
        network: net,
        daemon: None,
        config: ScanConfig::default(),
        targets: vec!["10.64.0.0/14".parse().unwrap()],
    };
    let n_devices = devices();
    let batches: Vec<Vec<Observation>> = (0..n_devices / BATCH)
        .map(|k| scanopy_benches::lan_observations(k * BATCH, (k + 1) * BATCH, SERVICES_PER_DEVICE))
        .collect();

    let r = store.start_scan(new_run()).await.unwrap().id;
    let start = Instant::now();
    for b in &batches {
        store.apply_batch(r, Uuid::new_v4(), b).await.unwrap();
    }
    let ingest = start.elapsed();

    let r = store.start_scan(new_run()).await.unwrap().id;
    let start = Instant::now();
    let mut changed = 0;
    for b in &batches {
        let c = store.apply_batch(r, Uuid::new_v4(), b).await.unwrap();
        changed += c.devices_new.len()
            + c.devices_changed.len()
            + c.services_new.len()
            + c.services_changed.len();
    }
    let rescan = start.elapsed();
    assert_eq!(changed, 0, "an unchanged rescan reports no change");

    let filter = DeviceFilter {
        network: Some(net),
        ..Default::default()
    };
    let first = store.devices(&filter, 100, None).await.unwrap();
    let start = Instant::now();
    let rounds = 20;
    let mut cursor = first.next_cursor.clone();
    for _ in 0..rounds {
        let page = store
            .devices(&filter, 100, cursor.as_deref())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 100);
        cursor = page.next_cursor;
    }
    let page = start.elapsed() / rounds;
    println!(
        "{name:<10} ingest {n_devices} devices / {} services: {:>7.2} s | unchanged rescan: {:>7.2} s | page of 100: {:>6.1} ms",
        n_devices * u32::from(SERVICES_PER_DEVICE),
        ingest.as_secs_f64(),
        rescan.as_secs_f64(),
        page.as_secs_f64() * 1000.0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("scanopy-bench-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqlStore::open(&dir.join("bench.db")).await.unwrap();
    run("sqlite", &sqlite).await;
    drop(sqlite);
    std::fs::remove_dir_all(&dir).ok();
    match std::env::var("SCANOPY_PG_URL") {
        Ok(url) => {
            postgres_on_a_fresh_database(&url).await;
        }
        Err(_) => println!(
            "postgresql skipped: set SCANOPY_PG_URL (testlan/postgres.sh up; testlan/postgres.sh url)"
        ),
    }
}

/// A fresh database on the server, so the numbers start from empty.
async fn postgres_on_a_fresh_database(admin_url: &str) {
    let db = format!("scanopy_bench_{}", Uuid::new_v4().simple());
    let status = std::process::Command::new("psql")
        .args([admin_url, "-q", "-c", &format!("CREATE DATABASE {db}")])
        .status();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    match status {
        Ok(s) if s.success() => {
            let store = SqlStore::connect_postgres(&format!("{base}/{db}"))
                .await
                .unwrap();
            run("postgresql", &store).await;
        }
        _ => println!("postgresql skipped: psql could not create a database"),
    }
}

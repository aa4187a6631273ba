//! Criterion bench of SQLite ingest (issue #7): 1,000 devices with 10 services each, applied in
//! two batches to a fresh in-memory store per iteration. The full-size numbers (10,000 devices,
//! both backends) come from the `store` bench binary.
//!
//! Run with `cargo bench -p scanopy-benches --bench store_ingest`.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Utc;
use criterion::{BatchSize, Criterion, criterion_main};
use scanopy_core::{Fact, MacAddr, Observation, PortFact, PortState, ScanConfig, Transport};
use scanopy_store::{NewScanRun, SqlStore, Store};
use uuid::Uuid;

fn observations(from: u32, to: u32) -> Vec<Observation> {
    let at = Utc::now();
    let mut out = Vec::new();
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
        for p in 0..10u16 {
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

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let batches = [observations(0, 500), observations(500, 1000)];
    let mut group = c.benchmark_group("sqlite");
    group.sample_size(10);
    group.bench_function("ingest 1,000 devices / 10,000 services (in memory)", |b| {
        b.iter_batched(
            || {
                rt.block_on(async {
                    let store = SqlStore::in_memory().await.unwrap();
                    let net = store
                        .create_network("bench", &["10.64.0.0/16".parse().unwrap()])
                        .await
                        .unwrap();
                    let run = store
                        .start_scan(NewScanRun {
                            network: net.id,
                            daemon: None,
                            config: ScanConfig::default(),
                            targets: vec![],
                        })
                        .await
                        .unwrap();
                    (store, run.id)
                })
            },
            |(store, run)| {
                rt.block_on(async {
                    for b in &batches {
                        store.apply_batch(run, Uuid::new_v4(), b).await.unwrap();
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

// criterion_group! defines an undocumented `pub fn benches`: keep it in a private module.
mod group {
    use super::*;
    criterion::criterion_group!(benches, ingest);
}
use group::benches;

criterion_main!(benches);

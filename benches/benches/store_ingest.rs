//! Criterion bench of SQLite ingest (issue #7): 1,000 devices with 10 services each, applied in
//! two batches to a fresh in-memory store per iteration. The full-size numbers (10,000 devices,
//! both backends) come from the `store` bench binary.
//!
//! Run with `cargo bench -p scanopy-benches --bench store_ingest`.

use criterion::{BatchSize, Criterion, criterion_main};
use scanopy_core::ScanConfig;
use scanopy_store::prelude::*;
use scanopy_store::{NewScanRun, SqlStore};
use uuid::Uuid;

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let batches = [
        scanopy_benches::lan_observations(0, 500, 10),
        scanopy_benches::lan_observations(500, 1000, 10),
    ];
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

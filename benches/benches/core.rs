//! Benchmarks of scanopy-core: identity merge of 10,000 devices, target parsing, topology build
//! and DOT export for 10,000 devices.
//!
//! Run with `cargo bench -p scanopy-benches --bench core`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use scanopy_core::{
    Fact, Inventory, InventoryConfig, MacAddr, Observation, PortFact, PortState, TargetSpec,
    Topology, Transport,
};

/// 10,000 hosts on a /18: a MAC each, a host name, and three open ports.
fn observations() -> Vec<Observation> {
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let mut out = Vec::with_capacity(60_000);
    for i in 0u32..10_000 {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a40_0000 + i + 1));
        let b = i.to_be_bytes();
        let mac = MacAddr([0x00, 0x11, 0x32, b[1], b[2], b[3]]);
        let o = |fact| Observation {
            ip,
            scanner: "bench".into(),
            at,
            fact,
        };
        out.push(o(Fact::Mac { mac }));
        out.push(o(Fact::Hostname {
            name: format!("host{i}.lan"),
            source: "ptr".into(),
        }));
        for port in [22, 80, 443] {
            out.push(o(Fact::Port(PortFact::state(
                port,
                Transport::Tcp,
                PortState::Open,
            ))));
        }
    }
    out
}

fn config() -> InventoryConfig {
    InventoryConfig {
        network_id: Default::default(),
        subnets: vec!["10.64.0.0/18".parse().unwrap()],
    }
}

fn merge(c: &mut Criterion) {
    let obs = observations();
    c.bench_function("merge 10k devices (50k observations)", |b| {
        b.iter(|| {
            let mut inv = Inventory::new(config());
            inv.apply_all(black_box(&obs));
            black_box(inv.devices().len())
        })
    });
}

fn topology(c: &mut Criterion) {
    let mut inv = Inventory::new(config());
    inv.apply_all(&observations());
    let devices = inv.devices();
    c.bench_function("topology build + DOT, 10k devices", |b| {
        b.iter(|| black_box(Topology::build(black_box(&devices)).to_dot().len()))
    });
}

fn targets(c: &mut Criterion) {
    let tokens = [
        "10.0.0.0/16",
        "10.1.0.1-200",
        "10.2.0.1-10.2.3.4",
        "fd00::1-ff",
        "10.3.3.3",
    ];
    let exclude = ["10.0.5.0/24", "10.0.0.1"];
    c.bench_function("target parse + build (5 tokens, 2 exclusions)", |b| {
        b.iter(|| {
            let spec = TargetSpec::new(black_box(&tokens), black_box(&exclude)).unwrap();
            black_box(spec.build(&Default::default(), &[], false).unwrap().len())
        })
    });
}

// criterion_group! defines an undocumented `pub fn benches`: keep it in a private module.
mod group {
    use super::*;
    criterion_group!(benches, merge, topology, targets);
}
use group::benches;
criterion_main!(benches);

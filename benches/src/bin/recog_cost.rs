//! What compiling and using one recog database costs a process: time and resident memory of
//! parsing and compiling `snmp_sysdescr`, then of a first match that tries every pattern.
//! Run by hand, in release: `cargo run --release -p scanopy-benches --bin recog_cost`
//! (BENCHMARKS.md, "SNMP and layer 2").

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "snmp_sysdescr".into());
    let before = rss_kib();
    let t = std::time::Instant::now();
    let Some(db) = scanopy_scanners::recog::database(&name) else {
        eprintln!("recog_cost: no database {name:?}");
        std::process::exit(2);
    };
    let parsed = t.elapsed();
    let mid = rss_kib();
    let t = std::time::Instant::now();
    let found = db.first_match("scanopy test LAN router").is_some();
    let matched = t.elapsed();
    let after = rss_kib();
    println!(
        "{name}: {} fingerprints ({} unsupported); parse+compile {:.1} ms (+{} KiB RSS), a first match trying them all {:.1} ms (+{} KiB), matched: {found}",
        db.fingerprints.len(),
        db.unsupported().len(),
        parsed.as_secs_f64() * 1000.0,
        mid.saturating_sub(before),
        matched.as_secs_f64() * 1000.0,
        after.saturating_sub(mid),
    );
}

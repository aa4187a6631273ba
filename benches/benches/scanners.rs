//! Benchmarks of scanopy-scanners: service matching per response (the catalogue is a pure
//! function: bytes in, identification out).
//!
//! Run with `cargo bench -p scanopy-benches --bench scanners`.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use scanopy_scanners::Catalogue;

const NGINX: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 29 Nov 2026 19:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 96\r\nConnection: close\r\n\r\n<!doctype html><html><head><title>Scanopy test web</title></head><body>ok</body></html>\n";
const SSH: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
const UNKNOWN: &[u8] = b"\x00\x01\x02 some binary greeting nobody knows \xff\xfe";

fn matching(c: &mut Criterion) {
    let cat = Catalogue::builtin();
    c.bench_function("identify: ssh banner", |b| {
        b.iter(|| black_box(cat.identify("banner", black_box(SSH))))
    });
    c.bench_function(
        "identify: nginx HTTP response (after the home-lab rules)",
        |b| b.iter(|| black_box(cat.identify("http-get", black_box(NGINX)))),
    );
    c.bench_function("identify: unknown banner (every banner rule tried)", |b| {
        b.iter(|| black_box(cat.identify("banner", black_box(UNKNOWN))))
    });
}

// criterion_group! defines an undocumented `pub fn benches`: keep it in a private module.
mod group {
    use super::*;
    criterion::criterion_group!(benches, matching);
}
use group::benches;

criterion_main!(benches);

//! Benchmarks of scanopy (criterion): see `benches/`.

//! Counters for Prometheus (`GET /api/v1/metrics`, text format).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Named counters.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(&self, name: &str) {
        self.add(name, 1);
    }

    /// Adds `n` to a counter.
    pub fn add(&self, name: &str, n: u64) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry(name.to_owned()).or_default() += n;
    }

    /// The counters, as (name, value).
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

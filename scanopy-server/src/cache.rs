//! Answers of the busiest read routes (`GET /devices`, `GET /topology`), kept until the next
//! write this server makes or sees, and at most [`TTL`] (other servers on the same database
//! write too). Dashboards and maps poll these routes; between scans their answers do not change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// The longest an answer is served from the cache.
pub const TTL: Duration = Duration::from_secs(2);
/// The most answers kept.
pub const MAX_ENTRIES: usize = 512;
/// The most bytes of answers kept in all: 512 random pages of the devices list would be
/// ~70 MB, most of a large server's memory; an answer larger than this is never kept.
pub const MAX_BYTES: usize = 24 << 20;

struct Entry {
    generation: u64,
    at: Instant,
    body: Bytes,
    content_type: &'static str,
}

/// Answers by request key, each served only while no write has happened since it was
/// computed (its generation is current) and for at most [`TTL`].
#[derive(Default)]
pub struct ResponseCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
    /// One computation per key at a time: when an answer expires under load, one request
    /// computes it and the others wait for it, instead of all computing it at once.
    computing: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl ResponseCache {
    /// Something was written: every answer kept so far is stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current generation; read it before computing an answer to [`ResponseCache::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// A fresh answer for `key`.
    pub fn get(&self, key: &str) -> Option<(Bytes, &'static str)> {
        let now = self.generation();
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|e| e.generation == now && e.at.elapsed() < TTL)
            .map(|e| (e.body.clone(), e.content_type))
    }

    /// The lock under which `key` is computed.
    pub fn lock_for(&self, key: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut m = self.computing.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_ENTRIES {
            m.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        }
        m.entry(key.to_owned()).or_default().clone()
    }

    /// Keeps an answer computed while the generation was `generation` (a write since then
    /// makes it stale at once), within [`MAX_ENTRIES`] and [`MAX_BYTES`]: stale answers go
    /// first, then the oldest.
    pub fn put(&self, key: String, generation: u64, body: Bytes, content_type: &'static str) {
        let now = self.generation();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&key);
        if body.len() > MAX_BYTES || generation != now {
            return;
        }
        let mut bytes: usize = map.values().map(|e| e.body.len()).sum();
        if map.len() >= MAX_ENTRIES || bytes + body.len() > MAX_BYTES {
            map.retain(|_, e| e.generation == now && e.at.elapsed() < TTL);
            bytes = map.values().map(|e| e.body.len()).sum();
        }
        while map.len() >= MAX_ENTRIES || bytes + body.len() > MAX_BYTES {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(e) = map.remove(&oldest) {
                bytes -= e.body.len();
            }
        }
        map.insert(
            key,
            Entry {
                generation,
                at: Instant::now(),
                body,
                content_type,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_makes_every_answer_stale() {
        let c = ResponseCache::default();
        let g = c.generation();
        c.put("a".into(), g, Bytes::from_static(b"1"), "application/json");
        assert!(c.get("a").is_some());
        c.invalidate();
        assert!(c.get("a").is_none());
        // An answer computed before a write is stale as soon as it is kept.
        c.put("b".into(), g, Bytes::from_static(b"2"), "application/json");
        assert!(c.get("b").is_none());
    }

    #[test]
    fn the_answers_kept_stay_within_their_bytes() {
        let c = ResponseCache::default();
        let g = c.generation();
        let page = Bytes::from(vec![b'x'; 150_000]);
        for i in 0..400 {
            c.put(format!("p{i}"), g, page.clone(), "application/json");
            let map = c.entries.lock().unwrap();
            let bytes: usize = map.values().map(|e| e.body.len()).sum();
            assert!(bytes <= MAX_BYTES, "{bytes} bytes kept after {i} answers");
        }
        // The newest are the ones kept.
        assert!(c.get("p399").is_some());
        assert!(c.get("p0").is_none());
        // An answer larger than the whole budget is not kept, and evicts nothing.
        c.put(
            "huge".into(),
            g,
            Bytes::from(vec![0u8; MAX_BYTES + 1]),
            "text/plain",
        );
        assert!(c.get("huge").is_none());
        assert!(c.get("p399").is_some());
    }
}

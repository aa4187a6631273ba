//! Webhooks: every stored event is POSTed to each webhook as JSON, signed with HMAC-SHA256 of
//! the body under the webhook's secret (`X-Scanopy-Signature: sha256=HEX`), retried with
//! backoff, and each delivery is logged in the store.
//!
//! Each webhook has one bounded queue ([`QUEUE_CAPACITY`] events) and one worker that sends
//! them in order: a slow or dead webhook holds its own queue only, and when its queue is full
//! the oldest event is dropped (counted in `webhook_dropped`, logged). Before sending, the worker
//! claims the event in the store
//! ([`WebhookStore::claim_delivery`](scanopy_store::WebhookStore::claim_delivery)), so of several
//! servers on one database exactly one delivers each event.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ring::hmac;
use scanopy_store::{Delivery, Webhook};
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::state::AppState;

/// Attempts per event and webhook.
pub const ATTEMPTS: i64 = 4;
/// Events waiting per webhook; when full, the oldest is dropped.
pub const QUEUE_CAPACITY: usize = 1000;

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A bounded first-in first-out queue with one consumer: pushing onto a full queue drops the
/// oldest entry (and gives it back).
#[derive(Debug)]
pub struct DropOldest<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    ready: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

impl<T> DropOldest<T> {
    /// A queue of at most `capacity` (at least 1) entries.
    pub fn new(capacity: usize) -> Self {
        DropOldest {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }

    /// Adds `item`; the entry dropped to make room, if the queue was full.
    pub fn push(&self, item: T) -> Option<T> {
        let dropped = {
            let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
            let dropped = if q.len() >= self.capacity {
                q.pop_front()
            } else {
                None
            };
            q.push_back(item);
            dropped
        };
        if dropped.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.ready.notify_one();
        dropped
    }

    /// The oldest entry, waiting for one; `None` once closed.
    pub async fn pop(&self) -> Option<T> {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            if let Some(x) = self
                .items
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
            {
                return Some(x);
            }
            // One consumer: a push between the check and here leaves a permit.
            self.ready.notified().await;
        }
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// No entry waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Ends the consumer's [`pop`](Self::pop).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }
}

/// What a webhook receives: `{"kind": "…", "event": …}`.
#[derive(serde::Serialize)]
struct Delivered<'a> {
    kind: &'a str,
    event: &'a serde_json::Value,
}

/// One event for one webhook.
#[derive(Debug)]
struct Queued {
    seq: i64,
    kind: String,
    body: Arc<str>,
}

type HookQueue = Arc<DropOldest<Queued>>;

/// Delivers events to webhooks until the process ends: one queue and one worker per webhook.
pub async fn deliver(state: AppState) {
    let mut rx = state.live.subscribe();
    let mut queues: HashMap<Uuid, HookQueue> = HashMap::new();
    let mut fetched = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                state.metrics.add("webhook_events_missed", n);
                tracing::warn!(missed = n, "webhook delivery fell behind; events skipped");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        let Some(seq) = ev.data.get("seq").and_then(|s| s.as_i64()) else {
            continue;
        };
        if fetched.elapsed() > Duration::from_secs(10) {
            if let Ok(hooks) = state.store.webhooks().await {
                refresh(&state, &mut queues, hooks);
            }
            fetched = std::time::Instant::now();
        }
        if queues.is_empty() {
            continue;
        }
        let body: Arc<str> = serde_json::to_string(&Delivered {
            kind: &ev.kind,
            event: &ev.data,
        })
        .unwrap_or_default()
        .into();
        for (hook, queue) in &queues {
            let item = Queued {
                seq,
                kind: ev.kind.clone(),
                body: Arc::clone(&body),
            };
            if let Some(old) = queue.push(item) {
                state.metrics.inc("webhook_dropped");
                let n = queue.dropped();
                // The first drop and then every power of two, so a flood logs little.
                if n.is_power_of_two() {
                    tracing::warn!(
                        webhook = %hook,
                        dropped_seq = old.seq,
                        dropped_total = n,
                        capacity = QUEUE_CAPACITY,
                        "a webhook's queue is full: its oldest event was dropped"
                    );
                }
            }
        }
    }
    for q in queues.values() {
        q.close();
    }
}

/// Starts a worker for each new webhook and stops those of deleted ones.
fn refresh(state: &AppState, queues: &mut HashMap<Uuid, HookQueue>, hooks: Vec<(Webhook, String)>) {
    let live: std::collections::HashSet<Uuid> = hooks.iter().map(|(h, _)| h.id).collect();
    queues.retain(|id, q| {
        let keep = live.contains(id);
        if !keep {
            q.close();
        }
        keep
    });
    for (hook, secret) in hooks {
        if queues.contains_key(&hook.id) {
            continue;
        }
        let queue: HookQueue = Arc::new(DropOldest::new(QUEUE_CAPACITY));
        queues.insert(hook.id, Arc::clone(&queue));
        tokio::spawn(worker(state.clone(), hook, secret, queue));
    }
}

/// Sends one webhook's events in order, each once across the servers sharing the database.
async fn worker(state: AppState, hook: Webhook, secret: String, queue: HookQueue) {
    while let Some(item) = queue.pop().await {
        match state
            .store
            .claim_delivery(hook.id, item.seq, &state.instance)
            .await
        {
            Ok(true) => {}
            // Another server delivers it.
            Ok(false) => continue,
            Err(e) => {
                // Better twice than never: the store just gave us the event.
                tracing::warn!(webhook = %hook.id, seq = item.seq, error = %e, "could not claim a webhook delivery; sending it anyway");
            }
        }
        send(
            &state,
            &hook,
            &secret,
            &item.kind,
            item.seq,
            item.body.to_string(),
        )
        .await;
    }
}

async fn send(state: &AppState, hook: &Webhook, secret: &str, kind: &str, seq: i64, body: String) {
    let sig = signature(secret, body.as_bytes());
    let mut last_error = None;
    let mut http_status = None;
    for attempt in 1..=ATTEMPTS {
        let r = crate::push::http_client()
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-scanopy-event", kind)
            .header("x-scanopy-delivery", seq.to_string())
            .header("x-scanopy-signature", &sig)
            .body(body.clone())
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => {
                let _ = state
                    .store
                    .record_delivery(&Delivery {
                        webhook: hook.id,
                        event_seq: seq,
                        status: "delivered".into(),
                        attempts: attempt,
                        http_status: Some(i64::from(resp.status().as_u16())),
                        error: None,
                        at: chrono::Utc::now(),
                    })
                    .await;
                state.metrics.inc("webhook_deliveries");
                return;
            }
            Ok(resp) => {
                http_status = Some(i64::from(resp.status().as_u16()));
                last_error = Some(format!("answered {}", resp.status()));
            }
            Err(e) => {
                last_error = Some(if e.is_timeout() {
                    "timed out".into()
                } else {
                    "could not connect".into()
                })
            }
        }
        if attempt < ATTEMPTS {
            // 1 s, 4 s, 16 s, each with up to 50 % jitter.
            let base = 4u64.pow(attempt as u32 - 1) * 1000;
            let jitter = rand::random::<u64>() % (base / 2 + 1);
            tokio::time::sleep(Duration::from_millis(base + jitter)).await;
        }
    }
    state.metrics.inc("webhook_failures");
    tracing::warn!(webhook = %hook.id, seq, error = ?last_error, "a webhook delivery failed");
    let _ = state
        .store
        .record_delivery(&Delivery {
            webhook: hook.id,
            event_seq: seq,
            status: "failed".into(),
            attempts: ATTEMPTS,
            http_status,
            error: last_error,
            at: chrono::Utc::now(),
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest() {
        let q = DropOldest::new(3);
        for i in 0..3 {
            assert_eq!(q.push(i), None);
        }
        assert_eq!(q.push(3), Some(0));
        assert_eq!(q.push(4), Some(1));
        assert_eq!((q.len(), q.dropped()), (3, 2));
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.pop().await, Some(3));
        assert_eq!(q.pop().await, Some(4));
        // A waiting consumer is woken by a push.
        let q = Arc::new(DropOldest::new(2));
        let c = Arc::clone(&q);
        let t = tokio::spawn(async move { c.pop().await });
        tokio::task::yield_now().await;
        q.push(7);
        assert_eq!(t.await.unwrap(), Some(7));
        q.close();
        assert_eq!(q.pop().await, None::<i32>);
    }
}

//! Webhooks: every stored event is POSTed to each webhook as JSON, signed with HMAC-SHA256 of
//! the body under the webhook's secret (`X-Scanopy-Signature: sha256=HEX`), retried with
//! backoff, and each delivery is logged in the store.

use std::time::Duration;

use ring::hmac;
use scanopy_store::{Delivery, Webhook};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

/// Attempts per event and webhook.
pub const ATTEMPTS: i64 = 4;

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Delivers events to webhooks until the process ends.
pub async fn deliver(state: AppState) {
    let mut rx = state.live.subscribe();
    let mut hooks: Vec<(Webhook, String)> = Vec::new();
    let mut fetched = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "webhook delivery fell behind; events skipped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let Some(seq) = ev.data.get("seq").and_then(|s| s.as_i64()) else {
            continue;
        };
        if fetched.elapsed() > Duration::from_secs(10) {
            if let Ok(h) = state.store.webhooks().await {
                hooks = h;
            }
            fetched = std::time::Instant::now();
        }
        let body = serde_json::json!({"kind": ev.kind, "event": ev.data}).to_string();
        for (hook, secret) in &hooks {
            let st = state.clone();
            let (hook, secret, body, kind) =
                (hook.clone(), secret.clone(), body.clone(), ev.kind.clone());
            tokio::spawn(async move { send(&st, &hook, &secret, &kind, seq, body).await });
        }
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

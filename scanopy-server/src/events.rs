//! Events out: the store's events pumped to live listeners (the UI's SSE stream) and to
//! webhooks.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::auth::Caller;
use crate::state::AppState;

/// Reads new events from the store (written by this server or another on the same database)
/// and tells live listeners, until the process ends.
pub async fn pump(state: AppState) {
    let mut rx = state.live.subscribe();
    // Start at the end: listeners want what happens from now on.
    let mut last = loop {
        match state.store.recent_events(1).await {
            Ok(evs) => break evs.first().map_or(0, |e| e.seq),
            Err(_) => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    };
    loop {
        match state.store.events(last, 500).await {
            Ok(evs) => {
                if !evs.is_empty() {
                    // Possibly written by another server on the same database.
                    state.cache.invalidate();
                }
                for e in &evs {
                    last = e.seq;
                    state.metrics.inc(&format!("events_{}", e.kind));
                    let data = serde_json::to_value(e).unwrap_or_default();
                    state.tell(&e.kind, data);
                }
                if evs.len() == 500 {
                    continue;
                }
            }
            Err(e) => tracing::debug!(error = %e, "events not read"),
        }
        // Woken early by a local change; otherwise poll (other servers write too).
        let wait = tokio::time::sleep(Duration::from_millis(1000));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                m = rx.recv() => match m {
                    Ok(ev) if ev.kind == "changed" => break,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        }
    }
}

/// `GET /events/stream`: server-sent events, one per stored event (`event:` its kind, `id:`
/// its sequence number) and `scan_progress` while scans run.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events",
    responses((status = 200, description = "text/event-stream")))]
pub async fn stream(
    State(state): State<AppState>,
    _c: Caller,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.live.subscribe();
    let s = BroadcastStream::new(rx).filter_map(|m| {
        let ev = m.ok()?;
        if ev.kind == "changed" {
            return None;
        }
        let mut out = SseEvent::default().event(ev.kind.clone());
        if let Some(seq) = ev.data.get("seq").and_then(|s| s.as_i64()) {
            out = out.id(seq.to_string());
        }
        Some(Ok(out.data(ev.data.to_string())))
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

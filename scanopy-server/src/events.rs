//! Events out: the store's events pumped to live listeners (the UI's SSE stream) and to
//! webhooks.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

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

/// How often an open event stream checks that its credential still holds.
pub const CREDENTIAL_CHECK: Duration = Duration::from_secs(2);

/// `GET /events/stream`: server-sent events, one per stored event (`event:` its kind, `id:`
/// its sequence number) and `scan_progress` while scans run. The stream ends within
/// [`CREDENTIAL_CHECK`] of its session or API token being revoked or expiring.
#[utoipa::path(get, path = "/events/stream", tag = "events",
    responses((status = 200, description = "server-sent events; ends when the credential is revoked or expires. \
                Each `data:` is a stored event (`Event`) or, for `scan_queued` and `scan_progress`, a `ScanUpdate`",
               content((String = "text/event-stream"))),
              (status = 401, description = "no valid session cookie or API token", body = crate::error::ErrorBody)),
    )]
pub async fn stream(
    State(state): State<AppState>,
    _c: Caller,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // The credential the caller was let in with (`Caller` found it valid): the stream lasts
    // while the store still finds it valid. The check runs on a task of its own, so that a
    // client that stops reading never leaves a check holding a database connection.
    let ended = CancellationToken::new();
    let dropped = CancellationToken::new();
    if let Some((kind, secret)) = crate::auth::presented(&headers) {
        let secret = secret.to_owned();
        let store = state.store.clone();
        let (ended, dropped) = (ended.clone(), dropped.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = dropped.cancelled() => return,
                    _ = tokio::time::sleep(CREDENTIAL_CHECK) => {}
                }
                match store.verify_credential(kind, &secret).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::debug!(
                            "an event stream ended: its credential was revoked or expired"
                        );
                        ended.cancel();
                        return;
                    }
                    // A database that does not answer revokes nothing; check again later.
                    Err(e) => {
                        tracing::debug!(error = %e, "an event stream's credential not checked")
                    }
                }
            }
        });
    }
    // Ends the checking task when the client goes away.
    let guard = dropped.drop_guard();
    let rx = state.live.subscribe();
    let s = BroadcastStream::new(rx).filter_map(move |m| {
        let _alive = &guard;
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
    let s = futures::StreamExt::take_until(s, ended.cancelled_owned());
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

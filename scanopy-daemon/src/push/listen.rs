//! The daemon's side of push mode: the axum listener serving the routes of the module docs
//! ([`super`]), each call but health checked by the [`Verifier`] first, one job at a time.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use scanopy_core::protocol::Job;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::sign::Verifier;
use crate::spool_sink::SpoolSink;

struct PushState {
    verifier: Verifier,
    sink: Arc<SpoolSink>,
    current: Mutex<Option<(Uuid, CancellationToken)>>,
    stop: CancellationToken,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// `None` when the call is signed and fresh; else the 401 to answer.
fn check(
    st: &PushState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let now = chrono::Utc::now().timestamp();
    let why = st
        .verifier
        .verify(method.as_str(), uri.path(), headers, body, now)
        .err()?;
    tracing::warn!(method = %method, path = uri.path(), "refused a push call: {why}");
    Some(error(StatusCode::UNAUTHORIZED, "unauthorized", why))
}

/// The push routes (see the module docs).
fn router(state: Arc<PushState>) -> Router {
    Router::new()
        .route(
            "/api/v1/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/api/v1/jobs", post(start_job))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
        .with_state(state)
}

async fn start_job(
    State(st): State<Arc<PushState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&st, &method, &uri, &headers, &body) {
        return r;
    }
    let job: Job = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("invalid job: {e}"),
            );
        }
    };
    let id = job.id;
    if let Err(running) = spawn_job(&st, job) {
        return error(
            StatusCode::CONFLICT,
            "conflict",
            format!("job {running} is running"),
        );
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"job": id, "status": "running"})),
    )
        .into_response()
}

/// Runs `job` in the background as the current one; `Err(id)` when job `id` is running.
fn spawn_job(st: &Arc<PushState>, job: Job) -> Result<(), Uuid> {
    let token = {
        let mut cur = st.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, _)) = &*cur {
            return Err(*id);
        }
        let token = st.stop.child_token();
        *cur = Some((job.id, token.clone()));
        token
    };
    let st2 = Arc::clone(st);
    tokio::spawn(async move {
        tracing::info!(job = %job.id, "job received");
        st2.sink.run(&job, token).await;
        let mut cur = st2.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|(i, _)| *i == job.id) {
            *cur = None;
        }
    });
    Ok(())
}

async fn cancel_job(
    State(st): State<Arc<PushState>>,
    Path(id): Path<Uuid>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&st, &method, &uri, &headers, &body) {
        return r;
    }
    let cur = st.current.lock().unwrap_or_else(|p| p.into_inner());
    match &*cur {
        Some((running, token)) if *running == id => {
            tracing::info!(job = %id, "the server cancelled the job");
            token.cancel();
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({"job": id, "status": "cancelling"})),
            )
                .into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("job {id} is not running here"),
        ),
    }
}

/// Serves the push routes on `listen` until `stop`, then waits for a running job to end.
pub(crate) async fn serve(
    listen: SocketAddr,
    verifier: Verifier,
    sink: Arc<SpoolSink>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("failed to listen on {listen}"))?;
    tracing::info!(listen = %listener.local_addr().unwrap_or(listen), "listening for the server's calls");
    let state = Arc::new(PushState {
        verifier,
        sink,
        current: Mutex::new(None),
        stop: stop.clone(),
    });
    if let Some(job) = state.sink.interrupted() {
        tracing::warn!(job = %job.id, "the daemon stopped in the middle of this job; running it again");
        let _ = spawn_job(&state, job);
    }
    axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await?;
    // The running job was cancelled with `stop`; let it hand over its end.
    while state
        .current
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_some()
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

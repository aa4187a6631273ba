//! Push mode: the daemon listens and the server calls it, every call signed for this daemon.
//!
//! Routes: `GET /api/v1/health` (no authentication) → `{"status":"ok"}`; `POST /api/v1/jobs`
//! with a [`Job`] starts it (409 while one runs); `POST /api/v1/jobs/{id}/cancel` stops it.
//! Every route but health needs the headers [`TIMESTAMP_HEADER`] (seconds since the epoch,
//! within [`MAX_CLOCK_SKEW_SECS`] of the daemon's clock), [`DAEMON_HEADER`] (this daemon's id,
//! as the server gave it at registration) and [`SIGNATURE_HEADER`] (base64 of the server's
//! Ed25519 signature over [`signed_message`], which covers the daemon id), checked against the
//! public key the daemon was given; a signature is accepted once (a replay within the window is
//! refused), and a call signed for another daemon is refused, so a call captured on its way to
//! one daemon cannot be replayed to another. Refusals are 401 with the contract's error body
//! and a log line without secrets.
//!
//! [`PushClient`] is the server's side: it signs and sends those calls, never following a
//! redirect, each call bounded by [`CALL_TIMEOUT`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use scanopy_core::protocol::{
    DAEMON_HEADER, Job, MAX_CLOCK_SKEW_SECS, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_message,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::agent::SpoolSink;

/// The longest one call to a push daemon may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the connection of a call may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a refusal's body read back (for the error message).
const MAX_ANSWER_BYTES: usize = 4096;

/// A new Ed25519 key for signing push calls, as PKCS#8 (keep it secret; give the daemons
/// [`PushClient::public_key_base64`]).
pub fn generate_key() -> Vec<u8> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("the system's random source works")
        .as_ref()
        .to_vec()
}

/// The server's side of push mode: signs and sends calls to daemons.
pub struct PushClient {
    key: Ed25519KeyPair,
    http: reqwest::Client,
}

impl std::fmt::Debug for PushClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushClient")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl PushClient {
    /// A client signing with `pkcs8_ed25519_key` (from [`generate_key`]). Its calls never
    /// follow a redirect (a 3xx is an error) and each is bounded by [`CALL_TIMEOUT`].
    pub fn new(pkcs8_ed25519_key: &[u8]) -> anyhow::Result<Self> {
        let key = Ed25519KeyPair::from_pkcs8(pkcs8_ed25519_key)
            .map_err(|e| anyhow::anyhow!("invalid Ed25519 PKCS#8 key: {e}"))?;
        crate::client::install_ring();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scanopy-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(PushClient { key, http })
    }

    /// The public key daemons are given (`--server-public-key`), base64.
    pub fn public_key_base64(&self) -> String {
        B64.encode(self.key.public_key().as_ref())
    }

    /// The headers of a call signed for `daemon`: timestamp and signature.
    pub fn sign(&self, method: &str, path: &str, daemon: Uuid, body: &[u8]) -> (String, String) {
        let ts = chrono::Utc::now().timestamp();
        let sig = self
            .key
            .sign(&signed_message(method, path, daemon, ts, body));
        (ts.to_string(), B64.encode(sig.as_ref()))
    }

    async fn call(
        &self,
        daemon_url: &str,
        daemon: Uuid,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<()> {
        let (ts, sig) = self.sign("POST", path, daemon, &body);
        let url = format!("{}{path}", daemon_url.trim_end_matches('/'));
        let mut resp = self
            .http
            .post(&url)
            .header(TIMESTAMP_HEADER, ts)
            .header(SIGNATURE_HEADER, sig)
            .header(DAEMON_HEADER, daemon.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    e.to_string()
                };
                anyhow::anyhow!("failed to reach the daemon at {daemon_url}: {why}")
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            anyhow::bail!(
                "the daemon at {daemon_url} answered {status} (a redirect, not followed)"
            );
        }
        let mut bytes = Vec::new();
        while bytes.len() < MAX_ANSWER_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => bytes.extend_from_slice(&c),
                _ => break,
            }
        }
        bytes.truncate(MAX_ANSWER_BYTES);
        let text: String = String::from_utf8_lossy(&bytes)
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        anyhow::bail!("the daemon at {daemon_url} answered {status}: {text}")
    }

    /// Starts `job` on daemon `daemon` at `daemon_url` (`http://host:60073`). Fails with the
    /// daemon's answer on 409 (a job is running), 401 (it does not trust this key, or it is
    /// not `daemon`) and others.
    pub async fn start_job(&self, daemon_url: &str, daemon: Uuid, job: &Job) -> anyhow::Result<()> {
        self.call(daemon_url, daemon, "/api/v1/jobs", serde_json::to_vec(job)?)
            .await
    }

    /// Cancels job `id` on daemon `daemon` at `daemon_url`.
    pub async fn cancel_job(&self, daemon_url: &str, daemon: Uuid, id: Uuid) -> anyhow::Result<()> {
        self.call(
            daemon_url,
            daemon,
            &format!("/api/v1/jobs/{id}/cancel"),
            Vec::new(),
        )
        .await
    }
}

/// Checks signed calls against the server's public key, for one daemon id.
pub(crate) struct Verifier {
    key: UnparsedPublicKey<Vec<u8>>,
    /// This daemon's id (from its registration): calls signed for another are refused.
    daemon: Uuid,
    /// Signatures accepted within the clock-skew window, with their timestamps.
    seen: Mutex<HashMap<Vec<u8>, i64>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("daemon", &self.daemon)
            .finish_non_exhaustive()
    }
}

/// Checks a base64 Ed25519 public key (32 bytes); the bytes.
pub(crate) fn parse_public_key(public_key_b64: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = B64.decode(public_key_b64.trim()).map_err(|_| {
        anyhow::anyhow!("invalid --server-public-key: not base64 (standard alphabet)")
    })?;
    if bytes.len() != 32 {
        anyhow::bail!(
            "invalid --server-public-key: an Ed25519 public key is 32 bytes, this is {}",
            bytes.len()
        );
    }
    Ok(bytes)
}

impl Verifier {
    /// A verifier for a base64 Ed25519 public key (32 bytes) and this daemon's id.
    pub(crate) fn new(public_key_b64: &str, daemon: Uuid) -> anyhow::Result<Self> {
        let bytes = parse_public_key(public_key_b64)?;
        Ok(Verifier {
            key: UnparsedPublicKey::new(&signature::ED25519, bytes),
            daemon,
            seen: Mutex::default(),
        })
    }

    /// Checks one call; the error says why in words safe to log.
    pub(crate) fn verify(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), &'static str> {
        let ts = headers
            .get(TIMESTAMP_HEADER)
            .ok_or("missing timestamp header")?
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or("malformed timestamp header")?;
        let sig = headers
            .get(SIGNATURE_HEADER)
            .ok_or("missing signature header")?
            .to_str()
            .ok()
            .and_then(|s| B64.decode(s.trim()).ok())
            .ok_or("malformed signature header")?;
        let daemon = headers
            .get(DAEMON_HEADER)
            .ok_or("missing daemon header (the call names no daemon)")?
            .to_str()
            .ok()
            .and_then(|s| Uuid::parse_str(s.trim()).ok())
            .ok_or("malformed daemon header")?;
        if daemon != self.daemon {
            return Err("the call is signed for another daemon");
        }
        if now.abs_diff(ts) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err("timestamp too far from the daemon's clock");
        }
        // Checked with this daemon's own id, whatever the header says.
        self.key
            .verify(&signed_message(method, path, self.daemon, ts, body), &sig)
            .map_err(|_| "bad signature")?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, t| now.abs_diff(*t) <= MAX_CLOCK_SKEW_SECS.unsigned_abs());
        if seen.insert(sig, ts).is_some() {
            return Err("signature replayed");
        }
        Ok(())
    }
}

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
        .map_err(|e| anyhow::anyhow!("failed to listen on {listen}: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: Uuid = Uuid::from_u128(0xa);
    const B: Uuid = Uuid::from_u128(0xb);

    fn headers(ts: &str, sig: &str, daemon: Uuid) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h.insert(DAEMON_HEADER, daemon.to_string().parse().unwrap());
        h
    }

    #[test]
    fn signed_calls_pass_and_anything_else_is_refused() {
        let client = PushClient::new(&generate_key()).unwrap();
        let other = PushClient::new(&generate_key()).unwrap();
        let v = Verifier::new(&client.public_key_base64(), A).unwrap();
        let body = br#"{"x":1}"#;
        let (ts, sig) = client.sign("POST", "/api/v1/jobs", A, body);
        let now: i64 = ts.parse().unwrap();
        assert_eq!(
            v.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
            Ok(())
        );
        assert_eq!(
            v.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
            Err("signature replayed")
        );
        let (ts, sig) = client.sign("POST", "/api/v1/jobs", A, body);
        for (path, b, now2, why) in [
            ("/api/v1/jobz", &body[..], now, "bad signature"),
            ("/api/v1/jobs", &b"{}"[..], now, "bad signature"),
            (
                "/api/v1/jobs",
                &body[..],
                now + MAX_CLOCK_SKEW_SECS + 1,
                "timestamp too far from the daemon's clock",
            ),
        ] {
            assert_eq!(
                v.verify("POST", path, &headers(&ts, &sig, A), b, now2),
                Err(why)
            );
        }
        let (ts, sig) = other.sign("POST", "/api/v1/jobs", A, body);
        assert_eq!(
            v.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
            Err("bad signature")
        );
        assert_eq!(
            v.verify("POST", "/api/v1/jobs", &HeaderMap::new(), body, now),
            Err("missing timestamp header")
        );
        assert!(Verifier::new("not base64!", A).is_err());
        assert!(Verifier::new(&B64.encode([0u8; 16]), A).is_err());
    }

    /// A call the server signed for daemon A is refused by daemon B, whether it still names A
    /// or claims to be for B; and B accepts a call signed for B.
    #[test]
    fn a_call_signed_for_another_daemon_is_refused() {
        let client = PushClient::new(&generate_key()).unwrap();
        let b = Verifier::new(&client.public_key_base64(), B).unwrap();
        let body = br#"{"job":1}"#;
        let (ts, sig) = client.sign("POST", "/api/v1/jobs", A, body);
        let now: i64 = ts.parse().unwrap();
        assert_eq!(
            b.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, A), body, now),
            Err("the call is signed for another daemon")
        );
        assert_eq!(
            b.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, B), body, now),
            Err("bad signature"),
            "a call signed for A, relabelled for B"
        );
        let mut no_daemon = headers(&ts, &sig, A);
        no_daemon.remove(DAEMON_HEADER);
        assert_eq!(
            b.verify("POST", "/api/v1/jobs", &no_daemon, body, now),
            Err("missing daemon header (the call names no daemon)")
        );
        let (ts, sig) = client.sign("POST", "/api/v1/jobs", B, body);
        assert_eq!(
            b.verify("POST", "/api/v1/jobs", &headers(&ts, &sig, B), body, now),
            Ok(())
        );
    }
}

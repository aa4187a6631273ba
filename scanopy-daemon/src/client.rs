//! HTTP to the server: the daemon protocol's calls, with the key in a header that is never
//! logged, and errors sorted by what to do about them (stop, set aside, retry).
//!
//! TLS is rustls with ring (one crypto stack in the project); the web PKI roots are trusted,
//! and a server's own certificate can be added with `--ca-cert`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use scanopy_core::protocol::{
    FinishRequest, Job, JobAck, ListenRequest, PollResponse, ProgressSnapshot, RegisterRequest,
    RegisterResponse, ResultsBatch,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// What went wrong with a call, sorted by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// 401 or 403: the server refused the key. Retrying will not help.
    #[error("the server refused the key ({0})")]
    KeyRefused(StatusCode),
    /// Another 4xx: the server will never take this request as it is.
    #[error("the server rejected the request ({status}): {message}")]
    Rejected {
        /// The status.
        status: StatusCode,
        /// The error body, shortened.
        message: String,
    },
    /// The server could not be reached, timed out, or answered 5xx, 408 or 429: try later.
    #[error("{0}")]
    Retry(String),
}

/// A client of one server, holding the daemon key.
#[derive(Clone)]
pub struct ServerClient {
    base: String,
    auth: HeaderValue,
    http: reqwest::Client,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClient")
            .field("base", &self.base)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Makes rustls use ring in this process (a no-op when a provider is installed already).
pub(crate) fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client on rustls with ring, trusting the web PKI and `ca_cert` (PEM) if given.
pub(crate) fn http_client(ca_cert: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    install_ring();
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("scanopy-daemon/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("failed to read --ca-cert {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("failed to read --ca-cert {}", path.display()))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    Ok(b.build()?)
}

/// Checks a server URL: http or https, with a host.
pub fn check_server_url(base: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(base).map_err(|e| format!("invalid --server {base:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "invalid --server {base:?}: expected an http:// or https:// URL"
        ));
    }
    Ok(())
}

impl ServerClient {
    /// A client of the server at `base` (`http://host:60072`), authenticating with `key`.
    pub fn new(base: &str, key: &str, ca_cert: Option<&Path>) -> anyhow::Result<Self> {
        check_server_url(base).map_err(anyhow::Error::msg)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| anyhow::anyhow!("invalid --key: it holds characters a header cannot"))?;
        auth.set_sensitive(true);
        Ok(ServerClient {
            base: base.trim_end_matches('/').to_owned(),
            auth,
            http: http_client(ca_cert)?,
        })
    }

    async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<R, CallError> {
        let url = format!("{}/api/v1/daemon{path}", self.base);
        let mut req = self
            .http
            .post(&url)
            .header(AUTHORIZATION, self.auth.clone());
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CallError::Retry(format!("failed to reach the server: {}", plain(&e))))?;
        let status = resp.status();
        if status.is_success() {
            return resp.json::<R>().await.map_err(|e| {
                CallError::Retry(format!("failed to read the server's answer: {}", plain(&e)))
            });
        }
        let text = resp.text().await.unwrap_or_default();
        let message: String = text.chars().take(300).collect();
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CallError::KeyRefused(status),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                CallError::Retry(format!("the server answered {status}"))
            }
            s if s.is_client_error() => CallError::Rejected { status, message },
            s => CallError::Retry(format!("the server answered {s}: {message}")),
        })
    }

    /// `POST /register`.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, CallError> {
        self.post("/register", Some(req), None).await
    }

    /// `POST /heartbeat`.
    pub async fn heartbeat(&self, req: &RegisterRequest) -> Result<RegisterResponse, CallError> {
        self.post("/heartbeat", Some(req), None).await
    }

    /// `POST /listen`: a listen run for the passive listener.
    pub async fn listen(&self, req: &ListenRequest) -> Result<Job, CallError> {
        self.post("/listen", Some(req), None).await
    }

    /// `POST /poll`.
    pub async fn poll(&self) -> Result<PollResponse, CallError> {
        self.post::<(), _>("/poll", None, None).await
    }

    /// `POST /jobs/{id}/results`. A batch applied before is answered 200 (`applied: false`); a
    /// 409 (this daemon is not registered yet) is retried, never counted as delivered, unless it
    /// is final ([`final_refusal`]: the job is not this daemon's, or has ended).
    pub async fn results(&self, job: Uuid, batch: &ResultsBatch) -> Result<JobAck, CallError> {
        conflict_is_ok(
            self.post(&format!("/jobs/{job}/results"), Some(batch), None)
                .await,
        )
    }

    /// `POST /jobs/{id}/progress`, with a short timeout (progress is never worth waiting for).
    pub async fn progress(
        &self,
        job: Uuid,
        progress: &ProgressSnapshot,
    ) -> Result<JobAck, CallError> {
        self.post(
            &format!("/jobs/{job}/progress"),
            Some(progress),
            Some(Duration::from_secs(5)),
        )
        .await
    }

    /// `POST /jobs/{id}/finish`. A finish sent before is answered 200; a 409 is retried.
    pub async fn finish(&self, job: Uuid, finish: &FinishRequest) -> Result<JobAck, CallError> {
        conflict_is_ok(
            self.post(&format!("/jobs/{job}/finish"), Some(finish), None)
                .await,
        )
    }
}

/// A 409 means the server does not know this daemon yet (it registers again): try later, keep
/// the entry. The exceptions are final: the job is not this daemon's any more, or it ended, or
/// it went over its caps (`job_not_held`, `job_not_running`, `run_limit`); sending again would
/// be refused again.
fn conflict_is_ok(r: Result<JobAck, CallError>) -> Result<JobAck, CallError> {
    match r {
        Err(CallError::Rejected { status, message })
            if status == StatusCode::CONFLICT && !final_refusal(&message) =>
        {
            Err(CallError::Retry(format!(
                "the server answered 409: {message}"
            )))
        }
        r => r,
    }
}

/// Whether a 409's body (`{"error": {"code": …}}`) names a refusal that a retry cannot change.
pub fn final_refusal(body: &str) -> bool {
    const FINAL: [&str; 3] = ["job_not_held", "job_not_running", "run_limit"];
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => v["error"]["code"]
            .as_str()
            .is_some_and(|c| FINAL.contains(&c)),
        // Cut short (the body is kept to 300 characters): the code comes first.
        Err(_) => FINAL
            .iter()
            .any(|c| body.starts_with(&format!("{{\"error\":{{\"code\":\"{c}\""))),
    }
}

/// A reqwest error with its sources, in one line.
fn plain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_conflicts_are_not_retried() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        for code in ["job_not_held", "job_not_running", "run_limit"] {
            assert!(final_refusal(&body(code)), "{code}");
        }
        assert!(final_refusal(
            r#"{"error":{"code":"job_not_held","message":"cut sho"#
        ));
        for code in ["not_registered", "conflict"] {
            assert!(!final_refusal(&body(code)), "{code}");
        }
        assert!(!final_refusal("not json"));
        let retried = conflict_is_ok(Err(CallError::Rejected {
            status: StatusCode::CONFLICT,
            message: body("not_registered"),
        }));
        assert!(matches!(retried, Err(CallError::Retry(_))));
        let kept = conflict_is_ok(Err(CallError::Rejected {
            status: StatusCode::CONFLICT,
            message: body("job_not_running"),
        }));
        assert!(matches!(kept, Err(CallError::Rejected { .. })));
    }
}

//! The server's side of push mode: [`PushClient`] signs calls and sends them to a daemon at
//! the URL it is given, never following a redirect, each call bounded by [`CALL_TIMEOUT`].

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{Ed25519KeyPair, KeyPair};
use scanopy_core::protocol::{DAEMON_HEADER, Job, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use uuid::Uuid;

/// The longest one call to a push daemon may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the connection of a call may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a refusal's body read back (for the error message).
const MAX_ANSWER_BYTES: usize = 4096;

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
    /// A client signing with `pkcs8_ed25519_key` (from [`generate_key`](super::generate_key)).
    /// Its calls never follow a redirect (a 3xx is an error) and each is bounded by
    /// [`CALL_TIMEOUT`].
    pub fn new(pkcs8_ed25519_key: &[u8]) -> anyhow::Result<Self> {
        let key = Ed25519KeyPair::from_pkcs8(pkcs8_ed25519_key)
            // `KeyRejected` is no `std::error::Error`; kept as the cause all the same.
            .map_err(|e| anyhow::Error::msg(e).context("invalid Ed25519 PKCS#8 key"))?;
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
        super::sign::sign(&self.key, method, path, daemon, body)
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
                let what = if e.is_timeout() {
                    format!("failed to reach the daemon at {daemon_url}: timed out")
                } else {
                    format!("failed to reach the daemon at {daemon_url}")
                };
                anyhow::Error::new(e).context(what)
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

//! The server's Ed25519 key, which signs its calls to push daemons, and those calls.
//!
//! The key lives in the data directory (`server-signing-key.pk8`, mode 0600); a push daemon is
//! given its public key (`GET /api/v1/status` shows it) and refuses calls not signed by it.

use std::path::Path;

use ring::signature::Ed25519KeyPair;
use scanopy_core::protocol::Job;
use scanopy_daemon::push::PushClient;
use uuid::Uuid;

use crate::state::AppState;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "server-signing-key.pk8";

/// Loads the server's key from `dir`, making one at first start.
pub fn load_or_create_key(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(KEY_FILE);
    scanopy_daemon::files::tighten(&path, scanopy_daemon::files::FILE_MODE)?;
    if let Ok(bytes) = std::fs::read(&path) {
        Ed25519KeyPair::from_pkcs8(&bytes)
            .map_err(|_| anyhow::anyhow!("{} is not an Ed25519 key", path.display()))?;
        return Ok(bytes);
    }
    let doc = scanopy_daemon::push::generate_key();
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    {
        use std::io::Write;
        // 0600 even over a left-over temporary file.
        let mut f = scanopy_daemon::files::create_private(&tmp)?;
        f.write_all(&doc)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(doc)
}

/// The public half, base64 (what `--server-public-key` of a push daemon takes).
pub fn public_key_base64(pkcs8: &[u8]) -> String {
    PushClient::new(pkcs8)
        .map(|c| c.public_key_base64())
        .unwrap_or_default()
}

/// Sends a job to a push daemon, signed with the server's key.
pub async fn start_job(state: &AppState, base: &str, job: &Job) -> anyhow::Result<()> {
    PushClient::new(&state.signing_key)?
        .start_job(base, job)
        .await
}

/// Tells a push daemon to stop a job.
pub async fn cancel_job(state: &AppState, base: &str, id: Uuid) -> anyhow::Result<()> {
    PushClient::new(&state.signing_key)?
        .cancel_job(base, id)
        .await
}

/// One HTTP client for the process (push calls, webhooks).
pub fn http_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

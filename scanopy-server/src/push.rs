//! The server's Ed25519 key, which signs its calls to push daemons, and those calls.
//!
//! The key lives in the data directory (`server-signing-key.pk8`, mode 0600); a push daemon is
//! given its public key (`GET /api/v1/status` shows it) and refuses calls not signed by it.

use std::path::Path;

use anyhow::Context;
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

/// The file in the data directory holding this server's instance id.
pub const INSTANCE_FILE: &str = "server-instance-id";

/// This server's instance id: a UUID kept in `dir` (mode 0600), made at first start. Servers
/// sharing one database each have their own (their local daemon's record, webhook claims).
pub fn load_or_create_instance(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(INSTANCE_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = Uuid::parse_str(text.trim())
            .with_context(|| format!("{} does not hold a UUID", path.display()))?;
        return Ok(id.to_string());
    }
    let id = Uuid::new_v4().to_string();
    let tmp = dir.join(format!("{INSTANCE_FILE}.tmp"));
    {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(id.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(id)
}

/// The public half, base64 (what `--server-public-key` of a push daemon takes).
pub fn public_key_base64(pkcs8: &[u8]) -> String {
    PushClient::new(pkcs8)
        .map(|c| c.public_key_base64())
        .unwrap_or_default()
}

/// The longest a push call may take, all told (the client's own timeout is a little shorter).
pub const CALL_DEADLINE: std::time::Duration =
    scanopy_daemon::push::CALL_TIMEOUT.saturating_add(std::time::Duration::from_secs(1));

fn client(state: &AppState) -> anyhow::Result<&PushClient> {
    state
        .push
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the server's signing key is not an Ed25519 key"))
}

/// Sends a job to push daemon `daemon` at `base` (the URL an admin approved), signed for that
/// daemon with the server's key; no redirect is followed, and the call ends by
/// [`CALL_DEADLINE`].
pub async fn start_job(
    state: &AppState,
    base: &str,
    daemon: Uuid,
    job: &Job,
) -> anyhow::Result<()> {
    tokio::time::timeout(CALL_DEADLINE, client(state)?.start_job(base, daemon, job))
        .await
        .map_err(|_| anyhow::anyhow!("the daemon at {base} did not answer in time"))?
}

/// Tells push daemon `daemon` at `base` to stop a job (same rules as [`start_job`]).
pub async fn cancel_job(
    state: &AppState,
    base: &str,
    daemon: Uuid,
    id: Uuid,
) -> anyhow::Result<()> {
    tokio::time::timeout(CALL_DEADLINE, client(state)?.cancel_job(base, daemon, id))
        .await
        .map_err(|_| anyhow::anyhow!("the daemon at {base} did not answer in time"))?
}

/// Checks a push URL an admin gives: http or https, a host, no user name or password, no query
/// or fragment, at most 2,000 characters. The answer is the URL as given (trimmed): what the
/// server will call, exactly.
pub fn check_push_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.is_empty() || url.len() > 2000 {
        return Err("url: an http:// or https:// URL of at most 2000 characters".into());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("url: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err("url: an http:// or https:// URL with a host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("url: no user name or password in the URL".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("url: no query or fragment".into());
    }
    Ok(url.to_owned())
}

/// One HTTP client for the process (webhooks): no redirects, bounded calls.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_urls_are_checked() {
        assert_eq!(
            check_push_url(" http://10.0.0.5:60073 ").as_deref(),
            Ok("http://10.0.0.5:60073")
        );
        assert!(check_push_url("https://d.example/base").is_ok());
        for bad in [
            "",
            "ftp://x",
            "10.0.0.5:60073",
            "http://user:pw@10.0.0.5",
            "http://10.0.0.5/?a=1",
            "http://10.0.0.5/#x",
            "http://",
        ] {
            assert!(check_push_url(bad).is_err(), "{bad}");
        }
        assert!(check_push_url(&format!("http://x/{}", "a".repeat(2001))).is_err());
    }

    #[test]
    fn the_instance_id_is_kept() {
        let dir = std::env::temp_dir().join(format!("scanopy-inst-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = load_or_create_instance(&dir).unwrap();
        assert_eq!(load_or_create_instance(&dir).unwrap(), a);
        let other = std::env::temp_dir().join(format!("scanopy-inst-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&other).unwrap();
        assert_ne!(load_or_create_instance(&other).unwrap(), a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(INSTANCE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&other).unwrap();
    }
}

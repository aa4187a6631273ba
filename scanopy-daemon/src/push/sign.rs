//! The signatures of push calls: the server's key, a call signed with it, and the daemon's
//! check of a call (for its own id, fresh, accepted once).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, UnparsedPublicKey};
use scanopy_core::protocol::{
    DAEMON_HEADER, MAX_CLOCK_SKEW_SECS, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_message,
};
use uuid::Uuid;

/// A new Ed25519 key for signing push calls, as PKCS#8 (keep it secret; give the daemons
/// [`PushClient::public_key_base64`](super::PushClient::public_key_base64)).
pub fn generate_key() -> Vec<u8> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("the system's random source works")
        .as_ref()
        .to_vec()
}

/// The headers of a call signed with `key` for `daemon`: timestamp (now) and signature.
pub(crate) fn sign(
    key: &Ed25519KeyPair,
    method: &str,
    path: &str,
    daemon: Uuid,
    body: &[u8],
) -> (String, String) {
    let ts = chrono::Utc::now().timestamp();
    let sig = key.sign(&signed_message(method, path, daemon, ts, body));
    (ts.to_string(), B64.encode(sig.as_ref()))
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

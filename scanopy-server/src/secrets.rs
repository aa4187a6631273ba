//! Secrets the server keeps and must be able to use again: the SNMP credentials of each network
//! (communities, SNMPv3 users' passwords), which it hands to that network's daemons with their
//! jobs. Sealed with AES-256-GCM under a key kept in the data directory (`secret-key`, mode
//! 0600, made at first start); each seal is bound to its credential's id and network (the
//! additional data), so a sealed value moved to another row does not open. The database holds
//! only seals: a copy of it without the key file reveals no secret. Servers that share one
//! database must share the key file too.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

/// The file in the data directory holding the key.
pub const SECRET_KEY_FILE: &str = "secret-key";

/// Seals and opens secrets with the server's key.
pub struct SecretBox {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key hidden>)")
    }
}

/// Why a seal does not open.
#[derive(Debug, thiserror::Error)]
#[error(
    "a sealed secret does not open with this server's key ({SECRET_KEY_FILE}): another key, or it was changed"
)]
pub struct OpenError;

impl SecretBox {
    /// A box with this 32-byte key.
    pub fn new(key: &[u8; 32]) -> SecretBox {
        SecretBox {
            key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key")),
            rng: SystemRandom::new(),
        }
    }

    /// A box with a fresh random key, kept nowhere (tests, and servers without a data
    /// directory: what it seals does not outlive the process).
    pub fn ephemeral() -> SecretBox {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system's random source");
        SecretBox::new(&key)
    }

    /// The key in `dir` (made, 0600, when there is none). A key file of another size is an
    /// error, never replaced: the seals made with it would be lost.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<SecretBox> {
        let path = dir.join(SECRET_KEY_FILE);
        scanopy_daemon::files::tighten(&path, scanopy_daemon::files::FILE_MODE)?;
        if let Ok(bytes) = std::fs::read(&path) {
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{} holds {} bytes, not a 32-byte key",
                    path.display(),
                    bytes.len()
                )
            })?;
            return Ok(SecretBox::new(&key));
        }
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
        let tmp = dir.join(format!("{SECRET_KEY_FILE}.tmp"));
        {
            use std::io::Write;
            let mut f = scanopy_daemon::files::create_private(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("failed to write {}", path.display()))?;
        Ok(SecretBox::new(&key))
    }

    fn aad(id: Uuid, network: Uuid) -> [u8; 32] {
        let mut a = [0u8; 32];
        a[..16].copy_from_slice(id.as_bytes());
        a[16..].copy_from_slice(network.as_bytes());
        a
    }

    /// `plain` sealed for credential `id` of `network`: base64 of nonce, ciphertext and tag.
    pub fn seal(&self, id: Uuid, network: Uuid, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(id, network)),
                &mut data,
            )
            .expect("AES-GCM seals any length a credential has");
        let mut out = nonce.to_vec();
        out.extend(data);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// What [`SecretBox::seal`] sealed for `id` of `network`.
    pub fn open(&self, id: Uuid, network: Uuid, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(Self::aad(id, network)), &mut data)
            .map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_only_with_its_key_id_and_network() {
        let b = SecretBox::ephemeral();
        let (id, net) = (Uuid::new_v4(), Uuid::new_v4());
        let s = b.seal(id, net, b"lab-ro");
        assert!(!s.contains("lab-ro"));
        assert_eq!(b.open(id, net, &s).unwrap(), b"lab-ro");
        // Two seals of one secret differ (a fresh nonce each).
        assert_ne!(s, b.seal(id, net, b"lab-ro"));
        assert!(b.open(Uuid::new_v4(), net, &s).is_err(), "another row");
        assert!(b.open(id, Uuid::new_v4(), &s).is_err(), "another network");
        assert!(
            SecretBox::ephemeral().open(id, net, &s).is_err(),
            "another key"
        );
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&s)
            .unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let changed = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(b.open(id, net, &changed).is_err(), "a changed byte");
        assert!(b.open(id, net, "not base64!").is_err());
        assert!(b.open(id, net, "").is_err());
    }

    #[test]
    fn the_key_file_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = SecretBox::load_or_create(dir.path()).unwrap();
        let (id, net) = (Uuid::new_v4(), Uuid::new_v4());
        let s = a.seal(id, net, b"secret");
        let path = dir.path().join(SECRET_KEY_FILE);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(id, net, &s).unwrap(), b"secret");
        std::fs::write(&path, b"short").unwrap();
        let e = SecretBox::load_or_create(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a 32-byte key"), "{e}");
    }
}

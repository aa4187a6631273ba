//! [`AccountStore`] for [`SqlStore`]: users and credentials.
//!
//! Secrets never reach the database: passwords are kept as argon2id hashes, sessions, API
//! tokens and daemon keys as SHA-256 digests of 32 random bytes (a digest is enough for a
//! secret with that much entropy, and lets every request be checked with one indexed lookup).

use async_trait::async_trait;
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

use super::{SqlStore, db_err, id_of, parse_ts, q, ts, uuid_of};
use crate::model::{Credential, CredentialKind, NewCredential, Role, User};
use crate::{AccountStore, Result, StoreError};

/// A fresh secret: the kind's prefix and 32 random bytes, base64url.
fn new_secret(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The digest kept for a secret.
pub(crate) fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn credential_from_row(r: &sqlx::any::AnyRow) -> Result<Credential> {
    let kind = match r.get::<String, _>("kind").as_str() {
        "session" => CredentialKind::Session,
        "api_token" => CredentialKind::ApiToken,
        _ => CredentialKind::DaemonKey,
    };
    Ok(Credential {
        id: id_of(r, "a credential")?,
        kind,
        name: r.get("name"),
        role: Role::parse(&r.get::<String, _>("role")).unwrap_or(Role::Viewer),
        network: uuid_of(r, "network_id"),
        user: uuid_of(r, "user_id"),
        created_at: parse_ts(&r.get::<String, _>("created_at")),
        last_used_at: r
            .get::<Option<String>, _>("last_used_at")
            .map(|s| parse_ts(&s)),
        expires_at: r
            .get::<Option<String>, _>("expires_at")
            .map(|s| parse_ts(&s)),
    })
}

/// The columns of a user as [`user_from_row`] reads them (no `MAX(`: [`q`] makes it
/// PostgreSQL's `GREATEST(`, SQLite's two-argument meaning).
const USER_COLUMNS: &str = "u.id, u.username, u.role, u.created_at, u.disabled_at, \
     (SELECT c.last_used_at FROM credentials c WHERE c.user_id = u.id \
      AND c.last_used_at IS NOT NULL ORDER BY c.last_used_at DESC LIMIT 1) AS last_seen_at";

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User> {
    let opt_ts = |col: &str| r.get::<Option<String>, _>(col).map(|s| parse_ts(&s));
    Ok(User {
        id: id_of(r, "a user")?,
        username: r.get("username"),
        role: Role::parse(&r.get::<String, _>("role")).unwrap_or(Role::Viewer),
        created_at: parse_ts(&r.get::<String, _>("created_at")),
        disabled_at: opt_ts("disabled_at"),
        last_seen_at: opt_ts("last_seen_at"),
    })
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(12..=1024).contains(&n) {
        return Err(StoreError::BadRequest(
            "a password has 12 to 1,024 characters".into(),
        ));
    }
    Ok(())
}

/// A hash to verify against when the user does not exist, so that the time taken does not
/// tell which user names exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2::Argon2::default()
            .hash_password(b"no such user, no such password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            // The error names the failure, never the password.
            .map_err(|e| StoreError::internal("hash a password", e.to_string()))
    })
    .await
    .map_err(|e| StoreError::internal("hash a password", e))?
}

async fn verify_password(password: String, stored: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|e| StoreError::internal("check a password", e))
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, username: &str, password: &str, role: Role) -> Result<User> {
        let dia = self.dialect;
        let username = username.trim();
        if username.is_empty() || username.len() > 64 {
            return Err(StoreError::BadRequest(
                "a user name has 1 to 64 characters".into(),
            ));
        }
        if role == Role::Daemon {
            return Err(StoreError::BadRequest(
                "a user is an admin, an editor or a viewer".into(),
            ));
        }
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let id = Uuid::new_v4();
        let now = Utc::now();
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "INSERT INTO users (id, username, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)"))
            .bind(id.to_string())
            .bind(username)
            .bind(hash)
            .bind(role.as_str())
            .bind(ts(now))
            .execute(&self.pool)
            .await;
        match r {
            Ok(_) => Ok(User {
                id,
                username: username.to_owned(),
                role,
                created_at: parse_ts(&ts(now)),
                disabled_at: None,
                last_seen_at: None,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("the user {username:?} exists already"),
            )),
            Err(e) => Err(db_err("create a user")(e)),
        }
    }

    async fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>> {
        let dia = self.dialect;
        let row = sqlx::query(&q(
            dia,
            &format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = ?"),
        ))
        .bind(username.trim())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("check a password"))?;
        // An unknown or disabled user costs the same work as a wrong password.
        let (stored, user) = match &row {
            Some(r) => (r.get::<String, _>("password_hash"), Some(user_from_row(r)?)),
            None => (dummy_hash().to_owned(), None),
        };
        let ok = verify_password(password.to_owned(), stored).await?;
        Ok(user.filter(|u| ok && u.disabled_at.is_none()))
    }

    async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        let dia = self.dialect;
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(
            dia,
            "UPDATE users SET password_hash = ? WHERE username = ?",
        ))
        .bind(hash)
        .bind(username)
        .execute(&self.pool)
        .await
        .map_err(db_err("set a password"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {username:?}")));
        }
        Ok(())
    }

    async fn user_count(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("count users"))
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list users"))?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user(&self, id: Uuid) -> Result<User> {
        let row = sqlx::query(&q(
            self.dialect,
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?"),
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read a user"))?;
        match row {
            Some(r) => user_from_row(&r),
            None => Err(StoreError::NotFound(format!("user {id}"))),
        }
    }

    async fn update_user(
        &self,
        id: Uuid,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User> {
        let dia = self.dialect;
        if role == Some(Role::Daemon) {
            return Err(StoreError::BadRequest(
                "a user is an admin, an editor or a viewer".into(),
            ));
        }
        let _w = self.write.lock().await;
        let now_user = self.user(id).await?;
        let new_role = role.unwrap_or(now_user.role);
        let new_disabled = disabled.unwrap_or(now_user.disabled_at.is_some());
        let was_admin = now_user.role == Role::Admin && now_user.disabled_at.is_none();
        if was_admin && (new_role != Role::Admin || new_disabled) {
            let others: i64 = sqlx::query_scalar(&q(
                dia,
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> ?",
            ))
            .bind(id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("count admins"))?;
            if others == 0 {
                return Err(StoreError::Conflict(format!(
                    "{:?} is the last enabled admin: make another admin first",
                    now_user.username
                )));
            }
        }
        let now = ts(Utc::now());
        let disabled_at = match (new_disabled, &now_user.disabled_at) {
            (false, _) => None,
            (true, Some(t)) => Some(ts(*t)),
            (true, None) => Some(now.clone()),
        };
        let mut tx = self.pool.begin().await.map_err(db_err("change a user"))?;
        sqlx::query(&q(
            dia,
            "UPDATE users SET role = ?, disabled_at = ? WHERE id = ?",
        ))
        .bind(new_role.as_str())
        .bind(&disabled_at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err("change a user"))?;
        if new_disabled && now_user.disabled_at.is_none() {
            sqlx::query(&q(dia, "UPDATE credentials SET revoked_at = ? WHERE user_id = ? AND kind = 'session' AND revoked_at IS NULL"))
                .bind(&now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err("end a user's sessions"))?;
        }
        tx.commit().await.map_err(db_err("change a user"))?;
        drop(_w);
        self.user(id).await
    }

    async fn set_user_password(&self, id: Uuid, password: &str, keep: Option<Uuid>) -> Result<()> {
        let dia = self.dialect;
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(db_err("set a password"))?;
        let r = sqlx::query(&q(dia, "UPDATE users SET password_hash = ? WHERE id = ?"))
            .bind(hash)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("set a password"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {id}")));
        }
        sqlx::query(&q(dia, "UPDATE credentials SET revoked_at = ? WHERE user_id = ? AND kind = 'session' AND revoked_at IS NULL AND id <> ?"))
            .bind(ts(Utc::now()))
            .bind(id.to_string())
            .bind(keep.map(|k| k.to_string()).unwrap_or_default())
            .execute(&mut *tx)
            .await
            .map_err(db_err("end a user's sessions"))?;
        tx.commit().await.map_err(db_err("set a password"))?;
        Ok(())
    }

    async fn user_credentials(&self, user: Uuid, kind: CredentialKind) -> Result<Vec<Credential>> {
        let rows = sqlx::query(&q(self.dialect, "SELECT * FROM credentials WHERE user_id = ? AND kind = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, id"))
            .bind(user.to_string())
            .bind(kind.as_str())
            .bind(ts(Utc::now()))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list a user's credentials"))?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn create_credential(&self, c: NewCredential) -> Result<(Credential, String)> {
        let dia = self.dialect;
        let name = c.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::BadRequest(
                "a name has 1 to 100 characters".into(),
            ));
        }
        if c.kind == CredentialKind::DaemonKey {
            let Some(net) = c.network else {
                return Err(StoreError::BadRequest(
                    "a daemon key is scoped to a network".into(),
                ));
            };
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(db_err("create a daemon key"))?;
            Self::network_subnets(dia, &mut conn, net).await?;
        }
        let secret = new_secret(c.kind.prefix());
        let now = Utc::now();
        let cred = Credential {
            id: Uuid::new_v4(),
            kind: c.kind,
            name: name.to_owned(),
            role: c.role,
            network: c.network,
            user: c.user,
            created_at: now,
            last_used_at: None,
            expires_at: c.expires_at,
        };
        let _w = self.write.lock().await;
        sqlx::query(&q(dia, "INSERT INTO credentials (id, kind, name, hash, role, network_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(cred.id.to_string())
            .bind(cred.kind.as_str())
            .bind(&cred.name)
            .bind(digest(&secret))
            .bind(cred.role.as_str())
            .bind(cred.network.map(|n| n.to_string()))
            .bind(cred.user.map(|u| u.to_string()))
            .bind(ts(now))
            .bind(cred.expires_at.map(ts))
            .execute(&self.pool)
            .await
            .map_err(db_err("store a credential"))?;
        Ok((cred, secret))
    }

    async fn verify_credential(
        &self,
        kind: CredentialKind,
        secret: &str,
    ) -> Result<Option<Credential>> {
        let dia = self.dialect;
        if !secret.starts_with(kind.prefix()) || secret.len() > 200 {
            return Ok(None);
        }
        let now = Utc::now();
        let row = sqlx::query(&q(dia, "SELECT c.*, u.id AS user_found, u.role AS user_role, u.disabled_at AS user_disabled FROM credentials c LEFT JOIN users u ON u.id = c.user_id WHERE c.hash = ? AND c.kind = ? AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > ?)"))
            .bind(digest(secret))
            .bind(kind.as_str())
            .bind(ts(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("check a credential"))?;
        let Some(row) = row else { return Ok(None) };
        let mut cred = credential_from_row(&row)?;
        if cred.user.is_some() {
            // A user's session or token: only while the user is there and enabled, and never
            // with more than the user's role.
            let found = row.get::<Option<String>, _>("user_found").is_some();
            let disabled = row.get::<Option<String>, _>("user_disabled").is_some();
            if !found || disabled {
                return Ok(None);
            }
            let user_role = Role::parse(&row.get::<String, _>("user_role")).unwrap_or(Role::Viewer);
            cred.role = if cred.kind == CredentialKind::Session {
                // A session is its user: a new role counts from the next request.
                user_role
            } else {
                cred.role.capped_by(user_role)
            };
        }
        // Last use to the minute: one write a minute per credential, not one per request.
        if cred
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::minutes(1))
        {
            let _w = self.write.lock().await;
            sqlx::query(&q(
                dia,
                "UPDATE credentials SET last_used_at = ? WHERE id = ?",
            ))
            .bind(ts(now))
            .bind(cred.id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("check a credential"))?;
        }
        Ok(Some(cred))
    }

    async fn credentials(&self, kind: CredentialKind) -> Result<Vec<Credential>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(dia, "SELECT * FROM credentials WHERE kind = ? AND revoked_at IS NULL ORDER BY created_at, id"))
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list credentials"))?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn revoke_credential(&self, kind: CredentialKind, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "UPDATE credentials SET revoked_at = ? WHERE id = ? AND kind = ? AND revoked_at IS NULL"))
            .bind(ts(Utc::now()))
            .bind(id.to_string())
            .bind(kind.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err("revoke a credential"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{} {id}", kind.as_str())));
        }
        Ok(())
    }
}

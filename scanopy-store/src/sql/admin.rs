//! Jobs for daemons, daemons, users and credentials, schedules and webhooks.
//!
//! Secrets never reach the database: passwords are kept as argon2id hashes, sessions, API
//! tokens and daemon keys as SHA-256 digests of 32 random bytes (a digest is enough for a
//! secret with that much entropy, and lets every request be checked with one indexed lookup).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use scanopy_core::protocol::{Capabilities, DaemonMode, ProgressSnapshot};
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

use super::{Dialect, SqlStore, db_err, json_err, parse_ts, q, run_from_row, ts};
use crate::model::{
    Counts, Credential, CredentialKind, Daemon, Delivery, NewCredential, NewDaemon, NewScanRun,
    NewSchedule, Page, Role, ScanRun, Schedule, ServiceRow, User, Webhook,
};
use crate::{Result, StoreError};

/// How long a webhook delivery's claim is kept (see `claim_delivery_impl`).
pub(crate) const CLAIM_RETENTION_HOURS: i64 = 24;

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

fn uuid_of(r: &sqlx::any::AnyRow, col: &str) -> Option<Uuid> {
    r.get::<Option<String>, _>(col)
        .and_then(|s| Uuid::parse_str(&s).ok())
}

fn id_of(r: &sqlx::any::AnyRow, what: &'static str) -> Result<Uuid> {
    Uuid::parse_str(&r.get::<String, _>("id"))
        .map_err(|e| StoreError::internal(format!("read {what}"), e))
}

fn daemon_from_row(r: &sqlx::any::AnyRow) -> Result<Daemon> {
    Ok(Daemon {
        id: id_of(r, "a daemon")?,
        network: uuid_of(r, "network_id").unwrap_or_default(),
        name: r.get("name"),
        mode: if r.get::<String, _>("mode") == "push" {
            DaemonMode::Push
        } else {
            DaemonMode::Pull
        },
        capabilities: serde_json::from_str::<Capabilities>(&r.get::<String, _>("capabilities"))
            .unwrap_or_default(),
        local: r.get::<i64, _>("local") != 0,
        key_id: uuid_of(r, "key_id"),
        announced_url: r.get("url"),
        approved_url: r.get("approved_url"),
        instance: r.get("instance"),
        created_at: parse_ts(&r.get::<String, _>("created_at")),
        last_seen: parse_ts(&r.get::<String, _>("last_seen")),
    })
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
        role: Role::parse(&r.get::<String, _>("role")).unwrap_or(Role::Read),
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

fn schedule_from_row(r: &sqlx::any::AnyRow) -> Result<Schedule> {
    Ok(Schedule {
        id: id_of(r, "a schedule")?,
        network: uuid_of(r, "network_id").unwrap_or_default(),
        daemon: uuid_of(r, "daemon_id"),
        every_minutes: r.get("every_minutes"),
        config: serde_json::from_str(&r.get::<String, _>("config"))
            .map_err(json_err("read a schedule"))?,
        targets: serde_json::from_str(&r.get::<String, _>("targets"))
            .map_err(json_err("read a schedule"))?,
        next_run: parse_ts(&r.get::<String, _>("next_run")),
        last_run: r.get::<Option<String>, _>("last_run").map(|s| parse_ts(&s)),
    })
}

fn lease_end(lease: Duration) -> String {
    ts(Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX))
}

impl SqlStore {
    /// Whether the database answers.
    pub(crate) async fn ping_impl(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::unavailable("reach the database", e))?;
        Ok(())
    }

    pub(crate) async fn enqueue_impl(&self, run: NewScanRun) -> Result<ScanRun> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self.pool.acquire().await.map_err(db_err("queue a scan"))?;
        Self::network_subnets(dia, &mut conn, run.network).await?;
        let id = Uuid::new_v4();
        let now = ts(Utc::now());
        sqlx::query(&q(dia, "INSERT INTO scan_runs (id, network_id, daemon_id, requested_daemon, config, targets, started_at, created_at, status) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 'queued')"))
            .bind(id.to_string())
            .bind(run.network.to_string())
            .bind(run.daemon.map(|d| d.to_string()))
            .bind(serde_json::to_string(&run.config).map_err(json_err("queue a scan"))?)
            .bind(serde_json::to_string(&run.targets).map_err(json_err("queue a scan"))?)
            .bind(&now)
            .bind(&now)
            .execute(&mut *conn)
            .await
            .map_err(db_err("queue a scan"))?;
        let row = sqlx::query(&q(dia, "SELECT * FROM scan_runs WHERE id = ?"))
            .bind(id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err("queue a scan"))?;
        run_from_row(&row)
    }

    /// Claims the oldest job of `network` that `daemon` may run: queued for it or for any
    /// daemon, or running under a lease that expired. Exactly one claimer gets each job: on
    /// PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so several servers
    /// never hand one job to two daemons; SQLite has one writer at a time.
    pub(crate) async fn claim_impl(
        &self,
        daemon: Uuid,
        network: Uuid,
        lease: Duration,
    ) -> Result<Option<ScanRun>> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let now = ts(Utc::now());
        let mut tx = self.pool.begin().await.map_err(db_err("claim a job"))?;
        Self::reap_cancelled(dia, &mut tx, &now).await?;
        let pick = "SELECT id FROM scan_runs WHERE network_id = ? \
             AND (requested_daemon IS NULL OR requested_daemon = ?) \
             AND cancel_requested = 0 \
             AND (status = 'queued' OR (status = 'running' AND lease_until IS NOT NULL AND lease_until < ?)) \
             ORDER BY created_at, id LIMIT 1";
        let pick = if dia == Dialect::Postgres {
            format!("{pick} FOR UPDATE SKIP LOCKED")
        } else {
            pick.to_owned()
        };
        let id: Option<String> = sqlx::query_scalar(&q(dia, &pick))
            .bind(network.to_string())
            .bind(daemon.to_string())
            .bind(&now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("claim a job"))?;
        let Some(id) = id else {
            tx.commit().await.map_err(db_err("claim a job"))?;
            return Ok(None);
        };
        // A claim starts the run afresh, with the next number in the order of runs (what
        // offline marking compares) and nothing taken yet: the daemon scans from the start.
        let seq = Self::next_run_seq(dia, &mut tx).await?;
        sqlx::query(&q(dia, "UPDATE scan_runs SET status = 'running', daemon_id = ?, started_at = ?, lease_until = ?, run_seq = ?, advanced_at = NULL, \
             devices_seen = 0, observations = 0, observations_dropped = 0, rejected_batches = 0, error = NULL WHERE id = ?"))
            .bind(daemon.to_string())
            .bind(&now)
            .bind(lease_end(lease))
            .bind(seq)
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("claim a job"))?;
        sqlx::query(&q(
            dia,
            "DELETE FROM scan_run_devices WHERE scan_run_id = ?",
        ))
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("claim a job"))?;
        let row = sqlx::query(&q(dia, "SELECT * FROM scan_runs WHERE id = ?"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("claim a job"))?;
        tx.commit().await.map_err(db_err("claim a job"))?;
        run_from_row(&row).map(Some)
    }

    /// Runs a user cancelled whose daemon never came back (the lease expired) end as cancelled.
    async fn reap_cancelled(dia: Dialect, conn: &mut sqlx::AnyConnection, now: &str) -> Result<()> {
        sqlx::query(&q(dia, "UPDATE scan_runs SET status = 'cancelled', finished_at = ?, lease_until = NULL \
             WHERE status = 'running' AND cancel_requested = 1 AND lease_until IS NOT NULL AND lease_until < ?"))
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err("end cancelled jobs"))?;
        sqlx::query(&q(dia, "DELETE FROM scan_run_devices WHERE scan_run_id IN \
             (SELECT id FROM scan_runs WHERE status = 'cancelled' AND cancel_requested = 1 AND finished_at = ?)"))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err("end cancelled jobs"))?;
        Ok(())
    }

    /// Gives a claimed job back to the queue at once (it could not be handed to its daemon).
    pub(crate) async fn release_impl(&self, run: Uuid, daemon: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        sqlx::query(&q(dia, "UPDATE scan_runs SET status = 'queued', daemon_id = NULL, lease_until = NULL, progress = NULL \
             WHERE id = ? AND daemon_id = ? AND status = 'running'"))
            .bind(run.to_string())
            .bind(daemon.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("release a job"))?;
        Ok(())
    }

    /// Renews `daemon`'s lease on `run` and records its progress. A run this daemon does not
    /// hold (finished, or claimed by another after the lease expired) is a conflict.
    ///
    /// Renewals keep a lease only while the scan advances: a run whose progress has not
    /// changed for its `stall_timeout_ms` plus one `lease`, or that has run for its
    /// `max_duration_ms` plus one `lease`, ends failed, saying why, and the renewal is a
    /// conflict (the daemon stops). The daemon enforces the same bounds itself; this is for a
    /// daemon that does not.
    pub(crate) async fn renew_impl(
        &self,
        run: Uuid,
        daemon: Uuid,
        progress: Option<ProgressSnapshot>,
        lease: Duration,
    ) -> Result<ScanRun> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self.pool.acquire().await.map_err(db_err("renew a lease"))?;
        let now = Utc::now();
        let held = sqlx::query(&q(dia, "SELECT progress, advanced_at, started_at, config FROM scan_runs WHERE id = ? AND daemon_id = ? AND status = 'running'"))
            .bind(run.to_string())
            .bind(daemon.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("renew a lease"))?;
        let mut advanced = false;
        if let Some(row) = &held {
            let before: Option<ProgressSnapshot> = row
                .get::<Option<String>, _>("progress")
                .and_then(|s| serde_json::from_str(&s).ok());
            advanced = progress.is_some() && progress != before;
            let started = parse_ts(&row.get::<String, _>("started_at"));
            let since = row
                .get::<Option<String>, _>("advanced_at")
                .map(|s| parse_ts(&s))
                .unwrap_or(started);
            let cfg: scanopy_core::ScanConfig =
                serde_json::from_str(&row.get::<String, _>("config")).unwrap_or_default();
            if let Some(why) = over_bounds(
                &cfg,
                now,
                started,
                if advanced { now } else { since },
                lease,
            ) {
                drop(conn);
                self.end_failed(run, &why, 0).await?;
                return Err(StoreError::Conflict(format!("scan run {run}: {why}")));
            }
        }
        let progress = progress
            .map(|p| serde_json::to_string(&p))
            .transpose()
            .map_err(json_err("renew a lease"))?;
        let r = sqlx::query(&q(dia, "UPDATE scan_runs SET lease_until = ?, progress = COALESCE(?, progress), \
             advanced_at = COALESCE(?, advanced_at) WHERE id = ? AND daemon_id = ? AND status = 'running'"))
            .bind(lease_end(lease))
            .bind(progress)
            .bind(advanced.then(|| ts(now)))
            .bind(run.to_string())
            .bind(daemon.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err("renew a lease"))?;
        let row = sqlx::query(&q(dia, "SELECT * FROM scan_runs WHERE id = ?"))
            .bind(run.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("renew a lease"))?
            .ok_or_else(|| StoreError::NotFound(format!("scan run {run}")))?;
        let found = run_from_row(&row)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "scan run {run} is not held by this daemon (it is {})",
                found.status.as_str()
            )));
        }
        Ok(found)
    }

    /// Cancels a run: a queued run ends now; a running one is flagged, and its daemon stops at
    /// its next call.
    pub(crate) async fn cancel_impl(&self, run: Uuid) -> Result<ScanRun> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self.pool.acquire().await.map_err(db_err("cancel a scan"))?;
        sqlx::query(&q(dia, "UPDATE scan_runs SET status = 'cancelled', finished_at = ?, cancel_requested = 1 WHERE id = ? AND status = 'queued'"))
            .bind(ts(Utc::now()))
            .bind(run.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err("cancel a scan"))?;
        sqlx::query(&q(
            dia,
            "UPDATE scan_runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'",
        ))
        .bind(run.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("cancel a scan"))?;
        let row = sqlx::query(&q(dia, "SELECT * FROM scan_runs WHERE id = ?"))
            .bind(run.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("cancel a scan"))?
            .ok_or_else(|| StoreError::NotFound(format!("scan run {run}")))?;
        run_from_row(&row)
    }

    pub(crate) async fn scan_error_impl(&self, run: Uuid, error: &str) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let error: String = error.chars().take(2000).collect();
        let r = sqlx::query(&q(dia, "UPDATE scan_runs SET error = ? WHERE id = ?"))
            .bind(error)
            .bind(run.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("record a scan's error"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("scan run {run}")));
        }
        Ok(())
    }

    pub(crate) async fn scan_runs_impl(
        &self,
        network: Option<Uuid>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ScanRun>> {
        let dia = self.dialect;
        let limit = limit.clamp(1, 1000);
        // The cursor is "created_at|id" of the last item; newest first.
        let mut sql = String::from("SELECT * FROM scan_runs WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if let Some(n) = network {
            sql.push_str(" AND network_id = ?");
            binds.push(n.to_string());
        }
        if let Some(c) = cursor {
            let (at, id) = c
                .split_once('|')
                .filter(|(at, id)| {
                    DateTime::parse_from_rfc3339(at).is_ok() && Uuid::parse_str(id).is_ok()
                })
                .ok_or_else(|| StoreError::BadRequest(format!("invalid cursor {c:?}")))?;
            sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
            binds.extend([at.to_owned(), at.to_owned(), id.to_owned()]);
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        let adapted = q(dia, &sql);
        let mut query = sqlx::query(&adapted);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query
            .bind((limit + 1) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list scans"))?;
        let more = rows.len() > limit;
        let items = rows
            .iter()
            .take(limit)
            .map(run_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if more {
            items
                .last()
                .map(|r| format!("{}|{}", ts(r.created_at), r.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub(crate) async fn upsert_daemon_impl(&self, d: NewDaemon) -> Result<Daemon> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("register a daemon"))?;
        Self::network_subnets(dia, &mut conn, d.network).await?;
        let caps = serde_json::to_string(&d.capabilities).map_err(json_err("register a daemon"))?;
        let mode = match d.capabilities.mode {
            DaemonMode::Pull => "pull",
            DaemonMode::Push => "push",
        };
        let now = ts(Utc::now());
        // One daemon per key; a local daemon is one per network and server instance.
        let mut existing: Option<String> = match (d.key_id, &d.instance) {
            (Some(k), _) => {
                sqlx::query_scalar(&q(dia, "SELECT id FROM daemons WHERE key_id = ?"))
                    .bind(k.to_string())
                    .fetch_optional(&mut *conn)
                    .await
            }
            (None, Some(instance)) => {
                sqlx::query_scalar(&q(
                    dia,
                    "SELECT id FROM daemons WHERE key_id IS NULL AND local = 1 AND network_id = ? AND instance = ?",
                ))
                .bind(d.network.to_string())
                .bind(instance)
                .fetch_optional(&mut *conn)
                .await
            }
            (None, None) => {
                sqlx::query_scalar(&q(
                    dia,
                    "SELECT id FROM daemons WHERE key_id IS NULL AND local = 1 AND network_id = ? AND instance IS NULL",
                ))
                .bind(d.network.to_string())
                .fetch_optional(&mut *conn)
                .await
            }
        }
        .map_err(db_err("register a daemon"))?;
        if existing.is_none()
            && d.key_id.is_none()
            && let Some(instance) = &d.instance
        {
            // The local daemon of a database made before instances: the first server to start
            // takes it over (with its schedule and history); compare-and-set, so of several
            // servers starting at once only one does, and the others get records of their own.
            let legacy: Option<String> = sqlx::query_scalar(&q(
                dia,
                "SELECT id FROM daemons WHERE key_id IS NULL AND local = 1 AND network_id = ? AND instance IS NULL ORDER BY created_at, id LIMIT 1",
            ))
            .bind(d.network.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("register a daemon"))?;
            if let Some(id) = legacy {
                let taken = sqlx::query(&q(
                    dia,
                    "UPDATE daemons SET instance = ? WHERE id = ? AND instance IS NULL",
                ))
                .bind(instance)
                .bind(&id)
                .execute(&mut *conn)
                .await
                .map_err(db_err("register a daemon"))?;
                if taken.rows_affected() == 1 {
                    existing = Some(id);
                }
            }
        }
        let id = match existing {
            Some(id) => {
                sqlx::query(&q(dia, "UPDATE daemons SET name = ?, mode = ?, url = ?, capabilities = ?, last_seen = ? WHERE id = ?"))
                    .bind(&d.name)
                    .bind(mode)
                    .bind(d.capabilities.url.clone())
                    .bind(&caps)
                    .bind(&now)
                    .bind(&id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err("register a daemon"))?;
                id
            }
            None => {
                let id = Uuid::new_v4().to_string();
                sqlx::query(&q(dia, "INSERT INTO daemons (id, network_id, key_id, name, mode, url, capabilities, local, instance, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
                    .bind(&id)
                    .bind(d.network.to_string())
                    .bind(d.key_id.map(|k| k.to_string()))
                    .bind(&d.name)
                    .bind(mode)
                    .bind(d.capabilities.url.clone())
                    .bind(&caps)
                    .bind(i64::from(d.local))
                    .bind(d.instance.clone())
                    .bind(&now)
                    .bind(&now)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err("register a daemon"))?;
                id
            }
        };
        let row = sqlx::query(&q(dia, "SELECT * FROM daemons WHERE id = ?"))
            .bind(&id)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err("register a daemon"))?;
        daemon_from_row(&row)
    }

    pub(crate) async fn touch_daemon_impl(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        sqlx::query(&q(dia, "UPDATE daemons SET last_seen = ? WHERE id = ?"))
            .bind(ts(Utc::now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("record a daemon's heartbeat"))?;
        Ok(())
    }

    pub(crate) async fn set_push_url_impl(&self, id: Uuid, url: Option<&str>) -> Result<Daemon> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "UPDATE daemons SET approved_url = ? WHERE id = ?"))
            .bind(url.map(str::to_owned))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("set a daemon's push URL"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("daemon {id}")));
        }
        let row = sqlx::query(&q(dia, "SELECT * FROM daemons WHERE id = ?"))
            .bind(id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("set a daemon's push URL"))?;
        daemon_from_row(&row)
    }

    pub(crate) async fn daemons_impl(&self) -> Result<Vec<Daemon>> {
        let rows = sqlx::query("SELECT * FROM daemons ORDER BY name, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list daemons"))?;
        rows.iter().map(daemon_from_row).collect()
    }

    pub(crate) async fn create_user_impl(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User> {
        let dia = self.dialect;
        let username = username.trim();
        if username.is_empty() || username.len() > 64 {
            return Err(StoreError::BadRequest(
                "a user name has 1 to 64 characters".into(),
            ));
        }
        if password.chars().count() < 12 {
            return Err(StoreError::BadRequest(
                "a password has at least 12 characters".into(),
            ));
        }
        let hash = hash_password(password.to_owned()).await?;
        let id = Uuid::new_v4();
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "INSERT INTO users (id, username, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)"))
            .bind(id.to_string())
            .bind(username)
            .bind(hash)
            .bind(role.as_str())
            .bind(ts(Utc::now()))
            .execute(&self.pool)
            .await;
        match r {
            Ok(_) => Ok(User {
                id,
                username: username.to_owned(),
                role,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("the user {username:?} exists already"),
            )),
            Err(e) => Err(db_err("create a user")(e)),
        }
    }

    pub(crate) async fn verify_password_impl(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>> {
        let dia = self.dialect;
        let row = sqlx::query(&q(
            dia,
            "SELECT id, username, password_hash, role FROM users WHERE username = ?",
        ))
        .bind(username.trim())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("check a password"))?;
        // An unknown user costs the same work as a wrong password.
        let (stored, user) = match &row {
            Some(r) => (
                r.get::<String, _>("password_hash"),
                Some(User {
                    id: id_of(r, "a user")?,
                    username: r.get("username"),
                    role: Role::parse(&r.get::<String, _>("role")).unwrap_or(Role::Read),
                }),
            ),
            None => (dummy_hash().to_owned(), None),
        };
        let ok = verify_password(password.to_owned(), stored).await?;
        Ok(user.filter(|_| ok))
    }

    pub(crate) async fn user_count_impl(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("count users"))
    }

    pub(crate) async fn set_password_impl(&self, username: &str, password: &str) -> Result<()> {
        let dia = self.dialect;
        if password.chars().count() < 12 {
            return Err(StoreError::BadRequest(
                "a password has at least 12 characters".into(),
            ));
        }
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

    pub(crate) async fn create_credential_impl(
        &self,
        c: NewCredential,
    ) -> Result<(Credential, String)> {
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

    pub(crate) async fn verify_credential_impl(
        &self,
        kind: CredentialKind,
        secret: &str,
    ) -> Result<Option<Credential>> {
        let dia = self.dialect;
        if !secret.starts_with(kind.prefix()) || secret.len() > 200 {
            return Ok(None);
        }
        let now = Utc::now();
        let row = sqlx::query(&q(dia, "SELECT * FROM credentials WHERE hash = ? AND kind = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"))
            .bind(digest(secret))
            .bind(kind.as_str())
            .bind(ts(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("check a credential"))?;
        let Some(row) = row else { return Ok(None) };
        let cred = credential_from_row(&row)?;
        // Last use to the minute: one write a minute per credential, not one per request.
        if cred
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::minutes(1))
        {
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

    pub(crate) async fn credentials_impl(&self, kind: CredentialKind) -> Result<Vec<Credential>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(dia, "SELECT * FROM credentials WHERE kind = ? AND revoked_at IS NULL ORDER BY created_at, id"))
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list credentials"))?;
        rows.iter().map(credential_from_row).collect()
    }

    pub(crate) async fn revoke_credential_impl(
        &self,
        kind: CredentialKind,
        id: Uuid,
    ) -> Result<()> {
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

    pub(crate) async fn create_schedule_impl(&self, s: NewSchedule) -> Result<Schedule> {
        let dia = self.dialect;
        if !(1..=525_600).contains(&s.every_minutes) {
            return Err(StoreError::BadRequest(
                "every_minutes must be between 1 and 525600".into(),
            ));
        }
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("create a schedule"))?;
        Self::network_subnets(dia, &mut conn, s.network).await?;
        let sched = Schedule {
            id: Uuid::new_v4(),
            network: s.network,
            daemon: s.daemon,
            every_minutes: s.every_minutes,
            config: s.config,
            targets: s.targets,
            next_run: s.first_run,
            last_run: None,
        };
        sqlx::query(&q(dia, "INSERT INTO schedules (id, network_id, daemon_id, every_minutes, config, targets, next_run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(sched.id.to_string())
            .bind(sched.network.to_string())
            .bind(sched.daemon.map(|d| d.to_string()))
            .bind(sched.every_minutes)
            .bind(serde_json::to_string(&sched.config).map_err(json_err("create a schedule"))?)
            .bind(serde_json::to_string(&sched.targets).map_err(json_err("create a schedule"))?)
            .bind(ts(sched.next_run))
            .bind(ts(Utc::now()))
            .execute(&mut *conn)
            .await
            .map_err(db_err("create a schedule"))?;
        Ok(sched)
    }

    pub(crate) async fn schedules_impl(&self) -> Result<Vec<Schedule>> {
        let rows = sqlx::query("SELECT * FROM schedules ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list schedules"))?;
        rows.iter().map(schedule_from_row).collect()
    }

    pub(crate) async fn delete_schedule_impl(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "DELETE FROM schedules WHERE id = ?"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("delete a schedule"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("schedule {id}")));
        }
        Ok(())
    }

    /// Takes the schedules due at `now`, moving each one's next run forward in the same
    /// transaction, so that of several servers on one database exactly one takes each.
    pub(crate) async fn take_due_impl(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("take due schedules"))?;
        Self::reap_cancelled(dia, &mut tx, &ts(now)).await?;
        let pick = "SELECT * FROM schedules WHERE next_run <= ? ORDER BY next_run";
        let pick = if dia == Dialect::Postgres {
            format!("{pick} FOR UPDATE SKIP LOCKED")
        } else {
            pick.to_owned()
        };
        let rows = sqlx::query(&q(dia, &pick))
            .bind(ts(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err("take due schedules"))?;
        let mut due = Vec::new();
        for r in &rows {
            let mut s = schedule_from_row(r)?;
            // The next run after now, on the schedule's own grid (missed runs are not replayed).
            let step = chrono::Duration::minutes(s.every_minutes);
            let mut next = s.next_run + step;
            if next <= now {
                let behind = (now - s.next_run).num_minutes() / s.every_minutes + 1;
                next = s.next_run + step * behind as i32;
            }
            sqlx::query(&q(
                dia,
                "UPDATE schedules SET next_run = ?, last_run = ? WHERE id = ?",
            ))
            .bind(ts(next))
            .bind(ts(now))
            .bind(s.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("take due schedules"))?;
            s.last_run = Some(now);
            s.next_run = next;
            due.push(s);
        }
        tx.commit().await.map_err(db_err("take due schedules"))?;
        Ok(due)
    }

    pub(crate) async fn create_webhook_impl(&self, url: &str, secret: &str) -> Result<Webhook> {
        let dia = self.dialect;
        let hook = Webhook {
            id: Uuid::new_v4(),
            url: url.to_owned(),
            created_at: Utc::now(),
        };
        let _w = self.write.lock().await;
        sqlx::query(&q(
            dia,
            "INSERT INTO webhooks (id, url, secret, created_at) VALUES (?, ?, ?, ?)",
        ))
        .bind(hook.id.to_string())
        .bind(&hook.url)
        .bind(secret)
        .bind(ts(hook.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_err("create a webhook"))?;
        Ok(hook)
    }

    pub(crate) async fn webhooks_impl(&self) -> Result<Vec<(Webhook, String)>> {
        let rows = sqlx::query("SELECT * FROM webhooks ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list webhooks"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    Webhook {
                        id: id_of(r, "a webhook")?,
                        url: r.get("url"),
                        created_at: parse_ts(&r.get::<String, _>("created_at")),
                    },
                    r.get("secret"),
                ))
            })
            .collect()
    }

    pub(crate) async fn delete_webhook_impl(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "DELETE FROM webhooks WHERE id = ?"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("delete a webhook"))?;
        sqlx::query(&q(dia, "DELETE FROM webhook_claims WHERE webhook_id = ?"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("delete a webhook"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }

    pub(crate) async fn record_delivery_impl(&self, d: &Delivery) -> Result<()> {
        let dia = self.dialect;
        sqlx::query(&q(dia, "INSERT INTO webhook_deliveries (id, webhook_id, event_seq, status, attempts, http_status, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(Uuid::new_v4().to_string())
            .bind(d.webhook.to_string())
            .bind(d.event_seq)
            .bind(&d.status)
            .bind(d.attempts)
            .bind(d.http_status)
            .bind(d.error.clone())
            .bind(ts(d.at))
            .execute(&self.pool)
            .await
            .map_err(db_err("record a webhook delivery"))?;
        Ok(())
    }

    pub(crate) async fn claim_delivery_impl(
        &self,
        webhook: Uuid,
        event_seq: i64,
        claimer: &str,
    ) -> Result<bool> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        // The primary key (webhook, event) decides: one insert succeeds, on any number of
        // servers; the others change nothing.
        let r = sqlx::query(&q(
            dia,
            "INSERT INTO webhook_claims (webhook_id, event_seq, claimed_by, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        ))
        .bind(webhook.to_string())
        .bind(event_seq)
        .bind(claimer)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(db_err("claim a webhook delivery"))?;
        // Servers deliver events as they happen, so a claim matters for seconds; one a day old
        // never decides anything again. Pruned now and then (every 256th event) so the table
        // holds about a day of claims.
        if event_seq % 256 == 0 {
            let cutoff = ts(Utc::now() - chrono::Duration::hours(CLAIM_RETENTION_HOURS));
            sqlx::query(&q(dia, "DELETE FROM webhook_claims WHERE claimed_at < ?"))
                .bind(cutoff)
                .execute(&self.pool)
                .await
                .map_err(db_err("prune webhook claims"))?;
        }
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn deliveries_impl(
        &self,
        webhook: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(
            dia,
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY at DESC LIMIT ?",
        ))
        .bind(webhook.to_string())
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list webhook deliveries"))?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                webhook,
                event_seq: r.get("event_seq"),
                status: r.get("status"),
                attempts: r.get("attempts"),
                http_status: r.get("http_status"),
                error: r.get("error"),
                at: parse_ts(&r.get::<String, _>("at")),
            })
            .collect())
    }

    pub(crate) async fn counts_impl(&self) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM devices WHERE deleted_at IS NULL) AS devices, \
             (SELECT COUNT(*) FROM devices WHERE deleted_at IS NULL AND offline = 1) AS offline, \
             (SELECT COUNT(*) FROM services s JOIN devices d ON d.id = s.device_id WHERE d.deleted_at IS NULL) AS services, \
             (SELECT COUNT(*) FROM networks) AS networks",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("count the inventory"))?;
        Ok(Counts {
            devices: row.get("devices"),
            devices_offline: row.get("offline"),
            services: row.get("services"),
            networks: row.get("networks"),
        })
    }

    pub(crate) async fn services_impl(
        &self,
        filter: &crate::DeviceFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ServiceRow>> {
        // Services come with their devices: page through devices, flatten their services.
        let page = crate::Store::devices(self, filter, limit, cursor).await?;
        let wanted = filter.service.as_deref();
        let items = page
            .items
            .iter()
            .flat_map(|d| {
                let name = d
                    .user_name
                    .clone()
                    .or_else(|| d.device.hostname.clone())
                    .or_else(|| d.device.ips().first().map(|i| i.to_string()))
                    .unwrap_or_default();
                d.device
                    .services
                    .iter()
                    .filter(move |s| wanted.is_none_or(|w| s.name == w))
                    .map(move |s| ServiceRow {
                        device: d.device.id,
                        device_name: name.clone(),
                        network: d.network,
                        service: s.clone(),
                    })
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub(crate) async fn device_events_impl(
        &self,
        device: Uuid,
        limit: usize,
    ) -> Result<Vec<crate::Event>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(
            dia,
            "SELECT * FROM events WHERE device_id = ? ORDER BY seq DESC LIMIT ?",
        ))
        .bind(device.to_string())
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("read a device's history"))?;
        Ok(rows.iter().map(super::event_from_row).collect())
    }
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

/// Why a running run is past its bounds as the server sees them (each with one `lease` of
/// grace over the daemon's own watchdog), or `None`.
fn over_bounds(
    cfg: &scanopy_core::ScanConfig,
    now: DateTime<Utc>,
    started: DateTime<Utc>,
    advanced: DateTime<Utc>,
    lease: Duration,
) -> Option<String> {
    let grace = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let ms = |v: u64| chrono::Duration::milliseconds(i64::try_from(v).unwrap_or(i64::MAX));
    if now - advanced
        > ms(cfg.stall_timeout_ms)
            .checked_add(&grace)
            .unwrap_or(chrono::Duration::MAX)
    {
        return Some(format!(
            "the server saw no progress for {} s (stall_timeout_ms {} and a lease of {} s); the run was ended",
            (now - advanced).num_seconds(),
            cfg.stall_timeout_ms,
            lease.as_secs()
        ));
    }
    if now - started
        > ms(cfg.max_duration_ms)
            .checked_add(&grace)
            .unwrap_or(chrono::Duration::MAX)
    {
        return Some(format!(
            "the run went past its maximum duration (max_duration_ms {} and a lease of {} s); the run was ended",
            cfg.max_duration_ms,
            lease.as_secs()
        ));
    }
    None
}

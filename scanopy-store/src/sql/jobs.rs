//! [`JobStore`] for [`SqlStore`]: jobs for daemons (queue, claims under a lease, renewals,
//! cancellation), a daemon's refused batches, and the daemons.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scanopy_core::protocol::{Capabilities, DaemonMode, ProgressSnapshot};
use sqlx::Row;
use uuid::Uuid;

use super::{
    Dialect, SqlStore, db_err, id_of, json_err, parse_ts, q, results, run_from_row, ts, uuid_of,
};
use crate::model::{Daemon, NewDaemon, NewScanRun, Page, ScanRun};
use crate::{JobStore, Result, StoreError};

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

fn lease_end(lease: Duration) -> String {
    ts(Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX))
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

#[async_trait]
impl JobStore for SqlStore {
    async fn apply_job_batch(&self, b: crate::JobBatch<'_>) -> Result<crate::BatchReport> {
        let g = results::Guard {
            run: b.run,
            batch: b.batch,
            daemon: Some(b.daemon),
            limits: Some(b.limits),
        };
        self.apply_guarded(&g, b.observations).await
    }

    async fn reject_batch(&self, run: Uuid, daemon: Uuid, reason: &str) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let reason: String = reason.chars().take(500).collect();
        sqlx::query(&q(
            dia,
            "UPDATE scan_runs SET rejected_batches = rejected_batches + 1, error = COALESCE(error, ?) \
             WHERE id = ? AND daemon_id = ? AND status = 'running'",
        ))
        .bind(format!("a results batch was refused: {reason}"))
        .bind(run.to_string())
        .bind(daemon.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("record a refused batch"))?;
        Ok(())
    }

    async fn enqueue_scan(&self, run: NewScanRun) -> Result<ScanRun> {
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
    async fn claim_job(
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
        // A listen run is its daemon's, never a job for another.
        let pick = "SELECT id FROM scan_runs WHERE network_id = ? \
             AND (requested_daemon IS NULL OR requested_daemon = ?) \
             AND cancel_requested = 0 AND config NOT LIKE '%\"scanners\":[\"listen\"]%' \
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

    /// Renews `daemon`'s lease on `run` and records its progress. A run this daemon does not
    /// hold (finished, or claimed by another after the lease expired) is a conflict.
    ///
    /// Renewals keep a lease only while the scan advances: a run whose progress has not
    /// changed for its `stall_timeout_ms` plus one `lease`, or that has run for its
    /// `max_duration_ms` plus one `lease`, ends failed, saying why, and the renewal is a
    /// conflict (the daemon stops). The daemon enforces the same bounds itself; this is for a
    /// daemon that does not.
    async fn renew_job(
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
    async fn cancel_scan(&self, run: Uuid) -> Result<ScanRun> {
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

    /// Gives a claimed job back to the queue at once (it could not be handed to its daemon).
    async fn release_job(&self, run: Uuid, daemon: Uuid) -> Result<()> {
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

    async fn record_scan_error(&self, run: Uuid, error: &str) -> Result<()> {
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

    async fn scan_runs(
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

    async fn register_daemon(&self, d: NewDaemon) -> Result<Daemon> {
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

    async fn touch_daemon(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        // Every write takes the lock: on SQLite a write between a batch's reads and its writes
        // fails the batch ("database is locked", SQLITE_BUSY_SNAPSHOT).
        let _w = self.write.lock().await;
        sqlx::query(&q(dia, "UPDATE daemons SET last_seen = ? WHERE id = ?"))
            .bind(ts(Utc::now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("record a daemon's heartbeat"))?;
        Ok(())
    }

    async fn daemons(&self) -> Result<Vec<Daemon>> {
        let rows = sqlx::query("SELECT * FROM daemons ORDER BY name, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list daemons"))?;
        rows.iter().map(daemon_from_row).collect()
    }

    async fn set_daemon_push_url(&self, id: Uuid, url: Option<&str>) -> Result<Daemon> {
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
}

impl SqlStore {
    /// Runs a user cancelled whose daemon never came back (the lease expired) end as cancelled.
    pub(super) async fn reap_cancelled(
        dia: Dialect,
        conn: &mut sqlx::AnyConnection,
        now: &str,
    ) -> Result<()> {
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
        // A listen run whose daemon stopped renewing it (it died; a daemon that stops ends its
        // own) is over: done, and, as any listen run, marking nothing missed.
        sqlx::query(&q(
            dia,
            "UPDATE scan_runs SET status = 'done', finished_at = ?, lease_until = NULL \
             WHERE status = 'running' AND lease_until IS NOT NULL AND lease_until < ? \
             AND config LIKE '%\"scanners\":[\"listen\"]%'",
        ))
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_err("end lapsed listen runs"))?;
        sqlx::query(&q(
            dia,
            "DELETE FROM scan_run_devices WHERE scan_run_id IN \
             (SELECT id FROM scan_runs WHERE status = 'done' AND finished_at = ? \
             AND config LIKE '%\"scanners\":[\"listen\"]%')",
        ))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_err("end lapsed listen runs"))?;
        Ok(())
    }
}

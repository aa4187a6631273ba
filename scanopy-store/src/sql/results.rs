//! The checks a results batch passes before it is applied, and what a run keeps of its batches:
//! who may send it (the daemon holding the run, while it runs), which observations it may carry
//! (per-host facts only about the run's targets, times within the run's window), how much a run
//! may take (its caps), and the distinct devices it saw.
//!
//! Everything here runs inside the batch's own transaction, so a check and the write it guards
//! cannot be separated by another server's claim or finish.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use scanopy_core::{Fact, Observation, Target, TargetSet, TargetSpec};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{Dialect, SqlStore, Val, db_err, insert_rows_then, q, run_from_row, ts};
use crate::model::{RunLimits, RunStatus, ScanRun};
use crate::{Result, StoreError};

/// Who sends a batch, and what binds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guard {
    pub(crate) run: Uuid,
    pub(crate) batch: Uuid,
    /// The daemon that must hold the run (`None`: the embedding program itself).
    pub(crate) daemon: Option<Uuid>,
    /// The run's caps (`None`: none).
    pub(crate) limits: Option<RunLimits>,
}

/// A batch's observations after the checks.
#[derive(Debug, Default)]
pub(crate) struct Screened {
    pub(crate) kept: Vec<Observation>,
    pub(crate) outside_targets: u64,
    pub(crate) clamped: u64,
}

pub(crate) fn refused(code: &'static str, message: String) -> StoreError {
    StoreError::Refused { code, message }
}

/// Facts a discovery sweep legitimately hears about addresses it was not asked about (ARP
/// replies and the neighbour table of the segment, the default gateway). Everything else is a
/// per-host fact, which only the per-host scanners produce, and only for the targets. What a
/// host with no address yet broadcasts on the segment (a DHCP DISCOVER a listener heard,
/// [`Fact::Unaddressed`]) is discovery too: it has no address to be a target.
fn discovery_fact(f: &Fact) -> bool {
    matches!(
        f,
        Fact::Alive { .. }
            | Fact::Mac { .. }
            | Fact::Vendor { .. }
            | Fact::Gateway
            | Fact::Unaddressed { .. }
    )
}

/// The addresses a run may report per-host facts about: its targets as the user gave them
/// (CIDRs and ranges, exclusions taken out); host names, which only the daemon resolves, widen
/// it to the run's covered subnets and the network's. `None`: the run names no targets at all.
pub(crate) fn scope(run: &ScanRun, network_subnets: &[IpNet]) -> Option<Scope> {
    let spec = &run.config.targets;
    let (inc, _) = spec.parsed().ok()?;
    let has_hosts = inc.iter().any(|t| matches!(t, Target::Host(_)));
    let literal: Vec<String> = inc
        .iter()
        .filter(|t| !matches!(t, Target::Host(_)))
        .map(|t| t.to_string())
        .collect();
    let excluded: Vec<String> = spec
        .exclude
        .iter()
        .filter(|t| !matches!(t.parse::<Target>(), Ok(Target::Host(_))))
        .cloned()
        .collect();
    let set = if literal.is_empty() {
        TargetSet::default()
    } else {
        TargetSpec {
            include: literal,
            exclude: excluded,
        }
        .build(&BTreeMap::new(), &[], true)
        .unwrap_or_default()
    };
    let mut nets = Vec::new();
    if inc.is_empty() || has_hosts || set.is_empty() {
        nets.extend(run.targets.iter().copied());
        if inc.is_empty() || has_hosts {
            nets.extend(network_subnets.iter().copied());
        }
    }
    if set.is_empty() && nets.is_empty() {
        return None;
    }
    Some(Scope { set, nets })
}

/// See [`scope`].
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    set: TargetSet,
    nets: Vec<IpNet>,
}

impl Scope {
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.set.contains(ip) || self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// Keeps what a run may take: per-host facts about addresses outside `scope` are dropped
/// (loopback excepted: a daemon reports its own Docker engine there); times are clamped to
/// `[from, now]` (`from` only for a daemon's run, whose window starts at its claim).
pub(crate) fn screen(
    observations: &[Observation],
    scope: Option<&Scope>,
    from: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Screened {
    let mut out = Screened {
        kept: Vec::with_capacity(observations.len()),
        ..Screened::default()
    };
    for o in observations {
        let allowed =
            discovery_fact(&o.fact) || o.ip.is_loopback() || scope.is_none_or(|s| s.contains(o.ip));
        if !allowed {
            out.outside_targets += 1;
            continue;
        }
        let mut o = o.clone();
        if o.at > now {
            o.at = now;
            out.clamped += 1;
        } else if let Some(f) = from.filter(|f| o.at < *f) {
            o.at = f.min(now);
            out.clamped += 1;
        }
        out.kept.push(o);
    }
    out
}

impl SqlStore {
    /// Reads the run for a batch, locked for the transaction (PostgreSQL `FOR UPDATE`; SQLite's
    /// write transaction), and checks that it takes results from this sender now. Returns it
    /// with its place in the order of runs.
    pub(crate) async fn admit(
        dia: Dialect,
        conn: &mut AnyConnection,
        g: &Guard,
    ) -> Result<(ScanRun, i64)> {
        let sql = match dia {
            Dialect::Postgres => "SELECT * FROM scan_runs WHERE id = ? FOR UPDATE",
            Dialect::Sqlite => "SELECT * FROM scan_runs WHERE id = ?",
        };
        let row = sqlx::query(&q(dia, sql))
            .bind(g.run.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("read a scan run"))?
            .ok_or_else(|| StoreError::NotFound(format!("scan run {}", g.run)))?;
        let run = run_from_row(&row)?;
        let seq = row.get::<Option<i64>, _>("run_seq").unwrap_or(0);
        if let Some(d) = g.daemon
            && run.daemon != Some(d)
        {
            return Err(refused(
                "job_not_held",
                format!(
                    "scan run {} is not held by this daemon: its results are refused",
                    g.run
                ),
            ));
        }
        if run.status != RunStatus::Running {
            return Err(refused(
                "job_not_running",
                format!(
                    "scan run {} is {}: it takes no more results",
                    g.run,
                    run.status.as_str()
                ),
            ));
        }
        Ok((run, seq))
    }

    /// Records what a batch gave its run: the distinct devices it saw (checked against the cap),
    /// the observations it took and dropped, and the batch id (applied once).
    pub(crate) async fn record_batch(
        dia: Dialect,
        conn: &mut AnyConnection,
        g: &Guard,
        devices: &BTreeSet<Uuid>,
        screened: &Screened,
    ) -> Result<()> {
        let run = g.run.to_string();
        let rows: Vec<Vec<Val>> = devices
            .iter()
            .map(|d| vec![Val::s(&run), Val::s(&d.to_string())])
            .collect();
        // A device seen by an earlier batch of the run is there already.
        insert_rows_then(
            dia,
            conn,
            "INSERT INTO scan_run_devices (scan_run_id, device_id) VALUES",
            &rows,
            " ON CONFLICT DO NOTHING",
        )
        .await?;
        let seen: i64 = sqlx::query_scalar(&q(
            dia,
            "SELECT COUNT(*) FROM scan_run_devices WHERE scan_run_id = ?",
        ))
        .bind(&run)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err("count a run's devices"))?;
        if let Some(l) = g.limits
            && seen as u64 > l.max_devices
        {
            return Err(refused(
                "run_limit",
                format!(
                    "the scan saw more than {} devices, its cap: it ends failed",
                    l.max_devices
                ),
            ));
        }
        sqlx::query(&q(
            dia,
            "UPDATE scan_runs SET devices_seen = ?, observations = observations + ?, \
             observations_dropped = observations_dropped + ? WHERE id = ?",
        ))
        .bind(seen)
        .bind(screened.kept.len() as i64)
        .bind(screened.outside_targets as i64)
        .bind(&run)
        .execute(&mut *conn)
        .await
        .map_err(db_err("update a scan run"))?;
        sqlx::query(&q(
            dia,
            "INSERT INTO batches (id, scan_run_id, applied_at) VALUES (?, ?, ?)",
        ))
        .bind(g.batch.to_string())
        .bind(&run)
        .bind(ts(Utc::now()))
        .execute(&mut *conn)
        .await
        .map_err(db_err("record a batch"))?;
        Ok(())
    }

    /// Ends a run that went over a cap: failed, with the reason, in a transaction of its own
    /// (the batch's was rolled back); the refused batch is counted.
    pub(crate) async fn end_over_limit(&self, run: Uuid, reason: &str) -> Result<()> {
        self.end_failed(run, reason, 1).await
    }

    /// Ends a running run failed, with the reason, in a transaction of its own: its devices
    /// are not marked missed, and a `scan_done` event says why. `rejected` batches are added
    /// to its count of refused batches. A run that is not running is left as it is.
    pub(crate) async fn end_failed(&self, run: Uuid, reason: &str, rejected: i64) -> Result<()> {
        let dia = self.dialect;
        let mut tx = self.pool.begin().await.map_err(db_err("end a scan run"))?;
        let network: Option<String> = sqlx::query_scalar(&q(
            dia,
            "SELECT network_id FROM scan_runs WHERE id = ? AND status = 'running'",
        ))
        .bind(run.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("end a scan run"))?;
        let Some(network) = network.and_then(|n| Uuid::parse_str(&n).ok()) else {
            return Ok(());
        };
        sqlx::query(&q(
            dia,
            "UPDATE scan_runs SET status = 'failed', finished_at = ?, lease_until = NULL, error = ?, \
             rejected_batches = rejected_batches + ? WHERE id = ? AND status = 'running'",
        ))
        .bind(ts(Utc::now()))
        .bind(reason)
        .bind(rejected)
        .bind(run.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err("end a scan run"))?;
        Self::forget_run_devices(dia, &mut tx, run).await?;
        Self::event(
            dia,
            &mut tx,
            network,
            "scan_done",
            None,
            Some(run),
            serde_json::json!({"status": "failed", "error": reason}),
        )
        .await?;
        tx.commit().await.map_err(db_err("end a scan run"))?;
        Ok(())
    }

    /// Ends a run in the finish's transaction: locked (PostgreSQL `FOR UPDATE`, then its
    /// network), refused when it has ended already. A run that had a batch refused cannot be
    /// done: it ends failed, saying why. Returns the run, its number and the status it got.
    pub(crate) async fn end_run(
        dia: Dialect,
        conn: &mut AnyConnection,
        run: Uuid,
        status: RunStatus,
    ) -> Result<(ScanRun, Option<i64>, RunStatus)> {
        let sql = match dia {
            Dialect::Postgres => "SELECT * FROM scan_runs WHERE id = ? FOR UPDATE",
            Dialect::Sqlite => "SELECT * FROM scan_runs WHERE id = ?",
        };
        let row = sqlx::query(&q(dia, sql))
            .bind(run.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("read a scan run"))?
            .ok_or_else(|| StoreError::NotFound(format!("scan run {run}")))?;
        let info = run_from_row(&row)?;
        let seq: Option<i64> = row.get("run_seq");
        Self::lock_network(dia, conn, info.network).await?;
        if info.finished_at.is_some() {
            return Err(StoreError::BadRequest(format!(
                "scan run {run} has already finished"
            )));
        }
        let (status, error) = if status == RunStatus::Done && info.rejected_batches > 0 {
            let why = format!(
                "{} results batch(es) of this scan were refused, so it cannot tell which devices \
                 are gone: it ends failed{}",
                info.rejected_batches,
                info.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            (RunStatus::Failed, Some(why))
        } else {
            (status, info.error.clone())
        };
        sqlx::query(&q(
            dia,
            "UPDATE scan_runs SET status = ?, finished_at = ?, lease_until = NULL, error = ? WHERE id = ?",
        ))
        .bind(status.as_str())
        .bind(ts(Utc::now()))
        .bind(error.map(|e| e.chars().take(2000).collect::<String>()))
        .bind(run.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("finish a scan run"))?;
        Ok((info, seq, status))
    }

    /// The distinct devices of a run that ended are no longer needed (its count stays).
    pub(crate) async fn forget_run_devices(
        dia: Dialect,
        conn: &mut AnyConnection,
        run: Uuid,
    ) -> Result<()> {
        sqlx::query(&q(
            dia,
            "DELETE FROM scan_run_devices WHERE scan_run_id = ?",
        ))
        .bind(run.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("end a scan run"))?;
        Ok(())
    }

    /// The next number in the order runs are claimed (one statement: atomic on both backends).
    pub(crate) async fn next_run_seq(dia: Dialect, conn: &mut AnyConnection) -> Result<i64> {
        sqlx::query_scalar(&q(
            dia,
            "UPDATE run_sequence SET last = last + 1 WHERE id = 1 RETURNING last",
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err("number a scan run"))
    }
}

fn over_observations(l: RunLimits) -> StoreError {
    refused(
        "run_limit",
        format!(
            "the scan sent more than {} observations, its cap: it ends failed",
            l.max_observations
        ),
    )
}

/// The observation cap, checked before the batch is merged.
pub(crate) fn check_observations(run: &ScanRun, g: &Guard, batch: usize) -> Result<()> {
    match g.limits {
        Some(l) if run.observations.max(0) as u64 + batch as u64 > l.max_observations => {
            Err(over_observations(l))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scanopy_core::{PortFact, PortState, ScanConfig, Transport};

    fn run_with(include: &[&str], exclude: &[&str], covered: &[&str]) -> ScanRun {
        ScanRun {
            id: Uuid::nil(),
            network: Uuid::nil(),
            daemon: None,
            config: ScanConfig {
                targets: TargetSpec::new(include, exclude).unwrap(),
                ..ScanConfig::default()
            },
            targets: covered.iter().map(|c| c.parse().unwrap()).collect(),
            started_at: Utc::now(),
            finished_at: None,
            status: RunStatus::Running,
            devices_seen: 0,
            observations: 0,
            observations_dropped: 0,
            rejected_batches: 0,
            requested_daemon: None,
            created_at: Utc::now(),
            lease_until: None,
            progress: None,
            error: None,
            cancel_requested: false,
        }
    }

    fn o(ip: &str, fact: Fact) -> Observation {
        Observation::now(ip.parse().unwrap(), "t", fact)
    }

    fn port() -> Fact {
        Fact::Port(PortFact::state(22, Transport::Tcp, PortState::Open))
    }

    #[test]
    fn per_host_facts_stay_within_the_targets() {
        let run = run_with(&["10.0.0.1-10.0.0.20"], &["10.0.0.5"], &[]);
        let s = scope(&run, &["10.0.0.0/24".parse().unwrap()]).unwrap();
        let now = Utc::now();
        let got = screen(
            &[
                o("10.0.0.3", port()),
                o("10.0.0.5", port()),
                o("10.0.0.30", port()),
                o(
                    "10.0.0.30",
                    Fact::Mac {
                        mac: "00:11:32:00:00:30".parse().unwrap(),
                    },
                ),
                o("127.0.0.1", port()),
                o("192.0.2.1", Fact::Gateway),
            ],
            Some(&s),
            None,
            now,
        );
        let ips: Vec<String> = got.kept.iter().map(|o| o.ip.to_string()).collect();
        assert_eq!(ips, ["10.0.0.3", "10.0.0.30", "127.0.0.1", "192.0.2.1"]);
        assert_eq!(got.outside_targets, 2, "the excluded and the outside port");
    }

    #[test]
    fn host_names_widen_the_scope_to_the_network() {
        let run = run_with(&["nas.lan"], &[], &[]);
        let s = scope(&run, &["10.0.0.0/24".parse().unwrap()]).unwrap();
        assert!(s.contains("10.0.0.9".parse().unwrap()));
        assert!(!s.contains("10.0.1.9".parse().unwrap()));
        assert!(scope(&run_with(&[], &[], &[]), &[]).is_none());
    }

    #[test]
    fn times_are_clamped_to_the_window() {
        let now = Utc::now();
        let from = now - chrono::Duration::minutes(5);
        let mut late = o("10.0.0.3", port());
        late.at = "2099-01-01T00:00:00Z".parse().unwrap();
        let mut early = o("10.0.0.3", port());
        early.at = now - chrono::Duration::days(3);
        let got = screen(&[late, early], None, Some(from), now);
        assert_eq!(got.clamped, 2);
        assert_eq!(got.kept[0].at, now);
        assert_eq!(got.kept[1].at, from);
    }
}

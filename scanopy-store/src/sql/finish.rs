//! The end of a run, in named steps over one [`Finish`]: devices the run covered and nobody saw
//! count a miss (and go offline after [`OFFLINE_AFTER`]), TCP ports it probed and nobody found
//! open are gone, then the run's distinct devices are forgotten and `scan_done` recorded.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{Dialect, SqlStore, db_err, q};
use crate::model::{ChangeSet, RunStatus, ScanRun};
use crate::{OFFLINE_AFTER, Result};

/// A run being ended, in its transaction.
pub(super) struct Finish<'t> {
    dia: Dialect,
    conn: &'t mut AnyConnection,
    run: Uuid,
    /// The run as it was before it ended.
    info: ScanRun,
    /// What the end changed: devices and services gone.
    pub(super) changes: ChangeSet,
}

impl<'t> Finish<'t> {
    pub(super) fn new(dia: Dialect, conn: &'t mut AnyConnection, run: Uuid, info: ScanRun) -> Self {
        Finish {
            dia,
            conn,
            run,
            info,
            changes: ChangeSet::default(),
        }
    }

    /// Devices of the network with an address the run covered, seen neither by it nor by a run
    /// claimed after it (`seq` is the run's number): one more miss each.
    pub(super) async fn mark_missed(&mut self, seq: i64) -> Result<()> {
        let dia = self.dia;
        let info = &self.info;
        let rows = sqlx::query(&q(dia, "SELECT d.id, i.ip, d.missed_scans, d.offline FROM devices d JOIN interfaces i ON i.device_id = d.id \
             WHERE d.network_id = ? AND d.deleted_at IS NULL AND d.last_run_seq < ?"))
        .bind(info.network.to_string())
        .bind(seq)
        .fetch_all(&mut *self.conn)
        .await
        .map_err(db_err("find missed devices"))?;
        // What the run was told to leave alone is not missed by it.
        let excluded: Vec<scanopy_core::Target> = info
            .config
            .targets
            .parsed()
            .map(|(_, exc)| exc)
            .unwrap_or_default();
        let left_alone = |ip: std::net::IpAddr| {
            excluded.iter().any(|t| match t {
                scanopy_core::Target::Net(n) => n.contains(&ip),
                scanopy_core::Target::Range(a, b) => {
                    a.is_ipv4() == ip.is_ipv4() && *a <= ip && ip <= *b
                }
                scanopy_core::Target::Host(_) => false,
            })
        };
        let mut missed: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for r in &rows {
            let ip: Option<std::net::IpAddr> = r.get::<String, _>("ip").parse().ok();
            if ip.is_some_and(|ip| info.targets.iter().any(|t| t.contains(&ip)) && !left_alone(ip))
            {
                missed.insert(r.get("id"), (r.get("missed_scans"), r.get("offline")));
            }
        }
        for (id, (misses, offline)) in missed {
            let misses = misses + 1;
            let now_offline = misses >= OFFLINE_AFTER;
            sqlx::query(&q(
                dia,
                "UPDATE devices SET missed_scans = ?, offline = ? WHERE id = ?",
            ))
            .bind(misses)
            .bind(i64::from(now_offline))
            .bind(&id)
            .execute(&mut *self.conn)
            .await
            .map_err(db_err("mark a device offline"))?;
            if now_offline && offline == 0 {
                let uid = Uuid::parse_str(&id).ok();
                if let Some(u) = uid {
                    self.changes.devices_gone.push(u);
                }
                SqlStore::event(
                    dia,
                    self.conn,
                    self.info.network,
                    "device_gone",
                    uid,
                    Some(self.run),
                    serde_json::json!({"missed_scans": misses}),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Whether the run probed TCP ports (no scanners named means all of them).
    pub(super) fn probed_tcp(&self) -> bool {
        let scanners = &self.info.config.scanners;
        scanners.is_empty() || scanners.iter().any(|s| s == "tcp")
    }

    /// Services gone: on a device this run saw, a TCP port the run probed that neither it nor a
    /// run claimed after it (`seq` is the run's number) found open.
    pub(super) async fn services_gone(&mut self, seq: i64) -> Result<()> {
        let dia = self.dia;
        let run = self.run;
        let ports: std::collections::HashSet<u16> =
            scanopy_core::ports::tcp_ports(&self.info.config)
                .into_iter()
                .collect();
        let rows = sqlx::query(&q(dia, "SELECT s.device_id, s.ip, s.port, s.name, s.product FROM services s JOIN devices d ON d.id = s.device_id \
             JOIN scan_run_devices r ON r.device_id = d.id AND r.scan_run_id = ? \
             WHERE d.deleted_at IS NULL AND MAX(s.last_run_seq, d.services_seq) < ? AND s.transport = 'tcp'"))
            .bind(run.to_string())
            .bind(seq)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(db_err("find services gone"))?;
        for r in &rows {
            let ip_s: String = r.get("ip");
            let Ok(ip) = ip_s.parse::<std::net::IpAddr>() else {
                continue;
            };
            let Ok(port) = u16::try_from(r.get::<i64, _>("port")) else {
                continue;
            };
            if !ports.contains(&port) || !self.info.targets.iter().any(|t| t.contains(&ip)) {
                continue;
            }
            let device: String = r.get("device_id");
            sqlx::query(&q(dia, "DELETE FROM services WHERE device_id = ? AND ip = ? AND transport = 'tcp' AND port = ?"))
                .bind(&device)
                .bind(&ip_s)
                .bind(i64::from(port))
                .execute(&mut *self.conn)
                .await
                .map_err(db_err("mark a service gone"))?;
            let uid = Uuid::parse_str(&device).ok();
            if let Some(u) = uid {
                self.changes.services_gone.push((u, port, "tcp".into()));
            }
            SqlStore::event(
                dia,
                self.conn,
                self.info.network,
                "service_gone",
                uid,
                Some(run),
                serde_json::json!({"ip": ip_s, "port": port, "protocol": "tcp", "name": r.get::<String, _>("name"), "product": r.get::<Option<String>, _>("product")}),
            )
            .await?;
        }
        Ok(())
    }

    /// The run's distinct devices forgotten (its count stays) and `scan_done` recorded with
    /// the status it ended with; returns what the end changed.
    pub(super) async fn close(self, status: RunStatus) -> Result<ChangeSet> {
        SqlStore::forget_run_devices(self.dia, self.conn, self.run).await?;
        SqlStore::event(
            self.dia,
            self.conn,
            self.info.network,
            "scan_done",
            None,
            Some(self.run),
            serde_json::json!({"status": status.as_str()}),
        )
        .await?;
        Ok(self.changes)
    }
}

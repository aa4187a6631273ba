//! [`InventoryStore`] for [`SqlStore`]: networks, scan runs and what they found. A batch is
//! applied by `apply` and a run ended by `finish`.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use scanopy_core::{Container, Device, DeviceType, Interface, L2, MacAddr, Network, Observation};
use sqlx::Row;
use uuid::Uuid;

use super::{
    Dialect, SqlStore, db_err, event_from_row, finish, json_err, parse_ts, q, results,
    run_from_row, ts,
};
use crate::model::{
    ChangeSet, Counts, DeviceEdit, DeviceFilter, Event, NewScanRun, Page, RunStatus, ScanRun,
    ServiceRow, StoredDevice,
};
use crate::{InventoryStore, Result, StoreError};

#[async_trait]
impl InventoryStore for SqlStore {
    async fn create_network(&self, name: &str, subnets: &[IpNet]) -> Result<Network> {
        let dia = self.dialect;
        if name.trim().is_empty() {
            return Err(StoreError::BadRequest("a network needs a name".into()));
        }
        let n = Network::new(name.trim(), subnets.to_vec());
        let _w = self.write.lock().await;
        sqlx::query(&q(
            dia,
            "INSERT INTO networks (id, name, subnets, created_at) VALUES (?, ?, ?, ?)",
        ))
        .bind(n.id.to_string())
        .bind(&n.name)
        .bind(serde_json::to_string(&n.subnets).map_err(json_err("store a network"))?)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(db_err("store a network"))?;
        Ok(n)
    }

    async fn update_network(
        &self,
        id: Uuid,
        name: Option<&str>,
        subnets: Option<&[IpNet]>,
    ) -> Result<Network> {
        let dia = self.dialect;
        if name.is_some_and(|n| n.trim().is_empty()) {
            return Err(StoreError::BadRequest("a network needs a name".into()));
        }
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("update a network"))?;
        let row = sqlx::query(&q(dia, "SELECT name, subnets FROM networks WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("update a network"))?
            .ok_or_else(|| StoreError::NotFound(format!("network {id}")))?;
        let kept: Vec<IpNet> =
            serde_json::from_str(&row.get::<String, _>(1)).map_err(json_err("read a network"))?;
        let mut n = Network::new(
            name.map_or_else(|| row.get::<String, _>(0), |n| n.trim().to_owned()),
            subnets.map_or(kept, <[IpNet]>::to_vec),
        );
        n.id = id;
        sqlx::query(&q(
            dia,
            "UPDATE networks SET name = ?, subnets = ? WHERE id = ?",
        ))
        .bind(&n.name)
        .bind(serde_json::to_string(&n.subnets).map_err(json_err("store a network"))?)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("update a network"))?;
        Ok(n)
    }

    async fn networks(&self) -> Result<Vec<Network>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(
            dia,
            "SELECT id, name, subnets FROM networks ORDER BY name, id",
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list networks"))?;
        rows.iter()
            .map(|r| {
                Ok(Network {
                    id: Uuid::parse_str(&r.get::<String, _>("id"))
                        .map_err(|e| StoreError::internal("read a network", e))?,
                    name: r.get("name"),
                    subnets: serde_json::from_str(&r.get::<String, _>("subnets"))
                        .map_err(json_err("read a network"))?,
                })
            })
            .collect()
    }

    async fn start_scan(&self, run: NewScanRun) -> Result<ScanRun> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("start a scan run"))?;
        Self::network_subnets(dia, &mut conn, run.network).await?;
        let now = Utc::now();
        let stored = ScanRun {
            id: Uuid::new_v4(),
            network: run.network,
            daemon: run.daemon,
            config: run.config,
            targets: run.targets,
            started_at: now,
            finished_at: None,
            status: RunStatus::Running,
            devices_seen: 0,
            observations: 0,
            observations_dropped: 0,
            rejected_batches: 0,
            requested_daemon: run.daemon,
            created_at: now,
            lease_until: None,
            progress: None,
            error: None,
            cancel_requested: false,
        };
        let seq = Self::next_run_seq(dia, &mut conn).await?;
        sqlx::query(&q(dia, "INSERT INTO scan_runs (id, network_id, daemon_id, config, targets, started_at, status, created_at, requested_daemon, run_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(stored.id.to_string())
            .bind(stored.network.to_string())
            .bind(stored.daemon.map(|d| d.to_string()))
            .bind(serde_json::to_string(&stored.config).map_err(json_err("store a scan run"))?)
            .bind(serde_json::to_string(&stored.targets).map_err(json_err("store a scan run"))?)
            .bind(ts(stored.started_at))
            .bind(stored.status.as_str())
            .bind(ts(stored.created_at))
            .bind(stored.requested_daemon.map(|d| d.to_string()))
            .bind(seq)
            .execute(&mut *conn)
            .await
            .map_err(db_err("store a scan run"))?;
        Ok(stored)
    }

    async fn scan_run(&self, id: Uuid) -> Result<Option<ScanRun>> {
        let dia = self.dialect;
        let row = sqlx::query(&q(dia, "SELECT * FROM scan_runs WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("read a scan run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn apply_batch(
        &self,
        run: Uuid,
        batch: Uuid,
        observations: &[Observation],
    ) -> Result<ChangeSet> {
        let g = results::Guard {
            run,
            batch,
            daemon: None,
            limits: None,
        };
        Ok(self.apply_guarded(&g, observations).await?.changes)
    }

    async fn finish_scan(&self, run: Uuid, status: RunStatus) -> Result<ChangeSet> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("finish a scan run"))?;
        let (info, seq, status) = Self::end_run(dia, &mut tx, run, status).await?;
        // A run from before run numbers (schema 3) marks nothing: it cannot tell what it saw;
        // nor does a listen run, which hears what talks and sweeps nothing.
        let seq = seq.filter(|_| {
            status == RunStatus::Done
                && !info.targets.is_empty()
                && !scanopy_core::protocol::is_listen_run(&info.config)
        });
        let mut f = finish::Finish::new(dia, &mut tx, run, info);
        if let Some(seq) = seq {
            f.mark_missed(seq).await?;
        }
        if let Some(seq) = seq.filter(|_| f.probed_tcp()) {
            f.services_gone(seq).await?;
        }
        let changes = f.close(status).await?;
        tx.commit().await.map_err(db_err("finish a scan run"))?;
        Ok(changes)
    }

    async fn devices(
        &self,
        filter: &DeviceFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<StoredDevice>> {
        let dia = self.dialect;
        let limit = limit.clamp(1, 1000);
        if let Some(c) = cursor {
            Uuid::parse_str(c)
                .map_err(|_| StoreError::BadRequest(format!("invalid cursor {c:?}")))?;
        }
        let mut sql = String::from("SELECT d.id FROM devices d WHERE d.deleted_at IS NULL");
        let mut binds: Vec<String> = Vec::new();
        if let Some(n) = filter.network {
            sql.push_str(" AND d.network_id = ?");
            binds.push(n.to_string());
        }
        if let Some(s) = filter.subnet {
            sql.push_str(" AND EXISTS (SELECT 1 FROM interfaces i WHERE i.device_id = d.id AND i.subnet = ?)");
            binds.push(s.trunc().to_string());
        }
        if let Some(q) = filter.q.as_ref().filter(|q| !q.is_empty()) {
            let like = format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            sql.push_str(
                " AND (d.hostname LIKE ? ESCAPE '\\' OR d.vendor LIKE ? ESCAPE '\\' OR d.user_name LIKE ? ESCAPE '\\' \
                 OR EXISTS (SELECT 1 FROM interfaces i WHERE i.device_id = d.id AND (i.ip LIKE ? ESCAPE '\\' OR i.mac LIKE ? ESCAPE '\\')))",
            );
            for _ in 0..5 {
                binds.push(like.clone());
            }
        }
        if let Some(svc) = &filter.service {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM services s WHERE s.device_id = d.id AND s.name = ?)",
            );
            binds.push(svc.clone());
        }
        if let Some(since) = filter.seen_since {
            sql.push_str(" AND d.last_seen >= ?");
            binds.push(ts(since));
        }
        if let Some(c) = cursor {
            sql.push_str(" AND d.id > ?");
            binds.push(c.to_owned());
        }
        sql.push_str(" ORDER BY d.id LIMIT ?");
        let adapted = q(dia, &sql);
        let mut query = sqlx::query_scalar::<_, String>(&adapted);
        for b in &binds {
            query = query.bind(b);
        }
        let ids = query
            .bind((limit + 1) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list devices"))?;
        let more = ids.len() > limit;
        let mut conn = self.pool.acquire().await.map_err(db_err("list devices"))?;
        let wanted: Vec<Uuid> = ids
            .iter()
            .take(limit)
            .filter_map(|i| Uuid::parse_str(i).ok())
            .collect();
        let items = Self::load_devices(dia, &mut conn, &wanted).await?;
        let next_cursor = if more {
            items.last().map(|d| d.device.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn device(&self, id: Uuid) -> Result<Option<StoredDevice>> {
        let dia = self.dialect;
        let mut conn = self.pool.acquire().await.map_err(db_err("read a device"))?;
        let Some(mut d) = Self::load_device(dia, &mut conn, id).await? else {
            return Ok(None);
        };
        d.device.l2 = load_l2(dia, &mut conn, id).await?;
        Ok(Some(d))
    }

    async fn edit_device(&self, id: Uuid, edit: DeviceEdit) -> Result<StoredDevice> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self.pool.acquire().await.map_err(db_err("edit a device"))?;
        if Self::load_device(dia, &mut conn, id).await?.is_none() {
            return Err(StoreError::NotFound(format!("device {id}")));
        }
        if let Some(name) = edit.name {
            sqlx::query(&q(dia, "UPDATE devices SET user_name = ? WHERE id = ?"))
                .bind(name)
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(db_err("edit a device"))?;
        }
        if let Some(notes) = edit.notes {
            sqlx::query(&q(dia, "UPDATE devices SET notes = ? WHERE id = ?"))
                .bind(notes)
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(db_err("edit a device"))?;
        }
        if let Some(tags) = edit.tags {
            let tags = serde_json::to_string(&tags).map_err(json_err("edit a device"))?;
            sqlx::query(&q(dia, "UPDATE devices SET tags = ? WHERE id = ?"))
                .bind(tags)
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(db_err("edit a device"))?;
        }
        Self::load_device(dia, &mut conn, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("device {id}")))
    }

    async fn delete_device(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(
            dia,
            "UPDATE devices SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
        ))
        .bind(ts(Utc::now()))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("delete a device"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("device {id}")));
        }
        Ok(())
    }

    async fn events(&self, after: i64, limit: usize) -> Result<Vec<Event>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(
            dia,
            "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        ))
        .bind(after)
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("read events"))?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    /// Every device (of a network) with what the map draws (name, type, parent, container,
    /// interfaces; no services, no history), in one query: a row per device, its interfaces
    /// aggregated as JSON by the database.
    async fn map_devices(&self, network: Option<Uuid>) -> Result<Vec<StoredDevice>> {
        self.map_rows(network, None).await
    }

    async fn map_devices_at(
        &self,
        network: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Vec<StoredDevice>> {
        self.map_rows(network, Some(at)).await
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<Event>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(dia, "SELECT * FROM events ORDER BY seq DESC LIMIT ?"))
            .bind(limit.clamp(1, 1000) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read events"))?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    async fn events_between(
        &self,
        network: Option<Uuid>,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::Event>> {
        let dia = self.dialect;
        let sql = if network.is_some() {
            "SELECT * FROM events WHERE at >= ? AND at <= ? AND seq > ? AND network_id = ? \
             ORDER BY seq LIMIT ?"
        } else {
            "SELECT * FROM events WHERE at >= ? AND at <= ? AND seq > ? ORDER BY seq LIMIT ?"
        };
        let sql = q(dia, sql);
        let mut query = sqlx::query(&sql)
            .bind(super::ts(from))
            .bind(super::ts(to))
            .bind(after);
        if let Some(n) = network {
            query = query.bind(n.to_string());
        }
        let rows = query
            .bind(limit.clamp(1, 5000) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read events"))?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    async fn device_events(&self, device: Uuid, limit: usize) -> Result<Vec<crate::Event>> {
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
        Ok(rows.iter().map(event_from_row).collect())
    }

    async fn presence_events(
        &self,
        devices: &[Uuid],
        to: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, DateTime<Utc>, Vec<crate::Event>)>> {
        let dia = self.dialect;
        let mut out: Vec<(Uuid, DateTime<Utc>, Vec<crate::Event>)> = Vec::new();
        let mut ids: Vec<String> = devices.iter().map(Uuid::to_string).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut budget = crate::MAX_PRESENCE_EVENTS;
        for chunk in ids.chunks(400) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, first_seen FROM devices WHERE deleted_at IS NULL AND id IN ({marks})"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            let rows = query
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("read presence"))?;
            let mut firsts: std::collections::HashMap<String, DateTime<Utc>> =
                std::collections::HashMap::new();
            for r in &rows {
                let id: String = r.get("id");
                firsts.insert(id, parse_ts(&r.get::<String, _>("first_seen")));
            }
            if firsts.is_empty() {
                continue;
            }
            let sql = q(
                dia,
                &format!(
                    "SELECT * FROM events WHERE device_id IN ({marks}) \
                     AND kind IN ('device_new', 'device_gone', 'device_back') AND at < ? \
                     ORDER BY at DESC, seq DESC LIMIT ?"
                ),
            )
            .into_owned();
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            let rows = query
                .bind(ts(to))
                .bind(budget as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("read presence"))?;
            budget = budget.saturating_sub(rows.len());
            let mut by: std::collections::HashMap<Uuid, Vec<crate::Event>> =
                std::collections::HashMap::new();
            for e in rows.iter().map(event_from_row) {
                if let Some(d) = e.device {
                    by.entry(d).or_default().push(e);
                }
            }
            for (id, first) in firsts {
                let Ok(u) = Uuid::parse_str(&id) else {
                    continue;
                };
                let mut evs = by.remove(&u).unwrap_or_default();
                evs.reverse();
                out.push((u, first, evs));
            }
            if budget == 0 {
                break;
            }
        }
        out.sort_by_key(|(u, ..)| *u);
        Ok(out)
    }

    async fn services(
        &self,
        filter: &crate::DeviceFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ServiceRow>> {
        // Services come with their devices: page through devices, flatten their services.
        let page = InventoryStore::devices(self, filter, limit, cursor).await?;
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

    async fn counts(&self) -> Result<Counts> {
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

    /// Whether the database answers.
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::unavailable("reach the database", e))?;
        Ok(())
    }
}

/// The newest link-layer snapshot of device `id`, if it told one. A snapshot that no longer
/// parses (written by a newer version) reads as none.
async fn load_l2(
    dia: Dialect,
    conn: &mut sqlx::AnyConnection,
    id: Uuid,
) -> Result<Option<Box<L2>>> {
    let json: Option<String> =
        sqlx::query_scalar(&q(dia, "SELECT l2 FROM device_l2 WHERE device_id = ?"))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("read a device's link layer"))?;
    Ok(json
        .and_then(|j| serde_json::from_str::<L2>(&j).ok())
        .map(Box::new))
}

impl SqlStore {
    /// [`InventoryStore::map_devices`], now or (`at`) as it was.
    async fn map_rows(
        &self,
        network: Option<Uuid>,
        at: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredDevice>> {
        let dia = self.dialect;
        let when = if at.is_some() {
            " AND i.first_seen <= ?"
        } else {
            ""
        };
        let ifs = match dia {
            Dialect::Sqlite => format!(
                "(SELECT json_group_array(json_array(ip, mac, subnet)) FROM interfaces i WHERE i.device_id = d.id{when})"
            ),
            Dialect::Postgres => format!(
                "(SELECT json_agg(json_build_array(ip, mac, subnet) ORDER BY ip, mac)::text FROM interfaces i WHERE i.device_id = d.id{when})"
            ),
        };
        let mut sql = format!(
            "SELECT d.id, d.network_id, d.hostname, d.device_type, d.parent_id, d.container, d.user_name, d.offline, {ifs} AS ifs, \
             (SELECT x.l2 FROM device_l2 x WHERE x.device_id = d.id) AS l2 \
             FROM devices d WHERE "
        );
        sql.push_str(if at.is_some() {
            "d.first_seen <= ? AND (d.deleted_at IS NULL OR d.deleted_at > ?)"
        } else {
            "d.deleted_at IS NULL"
        });
        if network.is_some() {
            sql.push_str(" AND d.network_id = ?");
        }
        sql.push_str(" ORDER BY d.id");
        let sql = q(dia, &sql);
        let mut query = sqlx::query(&sql);
        if let Some(t) = at {
            query = query.bind(ts(t)).bind(ts(t)).bind(ts(t));
        }
        if let Some(n) = network {
            query = query.bind(n.to_string());
        }
        // Rows are turned into devices as they come: 100,000 rows held at once took more
        // memory than the devices made of them.
        use futures::TryStreamExt;
        let mut rows = query.fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await.map_err(db_err("read the map"))? {
            let r = &r;
            let Ok(id) = Uuid::parse_str(&r.get::<String, _>("id")) else {
                continue;
            };
            let list: Vec<(String, String, Option<String>)> = r
                .get::<Option<String>, _>("ifs")
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(json_err("read the map"))?
                .unwrap_or_default();
            let mut interfaces: Vec<Interface> = list
                .into_iter()
                .filter_map(|(ip, mac, subnet)| {
                    Some(Interface {
                        ip: ip.parse().ok()?,
                        mac: MacAddr::from_str(&mac).ok(),
                        subnet: subnet.and_then(|s| s.parse().ok()),
                    })
                })
                .collect();
            interfaces.sort_by_key(|i| (i.ip, i.mac));
            let device = Device {
                id,
                hostname: r.get("hostname"),
                device_type: DeviceType::from_str(&r.get::<String, _>("device_type"))
                    .unwrap_or_default(),
                interfaces,
                parent: r
                    .get::<Option<String>, _>("parent_id")
                    .and_then(|p| Uuid::parse_str(&p).ok()),
                container: r
                    .get::<Option<String>, _>("container")
                    .and_then(|c| serde_json::from_str::<Container>(&c).ok()),
                vendor: None,
                device_type_evidence: None,
                services: Vec::new(),
                first_seen: DateTime::<Utc>::UNIX_EPOCH,
                last_seen: DateTime::<Utc>::UNIX_EPOCH,
                sources: Default::default(),
                randomized_mac: false,
                merge_reasons: Vec::new(),
                os: None,
                l2: r
                    .get::<Option<String>, _>("l2")
                    .and_then(|j| serde_json::from_str::<L2>(&j).ok())
                    .map(Box::new),
            };
            out.push(StoredDevice {
                device,
                network: Uuid::parse_str(&r.get::<String, _>("network_id")).unwrap_or_default(),
                user_name: r.get("user_name"),
                notes: None,
                tags: Vec::new(),
                offline: r.get::<i64, _>("offline") != 0,
            });
        }
        Ok(out)
    }
}

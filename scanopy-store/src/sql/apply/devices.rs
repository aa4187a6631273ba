//! Step two, per batch device: its stored row. A known device's row is updated when something
//! in it changed, or queued for a later last-seen time; a new device is queued for insertion.

use std::collections::BTreeSet;

use scanopy_core::{Device, DeviceType, Os};
use sqlx::Row;
use uuid::Uuid;

use super::Apply;
use crate::Result;
use crate::sql::{Val, db_err, json_err, parse_ts, q, ts};

impl Apply<'_> {
    /// The stored device `d` is (`existing`, from [`Apply::load_known`]) brought up to date, or
    /// a new one queued; `None` when it was deleted and not seen since (it stays deleted).
    pub(super) async fn device(
        &mut self,
        d: &Device,
        existing: Option<Uuid>,
    ) -> Result<Option<Uuid>> {
        let parent = d.parent.and_then(|p| self.stored_id.get(&p).copied());
        // Two devices of one batch may be the same stored one: the second reads it again.
        let known_row = match existing {
            Some(id) => match self.known.device_rows.remove(&id.to_string()) {
                Some(row) => Some((id, row)),
                None => sqlx::query(&q(self.dia, "SELECT * FROM devices WHERE id = ?"))
                    .bind(id.to_string())
                    .fetch_optional(&mut *self.conn)
                    .await
                    .map_err(db_err("read a device"))?
                    .map(|row| (id, row)),
            },
            None => None,
        };
        match known_row {
            Some((id, row)) => self.update_known(d, id, &row, parent).await,
            None => self.insert_new(d, existing, parent).await.map(Some),
        }
    }

    /// A known device seen again: its row updated, or queued for a later last-seen time.
    async fn update_known(
        &mut self,
        d: &Device,
        id: Uuid,
        row: &sqlx::any::AnyRow,
        parent: Option<Uuid>,
    ) -> Result<Option<Uuid>> {
        let deleted_at: Option<String> = row.get("deleted_at");
        let mut restored = false;
        if let Some(del) = deleted_at {
            if d.last_seen <= parse_ts(&del) {
                // Deleted, and not seen since: it stays deleted.
                return Ok(None);
            }
            restored = true;
            self.changes.devices_new.push(id);
            self.event("device_new", id, serde_json::json!({"seen_again": true}));
        }
        let old_host: Option<String> = row.get("hostname");
        let old_vendor: Option<String> = row.get("vendor");
        let old_type: String = row.get("device_type");
        let old_sources: BTreeSet<String> =
            serde_json::from_str(&row.get::<String, _>("sources")).unwrap_or_default();
        let mut sources = old_sources.clone();
        sources.extend(d.sources.iter().cloned());
        let hostname = d.hostname.clone().or(old_host.clone());
        let vendor = d.vendor.clone().or(old_vendor.clone());
        let (dtype, evidence): (String, Option<String>) = if d.device_type != DeviceType::Unknown {
            (d.device_type.to_string(), d.device_type_evidence.clone())
        } else {
            (old_type.clone(), row.get("device_type_evidence"))
        };
        let old_os: Option<Os> = row
            .get::<Option<String>, _>("os")
            .and_then(|o| serde_json::from_str(&o).ok());
        let os = better_os(old_os.as_ref(), d.os.as_ref()).cloned();
        let old_first = parse_ts(&row.get::<String, _>("first_seen"));
        let old_container: Option<String> = row.get("container");
        let container = d
            .container
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        let old_parent: Option<String> = row.get("parent_id");
        let os_family = |o: &Option<Os>| o.as_ref().map(|o| o.family.clone());
        let fields_changed = hostname != old_host
            || vendor != old_vendor
            || dtype != old_type
            || os_family(&os) != os_family(&old_os);
        let row_changed = fields_changed
            || os != old_os
            || restored
            || sources != old_sources
            || d.first_seen < old_first
            || (container.is_some() && container != old_container)
            || (parent.is_some() && parent.map(|p| p.to_string()) != old_parent)
            || (d.randomized_mac && row.get::<i64, _>("randomized_mac") == 0)
            || row.get::<i64, _>("offline") != 0
            || row.get::<i64, _>("missed_scans") != 0;
        if row_changed {
            let last = parse_ts(&row.get::<String, _>("last_seen")).max(d.last_seen);
            sqlx::query(&q(
                self.dia,
                "UPDATE devices SET hostname = ?, vendor = ?, device_type = ?, device_type_evidence = ?, first_seen = ?, \
                 last_seen = ?, sources = ?, randomized_mac = MAX(randomized_mac, ?), parent_id = COALESCE(?, parent_id), \
                 container = COALESCE(?, container), missed_scans = 0, offline = 0, deleted_at = NULL, \
                 last_run_seq = MAX(last_run_seq, ?), os = ? WHERE id = ?",
            ))
            .bind(&hostname)
            .bind(&vendor)
            .bind(&dtype)
            .bind(&evidence)
            .bind(ts(old_first.min(d.first_seen)))
            .bind(ts(last))
            .bind(serde_json::to_string(&sources).map_err(json_err("update a device"))?)
            .bind(i64::from(d.randomized_mac))
            .bind(parent.map(|p| p.to_string()))
            .bind(container)
            .bind(self.seq)
            .bind(os_json(os.as_ref())?)
            .bind(id.to_string())
            .execute(&mut *self.conn)
            .await
            .map_err(db_err("update a device"))?;
        } else {
            self.pending
                .touch_devices
                .push(vec![Val::s(&id.to_string())]);
        }
        // Offline until now: back.
        if row.get::<i64, _>("offline") != 0 && !restored {
            self.event(
                "device_back",
                id,
                serde_json::json!({"ips": d.ips(), "hostname": hostname}),
            );
        }
        if fields_changed && !self.changes.devices_new.contains(&id) {
            self.changes.devices_changed.push(id);
            self.event(
                "device_changed",
                id,
                serde_json::json!({"hostname": hostname, "vendor": vendor, "device_type": dtype, "os": os_family(&os)}),
            );
        }
        Ok(Some(id))
    }

    /// A device the store did not know, queued for insertion; returns its id.
    async fn insert_new(
        &mut self,
        d: &Device,
        existing: Option<Uuid>,
        parent: Option<Uuid>,
    ) -> Result<Uuid> {
        // A fresh id, unless the core's (derived from the device's identity) is free.
        let id = if existing.is_none() && !self.known.device_rows.contains_key(&d.id.to_string()) {
            let taken: Option<String> =
                sqlx::query_scalar(&q(self.dia, "SELECT id FROM devices WHERE id = ?"))
                    .bind(d.id.to_string())
                    .fetch_optional(&mut *self.conn)
                    .await
                    .map_err(db_err("create a device"))?;
            if taken.is_some() {
                Uuid::new_v4()
            } else {
                d.id
            }
        } else {
            Uuid::new_v4()
        };
        self.pending.new_devices.push(vec![
            Val::s(&id.to_string()),
            Val::s(&self.net),
            Val::o(d.hostname.clone()),
            Val::o(d.vendor.clone()),
            Val::s(&d.device_type.to_string()),
            Val::o(d.device_type_evidence.clone()),
            Val::s(&ts(d.first_seen)),
            Val::s(&ts(d.last_seen)),
            Val::s(&serde_json::to_string(&d.sources).map_err(json_err("create a device"))?),
            Val::I(i64::from(d.randomized_mac)),
            Val::o(parent.map(|p| p.to_string())),
            Val::o(d.container.as_ref().map(|c| c.id.clone())),
            Val::o(
                d.container
                    .as_ref()
                    .map(|c| serde_json::to_string(c).unwrap_or_default()),
            ),
            Val::I(self.seq),
            Val::o(os_json(d.os.as_ref())?),
        ]);
        self.changes.devices_new.push(id);
        self.event(
            "device_new",
            id,
            serde_json::json!({"ips": d.ips(), "macs": d.macs(), "hostname": d.hostname, "os": d.os, "sources": d.sources}),
        );
        Ok(id)
    }
}

/// A device's OS as a column value.
fn os_json(os: Option<&Os>) -> Result<Option<String>> {
    os.map(serde_json::to_string)
        .transpose()
        .map_err(json_err("write a device's OS"))
}

/// Which OS a stored device keeps when a batch brings `new`: the new one unless it is weaker
/// than what is stored (a TTL guess does not replace what an SSH banner said), and at equal
/// strength the new one unless it names less of the same family.
pub(crate) fn better_os<'a>(old: Option<&'a Os>, new: Option<&'a Os>) -> Option<&'a Os> {
    match (old, new) {
        (Some(o), Some(n)) => {
            let weaker = n.confidence < o.confidence
                || (n.confidence == o.confidence
                    && n.family == o.family
                    && (n.name.is_none() && o.name.is_some()
                        || n.version.is_none() && o.version.is_some()));
            if weaker { Some(o) } else { Some(n) }
        }
        (o, n) => n.or(o),
    }
}

//! Last step: writes in bulk. New rows many to a statement; what was merely seen again gets
//! its last-seen time (the batch's latest) in a few statements; then the batch's events.

use scanopy_core::Device;

use super::Apply;
use crate::Result;
use crate::sql::{Val, db_err, insert_rows, q, touch_rows, ts};

/// Addresses looked up per statement when checking for moved addresses.
const MOVE_CHUNK: usize = 400;

/// The `address_moved` events of a batch, pure: for each new interface `(device, ip, mac)`
/// with a MAC, the stored interfaces `(device, ip, mac)` of other devices with the same address
/// and another MAC. One event per (device, address), naming each earlier MAC once.
pub(crate) fn moves(
    new: &[(String, String, String)],
    stored: &[(String, String, String)],
) -> Vec<(String, serde_json::Value)> {
    let mut out: Vec<(String, serde_json::Value)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (dev, ip, mac) in new {
        if mac.is_empty() || !seen.insert((dev.clone(), ip.clone())) {
            continue;
        }
        let mut before: Vec<(&str, &str)> = stored
            .iter()
            .filter(|(d, i, m)| i == ip && d != dev && !m.is_empty() && m != mac)
            .map(|(d, _, m)| (d.as_str(), m.as_str()))
            .collect();
        before.sort();
        before.dedup_by(|a, b| a.1 == b.1);
        if let Some((prev_dev, prev_mac)) = before.first() {
            out.push((
                dev.clone(),
                serde_json::json!({
                    "ip": ip,
                    "mac": mac,
                    "previous_mac": prev_mac,
                    "previous_device": prev_dev,
                }),
            ));
        }
    }
    out
}

impl Apply<'_> {
    /// Writes the pending rows and events of the batch whose merged devices are
    /// `batch_devices`.
    pub(super) async fn flush(&mut self, batch_devices: &[Device]) -> Result<()> {
        self.address_moves().await?;
        let dia = self.dia;
        let seq = self.seq;
        let p = &self.pending;
        insert_rows(dia, self.conn, "INSERT INTO devices (id, network_id, hostname, vendor, device_type, device_type_evidence, first_seen, last_seen, sources, randomized_mac, parent_id, container_id, container, last_run_seq, os) VALUES", &p.new_devices).await?;
        insert_rows(dia, self.conn, "INSERT INTO interfaces (device_id, network_id, ip, mac, subnet, first_seen, last_seen) VALUES", &p.new_ifaces).await?;
        insert_rows(dia, self.conn, "INSERT INTO services (device_id, ip, port, transport, state, name, product, version, extra, confidence, evidence, first_seen, last_seen, last_run_seq) VALUES", &p.new_services).await?;
        let batch_last = batch_devices
            .iter()
            .map(|d| d.last_seen)
            .max()
            .map(ts)
            .unwrap_or_else(|| self.now.clone());
        touch_rows(
            dia,
            self.conn,
            "devices",
            &["id"],
            &format!("last_seen = MAX(devices.last_seen, ?), missed_scans = 0, offline = 0, last_run_seq = MAX(devices.last_run_seq, {seq})"),
            &batch_last,
            &p.touch_devices,
        )
        .await?;
        touch_rows(
            dia,
            self.conn,
            "interfaces",
            &["device_id", "ip", "mac"],
            "last_seen = MAX(interfaces.last_seen, ?)",
            &batch_last,
            &p.touch_ifaces,
        )
        .await?;
        touch_rows(
            dia,
            self.conn,
            "devices",
            &["id"],
            &format!("services_seen = MAX(COALESCE(devices.services_seen, ''), ?), services_seq = MAX(devices.services_seq, {seq})"),
            &batch_last,
            &p.confirm_services,
        )
        .await?;
        touch_rows(
            dia,
            self.conn,
            "services",
            &["device_id", "ip", "transport", "port"],
            &format!("last_seen = MAX(services.last_seen, ?), last_run_seq = MAX(services.last_run_seq, {seq})"),
            &batch_last,
            &p.touch_services,
        )
        .await?;
        insert_rows(
            dia,
            self.conn,
            "INSERT INTO events (network_id, kind, device_id, scan_run_id, detail, at) VALUES",
            &p.events,
        )
        .await?;
        Ok(())
    }

    /// Events for addresses that now answer with another MAC than a device stored before
    /// (an address reassigned by DHCP, a replaced device, or someone answering for another:
    /// ARP spoofing). Looked up in bulk, only for the batch's new interfaces, before they are
    /// written.
    async fn address_moves(&mut self) -> Result<()> {
        let str_of = |v: &Val| match v {
            Val::S(Some(s)) => s.clone(),
            _ => String::new(),
        };
        let unspecified = std::net::Ipv4Addr::UNSPECIFIED.to_string();
        let new: Vec<(String, String, String)> = self
            .pending
            .new_ifaces
            .iter()
            .map(|r| (str_of(&r[0]), str_of(&r[2]), str_of(&r[3])))
            .filter(|(dev, ip, mac)| {
                !mac.is_empty() && *ip != unspecified && !self.pending.containers.contains(dev)
            })
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut ips: Vec<&str> = new.iter().map(|(_, ip, _)| ip.as_str()).collect();
        ips.sort_unstable();
        ips.dedup();
        let mut stored = Vec::new();
        for chunk in ips.chunks(MOVE_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT i.device_id, i.ip, i.mac FROM interfaces i JOIN devices d ON d.id = i.device_id \
                 WHERE i.network_id = ? AND d.deleted_at IS NULL AND d.parent_id IS NULL AND d.container IS NULL \
                 AND i.mac <> '' AND i.ip IN ({marks})"
            );
            let sql = q(self.dia, &sql);
            let mut query = sqlx::query(&sql).bind(&self.net);
            for ip in chunk {
                query = query.bind(*ip);
            }
            let rows = query
                .fetch_all(&mut *self.conn)
                .await
                .map_err(db_err("look for moved addresses"))?;
            use sqlx::Row;
            for r in rows {
                stored.push((r.get("device_id"), r.get("ip"), r.get("mac")));
            }
        }
        for (dev, detail) in moves(&new, &stored) {
            if let Ok(id) = uuid::Uuid::parse_str(&dev) {
                self.event("address_moved", id, detail);
            }
        }
        Ok(())
    }
}

//! Step one: what the store already knows about this batch, in a few indexed queries: devices
//! by MAC, which of the batch's addresses are known at all, and the known devices' rows,
//! interfaces and services.

use std::collections::{BTreeSet, HashMap};

use scanopy_core::Device;
use sqlx::Row;
use uuid::Uuid;

use super::Apply;
use crate::Result;
use crate::sql::{SqlStore, select_pairs, select_rows};

impl Apply<'_> {
    /// Resolves each batch device to the stored device it is (or `None`, a new one), in the
    /// batch's order, and reads the known devices' rows, interfaces and services into
    /// [`Apply::known`].
    pub(super) async fn load_known(
        &mut self,
        batch_devices: &[Device],
    ) -> Result<Vec<Option<Uuid>>> {
        let dia = self.dia;
        let macs: Vec<String> = batch_devices
            .iter()
            .flat_map(|d| d.macs())
            .map(|m| m.to_string())
            .collect();
        let mut by_mac: HashMap<String, Uuid> = HashMap::new();
        for (mac, id) in select_pairs(
            dia,
            self.conn,
            "SELECT mac, device_id FROM interfaces WHERE network_id = ? AND mac IN",
            &self.net,
            &macs,
        )
        .await?
        {
            if let Ok(id) = Uuid::parse_str(&id) {
                by_mac.entry(mac).or_insert(id);
            }
        }
        let ips: Vec<String> = batch_devices
            .iter()
            .flat_map(|d| d.ips())
            .map(|i| i.to_string())
            .collect();
        let known_ips: BTreeSet<String> = select_pairs(
            dia,
            self.conn,
            "SELECT ip, ip FROM interfaces WHERE network_id = ? AND ip IN",
            &self.net,
            &ips,
        )
        .await?
        .into_iter()
        .map(|(ip, _)| ip)
        .collect();
        let mut resolved: Vec<Option<Uuid>> = Vec::with_capacity(batch_devices.len());
        for d in batch_devices {
            let hit = d
                .macs()
                .iter()
                .find_map(|m| by_mac.get(&m.to_string()).copied());
            let r = match hit {
                Some(id) => Some(id),
                // Nothing known by MAC: only a container, or an address already on record, can
                // still be a known device.
                None if d.container.is_some()
                    || d.ips().iter().any(|ip| known_ips.contains(&ip.to_string())) =>
                {
                    SqlStore::resolve(dia, self.conn, self.network, d).await?
                }
                None => None,
            };
            resolved.push(r);
        }
        let known: Vec<String> = resolved.iter().flatten().map(|u| u.to_string()).collect();
        self.load_rows(&known).await?;
        Ok(resolved)
    }

    /// Reads the rows, interfaces and services of the known devices `known` (ids).
    async fn load_rows(&mut self, known: &[String]) -> Result<()> {
        let dia = self.dia;
        let rows = select_rows(dia, self.conn, "SELECT * FROM devices WHERE id IN", known).await?;
        self.known.device_rows = rows
            .into_iter()
            .map(|r| (r.get::<String, _>("id"), r))
            .collect();
        for r in select_rows(
            dia,
            self.conn,
            "SELECT device_id, ip, mac FROM interfaces WHERE device_id IN",
            known,
        )
        .await?
        {
            self.known
                .ifaces
                .insert((r.get("device_id"), r.get("ip"), r.get("mac")));
        }
        for r in select_rows(
            dia,
            self.conn,
            "SELECT * FROM services WHERE device_id IN",
            known,
        )
        .await?
        {
            let key: (String, String, String, i64) = (
                r.get("device_id"),
                r.get("ip"),
                r.get("transport"),
                r.get("port"),
            );
            *self
                .known
                .services_per_device
                .entry(key.0.clone())
                .or_default() += 1;
            self.known.services.insert(key, r);
        }
        Ok(())
    }
}

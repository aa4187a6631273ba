//! Step one: what the store already knows about this batch, in a few indexed queries: devices
//! by MAC, which of the batch's addresses are known at all, and the known devices' rows,
//! interfaces and services.

use std::collections::{BTreeSet, HashMap};

use scanopy_core::Device;
use sqlx::Row;
use uuid::Uuid;

use super::{Apply, KnownService};
use crate::Result;
use crate::sql::{Dialect, SqlStore, db_err, json_err, q, select_pairs, select_rows};

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
        // One row per device, its services aggregated as JSON by the database: reading 5,000
        // service rows one by one through sqlx was most of an unchanged rescan's time.
        for chunk in known.chunks(crate::sql::PARAMS_PER_STATEMENT) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = match dia {
                Dialect::Sqlite => format!(
                    "SELECT device_id, json_group_array(json_array(ip, transport, port, state, name, product, version, extra, confidence)) AS s \
                     FROM services WHERE device_id IN ({marks}) GROUP BY device_id"
                ),
                Dialect::Postgres => format!(
                    "SELECT device_id, json_agg(json_build_array(ip, transport, port, state, name, product, version, extra, confidence))::text AS s \
                     FROM services WHERE device_id IN ({marks}) GROUP BY device_id"
                ),
            };
            let sql = q(dia, &sql).into_owned();
            let mut query = sqlx::query(&sql).persistent(false);
            for k in chunk {
                query = query.bind(k);
            }
            let rows = query
                .fetch_all(&mut *self.conn)
                .await
                .map_err(db_err("read known services"))?;
            type Row = (
                String,
                String,
                i64,
                String,
                String,
                Option<String>,
                Option<String>,
                String,
                String,
            );
            for r in rows {
                let device: String = r.get("device_id");
                let list: Vec<Row> = serde_json::from_str(&r.get::<String, _>("s"))
                    .map_err(json_err("read known services"))?;
                *self
                    .known
                    .services_per_device
                    .entry(device.clone())
                    .or_default() += list.len();
                for (ip, transport, port, state, name, product, version, extra, confidence) in list
                {
                    self.known.services.insert(
                        (device.clone(), ip, transport, port),
                        KnownService {
                            state,
                            name,
                            product,
                            version,
                            extra,
                            confidence,
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

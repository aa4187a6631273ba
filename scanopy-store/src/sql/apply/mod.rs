//! Applying a results batch, in named steps over one [`Apply`]: the batch's transaction, its
//! dialect, what the store already knows about the batch ([`load`]) and the rows waiting to be
//! written. Each batch device is matched to a stored one and its row written or queued
//! ([`devices`]), then its interfaces ([`interfaces`]) and services ([`services`]); the queued
//! rows and events go out in bulk at the end ([`events`]), then link-layer snapshots ([`l2`]).

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use scanopy_core::{Device, Inventory, InventoryConfig, Observation};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Dialect, SqlStore, Val, db_err, q, results, ts};
use crate::model::ChangeSet;
use crate::{Result, StoreError};

mod devices;
mod events;
mod interfaces;
mod l2;
mod load;
mod services;

/// One batch being applied: the transaction it runs in, what the store knew before it, and
/// what it will write.
struct Apply<'t> {
    dia: Dialect,
    conn: &'t mut AnyConnection,
    /// The run's network, as bound into rows.
    net: String,
    network: Uuid,
    run: Uuid,
    /// The run's place in the order of runs (`last_run_seq` of what it sees).
    seq: i64,
    /// When the batch is applied: the time of its events.
    now: String,
    known: Known,
    pending: Pending,
    /// Batch device id to the stored device it became (parents are looked up here).
    stored_id: HashMap<Uuid, Uuid>,
    changes: ChangeSet,
    /// Stored devices that got their first address the network knows ([`BatchReport::addressed`]).
    ///
    /// [`BatchReport::addressed`]: crate::BatchReport::addressed
    addressed: Vec<Uuid>,
}

/// What the store knew about the batch's devices before it, read by [`load`].
#[derive(Default)]
struct Known {
    /// Rows of the known devices by id; a row is taken out when its device is applied.
    device_rows: HashMap<String, sqlx::any::AnyRow>,
    /// Interfaces of the known devices (device id, ip, mac), kept current as the batch adds
    /// and supersedes interfaces.
    ifaces: BTreeSet<(String, String, String)>,
    /// Services of the known devices by (device id, ip, transport, port).
    services: HashMap<(String, String, String, i64), KnownService>,
    /// How many services each known device has stored.
    services_per_device: HashMap<String, usize>,
}

/// What a stored service is, as far as a batch compares it.
struct KnownService {
    state: String,
    name: String,
    product: Option<String>,
    version: Option<String>,
    extra: String,
    confidence: String,
}

/// Rows written in bulk at the end of the batch ([`events`]).
#[derive(Default)]
struct Pending {
    new_devices: Vec<Vec<Val>>,
    new_ifaces: Vec<Vec<Val>>,
    new_services: Vec<Vec<Val>>,
    /// Known devices whose row needs nothing but a later last-seen time.
    touch_devices: Vec<Vec<Val>>,
    touch_ifaces: Vec<Vec<Val>>,
    touch_services: Vec<Vec<Val>>,
    /// Known devices whose every stored service this batch saw again: one write on the device
    /// instead of one per service (schema 15).
    confirm_services: Vec<Vec<Val>>,
    events: Vec<Vec<Val>>,
    /// Containers of the batch (by stored id): their addresses are private to their host, so
    /// two of them on one address is no moved address.
    containers: std::collections::HashSet<String>,
    /// Link-layer snapshots (device id, JSON, seen at), written after the devices.
    l2: Vec<(String, String, String)>,
}

impl<'t> Apply<'t> {
    fn new(dia: Dialect, conn: &'t mut AnyConnection, network: Uuid, run: Uuid, seq: i64) -> Self {
        Apply {
            dia,
            conn,
            net: network.to_string(),
            network,
            run,
            seq,
            now: ts(Utc::now()),
            known: Known::default(),
            pending: Pending::default(),
            stored_id: HashMap::new(),
            changes: ChangeSet::default(),
            addressed: Vec::new(),
        }
    }

    /// Queues an event of this batch's run about `device`.
    fn event(&mut self, kind: &str, device: Uuid, detail: serde_json::Value) {
        self.pending.events.push(vec![
            Val::s(&self.net),
            Val::s(kind),
            Val::s(&device.to_string()),
            Val::s(&self.run.to_string()),
            Val::s(&detail.to_string()),
            Val::s(&self.now),
        ]);
    }
}

/// The batch on its own, merged by the core's rules; hosts before the containers they run.
fn merged(network: Uuid, subnets: Vec<ipnet::IpNet>, kept: &[Observation]) -> Vec<Device> {
    let mut inv = Inventory::new(InventoryConfig {
        network_id: network,
        subnets,
    });
    inv.apply_all(kept);
    let mut batch_devices = inv.devices();
    batch_devices.sort_by_key(|d| d.container.is_some());
    batch_devices
}

impl SqlStore {
    /// Applies a batch under the writer lock; a batch over its run's cap ends the run failed.
    pub(super) async fn apply_guarded(
        &self,
        g: &results::Guard,
        observations: &[Observation],
    ) -> Result<crate::BatchReport> {
        let _w = self.write.lock().await;
        match self.apply_locked(g, observations).await {
            Err(StoreError::Refused { code, message }) if code == "run_limit" => {
                self.end_over_limit(g.run, &message).await?;
                Err(StoreError::Refused { code, message })
            }
            r => r,
        }
    }

    /// The batch's transaction: the run admits it, its observations are screened, merged by
    /// the core's rules, matched to stored devices and written; the run records what it took.
    async fn apply_locked(
        &self,
        g: &results::Guard,
        observations: &[Observation],
    ) -> Result<crate::BatchReport> {
        let dia = self.dialect;
        let mut tx = self.pool.begin().await.map_err(db_err("start a batch"))?;
        let (run_info, seq) = Self::admit(dia, &mut tx, g).await?;
        let done: Option<String> =
            sqlx::query_scalar(&q(dia, "SELECT id FROM batches WHERE id = ?"))
                .bind(g.batch.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("check a batch"))?;
        if done.is_some() {
            return Ok(crate::BatchReport::default());
        }
        let network = run_info.network;
        Self::lock_network(dia, &mut tx, network).await?;
        let mut subnets = Self::network_subnets(dia, &mut tx, network).await?;
        let scope = results::scope(&run_info, &subnets);
        let from = g.daemon.map(|_| run_info.started_at);
        let screened = results::screen(observations, scope.as_ref(), from, Utc::now());
        results::check_observations(&run_info, g, screened.kept.len())?;
        subnets.extend(run_info.targets.iter().copied());
        let batch_devices = merged(network, subnets, &screened.kept);

        let mut a = Apply::new(dia, &mut tx, network, g.run, seq);
        let resolved = a.load_known(&batch_devices).await?;
        for (d, existing) in batch_devices.iter().zip(resolved) {
            let Some(id) = a.device(d, existing).await? else {
                // Deleted, and not seen since: it stays deleted.
                continue;
            };
            a.stored_id.insert(d.id, id);
            a.interfaces(d, id).await?;
            a.services(d, id).await?;
            a.queue_l2(d, id)?;
        }
        a.flush(&batch_devices).await?;
        a.write_l2().await?;
        let seen: BTreeSet<Uuid> = a.stored_id.values().copied().collect();
        let changes = a.changes;
        let addressed = a.addressed;

        Self::record_batch(dia, &mut tx, g, &seen, &screened).await?;
        tx.commit().await.map_err(db_err("commit a batch"))?;
        Ok(crate::BatchReport {
            changes,
            applied: true,
            outside_targets: screened.outside_targets,
            clamped: screened.clamped,
            addressed,
        })
    }
}

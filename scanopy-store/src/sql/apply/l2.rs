//! The last step, per batch device that told its link layer: its snapshot, stored once the
//! device rows exist; a snapshot older than the stored one is dropped.

use scanopy_core::Device;
use uuid::Uuid;

use super::Apply;
use crate::Result;
use crate::sql::{db_err, json_err, q, ts};

impl Apply<'_> {
    /// Queues `d`'s link-layer snapshot for device `id`.
    pub(super) fn queue_l2(&mut self, d: &Device, id: Uuid) -> Result<()> {
        if let Some(l2) = &d.l2 {
            let json =
                serde_json::to_string(l2).map_err(json_err("write a device's link layer"))?;
            self.pending
                .l2
                .push((id.to_string(), json, ts(d.last_seen)));
        }
        Ok(())
    }

    /// Writes the queued snapshots: the newer of the stored and the batch's wins.
    pub(super) async fn write_l2(&mut self) -> Result<()> {
        for (id, json, at) in std::mem::take(&mut self.pending.l2) {
            sqlx::query(&q(
                self.dia,
                "INSERT INTO device_l2 (device_id, l2, seen_at) VALUES (?, ?, ?) \
                 ON CONFLICT (device_id) DO UPDATE SET l2 = excluded.l2, seen_at = excluded.seen_at \
                 WHERE excluded.seen_at >= device_l2.seen_at",
            ))
            .bind(&id)
            .bind(&json)
            .bind(&at)
            .execute(&mut *self.conn)
            .await
            .map_err(db_err("write a device's link layer"))?;
        }
        Ok(())
    }
}

//! Last step: writes in bulk. New rows many to a statement; what was merely seen again gets
//! its last-seen time (the batch's latest) in a few statements; then the batch's events.

use scanopy_core::Device;

use super::Apply;
use crate::Result;
use crate::sql::{insert_rows, touch_rows, ts};

impl Apply<'_> {
    /// Writes the pending rows and events of the batch whose merged devices are
    /// `batch_devices`.
    pub(super) async fn flush(&mut self, batch_devices: &[Device]) -> Result<()> {
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
}

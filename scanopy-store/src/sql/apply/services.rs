//! Step four, per batch device: its services. A new one is queued for insertion; a known one
//! is updated when its identification or facts changed (a weaker identification never replaces
//! a stronger one), or queued for a later last-seen time.

use scanopy_core::{Confidence, Device, Service};
use uuid::Uuid;

use super::Apply;
use crate::Result;
use crate::sql::{Val, db_err, enum_str, json_err, q, ts};

impl Apply<'_> {
    /// Records the services of `d`, stored as device `id`.
    pub(super) async fn services(&mut self, d: &Device, id: Uuid) -> Result<()> {
        let dia = self.dia;
        let seq = self.seq;
        let id_s = id.to_string();
        let stored = self
            .known
            .services_per_device
            .get(&id_s)
            .copied()
            .unwrap_or(0);
        // Stored services seen again in this batch, and those of them that need only a later
        // last-seen time.
        let mut seen_again = std::collections::HashSet::new();
        let mut touches: Vec<Vec<Val>> = Vec::new();
        for s in &d.services {
            let key = (id, s.port, s.transport.to_string());
            let skey = (
                id_s.clone(),
                s.ip.to_string(),
                s.transport.to_string(),
                i64::from(s.port),
            );
            let extra = serde_json::to_string(&s.extra).map_err(json_err("store a service"))?;
            let Some(o) = self.known.services.get(&skey) else {
                self.pending.new_services.push(vec![
                    Val::s(&id_s),
                    Val::s(&s.ip.to_string()),
                    Val::I(i64::from(s.port)),
                    Val::s(&s.transport.to_string()),
                    Val::s(&enum_str(&s.state)),
                    Val::s(&s.name),
                    Val::o(s.product.clone()),
                    Val::o(s.version.clone()),
                    Val::s(&extra),
                    Val::s(&enum_str(&s.confidence)),
                    Val::s(&s.evidence),
                    Val::s(&ts(s.first_seen)),
                    Val::s(&ts(s.last_seen)),
                    Val::I(seq),
                ]);
                self.changes.services_new.push(key.clone());
                self.event(
                    "service_new",
                    id,
                    serde_json::json!({"ip": s.ip, "port": s.port, "protocol": s.transport, "name": s.name, "product": s.product}),
                );
                continue;
            };
            seen_again.insert(skey.clone());
            let old_conf: Confidence =
                serde_json::from_value(serde_json::Value::String(o.confidence.clone()))
                    .unwrap_or_default();
            // A weaker identification never replaces a stronger one.
            let keep_old = s.name == Service::UNKNOWN || s.confidence < old_conf;
            let (name, product, version, conf, evidence): (
                String,
                Option<String>,
                Option<String>,
                String,
                Option<String>,
            ) = if keep_old {
                (
                    o.name.clone(),
                    o.product.clone(),
                    o.version.clone(),
                    o.confidence.clone(),
                    None,
                )
            } else {
                (
                    s.name.clone(),
                    s.product.clone(),
                    s.version.clone(),
                    enum_str(&s.confidence),
                    Some(s.evidence.clone()),
                )
            };
            let state = enum_str(&s.state);
            let changed =
                state != o.state || name != o.name || product != o.product || version != o.version;
            let facts_changed = extra != o.extra || conf != o.confidence;
            if !changed && !facts_changed {
                touches.push(vec![
                    Val::s(&id_s),
                    Val::s(&s.ip.to_string()),
                    Val::s(&s.transport.to_string()),
                    Val::I(i64::from(s.port)),
                ]);
                continue;
            }
            sqlx::query(&q(
                dia,
                "UPDATE services SET state = ?, name = ?, product = ?, version = ?, confidence = ?, evidence = COALESCE(?, evidence), \
                 extra = ?, last_seen = MAX(last_seen, ?), last_run_seq = MAX(last_run_seq, ?) \
                 WHERE device_id = ? AND ip = ? AND transport = ? AND port = ?",
            ))
            .bind(&state)
            .bind(&name)
            .bind(&product)
            .bind(&version)
            .bind(&conf)
            .bind(&evidence)
            .bind(&extra)
            .bind(ts(s.last_seen))
            .bind(seq)
            .bind(&id_s)
            .bind(s.ip.to_string())
            .bind(s.transport.to_string())
            .bind(i64::from(s.port))
            .execute(&mut *self.conn)
            .await
            .map_err(db_err("update a service"))?;
            if changed {
                self.changes.services_changed.push(key.clone());
                self.event(
                    "service_changed",
                    id,
                    serde_json::json!({"ip": s.ip, "port": s.port, "state": state, "name": name, "product": product, "version": version}),
                );
            }
        }
        if stored > 0 && seen_again.len() == stored {
            // Every stored service seen again: the device records it for all of them.
            self.pending.confirm_services.push(vec![Val::s(&id_s)]);
        } else {
            self.pending.touch_services.extend(touches);
        }
        Ok(())
    }
}

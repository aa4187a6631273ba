//! Step three, per batch device: its interfaces. A known one is queued for a later last-seen
//! time, a new one for insertion; an address-only interface gives way to the same address with
//! a MAC, and a MAC heard before it had an address (`0.0.0.0`) to the same MAC with one.

use scanopy_core::Device;
use uuid::Uuid;

use super::Apply;
use crate::Result;
use crate::sql::{Val, db_err, q, ts};

impl Apply<'_> {
    /// Records the interfaces of `d`, stored as device `id`.
    pub(super) async fn interfaces(&mut self, d: &Device, id: Uuid) -> Result<()> {
        let id_s = id.to_string();
        if d.parent.is_some() || d.container.is_some() {
            self.pending.containers.insert(id_s.clone());
        }
        let unspecified = std::net::Ipv4Addr::UNSPECIFIED.to_string();
        let routable_before = self
            .known
            .ifaces
            .range((id_s.clone(), String::new(), String::new())..)
            .take_while(|(a, ..)| *a == id_s)
            .any(|(_, ip, _)| ip.parse().is_ok_and(scanopy_core::is_routable));
        for i in &d.interfaces {
            let mac = i.mac.map(|m| m.to_string()).unwrap_or_default();
            let ip = i.ip.to_string();
            if i.ip.is_unspecified() {
                // Heard without an address: a MAC already stored with one is that interface.
                let with_ip: Vec<String> = self
                    .known
                    .ifaces
                    .range((id_s.clone(), String::new(), String::new())..)
                    .take_while(|(a, ..)| *a == id_s)
                    .filter(|(_, b, m)| *m == mac && *b != unspecified)
                    .map(|(_, b, _)| b.clone())
                    .collect();
                if !mac.is_empty() && !with_ip.is_empty() {
                    for b in with_ip {
                        self.pending.touch_ifaces.push(vec![
                            Val::s(&id_s),
                            Val::s(&b),
                            Val::s(&mac),
                        ]);
                    }
                    continue;
                }
            }
            if mac.is_empty() {
                // An address already known with its MAC (stored, or in this batch) is
                // that interface: sighting it without the MAC adds nothing.
                let with_mac: Vec<String> = self
                    .known
                    .ifaces
                    .range((id_s.clone(), ip.clone(), String::new())..)
                    .take_while(|(a, b, _)| *a == id_s && *b == ip)
                    .filter(|(_, _, m)| !m.is_empty())
                    .map(|(_, _, m)| m.clone())
                    .collect();
                if !with_mac.is_empty() {
                    for m in with_mac {
                        self.pending.touch_ifaces.push(vec![
                            Val::s(&id_s),
                            Val::s(&ip),
                            Val::s(&m),
                        ]);
                    }
                    continue;
                }
                if d.interfaces.iter().any(|j| j.ip == i.ip && j.mac.is_some()) {
                    continue;
                }
            }
            if self
                .known
                .ifaces
                .contains(&(id_s.clone(), ip.clone(), mac.clone()))
            {
                self.pending
                    .touch_ifaces
                    .push(vec![Val::s(&id_s), Val::s(&ip), Val::s(&mac)]);
                continue;
            }
            self.known
                .ifaces
                .insert((id_s.clone(), ip.clone(), mac.clone()));
            self.pending.new_ifaces.push(vec![
                Val::s(&id_s),
                Val::s(&self.net),
                Val::s(&ip),
                Val::s(&mac),
                Val::o(i.subnet.map(|s| s.to_string())),
                Val::s(&ts(d.first_seen)),
                Val::s(&ts(d.last_seen)),
            ]);
            // An address-only interface is superseded by the same address with a MAC.
            if !mac.is_empty()
                && self
                    .known
                    .ifaces
                    .remove(&(id_s.clone(), ip.clone(), String::new()))
            {
                // It may be waiting for insertion in this very batch.
                self.pending.new_ifaces.retain(|row| {
                    !(row[0] == Val::s(&id_s) && row[2] == Val::s(&ip) && row[3] == Val::s(""))
                });
                sqlx::query(&q(
                    self.dia,
                    "DELETE FROM interfaces WHERE device_id = ? AND ip = ? AND mac = ''",
                ))
                .bind(&id_s)
                .bind(&ip)
                .execute(&mut *self.conn)
                .await
                .map_err(db_err("store an interface"))?;
            }
            // So is the MAC heard before it had an address: the device is now addressed.
            if !mac.is_empty()
                && !i.ip.is_unspecified()
                && self
                    .known
                    .ifaces
                    .remove(&(id_s.clone(), unspecified.clone(), mac.clone()))
            {
                self.pending.new_ifaces.retain(|row| {
                    !(row[0] == Val::s(&id_s)
                        && row[2] == Val::s(&unspecified)
                        && row[3] == Val::s(&mac))
                });
                sqlx::query(&q(
                    self.dia,
                    "DELETE FROM interfaces WHERE device_id = ? AND ip = ? AND mac = ?",
                ))
                .bind(&id_s)
                .bind(&unspecified)
                .bind(&mac)
                .execute(&mut *self.conn)
                .await
                .map_err(db_err("store an interface"))?;
            }
        }
        // Known until now by no address the network knows: now it has one.
        let routable_after = d.interfaces.iter().any(|i| scanopy_core::is_routable(i.ip));
        if !routable_before
            && routable_after
            && !self.changes.devices_new.contains(&id)
            && !self.addressed.contains(&id)
        {
            self.addressed.push(id);
        }
        Ok(())
    }
}

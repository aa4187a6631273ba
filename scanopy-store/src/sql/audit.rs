//! [`AuditStore`] for [`SqlStore`]: the audit trail, only ever added to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqlStore, db_err, id_of, json_err, parse_ts, q, ts};
use crate::model::AuditEntry;
use crate::{AuditStore, Result};

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit(&self, e: &AuditEntry) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        sqlx::query(&q(
            dia,
            "INSERT INTO audit_log (id, at, actor, via, address, action, target, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(e.id.to_string())
        .bind(ts(e.at))
        .bind(&e.actor)
        .bind(&e.via)
        .bind(e.address.clone())
        .bind(&e.action)
        .bind(e.target.clone())
        .bind(serde_json::to_string(&e.detail).map_err(json_err("record an audit entry"))?)
        .execute(&self.pool)
        .await
        .map_err(db_err("record an audit entry"))?;
        Ok(())
    }

    async fn audit(&self, limit: usize, before: Option<DateTime<Utc>>) -> Result<Vec<AuditEntry>> {
        let dia = self.dialect;
        let limit = limit.clamp(1, 1000) as i64;
        // Without `before`: every entry is before the year 9999 (times are compared as text).
        let before = before
            .map(ts)
            .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned());
        let sql = q(
            dia,
            "SELECT * FROM audit_log WHERE at < ? ORDER BY at DESC, id DESC LIMIT ?",
        );
        let rows = sqlx::query(&sql)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read the audit trail"))?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: id_of(r, "an audit entry")?,
                    at: parse_ts(&r.get::<String, _>("at")),
                    actor: r.get("actor"),
                    via: r.get("via"),
                    address: r.get("address"),
                    action: r.get("action"),
                    target: r.get("target"),
                    detail: serde_json::from_str(&r.get::<String, _>("detail"))
                        .map_err(json_err("read the audit trail"))?,
                })
            })
            .collect()
    }
}

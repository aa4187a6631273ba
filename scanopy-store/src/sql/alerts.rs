//! [`AlertStore`] for [`SqlStore`]: alert rules, each event's claim, and what each rule sent.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::webhooks::CLAIM_RETENTION_HOURS;
use super::{SqlStore, db_err, id_of, json_err, parse_ts, q, ts};
use crate::model::{AlertDelivery, AlertRule, AlertScope, NewAlertRule};
use crate::{AlertStore, Result, StoreError};

/// Rules kept at most.
pub(crate) const MAX_ALERT_RULES: i64 = 200;

fn rule_from_row(r: &sqlx::any::AnyRow) -> Result<AlertRule> {
    let quiet: Option<String> = r.get("quiet");
    Ok(AlertRule {
        id: id_of(r, "an alert rule")?,
        name: r.get("name"),
        events: serde_json::from_str(&r.get::<String, _>("events"))
            .map_err(json_err("read an alert rule"))?,
        network: r
            .get::<Option<String>, _>("network_id")
            .and_then(|n| Uuid::parse_str(&n).ok()),
        scope: AlertScope {
            subnet: r
                .get::<Option<String>, _>("subnet")
                .and_then(|n| n.parse().ok()),
            tag: r.get("tag"),
            device: r
                .get::<Option<String>, _>("device_id")
                .and_then(|n| Uuid::parse_str(&n).ok()),
        },
        digest: r.get("digest"),
        channel: serde_json::from_str(&r.get::<String, _>("channel"))
            .map_err(json_err("read an alert rule"))?,
        throttle_secs: r.get("throttle_secs"),
        quiet: quiet
            .map(|q| serde_json::from_str(&q))
            .transpose()
            .map_err(json_err("read an alert rule"))?,
        enabled: r.get::<i64, _>("enabled") != 0,
        created_at: parse_ts(&r.get::<String, _>("created_at")),
    })
}

fn delivery_from_row(rule: Uuid, r: &sqlx::any::AnyRow) -> AlertDelivery {
    AlertDelivery {
        rule,
        event_seq: r.get("event_seq"),
        status: r.get("status"),
        attempts: r.get::<i64, _>("attempts"),
        error: r.get("error"),
        summary: r.get("summary"),
        at: parse_ts(&r.get::<String, _>("at")),
    }
}

#[async_trait]
impl AlertStore for SqlStore {
    async fn create_alert_rule(&self, n: NewAlertRule) -> Result<AlertRule> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("add an alert rule"))?;
        if let Some(net) = n.network {
            Self::network_subnets(dia, &mut conn, net).await?;
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM alert_rules")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err("add an alert rule"))?
            .get(0);
        if count >= MAX_ALERT_RULES {
            return Err(StoreError::BadRequest(format!(
                "at most {MAX_ALERT_RULES} alert rules"
            )));
        }
        let rule = AlertRule {
            id: Uuid::new_v4(),
            name: n.name,
            events: n.events,
            network: n.network,
            scope: n.scope,
            digest: n.digest,
            channel: n.channel,
            throttle_secs: n.throttle_secs,
            quiet: n.quiet,
            enabled: true,
            created_at: Utc::now(),
        };
        sqlx::query(&q(
            dia,
            "INSERT INTO alert_rules (id, name, events, network_id, subnet, tag, device_id, digest, \
             channel, throttle_secs, quiet, enabled, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
        ))
        .bind(rule.id.to_string())
        .bind(&rule.name)
        .bind(serde_json::to_string(&rule.events).map_err(json_err("add an alert rule"))?)
        .bind(rule.network.map(|n| n.to_string()))
        .bind(rule.scope.subnet.map(|n| n.to_string()))
        .bind(rule.scope.tag.clone())
        .bind(rule.scope.device.map(|n| n.to_string()))
        .bind(rule.digest.clone())
        .bind(serde_json::to_string(&rule.channel).map_err(json_err("add an alert rule"))?)
        .bind(rule.throttle_secs)
        .bind(
            rule.quiet
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(json_err("add an alert rule"))?,
        )
        .bind(ts(rule.created_at))
        .execute(&mut *conn)
        .await
        .map_err(db_err("add an alert rule"))?;
        Ok(rule)
    }

    async fn alert_rules(&self) -> Result<Vec<AlertRule>> {
        let rows = sqlx::query("SELECT * FROM alert_rules ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list alert rules"))?;
        rows.iter().map(rule_from_row).collect()
    }

    async fn delete_alert_rule(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("delete an alert rule"))?;
        let r = sqlx::query(&q(dia, "DELETE FROM alert_rules WHERE id = ?"))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("delete an alert rule"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("alert rule {id}")));
        }
        for table in ["alert_claims", "alert_deliveries"] {
            sqlx::query(&q(dia, &format!("DELETE FROM {table} WHERE rule_id = ?")))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err("delete an alert rule"))?;
        }
        tx.commit().await.map_err(db_err("delete an alert rule"))?;
        Ok(())
    }

    async fn claim_alert(&self, rule: Uuid, event_seq: i64, claimer: &str) -> Result<bool> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        // The primary key (rule, event) decides, as for webhooks.
        let r = sqlx::query(&q(
            dia,
            "INSERT INTO alert_claims (rule_id, event_seq, claimed_by, claimed_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        ))
        .bind(rule.to_string())
        .bind(event_seq)
        .bind(claimer)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(db_err("claim an alert"))?;
        if event_seq % 256 == 0 {
            let cutoff = ts(Utc::now() - chrono::Duration::hours(CLAIM_RETENTION_HOURS));
            sqlx::query(&q(dia, "DELETE FROM alert_claims WHERE claimed_at < ?"))
                .bind(cutoff)
                .execute(&self.pool)
                .await
                .map_err(db_err("prune alert claims"))?;
        }
        Ok(r.rows_affected() == 1)
    }

    async fn record_alert(&self, d: &AlertDelivery) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        sqlx::query(&q(
            dia,
            "INSERT INTO alert_deliveries (id, rule_id, event_seq, status, attempts, error, summary, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(Uuid::new_v4().to_string())
        .bind(d.rule.to_string())
        .bind(d.event_seq)
        .bind(&d.status)
        .bind(d.attempts)
        .bind(d.error.clone())
        .bind(d.summary.clone())
        .bind(ts(d.at))
        .execute(&self.pool)
        .await
        .map_err(db_err("record an alert"))?;
        Ok(())
    }

    async fn alert_deliveries(&self, rule: Uuid, limit: usize) -> Result<Vec<AlertDelivery>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(
            dia,
            "SELECT * FROM alert_deliveries WHERE rule_id = ? ORDER BY at DESC, id LIMIT ?",
        ))
        .bind(rule.to_string())
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list alert deliveries"))?;
        Ok(rows.iter().map(|r| delivery_from_row(rule, r)).collect())
    }

    async fn last_alert(&self, rule: Uuid) -> Result<Option<DateTime<Utc>>> {
        let dia = self.dialect;
        let at: Option<String> = sqlx::query_scalar(&q(
            dia,
            "SELECT at FROM alert_deliveries WHERE rule_id = ? AND status = 'delivered' \
             AND event_seq > 0 ORDER BY at DESC LIMIT 1",
        ))
        .bind(rule.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read an alert rule's last alert"))?;
        Ok(at.map(|a| parse_ts(&a)))
    }

    async fn queued_alerts(&self, rule: Uuid, limit: usize) -> Result<Vec<AlertDelivery>> {
        let rows = sqlx::query(&q(
            self.dialect,
            "SELECT * FROM alert_deliveries WHERE rule_id = ? AND status = 'queued' \
             ORDER BY at, event_seq LIMIT ?",
        ))
        .bind(rule.to_string())
        .bind(limit.clamp(1, 100_000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("read an alert digest"))?;
        Ok(rows.iter().map(|r| delivery_from_row(rule, r)).collect())
    }

    async fn mark_digested(&self, rule: Uuid, upto: DateTime<Utc>) -> Result<u64> {
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(
            self.dialect,
            "UPDATE alert_deliveries SET status = 'digested' WHERE rule_id = ? AND status = 'queued' AND at <= ?",
        ))
        .bind(rule.to_string())
        .bind(ts(upto))
        .execute(&self.pool)
        .await
        .map_err(db_err("mark an alert digest sent"))?;
        Ok(r.rows_affected())
    }
}

//! [`WebhookStore`] for [`SqlStore`]: webhooks and their deliveries.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use uuid::Uuid;

use super::{SqlStore, db_err, id_of, parse_ts, q, ts};
use crate::model::{Delivery, Webhook};
use crate::{Result, StoreError, WebhookStore};

/// How long a webhook delivery's claim is kept (see `claim_delivery`).
pub(crate) const CLAIM_RETENTION_HOURS: i64 = 24;

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, url: &str, secret: &str) -> Result<Webhook> {
        let dia = self.dialect;
        let hook = Webhook {
            id: Uuid::new_v4(),
            url: url.to_owned(),
            created_at: Utc::now(),
        };
        let _w = self.write.lock().await;
        sqlx::query(&q(
            dia,
            "INSERT INTO webhooks (id, url, secret, created_at) VALUES (?, ?, ?, ?)",
        ))
        .bind(hook.id.to_string())
        .bind(&hook.url)
        .bind(secret)
        .bind(ts(hook.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_err("create a webhook"))?;
        Ok(hook)
    }

    async fn webhooks(&self) -> Result<Vec<(Webhook, String)>> {
        let rows = sqlx::query("SELECT * FROM webhooks ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list webhooks"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    Webhook {
                        id: id_of(r, "a webhook")?,
                        url: r.get("url"),
                        created_at: parse_ts(&r.get::<String, _>("created_at")),
                    },
                    r.get("secret"),
                ))
            })
            .collect()
    }

    async fn delete_webhook(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "DELETE FROM webhooks WHERE id = ?"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("delete a webhook"))?;
        sqlx::query(&q(dia, "DELETE FROM webhook_claims WHERE webhook_id = ?"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("delete a webhook"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }

    async fn record_delivery(&self, d: &Delivery) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        sqlx::query(&q(dia, "INSERT INTO webhook_deliveries (id, webhook_id, event_seq, status, attempts, http_status, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(Uuid::new_v4().to_string())
            .bind(d.webhook.to_string())
            .bind(d.event_seq)
            .bind(&d.status)
            .bind(d.attempts)
            .bind(d.http_status)
            .bind(d.error.clone())
            .bind(ts(d.at))
            .execute(&self.pool)
            .await
            .map_err(db_err("record a webhook delivery"))?;
        Ok(())
    }

    async fn claim_delivery(&self, webhook: Uuid, event_seq: i64, claimer: &str) -> Result<bool> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        // The primary key (webhook, event) decides: one insert succeeds, on any number of
        // servers; the others change nothing.
        let r = sqlx::query(&q(
            dia,
            "INSERT INTO webhook_claims (webhook_id, event_seq, claimed_by, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        ))
        .bind(webhook.to_string())
        .bind(event_seq)
        .bind(claimer)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(db_err("claim a webhook delivery"))?;
        // Servers deliver events as they happen, so a claim matters for seconds; one a day old
        // never decides anything again. Pruned now and then (every 256th event) so the table
        // holds about a day of claims.
        if event_seq % 256 == 0 {
            let cutoff = ts(Utc::now() - chrono::Duration::hours(CLAIM_RETENTION_HOURS));
            sqlx::query(&q(dia, "DELETE FROM webhook_claims WHERE claimed_at < ?"))
                .bind(cutoff)
                .execute(&self.pool)
                .await
                .map_err(db_err("prune webhook claims"))?;
        }
        Ok(r.rows_affected() == 1)
    }

    async fn deliveries(&self, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>> {
        let dia = self.dialect;
        let rows = sqlx::query(&q(
            dia,
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY at DESC LIMIT ?",
        ))
        .bind(webhook.to_string())
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list webhook deliveries"))?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                webhook,
                event_seq: r.get("event_seq"),
                status: r.get("status"),
                attempts: r.get("attempts"),
                http_status: r.get("http_status"),
                error: r.get("error"),
                at: parse_ts(&r.get::<String, _>("at")),
            })
            .collect())
    }
}

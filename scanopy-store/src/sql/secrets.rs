//! [`SecretStore`] for [`SqlStore`]: the SNMP credentials of each network, sealed by the server.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::{SqlStore, db_err, id_of, parse_ts, q, ts, uuid_of};
use crate::model::SnmpCredential;
use crate::{Result, SecretStore, StoreError};

/// A network's credentials kept at most (a list to try in order, not a vault).
pub(crate) const MAX_PER_NETWORK: i64 = 32;

#[async_trait]
impl SecretStore for SqlStore {
    async fn add_snmp_credential(&self, c: SnmpCredential) -> Result<SnmpCredential> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("add an SNMP credential"))?;
        Self::network_subnets(dia, &mut conn, c.network).await?;
        let n: i64 = sqlx::query(&q(
            dia,
            "SELECT COUNT(*) FROM snmp_credentials WHERE network_id = ?",
        ))
        .bind(c.network.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err("add an SNMP credential"))?
        .get(0);
        if n >= MAX_PER_NETWORK {
            return Err(StoreError::BadRequest(format!(
                "a network keeps at most {MAX_PER_NETWORK} SNMP credentials"
            )));
        }
        sqlx::query(&q(
            dia,
            "INSERT INTO snmp_credentials (id, network_id, label, kind, user_name, auth_protocol, \
             privacy_protocol, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(c.id.to_string())
        .bind(c.network.to_string())
        .bind(&c.label)
        .bind(&c.kind)
        .bind(c.user.clone())
        .bind(c.auth_protocol.clone())
        .bind(c.privacy_protocol.clone())
        .bind(&c.sealed)
        .bind(ts(c.created_at))
        .execute(&mut *conn)
        .await
        .map_err(db_err("add an SNMP credential"))?;
        Ok(c)
    }

    async fn snmp_credentials(&self, network: Uuid) -> Result<Vec<SnmpCredential>> {
        let rows = sqlx::query(&q(
            self.dialect,
            "SELECT * FROM snmp_credentials WHERE network_id = ? ORDER BY created_at, id",
        ))
        .bind(network.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list SNMP credentials"))?;
        rows.iter()
            .map(|r| {
                Ok(SnmpCredential {
                    id: id_of(r, "an SNMP credential")?,
                    network: uuid_of(r, "network_id").unwrap_or_default(),
                    label: r.get("label"),
                    kind: r.get("kind"),
                    user: r.get("user_name"),
                    auth_protocol: r.get("auth_protocol"),
                    privacy_protocol: r.get("privacy_protocol"),
                    sealed: r.get("sealed"),
                    created_at: parse_ts(&r.get::<String, _>("created_at")),
                })
            })
            .collect()
    }

    async fn delete_snmp_credential(&self, network: Uuid, id: Uuid) -> Result<()> {
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(
            self.dialect,
            "DELETE FROM snmp_credentials WHERE network_id = ? AND id = ?",
        ))
        .bind(network.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("delete an SNMP credential"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("SNMP credential {id}")));
        }
        Ok(())
    }
}

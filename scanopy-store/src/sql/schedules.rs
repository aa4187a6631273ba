//! [`ScheduleStore`] for [`SqlStore`]: recurring scans.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Dialect, SqlStore, db_err, id_of, json_err, parse_ts, q, ts, uuid_of};
use crate::model::{NewSchedule, Schedule};
use crate::{Result, ScheduleStore, StoreError};

fn schedule_from_row(r: &sqlx::any::AnyRow) -> Result<Schedule> {
    Ok(Schedule {
        id: id_of(r, "a schedule")?,
        network: uuid_of(r, "network_id").unwrap_or_default(),
        daemon: uuid_of(r, "daemon_id"),
        every_minutes: r.get("every_minutes"),
        config: serde_json::from_str(&r.get::<String, _>("config"))
            .map_err(json_err("read a schedule"))?,
        targets: serde_json::from_str(&r.get::<String, _>("targets"))
            .map_err(json_err("read a schedule"))?,
        next_run: parse_ts(&r.get::<String, _>("next_run")),
        last_run: r.get::<Option<String>, _>("last_run").map(|s| parse_ts(&s)),
    })
}

#[async_trait]
impl ScheduleStore for SqlStore {
    async fn create_schedule(&self, s: NewSchedule) -> Result<Schedule> {
        let dia = self.dialect;
        if !(1..=525_600).contains(&s.every_minutes) {
            return Err(StoreError::BadRequest(
                "every_minutes must be between 1 and 525600".into(),
            ));
        }
        let _w = self.write.lock().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("create a schedule"))?;
        Self::network_subnets(dia, &mut conn, s.network).await?;
        let sched = Schedule {
            id: Uuid::new_v4(),
            network: s.network,
            daemon: s.daemon,
            every_minutes: s.every_minutes,
            config: s.config,
            targets: s.targets,
            next_run: s.first_run,
            last_run: None,
        };
        sqlx::query(&q(dia, "INSERT INTO schedules (id, network_id, daemon_id, every_minutes, config, targets, next_run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(sched.id.to_string())
            .bind(sched.network.to_string())
            .bind(sched.daemon.map(|d| d.to_string()))
            .bind(sched.every_minutes)
            .bind(serde_json::to_string(&sched.config).map_err(json_err("create a schedule"))?)
            .bind(serde_json::to_string(&sched.targets).map_err(json_err("create a schedule"))?)
            .bind(ts(sched.next_run))
            .bind(ts(Utc::now()))
            .execute(&mut *conn)
            .await
            .map_err(db_err("create a schedule"))?;
        Ok(sched)
    }

    async fn schedules(&self) -> Result<Vec<Schedule>> {
        let rows = sqlx::query("SELECT * FROM schedules ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list schedules"))?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn delete_schedule(&self, id: Uuid) -> Result<()> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let r = sqlx::query(&q(dia, "DELETE FROM schedules WHERE id = ?"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("delete a schedule"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("schedule {id}")));
        }
        Ok(())
    }

    /// Takes the schedules due at `now`, moving each one's next run forward in the same
    /// transaction, so that of several servers on one database exactly one takes each.
    async fn take_due_schedules(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("take due schedules"))?;
        Self::reap_cancelled(dia, &mut tx, &ts(now)).await?;
        let pick = "SELECT * FROM schedules WHERE next_run <= ? ORDER BY next_run";
        let pick = if dia == Dialect::Postgres {
            format!("{pick} FOR UPDATE SKIP LOCKED")
        } else {
            pick.to_owned()
        };
        let rows = sqlx::query(&q(dia, &pick))
            .bind(ts(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err("take due schedules"))?;
        let mut due = Vec::new();
        for r in &rows {
            let mut s = schedule_from_row(r)?;
            // The next run after now, on the schedule's own grid (missed runs are not replayed).
            let step = chrono::Duration::minutes(s.every_minutes);
            let mut next = s.next_run + step;
            if next <= now {
                let behind = (now - s.next_run).num_minutes() / s.every_minutes + 1;
                next = s.next_run + step * behind as i32;
            }
            sqlx::query(&q(
                dia,
                "UPDATE schedules SET next_run = ?, last_run = ? WHERE id = ?",
            ))
            .bind(ts(next))
            .bind(ts(now))
            .bind(s.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("take due schedules"))?;
            s.last_run = Some(now);
            s.next_run = next;
            due.push(s);
        }
        tx.commit().await.map_err(db_err("take due schedules"))?;
        Ok(due)
    }
}

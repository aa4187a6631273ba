//! The SQL backends: embedded SQLite (one file in the data directory, WAL mode) and PostgreSQL,
//! one implementation over sqlx's `Any` driver. The SQL is written once, for SQLite, and
//! [`q`] adapts it to PostgreSQL (numbered placeholders, `GREATEST`/`LEAST`, `ILIKE`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use ipnet::IpNet;
use scanopy_core::{Container, Device, DeviceType, Interface, MacAddr, Service};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::Mutex;
use uuid::Uuid;

mod accounts;
mod alerts;
mod apply;
mod audit;
mod finish;
mod inventory;
mod jobs;
mod results;
mod schedules;
mod secrets;
mod webhooks;

use crate::model::{Event, RunStatus, ScanRun, StoredDevice};
use crate::{Result, StoreError};

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The migrations of each dialect, in order; the schema version is how many were applied.
const SQLITE_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_initial.sql"),
    include_str!("../migrations/sqlite/0002_jobs_accounts.sql"),
    include_str!("../migrations/sqlite/0003_results.sql"),
    include_str!("../migrations/sqlite/0004_push.sql"),
    include_str!("../migrations/sqlite/0005_progress.sql"),
    include_str!("../migrations/sqlite/0006_os.sql"),
    include_str!("../migrations/sqlite/0007_l2.sql"),
    include_str!("../migrations/sqlite/0008_snmp_credentials.sql"),
    include_str!("../migrations/sqlite/0009_alerts.sql"),
    include_str!("../migrations/sqlite/0010_audit.sql"),
    include_str!("../migrations/sqlite/0011_events_at.sql"),
    include_str!("../migrations/sqlite/0012_users.sql"),
    include_str!("../migrations/sqlite/0013_alert_scope.sql"),
    include_str!("../migrations/sqlite/0014_events_device.sql"),
    include_str!("../migrations/sqlite/0015_services_confirmed.sql"),
];
const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_initial.sql"),
    include_str!("../migrations/postgres/0002_jobs_accounts.sql"),
    include_str!("../migrations/postgres/0003_results.sql"),
    include_str!("../migrations/postgres/0004_push.sql"),
    include_str!("../migrations/postgres/0005_progress.sql"),
    include_str!("../migrations/postgres/0006_os.sql"),
    include_str!("../migrations/postgres/0007_l2.sql"),
    include_str!("../migrations/postgres/0008_snmp_credentials.sql"),
    include_str!("../migrations/postgres/0009_alerts.sql"),
    include_str!("../migrations/postgres/0010_audit.sql"),
    include_str!("../migrations/postgres/0011_events_at.sql"),
    include_str!("../migrations/postgres/0012_users.sql"),
    include_str!("../migrations/postgres/0013_alert_scope.sql"),
    include_str!("../migrations/postgres/0014_events_device.sql"),
    include_str!("../migrations/postgres/0015_services_confirmed.sql"),
];

/// Adapts SQL written for SQLite to the dialect.
pub(crate) fn q(dia: Dialect, sql: &str) -> Cow<'_, str> {
    if dia == Dialect::Sqlite {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(
        out.replace("MAX(", "GREATEST(")
            .replace("MIN(", "LEAST(")
            .replace(" LIKE ", " ILIKE "),
    )
}

/// A store in SQLite or PostgreSQL.
#[derive(Debug)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// One writer at a time in this process (SQLite has one writer; PostgreSQL also takes a
    /// per-network advisory lock, for several servers on one database).
    write: Mutex<()>,
}

/// The URL of an in-memory SQLite database: one per connection.
const MEMORY: &str = "sqlite::memory:";

/// The embedded backend's name, kept for callers that want SQLite.
pub type SqliteStore = SqlStore;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Sorts a driver error: the database out of reach is [`StoreError::Unavailable`], anything
/// else [`StoreError::Internal`]; either keeps the driver's error as its source.
fn db_err(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => StoreError::unavailable(what, e),
        _ => StoreError::internal(what, e),
    }
}

fn json_err(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::internal(what, e)
}

/// SQLite keeps memory statistics by default, under one process-wide mutex taken on every
/// allocation and free. sqlx copies each value of each row (`sqlite3_value_dup`) on the
/// connection's thread and frees it on the runtime's: under a busy `GET /devices` that mutex
/// and its futex wake-ups took a third of the server's time. Nothing here reads the statistics,
/// so they are turned off, once, before the first connection is opened.
#[allow(unsafe_code)]
fn sqlite_without_memory_statistics() {
    #[cfg(feature = "sqlite")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. sqlite3_config must not run
            // beside other SQLite calls: this runs once, before this process's first
            // connection (every one is opened after it returns); were SQLite already in use,
            // the call would only return SQLITE_MISUSE and change nothing.
            unsafe {
                libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0);
            }
        });
    }
}

impl SqlStore {
    /// Opens (creating it if needed) the SQLite database file at `path` and brings its schema
    /// up to date. A database written by a newer scanopy is refused.
    ///
    /// The file is made with mode 0600 (whatever the umask), and the database's files found
    /// looser (`-wal`, `-shm` included) are tightened to 0600: SQLite makes its `-wal` and
    /// `-shm` files with the mode of the database file. See [`SqlStore::private_files`].
    pub async fn open(path: &Path) -> Result<Self> {
        Self::private_files(path).map_err(|e| StoreError::unavailable("open the database", e))?;
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::connect_sqlite(&url, 4).await
    }

    /// Makes the SQLite database at `path` private: creates it empty with mode 0600 if it is
    /// missing (an empty file is an empty database), and sets 0600 on it and on its `-wal`
    /// and `-shm` files when their mode lets others in. Returns the files it tightened, with
    /// their old modes (for the caller to log).
    pub fn private_files(path: &Path) -> std::io::Result<Vec<(std::path::PathBuf, u32)>> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut tightened = Vec::new();
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            files.push(p.into());
        }
        for (i, f) in files.iter().enumerate() {
            let meta = match std::fs::symlink_metadata(f) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if i == 0 {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .mode(0o600)
                            .open(f)?;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_file() && mode & 0o077 != 0 {
                std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600))?;
                tightened.push((f.clone(), mode));
            }
        }
        Ok(tightened)
    }

    /// An in-memory SQLite database, for tests and throwaway use.
    pub async fn in_memory() -> Result<Self> {
        // One connection: every connection to :memory: would be a database of its own.
        Self::connect_sqlite(MEMORY, 1).await
    }

    async fn connect_sqlite(url: &str, connections: u32) -> Result<Self> {
        sqlite_without_memory_statistics();
        sqlx::any::install_default_drivers();
        let open = || async {
            AnyPoolOptions::new()
                .max_connections(connections)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            conn.execute(pragma).await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
                .await
                .map_err(db_err("open the database"))
        };
        // An in-memory database is never reopened: a fresh pool would be a fresh, empty
        // database, and none is needed (it started empty, so no connection read an older
        // schema).
        let reopen = (url != MEMORY).then_some(open);
        Self::migrated(open().await?, Dialect::Sqlite, reopen).await
    }

    /// Brings the schema of the database behind `pool` up to date and returns the store. When
    /// a migration ran, a fresh pool is opened with `reopen` (if given) and the old one closed:
    /// a connection that read the old schema can prepare `SELECT *` against it and then be
    /// handed rows of the new one (seen with SQLite under load: a column index out of bounds
    /// in sqlx). The new pool opens before the old one closes, so the database always has a
    /// connection and SQLite never deletes and re-creates its -wal and -shm files in between.
    async fn migrated<F, Fut>(pool: AnyPool, dialect: Dialect, reopen: Option<F>) -> Result<Self>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<AnyPool>>,
    {
        let store = SqlStore {
            pool,
            dialect,
            write: Mutex::new(()),
        };
        let Some(reopen) = reopen else {
            store.migrate().await?;
            return Ok(store);
        };
        if store.migrate().await? == 0 {
            return Ok(store);
        }
        let fresh = reopen().await?;
        store.pool.close().await;
        Ok(SqlStore {
            pool: fresh,
            dialect,
            write: Mutex::new(()),
        })
    }

    /// Connects to PostgreSQL (`postgres://…`) and brings the schema up to date. A connection
    /// that fails is [`StoreError::Unavailable`]; the URL, which may hold a password, is never
    /// part of an error.
    pub async fn connect_postgres(url: &str) -> Result<Self> {
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(StoreError::BadRequest(
                "a PostgreSQL URL starts with postgres://".into(),
            ));
        }
        sqlx::any::install_default_drivers();
        let open = || async {
            AnyPoolOptions::new()
                .max_connections(8)
                // A database that is down is reported within seconds (503), not after a long
                // wait.
                .acquire_timeout(std::time::Duration::from_secs(3))
                .connect(url)
                .await
                .map_err(|e| StoreError::unavailable("connect to PostgreSQL", e))
        };
        Self::migrated(open().await?, Dialect::Postgres, Some(open)).await
    }

    /// Which SQL this store speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn migrations(&self) -> &'static [&'static str] {
        match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS,
            Dialect::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// The schema version this program writes.
    pub fn supported_version() -> i64 {
        SQLITE_MIGRATIONS.len() as i64
    }

    /// The database's schema version (0 for an empty database).
    pub async fn schema_version(&self) -> Result<i64> {
        let dia = self.dialect;
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .execute(&self.pool)
            .await
            .map_err(db_err("read the schema version"))?;
        let v: Option<i64> = sqlx::query_scalar(&q(
            dia,
            "SELECT version FROM schema_version ORDER BY version DESC LIMIT 1",
        ))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read the schema version"))?;
        Ok(v.unwrap_or(0))
    }

    /// Applies the migrations the database lacks; returns how many it applied.
    async fn migrate(&self) -> Result<usize> {
        let dia = self.dialect;
        let _w = self.write.lock().await;
        let current = self.schema_version().await?;
        let migrations = self.migrations();
        let supported = migrations.len() as i64;
        if current > supported {
            return Err(StoreError::TooNew {
                found: current,
                supported,
            });
        }
        let mut applied = 0;
        for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(db_err("start a migration"))?;
            if dia == Dialect::Postgres {
                // Two servers starting at once: one migrates, the other waits.
                sqlx::raw_sql("SELECT pg_advisory_xact_lock(7231)")
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("lock for a migration"))?;
                let again: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM schema_version ORDER BY version DESC LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("read the schema version"))?;
                if again.unwrap_or(0) > i as i64 {
                    continue;
                }
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(db_err("apply a migration"))?;
            sqlx::query(&q(dia, "INSERT INTO schema_version (version) VALUES (?)"))
                .bind((i + 1) as i64)
                .execute(&mut *tx)
                .await
                .map_err(db_err("record the schema version"))?;
            tx.commit().await.map_err(db_err("commit a migration"))?;
            applied += 1;
        }
        Ok(applied)
    }

    /// Serialises writers to one network across processes (PostgreSQL); nothing on SQLite,
    /// whose writes are serialised anyway.
    async fn lock_network(dia: Dialect, conn: &mut AnyConnection, network: Uuid) -> Result<()> {
        if dia == Dialect::Postgres {
            let key = i64::from_be_bytes(network.as_bytes()[..8].try_into().unwrap_or([0; 8]));
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await
                .map_err(db_err("lock a network"))?;
        }
        Ok(())
    }

    async fn network_subnets(
        dia: Dialect,
        conn: &mut AnyConnection,
        network: Uuid,
    ) -> Result<Vec<IpNet>> {
        let row = sqlx::query(&q(dia, "SELECT subnets FROM networks WHERE id = ?"))
            .bind(network.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("read a network"))?
            .ok_or_else(|| StoreError::NotFound(format!("network {network}")))?;
        let subnets: Vec<IpNet> =
            serde_json::from_str(&row.get::<String, _>(0)).map_err(json_err("read a network"))?;
        Ok(subnets)
    }

    async fn event(
        dia: Dialect,
        conn: &mut AnyConnection,
        network: Uuid,
        kind: &str,
        device: Option<Uuid>,
        run: Option<Uuid>,
        detail: serde_json::Value,
    ) -> Result<()> {
        sqlx::query(&q(dia, "INSERT INTO events (network_id, kind, device_id, scan_run_id, detail, at) VALUES (?, ?, ?, ?, ?, ?)"))
            .bind(network.to_string())
            .bind(kind)
            .bind(device.map(|d| d.to_string()))
            .bind(run.map(|r| r.to_string()))
            .bind(detail.to_string())
            .bind(ts(Utc::now()))
            .execute(&mut *conn)
            .await
            .map_err(db_err("record an event"))?;
        Ok(())
    }

    /// Finds the stored device a batch device is: by MAC; for a container, by container id; for
    /// a device without MAC, the device holding its address; for a device with a MAC, an
    /// address-only device holding its address (it now has a MAC).
    async fn resolve(
        dia: Dialect,
        conn: &mut AnyConnection,
        network: Uuid,
        d: &Device,
    ) -> Result<Option<Uuid>> {
        let net = network.to_string();
        for mac in d.macs() {
            let hit: Option<String> = sqlx::query_scalar(&q(
                dia,
                "SELECT device_id FROM interfaces WHERE network_id = ? AND mac = ? LIMIT 1",
            ))
            .bind(&net)
            .bind(mac.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("look a device up by MAC"))?;
            if let Some(h) = hit {
                return Ok(Uuid::parse_str(&h).ok());
            }
        }
        if let Some(c) = &d.container {
            let hit: Option<String> = sqlx::query_scalar(&q(
                dia,
                "SELECT id FROM devices WHERE network_id = ? AND container_id = ? LIMIT 1",
            ))
            .bind(&net)
            .bind(&c.id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("look a container up"))?;
            return Ok(hit.and_then(|h| Uuid::parse_str(&h).ok()));
        }
        let has_mac = !d.macs().is_empty();
        for ip in d.ips() {
            let sql = if has_mac {
                // Only a device known by address alone may take on this MAC.
                "SELECT i.device_id FROM interfaces i WHERE i.network_id = ? AND i.ip = ? \
                 AND NOT EXISTS (SELECT 1 FROM interfaces j WHERE j.device_id = i.device_id AND j.mac <> '') \
                 ORDER BY i.last_seen DESC LIMIT 1"
            } else {
                "SELECT device_id FROM interfaces WHERE network_id = ? AND ip = ? ORDER BY last_seen DESC, mac DESC LIMIT 1"
            };
            let hit: Option<String> = sqlx::query_scalar(&q(dia, sql))
                .bind(&net)
                .bind(ip.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err("look a device up by address"))?;
            if let Some(h) = hit {
                return Ok(Uuid::parse_str(&h).ok());
            }
        }
        Ok(None)
    }

    async fn load_device(
        dia: Dialect,
        conn: &mut AnyConnection,
        id: Uuid,
    ) -> Result<Option<StoredDevice>> {
        Ok(Self::load_devices(dia, conn, &[id]).await?.pop())
    }

    /// Devices by id, in the order given (deleted ones left out): three queries however many
    /// (the map reads lighter rows through `map_devices`).
    async fn load_devices(
        dia: Dialect,
        conn: &mut AnyConnection,
        ids: &[Uuid],
    ) -> Result<Vec<StoredDevice>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let id_strings: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        let rows_sql =
            format!("SELECT * FROM devices WHERE deleted_at IS NULL AND id IN ({marks})");
        let rows_sql = q(dia, &rows_sql).into_owned();
        let mut query = sqlx::query(&rows_sql).persistent(false);
        for id in &id_strings {
            query = query.bind(id);
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("read devices"))?;

        let mut interfaces = Self::interfaces_of(dia, conn, &marks, &id_strings).await?;
        let mut services = Self::services_of(dia, conn, &marks, &id_strings).await?;
        let mut by_id: HashMap<String, StoredDevice> = HashMap::new();
        for row in rows {
            if let Some(d) = device_from_row(&row, &mut interfaces, &mut services) {
                by_id.insert(row.get("id"), d);
            }
        }
        Ok(id_strings.iter().filter_map(|i| by_id.remove(i)).collect())
    }

    /// The interfaces of the devices `id_strings` (bound to the placeholders `marks`), by device
    /// id.
    async fn interfaces_of(
        dia: Dialect,
        conn: &mut AnyConnection,
        marks: &str,
        id_strings: &[String],
    ) -> Result<HashMap<String, Vec<Interface>>> {
        let if_sql = format!(
            "SELECT device_id, ip, mac, subnet FROM interfaces WHERE device_id IN ({marks}) ORDER BY ip, mac"
        );
        let if_sql = q(dia, &if_sql).into_owned();
        let mut query = sqlx::query(&if_sql).persistent(false);
        for id in id_strings {
            query = query.bind(id);
        }
        let mut interfaces: HashMap<String, Vec<Interface>> = HashMap::new();
        for r in query
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("read interfaces"))?
        {
            let Ok(ip) = r.get::<String, _>("ip").parse() else {
                continue;
            };
            interfaces
                .entry(r.get("device_id"))
                .or_default()
                .push(Interface {
                    ip,
                    mac: MacAddr::from_str(&r.get::<String, _>("mac")).ok(),
                    subnet: r
                        .get::<Option<String>, _>("subnet")
                        .and_then(|s| s.parse().ok()),
                });
        }
        Ok(interfaces)
    }

    /// The services of the devices `id_strings` (bound to the placeholders `marks`), by device id.
    async fn services_of(
        dia: Dialect,
        conn: &mut AnyConnection,
        marks: &str,
        id_strings: &[String],
    ) -> Result<HashMap<String, Vec<Service>>> {
        // One row per device, its services aggregated as JSON by the database: a tenth of the
        // rows of one row per service, which is where reading a page spent its time.
        let svc_sql = match dia {
            Dialect::Sqlite => format!(
                "SELECT device_id, json_group_array(json_array(ip, port, transport, state, name, product, version, extra, confidence, evidence, first_seen, last_seen)) AS s \
                 FROM (SELECT * FROM services WHERE device_id IN ({marks}) ORDER BY device_id, ip, transport, port) GROUP BY device_id"
            ),
            Dialect::Postgres => format!(
                "SELECT device_id, json_agg(json_build_array(ip, port, transport, state, name, product, version, extra, confidence, evidence, first_seen, last_seen) ORDER BY ip, transport, port)::text AS s \
                 FROM services WHERE device_id IN ({marks}) GROUP BY device_id"
            ),
        };
        let svc_sql = q(dia, &svc_sql).into_owned();
        let mut query = sqlx::query(&svc_sql).persistent(false);
        for id in id_strings {
            query = query.bind(id);
        }
        let mut services: HashMap<String, Vec<Service>> = HashMap::new();
        let rows_of_services = query
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("read services"))?;
        type Row = (
            String,
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            String,
            String,
        );
        let word = |w: String| serde_json::Value::String(w);
        for r in rows_of_services {
            let list: Vec<Row> = serde_json::from_str(&r.get::<String, _>("s"))
                .map_err(json_err("read services"))?;
            let out = services.entry(r.get("device_id")).or_default();
            for (
                ip,
                port,
                transport,
                state,
                name,
                product,
                version,
                extra,
                confidence,
                evidence,
                first,
                last,
            ) in list
            {
                let parsed = (|| {
                    Some(Service {
                        ip: ip.parse().ok()?,
                        port: u16::try_from(port).ok()?,
                        transport: serde_json::from_value(word(transport)).ok()?,
                        state: serde_json::from_value(word(state)).ok()?,
                        name,
                        product,
                        version,
                        extra: serde_json::from_str(&extra).unwrap_or_default(),
                        confidence: serde_json::from_value(word(confidence)).unwrap_or_default(),
                        evidence,
                        first_seen: parse_ts(&first),
                        last_seen: parse_ts(&last),
                    })
                })();
                out.extend(parsed);
            }
        }
        Ok(services)
    }
}

/// A stored device from its row, taking its interfaces and services out of the maps.
fn device_from_row(
    row: &sqlx::any::AnyRow,
    interfaces: &mut HashMap<String, Vec<Interface>>,
    services: &mut HashMap<String, Vec<Service>>,
) -> Option<StoredDevice> {
    let id_s: String = row.get("id");
    let id = Uuid::parse_str(&id_s).ok()?;
    let device = Device {
        id,
        hostname: row.get("hostname"),
        vendor: row.get("vendor"),
        device_type: DeviceType::from_str(&row.get::<String, _>("device_type")).unwrap_or_default(),
        device_type_evidence: row.get("device_type_evidence"),
        interfaces: interfaces.remove(&id_s).unwrap_or_default(),
        services: {
            let mut list = services.remove(&id_s).unwrap_or_default();
            // Seen again as a whole by a later run than its own row says (schema 15).
            if let Some(at) = row
                .get::<Option<String>, _>("services_seen")
                .map(|t| parse_ts(&t))
            {
                for s in &mut list {
                    if s.first_seen <= at && s.last_seen < at {
                        s.last_seen = at;
                    }
                }
            }
            list
        },
        first_seen: parse_ts(&row.get::<String, _>("first_seen")),
        last_seen: parse_ts(&row.get::<String, _>("last_seen")),
        sources: serde_json::from_str(&row.get::<String, _>("sources")).unwrap_or_default(),
        randomized_mac: row.get::<i64, _>("randomized_mac") != 0,
        parent: row
            .get::<Option<String>, _>("parent_id")
            .and_then(|p| Uuid::parse_str(&p).ok()),
        container: row
            .get::<Option<String>, _>("container")
            .and_then(|c| serde_json::from_str::<Container>(&c).ok()),
        merge_reasons: Vec::new(),
        os: row
            .get::<Option<String>, _>("os")
            .and_then(|o| serde_json::from_str(&o).ok()),

        l2: None,
    };
    Some(StoredDevice {
        device,
        network: Uuid::parse_str(&row.get::<String, _>("network_id")).unwrap_or_default(),
        user_name: row.get("user_name"),
        notes: row.get("notes"),
        tags: serde_json::from_str(&row.get::<String, _>("tags")).unwrap_or_default(),
        offline: row.get::<i64, _>("offline") != 0,
    })
}

pub(crate) fn uuid_of(r: &sqlx::any::AnyRow, col: &str) -> Option<Uuid> {
    r.get::<Option<String>, _>(col)
        .and_then(|s| Uuid::parse_str(&s).ok())
}

pub(crate) fn id_of(r: &sqlx::any::AnyRow, what: &'static str) -> Result<Uuid> {
    Uuid::parse_str(&r.get::<String, _>("id"))
        .map_err(|e| StoreError::internal(format!("read {what}"), e))
}

/// A value bound into a bulk statement.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    S(Option<String>),
    I(i64),
}

impl Val {
    fn s(v: &str) -> Val {
        Val::S(Some(v.to_owned()))
    }
    fn o(v: Option<String>) -> Val {
        Val::S(v)
    }
}

/// Bound parameters per statement: within every SQLite build's limit (999) and PostgreSQL's.
const PARAMS_PER_STATEMENT: usize = 900;

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    vals: impl IntoIterator<Item = &'q Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in vals {
        query = match v {
            Val::S(s) => query.bind(s.as_deref()),
            Val::I(i) => query.bind(*i),
        };
    }
    query
}

/// `prefix (?, ?…), (?, ?…)…` for rows of equal width, as few statements as the limit allows.
async fn insert_rows(
    dia: Dialect,
    conn: &mut AnyConnection,
    prefix: &str,
    rows: &[Vec<Val>],
) -> Result<()> {
    insert_rows_then(dia, conn, prefix, rows, "").await
}

/// [`insert_rows`] with `suffix` after the rows of each statement (`ON CONFLICT …`).
async fn insert_rows_then(
    dia: Dialect,
    conn: &mut AnyConnection,
    prefix: &str,
    rows: &[Vec<Val>],
    suffix: &str,
) -> Result<()> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(());
    };
    for chunk in rows.chunks((PARAMS_PER_STATEMENT / width).max(1)) {
        let one = format!("({})", vec!["?"; width].join(", "));
        let sql = format!(
            "{prefix} {}{suffix}",
            vec![one.as_str(); chunk.len()].join(", ")
        );
        let sql = q(dia, &sql).into_owned();
        bind_all(sqlx::query(&sql).persistent(false), chunk.iter().flatten())
            .execute(&mut *conn)
            .await
            .map_err(db_err("store a batch"))?;
    }
    Ok(())
}

/// Bulk update by key: `UPDATE table SET set FROM (VALUES (…), (…)) AS v WHERE table.key1 =
/// v.column1 AND …`, with `first` bound before the rows (a join on the primary key, so each
/// statement touches only its rows).
async fn touch_rows(
    dia: Dialect,
    conn: &mut AnyConnection,
    table: &str,
    keys: &[&str],
    set: &str,
    first: &str,
    rows: &[Vec<Val>],
) -> Result<()> {
    let width = keys.len();
    if rows.is_empty() || width == 0 {
        return Ok(());
    }
    let head = Val::s(first);
    let join: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(n, k)| format!("{table}.{k} = v.column{}", n + 1))
        .collect();
    for chunk in rows.chunks(((PARAMS_PER_STATEMENT - 1) / width).max(1)) {
        let one = format!("({})", vec!["?"; width].join(", "));
        let sql = format!(
            "UPDATE {table} SET {set} FROM (VALUES {}) AS v WHERE {}",
            vec![one.as_str(); chunk.len()].join(", "),
            join.join(" AND ")
        );
        let sql = q(dia, &sql).into_owned();
        bind_all(
            sqlx::query(&sql).persistent(false),
            std::iter::once(&head).chain(chunk.iter().flatten()),
        )
        .execute(&mut *conn)
        .await
        .map_err(db_err("record what was seen again"))?;
    }
    Ok(())
}

/// `sql (?, ?…)` over `keys` in chunks, with `net` bound first; pairs of the two columns.
async fn select_pairs(
    dia: Dialect,
    conn: &mut AnyConnection,
    sql: &str,
    net: &str,
    keys: &[String],
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(PARAMS_PER_STATEMENT - 1) {
        let full = format!("{sql} ({})", vec!["?"; chunk.len()].join(", "));
        let full = q(dia, &full).into_owned();
        let mut query = sqlx::query(&full).persistent(false).bind(net);
        for k in chunk {
            query = query.bind(k);
        }
        for r in query
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("look devices up"))?
        {
            out.push((r.get::<String, _>(0), r.get::<String, _>(1)));
        }
    }
    Ok(out)
}

/// `sql (?, ?…)` over `keys` in chunks: every row.
async fn select_rows(
    dia: Dialect,
    conn: &mut AnyConnection,
    sql: &str,
    keys: &[String],
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(PARAMS_PER_STATEMENT) {
        let full = format!("{sql} ({})", vec!["?"; chunk.len()].join(", "));
        let full = q(dia, &full).into_owned();
        let mut query = sqlx::query(&full).persistent(false);
        for k in chunk {
            query = query.bind(k);
        }
        out.extend(
            query
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err("read known devices"))?,
        );
    }
    Ok(out)
}

fn run_from_row(r: &sqlx::any::AnyRow) -> Result<ScanRun> {
    Ok(ScanRun {
        id: Uuid::parse_str(&r.get::<String, _>("id"))
            .map_err(|e| StoreError::internal("read a scan run", e))?,
        network: Uuid::parse_str(&r.get::<String, _>("network_id")).unwrap_or_default(),
        daemon: r
            .get::<Option<String>, _>("daemon_id")
            .and_then(|d| Uuid::parse_str(&d).ok()),
        config: serde_json::from_str(&r.get::<String, _>("config"))
            .map_err(json_err("read a scan run"))?,
        targets: serde_json::from_str(&r.get::<String, _>("targets"))
            .map_err(json_err("read a scan run"))?,
        started_at: parse_ts(&r.get::<String, _>("started_at")),
        finished_at: r
            .get::<Option<String>, _>("finished_at")
            .map(|s| parse_ts(&s)),
        status: RunStatus::parse(&r.get::<String, _>("status")).unwrap_or(RunStatus::Failed),
        devices_seen: r.get("devices_seen"),
        observations: r.get("observations"),
        observations_dropped: r.get("observations_dropped"),
        rejected_batches: r.get("rejected_batches"),
        requested_daemon: r
            .get::<Option<String>, _>("requested_daemon")
            .and_then(|d| Uuid::parse_str(&d).ok()),
        created_at: r
            .get::<Option<String>, _>("created_at")
            .map(|s| parse_ts(&s))
            .unwrap_or_else(|| parse_ts(&r.get::<String, _>("started_at"))),
        lease_until: r
            .get::<Option<String>, _>("lease_until")
            .map(|s| parse_ts(&s)),
        progress: r
            .get::<Option<String>, _>("progress")
            .and_then(|s| serde_json::from_str(&s).ok()),
        error: r.get("error"),
        cancel_requested: r.get::<i64, _>("cancel_requested") != 0,
    })
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

pub(crate) fn event_from_row(r: &sqlx::any::AnyRow) -> Event {
    Event {
        seq: r.get("seq"),
        network: Uuid::parse_str(&r.get::<String, _>("network_id")).unwrap_or_default(),
        kind: r.get("kind"),
        device: r
            .get::<Option<String>, _>("device_id")
            .and_then(|d| Uuid::parse_str(&d).ok()),
        scan_run: r
            .get::<Option<String>, _>("scan_run_id")
            .and_then(|d| Uuid::parse_str(&d).ok()),
        detail: serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or_default(),
        at: parse_ts(&r.get::<String, _>("at")),
    }
}

//! scanopy-store: the inventory's memory. [`Store`] is five traits by concern
//! ([`InventoryStore`], [`JobStore`], [`AccountStore`], [`ScheduleStore`], [`WebhookStore`];
//! `use scanopy_store::prelude::*;` brings them into scope), implemented by [`SqlStore`] for an
//! embedded SQLite file ([`SqlStore::open`]) and for PostgreSQL
//! ([`SqlStore::connect_postgres`]). The conformance suite in `tests/it` runs against both.
//!
//! # Overview
//! - [`InventoryStore::apply_batch`] folds a batch of observations of a scan run into the
//!   inventory in one transaction and returns what changed. Identity follows the core's rules
//!   with indexed lookups (MAC, then network + address), never by loading a whole network. A
//!   batch id applied twice changes nothing the second time (daemons retry).
//! - History: first and last seen for devices and services; a device missing from
//!   [`OFFLINE_AFTER`] finished scans that covered its address is marked offline, not deleted;
//!   a deleted device stays deleted unless seen again after the deletion; what users set (name,
//!   notes, tags) is never overwritten by a scan.
//! - Events (`device_new`, `device_changed`, `device_gone`, `service_new`, `service_changed`,
//!   `service_gone`, `scan_done`) with a sequence number to resume from. A finished scan that
//!   probed a TCP port of a device it saw, and no longer found it open, removes that service
//!   (`service_gone`).
//!
//! # Example
//! ```
//! use scanopy_core::{Fact, Observation, ScanConfig};
//! use scanopy_store::prelude::*;
//! use scanopy_store::{DeviceFilter, NewScanRun, RunStatus, SqlStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = SqlStore::in_memory().await.unwrap();
//! let home = store.create_network("home", &["192.168.1.0/24".parse().unwrap()]).await.unwrap();
//! let run = store
//!     .start_scan(NewScanRun {
//!         network: home.id,
//!         daemon: None,
//!         config: ScanConfig::default(),
//!         targets: vec!["192.168.1.0/24".parse().unwrap()],
//!     })
//!     .await
//!     .unwrap();
//! let mac = Fact::Mac { mac: "00:11:32:aa:00:10".parse().unwrap() };
//! let seen = Observation::now("192.168.1.10".parse().unwrap(), "arp", mac);
//! let changes = store.apply_batch(run.id, uuid::Uuid::new_v4(), &[seen]).await.unwrap();
//! assert_eq!(changes.devices_new.len(), 1);
//! store.finish_scan(run.id, RunStatus::Done).await.unwrap();
//!
//! let page = store.devices(&DeviceFilter::default(), 50, None).await.unwrap();
//! assert_eq!(page.items[0].device.macs()[0].to_string(), "00:11:32:aa:00:10");
//! let kinds: Vec<String> = store.events(0, 10).await.unwrap().into_iter().map(|e| e.kind).collect();
//! assert_eq!(kinds, ["device_new", "scan_done"]);
//! # });
//! ```
//!
//! Only this crate knows SQL. Errors say what failed without SQL text, and tell a database that
//! is down ([`StoreError::Unavailable`]) from a bad request.

mod model;
mod sql;

pub use model::{
    AlertChannel, AlertDelivery, AlertRule, AlertScope, AuditEntry, BatchReport, ChangeSet, Counts,
    Credential, CredentialKind, Daemon, Delivery, DeviceEdit, DeviceFilter, Event, JobBatch,
    NewAlertRule, NewCredential, NewDaemon, NewScanRun, NewSchedule, Page, QuietHours, Role,
    RunLimits, RunStatus, ScanRun, Schedule, ServiceRow, SnmpCredential, StoredDevice, User,
    Webhook,
};
pub use sql::{Dialect, SqlStore, SqliteStore};

/// The store's traits, to call their methods on a [`SqlStore`] or a `dyn Store`:
/// `use scanopy_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AccountStore, AlertStore, AuditStore, InventoryStore, JobStore, ScheduleStore, SecretStore,
        Store, WebhookStore,
    };
}

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use scanopy_core::protocol::ProgressSnapshot;
use scanopy_core::{Network, Observation};
use uuid::Uuid;

/// Finished scans that must miss a device before it is marked offline.
pub const OFFLINE_AFTER: i64 = 3;

/// What can go wrong, in words fit for users: no SQL, no paths.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request cannot be served as it is.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request clashes with the current state (a name taken, a job held by another).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached; retry later. The message says what was being done; the
    /// cause (for the log, never for the client) is the error's `source()`.
    #[error("the database is unavailable: {what}")]
    Unavailable {
        /// What was being done (`read a device`), free of SQL and secrets.
        what: String,
        /// Why, when known (the driver's error).
        #[source]
        source: Option<BoxError>,
    },
    /// The database was written by a newer version of scanopy.
    #[error(
        "the database has schema version {found}, newer than this program's {supported}: upgrade scanopy"
    )]
    TooNew {
        /// The database's version.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// A results batch the run does not take: `code` says why (`job_not_held`,
    /// `job_not_running`, `run_limit`); nothing was applied.
    #[error("{message}")]
    Refused {
        /// A stable code for programs.
        code: &'static str,
        /// Words for people.
        message: String,
    },
    /// Anything else, described without internals. The message says what failed; the cause
    /// (for the log, never for the client) is the error's `source()`.
    #[error("failed to {what}")]
    Internal {
        /// What was being done (`read a device`), free of SQL and secrets.
        what: String,
        /// Why, when known (the driver's or the decoder's error).
        #[source]
        source: Option<BoxError>,
    },
}

/// A cause kept inside a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// [`StoreError::Internal`] doing `what`, caused by `source`.
    pub fn internal(what: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Internal {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// [`StoreError::Unavailable`] doing `what`, caused by `source`.
    pub fn unavailable(what: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Unavailable {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The chain of causes below this error, joined with `: ` (for logs; empty when none).
    pub fn causes(&self) -> String {
        let mut out = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push(e.to_string());
            next = e.source();
        }
        out.join(": ")
    }
}

/// A short alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The inventory's memory, every concern at once: what the server holds (`Arc<dyn Store>`).
/// Implemented for every type that implements the five traits; every backend passes the same
/// conformance suite. A method of a part is called with that part's trait in scope:
/// `use scanopy_store::prelude::*;` brings them all.
pub trait Store:
    InventoryStore
    + JobStore
    + AccountStore
    + ScheduleStore
    + WebhookStore
    + SecretStore
    + AlertStore
    + AuditStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: InventoryStore
        + JobStore
        + AccountStore
        + ScheduleStore
        + WebhookStore
        + SecretStore
        + AlertStore
        + AuditStore
        + Send
        + Sync
{
}

/// Networks, scan runs and what they found: devices, their services, events. What a scan
/// writes follows the core's identity rules (see the crate's overview).
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Creates a network.
    async fn create_network(&self, name: &str, subnets: &[IpNet]) -> Result<Network>;

    /// Changes a network's name and/or subnets (what its scans cover when they name no
    /// target; runs already made keep theirs). `NotFound` for an unknown network.
    async fn update_network(
        &self,
        id: Uuid,
        name: Option<&str>,
        subnets: Option<&[IpNet]>,
    ) -> Result<Network>;

    /// All networks, by name.
    async fn networks(&self) -> Result<Vec<Network>>;

    /// Records the start of a scan run.
    async fn start_scan(&self, run: NewScanRun) -> Result<ScanRun>;

    /// One scan run.
    async fn scan_run(&self, id: Uuid) -> Result<Option<ScanRun>>;

    /// Applies a batch of observations of `run`, in one transaction, and returns what changed.
    /// A `batch` id already applied changes nothing. A run that is not running refuses it
    /// ([`StoreError::Refused`]); observation times after now are moved to now, and per-host
    /// facts about addresses outside the run's targets are dropped (ARCHITECTURE.md).
    async fn apply_batch(
        &self,
        run: Uuid,
        batch: Uuid,
        observations: &[Observation],
    ) -> Result<ChangeSet>;

    /// Ends a run. A run that finished (`Done`) counts as a miss for every device of its targets
    /// that neither it nor a run claimed after it saw (runs are compared by the order they were
    /// claimed, never by clocks); [`OFFLINE_AFTER`] misses mark a device offline. A run with a
    /// refused batch ends failed instead, and marks nothing.
    async fn finish_scan(&self, run: Uuid, status: RunStatus) -> Result<ChangeSet>;

    /// Devices matching `filter`, `limit` at a time, after `cursor`.
    async fn devices(
        &self,
        filter: &DeviceFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<StoredDevice>>;

    /// One device with everything.
    async fn device(&self, id: Uuid) -> Result<Option<StoredDevice>>;

    /// Applies a user's edit; scans never overwrite it.
    async fn edit_device(&self, id: Uuid, edit: DeviceEdit) -> Result<StoredDevice>;

    /// Deletes a device: it stays deleted unless seen again after now.
    async fn delete_device(&self, id: Uuid) -> Result<()>;

    /// Events after sequence number `after`, oldest first.
    async fn events(&self, after: i64, limit: usize) -> Result<Vec<Event>>;

    /// Every device of a network (or of all), without services: what the map needs, read in
    /// one pass rather than page by page.
    async fn map_devices(&self, network: Option<Uuid>) -> Result<Vec<StoredDevice>>;

    /// The map as it was at `at`, as far as the store remembers: the devices first seen by
    /// then and not deleted before, with the interfaces first seen by then (addresses they
    /// lost since are not kept, and a switch's ports are as last read).
    async fn map_devices_at(
        &self,
        network: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Vec<StoredDevice>>;

    /// The newest events, newest first.
    async fn recent_events(&self, limit: usize) -> Result<Vec<Event>>;

    /// The newest events of one device, newest first.
    async fn device_events(&self, device: Uuid, limit: usize) -> Result<Vec<Event>>;

    /// For each of `devices` that is stored and not deleted: when it was first seen, and its
    /// `device_new`, `device_gone` and `device_back` events before `to`, oldest first (what its
    /// presence is made of). At most [`MAX_PRESENCE_EVENTS`] events in all, the newest kept.
    async fn presence_events(
        &self,
        devices: &[Uuid],
        to: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, DateTime<Utc>, Vec<Event>)>>;

    /// Events that happened from `from` to `to` (inclusive), of one network or all, oldest
    /// first, after sequence number `after`, at most `limit`.
    async fn events_between(
        &self,
        network: Option<Uuid>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Event>>;

    /// Services across devices (devices filtered by `filter`, paged like
    /// [`InventoryStore::devices`]).
    async fn services(
        &self,
        filter: &DeviceFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ServiceRow>>;

    /// Counts for a dashboard.
    async fn counts(&self) -> Result<Counts>;

    /// Whether the database answers ([`StoreError::Unavailable`] when not).
    async fn ping(&self) -> Result<()>;
}

/// Scans as jobs for daemons (queued, claimed under a lease, their results taken only from the
/// daemon holding it, while it runs), and the daemons themselves.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Applies a daemon's batch like [`InventoryStore::apply_batch`], checking in the same
    /// transaction that the daemon holds the run's lease and the run is running, with
    /// observation times clamped to the run's window (its claim to now) and the run's caps
    /// enforced: a batch beyond a cap is refused and ends the run failed. A refused batch
    /// changes nothing.
    async fn apply_job_batch(&self, batch: JobBatch<'_>) -> Result<BatchReport>;

    /// Records that a batch `daemon` sent for `run`, which it holds, was refused (too large,
    /// malformed): the run can no longer end done. Nothing happens when it does not hold it.
    async fn reject_batch(&self, run: Uuid, daemon: Uuid, reason: &str) -> Result<()>;

    /// Queues a scan for a daemon of its network (`run.daemon`: only that one).
    async fn enqueue_scan(&self, run: NewScanRun) -> Result<ScanRun>;

    /// Claims the oldest job `daemon` may run in `network`, for `lease`; each job is claimed
    /// once, even by several servers on one database. A job whose lease expired is claimable
    /// again.
    async fn claim_job(
        &self,
        daemon: Uuid,
        network: Uuid,
        lease: Duration,
    ) -> Result<Option<ScanRun>>;

    /// Renews the lease `daemon` holds on `run` and records its progress; returns the run (see
    /// [`ScanRun::cancel_requested`]). [`StoreError::Conflict`] when the daemon no longer holds
    /// it.
    async fn renew_job(
        &self,
        run: Uuid,
        daemon: Uuid,
        progress: Option<ProgressSnapshot>,
        lease: Duration,
    ) -> Result<ScanRun>;

    /// Cancels a run: a queued one at once, a running one at its daemon's next call (or, if
    /// its daemon never calls again, when its lease expires).
    async fn cancel_scan(&self, run: Uuid) -> Result<ScanRun>;

    /// Gives a job `daemon` claimed back to the queue at once (it could not be handed over).
    async fn release_job(&self, run: Uuid, daemon: Uuid) -> Result<()>;

    /// Records why a run failed.
    async fn record_scan_error(&self, run: Uuid, error: &str) -> Result<()>;

    /// Scan runs, newest first.
    async fn scan_runs(
        &self,
        network: Option<Uuid>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ScanRun>>;

    /// Records a daemon's registration (one daemon per key; one local daemon per network and
    /// server instance). A registration never changes the approved push URL.
    async fn register_daemon(&self, daemon: NewDaemon) -> Result<Daemon>;

    /// Records that a daemon was heard from.
    async fn touch_daemon(&self, id: Uuid) -> Result<()>;

    /// All daemons.
    async fn daemons(&self) -> Result<Vec<Daemon>>;

    /// Sets (or, with `None`, clears) the URL the server calls a push daemon at: an admin's
    /// decision, which no registration changes ([`Daemon::approved_url`]).
    async fn set_daemon_push_url(&self, id: Uuid, url: Option<&str>) -> Result<Daemon>;
}

/// Events [`InventoryStore::presence_events`] reads at most.
pub const MAX_PRESENCE_EVENTS: usize = 100_000;

/// Users and credentials (sessions, API tokens, daemon keys): secrets are kept only as hashes.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user; the password is kept as an argon2id hash.
    async fn create_user(&self, username: &str, password: &str, role: Role) -> Result<User>;

    /// The user, when the password is right.
    async fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>>;

    /// Sets a user's password.
    async fn set_password(&self, username: &str, password: &str) -> Result<()>;

    /// How many users exist.
    async fn user_count(&self) -> Result<i64>;

    /// Every user, by name.
    async fn users(&self) -> Result<Vec<User>>;

    /// One user ([`StoreError::NotFound`] when unknown).
    async fn user(&self, id: Uuid) -> Result<User>;

    /// Sets a user's role and whether it is disabled (`None`: unchanged). Refused
    /// ([`StoreError::Conflict`]) when it would leave no enabled admin. Disabling a user ends
    /// its sessions; its tokens are refused while it is disabled.
    async fn update_user(
        &self,
        id: Uuid,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User>;

    /// Sets a user's password and ends its sessions, but `keep` (the one that changed it).
    async fn set_user_password(&self, id: Uuid, password: &str, keep: Option<Uuid>) -> Result<()>;

    /// A user's credentials of a kind, neither revoked nor expired, newest first.
    async fn user_credentials(&self, user: Uuid, kind: CredentialKind) -> Result<Vec<Credential>>;

    /// Creates a session, API token or daemon key; returns it with its secret, which is shown
    /// once and kept only as a SHA-256 digest.
    async fn create_credential(&self, c: NewCredential) -> Result<(Credential, String)>;

    /// The credential a secret belongs to, unless revoked or expired, or its user is disabled
    /// or gone; its role is capped by its user's (a token never exceeds its user).
    async fn verify_credential(
        &self,
        kind: CredentialKind,
        secret: &str,
    ) -> Result<Option<Credential>>;

    /// Credentials of a kind, not revoked.
    async fn credentials(&self, kind: CredentialKind) -> Result<Vec<Credential>>;

    /// Revokes a credential.
    async fn revoke_credential(&self, kind: CredentialKind, id: Uuid) -> Result<()>;
}

/// Recurring scans.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates a recurring scan.
    async fn create_schedule(&self, s: NewSchedule) -> Result<Schedule>;

    /// All schedules.
    async fn schedules(&self) -> Result<Vec<Schedule>>;

    /// Deletes a schedule.
    async fn delete_schedule(&self, id: Uuid) -> Result<()>;

    /// Takes the schedules due at `now` and moves them to their next run; of several servers on
    /// one database, exactly one takes each.
    async fn take_due_schedules(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>>;
}

/// Secrets the server must be able to use, kept sealed: the SNMP credentials of each network.
/// The store never sees them in clear; it keeps what the server sealed and what it says of them.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Adds a credential to its network (last in its order). `NotFound` for an unknown network.
    async fn add_snmp_credential(&self, c: SnmpCredential) -> Result<SnmpCredential>;

    /// A network's credentials, in the order they were added (the order they are tried in).
    async fn snmp_credentials(&self, network: Uuid) -> Result<Vec<SnmpCredential>>;

    /// Deletes one of a network's credentials. `NotFound` when it has no such one.
    async fn delete_snmp_credential(&self, network: Uuid, id: Uuid) -> Result<()>;
}

/// The audit trail: who did what, when, from where. Entries are only ever added.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Adds an entry.
    async fn record_audit(&self, e: &AuditEntry) -> Result<()>;

    /// The newest entries first, at most `limit`, those before `before` when given.
    async fn audit(&self, limit: usize, before: Option<DateTime<Utc>>) -> Result<Vec<AuditEntry>>;
}

/// Alert rules and what they sent; each event is handled by each rule once, even by several
/// servers on one database.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Adds a rule. `NotFound` for an unknown network.
    async fn create_alert_rule(&self, r: NewAlertRule) -> Result<AlertRule>;

    /// Every rule, oldest first.
    async fn alert_rules(&self) -> Result<Vec<AlertRule>>;

    /// Deletes a rule and what it sent. `NotFound` when there is no such rule.
    async fn delete_alert_rule(&self, id: Uuid) -> Result<()>;

    /// Claims rule `rule`'s handling of event `event_seq` for `claimer` (a server instance):
    /// true for exactly one caller, even of several servers on one database.
    async fn claim_alert(&self, rule: Uuid, event_seq: i64, claimer: &str) -> Result<bool>;

    /// Records what a rule did with an event.
    async fn record_alert(&self, d: &AlertDelivery) -> Result<()>;

    /// A rule's latest records, newest first.
    async fn alert_deliveries(&self, rule: Uuid, limit: usize) -> Result<Vec<AlertDelivery>>;

    /// When the rule last delivered an alert (a test excepted), for its throttle.
    async fn last_alert(&self, rule: Uuid) -> Result<Option<DateTime<Utc>>>;

    /// A digest rule's records still `queued`, oldest first, at most `limit`.
    async fn queued_alerts(&self, rule: Uuid, limit: usize) -> Result<Vec<AlertDelivery>>;

    /// Marks a rule's `queued` records up to `upto` (inclusive) `digested`; how many.
    async fn mark_digested(&self, rule: Uuid, upto: DateTime<Utc>) -> Result<u64>;
}

/// Webhooks and their deliveries; each event is delivered to each webhook once, even by several
/// servers on one database.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds a webhook; `secret` is its HMAC key (it signs deliveries, so it is kept).
    async fn create_webhook(&self, url: &str, secret: &str) -> Result<Webhook>;

    /// All webhooks with their HMAC keys.
    async fn webhooks(&self) -> Result<Vec<(Webhook, String)>>;

    /// Deletes a webhook.
    async fn delete_webhook(&self, id: Uuid) -> Result<()>;

    /// Records a delivery attempt.
    async fn record_delivery(&self, d: &Delivery) -> Result<()>;

    /// Claims the delivery of event `event_seq` to `webhook` for `claimer` (a server instance);
    /// true for exactly one caller, even of several servers on one database: only that one
    /// sends it.
    async fn claim_delivery(&self, webhook: Uuid, event_seq: i64, claimer: &str) -> Result<bool>;

    /// A webhook's latest deliveries.
    async fn deliveries(&self, webhook: Uuid, limit: usize) -> Result<Vec<Delivery>>;
}

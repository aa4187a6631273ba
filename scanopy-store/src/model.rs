//! The types the store hands out.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use scanopy_core::protocol::{Capabilities, DaemonMode, ProgressSnapshot};
use scanopy_core::{Device, ScanConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A scan run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a daemon.
    Queued,
    /// Under way.
    Running,
    /// Finished without error: `finished_at` is set and its results are applied.
    Done,
    /// Ended by an error.
    Failed,
    /// Stopped by a user.
    Cancelled,
}

impl RunStatus {
    /// The name stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Done,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What starts a scan run.
#[derive(Debug, Clone)]
pub struct NewScanRun {
    /// The network scanned.
    pub network: Uuid,
    /// The daemon that runs it: for
    /// [`InventoryStore::start_scan`](crate::InventoryStore::start_scan) the daemon already
    /// running it; for [`JobStore::enqueue_scan`](crate::JobStore::enqueue_scan) the one asked to
    /// (any daemon of the network when `None`).
    pub daemon: Option<Uuid>,
    /// The configuration, stored with the run.
    pub config: ScanConfig,
    /// The subnets the run covers (for offline marking).
    pub targets: Vec<IpNet>,
}

/// A scan run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRun {
    /// The run's id, chosen by the store when the run is queued or started.
    pub id: Uuid,
    /// The network scanned: every device the run reports is stored in it.
    pub network: Uuid,
    /// The daemon that claimed the run (and holds its lease while it runs); `None` while it
    /// is queued. A running run whose lease lapsed may be claimed by another daemon.
    pub daemon: Option<Uuid>,
    /// What to scan and how, fixed when the run is queued or started.
    pub config: ScanConfig,
    /// The subnets covered.
    pub targets: Vec<IpNet>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where the run is: queued, running, then done, failed or cancelled.
    pub status: RunStatus,
    /// The distinct devices it saw.
    pub devices_seen: i64,
    /// Observations it took.
    #[serde(default)]
    pub observations: i64,
    /// Observations dropped from its batches: per-host facts about addresses outside its
    /// targets.
    #[serde(default)]
    pub observations_dropped: i64,
    /// Batches refused from the daemon holding it (a run with any ends failed, never done).
    #[serde(default)]
    pub rejected_batches: i64,
    /// The daemon asked to run it (any daemon of the network when `None`).
    pub requested_daemon: Option<Uuid>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Until when the claiming daemon holds it.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last progress reported.
    pub progress: Option<ProgressSnapshot>,
    /// Why it failed.
    pub error: Option<String>,
    /// A user asked to cancel it; the daemon stops at its next call.
    pub cancel_requested: bool,
}

/// The most a run may take; a batch beyond either ends the run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Distinct devices.
    pub max_devices: u64,
    /// Observations the run may take in all its batches together.
    pub max_observations: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_devices: 65_536,
            max_observations: 5_000_000,
        }
    }
}

/// A results batch from the daemon that claimed the run.
#[derive(Debug, Clone, Copy)]
pub struct JobBatch<'a> {
    /// The run the batch belongs to.
    pub run: Uuid,
    /// The daemon sending it: it must hold the run's lease.
    pub daemon: Uuid,
    /// The batch's id (a batch applied before changes nothing).
    pub batch: Uuid,
    /// What the daemon saw (the store drops per-host facts outside the run's targets).
    pub observations: &'a [scanopy_core::Observation],
    /// The run's caps.
    pub limits: RunLimits,
}

/// What applying a daemon's batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// What the batch changed in the stored devices and services (empty if already applied).
    pub changes: ChangeSet,
    /// Applied now (false: it had been applied before).
    pub applied: bool,
    /// Observations dropped: per-host facts about addresses outside the run's targets.
    pub outside_targets: u64,
    /// Observations whose time lay outside the run's window, moved to its edge.
    pub clamped: u64,
    /// Devices known until now by no address the network knows (heard asking DHCP for one,
    /// interface `0.0.0.0`, or only at an IPv6 link-local address) that got one in this batch:
    /// now they can be scanned.
    pub addressed: Vec<Uuid>,
}

/// What a batch or the end of a run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    /// Devices seen for the first time (or again after a deletion).
    pub devices_new: Vec<Uuid>,
    /// Devices whose name, vendor, type or interfaces changed.
    pub devices_changed: Vec<Uuid>,
    /// Devices now offline.
    pub devices_gone: Vec<Uuid>,
    /// New services: (device, port, transport).
    pub services_new: Vec<(Uuid, u16, String)>,
    /// Services whose state, name, product or version changed.
    pub services_changed: Vec<(Uuid, u16, String)>,
    /// Services a finished scan probed and no longer found: (device, port, transport).
    pub services_gone: Vec<(Uuid, u16, String)>,
}

impl ChangeSet {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.devices_new.is_empty()
            && self.devices_changed.is_empty()
            && self.devices_gone.is_empty()
            && self.services_new.is_empty()
            && self.services_changed.is_empty()
            && self.services_gone.is_empty()
    }
}

/// A device as stored: what scans saw, and what users set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDevice {
    /// What scans saw.
    #[serde(flatten)]
    pub device: Device,
    /// The network the device belongs to (a device lives in exactly one).
    pub network: Uuid,
    /// A name a user gave it.
    pub user_name: Option<String>,
    /// A user's notes.
    pub notes: Option<String>,
    /// A user's tags.
    pub tags: Vec<String>,
    /// Missed by the last scans of its subnet.
    pub offline: bool,
}

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Only this network.
    pub network: Option<Uuid>,
    /// Only devices with an interface in this subnet.
    pub subnet: Option<IpNet>,
    /// Text in the name, host name, vendor, address or MAC.
    pub q: Option<String>,
    /// Only devices running this service name.
    pub service: Option<String>,
    /// Only devices seen since.
    pub seen_since: Option<DateTime<Utc>>,
}

/// A user's edit of a device: `Some` fields are set (`Some(None)` clears).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeviceEdit {
    /// The user's name for it.
    pub name: Option<Option<String>>,
    /// The user's free-text notes (`Some(None)` clears them).
    pub notes: Option<Option<String>>,
    /// The user's tags, replacing the stored ones whole.
    pub tags: Option<Vec<String>>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// This page's items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Something that happened, for consumers that resume from a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Its sequence number (increasing).
    pub seq: i64,
    /// The network it happened in.
    pub network: Uuid,
    /// `device_new`, `device_changed`, `device_gone` (offline), `device_back` (online again),
    /// `service_new`, `service_changed`, `service_gone`, `scan_done`.
    pub kind: String,
    /// The device concerned.
    pub device: Option<Uuid>,
    /// The scan run concerned.
    pub scan_run: Option<Uuid>,
    /// What the kind says about it, a JSON object: e.g. the changed fields for
    /// `device_changed`, the service's address and port for `service_*`, the status for
    /// `scan_done`.
    pub detail: serde_json::Value,
    /// When it happened (the store's clock at the time it applied the change).
    pub at: DateTime<Utc>,
}

/// A daemon as the server knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Daemon {
    /// The daemon's id: one per daemon key (one per network and server instance for a local
    /// daemon), kept across its registrations.
    pub id: Uuid,
    /// The network it scans.
    pub network: Uuid,
    /// A name for people, as the daemon announced it.
    pub name: String,
    /// Pull or push.
    pub mode: DaemonMode,
    /// What it said it can do.
    pub capabilities: Capabilities,
    /// The server's own in-process daemon.
    pub local: bool,
    /// The credential it registered with (none for the local daemon).
    pub key_id: Option<Uuid>,
    /// The URL a push daemon announced at its last registration (also in
    /// `capabilities.url`): shown to an admin, never called by itself.
    pub announced_url: Option<String>,
    /// The URL an admin set or approved: the only one the server calls.
    pub approved_url: Option<String>,
    /// The server instance a local daemon belongs to (none for remote daemons).
    pub instance: Option<String>,
    /// When it was first seen.
    pub created_at: DateTime<Utc>,
    /// Its last registration, heartbeat or poll.
    pub last_seen: DateTime<Utc>,
}

impl Daemon {
    /// A push daemon announces a URL the admin has not approved (none yet, or another).
    pub fn push_url_pending(&self) -> bool {
        self.mode == DaemonMode::Push
            && self
                .announced_url
                .as_ref()
                .is_some_and(|a| self.approved_url.as_ref() != Some(a))
    }
}

/// A daemon introducing itself.
#[derive(Debug, Clone)]
pub struct NewDaemon {
    /// The network it will scan; a daemon key's network for a remote daemon.
    pub network: Uuid,
    /// The daemon key's credential id; `None` for the local daemon.
    pub key_id: Option<Uuid>,
    /// A name for people, shown in lists.
    pub name: String,
    /// What it can do.
    pub capabilities: Capabilities,
    /// The server's own daemon.
    pub local: bool,
    /// For a local daemon, the server instance it belongs to: each server on a shared database
    /// has its own local daemon record.
    pub instance: Option<String>,
}

/// What a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A signed-in browser.
    Session,
    /// A script's API token.
    ApiToken,
    /// A daemon's key, scoped to one network.
    DaemonKey,
}

impl CredentialKind {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ApiToken => "api_token",
            CredentialKind::DaemonKey => "daemon_key",
        }
    }

    /// The prefix of its secrets, which tells them apart in logs and leaks.
    pub fn prefix(&self) -> &'static str {
        match self {
            CredentialKind::Session => "ss_",
            CredentialKind::ApiToken => "st_",
            CredentialKind::DaemonKey => "sk_",
        }
    }
}

/// What a user or token may do. Each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: users, networks, daemons and their keys, credentials, webhooks, alerts, the
    /// audit trail, and what an editor may do.
    Admin,
    /// Scans (start, cancel, schedule) and device edits (name, tags, delete), and reading.
    Editor,
    /// Reading only; `read` is its older name, still accepted.
    #[serde(alias = "read")]
    Viewer,
    /// A daemon: the daemon protocol only.
    Daemon,
}

impl Role {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
            Role::Daemon => "daemon",
        }
    }

    /// Parses a stored or given name (`read` is the older name of `viewer`).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "read" => Some(Role::Viewer),
            _ => [Role::Admin, Role::Editor, Role::Viewer, Role::Daemon]
                .into_iter()
                .find(|r| r.as_str() == s),
        }
    }

    /// The roles a user may have, highest first.
    pub const USER_ROLES: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];

    /// How much a user's role allows (a daemon's: nothing of the user API).
    fn rank(self) -> u8 {
        match self {
            Role::Admin => 3,
            Role::Editor => 2,
            Role::Viewer => 1,
            Role::Daemon => 0,
        }
    }

    /// Whether this role may do what `other` may.
    pub fn covers(self, other: Role) -> bool {
        self != Role::Daemon && other != Role::Daemon && self.rank() >= other.rank()
    }

    /// The lesser of a credential's role and its user's: a token never exceeds its user.
    pub fn capped_by(self, user: Role) -> Role {
        if self == Role::Daemon || user.covers(self) {
            self
        } else {
            user
        }
    }
}

/// A credential as stored: everything but the secret, of which only a hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credential {
    /// The credential's id, shown in lists and used to revoke it; unlike the secret, not secret.
    pub id: Uuid,
    /// What it is for.
    pub kind: CredentialKind,
    /// A name for people.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The network a daemon key is scoped to.
    pub network: Option<Uuid>,
    /// The user a session or token belongs to.
    pub user: Option<Uuid>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A credential to make.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// What it is for.
    pub kind: CredentialKind,
    /// A name for people.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The network (daemon keys).
    pub network: Option<Uuid>,
    /// The user (sessions, tokens).
    pub user: Option<Uuid>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// The user's id, which sessions and tokens refer to.
    pub id: Uuid,
    /// The sign-in name.
    pub username: String,
    /// What the user may do.
    pub role: Role,
    /// When the user was made.
    pub created_at: DateTime<Utc>,
    /// When an admin disabled the user: it cannot sign in, its sessions are ended and its
    /// tokens refused until it is enabled again.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When one of its sessions or tokens was last used (to the minute).
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A recurring scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The schedule's id, used to delete it.
    pub id: Uuid,
    /// The network its runs scan.
    pub network: Uuid,
    /// The daemon to run it (any daemon of the network when `None`).
    pub daemon: Option<Uuid>,
    /// Minutes between runs.
    pub every_minutes: i64,
    /// What to scan and how.
    pub config: ScanConfig,
    /// The subnets covered (for offline marking).
    pub targets: Vec<IpNet>,
    /// The next run.
    pub next_run: DateTime<Utc>,
    /// The last run.
    pub last_run: Option<DateTime<Utc>>,
}

/// A recurring scan to make.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// The network its runs scan.
    pub network: Uuid,
    /// The daemon to run it (any daemon of the network when `None`).
    pub daemon: Option<Uuid>,
    /// Minutes between runs (at least 1).
    pub every_minutes: i64,
    /// What to scan and how.
    pub config: ScanConfig,
    /// The subnets covered.
    pub targets: Vec<IpNet>,
    /// The first run.
    pub first_run: DateTime<Utc>,
}

/// An SNMP credential of a network: what it is, and its secret as the server sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct SnmpCredential {
    /// Its id (the seal is bound to it).
    pub id: Uuid,
    /// The network whose daemons get it.
    pub network: Uuid,
    /// What the admin called it.
    pub label: String,
    /// `community` or `v3`.
    pub kind: String,
    /// A v3 user's name (it travels in clear on the wire).
    pub user: Option<String>,
    /// A v3 user's authentication protocol (`SHA-256`…).
    pub auth_protocol: Option<String>,
    /// A v3 user's privacy protocol (`AES`).
    pub privacy_protocol: Option<String>,
    /// The secret, sealed by the server (opaque to the store).
    pub sealed: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SnmpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpCredential")
            .field("id", &self.id)
            .field("network", &self.network)
            .field("label", &self.label)
            .field("kind", &self.kind)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Where events are POSTed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    /// The webhook's id, which deliveries refer to.
    pub id: Uuid,
    /// The URL every event is POSTed to, as an admin set it.
    pub url: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// One entry of the audit trail: who did what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Its id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a user name (a session's, or the name typed at a failed sign-in) or an API token's name.
    pub actor: String,
    /// How they were signed in: `session` or `token`.
    pub via: String,
    /// The client's address, when known.
    pub address: Option<String>,
    /// What: `sign_in`, `sign_in_failed`, `sign_out`, `scan_started`, `scan_cancelled`,
    /// `device_edited`, `device_deleted`, `key_created`, `key_revoked`, `token_created`,
    /// `token_revoked`, `webhook_created`, `webhook_deleted`, `alert_created`, `alert_deleted`,
    /// `network_created`, `network_changed`, `snmp_credential_added`,
    /// `snmp_credential_deleted`, `schedule_created`, `schedule_deleted`, `push_url_set`.
    pub action: String,
    /// What it acted on (an id or a name).
    pub target: Option<String>,
    /// More, as a JSON object (never a secret).
    pub detail: serde_json::Value,
}

/// Where an alert goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertChannel {
    /// An e-mail through the server's SMTP relay.
    Email {
        /// The recipient.
        to: String,
    },
    /// An ntfy-style push: a POST of the message to `{url}/{topic}`, with a `Title` header.
    Ntfy {
        /// The server (`https://ntfy.sh`).
        url: String,
        /// The topic.
        topic: String,
    },
    /// A JSON POST, its body the admin's template with placeholders (`{{title}}`,
    /// `{{message}}`, `{{kind}}`, `{{device}}`, `{{name}}`, `{{ip}}`, `{{network}}`, `{{at}}`,
    /// each JSON-escaped), or the event itself without one.
    Webhook {
        /// Where to POST.
        url: String,
        /// The body's template.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
}

/// Hours in which a rule sends nothing (the server's local time, `HH:MM`; may wrap midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start, `22:00`.
    pub from: String,
    /// End, `07:00`.
    pub to: String,
}

/// Which devices' events a rule is about; every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertScope {
    /// Devices with an address in this subnet.
    pub subnet: Option<ipnet::IpNet>,
    /// Devices with this tag (a user's tag).
    pub tag: Option<String>,
    /// This device.
    pub device: Option<Uuid>,
}

impl AlertScope {
    /// Whether nothing narrows it.
    pub fn is_empty(&self) -> bool {
        self.subnet.is_none() && self.tag.is_none() && self.device.is_none()
    }
}

/// A rule: which events, where, sent how, how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRule {
    /// Its id.
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// The event kinds it sends (`device_new`, `device_gone`, `device_back`, `device_changed`,
    /// `service_new`, `service_gone`).
    pub events: Vec<String>,
    /// Only this network's events; `None`: every network.
    pub network: Option<Uuid>,
    /// Only events of some devices (by address, tag or id).
    #[serde(flatten)]
    pub scope: AlertScope,
    /// Where it sends.
    pub channel: AlertChannel,
    /// At most one alert in this many seconds (0: no limit); the others are recorded as
    /// `throttled`.
    pub throttle_secs: i64,
    /// Hours it sends nothing (recorded as `quiet`).
    pub quiet: Option<QuietHours>,
    /// `HH:MM` (the server's local time): the rule's events are kept (`queued`) and sent
    /// together once a day from then; `None`: each as it comes.
    pub digest: Option<String>,
    /// Off rules send nothing.
    pub enabled: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A rule to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlertRule {
    /// See [`AlertRule::name`].
    pub name: String,
    /// See [`AlertRule::events`].
    pub events: Vec<String>,
    /// See [`AlertRule::network`].
    pub network: Option<Uuid>,
    /// See [`AlertRule::scope`].
    pub scope: AlertScope,
    /// See [`AlertRule::digest`].
    pub digest: Option<String>,
    /// See [`AlertRule::channel`].
    pub channel: AlertChannel,
    /// See [`AlertRule::throttle_secs`].
    pub throttle_secs: i64,
    /// See [`AlertRule::quiet`].
    pub quiet: Option<QuietHours>,
}

/// What a rule did with one event (or a test).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertDelivery {
    /// The rule.
    pub rule: Uuid,
    /// The event (0 for a test).
    pub event_seq: i64,
    /// `delivered`, `failed`, `throttled`, `quiet`, `queued` (kept for the rule's digest) or
    /// `digested` (sent in one).
    pub status: String,
    /// What it said (the message's title); a digest's: how many changes it told.
    pub summary: Option<String>,
    /// Attempts made (0 when none was: throttled, quiet).
    pub attempts: i64,
    /// What went wrong.
    pub error: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// One attempt to deliver events to a webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// The webhook delivered to.
    pub webhook: Uuid,
    /// The last event delivered (or tried).
    pub event_seq: i64,
    /// `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The HTTP status answered.
    pub http_status: Option<i64>,
    /// What went wrong.
    pub error: Option<String>,
    /// When the last attempt ended.
    pub at: DateTime<Utc>,
}

/// A service with its device, for lists across devices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRow {
    /// The device the service runs on.
    pub device: Uuid,
    /// The device's name for people.
    pub device_name: String,
    /// The device's network.
    pub network: Uuid,
    /// The service as scans saw it (flattened into the row when serialised).
    #[serde(flatten)]
    pub service: scanopy_core::Service,
}

/// Counts for a dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Devices not deleted.
    pub devices: i64,
    /// Of which offline.
    pub devices_offline: i64,
    /// Services on devices not deleted.
    pub services: i64,
    /// All networks.
    pub networks: i64,
}

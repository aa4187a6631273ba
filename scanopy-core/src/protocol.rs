//! The daemon protocol: what a daemon and a server say to each other, as plain serde types.
//!
//! Routes (all JSON, all with `Authorization: Bearer DAEMON_KEY`, under `/api/v1/daemon`):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /register` | [`RegisterRequest`] | [`RegisterResponse`] |
//! | `POST /heartbeat` | [`RegisterRequest`] | [`RegisterResponse`] |
//! | `POST /poll` | nothing | [`PollResponse`] |
//! | `POST /jobs/{id}/results` | [`ResultsBatch`] | [`JobAck`] |
//! | `POST /jobs/{id}/progress` | [`ProgressSnapshot`] | [`JobAck`] |
//! | `POST /jobs/{id}/finish` | [`FinishRequest`] | [`JobAck`] |
//!
//! A daemon key is scoped to one network; the server knows the daemon by its key. Each results
//! batch carries an id chosen by the daemon, so sending it again (after a timeout, or from the
//! spool after a restart) changes nothing. A job's lease is renewed by every results or progress
//! call; a job whose lease expires goes back to the queue. The server takes results only from
//! the daemon holding the job, while it runs; a 409 with the code `job_not_held`,
//! `job_not_running` or `run_limit` is final (the daemon sets the batch aside and stops the
//! job), while `not_registered` is retried. A batch the server refused (too large, unreadable)
//! makes the job end failed, never done.
//!
//! Push mode: the daemon listens (60073 by default) and the server calls it:
//! `POST /api/v1/jobs` with a [`Job`], `POST /api/v1/jobs/{id}/cancel`, and `GET /api/v1/health`
//! (the only route without authentication). The server signs each call with its Ed25519 key
//! (headers [`SIGNATURE_HEADER`], [`TIMESTAMP_HEADER`] and [`DAEMON_HEADER`], over
//! [`signed_message`], which names the daemon the call is for); the daemon trusts the public key
//! it was given, refuses stale timestamps and refuses a call signed for another daemon id, so a
//! captured call cannot be replayed to another daemon. The server calls a push daemon only at
//! the URL an admin approved, never at the one the daemon announces by itself
//! ([`Capabilities::url`] is only shown to the admin). Results still flow through the routes
//! above.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Observation, ScanConfig};

pub use crate::scanner::ProgressSnapshot;

/// How a daemon gets its work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonMode {
    /// The daemon polls the server.
    #[default]
    Pull,
    /// The server calls the daemon.
    Push,
}

/// What a daemon can do, sent with every registration and heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// It may open raw sockets (ARP and SYN sweeps).
    pub raw_sockets: bool,
    /// A Docker engine answers it.
    pub docker: bool,
    /// The IPv4 subnets it is attached to.
    pub subnets: Vec<IpNet>,
    /// The daemon's release (its crate version, e.g. `0.1.0`), shown to admins.
    pub version: String,
    /// Pull or push.
    pub mode: DaemonMode,
    /// Where a push daemon says it listens (`http://host:60073`). The server only shows it to
    /// an admin, who approves it (or sets another); it never calls an announced URL by itself.
    pub url: Option<String>,
    /// The interfaces on which it hears the network passively (ARP, DHCP), empty when it does
    /// not listen (no CAP_NET_RAW, or `--no-listen`).
    pub listening: Vec<String>,
}

/// A daemon introduces itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Its name (the host name by default).
    pub name: String,
    /// What it can do.
    pub capabilities: Capabilities,
}

/// The server's answer to a registration or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The id the server keeps the daemon under (one per daemon key, kept across
    /// registrations).
    pub daemon_id: Uuid,
    /// The network its key is scoped to.
    pub network_id: Uuid,
    /// How often to poll, in milliseconds.
    pub poll_interval_ms: u64,
}

/// Work for a daemon: one scan run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The scan run's id.
    pub id: Uuid,
    /// The network it belongs to.
    pub network: Uuid,
    /// What to scan and how.
    pub config: ScanConfig,
    /// How long the lease lasts without a results or progress call, in milliseconds.
    pub lease_ms: u64,
    /// Its network's SNMP credentials, for the `snmp` scanner (absent when it has none).
    #[serde(default, skip_serializing_if = "JobSnmp::is_empty")]
    pub snmp: JobSnmp,
}

/// SNMP credentials a job carries to its daemon: its network's, tried before the daemon's own
/// (secrets: its `Debug` shows counts only; never logged).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSnmp {
    /// Communities, in order.
    pub communities: Vec<String>,
    /// SNMPv3 users, in order.
    pub users: Vec<JobSnmpUser>,
}

impl JobSnmp {
    /// Whether it carries none.
    pub fn is_empty(&self) -> bool {
        self.communities.is_empty() && self.users.is_empty()
    }
}

impl std::fmt::Debug for JobSnmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "JobSnmp({} communities, {} users)",
            self.communities.len(),
            self.users.len()
        )
    }
}

/// An SNMPv3 user a job carries: protocols as net-snmp names them (`SHA-256`, `AES`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSnmpUser {
    /// The user name.
    pub user: String,
    /// The authentication protocol, for authNoPriv and authPriv.
    pub auth_protocol: Option<String>,
    /// Its password.
    pub auth_password: Option<String>,
    /// The privacy protocol, for authPriv.
    pub privacy_protocol: Option<String>,
    /// Its password.
    pub privacy_password: Option<String>,
}

/// The scanner named by a *listen run*: the run a daemon's passive listener reports into
/// (`POST /daemon/listen` opens one). A listen run hears, it does not sweep: ending it marks no
/// device missed, and it is never handed out as a job.
pub const LISTEN_SCANNER: &str = "listen";

/// Whether `config` is a listen run's (its scanners are exactly [`LISTEN_SCANNER`]).
pub fn is_listen_run(config: &crate::ScanConfig) -> bool {
    config.scanners.len() == 1 && config.scanners[0] == LISTEN_SCANNER
}

/// A daemon that starts listening asks for a listen run (`POST /daemon/listen`); the answer is
/// a [`Job`] whose results, progress and end go to the usual job routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenRequest {
    /// The interfaces it hears (shown to admins).
    pub interfaces: Vec<String>,
}

/// The answer to a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResponse {
    /// A job, or nothing to do.
    pub job: Option<Job>,
}

/// Observations of a job, sent as they are found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsBatch {
    /// Chosen by the daemon; a batch id already applied changes nothing.
    pub batch_id: Uuid,
    /// The observations found since the previous batch, in the order found.
    pub observations: Vec<Observation>,
}

/// How a job ended, as the daemon saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// It ran to the end.
    Done,
    /// It failed.
    Failed,
    /// It was cancelled.
    Cancelled,
}

/// The end of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishRequest {
    /// How it ended.
    pub outcome: JobOutcome,
    /// Why it failed, in words.
    #[serde(default)]
    pub error: Option<String>,
    /// Warnings of the scan (no raw sockets, and the like).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The final counts.
    #[serde(default)]
    pub progress: ProgressSnapshot,
}

/// The server's answer to a results, progress or finish call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAck {
    /// The batch was applied now (false: it had been applied before).
    #[serde(default)]
    pub applied: bool,
    /// The job was cancelled: stop it.
    #[serde(default)]
    pub cancel: bool,
}

/// The header carrying the server's signature of a push call (base64 of 64 bytes).
pub const SIGNATURE_HEADER: &str = "x-scanopy-signature";
/// The header carrying the time of a push call (seconds since the epoch).
pub const TIMESTAMP_HEADER: &str = "x-scanopy-timestamp";
/// The header naming the daemon a push call is for (its id, as registered). The signature
/// covers the id; the header only lets the daemon say clearly why it refuses a call.
pub const DAEMON_HEADER: &str = "x-scanopy-daemon";
/// How far a push call's timestamp may be from the daemon's clock, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The bytes a push call's signature covers: a version tag, method, path, the id of the daemon
/// the call is for, timestamp and body.
pub fn signed_message(
    method: &str,
    path: &str,
    daemon: Uuid,
    timestamp: i64,
    body: &[u8],
) -> Vec<u8> {
    let mut m = format!("scanopy-push/2\n{method}\n{path}\n{daemon}\n{timestamp}\n").into_bytes();
    m.extend_from_slice(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_round_trips_as_json() {
        let job = Job {
            id: Uuid::new_v4(),
            network: Uuid::new_v4(),
            config: ScanConfig::default(),
            lease_ms: 60_000,
            snmp: Default::default(),
        };
        let text = serde_json::to_string(&PollResponse {
            job: Some(job.clone()),
        })
        .unwrap();
        let back: PollResponse = serde_json::from_str(&text).unwrap();
        assert_eq!(back.job, Some(job));
    }

    #[test]
    fn the_signed_message_binds_every_part() {
        let (d, e) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let a = signed_message("POST", "/api/v1/jobs", d, 1, b"{}");
        assert_ne!(a, signed_message("POST", "/api/v1/jobs", d, 2, b"{}"));
        assert_ne!(a, signed_message("POST", "/api/v1/jobz", d, 1, b"{}"));
        assert_ne!(a, signed_message("POST", "/api/v1/jobs", d, 1, b"[]"));
        assert_ne!(a, signed_message("POST", "/api/v1/jobs", e, 1, b"{}"));
        assert_ne!(a, signed_message("GET", "/api/v1/jobs", d, 1, b"{}"));
    }
}

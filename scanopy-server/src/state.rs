//! What every request handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use scanopy_core::protocol::ProgressSnapshot;
use scanopy_store::RunStatus;
use scanopy_store::prelude::*;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::metrics::Metrics;

/// Something to tell live listeners (the UI's event stream, webhooks).
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    /// The event's kind (`device_new`, …, `scan_done`, `scan_progress`).
    pub kind: String,
    /// The event as JSON.
    pub data: serde_json::Value,
}

/// What a `scan_queued` or `scan_progress` live event says: the run, with its new status or
/// its progress when either changed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScanUpdate {
    /// The scan run.
    pub scan_run: Uuid,
    /// Its new status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub status: Option<RunStatus>,
    /// Its progress as last reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::schema::ProgressSnapshot>)]
    pub progress: Option<ProgressSnapshot>,
}

impl ScanUpdate {
    /// The run, and nothing more (`scan_queued`).
    pub fn new(scan_run: Uuid) -> Self {
        ScanUpdate {
            scan_run,
            status: None,
            progress: None,
        }
    }

    /// The run's new status.
    pub fn status(scan_run: Uuid, status: RunStatus) -> Self {
        ScanUpdate {
            status: Some(status),
            ..Self::new(scan_run)
        }
    }

    /// The run's progress.
    pub fn progress(scan_run: Uuid, progress: ProgressSnapshot) -> Self {
        ScanUpdate {
            progress: Some(progress),
            ..Self::new(scan_run)
        }
    }
}

/// The server's state, cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What the local daemon told the server about itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocalDaemonInfo {
    /// The local daemon's id in the store, set once it registered (the `Default` has none).
    pub id: Option<Uuid>,
    /// It may open raw sockets.
    pub raw_sockets: bool,
    /// A Docker engine answers.
    pub docker: bool,
    /// The subnets it documents.
    pub subnets: Vec<ipnet::IpNet>,
    /// The interfaces it listens on passively (empty: it does not).
    pub listening: Vec<String>,
    /// What it does instead of what it cannot.
    pub warnings: Vec<String>,
}

/// The shared parts.
pub struct Inner {
    /// The inventory's memory.
    pub store: Arc<dyn Store>,
    /// Live events for the UI and webhooks.
    pub live: broadcast::Sender<LiveEvent>,
    /// Sign-in limits and the password-check semaphore.
    pub sign_in: crate::signin::SignIn,
    /// The server's Ed25519 key (PKCS#8), which signs calls to push daemons.
    pub signing_key: Vec<u8>,
    /// Cookies carry `Secure` (the server speaks HTTPS).
    pub secure_cookies: bool,
    /// The local daemon, when there is one.
    pub local: Mutex<Option<LocalDaemonInfo>>,
    /// Progress of running scans as last reported, by run id (also stored).
    pub progress: Mutex<HashMap<Uuid, ProgressSnapshot>>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// When the server started.
    pub started: Instant,
    /// Wakes the job dispatchers (a scan was queued).
    pub kick: tokio::sync::Notify,
    /// Cancellation of jobs the local daemon runs, by run id.
    pub local_jobs: Mutex<HashMap<Uuid, tokio_util::sync::CancellationToken>>,
    /// Answers of the busiest read routes, until the next write.
    pub cache: crate::cache::ResponseCache,
    /// The most one scan run may take (`--run-max-devices`, `--run-max-observations`).
    pub run_limits: scanopy_store::RunLimits,
    /// Signs and sends the calls to push daemons (none when `signing_key` is not a key).
    pub push: Option<Arc<scanopy_daemon::push::PushClient>>,
    /// This server's instance id (kept in its data directory): its local daemon's record and
    /// its webhook claims are its own, on a database several servers share.
    pub instance: String,
    /// When each daemon's recent reaction scans were queued (a new device a listener heard is
    /// scanned; [`crate::jobs::REACTIONS`] at most per daemon in
    /// [`crate::jobs::REACTION_WINDOW`]).
    pub reactions: Mutex<HashMap<Uuid, Vec<Instant>>>,
    /// Seals and opens the secrets the server keeps (SNMP credentials).
    pub secrets: Arc<crate::secrets::SecretBox>,
    /// The SMTP relay of e-mail alerts, when there is one.
    pub smtp: Option<crate::alerts::Smtp>,
}

/// What an [`AppState`] is built with: all of it set once, at construction.
pub struct StateConfig {
    /// The server's Ed25519 key (PKCS#8), which signs calls to push daemons.
    pub signing_key: Vec<u8>,
    /// Cookies carry `Secure` (the server speaks HTTPS).
    pub secure_cookies: bool,
    /// Sign-in limits and trusted proxies.
    pub sign_in: crate::signin::SignInConfig,
    /// This server's instance id (see [`Inner::instance`]).
    pub instance: String,
    /// The caps of a scan run.
    pub run_limits: scanopy_store::RunLimits,
    /// What seals the secrets the server keeps (SNMP credentials); a random one kept nowhere
    /// by default (a server with a data directory loads its `secret-key`).
    pub secrets: Option<Arc<crate::secrets::SecretBox>>,
    /// The SMTP relay of e-mail alerts (`--smtp-url`); none by default.
    pub smtp: Option<crate::alerts::Smtp>,
}

impl StateConfig {
    /// Plain HTTP, default sign-in limits and run caps, and a fresh random instance id (a
    /// server that keeps its id across restarts sets [`StateConfig::instance`]).
    pub fn new(signing_key: Vec<u8>) -> Self {
        StateConfig {
            signing_key,
            secure_cookies: false,
            sign_in: Default::default(),
            instance: Uuid::new_v4().to_string(),
            run_limits: scanopy_store::RunLimits::default(),
            secrets: None,
            smtp: None,
        }
    }
}

impl AppState {
    /// A state over `store`, with the default sign-in settings (no trusted proxy).
    pub fn new(store: Arc<dyn Store>, signing_key: Vec<u8>, secure_cookies: bool) -> Self {
        Self::with_sign_in(store, signing_key, secure_cookies, Default::default())
    }

    /// A state over `store` with these sign-in settings.
    pub fn with_sign_in(
        store: Arc<dyn Store>,
        signing_key: Vec<u8>,
        secure_cookies: bool,
        sign_in: crate::signin::SignInConfig,
    ) -> Self {
        Self::build(
            store,
            StateConfig {
                secure_cookies,
                sign_in,
                ..StateConfig::new(signing_key)
            },
        )
    }

    /// A state over `store` built with `config`.
    pub fn build(store: Arc<dyn Store>, config: StateConfig) -> Self {
        let (live, _) = broadcast::channel(1024);
        let push = scanopy_daemon::push::PushClient::new(&config.signing_key)
            .ok()
            .map(Arc::new);
        AppState(Arc::new(Inner {
            store,
            live,
            sign_in: crate::signin::SignIn::new(config.sign_in),
            signing_key: config.signing_key,
            secure_cookies: config.secure_cookies,
            local: Mutex::new(None),
            progress: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
            started: Instant::now(),
            kick: tokio::sync::Notify::new(),
            local_jobs: Mutex::new(HashMap::new()),
            cache: Default::default(),
            run_limits: config.run_limits,
            push,
            instance: config.instance,
            reactions: Mutex::new(HashMap::new()),
            secrets: config
                .secrets
                .unwrap_or_else(|| Arc::new(crate::secrets::SecretBox::ephemeral())),
            smtp: config.smtp,
        }))
    }

    /// Sends a live event (nobody listening is fine).
    pub fn tell(&self, kind: &str, data: impl Serialize) {
        let data = match serde_json::to_value(data) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(kind, error = %e, "a live event could not be written as JSON");
                return;
            }
        };
        let _ = self.live.send(LiveEvent {
            kind: kind.to_owned(),
            data,
        });
    }
}

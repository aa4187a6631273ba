//! What every request handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use scanopy_core::protocol::ProgressSnapshot;
use scanopy_store::Store;
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
    /// Its id.
    pub id: Option<Uuid>,
    /// It may open raw sockets.
    pub raw_sockets: bool,
    /// A Docker engine answers.
    pub docker: bool,
    /// The subnets it documents.
    pub subnets: Vec<ipnet::IpNet>,
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
    pub run_limits: Mutex<scanopy_store::RunLimits>,
    /// Signs and sends the calls to push daemons (none when `signing_key` is not a key).
    pub push: Option<Arc<scanopy_daemon::push::PushClient>>,
    /// This server's instance id (kept in its data directory): its local daemon's record and
    /// its webhook claims are its own, on a database several servers share.
    pub instance: String,
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
        let (live, _) = broadcast::channel(1024);
        let push = scanopy_daemon::push::PushClient::new(&signing_key)
            .ok()
            .map(Arc::new);
        AppState(Arc::new(Inner {
            store,
            live,
            sign_in: crate::signin::SignIn::new(sign_in),
            signing_key,
            secure_cookies,
            local: Mutex::new(None),
            progress: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
            started: Instant::now(),
            kick: tokio::sync::Notify::new(),
            local_jobs: Mutex::new(HashMap::new()),
            cache: Default::default(),
            run_limits: Mutex::new(scanopy_store::RunLimits::default()),
            push,
            instance: Uuid::new_v4().to_string(),
        }))
    }

    /// The same state with this server's instance id (see [`Inner::instance`]); call it before
    /// cloning the state.
    pub fn with_instance(self, instance: String) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.instance = instance;
                AppState(Arc::new(inner))
            }
            Err(shared) => AppState(shared),
        }
    }

    /// The caps of a scan run.
    pub fn run_limits(&self) -> scanopy_store::RunLimits {
        *self.run_limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends a live event (nobody listening is fine).
    pub fn tell(&self, kind: &str, data: serde_json::Value) {
        let _ = self.live.send(LiveEvent {
            kind: kind.to_owned(),
            data,
        });
    }
}

//! The `Scanner` trait: the extension point every scanner implements.
//!
//! A scanner is either a **discovery** scanner (it sweeps the scan's targets and reports the
//! hosts it finds: ARP, TCP ping, Docker) or a **per-host** scanner (it is handed one host the
//! moment a discovery scanner finds it: ports, services, names). It reports what it sees as
//! [`Observation`]s through its [`ScanContext`], as it sees them, and stops soon after the context
//! is cancelled. It sends nothing without first taking a [`ScanContext::probe`] permit, so one
//! rate limit and one concurrency limit hold for the whole scan.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ScanConfig;
use crate::observation::{Fact, Observation};
use crate::protocol::Capabilities;
use crate::targets::TargetSet;

/// Whether a scanner sweeps targets or examines one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScannerKind {
    /// Finds hosts among the scan's targets.
    Discovery,
    /// Examines one host that discovery found.
    PerHost,
}

/// What a scanner needs from the machine it runs on, so a caller can check before running it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    /// Raw packet sockets (CAP_NET_RAW).
    pub raw_sockets: bool,
    /// A reachable Docker engine.
    pub docker: bool,
}

impl Needs {
    /// What is needed but missing on a machine that offers `caps` (what a daemon reports of
    /// itself), in words, empty when all is there.
    pub fn unmet(&self, caps: &Capabilities) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.raw_sockets && !caps.raw_sockets {
            out.push("raw sockets (CAP_NET_RAW)");
        }
        if self.docker && !caps.docker {
            out.push("a reachable Docker engine");
        }
        out
    }
}

/// What a scanner is asked to cover in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Discovery: these targets.
    Targets(&'a TargetSet),
    /// Per-host: this host.
    Host(IpAddr),
}

/// Why a scanner stopped early. A failing scanner does not fail the scan: the pipeline reports
/// the error as a warning and the other scanners go on.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Something the scanner needs is missing (a capability, a socket).
    #[error("failed to start: {0}")]
    Unavailable(String),
    /// The scanner's configuration is unusable.
    #[error("failed to configure: {0}")]
    Config(String),
    /// An I/O error.
    #[error("failed to {context}: {source}")]
    Io {
        /// What it was doing.
        context: String,
        /// The I/O error that stopped it.
        #[source]
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A scanner: few required methods, the rest defaulted.
///
/// Implementations must be cheap to share (`Send + Sync`; the pipeline calls [`Scanner::run`]
/// concurrently for many hosts) and must honour cancellation: return soon after
/// [`ScanContext::is_cancelled`] turns true.
#[async_trait]
pub trait Scanner: Send + Sync {
    /// A short, stable name (`arp`, `tcp`, `docker`), used in `--scanners` and in observations.
    fn name(&self) -> &str;

    /// Discovery or per-host.
    fn kind(&self) -> ScannerKind;

    /// What it needs from the machine. Defaults to nothing special.
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// Runs over `scope`, reporting through `ctx` as results arrive.
    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError>;
}

/// A boxed scanner is a scanner, so [`crate::Pipeline::with`] takes either.
#[async_trait]
impl<S: Scanner + ?Sized> Scanner for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn kind(&self) -> ScannerKind {
        (**self).kind()
    }

    fn needs(&self) -> Needs {
        (**self).needs()
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        (**self).run(ctx, scope).await
    }
}

impl fmt::Debug for dyn Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scanner({})", self.name())
    }
}

/// Counters a caller can watch while the scan runs.
#[derive(Debug, Default)]
pub struct Progress {
    hosts_total: AtomicU64,
    hosts_found: AtomicU64,
    hosts_done: AtomicU64,
    probes_sent: AtomicU64,
    ports_probed: AtomicU64,
    observations: AtomicU64,
}

/// A snapshot of [`Progress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressSnapshot {
    /// Addresses in the targets.
    pub hosts_total: u64,
    /// Hosts found alive so far.
    pub hosts_found: u64,
    /// Hosts whose per-host scans have finished.
    pub hosts_done: u64,
    /// Probes sent (each took a rate-limit permit).
    pub probes_sent: u64,
    /// Ports probed.
    pub ports_probed: u64,
    /// Observations reported.
    pub observations: u64,
}

impl Progress {
    /// The current counts.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProgressSnapshot {
            hosts_total: l(&self.hosts_total),
            hosts_found: l(&self.hosts_found),
            hosts_done: l(&self.hosts_done),
            probes_sent: l(&self.probes_sent),
            ports_probed: l(&self.ports_probed),
            observations: l(&self.observations),
        }
    }

    /// Counts `n` ports probed.
    pub fn add_ports_probed(&self, n: u64) {
        self.ports_probed.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_hosts_total(&self, n: u64) {
        self.hosts_total.store(n, Ordering::Relaxed);
    }
    pub(crate) fn host_found(&self) {
        self.hosts_found.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn host_done(&self) {
        self.hosts_done.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn observation(&self) {
        self.observations.fetch_add(1, Ordering::Relaxed);
    }
}

/// The politeness budget shared by every scanner of a scan: a rate limit (probes per second,
/// evenly paced) and a limit on probes in flight.
#[derive(Debug)]
pub struct Budget {
    interval: Option<Duration>,
    next: Mutex<Instant>,
    in_flight: Arc<Semaphore>,
}

impl Budget {
    /// A budget of `rate` probes per second (`None`: unpaced) and `concurrency` at once.
    pub fn new(rate: Option<u32>, concurrency: usize) -> Self {
        Budget {
            interval: rate
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs_f64(1.0 / f64::from(r))),
            next: Mutex::new(Instant::now()),
            in_flight: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn acquire(&self) -> OwnedSemaphorePermit {
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .expect("the budget's semaphore is never closed");
        if let Some(iv) = self.interval {
            let slot = {
                let mut next = self.next.lock().await;
                let now = Instant::now();
                let slot = (*next).max(now);
                *next = slot + iv;
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        permit
    }
}

/// Permission to send one probe; dropping it frees the concurrency slot.
#[derive(Debug)]
pub struct ProbePermit {
    _permit: OwnedSemaphorePermit,
}

/// The most warnings a scan keeps; later ones are only counted, so a hostile network cannot
/// flood a scan's report (the summary says how many more there were).
pub const MAX_WARNINGS: usize = 100;

/// A scan's warnings: at most [`MAX_WARNINGS`] kept, the rest counted. Scanners add to it
/// through [`ScanContext::warn`]; the pipeline hands new ones on as [`crate::ScanEvent::Warning`].
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    state: std::sync::Mutex<WarnState>,
    pub(crate) notify: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct WarnState {
    kept: Vec<String>,
    handed_on: usize,
    dropped: u64,
}

impl Warnings {
    /// Adds a warning, or counts it once [`MAX_WARNINGS`] are kept.
    pub(crate) fn push(&self, w: String) {
        let Ok(mut s) = self.state.lock() else { return };
        if s.kept.len() < MAX_WARNINGS {
            s.kept.push(w);
            drop(s);
            self.notify.notify_one();
        } else {
            s.dropped += 1;
        }
    }

    /// The warnings added since the last call.
    pub(crate) fn take_new(&self) -> Vec<String> {
        let Ok(mut s) = self.state.lock() else {
            return Vec::new();
        };
        let new = s.kept[s.handed_on..].to_vec();
        s.handed_on = s.kept.len();
        new
    }

    /// Every warning kept, then a line counting the ones that were not.
    pub(crate) fn all(&self) -> Vec<String> {
        let Ok(s) = self.state.lock() else {
            return Vec::new();
        };
        let mut out = s.kept.clone();
        if s.dropped > 0 {
            out.push(dropped_line(s.dropped));
        }
        out
    }

    /// How many warnings were counted but not kept.
    pub(crate) fn dropped(&self) -> u64 {
        self.state.lock().map(|s| s.dropped).unwrap_or(0)
    }
}

/// The line that ends a report whose warnings were cut at [`MAX_WARNINGS`].
pub(crate) fn dropped_line(n: u64) -> String {
    format!("{n} more warning(s) not shown (a scan keeps at most {MAX_WARNINGS})")
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<ScanConfig>,
    pub(crate) targets: Arc<TargetSet>,
    pub(crate) cancel: CancellationToken,
    pub(crate) budget: Budget,
    pub(crate) progress: Arc<Progress>,
    pub(crate) tx: mpsc::Sender<Observation>,
    /// Round-trip times discovery measured, by address, in microseconds.
    pub(crate) rtt_hints: std::sync::Mutex<std::collections::HashMap<IpAddr, u64>>,
    /// Warnings raised by the scanners and the pipeline, bounded.
    pub(crate) warnings: Warnings,
}

/// What a scanner gets to do its work: the scan's configuration and targets, the shared
/// budget, cancellation, progress, and the sink for observations.
#[derive(Debug, Clone)]
pub struct ScanContext {
    shared: Arc<Shared>,
    scanner: Arc<str>,
}

impl ScanContext {
    pub(crate) fn new(shared: Arc<Shared>, scanner: &str) -> Self {
        ScanContext {
            shared,
            scanner: scanner.into(),
        }
    }

    /// A context outside any pipeline, for tests and for running one scanner on its own:
    /// observations go to the returned receiver.
    pub fn standalone(
        scanner: &str,
        config: ScanConfig,
        targets: TargetSet,
        cancel: CancellationToken,
    ) -> (ScanContext, mpsc::Receiver<Observation>) {
        let (tx, rx) = mpsc::channel(1024);
        let budget = Budget::new(config.rate, config.concurrency);
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            targets: Arc::new(targets),
            cancel,
            budget,
            progress: Arc::new(Progress::default()),
            tx,
            rtt_hints: Default::default(),
            warnings: Warnings::default(),
        });
        (ScanContext::new(shared, scanner), rx)
    }

    /// The scan's configuration.
    pub fn config(&self) -> &ScanConfig {
        &self.shared.config
    }

    /// All targets of the scan (a per-host scanner may use it to stay within them).
    pub fn targets(&self) -> &TargetSet {
        &self.shared.targets
    }

    /// The scanner's name, as stamped on its observations.
    pub fn scanner(&self) -> &str {
        &self.scanner
    }

    /// Whether the scan was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Completes when the scan is cancelled; use it in `select!` beside a slow wait.
    pub async fn cancelled(&self) {
        self.shared.cancel.cancelled().await
    }

    /// The cancellation token (to hand to spawned work).
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.shared.cancel
    }

    /// Waits for permission to send one probe under the shared rate and concurrency limits.
    /// `None` when the scan is cancelled: send nothing more.
    pub async fn probe(&self) -> Option<ProbePermit> {
        if self.is_cancelled() {
            return None;
        }
        tokio::select! {
            biased;
            _ = self.shared.cancel.cancelled() => None,
            p = self.shared.budget.acquire() => {
                self.shared.progress.probes_sent.fetch_add(1, Ordering::Relaxed);
                Some(ProbePermit { _permit: p })
            }
        }
    }

    /// The round-trip time discovery measured to `ip` (an ARP reply, a TCP answer), if any:
    /// a per-host scanner can start its timeouts from it instead of the configured default.
    pub fn rtt_hint(&self, ip: IpAddr) -> Option<Duration> {
        let hints = self.shared.rtt_hints.lock().ok()?;
        hints.get(&ip).map(|us| Duration::from_micros(*us))
    }

    /// Reports something the user should know, such as a host or port the scanner gave up on
    /// (say which host, which port, and why). It reaches the scan's warnings (and
    /// [`crate::ScanEvent::Warning`]), prefixed with the scanner's name. A scan keeps at most
    /// [`MAX_WARNINGS`]; later ones are counted, and the summary says how many.
    pub fn warn(&self, warning: impl std::fmt::Display) {
        self.shared
            .warnings
            .push(format!("scanner {}: {warning}", self.scanner));
    }

    /// The warnings kept so far (with a line counting those that were not), for a scanner run
    /// on its own through [`ScanContext::standalone`].
    pub fn warnings(&self) -> Vec<String> {
        self.shared.warnings.all()
    }

    /// The scan's progress counters.
    pub fn progress(&self) -> &Progress {
        &self.shared.progress
    }

    /// Reports a fact about `ip`, stamped with this scanner's name and the current time.
    pub async fn observe(&self, ip: IpAddr, fact: Fact) {
        self.emit(Observation::now(ip, &*self.scanner, fact)).await;
    }

    /// Reports an observation as it is. If the scan's consumer has gone away the observation
    /// is dropped: nobody is left to read it.
    pub async fn emit(&self, o: Observation) {
        self.shared.progress.observation();
        let _ = self.shared.tx.send(o).await;
    }
}

//! `scanopy-daemon run`: the service attached to a server.
//!
//! It registers with the server, sends a heartbeat at least every 30 s, and gets work by
//! polling (pull, the default) or by listening for the server's signed calls (push, see
//! [`crate::push`]). Results go through the [`Spool`]: a job's batches and its end are written
//! to disk first, and one sender task delivers them in order, deleting each once the server
//! acknowledged it. An unreachable server (network errors, 5xx) is retried with exponential
//! backoff and jitter, capped at `retry_max`; a refused key (401/403) stops the daemon with
//! status 1 and a message that never contains the key (the spool stays on disk for the next
//! start): a wrong key does not fix itself, and a supervisor restarting on failure retries
//! slowly anyway. The running job is noted in `{data_dir}/job.json`: a daemon killed in the
//! middle of a job runs it again at its next start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use scanopy_core::protocol::{DaemonMode, Job, RegisterRequest, RegisterResponse};
use tokio_util::sync::CancellationToken;

use crate::client::{CallError, ServerClient};
use crate::service;
use crate::spool::{Entry, Spool};
use crate::spool_sink::SpoolSink;

/// The heartbeat is sent at least this often.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// Settings of the service, from flags, `SCANOPY_*` variables and the config file.
#[derive(Clone)]
pub struct AgentConfig {
    /// The server's base URL.
    pub server: String,
    /// The daemon key (never logged).
    pub key: String,
    /// The name shown on the server.
    pub name: String,
    /// Pull or push.
    pub mode: DaemonMode,
    /// Where a push daemon listens.
    pub listen: SocketAddr,
    /// The URL the server should call in push mode.
    pub advertise_url: Option<String>,
    /// The server's Ed25519 public key (base64), push mode.
    pub server_public_key: Option<String>,
    /// Where the spool lives (`{data_dir}/spool`).
    pub data_dir: PathBuf,
    /// The spool's bound in bytes.
    pub spool_max_bytes: u64,
    /// A CA certificate (PEM) to trust for the server.
    pub ca_cert: Option<PathBuf>,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// Listen passively ([`crate::passive`]) where raw sockets are allowed.
    pub passive: bool,
    /// SNMP communities for the `snmp` scanner (secrets: never logged).
    pub snmp: scanopy_scanners::snmp::Credentials,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field("key", &"<redacted>")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("passive", &self.passive)
            .finish_non_exhaustive()
    }
}

/// Exponential backoff with full jitter: 250 ms doubling up to a cap.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(max: Duration) -> Self {
        Backoff {
            next: Duration::from_millis(250),
            max,
        }
    }

    /// The wait before the next try: a random time in [next/2, next], then next doubles.
    pub(crate) fn wait(&mut self) -> Duration {
        use rand::Rng;
        let top = self.next.min(self.max);
        self.next = (self.next * 2).min(self.max);
        let ms = top.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
    }

    pub(crate) fn reset(&mut self) {
        self.next = Duration::from_millis(250);
    }
}

/// Why the service stopped on its own.
#[derive(Debug, Clone)]
pub(crate) struct Fatal {
    token: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
}

impl Fatal {
    fn new() -> Self {
        Fatal {
            token: CancellationToken::new(),
            reason: Arc::default(),
        }
    }

    pub(crate) fn raise(&self, why: String) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(why);
        }
        self.token.cancel();
    }

    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Delivers the spool in order, forever: each entry is removed once the server took it.
async fn sender(sink: Arc<SpoolSink>, fatal: Fatal, retry_max: Duration, stop: CancellationToken) {
    let mut backoff = Backoff::new(retry_max);
    let mut failures = 0u32;
    loop {
        let Some((seq, entry)) = sink.spool.oldest() else {
            tokio::select! {
                _ = sink.spool.appended() => continue,
                _ = stop.cancelled() => return,
            }
        };
        let job = entry.job();
        let r = match &entry {
            Entry::Results { job, batch } => sink.client.results(*job, batch).await,
            Entry::Finish { job, finish } => sink.client.finish(*job, finish).await,
        };
        match r {
            Ok(ack) => {
                if failures > 0 {
                    tracing::info!(
                        waiting = sink.spool.len(),
                        "the server is reachable again; sending the spool"
                    );
                }
                failures = 0;
                backoff.reset();
                if ack.cancel {
                    sink.mark_cancelled(job);
                }
                sink.spool.remove(seq);
                if let Entry::Finish { finish, .. } = &entry {
                    tracing::info!(job = %job, outcome = ?finish.outcome, "the server has the end of the job");
                }
            }
            Err(CallError::KeyRefused(status)) => {
                fatal.raise(format!(
                    "the server refused the key ({status}); {} spooled entries kept in {}",
                    sink.spool.len(),
                    sink.spool.dir().display()
                ));
                return;
            }
            Err(CallError::Rejected { status, message }) => {
                // Never taken as it is: keep it on disk for a person, go on with the rest.
                tracing::error!(
                    seq, job = %job, %status,
                    "the server rejected a spooled entry; moving it aside as rejected-{seq:020}.json: {message}"
                );
                sink.spool.set_aside(seq, "rejected");
                if status == reqwest::StatusCode::CONFLICT {
                    // The job is not this daemon's any more, or has ended: stop scanning it.
                    sink.mark_cancelled(job);
                }
            }
            Err(CallError::Retry(e)) => {
                failures += 1;
                let wait = backoff.wait();
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(
                        waiting = sink.spool.len(),
                        bytes = sink.spool.bytes(),
                        attempt = failures,
                        "{e}; results stay in the spool, retrying in {:.1} s",
                        wait.as_secs_f64()
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

/// Registers (retrying until the server answers); a refused key is fatal.
async fn register(
    client: &ServerClient,
    req: &RegisterRequest,
    retry_max: Duration,
    stop: &CancellationToken,
) -> Result<Option<RegisterResponse>, String> {
    let mut backoff = Backoff::new(retry_max);
    let mut attempt = 0u32;
    loop {
        match client.register(req).await {
            Ok(r) => return Ok(Some(r)),
            Err(CallError::KeyRefused(status)) => {
                return Err(format!("the server refused the key ({status})"));
            }
            Err(e) => {
                attempt += 1;
                let wait = backoff.wait();
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::warn!(
                        attempt,
                        "failed to register: {e}; retrying in {:.1} s",
                        wait.as_secs_f64()
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return Ok(None),
                }
            }
        }
    }
}

/// The advertised URL of a push daemon: as configured, else `http://<first attached IPv4>:port`.
fn advertise_url(cfg: &AgentConfig) -> String {
    if let Some(u) = &cfg.advertise_url {
        return u.clone();
    }
    let ip = if cfg.listen.ip().is_unspecified() {
        crate::system::interfaces()
            .into_iter()
            .filter(|i| i.up && !i.loopback)
            .flat_map(|i| i.addrs)
            .map(|a| a.addr())
            .find(|a| a.is_ipv4())
            .unwrap_or(cfg.listen.ip())
    } else {
        cfg.listen.ip()
    };
    format!("http://{}", SocketAddr::new(ip, cfg.listen.port()))
}

/// Runs the service until a signal (SIGINT, SIGTERM) or a fatal error. Drive it on a
/// current-thread runtime (scans run on it).
pub async fn run(cfg: AgentConfig) -> anyhow::Result<()> {
    let client = ServerClient::new(&cfg.server, &cfg.key, cfg.ca_cert.as_deref())?;
    let spool = open_data_dir(&cfg)?;
    // Checked now; the verifier is made once the server has told this daemon its id (calls
    // signed for another daemon id are refused).
    let public_key = match cfg.mode {
        DaemonMode::Push => {
            let pk = cfg.server_public_key.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "push mode needs --server-public-key (the server's Ed25519 public key, base64)"
                )
            })?;
            crate::push::parse_public_key(pk)?;
            Some(pk.to_owned())
        }
        DaemonMode::Pull => None,
    };
    let stop = CancellationToken::new();
    let fatal = Fatal::new();
    let mut sink = SpoolSink::new(
        Arc::clone(&spool),
        client.clone(),
        cfg.data_dir.join("job.json"),
    );
    sink.opts.snmp = cfg.snmp.clone();
    let sink = Arc::new(sink);
    // The sender runs from the start: what is left from before goes out first, alongside new
    // work.
    let sender_stop = CancellationToken::new();
    let sender_task = tokio::spawn(sender(
        Arc::clone(&sink),
        fatal.clone(),
        cfg.retry_max,
        sender_stop.clone(),
    ));
    spawn_stoppers(&stop, &fatal);

    // The listener opens before the daemon introduces itself, so the server is told at once
    // where it listens.
    let ears = if cfg.passive {
        match crate::passive::Ears::open() {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(
                    "not listening passively: {e} (needs CAP_NET_RAW; scans still run;                      --no-passive silences this)"
                );
                None
            }
        }
    } else {
        None
    };
    let hello = hello(&cfg);
    let reg = match register(&client, &hello, cfg.retry_max, &stop).await {
        Ok(Some(r)) => Some(r),
        Ok(None) => None,
        Err(why) => {
            fatal.raise(why);
            None
        }
    };
    if let Some(reg) = reg.filter(|_| !stop.is_cancelled()) {
        tracing::info!(daemon = %reg.daemon_id, network = %reg.network_id, "registered");
        spawn_heartbeat(client.clone(), hello, &stop, &fatal, cfg.retry_max);
        let passive = ears.map(|ears| {
            let sink = Arc::clone(&sink);
            let (stop, retry_max) = (stop.clone(), cfg.retry_max);
            tokio::spawn(async move {
                crate::passive::run(&*sink, ears, Default::default(), retry_max, stop).await;
            })
        });
        match cfg.mode {
            DaemonMode::Pull => {
                poll_loop(
                    &client,
                    Arc::clone(&sink),
                    Duration::from_millis(reg.poll_interval_ms.max(100)),
                    cfg.retry_max,
                    &stop,
                    &fatal,
                )
                .await;
            }
            DaemonMode::Push => {
                let pk = public_key.as_deref().expect("checked above");
                let verifier = crate::push::Verifier::new(pk, reg.daemon_id)?;
                crate::push::serve(cfg.listen, verifier, Arc::clone(&sink), stop.clone()).await?;
            }
        }
        // The listener ends its run into the spool before the spool is drained.
        if let Some(p) = passive {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
        }
    }

    // Give the sender a few seconds to empty the spool; what is left is sent at next start.
    if fatal.reason().is_none() && !spool.is_empty() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !spool.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    sender_stop.cancel();
    let _ = sender_task.await;
    if !spool.is_empty() {
        tracing::warn!(
            entries = spool.len(),
            "results not yet delivered stay in {} and are sent at the next start",
            spool.dir().display()
        );
    }
    match fatal.reason() {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// Makes the data directory private (0700, what it holds 0600, tightened if found looser) and
/// opens its spool.
fn open_data_dir(cfg: &AgentConfig) -> anyhow::Result<Arc<Spool>> {
    crate::files::private_dir(&cfg.data_dir).with_context(|| {
        format!(
            "failed to make the data directory {} private",
            cfg.data_dir.display()
        )
    })?;
    crate::files::tighten(&cfg.data_dir.join("job.json"), crate::files::FILE_MODE)?;
    let spool_dir = cfg.data_dir.join("spool");
    let spool = Spool::open(&spool_dir, cfg.spool_max_bytes)
        .with_context(|| format!("failed to open the spool in {}", spool_dir.display()))?;
    if !spool.is_empty() {
        tracing::info!(
            entries = spool.len(),
            bytes = spool.bytes(),
            "results left in the spool from before; sending them first"
        );
    }
    Ok(Arc::new(spool))
}

/// A signal, or a fatal error, stops the service.
fn spawn_stoppers(stop: &CancellationToken, fatal: &Fatal) {
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing the running job and sending the spool");
        on_signal.cancel();
    });
    let on_fatal = stop.clone();
    let fatal = fatal.token.clone();
    tokio::spawn(async move {
        fatal.cancelled().await;
        on_fatal.cancel();
    });
}

/// What the daemon tells the server of itself when it registers.
fn hello(cfg: &AgentConfig) -> RegisterRequest {
    let mut capabilities = service::capabilities();
    capabilities.mode = cfg.mode;
    if cfg.mode == DaemonMode::Push {
        capabilities.url = Some(advertise_url(cfg));
    }
    let hello = RegisterRequest {
        name: cfg.name.clone(),
        capabilities,
    };
    tracing::info!(
        server = %cfg.server,
        name = %cfg.name,
        mode = ?cfg.mode,
        raw_sockets = hello.capabilities.raw_sockets,
        docker = hello.capabilities.docker,
        subnets = ?hello.capabilities.subnets,
        "registering"
    );
    hello
}

/// Heartbeats with fresh capabilities every [`HEARTBEAT_INTERVAL`] until `stop`; a refused key
/// is fatal, other failures back off.
fn spawn_heartbeat(
    client: ServerClient,
    hello: RegisterRequest,
    stop: &CancellationToken,
    fatal: &Fatal,
    retry_max: Duration,
) {
    let stop = stop.clone();
    let fatal = fatal.clone();
    tokio::spawn(async move {
        let mut backoff = Backoff::new(retry_max);
        let mut wait = HEARTBEAT_INTERVAL;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => return,
            }
            let mut hello = hello.clone();
            let mode = hello.capabilities.mode;
            let url = hello.capabilities.url.take();
            hello.capabilities = service::capabilities();
            hello.capabilities.mode = mode;
            hello.capabilities.url = url;
            match client.heartbeat(&hello).await {
                Ok(_) => {
                    backoff.reset();
                    wait = HEARTBEAT_INTERVAL;
                }
                Err(CallError::KeyRefused(status)) => {
                    fatal.raise(format!("the server refused the key ({status})"));
                    return;
                }
                Err(e) => {
                    tracing::debug!("heartbeat not delivered: {e}");
                    wait = backoff.wait().min(HEARTBEAT_INTERVAL);
                }
            }
        }
    });
}

async fn poll_loop(
    client: &ServerClient,
    sink: Arc<SpoolSink>,
    interval: Duration,
    retry_max: Duration,
    stop: &CancellationToken,
    fatal: &Fatal,
) {
    let mut backoff = Backoff::new(retry_max);
    let mut failures = 0u32;
    let mut wait = Duration::ZERO;
    if let Some(job) = sink.interrupted() {
        tracing::warn!(job = %job.id, "the daemon stopped in the middle of this job; running it again");
        run_one(&job, &sink, stop).await;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
        match client.poll().await {
            Ok(p) => {
                if failures > 0 {
                    tracing::info!("the server answers polls again");
                }
                failures = 0;
                backoff.reset();
                wait = interval;
                if let Some(job) = p.job {
                    run_one(&job, &sink, stop).await;
                    wait = Duration::ZERO;
                }
            }
            Err(CallError::KeyRefused(status)) => {
                fatal.raise(format!("the server refused the key ({status})"));
                return;
            }
            Err(e) => {
                failures += 1;
                wait = backoff.wait().max(interval.min(retry_max));
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(
                        attempt = failures,
                        "failed to poll: {e}; retrying in {:.1} s",
                        wait.as_secs_f64()
                    );
                }
            }
        }
    }
}

pub(crate) async fn run_one(job: &Job, sink: &Arc<SpoolSink>, stop: &CancellationToken) {
    tracing::info!(job = %job.id, "job received");
    sink.run(job, stop.child_token()).await;
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(30));
        let waits: Vec<Duration> = (0..12).map(|_| b.wait()).collect();
        assert!(waits[0] <= Duration::from_millis(250));
        assert!(waits[0] >= Duration::from_millis(125));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(30)));
        assert!(waits[11] >= Duration::from_secs(15), "{waits:?}");
        b.reset();
        assert!(b.wait() <= Duration::from_millis(250));
    }
}

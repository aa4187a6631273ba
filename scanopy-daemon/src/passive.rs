//! Listening: the passive listener ([`scanopy_scanners::listen`]) in the service and in the
//! server's local daemon.
//!
//! With CAP_NET_RAW, the service opens one filtered packet socket for every interface of its
//! namespace and hears the ARP and DHCP that devices send and the LLDP and CDP that switches and
//! routers send on its links, sending nothing. What it hears becomes observations (scanners
//! `passive-arp`, `dhcp`, `lldp`, `cdp`) of a *listen run*
//! ([`scanopy_core::protocol::LISTEN_SCANNER`]) that the server opens for it
//! ([`ListenSink::open_listen`], `POST /daemon/listen`), and goes the way of any job's results:
//! batches of at most [`MAX_BATCH`], sent within [`BATCH_EVERY`] of being heard, through the
//! same spool and sender as scan results. The run is renewed every [`RENEW_EVERY`] and replaced
//! by a fresh one after [`ROTATE_AFTER`] or [`ROTATE_OBSERVATIONS`] (a run has caps); ending a
//! listen run marks no device missed.
//!
//! Bounded whatever the network sends: the kernel filter, the queue between the socket's thread
//! and this task, and [`scanopy_scanners::listen::PassiveLimits`]; a minute with a flood (MACs
//! not followed, packets over a MAC's budget, frames the queue could not take) is one warning
//! with the counts.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use scanopy_core::Observation;
use scanopy_core::protocol::{
    FinishRequest, Job, JobOutcome, ListenRequest, ProgressSnapshot, ResultsBatch,
};
use scanopy_scanners::listen::{self, Heard, LISTEN_QUEUE, Listener, Passive, PassiveLimits};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::service::{JobSink, SinkError};

/// What is heard is sent at least this often.
pub const BATCH_EVERY: Duration = Duration::from_millis(100);
/// A batch holds at most this many observations.
pub const MAX_BATCH: usize = 1000;
/// The listen run's lease is renewed this often (the server's lease is 90 s).
pub const RENEW_EVERY: Duration = Duration::from_secs(30);
/// A listen run is replaced by a fresh one after this long.
pub const ROTATE_AFTER: Duration = Duration::from_secs(3600);
/// … or after this many observations (a run takes at most 5,000,000).
pub const ROTATE_OBSERVATIONS: u64 = 200_000;
/// A flood is summarised at once, then at most this often.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// How often the flood counters are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Where a listener's runs come from, on top of where any job's findings go.
#[async_trait::async_trait]
pub trait ListenSink: JobSink {
    /// Opens a listen run for this daemon.
    async fn open_listen(&self, req: &ListenRequest) -> Result<Job, SinkError>;
}

/// The interfaces being listened on, for the capabilities the daemon announces.
static LISTENING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The interfaces this process listens on now (empty when it does not).
pub fn listening() -> Vec<String> {
    LISTENING.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn set_listening(names: Vec<String>) {
    *LISTENING.lock().unwrap_or_else(|p| p.into_inner()) = names;
}

/// The interfaces a listener hears: those up, not loopback.
pub fn interfaces() -> Vec<String> {
    crate::system::interfaces()
        .into_iter()
        .filter(|i| i.up && !i.loopback)
        .map(|i| i.name)
        .collect()
}

/// An open listener and what it hears.
#[derive(Debug)]
pub struct Ears {
    listener: Listener,
    rx: mpsc::Receiver<(Heard, Instant)>,
    interfaces: Vec<String>,
}

impl Ears {
    /// Opens the filtered packet socket. Fails without CAP_NET_RAW (the error says so).
    pub fn open() -> std::io::Result<Ears> {
        let (tx, rx) = mpsc::channel(LISTEN_QUEUE);
        let listener = listen::listen(tx)?;
        let interfaces = interfaces();
        set_listening(interfaces.clone());
        Ok(Ears {
            listener,
            rx,
            interfaces,
        })
    }

    /// The interfaces it hears.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }
}

/// Counts that grow under a flood, as last summarised.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Flood {
    untracked: u64,
    dropped: u64,
    overflow: u64,
}

/// One listen run while it lasts.
struct Session<'a> {
    sink: &'a dyn ListenSink,
    job: Uuid,
    opened: Instant,
    pending: Vec<Observation>,
    sent: u64,
    /// The server ended the run (an ack said so): open another.
    over: bool,
}

impl Session<'_> {
    async fn send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let observations = std::mem::take(&mut self.pending);
        let n = observations.len() as u64;
        let batch = ResultsBatch {
            batch_id: Uuid::new_v4(),
            observations,
        };
        match self.sink.results(self.job, batch).await {
            Ok(ack) => {
                self.sent += n;
                if ack.cancel {
                    self.over = true;
                }
            }
            // The spool is full or the disk failed: what was heard is lost (said once a batch);
            // scheduled scans still find the devices.
            Err(e) => {
                tracing::warn!(job = %self.job, observations = n, "what was heard could not be kept: {e}")
            }
        }
    }

    async fn renew(&mut self) {
        let p = ProgressSnapshot {
            observations: self.sent,
            ..ProgressSnapshot::default()
        };
        match self.sink.progress(self.job, p).await {
            Ok(ack) if ack.cancel => self.over = true,
            Ok(_) => {}
            Err(e) => tracing::debug!(job = %self.job, "the listen run was not renewed: {e}"),
        }
    }

    async fn end(mut self) {
        self.send().await;
        let f = FinishRequest {
            outcome: JobOutcome::Done,
            error: None,
            warnings: Vec::new(),
            progress: ProgressSnapshot {
                observations: self.sent,
                ..ProgressSnapshot::default()
            },
        };
        if let Err(e) = self.sink.finish(self.job, f).await {
            tracing::warn!(job = %self.job, "the end of the listen run was not kept: {e}");
        }
    }

    fn due(&self) -> bool {
        self.over || self.opened.elapsed() >= ROTATE_AFTER || self.sent >= ROTATE_OBSERVATIONS
    }
}

/// Opens a listen run, retrying with backoff until it is open or `stop`.
async fn open(
    sink: &dyn ListenSink,
    req: &ListenRequest,
    retry_max: Duration,
    stop: &CancellationToken,
) -> Option<Job> {
    let mut backoff = crate::agent::Backoff::new(retry_max);
    let mut attempt = 0u32;
    loop {
        match sink.open_listen(req).await {
            Ok(job) => return Some(job),
            Err(e) => {
                attempt += 1;
                let wait = backoff.wait();
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::warn!(
                        attempt,
                        "failed to open a listen run: {e}; retrying in {:.1} s",
                        wait.as_secs_f64()
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return None,
                }
            }
        }
    }
}

/// Listens until `stop`: opens listen runs through `sink` and reports what `ears` hear into
/// them. Ends the run it has open before returning.
pub async fn run(
    sink: &dyn ListenSink,
    mut ears: Ears,
    limits: PassiveLimits,
    retry_max: Duration,
    stop: CancellationToken,
) {
    let req = ListenRequest {
        interfaces: ears.interfaces.clone(),
    };
    tracing::info!(interfaces = ?ears.interfaces, "listening (ARP, DHCP, mDNS, LLDP, CDP); --no-passive turns it off");
    let mut passive = Passive::new(limits);
    passive.set_interfaces(listen::own_interfaces());
    let mut interfaces_read = Instant::now();
    let mut reported = Flood::default();
    let mut said: Option<Instant> = None;
    let mut summary = tokio::time::interval(LOOK_EVERY);
    summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    summary.tick().await;
    'runs: while let Some(job) = open(sink, &req, retry_max, &stop).await {
        tracing::debug!(job = %job.id, "listen run open");
        let mut s = Session {
            sink,
            job: job.id,
            opened: Instant::now(),
            pending: Vec::new(),
            sent: 0,
            over: false,
        };
        let mut flush = tokio::time::interval(BATCH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    s.end().await;
                    break 'runs;
                }
                got = ears.rx.recv() => match got {
                    Some((heard, at)) => {
                        // An interface that came up since: read them again (at most every 10 s).
                        if let Heard::Neighbour(ifindex, _) = &heard {
                            if !passive.knows_interface(*ifindex)
                                && interfaces_read.elapsed() >= Duration::from_secs(10)
                            {
                                passive.set_interfaces(listen::own_interfaces());
                                interfaces_read = Instant::now();
                            }
                        }
                        let source = listen::source(&heard);
                        let when = Utc::now()
                            - chrono::Duration::from_std(at.elapsed()).unwrap_or_default();
                        for (ip, fact) in passive.hear(&heard, at) {
                            s.pending.push(Observation {
                                ip,
                                scanner: source.to_owned(),
                                at: when,
                                fact,
                            });
                        }
                        if s.pending.len() >= MAX_BATCH {
                            s.send().await;
                        }
                    }
                    None => {
                        tracing::warn!("the listener's socket stopped; not listening any more");
                        s.end().await;
                        break 'runs;
                    }
                },
                _ = flush.tick() => s.send().await,
                _ = renew.tick() => s.renew().await,
                _ = summary.tick() => {
                    // Neighbours whose TTL ran out: this machine's link layer told again.
                    for (ip, fact) in passive.tick(Instant::now()) {
                        s.pending.push(Observation {
                            ip,
                            scanner: "lldp".to_owned(),
                            at: Utc::now(),
                            fact,
                        });
                    }
                    let now = Flood {
                        untracked: passive.untracked(),
                        dropped: passive.dropped(),
                        overflow: ears.listener.overflow(),
                    };
                    if now != reported && said.is_none_or(|t| t.elapsed() >= SUMMARY_EVERY) {
                        said = Some(Instant::now());
                        tracing::warn!(
                            untracked = now.untracked - reported.untracked,
                            over_budget = now.dropped - reported.dropped,
                            queue_full = now.overflow - reported.overflow,
                            followed = passive.tracked(),
                            "heard more than the listener follows: packets of MACs not \
                             followed (a flood of new MACs), over a MAC's budget, or beyond \
                             the queue; counted, not reported as devices"
                        );
                        reported = now;
                    }
                }
            }
            if s.due() {
                s.end().await;
                continue 'runs;
            }
        }
    }
    set_listening(Vec::new());
}

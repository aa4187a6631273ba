//! The scan pipeline: discovery scanners sweep the targets, and each host they find is handed to
//! the per-host scanners at once, while the sweep goes on. There is no phase barrier: the scan
//! takes about as long as its slowest host, not the sum of its phases.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::config::ScanConfig;
use crate::merge::Inventory;
use crate::observation::Observation;
use crate::scanner::{
    Budget, Progress, ProgressSnapshot, ScanContext, Scanner, ScannerKind, Scope, Shared, Warnings,
    dropped_line,
};
use crate::targets::TargetSet;

/// How long scanners get to stop after cancellation before their tasks are aborted.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// What the pipeline reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    /// A scanner saw something.
    Observation(Observation),
    /// A host was found alive (it is handed to the per-host scanners now).
    HostFound(IpAddr),
    /// Every per-host scanner has finished with this host: its device is complete.
    HostDone(IpAddr),
    /// Something the user should know: a scanner failed or fell back.
    Warning(String),
}

/// How a scan ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// The final counts.
    pub progress: ProgressSnapshot,
    /// Warnings raised during the scan (also sent as [`ScanEvent::Warning`]): at most
    /// [`crate::MAX_WARNINGS`], then one line counting the rest.
    pub warnings: Vec<String>,
    /// Whether the scan was cancelled before it finished.
    pub cancelled: bool,
}

/// A set of scanners that run together over targets.
#[derive(Debug, Default)]
pub struct Pipeline {
    scanners: Vec<Arc<dyn Scanner>>,
}

/// A running scan.
#[derive(Debug)]
pub struct ScanHandle {
    /// Events as they happen. Read them: the pipeline waits when this channel is full.
    pub events: mpsc::Receiver<ScanEvent>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    join: JoinHandle<ScanSummary>,
}

impl ScanHandle {
    /// The live counters.
    pub fn progress(&self) -> ProgressSnapshot {
        self.progress.snapshot()
    }

    /// Asks every scanner to stop; events already produced are still delivered.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Waits for the end, discarding events not yet read. To keep them, read
    /// [`ScanHandle::events`] until it ends, then call this.
    pub async fn finish(mut self) -> ScanSummary {
        self.events.close();
        while self.events.recv().await.is_some() {}
        match self.join.await {
            Ok(s) => s,
            Err(e) => ScanSummary {
                progress: self.progress.snapshot(),
                warnings: vec![format!("the scan stopped unexpectedly: {e}")],
                cancelled: true,
            },
        }
    }

    /// Reads every event to the end, folds the observations into an [`Inventory`] (the
    /// identity rules of [`crate::merge`]) and returns it with the summary: the shortest way
    /// from a scan to its devices.
    pub async fn inventory(mut self) -> (Inventory, ScanSummary) {
        let mut inventory = Inventory::default();
        while let Some(e) = self.events.recv().await {
            if let ScanEvent::Observation(o) = &e {
                inventory.apply(o);
            }
        }
        let summary = self.finish().await;
        (inventory, summary)
    }

    /// Reads every event to the end and returns them with the summary.
    pub async fn collect(mut self) -> (Vec<ScanEvent>, ScanSummary) {
        let mut events = Vec::new();
        while let Some(e) = self.events.recv().await {
            events.push(e);
        }
        let summary = self.finish().await;
        (events, summary)
    }
}

enum Done {
    Discovery(String, Result<(), crate::scanner::ScanError>),
    Host(IpAddr, Vec<(String, Result<(), crate::scanner::ScanError>)>),
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// Adds a scanner.
    pub fn add(&mut self, scanner: Box<dyn Scanner>) -> &mut Self {
        self.scanners.push(Arc::from(scanner));
        self
    }

    /// Adds a scanner, builder style: `Pipeline::new().with(TcpPing::default())`. A boxed
    /// scanner works too (`Box<dyn Scanner>` is a scanner).
    pub fn with(mut self, scanner: impl Scanner + 'static) -> Self {
        self.scanners.push(Arc::new(scanner));
        self
    }

    /// The scanners, in the order they were added.
    pub fn scanners(&self) -> impl Iterator<Item = &dyn Scanner> {
        self.scanners.iter().map(|s| &**s)
    }

    /// Starts the scan on the current Tokio runtime. With no discovery scanner, every target
    /// address counts as found.
    pub fn start(
        &self,
        config: ScanConfig,
        targets: TargetSet,
        cancel: CancellationToken,
    ) -> ScanHandle {
        let (obs_tx, obs_rx) = mpsc::channel(4096);
        let (ev_tx, ev_rx) = mpsc::channel(4096);
        let progress = Arc::new(Progress::default());
        progress.set_hosts_total(u64::try_from(targets.len()).unwrap_or(u64::MAX));
        let shared = Arc::new(Shared {
            budget: Budget::new(config.rate, config.concurrency),
            config: Arc::new(config),
            targets: Arc::new(targets),
            cancel: cancel.clone(),
            progress: Arc::clone(&progress),
            tx: obs_tx,
            rtt_hints: Default::default(),
            warnings: Warnings::default(),
        });
        let scanners = self.scanners.clone();
        let join = tokio::spawn(coordinate(scanners, shared, obs_rx, ev_tx));
        ScanHandle {
            events: ev_rx,
            progress,
            cancel,
            join,
        }
    }
}

async fn coordinate(
    scanners: Vec<Arc<dyn Scanner>>,
    shared: Arc<Shared>,
    mut obs_rx: mpsc::Receiver<Observation>,
    ev_tx: mpsc::Sender<ScanEvent>,
) -> ScanSummary {
    let (discovery, per_host): (Vec<_>, Vec<_>) = scanners
        .into_iter()
        .partition(|s| s.kind() == ScannerKind::Discovery);
    let per_host = Arc::new(per_host);
    let hosts_gate = Arc::new(Semaphore::new(shared.config.hosts_in_flight.max(1)));
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut found: HashSet<IpAddr> = HashSet::new();
    let cancel = shared.cancel.clone();
    let mut cancelling = false;
    let grace = tokio::time::sleep(Duration::from_secs(u64::MAX / 4));
    tokio::pin!(grace);

    let send = |ev: ScanEvent| {
        let ev_tx = ev_tx.clone();
        async move {
            let _ = ev_tx.send(ev).await;
        }
    };
    // Warnings, the scanners' and the pipeline's own, go through one bounded log and are
    // handed on as events in the order they were raised.
    let warn = |w: String| {
        shared.warnings.push(w);
        let new = shared.warnings.take_new();
        let ev_tx = ev_tx.clone();
        async move {
            for w in new {
                let _ = ev_tx.send(ScanEvent::Warning(w)).await;
            }
        }
    };

    let spawn_host = |tasks: &mut JoinSet<Done>, ip: IpAddr| {
        let per_host = Arc::clone(&per_host);
        let shared = Arc::clone(&shared);
        let gate = Arc::clone(&hosts_gate);
        tasks.spawn(async move {
            let _slot = gate.acquire_owned().await;
            let mut results = Vec::new();
            if !shared.cancel.is_cancelled() {
                let runs = per_host.iter().map(|s| {
                    let ctx = ScanContext::new(Arc::clone(&shared), s.name());
                    let s = Arc::clone(s);
                    async move {
                        let r = s.run(&ctx, Scope::Host(ip)).await;
                        (s.name().to_owned(), r)
                    }
                });
                results = futures::future::join_all(runs).await;
            }
            Done::Host(ip, results)
        });
    };

    if discovery.is_empty() {
        for ip in shared.targets.iter() {
            if found.insert(ip) {
                shared.progress.host_found();
                send(ScanEvent::HostFound(ip)).await;
                spawn_host(&mut tasks, ip);
            }
            if cancel.is_cancelled() {
                break;
            }
        }
    }
    for s in &discovery {
        let ctx = ScanContext::new(Arc::clone(&shared), s.name());
        let s = Arc::clone(s);
        tasks.spawn(async move {
            let r = s.run(&ctx, Scope::Targets(ctx.targets())).await;
            Done::Discovery(s.name().to_owned(), r)
        });
    }

    loop {
        if tasks.is_empty() {
            match obs_rx.try_recv() {
                Ok(o) => {
                    on_observation(o, &shared, &mut found, &mut tasks, &spawn_host, &send).await;
                    continue;
                }
                Err(_) => break,
            }
        }
        tokio::select! {
            biased;
            Some(o) = obs_rx.recv() => {
                on_observation(o, &shared, &mut found, &mut tasks, &spawn_host, &send).await;
            }
            Some(done) = tasks.join_next() => {
                match done {
                    Ok(Done::Discovery(name, r)) => {
                        if let Err(e) = r {
                            let w = format!("scanner {name} {e}");
                            warn(w).await;
                        }
                    }
                    Ok(Done::Host(ip, results)) => {
                        // Observations the host's scanners sent before finishing come first.
                        while let Ok(o) = obs_rx.try_recv() {
                            on_observation(o, &shared, &mut found, &mut tasks, &spawn_host, &send).await;
                        }
                        for (name, r) in results {
                            if let Err(e) = r {
                                let w = format!("scanner {name} on {ip}: {e}");
                                warn(w).await;
                            }
                        }
                        shared.progress.host_done();
                        send(ScanEvent::HostDone(ip)).await;
                    }
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => {
                        let w = format!("a scanner task failed: {e}");
                        warn(w).await;
                    }
                }
            }
            _ = shared.warnings.notify.notified() => {
                for w in shared.warnings.take_new() {
                    send(ScanEvent::Warning(w)).await;
                }
            }
            _ = cancel.cancelled(), if !cancelling => {
                cancelling = true;
                grace.as_mut().reset(tokio::time::Instant::now() + CANCEL_GRACE);
            }
            _ = &mut grace, if cancelling => {
                let w = format!("scanners did not stop within {CANCEL_GRACE:?} of cancellation and were aborted");
                warn(w).await;
                tasks.abort_all();
                cancelling = false;
            }
        }
    }
    for w in shared.warnings.take_new() {
        send(ScanEvent::Warning(w)).await;
    }
    let dropped = shared.warnings.dropped();
    if dropped > 0 {
        send(ScanEvent::Warning(dropped_line(dropped))).await;
    }
    ScanSummary {
        progress: shared.progress.snapshot(),
        warnings: shared.warnings.all(),
        cancelled: cancel.is_cancelled(),
    }
}

async fn on_observation<F, S, Fut>(
    o: Observation,
    shared: &Arc<Shared>,
    found: &mut HashSet<IpAddr>,
    tasks: &mut JoinSet<Done>,
    spawn_host: &F,
    send: &S,
) where
    F: Fn(&mut JoinSet<Done>, IpAddr),
    S: Fn(ScanEvent) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let ip = o.ip;
    let alive = o.proves_alive();
    if let crate::observation::Fact::Alive {
        rtt_us: Some(us), ..
    } = &o.fact
    {
        if let Ok(mut hints) = shared.rtt_hints.lock() {
            hints
                .entry(ip)
                .and_modify(|h| *h = (*h).max(*us))
                .or_insert(*us);
        }
    }
    send(ScanEvent::Observation(o)).await;
    // Only addresses within the targets are examined further: replies nobody asked for are
    // recorded, never probed.
    if alive && shared.targets.contains(ip) && !shared.cancel.is_cancelled() && found.insert(ip) {
        shared.progress.host_found();
        send(ScanEvent::HostFound(ip)).await;
        spawn_host(tasks, ip);
    }
}

#[cfg(test)]
mod tests;

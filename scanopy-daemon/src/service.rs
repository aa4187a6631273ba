//! Jobs: one scan run for a server, streamed as it goes.
//!
//! [`run_job`] runs a [`Job`] to its end and hands what it finds to a [`JobSink`]: observations
//! in batches as they are found (each batch with a fresh id, so a retry is harmless), progress
//! about every second, and the end. The `run` command's sink writes batches to the on-disk
//! spool and sends them over HTTP ([`crate::agent`]); the server's in-process local daemon
//! implements the trait over its store.
//!
//! Scanning is measured faster on a current-thread Tokio runtime (the connect sweep 1.5 s →
//! 0.86 s against the multi-thread one): drive [`run_job`] on one, e.g. on a dedicated thread
//! with `tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(…)`. The
//! `run` command does so.

use std::time::Duration;

use scanopy_core::protocol::{
    Capabilities, FinishRequest, Job, JobAck, JobOutcome, ProgressSnapshot, ResultsBatch,
};
use scanopy_core::{Observation, ScanEvent, attached_subnets};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::CallError;
use crate::setup::{self, SetupOptions};
use crate::spool::SpoolError;
use crate::system;

/// Observations are flushed at least this often while a job runs.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// A batch holds at most this many observations.
pub const MAX_BATCH: usize = 1000;
/// Progress is reported about this often.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// After a job's time is up (its maximum duration, or a stall), how long the scan gets to stop
/// before the job ends without it.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why a job was stopped from inside: its bounds.
fn bound_message(cfg: &scanopy_core::ScanConfig, stalled: bool) -> String {
    if stalled {
        format!(
            "the scan stalled: its progress did not advance for {} ms (stall_timeout_ms); stopped",
            cfg.stall_timeout_ms
        )
    } else {
        format!(
            "the job ran past its maximum duration of {} ms (max_duration_ms); stopped",
            cfg.max_duration_ms
        )
    }
}

/// Why a [`JobSink`] did not take what it was given. Each variant's message is its cause's own
/// and `source()` goes on down the cause's chain, so [`run_job`]'s log lines and a failed job's
/// error name the whole chain ("the spool is full: …").
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The on-disk spool did not take the entry: it is full, or the disk failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// A call to the server failed (the service sends progress straight to it).
    #[error(transparent)]
    Call(#[from] CallError),
    /// Another sink's own failure, e.g. the server's store refusing a batch of its local daemon.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl SinkError {
    /// Wraps any other error (or a message) as [`SinkError::Other`].
    pub fn other(e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        SinkError::Other(e.into())
    }
}

/// An error and its causes, joined by ": " (what `{:#}` shows of an `anyhow::Error`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Where a job's findings go.
#[async_trait::async_trait]
pub trait JobSink: Send + Sync {
    /// A batch of observations. An error stops the job (it finishes as failed, naming the error).
    async fn results(&self, job: Uuid, batch: ResultsBatch) -> Result<JobAck, SinkError>;
    /// The live counts. An error is logged and the job goes on.
    async fn progress(&self, job: Uuid, progress: ProgressSnapshot) -> Result<JobAck, SinkError>;
    /// The end of the job; called exactly once per [`run_job`].
    async fn finish(&self, job: Uuid, finish: FinishRequest) -> Result<JobAck, SinkError>;
}

/// Runs one job to its end: streams observations in batches (each with a fresh batch id) as
/// they are found (flushed at least every 500 ms or 1,000 observations), reports progress
/// about every second, stops promptly when `cancel` fires or an ack says `cancel: true`, and
/// finishes with the outcome, which it returns.
///
/// A configuration that cannot run (an unknown scanner, a bad target) finishes as
/// [`JobOutcome::Failed`] with the reason, before any packet. Drive it on a current-thread
/// runtime (see the module docs).
///
/// Every job ends: one that runs past [`scanopy_core::ScanConfig::max_duration_ms`], or whose
/// progress counters stand still for [`scanopy_core::ScanConfig::stall_timeout_ms`], is
/// cancelled and finishes as [`JobOutcome::Failed`] with an error saying which (what it found
/// until then is kept). From then on it sends no progress, so it no longer renews its lease; if
/// the scan does not stop within [`STOP_GRACE`], the job ends without it.
pub async fn run_job(job: &Job, sink: &dyn JobSink, cancel: CancellationToken) -> JobOutcome {
    run_job_with(job, sink, cancel, &SetupOptions::default()).await
}

/// [`run_job`] with this daemon's own settings (SNMP communities, the catalogue): what the
/// job's configuration does not carry because it is the daemon's, not the scan's.
pub async fn run_job_with(
    job: &Job,
    sink: &dyn JobSink,
    cancel: CancellationToken,
    opts: &SetupOptions,
) -> JobOutcome {
    // The network's SNMP credentials come with the job, before the daemon's own.
    let merged;
    let opts = if job.snmp.is_empty() {
        opts
    } else {
        merged = setup::with_job_snmp(opts, &job.snmp);
        &merged
    };
    let prepared = match setup::prepare(&job.config, opts).await {
        Ok(p) => p,
        Err(e) => {
            let error = format!("failed to set up the scan: {e}");
            tracing::warn!(job = %job.id, "{error}");
            let failed = FinishRequest {
                outcome: JobOutcome::Failed,
                error: Some(error),
                warnings: Vec::new(),
                progress: ProgressSnapshot::default(),
            };
            return finish(job.id, sink, failed).await;
        }
    };
    for w in &prepared.warnings {
        tracing::warn!(job = %job.id, "{w}");
    }
    tracing::info!(
        job = %job.id,
        targets = ?prepared.target_labels,
        scanners = ?prepared.config.scanners,
        "job started"
    );
    let mut run = JobRun {
        job: job.id,
        sink,
        // A child token: the caller's cancellation reaches the scan, and an ack's does too
        // without touching the caller's token.
        scan_cancel: cancel.child_token(),
        cfg: prepared.config.clone(),
        pending: Vec::new(),
        warnings: prepared.warnings,
        cancelled_by_server: false,
        failure: None,
        stopped: None,
    };
    let mut handle =
        prepared
            .pipeline
            .start(prepared.config, prepared.targets, run.scan_cancel.clone());
    run.drive(&mut handle).await;
    // What was found before a cancellation is still worth keeping.
    run.send().await;
    let request = run.end(handle, &cancel).await;
    finish(job.id, sink, request).await
}

/// One job while it runs: what is waiting to be sent, and how it is going to end.
struct JobRun<'a> {
    job: Uuid,
    sink: &'a dyn JobSink,
    /// Stops the scan (the caller's token's child).
    scan_cancel: CancellationToken,
    cfg: scanopy_core::ScanConfig,
    /// Observations not yet sent.
    pending: Vec<Observation>,
    warnings: Vec<String>,
    cancelled_by_server: bool,
    /// Why the job failed (a sink error, or a bound); from then on nothing more is sent.
    failure: Option<String>,
    /// Set once a bound stopped the job: why, and when the scan must have stopped by.
    stopped: Option<(String, tokio::time::Instant)>,
}

impl JobRun<'_> {
    /// Runs the scan's event loop until its events end or the hard stop passes: batches and
    /// flushes observations, reports progress, and enforces the maximum duration and the stall
    /// watchdog.
    async fn drive(&mut self, handle: &mut scanopy_core::ScanHandle) {
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        progress.tick().await;
        // The job's bounds: a maximum duration, and a stall watchdog over the progress counters
        // (at most a year each, so no instant overflows).
        let year_ms = 365 * 24 * 3600 * 1000;
        let max_duration = Duration::from_millis(self.cfg.max_duration_ms.clamp(1, year_ms));
        let stall_after = Duration::from_millis(self.cfg.stall_timeout_ms.clamp(1, year_ms));
        let started = tokio::time::Instant::now();
        let deadline = tokio::time::sleep_until(started + max_duration);
        tokio::pin!(deadline);
        let mut watchdog = tokio::time::interval(
            (stall_after / 4).clamp(Duration::from_millis(10), PROGRESS_INTERVAL),
        );
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_progress = handle.progress();
        let mut last_advance = started;
        let hard_stop = tokio::time::sleep(Duration::from_secs(u64::MAX / 4));
        tokio::pin!(hard_stop);
        loop {
            tokio::select! {
                ev = handle.events.recv() => {
                    let Some(ev) = ev else { break };
                    self.on_event(ev).await;
                }
                _ = flush.tick() => self.send().await,
                () = &mut deadline, if self.stopped.is_none() => {
                    let by = self.stop(false);
                    hard_stop.as_mut().reset(by);
                }
                _ = watchdog.tick(), if self.stopped.is_none() => {
                    let now = handle.progress();
                    if now != last_progress {
                        last_progress = now;
                        last_advance = tokio::time::Instant::now();
                    } else if last_advance.elapsed() >= stall_after {
                        let by = self.stop(true);
                        hard_stop.as_mut().reset(by);
                    }
                }
                () = &mut hard_stop, if self.stopped.is_some() => {
                    tracing::error!(job = %self.job, "the scan did not stop within {STOP_GRACE:?}; ending the job without it");
                    break;
                }
                // A stopped job sends no more progress: renewals must not keep its lease.
                _ = progress.tick(), if self.stopped.is_none() => {
                    self.report(handle.progress()).await;
                }
            }
        }
    }

    /// One event of the scan: an observation joins the batch (sent when full), a warning is
    /// logged and kept.
    async fn on_event(&mut self, ev: ScanEvent) {
        match ev {
            ScanEvent::Observation(o) => {
                if self.failure.is_none() {
                    self.pending.push(o);
                }
                if self.pending.len() >= MAX_BATCH {
                    self.send().await;
                }
            }
            ScanEvent::Warning(w) => {
                tracing::warn!(job = %self.job, "{w}");
                self.warnings.push(w);
            }
            _ => {}
        }
    }

    /// A bound (the maximum duration, or a stall) stops the job: records why, cancels the scan
    /// and returns when it must have stopped by.
    fn stop(&mut self, stalled: bool) -> tokio::time::Instant {
        let why = bound_message(&self.cfg, stalled);
        tracing::warn!(job = %self.job, "{why}");
        let by = tokio::time::Instant::now() + STOP_GRACE;
        self.stopped = Some((why, by));
        self.scan_cancel.cancel();
        by
    }

    /// An ack's `cancel: true`: the server wants the job stopped.
    fn on_ack(&mut self, ack: &JobAck) {
        if ack.cancel {
            if !self.scan_cancel.is_cancelled() {
                tracing::info!(job = %self.job, "the server cancelled the job");
            }
            self.cancelled_by_server = true;
            self.scan_cancel.cancel();
        }
    }

    /// Reports the live counts; a failure is logged and the job goes on.
    async fn report(&mut self, progress: ProgressSnapshot) {
        match self.sink.progress(self.job, progress).await {
            Ok(ack) => self.on_ack(&ack),
            Err(e) => tracing::debug!(job = %self.job, "progress not delivered: {}", chain(&e)),
        }
    }

    /// Sends the pending observations; on a sink error, stops the scan and records why.
    async fn send(&mut self) {
        if self.pending.is_empty() || self.failure.is_some() {
            return;
        }
        let batch = ResultsBatch {
            batch_id: Uuid::new_v4(),
            observations: std::mem::take(&mut self.pending),
        };
        match self.sink.results(self.job, batch).await {
            Ok(ack) => self.on_ack(&ack),
            Err(e) => {
                let why = chain(&e);
                tracing::error!(job = %self.job, "failed to hand over results: {why}; stopping the job");
                self.failure = Some(why);
                self.scan_cancel.cancel();
            }
        }
    }

    /// Waits for the scan's summary (only for what is left of the grace if a bound stopped it)
    /// and decides the outcome.
    async fn end(
        mut self,
        handle: scanopy_core::ScanHandle,
        cancel: &CancellationToken,
    ) -> FinishRequest {
        let summary = if let Some((_, by)) = &self.stopped {
            // The scan may not have stopped (it is past the hard stop, or close to it).
            let progress_now = handle.progress();
            match tokio::time::timeout_at(*by, handle.finish()).await {
                Ok(s) => s,
                Err(_) => scanopy_core::ScanSummary {
                    progress: progress_now,
                    warnings: Vec::new(),
                    cancelled: true,
                },
            }
        } else {
            handle.finish().await
        };
        if let Some((why, _)) = &self.stopped {
            self.warnings.push(why.clone());
            self.failure.get_or_insert_with(|| why.clone());
        }
        let outcome = if self.failure.is_some() {
            JobOutcome::Failed
        } else if self.cancelled_by_server || cancel.is_cancelled() || summary.cancelled {
            JobOutcome::Cancelled
        } else {
            JobOutcome::Done
        };
        tracing::info!(
            job = %self.job,
            outcome = ?outcome,
            hosts_found = summary.progress.hosts_found,
            ports_probed = summary.progress.ports_probed,
            observations = summary.progress.observations,
            "job ended"
        );
        FinishRequest {
            outcome,
            error: self.failure,
            warnings: self.warnings,
            progress: summary.progress,
        }
    }
}

async fn finish(job: Uuid, sink: &dyn JobSink, req: FinishRequest) -> JobOutcome {
    let outcome = req.outcome;
    if let Err(e) = sink.finish(job, req).await {
        tracing::error!(job = %job, "failed to hand over the end of the job: {}", chain(&e));
    }
    outcome
}

/// What this machine can do: raw sockets, a reachable Docker engine, the attached IPv4
/// subnets, and the daemon's version (mode pull, no URL: the caller sets those).
pub fn capabilities() -> Capabilities {
    let ifaces = system::interfaces();
    let (subnets, _) = attached_subnets(&ifaces);
    Capabilities {
        raw_sockets: scanopy_scanners::arp::raw_sockets_allowed(),
        docker: docker_reachable(),
        subnets: subnets.into_iter().filter(|n| n.addr().is_ipv4()).collect(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        listening: crate::passive::listening(),
        ..Capabilities::default()
    }
}

/// Whether a Docker engine answers: the Unix socket accepts a connection (`DOCKER_HOST` of
/// another scheme counts as reachable when set; the scan says otherwise if it is not).
fn docker_reachable() -> bool {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => match h.strip_prefix("unix://") {
            Some(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            None => true,
        },
        _ => std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok(),
    }
}

#[cfg(test)]
mod tests;

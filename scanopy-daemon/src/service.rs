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

use crate::setup::{self, SetupOptions};
use crate::system;

/// Observations are flushed at least this often while a job runs.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// A batch holds at most this many observations.
pub const MAX_BATCH: usize = 1000;
/// Progress is reported about this often.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// Where a job's findings go.
#[async_trait::async_trait]
pub trait JobSink: Send + Sync {
    /// A batch of observations. An error stops the job (it finishes as failed, naming the error).
    async fn results(&self, job: Uuid, batch: ResultsBatch) -> anyhow::Result<JobAck>;
    /// The live counts. An error is logged and the job goes on.
    async fn progress(&self, job: Uuid, progress: ProgressSnapshot) -> anyhow::Result<JobAck>;
    /// The end of the job; called exactly once per [`run_job`].
    async fn finish(&self, job: Uuid, finish: FinishRequest) -> anyhow::Result<JobAck>;
}

/// Runs one job to its end: streams observations in batches (each with a fresh batch id) as
/// they are found (flushed at least every 500 ms or 1,000 observations), reports progress
/// about every second, stops promptly when `cancel` fires or an ack says `cancel: true`, and
/// finishes with the outcome, which it returns.
///
/// A configuration that cannot run (an unknown scanner, a bad target) finishes as
/// [`JobOutcome::Failed`] with the reason, before any packet. Drive it on a current-thread
/// runtime (see the module docs).
pub async fn run_job(job: &Job, sink: &dyn JobSink, cancel: CancellationToken) -> JobOutcome {
    let prepared = match setup::prepare(&job.config, &SetupOptions::default()).await {
        Ok(p) => p,
        Err(e) => {
            let error = format!("failed to set up the scan: {e}");
            tracing::warn!(job = %job.id, "{error}");
            return finish(
                job.id,
                sink,
                FinishRequest {
                    outcome: JobOutcome::Failed,
                    error: Some(error),
                    warnings: Vec::new(),
                    progress: ProgressSnapshot::default(),
                },
            )
            .await;
        }
    };
    let mut warnings = prepared.warnings.clone();
    for w in &warnings {
        tracing::warn!(job = %job.id, "{w}");
    }
    tracing::info!(
        job = %job.id,
        targets = ?prepared.target_labels,
        scanners = ?prepared.config.scanners,
        "job started"
    );
    // A child token: the caller's cancellation reaches the scan, and an ack's does too without
    // touching the caller's token.
    let scan_cancel = cancel.child_token();
    let mut handle = prepared.pipeline.start(
        prepared.config.clone(),
        prepared.targets,
        scan_cancel.clone(),
    );
    let mut pending: Vec<Observation> = Vec::new();
    let mut flush = tokio::time::interval(FLUSH_INTERVAL);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    progress.tick().await;
    let mut cancelled_by_server = false;
    let mut failure: Option<String> = None;

    // Sends the pending observations; on a sink error, stops the scan and records why.
    async fn send(
        job: Uuid,
        sink: &dyn JobSink,
        pending: &mut Vec<Observation>,
        scan_cancel: &CancellationToken,
        cancelled_by_server: &mut bool,
        failure: &mut Option<String>,
    ) {
        if pending.is_empty() || failure.is_some() {
            return;
        }
        let batch = ResultsBatch {
            batch_id: Uuid::new_v4(),
            observations: std::mem::take(pending),
        };
        match sink.results(job, batch).await {
            Ok(ack) if ack.cancel => {
                if !scan_cancel.is_cancelled() {
                    tracing::info!(job = %job, "the server cancelled the job");
                }
                *cancelled_by_server = true;
                scan_cancel.cancel();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(job = %job, "failed to hand over results: {e:#}; stopping the job");
                *failure = Some(format!("{e:#}"));
                scan_cancel.cancel();
            }
        }
    }

    loop {
        tokio::select! {
            ev = handle.events.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    ScanEvent::Observation(o) => {
                        if failure.is_none() {
                            pending.push(o);
                        }
                        if pending.len() >= MAX_BATCH {
                            send(job.id, sink, &mut pending, &scan_cancel, &mut cancelled_by_server, &mut failure).await;
                        }
                    }
                    ScanEvent::Warning(w) => {
                        tracing::warn!(job = %job.id, "{w}");
                        warnings.push(w);
                    }
                    _ => {}
                }
            }
            _ = flush.tick() => {
                send(job.id, sink, &mut pending, &scan_cancel, &mut cancelled_by_server, &mut failure).await;
            }
            _ = progress.tick() => {
                match sink.progress(job.id, handle.progress()).await {
                    Ok(ack) if ack.cancel => {
                        if !scan_cancel.is_cancelled() {
                            tracing::info!(job = %job.id, "the server cancelled the job");
                        }
                        cancelled_by_server = true;
                        scan_cancel.cancel();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(job = %job.id, "progress not delivered: {e:#}"),
                }
            }
        }
    }
    // What was found before a cancellation is still worth keeping.
    send(
        job.id,
        sink,
        &mut pending,
        &scan_cancel,
        &mut cancelled_by_server,
        &mut failure,
    )
    .await;
    let summary = handle.finish().await;
    let outcome = if failure.is_some() {
        JobOutcome::Failed
    } else if cancelled_by_server || cancel.is_cancelled() || summary.cancelled {
        JobOutcome::Cancelled
    } else {
        JobOutcome::Done
    };
    tracing::info!(
        job = %job.id,
        outcome = ?outcome,
        hosts_found = summary.progress.hosts_found,
        ports_probed = summary.progress.ports_probed,
        observations = summary.progress.observations,
        "job ended"
    );
    finish(
        job.id,
        sink,
        FinishRequest {
            outcome,
            error: failure,
            warnings,
            progress: summary.progress,
        },
    )
    .await
}

async fn finish(job: Uuid, sink: &dyn JobSink, req: FinishRequest) -> JobOutcome {
    let outcome = req.outcome;
    if let Err(e) = sink.finish(job, req).await {
        tracing::error!(job = %job, "failed to hand over the end of the job: {e:#}");
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

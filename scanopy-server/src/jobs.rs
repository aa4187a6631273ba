//! Jobs: the daemon protocol's handlers, the push dispatcher and the scheduler.
//!
//! A scan is queued in the store; a pull daemon claims it when it polls; a push daemon's jobs
//! are claimed for it here and sent to it; the local daemon claims its own in-process. Results
//! come back in batches with ids (a batch sent twice changes nothing), and every results or
//! progress call renews the daemon's lease; a lease that expires returns the job to the queue.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use scanopy_core::protocol::{
    FinishRequest, Job, JobAck, JobOutcome, LISTEN_SCANNER, ListenRequest, PollResponse,
    ProgressSnapshot, RegisterRequest, RegisterResponse, ResultsBatch, is_listen_run,
};
use scanopy_core::{ScanConfig, TargetSpec};
use scanopy_store::{Daemon, JobBatch, NewDaemon, NewScanRun, RunStatus, ScanRun, StoreError};
use uuid::Uuid;

use crate::auth::DaemonCaller;
use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::schema;
use crate::state::{AppState, ScanUpdate};

/// How long a claim lasts without a results or progress call.
pub const LEASE: Duration = Duration::from_secs(90);
/// How often pull daemons poll.
pub const POLL_INTERVAL_MS: u64 = 2000;
/// The most observations one batch may carry.
pub const MAX_BATCH: usize = 20_000;
/// Reaction scans (of a device a listener heard for the first time) queued per daemon in
/// [`REACTION_WINDOW`], at most: a flood of new devices is not a flood of scans.
pub const REACTIONS: usize = 20;
/// See [`REACTIONS`].
pub const REACTION_WINDOW: Duration = Duration::from_secs(600);

/// Wakes the dispatchers.
pub fn kick(state: &AppState) {
    state.kick.notify_waiters();
}

fn job_of(run: &ScanRun) -> Job {
    Job {
        id: run.id,
        network: run.network,
        config: run.config.clone(),
        lease_ms: LEASE.as_millis() as u64,
        snmp: Default::default(),
    }
}

/// The job of `run` as its daemon gets it: with its network's SNMP credentials, opened.
pub async fn job_for(state: &AppState, run: &ScanRun) -> ApiResult<Job> {
    let mut job = job_of(run);
    job.snmp = crate::snmp::network_secrets(state, run.network).await?;
    Ok(job)
}

async fn daemon_of(state: &AppState, key: &scanopy_store::Credential) -> ApiResult<Daemon> {
    state
        .store
        .daemons()
        .await?
        .into_iter()
        .find(|d| d.key_id == Some(key.id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "not_registered",
                "register first: POST /api/v1/daemon/register",
            )
        })
}

/// `POST /daemon/register` (and `/daemon/heartbeat`).
#[utoipa::path(post, path = "/register", tag = "daemon protocol",
    request_body(content = serde_json::Value, description = "RegisterRequest: {name, capabilities}"),
    responses((status = 200, description = "registered", body = schema::RegisterResponse),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 403, description = "the key is not scoped to a network", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    DaemonCaller(key): DaemonCaller,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<axum::Json<RegisterResponse>> {
    let network = key
        .network
        .ok_or_else(|| ApiError::forbidden("this key is not scoped to a network"))?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name: 1 to 100 characters"));
    }
    check_capabilities(&req.capabilities)?;
    let d = state
        .store
        .register_daemon(NewDaemon {
            network,
            key_id: Some(key.id),
            name: name.to_owned(),
            capabilities: req.capabilities,
            local: false,
            instance: None,
        })
        .await?;
    tracing::debug!(daemon = %d.id, name = %d.name, "daemon registered");
    Ok(axum::Json(RegisterResponse {
        daemon_id: d.id,
        network_id: network,
        poll_interval_ms: POLL_INTERVAL_MS,
    }))
}

/// What a daemon announces is stored and shown to admins: bounded in size, a URL that is one.
fn check_capabilities(c: &scanopy_core::protocol::Capabilities) -> ApiResult<()> {
    if let Some(url) = &c.url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiError::invalid(
                "capabilities.url: an http:// or https:// URL",
            ));
        }
        if url.len() > MAX_ANNOUNCED_URL {
            return Err(ApiError::invalid(format!(
                "capabilities.url: at most {MAX_ANNOUNCED_URL} bytes"
            )));
        }
    }
    if c.version.len() > 100 {
        return Err(ApiError::invalid("capabilities.version: at most 100 bytes"));
    }
    if c.subnets.len() > MAX_ANNOUNCED_SUBNETS {
        return Err(ApiError::invalid(format!(
            "capabilities.subnets: at most {MAX_ANNOUNCED_SUBNETS}"
        )));
    }
    Ok(())
}

/// The longest push URL a daemon may announce.
const MAX_ANNOUNCED_URL: usize = 2048;
/// The most subnets a daemon may announce (a host with more interfaces than this is unusual).
const MAX_ANNOUNCED_SUBNETS: usize = 1024;

/// `POST /daemon/poll`: a job, or none.
#[utoipa::path(post, path = "/poll", tag = "daemon protocol",
    responses((status = 200, description = "a job, or `null`", body = schema::PollResponse),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 409, description = "not registered", body = ErrorBody)))]
pub async fn poll(
    State(state): State<AppState>,
    DaemonCaller(key): DaemonCaller,
) -> ApiResult<axum::Json<PollResponse>> {
    let d = daemon_of(&state, &key).await?;
    state.store.touch_daemon(d.id).await?;
    let job = state.store.claim_job(d.id, d.network, LEASE).await?;
    if let Some(j) = &job {
        tracing::info!(job = %j.id, daemon = %d.name, "job claimed");
        state.tell(
            "scan_progress",
            ScanUpdate::status(j.id, RunStatus::Running),
        );
    }
    let job = match &job {
        Some(run) => Some(job_for(&state, run).await?),
        None => None,
    };
    Ok(axum::Json(PollResponse { job }))
}

async fn held_run(state: &AppState, network: Uuid, run: Uuid) -> ApiResult<ScanRun> {
    match state.store.scan_run(run).await? {
        Some(r) if r.network == network => Ok(r),
        _ => Err(ApiError::not_found(format!("job {run}"))),
    }
}

/// Applies a batch of `daemon`'s results of `run` and renews its lease. Shared by the HTTP
/// route and the local daemon. The store takes it only from the daemon holding the run, while
/// it runs (409 `job_not_held`, `job_not_running`; 409 `run_limit` when it goes over the run's
/// caps, which ends the run failed); a batch too large is refused and recorded on the run, so
/// that it cannot end done.
pub async fn apply_results(
    state: &AppState,
    daemon: Uuid,
    run: Uuid,
    batch: &ResultsBatch,
) -> ApiResult<JobAck> {
    if batch.observations.len() > MAX_BATCH {
        let e = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a batch carries at most {MAX_BATCH} observations"),
        );
        state.store.reject_batch(run, daemon, &e.message).await?;
        return Err(e);
    }
    let report = state
        .store
        .apply_job_batch(JobBatch {
            run,
            daemon,
            batch: batch.batch_id,
            observations: &batch.observations,
            limits: state.run_limits,
        })
        .await;
    let report = match report {
        Ok(r) => r,
        Err(e) => return Err(refused_batch(state, run, e)),
    };
    state.cache.invalidate();
    state
        .metrics
        .add("observations", batch.observations.len() as u64);
    if report.outside_targets > 0 {
        state
            .metrics
            .add("observations_outside_targets", report.outside_targets);
        tracing::warn!(job = %run, dropped = report.outside_targets,
            "per-host observations about addresses outside the job's targets were dropped");
    }
    if !report.changes.is_empty() {
        kick_events(state);
    }
    // New devices, and devices heard before they had an address that have one now.
    let scannable: Vec<Uuid> = report
        .changes
        .devices_new
        .iter()
        .chain(&report.addressed)
        .copied()
        .collect();
    if !scannable.is_empty() {
        react(state, daemon, run, &scannable).await;
    }
    let cancel = renew(state, daemon, run, None).await?;
    Ok(JobAck {
        applied: report.applied,
        cancel,
    })
}

/// Opens a listen run for `d`'s passive listener (`POST /daemon/listen`, and the local
/// daemon's): its earlier listen runs end (it restarted; ending one marks nothing missed), and
/// a new one runs, leased to it, over its attached subnets. A listen run whose daemon stops
/// renewing it is ended by the store at the next claim.
pub async fn open_listen(state: &AppState, d: &Daemon, req: &ListenRequest) -> ApiResult<Job> {
    let earlier = state.store.scan_runs(Some(d.network), 200, None).await?;
    for r in earlier.items.iter().filter(|r| {
        r.daemon == Some(d.id) && r.status == RunStatus::Running && is_listen_run(&r.config)
    }) {
        match state.store.finish_scan(r.id, RunStatus::Done).await {
            Ok(_) | Err(StoreError::BadRequest(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let run = state
        .store
        .start_scan(NewScanRun {
            network: d.network,
            daemon: Some(d.id),
            config: ScanConfig {
                scanners: vec![LISTEN_SCANNER.to_owned()],
                ..ScanConfig::default()
            },
            targets: d.capabilities.subnets.clone(),
        })
        .await?;
    // A lease from the start, so that a listen run whose daemon died is ended.
    state.store.renew_job(run.id, d.id, None, LEASE).await?;
    state.cache.invalidate();
    tracing::info!(daemon = %d.name, job = %run.id, interfaces = ?req.interfaces, "listening");
    Ok(job_of(&run))
}

/// `POST /daemon/listen`: a listen run for the caller's passive listener.
#[utoipa::path(post, path = "/listen", tag = "daemon protocol",
    request_body(content = serde_json::Value, description = "ListenRequest: {interfaces}"),
    responses((status = 200, description = "the listen run, as a job", body = schema::Job),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 409, description = "not registered", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody)))]
pub async fn listen(
    State(state): State<AppState>,
    DaemonCaller(key): DaemonCaller,
    ApiJson(req): ApiJson<ListenRequest>,
) -> ApiResult<axum::Json<Job>> {
    if req.interfaces.len() > MAX_ANNOUNCED_SUBNETS
        || req.interfaces.iter().any(|i| i.is_empty() || i.len() > 64)
    {
        return Err(ApiError::invalid(format!(
            "interfaces: at most {MAX_ANNOUNCED_SUBNETS} names of 1 to 64 bytes"
        )));
    }
    let d = daemon_of(&state, &key).await?;
    Ok(axum::Json(open_listen(&state, &d, &req).await?))
}

/// A device a listen run heard for the first time gets a short scan of its own (ports,
/// identification, names) by the daemon that heard it, at most [`REACTIONS`] per daemon in
/// [`REACTION_WINDOW`]; a scan run's new devices get none (it is scanning them already). One
/// heard before it had an address (asking DHCP for one) is scanned once it has one.
async fn react(state: &AppState, daemon: Uuid, run: Uuid, new: &[Uuid]) {
    let run = match state.store.scan_run(run).await {
        Ok(Some(r)) if is_listen_run(&r.config) => r,
        _ => return,
    };
    for id in new {
        let Ok(Some(dev)) = state.store.device(*id).await else {
            continue;
        };
        let Some(ip) = dev
            .device
            .interfaces
            .iter()
            .map(|i| i.ip)
            .filter(|ip| scanopy_core::is_routable(*ip))
            .min_by_key(|ip| ip.is_ipv6())
        else {
            // No address yet, or only a link-local one (what its router solicitation or
            // DHCPv6 message came from): scanned when it has one the network knows.
            continue;
        };
        let allowed = {
            let mut all = state.reactions.lock().unwrap_or_else(|p| p.into_inner());
            let recent = all.entry(daemon).or_default();
            recent.retain(|t| t.elapsed() < REACTION_WINDOW);
            let ok = recent.len() < REACTIONS;
            if ok {
                recent.push(std::time::Instant::now());
            }
            ok
        };
        if !allowed {
            state.metrics.inc("reactions_skipped");
            continue;
        }
        let Ok(targets) = TargetSpec::new(&[ip.to_string()], &[] as &[&str]) else {
            continue;
        };
        let queued = state
            .store
            .enqueue_scan(NewScanRun {
                network: run.network,
                daemon: Some(daemon),
                config: ScanConfig {
                    targets,
                    ..ScanConfig::default()
                },
                targets: vec![ipnet::IpNet::from(ip)],
            })
            .await;
        match queued {
            Ok(q) => {
                tracing::info!(device = %id, %ip, job = %q.id, "a new device was heard; scanning it");
                state.metrics.inc("reactions");
                state.tell("scan_queued", ScanUpdate::new(q.id));
                kick(state);
            }
            Err(e) => {
                tracing::warn!(device = %id, %ip, "failed to queue a scan of a new device: {e}")
            }
        }
    }
}

/// The answer to a batch the store refused; a run it ended (over a cap) is announced.
fn refused_batch(state: &AppState, run: Uuid, e: StoreError) -> ApiError {
    if let StoreError::Refused { code, message } = &e {
        tracing::warn!(job = %run, code, "a results batch was refused: {message}");
        if *code == "run_limit" {
            state.cache.invalidate();
            state.metrics.inc("scans_failed");
            state.tell("scan_progress", ScanUpdate::status(run, RunStatus::Failed));
            kick_events(state);
        }
    }
    e.into()
}

/// Records that a body `daemon` sent as results for `run` was refused before it was read (not
/// JSON, a wrong field): the run, if the daemon holds it, can no longer end done.
pub async fn reject_unreadable(state: &AppState, daemon: Uuid, run: Uuid, e: &ApiError) {
    if let Err(err) = state.store.reject_batch(run, daemon, &e.message).await {
        tracing::warn!(job = %run, error = %err, "could not record a refused batch");
    }
}

/// Renews the lease; true when the daemon should stop (cancelled, or no longer its job).
async fn renew(
    state: &AppState,
    daemon: Uuid,
    run: Uuid,
    progress: Option<ProgressSnapshot>,
) -> ApiResult<bool> {
    match state.store.renew_job(run, daemon, progress, LEASE).await {
        Ok(r) => Ok(r.cancel_requested),
        Err(StoreError::Conflict(_)) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Records progress; shared by the HTTP route and the local daemon.
pub async fn record_progress(
    state: &AppState,
    daemon: Uuid,
    run: Uuid,
    p: ProgressSnapshot,
) -> ApiResult<JobAck> {
    let cancel = renew(state, daemon, run, Some(p)).await?;
    state.tell("scan_progress", ScanUpdate::progress(run, p));
    Ok(JobAck {
        applied: true,
        cancel,
    })
}

/// Ends a job; finishing twice (a spooled finish sent again) is harmless.
pub async fn finish_job(
    state: &AppState,
    daemon: Uuid,
    run: Uuid,
    f: &FinishRequest,
) -> ApiResult<JobAck> {
    let current = state
        .store
        .scan_run(run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {run}")))?;
    if current.finished_at.is_some() {
        return Ok(JobAck {
            applied: false,
            cancel: false,
        });
    }
    if current.daemon != Some(daemon) {
        // The lease expired and another daemon has it now.
        return Ok(JobAck {
            applied: false,
            cancel: true,
        });
    }
    let status = match f.outcome {
        JobOutcome::Done => RunStatus::Done,
        JobOutcome::Failed => RunStatus::Failed,
        JobOutcome::Cancelled => RunStatus::Cancelled,
    };
    // Still this daemon's (a lease that expired may have been claimed by another since).
    match state
        .store
        .renew_job(run, daemon, Some(f.progress), LEASE)
        .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return Ok(JobAck {
                applied: false,
                cancel: true,
            });
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(e) = &f.error {
        state.store.record_scan_error(run, e).await?;
    } else if !f.warnings.is_empty() {
        state
            .store
            .record_scan_error(run, &format!("warnings: {}", f.warnings.join("; ")))
            .await?;
    }
    let finished = state.store.finish_scan(run, status).await;
    state.cache.invalidate();
    match finished {
        Ok(_) | Err(StoreError::BadRequest(_)) => {}
        Err(e) => return Err(e.into()),
    }
    // A run with a refused batch ends failed, whatever the daemon said.
    let status = match state.store.scan_run(run).await? {
        Some(r) if r.status != status => {
            tracing::warn!(job = %run, "the job ends failed: {}", r.error.as_deref().unwrap_or(""));
            r.status
        }
        _ => status,
    };
    state.metrics.inc(&format!("scans_{}", status.as_str()));
    tracing::info!(job = %run, status = status.as_str(), "job finished");
    kick_events(state);
    Ok(JobAck {
        applied: true,
        cancel: false,
    })
}

fn kick_events(state: &AppState) {
    state.tell("changed", serde_json::Map::new());
}

/// `POST /daemon/heartbeat`: like register.
#[utoipa::path(post, path = "/heartbeat", tag = "daemon protocol",
    request_body(content = serde_json::Value, description = "RegisterRequest"),
    responses((status = 200, description = "registered", body = schema::RegisterResponse),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody)))]
pub async fn heartbeat(
    state: State<AppState>,
    key: DaemonCaller,
    body: ApiJson<RegisterRequest>,
) -> ApiResult<axum::Json<RegisterResponse>> {
    register(state, key, body).await
}

/// `POST /daemon/jobs/{id}/results`.
#[utoipa::path(post, path = "/jobs/{id}/results", tag = "daemon protocol",
    params(("id" = Uuid, Path, description = "job id")),
    request_body(content = serde_json::Value, description = "ResultsBatch: {batch_id, observations}"),
    responses((status = 200, description = "applied now, or before", body = schema::JobAck),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 409, description = "refused, nothing applied: `not_registered` (register, then retry), `job_not_held` (another daemon holds the job, or none), `job_not_running` (it ended), `run_limit` (over the run's cap of devices or observations; the run ended failed)", body = ErrorBody),
              (status = 413, description = "more than 20,000 observations; recorded on the run, which then ends failed", body = ErrorBody),
              (status = 422, description = "a wrong field; recorded on the run, which then ends failed", body = ErrorBody)))]
pub async fn results(
    State(state): State<AppState>,
    DaemonCaller(key): DaemonCaller,
    Path(id): Path<Uuid>,
    batch: Result<ApiJson<ResultsBatch>, ApiError>,
) -> ApiResult<axum::Json<JobAck>> {
    let d = daemon_of(&state, &key).await?;
    held_run(&state, d.network, id).await?;
    let batch = match batch {
        Ok(ApiJson(b)) => b,
        Err(e) => {
            reject_unreadable(&state, d.id, id, &e).await;
            return Err(e);
        }
    };
    Ok(axum::Json(apply_results(&state, d.id, id, &batch).await?))
}

/// `POST /daemon/jobs/{id}/progress`.
#[utoipa::path(post, path = "/jobs/{id}/progress", tag = "daemon protocol",
    params(("id" = Uuid, Path, description = "job id")),
    request_body(content = serde_json::Value, description = "ProgressSnapshot"),
    responses((status = 200, description = "the lease renewed", body = schema::JobAck),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 409, description = "not registered, or not this daemon's job", body = ErrorBody)))]
pub async fn progress(
    State(state): State<AppState>,
    DaemonCaller(key): DaemonCaller,
    Path(id): Path<Uuid>,
    ApiJson(p): ApiJson<ProgressSnapshot>,
) -> ApiResult<axum::Json<JobAck>> {
    let d = daemon_of(&state, &key).await?;
    held_run(&state, d.network, id).await?;
    Ok(axum::Json(record_progress(&state, d.id, id, p).await?))
}

/// `POST /daemon/jobs/{id}/finish`.
#[utoipa::path(post, path = "/jobs/{id}/finish", tag = "daemon protocol",
    params(("id" = Uuid, Path, description = "job id")),
    request_body(content = serde_json::Value, description = "FinishRequest: {outcome, error, warnings, progress}"),
    responses((status = 200, description = "the job ended", body = schema::JobAck),
              (status = 401, description = "unknown or revoked key", body = ErrorBody),
              (status = 409, description = "not registered, or not this daemon's job", body = ErrorBody)))]
pub async fn finish(
    State(state): State<AppState>,
    DaemonCaller(key): DaemonCaller,
    Path(id): Path<Uuid>,
    ApiJson(f): ApiJson<FinishRequest>,
) -> ApiResult<axum::Json<JobAck>> {
    let d = daemon_of(&state, &key).await?;
    held_run(&state, d.network, id).await?;
    Ok(axum::Json(finish_job(&state, d.id, id, &f).await?))
}

/// Tells a push daemon to stop a job it runs, at the URL an admin approved, on a task of its
/// own (a slow daemon delays nothing; it also stops at its next call, or when its lease ends).
pub async fn cancel_pushed(state: &AppState, run: &ScanRun) {
    let Some(daemon) = run.daemon else { return };
    if run.status != RunStatus::Running {
        return;
    }
    let Ok(daemons) = state.store.daemons().await else {
        return;
    };
    let Some(d) = daemons
        .into_iter()
        .find(|d| d.id == daemon && d.mode == scanopy_core::protocol::DaemonMode::Push)
    else {
        return;
    };
    let Some(url) = d.approved_url.clone() else {
        return;
    };
    let (st, id) = (state.clone(), run.id);
    tokio::spawn(async move {
        if let Err(e) = crate::push::cancel_job(&st, &url, d.id, id).await {
            tracing::warn!(daemon = %d.name, error = %format_args!("{e:#}"), "could not tell a push daemon to cancel; it stops at its next call");
        }
    });
}

/// Stops a job of the local daemon.
pub fn cancel_local(state: &AppState, run: Uuid) {
    if let Some(t) = state
        .local_jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&run)
    {
        t.cancel();
    }
}

/// Runs the scheduler and the push dispatcher until the process ends.
pub async fn background(state: AppState) {
    let mut last_schedules = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        if last_schedules.elapsed() >= Duration::from_secs(15) {
            last_schedules = std::time::Instant::now();
            match state.store.take_due_schedules(Utc::now()).await {
                Ok(due) => {
                    for s in due {
                        let run = scanopy_store::NewScanRun {
                            network: s.network,
                            daemon: s.daemon,
                            config: s.config,
                            targets: s.targets,
                        };
                        match state.store.enqueue_scan(run).await {
                            Ok(r) => {
                                tracing::info!(schedule = %s.id, scan = %r.id, "scheduled scan queued")
                            }
                            Err(e) => {
                                tracing::warn!(schedule = %s.id, error = %e, "could not queue a scheduled scan")
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "schedules not checked"),
            }
        }
        dispatch_push(&state).await;
        tokio::select! {
            _ = state.kick.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Claims jobs for push daemons and sends them, each call on a task of its own with its own
/// deadline ([`crate::push::CALL_DEADLINE`]), so a slow daemon delays no other. A daemon is
/// called only at the URL an admin approved (`approved_url`), never at the one it announced.
async fn dispatch_push(state: &AppState) {
    let Ok(daemons) = state.store.daemons().await else {
        return;
    };
    let now = Utc::now();
    // A push daemon runs one job at a time: one that holds a running job gets no other (a job
    // being handed over is running too, from its claim until the call fails and releases it).
    let busy: std::collections::BTreeSet<Uuid> = match state.store.scan_runs(None, 1000, None).await
    {
        Ok(page) => page
            .items
            .iter()
            .filter(|r| r.status == RunStatus::Running && r.lease_until.is_some_and(|l| l > now))
            .filter_map(|r| r.daemon)
            .collect(),
        Err(_) => return,
    };
    for d in daemons.into_iter().filter(|d| {
        d.mode == scanopy_core::protocol::DaemonMode::Push
            && d.approved_url.is_some()
            && now - d.last_seen < chrono::Duration::seconds(120)
            && !busy.contains(&d.id)
    }) {
        let Some(url) = d.approved_url.clone() else {
            continue;
        };
        let job = match state.store.claim_job(d.id, d.network, LEASE).await {
            Ok(Some(j)) => j,
            _ => continue,
        };
        let st = state.clone();
        tokio::spawn(async move {
            let pushed = match job_for(&st, &job).await {
                Ok(j) => crate::push::start_job(&st, &url, d.id, &j).await,
                Err(e) => Err(anyhow::anyhow!("{e:?}")),
            };
            match pushed {
                Ok(()) => {
                    tracing::info!(job = %job.id, daemon = %d.name, "job pushed");
                    st.tell(
                        "scan_progress",
                        ScanUpdate::status(job.id, RunStatus::Running),
                    );
                }
                Err(e) => {
                    // Back to the queue at once.
                    let _ = st.store.release_job(job.id, d.id).await;
                    st.metrics.inc("push_failures");
                    tracing::warn!(job = %job.id, daemon = %d.name, error = %format_args!("{e:#}"), "could not push a job; it goes back to the queue");
                }
            }
        });
    }
}

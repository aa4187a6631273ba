//! The local daemon: scans the networks this host is attached to, in-process, on a schedule
//! (hourly by default) and once at first start.
//!
//! Scans run on a thread of their own with a current-thread runtime (the scanners are fastest
//! that way); their results go to the store through the same code as a remote daemon's.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use scanopy_core::protocol::{
    FinishRequest, Job, JobAck, ListenRequest, ProgressSnapshot, ResultsBatch,
};
use scanopy_core::{PortSpec, ScanConfig, TargetSpec};
use scanopy_daemon::service::{self, JobSink, SinkError};
use scanopy_store::{NewDaemon, NewScanRun, NewSchedule};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::ServerConfig;
use crate::jobs;
use crate::state::{AppState, LocalDaemonInfo};

/// The name of the network the local daemon documents.
pub const NETWORK_NAME: &str = "local";

struct StoreSink {
    state: AppState,
    daemon: Uuid,
    main: tokio::runtime::Handle,
}

impl StoreSink {
    /// Runs `f` on the server's runtime (where the store's connections live); its error, or
    /// the task's end without an answer, is the sink's error.
    async fn on_main<T, E>(
        &self,
        f: impl std::future::Future<Output = Result<T, E>> + Send + 'static,
    ) -> Result<T, SinkError>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.main
            .spawn(f)
            .await
            .map_err(SinkError::other)?
            .map_err(SinkError::other)
    }
}

#[async_trait]
impl JobSink for StoreSink {
    async fn results(&self, job: Uuid, batch: ResultsBatch) -> Result<JobAck, SinkError> {
        let (state, daemon) = (self.state.clone(), self.daemon);
        self.on_main(async move { jobs::apply_results(&state, daemon, job, &batch).await })
            .await
    }

    async fn progress(&self, job: Uuid, p: ProgressSnapshot) -> Result<JobAck, SinkError> {
        let (state, daemon) = (self.state.clone(), self.daemon);
        self.on_main(async move { jobs::record_progress(&state, daemon, job, p).await })
            .await
    }

    async fn finish(&self, job: Uuid, f: FinishRequest) -> Result<JobAck, SinkError> {
        let (state, daemon) = (self.state.clone(), self.daemon);
        self.on_main(async move { jobs::finish_job(&state, daemon, job, &f).await })
            .await
    }
}

#[async_trait]
impl scanopy_daemon::passive::ListenSink for StoreSink {
    async fn open_listen(&self, req: &ListenRequest) -> Result<Job, SinkError> {
        let (state, daemon, req) = (self.state.clone(), self.daemon, req.clone());
        self.on_main(async move {
            let d = state
                .store
                .daemons()
                .await?
                .into_iter()
                .find(|d| d.id == daemon)
                .ok_or_else(|| crate::error::ApiError::not_found("the local daemon's record"))?;
            jobs::open_listen(&state, &d, &req).await
        })
        .await
    }
}

/// Registers this server's local daemon in the network [`NETWORK_NAME`] (made when missing):
/// one record per server instance ([`AppState::instance`](crate::state::Inner::instance)), so
/// servers sharing a database each have their own. Returns it and its network.
pub async fn register(
    state: &AppState,
    caps: &scanopy_core::protocol::Capabilities,
) -> anyhow::Result<(scanopy_store::Daemon, scanopy_core::Network)> {
    let store = &state.store;
    let nets = store.networks().await?;
    let network = match nets.iter().find(|n| n.name == NETWORK_NAME) {
        Some(n) => n.clone(),
        None => store.create_network(NETWORK_NAME, &caps.subnets).await?,
    };
    let name = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this server".into());
    let daemon = store
        .register_daemon(NewDaemon {
            network: network.id,
            key_id: None,
            name: format!("{name} (local)"),
            capabilities: caps.clone(),
            local: true,
            // Each server's local daemon is its own record, on a database several share.
            instance: Some(state.instance.clone()),
        })
        .await?;
    Ok((daemon, network))
}

/// Registers the local daemon and its network, queues the first discovery at first start, and
/// starts its claim loop and scan thread.
pub async fn start(state: AppState, config: &ServerConfig) -> anyhow::Result<()> {
    let opts = scanopy_daemon::setup::SetupOptions {
        snmp: scanopy_daemon::setup::credentials(&config.snmp_community, &config.snmp_v3)
            .map_err(|e| anyhow::anyhow!(e))?,
        ..Default::default()
    };
    // Opened first, so the capabilities registered say where it listens.
    let ears = if config.no_passive {
        None
    } else {
        match scanopy_daemon::passive::Ears::open() {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(
                    "the local daemon does not listen passively: {e} (needs CAP_NET_RAW; \
                     --no-passive silences this)"
                );
                None
            }
        }
    };
    let caps = service::capabilities();
    let subnets = caps.subnets.clone();
    let store = state.store.clone();
    let (daemon, network) = register(&state, &caps).await?;
    let mut warnings = Vec::new();
    if !caps.raw_sockets {
        warnings.push(
            "The local daemon has no CAP_NET_RAW: it finds hosts by TCP probes and the neighbour \
             table instead of ARP, and connects to ports instead of a SYN sweep. Grant it with \
             `sudo setcap cap_net_raw+ep $(which scanopy-server)`."
                .to_owned(),
        );
    }
    if subnets.is_empty() {
        warnings.push(
            "This host has no attached IPv4 subnet (only loopback or link-local): the local \
             daemon has nothing to document. Attach a daemon on each network you want mapped."
                .to_owned(),
        );
    }
    *state.local.lock().unwrap_or_else(|p| p.into_inner()) = Some(LocalDaemonInfo {
        id: Some(daemon.id),
        raw_sockets: caps.raw_sockets,
        docker: caps.docker,
        subnets: subnets.clone(),
        listening: caps.listening.clone(),
        warnings,
    });

    let ports: PortSpec = config.local_ports.parse().context("--local-ports")?;
    let scan_config = ScanConfig {
        targets: TargetSpec {
            include: subnets.iter().map(|s| s.to_string()).collect(),
            exclude: Vec::new(),
        },
        ports,
        ..ScanConfig::default()
    };
    let has_schedule = store
        .schedules()
        .await?
        .iter()
        .any(|s| s.daemon == Some(daemon.id));
    if !has_schedule && !subnets.is_empty() {
        let every = config.local_scan_minutes.max(1);
        store
            .create_schedule(NewSchedule {
                network: network.id,
                daemon: Some(daemon.id),
                every_minutes: every,
                config: scan_config.clone(),
                targets: subnets.clone(),
                first_run: chrono::Utc::now() + chrono::Duration::minutes(every),
            })
            .await?;
        // The first discovery, now.
        let run = store
            .enqueue_scan(NewScanRun {
                network: network.id,
                daemon: Some(daemon.id),
                config: scan_config,
                targets: subnets.clone(),
            })
            .await?;
        tracing::info!(scan = %run.id, subnets = ?subnets, "first discovery of the attached networks queued");
    }

    let (tx, rx) = tokio::sync::mpsc::channel::<Work>(1);
    let sink = Arc::new(StoreSink {
        state: state.clone(),
        daemon: daemon.id,
        main: tokio::runtime::Handle::current(),
    });
    if let Some(ears) = ears {
        let sink = Arc::clone(&sink);
        tokio::spawn(async move {
            scanopy_daemon::passive::run(
                &*sink,
                ears,
                Default::default(),
                std::time::Duration::from_secs(30),
                CancellationToken::new(),
            )
            .await;
        });
    }
    std::thread::Builder::new()
        .name("local-daemon".into())
        .spawn(move || scan_thread(rx, sink, opts))?;
    tokio::spawn(claim_loop(state, daemon.id, network.id, tx));
    Ok(())
}

/// A job for the scan thread, with the permit that says it is busy.
type Work = (Job, CancellationToken, tokio::sync::OwnedSemaphorePermit);

fn scan_thread(
    mut rx: tokio::sync::mpsc::Receiver<Work>,
    sink: Arc<StoreSink>,
    opts: scanopy_daemon::setup::SetupOptions,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "the local daemon cannot start its runtime");
            return;
        }
    };
    while let Some((job, cancel, busy)) = rx.blocking_recv() {
        let outcome = rt.block_on(service::run_job_with(&job, sink.as_ref(), cancel, &opts));
        tracing::info!(job = %job.id, outcome = ?outcome, "local scan ended");
        sink.state
            .local_jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&job.id);
        drop(busy);
    }
}

async fn claim_loop(
    state: AppState,
    daemon: Uuid,
    network: Uuid,
    tx: tokio::sync::mpsc::Sender<Work>,
) {
    // One job at a time: claim only when the scan thread is free, so that no claimed job
    // waits while its lease runs out.
    let idle = Arc::new(tokio::sync::Semaphore::new(1));
    loop {
        let Ok(busy) = idle.clone().acquire_owned().await else {
            return;
        };
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        let _ = state.store.touch_daemon(daemon).await;
        match state.store.claim_job(daemon, network, jobs::LEASE).await {
            Ok(Some(run)) => {
                let cancel = CancellationToken::new();
                state
                    .local_jobs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(run.id, cancel.clone());
                tracing::info!(job = %run.id, "the local daemon starts a scan");
                state.tell(
                    "scan_progress",
                    crate::state::ScanUpdate::status(run.id, scanopy_store::RunStatus::Running),
                );
                let job = match jobs::job_for(&state, &run).await {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::warn!(job = %run.id, "the network's SNMP credentials could not be read: {e:?}");
                        Job {
                            id: run.id,
                            network: run.network,
                            config: run.config,
                            lease_ms: jobs::LEASE.as_millis() as u64,
                            snmp: Default::default(),
                        }
                    }
                };
                permit.send((job, cancel, busy));
                continue;
            }
            Ok(None) => drop((permit, busy)),
            Err(e) => {
                drop((permit, busy));
                tracing::debug!(error = %e, "the local daemon could not ask for work");
            }
        }
        tokio::select! {
            _ = state.kick.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
        }
    }
}

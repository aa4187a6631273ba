use std::collections::HashSet;
use std::sync::Mutex;

use scanopy_core::{Fact, PortSpec, ScanConfig, TargetSpec};

use super::*;

/// Keeps everything it is given; acks with `cancel` once `cancel_after` batches arrived.
#[derive(Default)]
struct MemorySink {
    batches: Mutex<Vec<ResultsBatch>>,
    finishes: Mutex<Vec<FinishRequest>>,
    progress: Mutex<u32>,
    cancel_after: Option<usize>,
    cancel_progress_after: Option<u32>,
    fail_results: bool,
}

#[async_trait::async_trait]
impl JobSink for MemorySink {
    async fn results(&self, _job: Uuid, batch: ResultsBatch) -> Result<JobAck, SinkError> {
        if self.fail_results {
            return Err(SinkError::other("the spool is full (test)"));
        }
        let mut b = self.batches.lock().unwrap();
        b.push(batch);
        Ok(JobAck {
            applied: true,
            cancel: self.cancel_after.is_some_and(|n| b.len() >= n),
        })
    }
    async fn progress(&self, _job: Uuid, _p: ProgressSnapshot) -> Result<JobAck, SinkError> {
        let mut n = self.progress.lock().unwrap();
        *n += 1;
        Ok(JobAck {
            applied: false,
            cancel: self.cancel_progress_after.is_some_and(|k| *n >= k),
        })
    }
    async fn finish(&self, _job: Uuid, finish: FinishRequest) -> Result<JobAck, SinkError> {
        self.finishes.lock().unwrap().push(finish);
        Ok(JobAck::default())
    }
}

fn job(ports: &str, rate: Option<u32>) -> Job {
    Job {
        id: Uuid::new_v4(),
        network: Uuid::new_v4(),
        config: ScanConfig {
            targets: TargetSpec::new(&["127.0.0.1"], &[] as &[&str]).unwrap(),
            ports: ports.parse::<PortSpec>().unwrap(),
            scanners: vec!["tcp".into()],
            rate,
            timeout_ms: 300,
            ..ScanConfig::default()
        },
        lease_ms: 60_000,
        snmp: Default::default(),
    }
}

fn open_ports(batches: &[ResultsBatch]) -> HashSet<u16> {
    batches
        .iter()
        .flat_map(|b| &b.observations)
        .filter_map(|o| match &o.fact {
            Fact::Port(p) if p.state == scanopy_core::PortState::Open => Some(p.port),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_job_streams_batches_with_fresh_ids_and_finishes_once() {
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let list = ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let sink = MemorySink::default();
    let outcome = run_job(&job(&list, None), &sink, CancellationToken::new()).await;
    assert_eq!(outcome, JobOutcome::Done);
    let batches = sink.batches.lock().unwrap();
    let ids: HashSet<Uuid> = batches.iter().map(|b| b.batch_id).collect();
    assert_eq!(ids.len(), batches.len(), "every batch has its own id");
    assert!(batches.iter().all(|b| !b.observations.is_empty()));
    assert!(batches.iter().all(|b| b.observations.len() <= MAX_BATCH));
    assert_eq!(open_ports(&batches), ports.iter().copied().collect());
    let finishes = sink.finishes.lock().unwrap();
    assert_eq!(finishes.len(), 1);
    assert_eq!(finishes[0].outcome, JobOutcome::Done);
    assert!(finishes[0].progress.ports_probed >= 3);
}

#[tokio::test]
async fn a_config_that_cannot_run_fails_with_the_reason() {
    let mut j = job("80", None);
    j.config.scanners = vec!["nmap".into()];
    let sink = MemorySink::default();
    assert_eq!(
        run_job(&j, &sink, CancellationToken::new()).await,
        JobOutcome::Failed
    );
    let f = sink.finishes.lock().unwrap();
    assert!(f[0].error.as_deref().unwrap().contains("\"nmap\""), "{f:?}");
    assert!(sink.batches.lock().unwrap().is_empty());
}

#[tokio::test]
async fn cancellation_stops_the_job_promptly() {
    // 2,000 ports at 200 per second would take 10 s.
    let sink = MemorySink::default();
    let cancel = CancellationToken::new();
    let j = job("20000-21999", Some(200));
    let t0 = std::time::Instant::now();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        c.cancel();
    });
    assert_eq!(run_job(&j, &sink, cancel).await, JobOutcome::Cancelled);
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert_eq!(
        sink.finishes.lock().unwrap()[0].outcome,
        JobOutcome::Cancelled
    );
}

#[tokio::test]
async fn an_ack_saying_cancel_stops_the_job() {
    // The server says so in its answer to a progress report (about every second).
    let sink = MemorySink {
        cancel_progress_after: Some(1),
        ..MemorySink::default()
    };
    let j = job("20000-21999", Some(200));
    let t0 = std::time::Instant::now();
    assert_eq!(
        run_job(&j, &sink, CancellationToken::new()).await,
        JobOutcome::Cancelled
    );
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn a_sink_that_refuses_results_fails_the_job_naming_why() {
    let sink = MemorySink {
        fail_results: true,
        ..MemorySink::default()
    };
    let j = job("20000-20199", Some(400));
    assert_eq!(
        run_job(&j, &sink, CancellationToken::new()).await,
        JobOutcome::Failed
    );
    let f = sink.finishes.lock().unwrap();
    assert!(
        f[0].error.as_deref().unwrap().contains("spool is full"),
        "{f:?}"
    );
}

#[tokio::test]
async fn a_scan_whose_progress_stands_still_is_stopped_as_stalled() {
    // A service that accepts and never speaks: identifying it moves no counter for seconds,
    // longer than this job's stall timeout.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let mut j = job(&port.to_string(), None);
    j.config.stall_timeout_ms = 300;
    let sink = MemorySink::default();
    let t0 = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        run_job(&j, &sink, CancellationToken::new()),
    )
    .await
    .expect("the job ends");
    assert_eq!(outcome, JobOutcome::Failed);
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    let f = sink.finishes.lock().unwrap();
    let error = f[0].error.as_deref().unwrap();
    assert!(
        error.contains("stalled") && error.contains("300 ms"),
        "{error}"
    );
    assert!(f[0].warnings.iter().any(|w| w.contains("stalled")), "{f:?}");
    // Stopped before the first progress report (1 s in): no renewal after the stall.
    assert_eq!(*sink.progress.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_job_past_its_maximum_duration_is_stopped_saying_so() {
    // 2,000 ports at 200 per second would take 10 s; the job may run 700 ms.
    let mut j = job("20000-21999", Some(200));
    j.config.max_duration_ms = 700;
    let sink = MemorySink::default();
    let t0 = std::time::Instant::now();
    let outcome = run_job(&j, &sink, CancellationToken::new()).await;
    assert_eq!(outcome, JobOutcome::Failed);
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    let f = sink.finishes.lock().unwrap();
    let error = f[0].error.as_deref().unwrap();
    assert!(error.contains("maximum duration of 700 ms"), "{error}");
    // What it found until then was still handed over.
    assert!(f[0].progress.ports_probed > 0);
}

#[tokio::test]
async fn a_scan_that_keeps_advancing_is_not_a_stall() {
    // 200 refused ports at 400 per second: the counters move every few milliseconds.
    let mut j = job("20000-20199", Some(400));
    j.config.stall_timeout_ms = 300;
    let sink = MemorySink::default();
    assert_eq!(
        run_job(&j, &sink, CancellationToken::new()).await,
        JobOutcome::Done
    );
}

/// A job's SNMP credentials (its network's, from the server) read the test LAN router's agent:
/// with none, the scanner's `public` gets no answer; with the job's community, and with the
/// job's SNMPv3 user, the router is read (its 161/udp with its name).
#[test]
fn a_jobs_snmp_credentials_are_used_before_the_daemons_own() {
    if !scanopy_testlan::require("a_jobs_snmp_credentials_are_used_before_the_daemons_own") {
        return;
    }
    fn read_router(snmp: scanopy_core::protocol::JobSnmp) -> Option<String> {
        let mut j = job("161", None);
        j.config.targets =
            TargetSpec::new(&[scanopy_testlan::ROUTER_IP.to_string()], &[] as &[&str]).unwrap();
        j.config.scanners = vec!["snmp".into()];
        j.config.timeout_ms = 500;
        j.snmp = snmp;
        scanopy_testlan::in_scanner_ns(move || async move {
            let sink = MemorySink::default();
            run_job_with(
                &j,
                &sink,
                CancellationToken::new(),
                &SetupOptions::default(),
            )
            .await;
            let batches = sink.batches.lock().unwrap();
            batches
                .iter()
                .flat_map(|b| &b.observations)
                .find_map(|o| match &o.fact {
                    Fact::Port(p) if p.port == 161 => {
                        Some(p.extra.get("snmp.sysName").cloned().unwrap_or_default())
                    }
                    _ => None,
                })
        })
    }
    assert_eq!(
        read_router(Default::default()),
        None,
        "public is not its community"
    );
    let community = scanopy_core::protocol::JobSnmp {
        communities: vec![scanopy_testlan::CAMPUS_COMMUNITY.into()],
        users: Vec::new(),
    };
    assert_eq!(read_router(community).as_deref(), Some("router.lab.test"));
    let parts: Vec<&str> = scanopy_testlan::ROUTER_V3_USERS[1].split(':').collect();
    let user = crate::setup::snmp_user(
        parts[0],
        Some((parts[1], parts[2])),
        Some((parts[3], parts[4])),
    )
    .unwrap();
    let v3 = scanopy_core::protocol::JobSnmp {
        communities: Vec::new(),
        users: vec![user],
    };
    assert_eq!(read_router(v3).as_deref(), Some("router.lab.test"));
}

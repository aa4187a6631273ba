//! `scanopy-daemon run` as a real process against a mock server written here with axum (the
//! real server's end-to-end tests live with the server). Every scan targets 127.0.0.1 only,
//! with explicit ports.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use scanopy_core::protocol::{
    FinishRequest, Job, JobAck, JobOutcome, PollResponse, RegisterRequest, RegisterResponse,
    ResultsBatch,
};
use scanopy_core::{Fact, PortState, ScanConfig, TargetSpec};
use serde_json::json;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_scanopy-daemon");
const KEY: &str = "sk-daemon-7f3c9a1e5b2d4c6e8a0b";

/// What the mock server saw, kept across its restarts.
#[derive(Default)]
struct Seen {
    key: String,
    job: Mutex<Option<Job>>,
    job_taken: AtomicBool,
    registers: Mutex<Vec<RegisterRequest>>,
    /// Batches applied, in order of first arrival.
    batches: Mutex<Vec<ResultsBatch>>,
    /// Every results call by batch id (a retry shows here, never in `batches`).
    calls: Mutex<HashMap<Uuid, u32>>,
    /// Ends applied, with the number of batches applied before each.
    finishes: Mutex<Vec<(FinishRequest, usize)>>,
    finished_jobs: Mutex<HashSet<Uuid>>,
    polls: AtomicU32,
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"code": "unauthorized", "message": "unknown daemon key"}})),
    )
        .into_response()
}

fn authorized(seen: &Seen, h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", seen.key))
}

async fn register(
    State(seen): State<Arc<Seen>>,
    h: HeaderMap,
    Json(req): Json<RegisterRequest>,
) -> Response {
    if !authorized(&seen, &h) {
        return unauthorized();
    }
    seen.registers.lock().unwrap().push(req);
    Json(RegisterResponse {
        daemon_id: Uuid::from_u128(1),
        network_id: Uuid::from_u128(2),
        poll_interval_ms: 100,
    })
    .into_response()
}

async fn poll(State(seen): State<Arc<Seen>>, h: HeaderMap) -> Response {
    if !authorized(&seen, &h) {
        return unauthorized();
    }
    seen.polls.fetch_add(1, Ordering::SeqCst);
    let job = seen.job.lock().unwrap().take();
    if job.is_some() {
        seen.job_taken.store(true, Ordering::SeqCst);
    }
    Json(PollResponse { job }).into_response()
}

async fn results(
    State(seen): State<Arc<Seen>>,
    UrlPath(_job): UrlPath<Uuid>,
    h: HeaderMap,
    Json(batch): Json<ResultsBatch>,
) -> Response {
    if !authorized(&seen, &h) {
        return unauthorized();
    }
    let first = {
        let mut calls = seen.calls.lock().unwrap();
        let n = calls.entry(batch.batch_id).or_default();
        *n += 1;
        *n == 1
    };
    if first {
        seen.batches.lock().unwrap().push(batch);
    }
    Json(JobAck {
        applied: first,
        cancel: false,
    })
    .into_response()
}

async fn progress(State(seen): State<Arc<Seen>>, h: HeaderMap) -> Response {
    if !authorized(&seen, &h) {
        return unauthorized();
    }
    Json(JobAck::default()).into_response()
}

async fn finish(
    State(seen): State<Arc<Seen>>,
    UrlPath(job): UrlPath<Uuid>,
    h: HeaderMap,
    Json(f): Json<FinishRequest>,
) -> Response {
    if !authorized(&seen, &h) {
        return unauthorized();
    }
    let mut finishes = seen.finishes.lock().unwrap();
    if !seen.finished_jobs.lock().unwrap().insert(job) {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": {"code": "conflict", "message": "finished already"}})),
        )
            .into_response();
    }
    finishes.push((f, seen.batches.lock().unwrap().len()));
    Json(JobAck::default()).into_response()
}

/// The mock server: its own runtime, so that stopping it closes every socket at once.
struct Mock {
    seen: Arc<Seen>,
    port: u16,
    rt: Option<tokio::runtime::Runtime>,
}

impl Mock {
    fn new(key: &str, job: Option<Job>) -> Mock {
        let seen = Arc::new(Seen {
            key: key.to_owned(),
            job: Mutex::new(job),
            ..Seen::default()
        });
        let mut m = Mock {
            seen,
            port: 0,
            rt: None,
        };
        m.start();
        m
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let app = axum::Router::new()
            .route("/api/v1/daemon/register", post(register))
            .route("/api/v1/daemon/heartbeat", post(register))
            .route("/api/v1/daemon/poll", post(poll))
            .route("/api/v1/daemon/jobs/{id}/results", post(results))
            .route("/api/v1/daemon/jobs/{id}/progress", post(progress))
            .route("/api/v1/daemon/jobs/{id}/finish", post(finish))
            .with_state(Arc::clone(&self.seen));
        let port = self.port;
        let listener = rt.block_on(async move {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.set_reuseaddr(true).unwrap();
            s.bind(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
            s.listen(128).unwrap()
        });
        self.port = listener.local_addr().unwrap().port();
        rt.spawn(async move { axum::serve(listener, app).await });
        self.rt = Some(rt);
    }

    /// Stops listening and drops every connection.
    fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Listeners on 127.0.0.1 at ports spread over `base..base+span` (those free), kept open.
fn listeners(base: u16, span: u16, n: u16) -> (Vec<TcpListener>, Vec<u16>) {
    let mut ls = Vec::new();
    for i in 0..n {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", base + i * (span / n) + 3)) {
            ls.push(l);
        }
    }
    let ports = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
    (ls, ports)
}

fn job(ports: &str, rate: Option<u32>) -> Job {
    Job {
        id: Uuid::new_v4(),
        network: Uuid::from_u128(2),
        config: ScanConfig {
            targets: TargetSpec::new(&["127.0.0.1"], &[] as &[&str]).unwrap(),
            ports: ports.parse().unwrap(),
            scanners: vec!["tcp".into()],
            rate,
            timeout_ms: 300,
            ..ScanConfig::default()
        },
        lease_ms: 60_000,
        snmp: Default::default(),
    }
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(server: &str, key: &str, data: &Path, extra: &[&str]) -> Daemon {
        let log = data.with_extension(format!("{}.log", Uuid::new_v4()));
        // Without CAP_NET_RAW (root has it): the TCP scanner connects, so results come as
        // ports are found, in several batches over the job; a SYN sweep would report every
        // port only after sweeping them all, in one batch at the end.
        let mut cmd = if nix::unistd::geteuid().is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--inh-caps=-net_raw", "--bounding-set=-net_raw", BIN]);
            c
        } else {
            Command::new(BIN)
        };
        let child = cmd
            .args(["run", "--server", server, "--retry-max-ms", "400"])
            .arg("--data-dir")
            .arg(data)
            .args(extra)
            .env("SCANOPY_KEY", key)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, sig);
    }

    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool, d: &Daemon) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < limit,
            "timed out waiting for {what}; daemon log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spool_files(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("spool"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default()
}

fn spooled_finish(data: &Path) -> bool {
    spool_files(data).iter().any(|n| {
        std::fs::read_to_string(data.join("spool").join(n))
            .is_ok_and(|t| t.starts_with("{\"kind\":\"finish\""))
    })
}

fn open_ports(seen: &Seen) -> HashSet<u16> {
    seen.batches
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b.observations.clone())
        .filter_map(|o| match o.fact {
            Fact::Port(p) if p.state == PortState::Open => Some(p.port),
            _ => None,
        })
        .collect()
}

/// Every batch applied once, every open port present, one end, after every batch.
fn assert_complete(seen: &Seen, ports: &[u16], d: &Daemon) {
    let batches = seen.batches.lock().unwrap();
    let ids: HashSet<Uuid> = batches.iter().map(|b| b.batch_id).collect();
    assert_eq!(ids.len(), batches.len(), "a batch was applied twice");
    let obs: Vec<_> = batches.iter().flat_map(|b| &b.observations).collect();
    let unique: HashSet<String> = obs
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    assert_eq!(unique.len(), obs.len(), "an observation arrived twice");
    drop(batches);
    assert_eq!(
        open_ports(seen),
        ports.iter().copied().collect(),
        "{}",
        d.log()
    );
    let finishes = seen.finishes.lock().unwrap();
    assert_eq!(finishes.len(), 1);
    assert_eq!(finishes[0].0.outcome, JobOutcome::Done, "{:?}", finishes[0]);
    assert_eq!(
        finishes[0].1,
        seen.batches.lock().unwrap().len(),
        "the end arrived after every batch"
    );
}

#[test]
fn run_pull_registers_polls_runs_the_job_and_delivers_results_and_end() {
    let (_ls, ports) = listeners(21000, 300, 3);
    let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    let mock = Mock::new(KEY, Some(job(&list.join(","), None)));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut d = Daemon::start(&mock.url(), KEY, &data, &["--name", "lab-daemon"]);
    wait_for(
        "the end of the job",
        Duration::from_secs(20),
        || !mock.seen.finishes.lock().unwrap().is_empty(),
        &d,
    );
    {
        let regs = mock.seen.registers.lock().unwrap();
        assert_eq!(regs[0].name, "lab-daemon");
        assert_eq!(regs[0].capabilities.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            regs[0].capabilities.mode,
            scanopy_core::protocol::DaemonMode::Pull
        );
    }
    assert_complete(&mock.seen, &ports, &d);
    wait_for(
        "an empty spool",
        Duration::from_secs(5),
        || spool_files(&data).is_empty(),
        &d,
    );
    d.signal(nix::sys::signal::Signal::SIGTERM);
    let status = d.wait(Duration::from_secs(10)).expect("SIGTERM stops it");
    assert!(status.success(), "{}", d.log());
    assert!(!d.log().contains(KEY), "the key is never logged");
}

#[test]
fn run_with_a_wrong_key_is_refused_exits_1_and_never_logs_the_key() {
    let mock = Mock::new(KEY, None);
    let dir = tempfile::tempdir().unwrap();
    let wrong = "sk-wrong-1d2e3f4a5b6c7d8e9f";
    let mut d = Daemon::start(&mock.url(), wrong, &dir.path().join("data"), &[]);
    let status = d
        .wait(Duration::from_secs(10))
        .expect("a refused key stops the daemon");
    assert_eq!(status.code(), Some(1), "{}", d.log());
    let log = d.log();
    assert!(log.contains("the server refused the key"), "{log}");
    assert!(!log.contains(wrong), "the key leaked into the log: {log}");
    assert!(!log.contains(KEY));
    assert_eq!(mock.seen.polls.load(Ordering::SeqCst), 0);
}

/// A job of ~6 s at 100 probes per second over 600 ports, 6 of them open and spread out, so
/// results come in several batches, about a second apart (with the connect scan: see
/// [`Daemon::start`]), and a test that stops the server once the job is taken still finds
/// several batches to spool on a loaded machine.
fn long_job(base: u16) -> (Vec<TcpListener>, Vec<u16>, Job) {
    let (ls, ports) = listeners(base, 600, 6);
    assert_eq!(ports.len(), 6, "ports {base}-{} are busy", base + 599);
    let j = job(&format!("{base}-{}", base + 599), Some(100));
    (ls, ports, j)
}

#[test]
fn run_pull_with_the_server_down_mid_job_spools_then_delivers_everything_once_end_last() {
    let (_ls, ports, j) = long_job(22000);
    let mut mock = Mock::new(KEY, Some(j));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&mock.url(), KEY, &data, &[]);
    wait_for(
        "the job to be taken",
        Duration::from_secs(10),
        || mock.seen.job_taken.load(Ordering::SeqCst),
        &d,
    );
    mock.stop();
    wait_for(
        "the end of the job in the spool",
        Duration::from_secs(20),
        || spooled_finish(&data),
        &d,
    );
    let waiting = spool_files(&data).len();
    assert!(
        waiting >= 3,
        "batches and the end wait in the spool: {waiting} ({} delivered before the stop)\n{}",
        mock.seen.batches.lock().unwrap().len(),
        d.log()
    );
    mock.start();
    wait_for(
        "the end of the job",
        Duration::from_secs(20),
        || !mock.seen.finishes.lock().unwrap().is_empty(),
        &d,
    );
    assert_complete(&mock.seen, &ports, &d);
    wait_for(
        "an empty spool",
        Duration::from_secs(5),
        || spool_files(&data).is_empty(),
        &d,
    );
    assert!(d.log().contains("results stay in the spool"), "{}", d.log());
}

#[test]
fn run_pull_killed_with_a_full_spool_delivers_it_after_a_restart_nothing_lost_or_doubled() {
    let (_ls, ports, j) = long_job(22700);
    let mut mock = Mock::new(KEY, Some(j));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&mock.url(), KEY, &data, &[]);
    wait_for(
        "the job to be taken",
        Duration::from_secs(10),
        || mock.seen.job_taken.load(Ordering::SeqCst),
        &d,
    );
    mock.stop();
    wait_for(
        "the end of the job in the spool",
        Duration::from_secs(20),
        || spooled_finish(&data),
        &d,
    );
    let before = mock.seen.batches.lock().unwrap().len();
    d.signal(nix::sys::signal::Signal::SIGKILL);
    drop(d);
    // At least the end of the job waits in the spool; how many batches joined it depends on
    // how far the scan got before the mock stopped (2 in one CI run, 3+ locally).
    let waiting = spool_files(&data).len();
    eprintln!("{waiting} entries in the spool at the kill");
    assert!(waiting >= 1, "{waiting} entries in the spool");
    mock.start();
    let d = Daemon::start(&mock.url(), KEY, &data, &[]);
    wait_for(
        "the end of the job",
        Duration::from_secs(20),
        || !mock.seen.finishes.lock().unwrap().is_empty(),
        &d,
    );
    assert!(mock.seen.batches.lock().unwrap().len() > before);
    assert_complete(&mock.seen, &ports, &d);
    assert!(
        d.log().contains("left in the spool from before"),
        "{}",
        d.log()
    );
}

#[test]
fn run_push_refuses_unsigned_and_badly_signed_calls_and_runs_a_signed_job() {
    use base64::Engine;
    use scanopy_daemon::push::{PushClient, generate_key};
    let (_ls, ports) = listeners(23000, 300, 2);
    let mock = Mock::new(KEY, None);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = PushClient::new(&generate_key()).unwrap();
    let intruder = PushClient::new(&generate_key()).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let pk = client.public_key_base64();
    let d = Daemon::start(
        &mock.url(),
        KEY,
        &data,
        &[
            "--mode",
            "push",
            "--listen",
            &listen,
            "--server-public-key",
            &pk,
        ],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let t0 = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{url}/api/v1/health")).send().await {
                assert_eq!(r.status(), 200);
                assert_eq!(
                    r.json::<serde_json::Value>().await.unwrap(),
                    json!({"status": "ok"})
                );
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "{}", d.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
        let j = job(&list.join(","), None);
        let body = serde_json::to_vec(&j).unwrap();
        let now = chrono::Utc::now().timestamp();
        let b64 = base64::engine::general_purpose::STANDARD;
        // The mock server registers this daemon as ME; OTHER is another daemon of the server.
        let me = Uuid::from_u128(1);
        let other = Uuid::from_u128(9);
        let (ts_i, sig_i) = intruder.sign("POST", "/api/v1/jobs", me, &body);
        let (ts_s, sig_s) = client.sign("POST", "/api/v1/jobs", me, &body);
        let (ts_o, sig_o) = client.sign("POST", "/api/v1/jobs", other, &body);
        let stale = now - scanopy_core::protocol::MAX_CLOCK_SKEW_SECS - 10;
        type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
        let cases: Vec<Case> = vec![
            ("unsigned", vec![], "missing timestamp header"),
            (
                "signed by another key",
                vec![
                    ("x-scanopy-timestamp", ts_i),
                    ("x-scanopy-signature", sig_i),
                    ("x-scanopy-daemon", me.to_string()),
                ],
                "bad signature",
            ),
            (
                "garbage signature",
                vec![
                    ("x-scanopy-timestamp", now.to_string()),
                    ("x-scanopy-signature", b64.encode([7u8; 64])),
                    ("x-scanopy-daemon", me.to_string()),
                ],
                "bad signature",
            ),
            (
                "stale timestamp",
                vec![
                    ("x-scanopy-timestamp", stale.to_string()),
                    ("x-scanopy-signature", sig_s.clone()),
                    ("x-scanopy-daemon", me.to_string()),
                ],
                "timestamp too far",
            ),
            (
                "signature of another body",
                vec![
                    ("x-scanopy-timestamp", ts_s.clone()),
                    ("x-scanopy-signature", sig_s.clone()),
                    ("x-scanopy-daemon", me.to_string()),
                ],
                "bad signature",
            ),
            (
                "signed by the server for no daemon",
                vec![
                    ("x-scanopy-timestamp", ts_s),
                    ("x-scanopy-signature", sig_s),
                ],
                "missing daemon header",
            ),
            (
                "signed by the server for another daemon",
                vec![
                    ("x-scanopy-timestamp", ts_o.clone()),
                    ("x-scanopy-signature", sig_o.clone()),
                    ("x-scanopy-daemon", other.to_string()),
                ],
                "signed for another daemon",
            ),
            (
                "signed for another daemon, relabelled for this one",
                vec![
                    ("x-scanopy-timestamp", ts_o),
                    ("x-scanopy-signature", sig_o),
                    ("x-scanopy-daemon", me.to_string()),
                ],
                "bad signature",
            ),
        ];
        for (what, headers, why) in cases {
            let mut req = http.post(format!("{url}/api/v1/jobs"));
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let body = if what == "signature of another body" {
                b"{}".to_vec()
            } else {
                body.clone()
            };
            let r = req.body(body).send().await.unwrap();
            assert_eq!(r.status(), 401, "{what}");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthorized", "{what}: {v}");
            let msg = v["error"]["message"].as_str().unwrap_or_default();
            assert!(msg.contains(why), "{what}: {v}");
        }
        assert!(mock.seen.finishes.lock().unwrap().is_empty());
        client
            .start_job(&url, me, &j)
            .await
            .expect("a signed job starts");
        let t0 = Instant::now();
        while mock.seen.finishes.lock().unwrap().is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(20), "{}", d.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A long job, then a second one while it runs (409), then cancel it.
        let long = job("24000-25999", Some(100));
        client
            .start_job(&url, me, &long)
            .await
            .expect("a second job");
        let e = client
            .start_job(&url, me, &job("80", None))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("409"), "{e}");
        client
            .cancel_job(&url, me, long.id)
            .await
            .expect("cancelled");
        let t0 = Instant::now();
        while mock.seen.finishes.lock().unwrap().len() < 2 {
            assert!(t0.elapsed() < Duration::from_secs(10), "{}", d.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let regs = mock.seen.registers.lock().unwrap();
    assert_eq!(
        regs[0].capabilities.mode,
        scanopy_core::protocol::DaemonMode::Push
    );
    assert_eq!(regs[0].capabilities.url.as_deref(), Some(url.as_str()));
    let finishes = mock.seen.finishes.lock().unwrap();
    assert_eq!(finishes[0].0.outcome, JobOutcome::Done);
    assert_eq!(finishes[1].0.outcome, JobOutcome::Cancelled);
    drop(finishes);
    assert_eq!(
        open_ports(&mock.seen),
        ports.iter().copied().collect::<HashSet<_>>()
    );
    let log = d.log();
    assert!(log.contains("refused a push call"), "{log}");
    assert!(!log.contains(KEY));
}

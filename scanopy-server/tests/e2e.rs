//! End to end: a real `scanopy-daemon run` process against a real `scanopy-server` process
//! (issue #5's "against a real server" tests).
//!
//! Both processes run in the test LAN's scanner namespace (`ip netns exec sclan-scan …`), so
//! they meet on that namespace's 127.0.0.1 and every scan reaches only the test LAN; the
//! server always runs with `--no-local-daemon`, and every scan names its targets (in
//! 10.77.0.0/24) and a short port list. The tests reach the server's API from a thread that
//! entered the namespace ([`scanopy_testlan::in_scanner_ns`]). They run one at a time (they
//! share the LAN and the machine's cores) and print what they measured.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use scanopy_core::{Fact, PortState, Transport};
use scanopy_daemon::spool::Entry;
use scanopy_testlan::{Host, MANY, MANY_PORTS, QUIET, SCANNER_NS, SSH, SVC, WEB};
use serde_json::{Value, json};

const SERVER_BIN: &str = env!("CARGO_BIN_EXE_scanopy-server");
const PASSWORD: &str = "e2e-admin-pw-5f1c93";

// ---- the harness -----------------------------------------------------------------------

/// One test at a time: each starts its own server and daemon, and scans the same LAN.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The daemon's binary, built once beside the server's (another package's binary is not
/// built for this package's tests).
fn daemon_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(SERVER_BIN).parent().expect("the binary's folder");
        let target = dir.parent().expect("the target folder");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace");
        let mut c = Command::new(env!("CARGO"));
        c.args([
            "build",
            "--quiet",
            "-p",
            "scanopy-daemon",
            "--bin",
            "scanopy-daemon",
        ])
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target);
        if dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        let t0 = Instant::now();
        let status = c
            .status()
            .expect("failed to run cargo build -p scanopy-daemon");
        assert!(status.success(), "cargo build -p scanopy-daemon: {status}");
        eprintln!(
            "e2e: scanopy-daemon built (or up to date) in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        dir.join("scanopy-daemon")
    })
}

/// A folder under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "scanopy-e2e-{test}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process in the scanner namespace, killed on drop (also when a test panics).
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin args` in the scanner namespace; stdout and stderr are appended to `log`.
    /// No `SCANOPY_*` variable of the test's environment reaches it (CI sets some).
    fn spawn(name: &str, bin: &Path, args: &[String], env: &[(&str, &str)], log: &Path) -> Proc {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", SCANNER_NS])
            .arg(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("SCANOPY_") {
                c.env_remove(k);
            }
        }
        c.env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied());
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig)
            .unwrap_or_else(|e| panic!("failed to send {sig} to {}: {e}", self.name));
    }

    /// SIGKILL, and wait until it is gone.
    fn kill9(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Its exit status, if it ends within `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if t0.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP exchange made from inside the namespace.
struct Req {
    method: &'static str,
    url: String,
    auth: Auth,
    body: Option<Value>,
    reply: mpsc::Sender<Result<Resp, String>>,
}

#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    Cookie(String),
}

struct Resp {
    status: u16,
    body: Value,
    set_cookie: Option<String>,
}

/// A client living on a thread inside the scanner namespace, for the whole test process.
fn ns_http() -> tokio::sync::mpsc::UnboundedSender<Req> {
    static TX: OnceLock<tokio::sync::mpsc::UnboundedSender<Req>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Req>();
        std::thread::spawn(move || {
            scanopy_testlan::in_scanner_ns(move || async move {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("an HTTP client");
                while let Some(r) = rx.recv().await {
                    let mut b = match r.method {
                        "GET" => http.get(&r.url),
                        "PUT" => http.put(&r.url),
                        _ => http.post(&r.url),
                    };
                    match &r.auth {
                        Auth::None => {}
                        Auth::Bearer(t) => b = b.bearer_auth(t),
                        Auth::Cookie(c) => b = b.header("cookie", c),
                    }
                    if let Some(body) = &r.body {
                        b = b.json(body);
                    }
                    let out = async {
                        let resp = b.send().await.map_err(|e| format!("{e:?}"))?;
                        let status = resp.status().as_u16();
                        let set_cookie = resp
                            .headers()
                            .get("set-cookie")
                            .and_then(|v| v.to_str().ok())
                            .map(|v| v.split(';').next().unwrap_or_default().to_owned());
                        let text = resp.text().await.map_err(|e| format!("{e:?}"))?;
                        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                        Ok(Resp {
                            status,
                            body,
                            set_cookie,
                        })
                    }
                    .await;
                    let _ = r.reply.send(out);
                }
            })
        });
        tx
    })
    .clone()
}

fn exchange(
    method: &'static str,
    url: String,
    auth: &Auth,
    body: Option<Value>,
) -> Result<Resp, String> {
    let (reply, rx) = mpsc::channel();
    ns_http()
        .send(Req {
            method,
            url,
            auth: auth.clone(),
            body,
            reply,
        })
        .map_err(|_| "the namespace's HTTP thread is gone".to_owned())?;
    rx.recv_timeout(Duration::from_secs(15))
        .map_err(|_| "the namespace's HTTP thread did not answer".to_owned())?
}

/// Polls `cond` every 100 ms until it holds; on timeout, panics with `context()`.
fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Free TCP ports on the namespace's 127.0.0.1 (bound together, then released).
fn free_ports<const N: usize>() -> [u16; N] {
    scanopy_testlan::in_scanner_ns(|| async {
        let ls: Vec<std::net::TcpListener> = (0..N)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut out = [0u16; N];
        for (o, l) in out.iter_mut().zip(&ls) {
            *o = l.local_addr().unwrap().port();
        }
        out
    })
}

/// A server process, its data dir and port, and what the tests made on it.
struct Server {
    proc: Option<Proc>,
    /// More environment for the server process (`SCANOPY_*` settings).
    env: Vec<(String, String)>,
    port: u16,
    data: PathBuf,
    log: PathBuf,
    token: String,
    network: String,
    key: String,
}

impl Server {
    /// Starts a server on a fresh data dir, signs in, makes an API token, a network for the
    /// LAN and a daemon key.
    fn start(dir: &TempDir, name: &str, port: u16) -> Server {
        Self::start_with(dir, name, port, &[])
    }

    /// As [`Server::start`], with more environment for the process.
    fn start_with(dir: &TempDir, name: &str, port: u16, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            proc: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            port,
            data: dir.join(&format!("{name}-data")),
            log: dir.join(&format!("{name}.log")),
            token: String::new(),
            network: String::new(),
            key: String::new(),
        };
        s.launch();
        let login = s
            .request(
                "POST",
                "/auth/login",
                Auth::None,
                Some(json!({"username": "admin", "password": PASSWORD})),
            )
            .unwrap();
        assert_eq!(login.status, 200, "sign-in: {}", login.body);
        let cookie = Auth::Cookie(login.set_cookie.expect("a session cookie"));
        let t = s
            .request(
                "POST",
                "/tokens",
                cookie,
                Some(json!({"name": "e2e", "role": "admin"})),
            )
            .unwrap();
        assert_eq!(t.status, 201, "token: {}", t.body);
        s.token = t.body["token"].as_str().unwrap().to_owned();
        let n = s.post(
            "/networks",
            json!({"name": "test LAN", "subnets": [scanopy_testlan::LAN]}),
        );
        s.network = n["id"].as_str().unwrap().to_owned();
        let k = s.post(
            "/daemons/keys",
            json!({"name": "e2e daemon", "network": s.network}),
        );
        s.key = k["key"].as_str().unwrap().to_owned();
        assert!(s.key.starts_with("sk_"), "{k}");
        s
    }

    /// Starts the process (again) on the same data dir and port; waits until it answers.
    fn launch(&mut self) {
        assert!(self.proc.is_none(), "the server is running already");
        let args: Vec<String> = vec![
            "--data-dir".into(),
            self.data.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{}", self.port),
            "--no-local-daemon".into(),
        ];
        let mut env: Vec<(&str, &str)> = vec![("SCANOPY_ADMIN_PASSWORD", PASSWORD)];
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let p = Proc::spawn(
            "scanopy-server",
            Path::new(SERVER_BIN),
            &args,
            &env,
            &self.log,
        );
        let p = std::cell::RefCell::new(p);
        wait_for(
            "the server to answer",
            Duration::from_secs(30),
            || {
                if !p.borrow_mut().running() {
                    panic!("the server exited:\n{}", self.log());
                }
                self.request("GET", "/health", Auth::None, None)
                    .ok()
                    .filter(|r| r.status == 200)
            },
            || self.log(),
        );
        self.proc = Some(p.into_inner());
    }

    fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn request(
        &self,
        method: &'static str,
        path: &str,
        auth: Auth,
        body: Option<Value>,
    ) -> Result<Resp, String> {
        exchange(method, format!("{}/api/v1{path}", self.url()), &auth, body)
    }

    fn get(&self, path: &str) -> Value {
        let r = self
            .request("GET", path, Auth::Bearer(self.token.clone()), None)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .request("POST", path, Auth::Bearer(self.token.clone()), Some(body))
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.log()));
        assert!(
            (200..300).contains(&r.status),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }

    /// Queues a scan; its id.
    fn queue(&self, scan: Value) -> String {
        let mut scan = scan;
        scan["network"] = json!(self.network);
        let r = self.post("/scans", scan);
        assert_eq!(r["status"], "queued", "{r}");
        r["id"].as_str().unwrap().to_owned()
    }

    fn scan(&self, id: &str) -> Value {
        self.get(&format!("/scans/{id}"))
    }

    /// The daemon registered with this server's key, once it is listed and online.
    fn wait_daemon(&self, d: &Proc, limit: Duration) -> Value {
        wait_for(
            "the daemon to be listed online",
            limit,
            || {
                self.get("/daemons")["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["online"] == true && x["local"] == false)
                    .cloned()
            },
            || format!("daemon log:\n{}\nserver log:\n{}", d.log(), self.log()),
        )
    }

    /// Waits until scan `id` has ended; its run.
    fn wait_end(&self, id: &str, limit: Duration, d: &Proc) -> Value {
        wait_for(
            "the scan to end",
            limit,
            || {
                let r = self.scan(id);
                (r["finished_at"].is_string()).then_some(r)
            },
            || {
                format!(
                    "scan: {}\ndaemon log:\n{}\nserver log:\n{}",
                    self.scan(id),
                    tail(&d.log()),
                    tail(&self.log())
                )
            },
        )
    }

    /// Waits until scan `id` runs and has reported progress; its run.
    fn wait_progress(&self, id: &str, limit: Duration, d: &Proc) -> Value {
        wait_for(
            "the scan to run and report progress",
            limit,
            || {
                let r = self.scan(id);
                assert!(r["finished_at"].is_null(), "the scan ended too soon: {r}");
                (r["status"] == "running"
                    && r["progress"]["ports_probed"].as_u64().unwrap_or(0) > 0)
                    .then_some(r)
            },
            || format!("daemon log:\n{}\nserver log:\n{}", d.log(), self.log()),
        )
    }

    fn devices(&self) -> Vec<Value> {
        let page = self.get("/devices?limit=1000");
        assert!(page["next_cursor"].is_null(), "more than one page: {page}");
        page["items"].as_array().unwrap().clone()
    }

    /// A Prometheus counter of the server process (0 when absent).
    fn counter(&self, name: &str) -> u64 {
        let r = self
            .request("GET", "/metrics", Auth::Bearer(self.token.clone()), None)
            .unwrap();
        let text = r.body.as_str().unwrap_or_default().to_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("scanopy_{name}_total ")))
            .map_or(0, |v| v.trim().parse().unwrap())
    }
}

/// The last 60 lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Starts `scanopy-daemon run` against `server`, with `extra` options.
fn daemon(server: &Server, data: &Path, log: &Path, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--server".into(),
        server.url(),
        "--key".into(),
        server.key.clone(),
        "--name".into(),
        "e2e".into(),
        "--data-dir".into(),
        data.display().to_string(),
        // Retries of the spool every second at most, so that a test does not wait for the
        // 30 s cap after an outage.
        "--retry-max-ms".into(),
        "1000".into(),
    ];
    // Listening would add what the LAN says by itself to inventories these tests compare
    // exactly; the listening test asks for it.
    if !extra.contains(&"--passive") {
        args.push("--no-passive".into());
    }
    args.extend(
        extra
            .iter()
            .filter(|s| **s != "--passive")
            .map(|s| s.to_string()),
    );
    Proc::spawn("scanopy-daemon", daemon_bin(), &args, &[], log)
}

/// The inventory as (address → open TCP ports); panics on a device or service listed twice.
type Inventory = BTreeMap<Ipv4Addr, BTreeSet<u16>>;

fn inventory(devices: &[Value]) -> Inventory {
    let mut inv = Inventory::new();
    for d in devices {
        let ips: BTreeSet<Ipv4Addr> = d["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["ip"].as_str().unwrap().parse().unwrap())
            .collect();
        let mut seen = BTreeSet::new();
        for s in d["services"].as_array().unwrap() {
            let key = (
                s["ip"].as_str().unwrap().to_owned(),
                s["port"].as_u64().unwrap(),
                s["protocol"].as_str().unwrap().to_owned(),
            );
            assert!(
                seen.insert(key.clone()),
                "service {key:?} listed twice: {d}"
            );
        }
        for ip in ips {
            let ports: BTreeSet<u16> = d["services"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| {
                    s["ip"] == ip.to_string() && s["protocol"] == "tcp" && s["state"] == "open"
                })
                .map(|s| s["port"].as_u64().unwrap() as u16)
                .collect();
            assert!(
                inv.insert(ip, ports).is_none(),
                "{ip} is on two devices: {devices:#?}"
            );
        }
    }
    inv
}

/// What the LAN holds for `hosts` and `ports` (from `scanopy_testlan`'s description).
fn truth(hosts: &[Host], ports: &[u16]) -> Inventory {
    hosts
        .iter()
        .map(|h| {
            let open: BTreeSet<u16> = if h.ip == MANY.ip {
                MANY_PORTS.filter(|p| ports.contains(p)).collect()
            } else {
                h.open_tcp
                    .iter()
                    .copied()
                    .filter(|p| ports.contains(p))
                    .collect()
            };
            (h.ip, open)
        })
        .collect()
}

/// Entries waiting in a daemon's spool.
fn spool(data: &Path) -> Vec<Entry> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(data.join("spool"))
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "json")
                        && p.file_name().is_some_and(|n| {
                            n.to_string_lossy()
                                .starts_with(|c: char| c.is_ascii_digit())
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// The scan of the restart tests: five hosts (one without open ports, one with 200), 802 ports
// each (4,010 SYN probes), rate-limited: at 800 probes per second about 5 s. (199 is left out:
// svc's snmpd listens there for SMUX, which `scanopy_testlan::SVC` does not list.) Each host's
// open ports are reported at the end of its SYN sweep, and the sweeps share the rate, so the
// port observations come at the end of the scan; discovery's come at its start.
const LONG_HOSTS: [Host; 5] = [WEB, SSH, QUIET, SVC, MANY];
const LONG_PORTS: &str = "1-198,200-600,1883,5432,6379,20001-20200";

fn long_ports() -> Vec<u16> {
    (1..=600)
        .filter(|p| *p != 199)
        .chain([1883, 5432, 6379])
        .chain(20001..=20200)
        .collect()
}

fn long_scan(rate: u32) -> Value {
    json!({
        "targets": LONG_HOSTS.iter().map(|h| h.ip.to_string()).collect::<Vec<_>>(),
        "ports": LONG_PORTS,
        "scanners": ["tcp-ping", "tcp"],
        "rate": rate,
    })
}

// ---- the tests -------------------------------------------------------------------------

/// Pull: the daemon registers (listed, online, pull), claims the queued scan, runs it, and the
/// scan ends `done` with the scanned hosts' devices and open ports in the inventory.
#[test]
fn pull_mode_end_to_end() {
    if !scanopy_testlan::require("pull_mode_end_to_end") {
        return;
    }
    let _serial = serial();
    daemon_bin();
    let dir = TempDir::new("pull");
    let [port] = free_ports::<1>();
    let t0 = Instant::now();
    let server = Server::start(&dir, "server", port);
    let t_server = t0.elapsed();
    let d = daemon(
        &server,
        &dir.join("daemon-data"),
        &dir.join("daemon.log"),
        &[],
    );
    let me = server.wait_daemon(&d, Duration::from_secs(20));
    let t_registered = t0.elapsed();
    assert_eq!(me["mode"], "pull", "{me}");
    assert_eq!(me["name"], "e2e", "{me}");
    assert_eq!(me["network"], server.network.as_str(), "{me}");

    let ports = [22, 80, 443, 5432];
    let hosts = [WEB, SSH, SVC];
    let id = server.queue(json!({
        "targets": hosts.iter().map(|h| h.ip.to_string()).collect::<Vec<_>>(),
        "ports": "22,80,443,5432",
        "scanners": ["tcp-ping", "tcp"],
    }));
    let t_queued = t0.elapsed();
    let run = server.wait_end(&id, Duration::from_secs(30), &d);
    let t_done = t0.elapsed();
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["daemon"], me["id"], "claimed by the daemon: {run}");
    assert!(run["error"].is_null(), "{run}");
    let inv = inventory(&server.devices());
    assert_eq!(inv, truth(&hosts, &ports));
    assert!(d.log().contains("job received"), "{}", d.log());
    eprintln!(
        "pull_mode_end_to_end: server up {}, daemon online {}, scan queued → done {}; {} devices: {inv:?}",
        secs(t_server),
        secs(t_registered - t_server),
        secs(t_done - t_queued),
        inv.len()
    );
}

/// Push: the daemon listens and registers its URL; a scan queued for it is pushed by the
/// server (signed), runs and ends `done`; a cancel of a running pushed scan reaches the daemon,
/// which stops and reports it cancelled.
#[test]
fn push_mode_end_to_end_and_cancel() {
    if !scanopy_testlan::require("push_mode_end_to_end_and_cancel") {
        return;
    }
    let _serial = serial();
    daemon_bin();
    let dir = TempDir::new("push");
    let [port, push_port] = free_ports::<2>();
    let t0 = Instant::now();
    let server = Server::start(&dir, "server", port);
    let public_key = server.get("/status")["server_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!public_key.is_empty());
    let advertise = format!("http://127.0.0.1:{push_port}");
    let d = daemon(
        &server,
        &dir.join("daemon-data"),
        &dir.join("daemon.log"),
        &[
            "--mode",
            "push",
            "--listen",
            &format!("127.0.0.1:{push_port}"),
            "--server-public-key",
            &public_key,
            "--advertise-url",
            &advertise,
        ],
    );
    let me = server.wait_daemon(&d, Duration::from_secs(20));
    let t_registered = t0.elapsed();
    assert_eq!(me["mode"], "push", "{me}");
    assert_eq!(me["capabilities"]["url"], advertise.as_str(), "{me}");
    // What the daemon announced is not called until an admin approves it.
    assert_eq!(me["push_url_pending"], true, "{me}");
    assert_eq!(me["approved_url"], Value::Null, "{me}");
    let r = server
        .request(
            "PUT",
            &format!("/daemons/{}/push-url", me["id"].as_str().unwrap()),
            Auth::Bearer(server.token.clone()),
            Some(json!({"url": advertise})),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["approved_url"], advertise.as_str(), "{}", r.body);

    let ports = [22, 80, 443, 5432];
    let hosts = [WEB, SSH, SVC];
    let id = server.queue(json!({
        "daemon": me["id"],
        "targets": hosts.iter().map(|h| h.ip.to_string()).collect::<Vec<_>>(),
        "ports": "22,80,443,5432",
        "scanners": ["tcp-ping", "tcp"],
    }));
    let t_queued = t0.elapsed();
    let run = server.wait_end(&id, Duration::from_secs(30), &d);
    let t_done = t0.elapsed();
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["daemon"], me["id"], "{run}");
    assert!(
        server.log().contains("job pushed"),
        "{}",
        tail(&server.log())
    );
    assert!(d.log().contains("job received"), "{}", d.log());
    let inv = inventory(&server.devices());
    assert_eq!(inv, truth(&hosts, &ports));

    // A long pushed scan (20,000 ports at 300 probes per second), cancelled while it runs.
    let id = server.queue(json!({
        "daemon": me["id"],
        "targets": [MANY.ip.to_string()],
        "ports": "1-20000",
        "scanners": ["tcp"],
        "rate": 300,
    }));
    let t1 = Instant::now();
    server.wait_progress(&id, Duration::from_secs(20), &d);
    let t_running = t1.elapsed();
    let r = server.post(&format!("/scans/{id}/cancel"), json!({}));
    assert_eq!(r["cancel_requested"], true, "{r}");
    let t2 = Instant::now();
    let run = server.wait_end(&id, Duration::from_secs(15), &d);
    let t_cancelled = t2.elapsed();
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(
        d.log().contains("the server cancelled the job"),
        "the cancel did not reach the daemon:\n{}",
        d.log()
    );
    let probed = run["progress"]["ports_probed"].as_u64().unwrap_or(0);
    assert!(probed < 20_000, "{run}");
    eprintln!(
        "push_mode_end_to_end_and_cancel: daemon online {}, pushed scan queued → done {}; \
         long scan running after {}, cancel → cancelled {} ({probed} of 20000 ports probed)",
        secs(t_registered),
        secs(t_done - t_queued),
        secs(t_running),
        secs(t_cancelled),
    );
}

/// The server SIGKILLed in the middle of a scan and started again on the same data dir: the
/// daemon keeps scanning and spools, the job keeps its lease, the spool arrives when the server
/// is back, the scan ends `done`, and the inventory equals that of an undisturbed run.
#[test]
fn server_killed_mid_scan_and_restarted_gives_the_undisturbed_inventory() {
    if !scanopy_testlan::require("server_killed_mid_scan_and_restarted") {
        return;
    }
    let _serial = serial();
    daemon_bin();
    let dir = TempDir::new("server-restart");
    let [port_a, port_b] = free_ports::<2>();

    // The reference: the same scan, undisturbed.
    let t0 = Instant::now();
    let reference = {
        let server = Server::start(&dir, "reference", port_a);
        let d = daemon(
            &server,
            &dir.join("ref-daemon"),
            &dir.join("ref-daemon.log"),
            &[],
        );
        let id = server.queue(long_scan(800));
        let run = server.wait_end(&id, Duration::from_secs(60), &d);
        assert_eq!(run["status"], "done", "{run}");
        inventory(&server.devices())
    };
    let t_reference = t0.elapsed();
    assert_eq!(reference, truth(&LONG_HOSTS, &long_ports()));

    let t0 = Instant::now();
    let mut server = Server::start(&dir, "server", port_b);
    let data = dir.join("daemon-data");
    let d = daemon(&server, &data, &dir.join("daemon.log"), &[]);
    let id = server.queue(long_scan(800));
    let before = server.wait_progress(&id, Duration::from_secs(20), &d);
    let t_kill = t0.elapsed();
    server.kill9();
    // The daemon goes on: its results wait in the spool.
    let waiting = wait_for(
        "results in the spool",
        Duration::from_secs(30),
        || {
            let s = spool(&data);
            (!s.is_empty()).then_some(s)
        },
        || d.log(),
    );
    std::thread::sleep(Duration::from_secs(1));
    let most = waiting.len().max(spool(&data).len());
    server.launch();
    let t_back = t0.elapsed();
    let run = server.wait_end(&id, Duration::from_secs(60), &d);
    let t_done = t0.elapsed();
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["daemon"], before["daemon"], "kept by its daemon: {run}");
    let inv = inventory(&server.devices());
    assert_eq!(
        inv, reference,
        "the inventory differs from the undisturbed run's"
    );
    assert!(
        d.log().contains("results stay in the spool"),
        "{}",
        tail(&d.log())
    );
    wait_for(
        "the spool to empty",
        Duration::from_secs(10),
        || spool(&data).is_empty().then_some(()),
        || d.log(),
    );
    eprintln!(
        "server_killed_mid_scan_and_restarted: reference run {}; killed at {} ({} ports probed), \
         down {} (up to {most} entries spooled), back at {}, done at {}; {} devices, {} open ports",
        secs(t_reference),
        secs(t_kill),
        before["progress"]["ports_probed"],
        secs(t_back - t_kill),
        secs(t_back),
        secs(t_done),
        inv.len(),
        inv.values().map(BTreeSet::len).sum::<usize>()
    );
}

/// The daemon SIGKILLed in the middle of a job with a non-empty spool (the server down), then
/// the server and the daemon started again on their data dirs: every spooled batch arrives once
/// (nothing doubled in the inventory, every spooled open port in it), and the job ends.
#[test]
fn daemon_killed_with_a_spool_and_restarted_loses_and_doubles_nothing() {
    if !scanopy_testlan::require("daemon_killed_with_a_spool_and_restarted") {
        return;
    }
    let _serial = serial();
    daemon_bin();
    let dir = TempDir::new("daemon-restart");
    let [port] = free_ports::<1>();
    let t0 = Instant::now();
    let mut server = Server::start(&dir, "server", port);
    let data = dir.join("daemon-data");
    let log = dir.join("daemon.log");
    let mut d = daemon(&server, &data, &log, &[]);
    let id = server.queue(long_scan(400));
    // The server goes as soon as the daemon has the job, so that discovery's results (sent
    // within 500 ms) find it gone.
    wait_for(
        "the daemon to start the job",
        Duration::from_secs(20),
        || d.log().contains("job started").then_some(()),
        || d.log(),
    );
    server.kill9();
    let t_server_down = t0.elapsed();
    // Then the daemon is killed in the middle of the job, with results in its spool.
    let spooled = wait_for(
        "results in the spool",
        Duration::from_secs(10),
        || {
            let s = spool(&data);
            s.iter()
                .any(|e| matches!(e, Entry::Results { .. }))
                .then_some(s)
        },
        || d.log(),
    );
    d.kill9();
    let t_daemon_killed = t0.elapsed();
    let spooled = {
        // What is on disk now (a batch may have been written since).
        let now = spool(&data);
        assert!(now.len() >= spooled.len());
        now
    };
    assert!(
        !spooled.iter().any(|e| matches!(e, Entry::Finish { .. })),
        "the job had ended before the kill: {} entries",
        spooled.len()
    );
    let mut spooled_obs = 0;
    let mut spooled_ips: BTreeSet<Ipv4Addr> = BTreeSet::new();
    let mut spooled_open: BTreeSet<(Ipv4Addr, u16)> = BTreeSet::new();
    for e in &spooled {
        if let Entry::Results { job, batch } = e {
            assert_eq!(job.to_string(), id);
            spooled_obs += batch.observations.len();
            for o in &batch.observations {
                let std::net::IpAddr::V4(ip) = o.ip else {
                    continue;
                };
                spooled_ips.insert(ip);
                if let Fact::Port(p) = &o.fact
                    && p.state == PortState::Open
                    && p.transport == Transport::Tcp
                {
                    spooled_open.insert((ip, p.port));
                }
            }
        }
    }

    server.launch();
    let d = daemon(&server, &data, &log, &[]);
    let t_restarted = t0.elapsed();
    wait_for(
        "the spool to empty",
        Duration::from_secs(20),
        || spool(&data).is_empty().then_some(()),
        || d.log(),
    );
    let t_drained = t0.elapsed();
    let dlog = d.log();
    assert!(
        dlog.contains("left in the spool from before"),
        "{}",
        tail(&dlog)
    );
    // The server still leases the job to this daemon: the daemon runs it again (it noted it in
    // its data dir), rather than the job waiting 90 s for its lease to expire.
    assert!(
        dlog.contains("the daemon stopped in the middle of this job; running it again"),
        "{}",
        tail(&dlog)
    );
    let run = server.wait_end(&id, Duration::from_secs(45), &d);
    let t_end = t0.elapsed();
    assert_eq!(run["status"], "done", "{run}");
    let inv = inventory(&server.devices());
    for ip in &spooled_ips {
        assert!(inv.contains_key(ip), "spooled {ip} is not in the inventory");
    }
    for (ip, port) in &spooled_open {
        assert!(
            inv.get(ip).is_some_and(|p| p.contains(port)),
            "spooled open port {ip}:{port} is not in the inventory"
        );
    }
    assert_eq!(inv, truth(&LONG_HOSTS, &long_ports()));
    // The restarted server received each spooled batch once, then the run again: a batch sent
    // twice would show in its count.
    let received = server.counter("observations");
    let rerun = run["progress"]["observations"].as_u64().unwrap();
    assert_eq!(
        received,
        spooled_obs as u64 + rerun,
        "observations received since the restart: {spooled_obs} spooled + {rerun} of the run again"
    );
    eprintln!(
        "daemon_killed_with_a_spool_and_restarted: server down at {}, daemon killed at {} with \
         {} spooled entries ({spooled_obs} observations of {} addresses, {} open ports), both \
         restarted at {}, spool delivered at {}, the job run again and {} at {}; {received} \
         observations received after the restart ({spooled_obs} spooled + {rerun})",
        secs(t_server_down),
        secs(t_daemon_killed),
        spooled.len(),
        spooled_ips.len(),
        spooled_open.len(),
        secs(t_restarted),
        secs(t_drained),
        run["status"],
        secs(t_end),
    );
}

/// A wrong key: the daemon exits with a failure, the server logs the refusal, and neither
/// process writes the key anywhere.
#[test]
fn a_wrong_key_is_refused_and_logged_without_the_key() {
    if !scanopy_testlan::require("a_wrong_key_is_refused") {
        return;
    }
    let _serial = serial();
    daemon_bin();
    let dir = TempDir::new("wrong-key");
    let [port] = free_ports::<1>();
    let mut server = Server::start(&dir, "server", port);
    let wrong = "sk_e2eWrongKey0123456789abcdefghijklmnopqrs";
    server.key = wrong.to_owned();
    let t0 = Instant::now();
    let mut d = daemon(
        &server,
        &dir.join("daemon-data"),
        &dir.join("daemon.log"),
        &[],
    );
    let status = d
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the daemon did not stop:\n{}", d.log()));
    let t_exit = t0.elapsed();
    assert!(!status.success(), "{status}");
    assert_eq!(status.code(), Some(1), "{status}\n{}", d.log());
    let (dlog, slog) = (d.log(), server.log());
    assert!(dlog.contains("refused the key"), "{dlog}");
    assert!(slog.contains("refused"), "{slog}");
    assert!(!dlog.contains(wrong), "the daemon wrote the key:\n{dlog}");
    assert!(!slog.contains(wrong), "the server wrote the key:\n{slog}");
    assert!(
        !slog.contains("e2eWrongKey"),
        "the server wrote part of the key"
    );
    assert!(
        server.get("/daemons")["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    server.kill9();
    eprintln!(
        "a_wrong_key_is_refused: daemon exited with {status} after {}",
        secs(t_exit)
    );
}

// ---- listening ---------------------------------------------------------------------------

/// What the server's SSE stream says, read by `curl -N` in the scanner namespace: each event
/// with the wall-clock time it arrived.
struct Sse {
    rx: mpsc::Receiver<(f64, String, Value)>,
    _curl: Child,
}

impl Sse {
    fn open(server: &Server) -> Sse {
        let mut curl = Command::new("ip")
            .args(["netns", "exec", SCANNER_NS, "curl", "-sv", "-N", "-H"])
            .arg(format!("Authorization: Bearer {}", server.token))
            .arg(format!("{}/api/v1/events/stream", server.url()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl (the CI installs it)");
        let out = curl.stdout.take().unwrap();
        let err = curl.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let said = tx.clone();
        // curl -v writes the answer's status line to stderr.
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                if let Some(status) = line.strip_prefix("< HTTP/") {
                    let _ = said.send((0.0, "connected".into(), Value::String(status.into())));
                }
            }
        });
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut kind = String::new();
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs_f64();
                if let Some(k) = line.strip_prefix("event:") {
                    kind = k.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    let v = serde_json::from_str(d.trim()).unwrap_or(Value::Null);
                    if tx.send((now, std::mem::take(&mut kind), v)).is_err() {
                        return;
                    }
                }
            }
        });
        let sse = Sse { rx, _curl: curl };
        let (_, kind, first) = sse
            .rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the event stream to answer");
        assert_eq!(kind, "connected");
        assert!(
            first.as_str().unwrap_or_default().contains(" 200"),
            "{first}"
        );
        sse
    }

    /// The next event that `want` picks, within `limit`.
    fn until(
        &self,
        limit: Duration,
        mut want: impl FnMut(&str, &Value) -> bool,
    ) -> Option<(f64, Value)> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (at, kind, v) = self.rx.recv_timeout(left).ok()?;
            if want(&kind, &v) {
                return Some((at, v));
            }
        }
    }
}

/// `testlan.sh ARGS`, its output.
fn testlan(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testlan/testlan.sh");
    let out = Command::new(script)
        .args(args)
        .output()
        .expect("testlan.sh");
    assert!(
        out.status.success(),
        "testlan.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
}

/// /proc/PID: (CPU seconds used, resident MiB).
fn cpu_and_rss(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (ticks / 100.0, rss_kib / 1024.0)
}

/// Listening: a daemon with CAP_NET_RAW hears hosts that join the home segment (busybox udhcpc
/// asking the segment's dnsmasq, then a gratuitous ARP) and puts each on the SSE stream from its
/// first DISCOVER and on the API with its DHCP host name, vendor class (as an OS), its IPv6
/// link-local address (its router solicitation) and sources, then scans it; a host asking
/// DHCPv6 only (ISC dhclient) is named by its Client FQDN at its link-local address; a MAC flood
/// leaves a bounded number of devices and one warning. `SCANOPY_JOINS` joins (default 2) are
/// timed from the joiner's link going up to its `device_new` on the stream
/// (`SCANOPY_STORM=1` adds the CPU and memory of the daemon under a 10,000 a second ARP storm:
/// `bench/listen.sh` runs both).
#[test]
fn testlan_a_device_that_joins_is_heard_named_and_scanned() {
    if !scanopy_testlan::require("testlan_a_device_that_joins_is_heard_named_and_scanned") {
        return;
    }
    let _serial = serial();
    daemon_bin();
    let joins: usize = std::env::var("SCANOPY_JOINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(1);
    let dir = TempDir::new("listen");
    let [port] = free_ports::<1>();
    let server = Server::start(&dir, "server", port);
    let d = daemon(
        &server,
        &dir.join("daemon-data"),
        &dir.join("daemon.log"),
        &["--passive"],
    );
    let me = wait_for(
        "the daemon to say where it listens",
        Duration::from_secs(40),
        || {
            let me = server.wait_daemon(&d, Duration::from_secs(20));
            me["capabilities"]["listening"]
                .as_array()
                .is_some_and(|l| l.iter().any(|i| i == "eth3"))
                .then_some(me)
        },
        || format!("daemon log:\n{}", d.log()),
    );
    wait_for(
        "the listen run to be open",
        Duration::from_secs(20),
        || {
            server.get("/scans")["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["status"] == "running" && r["config"]["scanners"] == json!(["listen"]))
                .cloned()
        },
        || format!("daemon log:\n{}\nserver log:\n{}", d.log(), server.log()),
    );
    let sse = Sse::open(&server);
    let mut latencies = Vec::new();
    let mut joined = Vec::new();
    for i in 0..joins {
        let name = format!("join{i}");
        let mac = format!("02:77:00:00:01:{:02x}", i % 256);
        let host = format!("tablet-{i}");
        testlan(&["leave", &name]);
        let out = testlan(&["join", &name, &mac, &host, "android-dhcp-14"]);
        let link_up: f64 = field(&out, "link_up=").parse().unwrap();
        let ip = field(&out, "ip=").to_owned();
        // New from its first DHCP DISCOVER, by its MAC, before it has an address (or, when a
        // batch holds both, with it).
        let (at, ev) = sse
            .until(Duration::from_secs(20), |kind, v| {
                kind == "device_new"
                    && v["detail"]["macs"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == mac.as_str()))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no device_new for {mac} ({ip}) on the stream\ndaemon log:\n{}\nserver log:\n{}",
                    tail(&d.log()),
                    tail(&server.log())
                )
            });
        let sources: Vec<&str> = ev["detail"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_str())
            .collect();
        // Heard by the listener, with what its DHCP DISCOVER said.
        assert!(sources.contains(&"dhcp"), "{ev}");
        assert_eq!(ev["detail"]["hostname"], host.as_str(), "{ev}");
        assert_eq!(ev["detail"]["os"]["name"], "Android", "{ev}");
        latencies.push(at - link_up);
        joined.push((name, mac, host, ip));
    }
    // Each is on the API with what its DHCP request said of it.
    for (n, (_, mac, host, ip)) in joined.iter().enumerate() {
        wait_for(
            "the joiner's name and OS on the API",
            Duration::from_secs(10),
            || {
                // What DHCP said and what ARP said may arrive in different batches: wait for
                // both sources.
                server.devices().into_iter().find(|x| {
                    let sources = x["sources"].as_array().cloned().unwrap_or_default();
                    x["hostname"] == host.as_str()
                        && x["os"]["name"] == "Android"
                        // Its parameter request list names its DHCP client.
                        && x["os"]["evidence"].as_array().is_some_and(|e| {
                            e.iter().any(|e| {
                                e.as_str().is_some_and(|e| e.contains("(busybox udhcpc)"))
                            })
                        })
                        && sources.iter().any(|s| s == "dhcp")
                        && sources.iter().any(|s| s == "passive-arp")
                        && x["interfaces"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|i| i["ip"] == ip.as_str() && i["mac"] == mac.as_str())
                })
            },
            || format!("devices: {:#}", json!(server.devices())),
        );
        // Its IPv6 link-local address, from the router solicitation it sent on joining.
        wait_for(
            "the joiner's link-local address on the API",
            Duration::from_secs(10),
            || {
                server.devices().into_iter().find(|x| {
                    x["sources"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|s| s == "passive-ndp"))
                        && x["interfaces"].as_array().unwrap().iter().any(|i| {
                            i["mac"] == mac.as_str()
                                && i["ip"].as_str().is_some_and(|a| a.starts_with("fe80:"))
                        })
                        && x["interfaces"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|i| i["ip"] == ip.as_str())
                })
            },
            || format!("devices: {:#}", json!(server.devices())),
        );
        // The reaction: a scan of that one host, by this daemon (the first joiner's: reactions
        // are capped at 20 per 10 minutes, which the LAN's own chatter and many joins exceed).
        if n > 0 {
            continue;
        }
        let scan = wait_for(
            "a scan of the new device to end",
            Duration::from_secs(120),
            || {
                server.get("/scans?limit=200")["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| {
                        r["config"]["targets"]["include"] == json!([ip])
                            && r["finished_at"].is_string()
                    })
                    .cloned()
            },
            || {
                format!(
                    "scans: {:#}\ndaemon log:\n{}",
                    server.get("/scans?limit=200"),
                    tail(&d.log())
                )
            },
        );
        assert_eq!(scan["status"], "done", "{scan}");
        assert_eq!(scan["daemon"], me["id"], "{scan}");
    }
    for (name, ..) in &joined {
        testlan(&["leave", name]);
    }
    // A host that asks DHCPv6 only (ISC dhclient -6, its SOLICIT from its link-local address):
    // on the API at that address, named by its Client FQDN.
    let mac6 = "02:77:00:00:02:01";
    let out = testlan(&["join6", "join6", mac6, "laptop-6"]);
    let ll = field(&out, "ll=").to_owned();
    wait_for(
        "the DHCPv6 client on the API",
        Duration::from_secs(15),
        || {
            server.devices().into_iter().find(|x| {
                x["hostname"] == "laptop-6"
                    && x["sources"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|s| s == "dhcp6"))
                    && x["interfaces"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["ip"] == ll.as_str() && i["mac"] == mac6)
            })
        },
        || {
            format!(
                "devices: {:#}\ndaemon log:\n{}",
                json!(server.devices()),
                tail(&d.log())
            )
        },
    );
    testlan(&["leave", "join6"]);

    // A MAC flood: 5,000 ARP packets from random MACs at full speed.
    let flooded = |devices: &[Value]| {
        devices
            .iter()
            .filter(|x| {
                x["interfaces"].as_array().unwrap().iter().any(|i| {
                    i["ip"]
                        .as_str()
                        .and_then(|a| a.parse::<Ipv4Addr>().ok())
                        .is_some_and(|a| a.octets()[..3] == [10, 77, 3] && a.octets()[3] >= 160)
                })
            })
            .count()
    };
    let before = flooded(&server.devices());
    let out = testlan(&["flood", "macflood", "5000", "0"]);
    wait_for(
        "the flood's warning",
        Duration::from_secs(20),
        || {
            d.log()
                .contains("heard more than the listener follows")
                .then_some(())
        },
        || tail(&d.log()),
    );
    std::thread::sleep(Duration::from_secs(2));
    let after = flooded(&server.devices());
    let new = after - before;
    // The listener takes a burst of 64 new MACs, then one a second.
    assert!(new <= 64 + 30, "{new} devices from a flood of 5,000 MACs");
    assert!(new >= 1, "the flood was not heard at all");
    // A host that only sends gratuitous ARP (each flood MAC is one) is on the stream too.
    sse.until(Duration::from_secs(10), |kind, v| {
        kind == "device_new"
            && v["detail"]["sources"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == "passive-arp"))
            && v["detail"]["ips"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x.as_str()
                        .and_then(|x| x.parse::<Ipv4Addr>().ok())
                        .is_some_and(|x| x.octets()[..3] == [10, 77, 3] && x.octets()[3] >= 160)
                })
            })
    })
    .expect("no device_new for a host heard only by its gratuitous ARP");
    let reactions = server.counter("reactions");
    assert!(reactions <= 20, "{reactions} reaction scans");
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "listen: {joins} joins, link up → device_new on the SSE stream: median {:.3} s, worst {:.3} s ({:?}); \
         flood: {} → {new} devices, {reactions} reaction scans in all",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        sorted.iter().map(|l| format!("{l:.3}")).collect::<Vec<_>>(),
        out.trim(),
    );
    if std::env::var("SCANOPY_STORM").is_ok_and(|v| v == "1") {
        let pid = d.child.id();
        std::thread::sleep(Duration::from_secs(10));
        let (c0, r0) = cpu_and_rss(pid);
        std::thread::sleep(Duration::from_secs(10));
        let (c1, r1) = cpu_and_rss(pid);
        let t = Instant::now();
        let out = testlan(&["flood", "storm", "100000", "10000"]);
        let took = t.elapsed().as_secs_f64();
        let (c2, r2) = cpu_and_rss(pid);
        eprintln!(
            "listen: daemon idle {:.1}% CPU, {r1:.1} MiB (was {r0:.1}); under {}: {:.1}% CPU, {r2:.1} MiB",
            (c1 - c0) / 10.0 * 100.0,
            out.trim(),
            (c2 - c1) / took * 100.0,
        );
    }
}

/// An aiosmtpd process (Debian's `python3-aiosmtpd`) on 127.0.0.1 of the scanner's namespace
/// (where the server runs), keeping what it receives in a Maildir; killed when dropped. `None` when there is none (and `SCANOPY_SMTPD=1` did not
/// promise one).
struct Smtpd {
    child: std::process::Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

impl Smtpd {
    fn start(test: &str) -> Option<Smtpd> {
        let python = "/usr/bin/python3";
        let has = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has {
            assert!(
                std::env::var("SCANOPY_SMTPD").map_or(true, |v| v != "1"),
                "{test}: SCANOPY_SMTPD=1 but {python} has no aiosmtpd"
            );
            eprintln!("SKIPPED {test}: no SMTP server (apt-get install python3-aiosmtpd)");
            return None;
        }
        let [port] = free_ports::<1>();
        let maildir = std::env::temp_dir().join(format!("scanopy-e2e-mail-{port}"));
        let child = Command::new("ip")
            .args([
                "netns", "exec", SCANNER_NS, python, "-m", "aiosmtpd", "-n", "-l",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd");
        wait_for(
            "aiosmtpd to listen",
            Duration::from_secs(15),
            || {
                scanopy_testlan::in_scanner_ns(move || async move {
                    std::net::TcpStream::connect(("127.0.0.1", port)).ok()
                })
            },
            String::new,
        );
        Some(Smtpd {
            child,
            port,
            maildir,
        })
    }

    /// The Subject of each mail received.
    fn subjects(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(dir) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for f in dir.flatten() {
                let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                if let Some(s) = text.lines().find_map(|l| l.strip_prefix("Subject:")) {
                    out.push(s.trim().to_owned());
                }
            }
        }
        out.sort();
        out
    }
}

/// An HTTP receiver on 127.0.0.1 of the scanner's namespace standing in for ntfy: the `Title`
/// of each POST it got.
fn push_receiver() -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = scanopy_testlan::in_scanner_ns(|| async {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap()
    });
    let url = format!("http://{}", l.local_addr().unwrap());
    let got: std::sync::Arc<Mutex<Vec<String>>> = Default::default();
    let rec = std::sync::Arc::clone(&got);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut r = BufReader::new(conn);
            let (mut title, mut len) = (String::new(), 0usize);
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("title:") {
                    title = line[line.len() - v.len()..].trim().to_owned();
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; len.min(1 << 16)];
            let _ = r.read_exact(&mut body);
            rec.lock().unwrap().push(title);
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// Alerts fired by real scans of the test LAN, through a real SMTP server and a push
/// receiver: a scan that finds a host that just joined mails once and pushes once; the host's
/// link taken down gives one offline alert after the scans that miss it, brought back one
/// online alert.
#[test]
fn testlan_a_new_host_is_mailed_and_pushed_once_offline_and_back_once_each() {
    if !scanopy_testlan::require(
        "testlan_a_new_host_is_mailed_and_pushed_once_offline_and_back_once_each",
    ) {
        return;
    }
    let Some(smtpd) =
        Smtpd::start("testlan_a_new_host_is_mailed_and_pushed_once_offline_and_back_once_each")
    else {
        return;
    };
    let _serial = serial();
    daemon_bin();
    let dir = TempDir::new("alerts");
    let [port] = free_ports::<1>();
    let smtp = format!("smtp://127.0.0.1:{}", smtpd.port);
    let server = Server::start_with(
        &dir,
        "server",
        port,
        &[
            ("SCANOPY_SMTP_URL", &smtp),
            ("SCANOPY_SMTP_FROM", "scanopy@lab.test"),
        ],
    );
    let d = daemon(
        &server,
        &dir.join("daemon-data"),
        &dir.join("daemon.log"),
        &[],
    );
    server.wait_daemon(&d, Duration::from_secs(20));
    let scan = |targets: &[&str]| {
        // Not Docker: its engine is this host's, a device of its own, not the LAN's.
        let id = server.queue(json!({"targets": targets, "ports": "22,80,443",
            "scanners": ["arp", "icmp", "tcp-ping", "tcp"]}));
        let run = server.wait_end(&id, Duration::from_secs(120), &d);
        assert_eq!(run["status"], "done", "{run}");
    };
    // The joiner goes away however the test ends.
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = std::panic::catch_unwind(|| testlan(&["leave", "alerted"]));
        }
    }
    testlan(&["leave", "alerted"]);
    let _leave = Leave;
    // What the home segment has now: not new later.
    scan(&["10.77.3.0/24"]);
    let (push_url, pushes) = push_receiver();
    server.post(
        "/alerts",
        json!({"name": "mail", "events": ["device_new"], "network": server.network,
               "channel": {"kind": "email", "to": "ops@lab.test"}}),
    );
    server.post(
        "/alerts",
        json!({"name": "push", "events": ["device_new", "device_gone", "device_back"],
               "channel": {"kind": "ntfy", "url": push_url, "topic": "lan"}}),
    );
    testlan(&["leave", "alerted"]);
    let out = testlan(&[
        "join",
        "alerted",
        "02:77:00:00:03:01",
        "laptop-9",
        "MSFT 5.0",
    ]);
    let ip = field(&out, "ip=").to_owned();
    scan(&["10.77.3.0/24"]);
    let context = || {
        format!(
            "events: {:#}\nalerts: {:#}\nserver log:\n{}",
            server.get("/events?limit=50"),
            server.get("/alerts"),
            server.log()
        )
    };
    wait_for(
        "the mail",
        Duration::from_secs(30),
        || (!smtpd.subjects().is_empty()).then_some(()),
        context,
    );
    wait_for(
        "the push",
        Duration::from_secs(30),
        || (!pushes.lock().unwrap().is_empty()).then_some(()),
        || server.log(),
    );
    // Its link down: missed by three scans, then offline.
    let ns = "sclan-j-alerted";
    let link = |state: &str| {
        let ok = Command::new("ip")
            .args(["-n", ns, "link", "set", "eth0", state])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip -n {ns} link set eth0 {state}");
    };
    link("down");
    for _ in 0..3 {
        scan(&[&ip]);
    }
    wait_for(
        "the offline push",
        Duration::from_secs(30),
        || {
            pushes
                .lock()
                .unwrap()
                .iter()
                .any(|t| t.starts_with("Offline"))
                .then_some(())
        },
        || {
            format!(
                "pushes: {:?}\ndevices: {:#}\nscans: {:#}",
                pushes.lock().unwrap(),
                json!(server.devices()),
                server.get("/scans?limit=5")
            )
        },
    );
    link("up");
    wait_for(
        "the host to answer again",
        Duration::from_secs(30),
        || {
            scan(&[&ip]);
            pushes
                .lock()
                .unwrap()
                .iter()
                .any(|t| t.starts_with("Back online"))
                .then_some(())
        },
        || format!("pushes: {:?}\n{}", pushes.lock().unwrap(), server.log()),
    );
    // Time for a duplicate to show, if there were one.
    std::thread::sleep(Duration::from_secs(3));
    testlan(&["leave", "alerted"]);
    let subjects = smtpd.subjects();
    assert_eq!(subjects.len(), 1, "one mail: {subjects:?}");
    assert!(
        subjects[0].starts_with("New device on ") && subjects[0].contains(&ip),
        "{subjects:?}"
    );
    let titles = pushes.lock().unwrap().clone();
    let kinds: Vec<&str> = titles
        .iter()
        .map(|t| t.split(" on ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        ["New device", "Offline", "Back online"],
        "{titles:?}"
    );
    assert!(titles.iter().all(|t| t.contains(&ip)), "{titles:?}");
    eprintln!("alerts: mailed {subjects:?}; pushed {titles:?}");
}

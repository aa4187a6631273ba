//! The server as a real process: SQLite in a data directory, PostgreSQL (two servers on one
//! database; the database stopped and started under a server). These tests start servers with
//! `--no-local-daemon` on 127.0.0.1: nothing here scans.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_scanopy-server");
const PASSWORD: &str = "process test password 42";

struct Server {
    child: Option<Child>,
    port: u16,
}

/// reqwest here is built on rustls without a default crypto provider: install ring's.
fn tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn free_port() -> u16 {
    tls_provider();
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn start(args: &[&str], port: u16, admin_password: Option<&str>) -> Server {
        let mut c = Command::new(BIN);
        c.args(args)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--no-local-daemon",
            ])
            .env_remove("SCANOPY_ADMIN_PASSWORD")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = admin_password {
            c.env("SCANOPY_ADMIN_PASSWORD", p);
        }
        let child = c.spawn().expect("the server starts");
        Server {
            child: Some(child),
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(self.url("/api/v1/health")).await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not answer within 30 s");
    }

    /// Stops the server and returns what it wrote on stderr.
    fn stop(&mut self) -> String {
        let Some(mut c) = self.child.take() else {
            return String::new();
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        let mut err = String::new();
        if let Some(mut e) = c.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A client with a session cookie, signed in as admin.
async fn signed_in(server: &Server, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in");
    client
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    tls_provider();
    let d = std::env::temp_dir().join(format!("scanopy-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn sqlite_server_shows_the_generated_password_once_and_keeps_its_data() {
    let dir = temp_dir("server");
    let data = dir.to_str().unwrap();
    let port = free_port();
    let mut s = Server::start(&["--data-dir", data], port, None);
    s.wait_ready().await;
    // The generated password is on the console once; read it from stderr after stopping.
    let client_before = reqwest::Client::new();
    let r = client_before
        .get(s.url("/api/v1/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err = s.stop();
    let password = err
        .lines()
        .skip_while(|l| !l.contains("created the user \"admin\" with the password"))
        .nth(2)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no generated password in: {err}"))
        .to_owned();
    assert!(password.len() >= 20, "{password:?}");
    assert_eq!(err.matches(&password).count(), 1, "shown once: {err}");

    let mut s = Server::start(&["--data-dir", data], port, None);
    s.wait_ready().await;
    let c = signed_in(&s, &password).await;
    let r = c
        .post(s.url("/api/v1/networks"))
        .json(&json!({"name": "kept", "subnets": ["10.9.0.0/24"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let err = s.stop();
    assert!(!err.contains(&password), "not shown again, never logged");
    assert!(!err.contains("created the user"), "{err}");
    // The data dir keeps the database and the server's signing key (0600).
    assert!(dir.join("scanopy.db").exists());
    let mode = std::fs::metadata(dir.join("server-signing-key.pk8"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap();
    assert_eq!(mode, 0o600);

    let mut s = Server::start(&["--data-dir", data], port, None);
    s.wait_ready().await;
    let c = signed_in(&s, &password).await;
    let nets: Value = c
        .get(s.url("/api/v1/networks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nets["items"][0]["name"], "kept");
    s.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bad_options_exit_2_before_anything_starts() {
    let out = Command::new(BIN)
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
    let out = Command::new(BIN)
        .args(["--tls-cert", "/nonexistent.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--tls-cert needs --tls-key");
}

/// A fresh database on the CI PostgreSQL server, or `None` (skipped loudly) without one.
async fn pg_database(test: &str) -> Option<String> {
    let Ok(admin_url) = std::env::var("SCANOPY_PG_URL") else {
        assert!(
            std::env::var("SCANOPY_PG").map_or(true, |v| v != "1"),
            "{test}: SCANOPY_PG=1 but SCANOPY_PG_URL is not set"
        );
        eprintln!("SKIPPED {test}: set SCANOPY_PG_URL (sudo testlan/postgres.sh up)");
        return None;
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&admin_url).await.unwrap();
    let db = format!("scanopy_srv_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    Some(format!("{base}/{db}"))
}

#[tokio::test]
async fn postgres_two_servers_serve_the_same_data_and_hand_each_job_once() {
    let Some(url) =
        pg_database("postgres_two_servers_serve_the_same_data_and_hand_each_job_once").await
    else {
        return;
    };
    let (da, db) = (temp_dir("pg-a"), temp_dir("pg-b"));
    let a = Server::start(
        &["--data-dir", da.to_str().unwrap(), "--database-url", &url],
        free_port(),
        Some(PASSWORD),
    );
    a.wait_ready().await;
    let b = Server::start(
        &["--data-dir", db.to_str().unwrap(), "--database-url", &url],
        free_port(),
        Some(PASSWORD),
    );
    b.wait_ready().await;
    let ca = signed_in(&a, PASSWORD).await;
    let cb = signed_in(&b, PASSWORD).await;
    let net: Value = ca
        .post(a.url("/api/v1/networks"))
        .json(&json!({"name": "shared", "subnets": ["10.9.0.0/24"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let net = net["id"].as_str().unwrap().to_owned();
    // B sees what A made.
    let nets: Value = cb
        .get(b.url("/api/v1/networks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nets["items"][0]["id"].as_str(), Some(net.as_str()));
    // Two daemons, one polling each server, drain ten jobs: each job is handed out once.
    let mut keys = Vec::new();
    for (c, s) in [(&ca, &a), (&cb, &b)] {
        let k: Value = c
            .post(s.url("/api/v1/daemons/keys"))
            .json(&json!({"name": "d", "network": net}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = k["key"].as_str().unwrap().to_owned();
        let r = reqwest::Client::new()
            .post(s.url("/api/v1/daemon/register"))
            .bearer_auth(&key)
            .json(&json!({"name": "d", "capabilities": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        keys.push(key);
    }
    for _ in 0..10 {
        let r = ca
            .post(a.url("/api/v1/scans"))
            .json(&json!({"network": net, "targets": ["10.9.0.1"], "ports": "22"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let poll = |server: &Server, key: &str| {
        let url = server.url("/api/v1/daemon/poll");
        let key = key.to_owned();
        async move {
            let mut got = Vec::new();
            loop {
                let v: Value = reqwest::Client::new()
                    .post(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                match v["job"]["id"].as_str() {
                    Some(id) => got.push(id.to_owned()),
                    None => return got,
                }
            }
        }
    };
    let (x, y) = tokio::join!(poll(&a, &keys[0]), poll(&b, &keys[1]));
    let mut all: Vec<String> = x.iter().chain(y.iter()).cloned().collect();
    assert_eq!(all.len(), 10, "a: {x:?}, b: {y:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10, "no job handed out twice");
    drop((a, b));
    let _ = std::fs::remove_dir_all(&da);
    let _ = std::fs::remove_dir_all(&db);
}

/// A PostgreSQL cluster of this test's own, to stop and start under a server.
struct OwnPg {
    dir: std::path::PathBuf,
    port: u16,
}

const PGBIN: &str = "/usr/lib/postgresql/15/bin";

impl OwnPg {
    fn ctl(&self, args: &[&str]) -> bool {
        Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{PGBIN}/pg_ctl")])
            .args(["-D", self.dir.join("data").to_str().unwrap()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn start(&self) -> bool {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.ctl(&["-l", log.to_str().unwrap(), "-w", "-o", &opts, "start"])
    }

    fn stop(&self) -> bool {
        self.ctl(&["-m", "fast", "-w", "stop"])
    }

    fn new() -> Option<OwnPg> {
        let promised = std::env::var("SCANOPY_PG").is_ok_and(|v| v == "1");
        let root = nix::unistd::geteuid().is_root();
        if !root || !std::path::Path::new(PGBIN).join("initdb").exists() {
            assert!(
                !promised,
                "SCANOPY_PG=1 but this test needs root and {PGBIN}"
            );
            eprintln!("SKIPPED postgres restart test: needs root and PostgreSQL 15 in {PGBIN}");
            return None;
        }
        let dir = std::path::PathBuf::from(format!(
            "/tmp/scanopy-ownpg-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown")
            .args(["postgres", dir.to_str().unwrap()])
            .status();
        let ok = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{PGBIN}/initdb")])
            .args([
                "-D",
                dir.join("data").to_str().unwrap(),
                "--auth=trust",
                "--no-sync",
                "-U",
                "postgres",
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "initdb");
        let pg = OwnPg {
            dir,
            port: free_port(),
        };
        assert!(pg.start(), "pg_ctl start");
        Some(pg)
    }
}

impl Drop for OwnPg {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn postgres_stopped_under_the_server_gives_503_then_recovers() {
    let Some(pg) = OwnPg::new() else { return };
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let dir = temp_dir("pg-restart");
    let s = Server::start(
        &["--data-dir", dir.to_str().unwrap(), "--database-url", &url],
        free_port(),
        Some(PASSWORD),
    );
    s.wait_ready().await;
    let c = signed_in(&s, PASSWORD).await;
    assert_eq!(
        c.get(s.url("/api/v1/devices"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(pg.stop(), "pg_ctl stop");
    let started = Instant::now();
    let health = reqwest::get(s.url("/api/v1/health")).await.unwrap();
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
    let r = c.get(s.url("/api/v1/devices")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(!body.to_string().contains("postgres://"), "{body}");
    eprintln!("503 while down, answered after {:?}", started.elapsed());
    assert!(pg.start(), "pg_ctl start again");
    let back = Instant::now();
    let mut ok = false;
    while back.elapsed() < Duration::from_secs(30) {
        let h = reqwest::get(s.url("/api/v1/health"))
            .await
            .unwrap()
            .status();
        let d = c
            .get(s.url("/api/v1/devices"))
            .send()
            .await
            .unwrap()
            .status();
        if h == 200 && d == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ok,
        "the server did not recover within 30 s of PostgreSQL's return"
    );
    eprintln!("recovered {:?} after PostgreSQL came back", back.elapsed());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The data directory is 0700 and the database (with its -wal and -shm) and the signing key
/// 0600; a data directory left looser by an older server is tightened at start, with a
/// warning (issue 11: the directory was 0755 and the database 0644).
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let dir = temp_dir("modes");
    let data = dir.join("data");
    let files = [
        "scanopy.db",
        "scanopy.db-wal",
        "scanopy.db-shm",
        "server-signing-key.pk8",
    ];
    let port = free_port();
    let mut server = Server::start(
        &["--data-dir", data.to_str().unwrap()],
        port,
        Some(PASSWORD),
    );
    server.wait_ready().await;
    signed_in(&server, PASSWORD).await;
    assert_eq!(mode(&data), 0o700, "the data directory");
    for f in files {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    server.stop();
    // Loosen everything, as an older server left it.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in files {
        let p = data.join(f);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let mut server = Server::start(
        &["--data-dir", data.to_str().unwrap()],
        port,
        Some(PASSWORD),
    );
    server.wait_ready().await;
    signed_in(&server, PASSWORD).await;
    // Checked while the server runs: a clean stop closes SQLite's last connection, which
    // deletes the -wal and -shm files (checking after the stop failed whenever the stop was
    // quick enough to finish first).
    assert_eq!(mode(&data), 0o700, "the data directory, tightened");
    for f in files {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}, tightened");
    }
    let log = server.stop();
    assert!(log.contains("tightened the mode"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

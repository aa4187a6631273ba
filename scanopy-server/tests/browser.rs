//! The web UI in a real browser against the real server on the test LAN.
//!
//! Starts `scanopy-server` inside the scanner's namespace of the test LAN with a fresh data
//! directory and its local daemon on (so it documents 10.77.0.0/24 by itself at first start),
//! then runs `tests/browser/ui.js` (puppeteer-core driving Chromium, in the same namespace):
//! sign-in, the LAN's hosts on the devices page within a minute of the server's start, the
//! map (with the campus switches' port links: the local daemon reads their SNMP agents), a click
//! on a map node, no errors in the pages, and screenshots of every page in
//! `target/ci-artifacts/screenshots`.
//!
//! Needs the test LAN (root), `node`, Chromium and `npm ci` in `tests/browser`. Without them
//! it prints `SKIPPED …` and passes, unless `SCANOPY_TESTLAN=1` (the LAN) or
//! `SCANOPY_BROWSER=1` (node, Chromium, the npm packages) promised them.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TEST: &str = "browser::ui_against_the_real_server";
const PASSWORD: &str = "browser-test-Pa55word";
/// The promise: the hosts are listed within a minute of the first start.
const DEVICES_WITHIN: Duration = Duration::from_secs(60);
/// Longest the whole browser script may take.
const UI_TIMEOUT: Duration = Duration::from_secs(240);

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `true`: node, Chromium and the npm packages are there. `false`: skipped (said on stderr).
///
/// # Panics
/// When one is missing and `SCANOPY_BROWSER=1` promised them.
fn require_browser() -> bool {
    let mut missing = Vec::new();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node {
        missing.push("node (apt-get install nodejs npm)".to_owned());
    }
    if !chromium().exists() {
        missing.push(format!(
            "Chromium at {} (apt-get install chromium, or set CHROMIUM)",
            chromium().display()
        ));
    }
    if !browser_dir().join("node_modules/puppeteer-core").is_dir() {
        missing.push(format!(
            "puppeteer-core (cd {} && npm ci)",
            browser_dir().display()
        ));
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        !std::env::var("SCANOPY_BROWSER").is_ok_and(|v| v == "1"),
        "{TEST}: SCANOPY_BROWSER=1 but missing: {}",
        missing.join("; ")
    );
    eprintln!(
        "SKIPPED {TEST}: missing {} (install them to include the browser test)",
        missing.join("; ")
    );
    false
}

/// The server, killed when dropped (also when the test fails); its log is printed on failure.
struct Server {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("---- the server's log (last 60 lines) ----");
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
            eprintln!("---- (data directory kept: {}) ----", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A port free on 127.0.0.1 inside the scanner's namespace, from 60200 + pid % 500 on.
fn free_port() -> u16 {
    let first = 60200 + (std::process::id() % 500) as u16;
    scanopy_testlan::in_scanner_ns(move || async move {
        for port in first..first + 200 {
            if tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok()
            {
                return port;
            }
        }
        panic!("no free port from {first} in the scanner's namespace");
    })
}

/// Waits until `GET /api/v1/health` answers 200 inside the scanner's namespace.
fn wait_healthy(addr: SocketAddr, within: Duration) -> Result<(), String> {
    scanopy_testlan::in_scanner_ns(move || async move {
        let until = tokio::time::Instant::now() + within;
        let mut last = String::from("no answer");
        while tokio::time::Instant::now() < until {
            match get(addr, "/api/v1/health").await {
                Ok(resp) if resp.starts_with("HTTP/1.1 200") => return Ok(()),
                Ok(resp) => last = resp.lines().next().unwrap_or_default().to_owned(),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "/api/v1/health did not answer 200 within {within:?}: {last}"
        ))
    })
}

async fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await??;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await??;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn epoch_ms(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()
}

#[test]
fn ui_against_the_real_server() {
    if !scanopy_testlan::require(TEST) || !require_browser() {
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_scanopy-server"));
    // <target>/<profile>/scanopy-server → <target>/ci-artifacts/screenshots
    let shots = bin
        .parent()
        .and_then(Path::parent)
        .expect("the server binary lies in the target directory")
        .join("ci-artifacts/screenshots");
    std::fs::create_dir_all(&shots).expect("create target/ci-artifacts/screenshots");

    let dir = std::env::temp_dir().join(format!(
        "scanopy-browser-{}-{}",
        std::process::id(),
        epoch_ms(SystemTime::now())
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let data = dir.join("data");
    let log = dir.join("server.log");
    let port = free_port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let base = format!("http://{addr}");

    // The server, inside the LAN's scanner namespace, with none of the caller's SCANOPY_*
    // settings (a database URL or --no-local-daemon would change what is tested).
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", scanopy_testlan::SCANNER_NS])
        .arg(&bin)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(&data);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SCANOPY_") {
            cmd.env_remove(k);
        }
    }
    let log_file = std::fs::File::create(&log).expect("create the server's log");
    // Not listening: the scanner namespace hears the hostile segment too, and the scans of
    // what it hears would queue before the scans the UI starts (the e2e test covers listening).
    cmd.env("SCANOPY_ADMIN_PASSWORD", PASSWORD)
        .env("SCANOPY_NO_PASSIVE", "true")
        // The campus switches' community: the local daemon reads their agents, and the map
        // draws the hosts on their switch ports.
        .env("SCANOPY_SNMP_COMMUNITY", scanopy_testlan::CAMPUS_COMMUNITY)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("clone the log file"))
        .stderr(log_file);
    let started = SystemTime::now();
    let start = Instant::now();
    let server = Server {
        child: cmd
            .spawn()
            .expect("start scanopy-server with ip netns exec"),
        dir: dir.clone(),
        log: log.clone(),
    };
    eprintln!(
        "{TEST}: scanopy-server on {base} in {}",
        scanopy_testlan::SCANNER_NS
    );

    if let Err(e) = wait_healthy(addr, Duration::from_secs(60)) {
        panic!("{TEST}: {e}");
    }
    eprintln!(
        "{TEST}: healthy after {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // The browser: ui.js waits for the hosts on the devices page until the deadline, then for a
    // finished scan, and checks the rest.
    let deadline = epoch_ms(started + DEVICES_WITHIN);
    let ui_out = dir.join("ui.out");
    let ui_err = dir.join("ui.err");
    let mut ui = Command::new("ip")
        .args(["netns", "exec", scanopy_testlan::SCANNER_NS, "node"])
        .arg(browser_dir().join("ui.js"))
        .arg(&base)
        .arg(PASSWORD)
        .arg(&shots)
        .arg(deadline.to_string())
        .env("CHROMIUM", chromium())
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&ui_out).expect("create ui.out"))
        .stderr(std::fs::File::create(&ui_err).expect("create ui.err"))
        .spawn()
        .expect("run node tests/browser/ui.js");
    let ui_start = Instant::now();
    let status = loop {
        if let Some(status) = ui.try_wait().expect("wait for node") {
            break Some(status);
        }
        if ui_start.elapsed() > UI_TIMEOUT {
            let _ = ui.kill();
            let _ = ui.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let read = |p: &Path| {
        let mut s = String::new();
        let _ = std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut s));
        s
    };
    let (out, err) = (read(&ui_out), read(&ui_err));
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "---- ui.js ----\n{out}{err}---- end of ui.js ----");
    drop(stderr);

    match status {
        None => panic!("{TEST}: ui.js did not finish within {UI_TIMEOUT:?}"),
        Some(s) if !s.success() => panic!(
            "{TEST}: ui.js failed ({s}): {}",
            err.lines()
                .find(|l| l.contains("FAILED"))
                .unwrap_or("see its output above")
        ),
        Some(_) => {}
    }

    let listed_at: u128 = out
        .lines()
        .find_map(|l| l.strip_prefix("devices-listed-at-ms "))
        .and_then(|v| v.trim().parse().ok())
        .expect("ui.js printed when the devices page listed the hosts");
    let took = Duration::from_millis(
        u64::try_from(listed_at.saturating_sub(epoch_ms(started))).unwrap_or(u64::MAX),
    );
    eprintln!(
        "{TEST}: the devices page listed the LAN's hosts {:.1} s after the server started \
         (promised: within {} s)",
        took.as_secs_f64(),
        DEVICES_WITHIN.as_secs()
    );
    assert!(
        took <= DEVICES_WITHIN,
        "{TEST}: the hosts were listed after {took:?}, later than {DEVICES_WITHIN:?}"
    );
    for name in ["dashboard", "devices", "device", "map", "scans", "daemons"] {
        let f = shots.join(format!("{name}.png"));
        let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "{TEST}: no screenshot {}", f.display());
    }
    eprintln!("{TEST}: screenshots in {}", shots.display());
    drop(server);
}

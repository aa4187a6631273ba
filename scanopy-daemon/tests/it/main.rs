//! The one-shot CLI, run as a real process. Tests named `testlan_*` need root and the test LAN
//! (they run the daemon inside the scanner's namespace with `ip netns exec`).

mod hostile;
mod service;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use scanopy_testlan::{DROP, QUIET, SCANNER_NS, SSH, WEB, in_scanner_ns, require};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_scanopy-daemon");

fn daemon(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the daemon runs")
}

fn in_lan(args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", SCANNER_NS, BIN]).args(args);
    c
}

/// `--version` names the version and the commit the binary was built from (as `git` says it,
/// when built from a checkout).
#[test]
fn version_names_the_commit() {
    let out = daemon(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!("scanopy-daemon {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&expected), "{text}");
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(head) = head {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        assert!(text.contains(&head), "{text} does not name HEAD {head}");
    }
}

#[test]
fn bad_usage_exits_2_naming_the_problem_and_sends_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "127.0.0.1".into(),
                "10.0.0.300".into(),
                "-p".into(),
                port.clone(),
            ],
            "\"10.0.0.300\"",
        ),
        (
            vec!["127.0.0.1".into(), "-p".into(), format!("{port},x")],
            "\"x\"",
        ),
        (
            vec![
                "127.0.0.1".into(),
                "-p".into(),
                port.clone(),
                "--scanners".into(),
                "arp2".into(),
            ],
            "\"arp2\"",
        ),
        (
            vec![
                "10.0.0.0/8".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.clone(),
            ],
            "--allow-large",
        ),
        (
            vec!["127.0.0.1".into(), "--rate".into(), "fast".into()],
            "--rate",
        ),
        (
            vec![
                "127.0.0.1".into(),
                "-p".into(),
                port.clone(),
                "--exclude".into(),
                "10.0.0.1-0".into(),
            ],
            "\"10.0.0.1-0\"",
        ),
        // A bad SNMPv3 user is named by its place and what is wrong, never by its password.
        (
            vec![
                "127.0.0.1".into(),
                "-p".into(),
                port.clone(),
                "--snmp-v3".into(),
                "mon:SHA:secret-auth-pw:DES:secret-priv-pw".into(),
            ],
            "--snmp-v3 (user 1 of 1): unknown privacy protocol \"DES\"",
        ),
        (
            vec![
                "127.0.0.1".into(),
                "-p".into(),
                port.clone(),
                "--snmp-v3".into(),
                "mon:SHA:short".into(),
            ],
            "8 to 256 characters",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["scan".to_owned()];
        full.extend(args.iter().cloned());
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let out = daemon(&refs);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("secret-") && !stderr.contains("short"),
            "a password repeated: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
    assert!(
        listener.accept().is_err(),
        "a probe reached 127.0.0.1:{port} despite bad usage"
    );
}

#[test]
fn loopback_scan_prints_the_contract_json() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut s, b"SSH-2.0-OpenSSH_9.9 test\r\n");
        }
    });
    let out = daemon(&[
        "scan",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--scanners",
        "tcp",
        "-f",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "id",
        "started_at",
        "finished_at",
        "targets",
        "scanners",
        "config",
    ] {
        assert!(doc["scan"].get(key).is_some(), "scan.{key}");
    }
    assert_eq!(doc["scan"]["targets"], serde_json::json!(["127.0.0.1"]));
    let d = &doc["devices"][0];
    for key in [
        "id",
        "hostname",
        "vendor",
        "device_type",
        "interfaces",
        "services",
        "first_seen",
        "last_seen",
        "sources",
    ] {
        assert!(d.get(key).is_some(), "device.{key}");
    }
    let s = &d["services"][0];
    assert_eq!(s["port"], port);
    assert_eq!(s["protocol"], "tcp");
    assert_eq!(s["state"], "open");
    assert_eq!(s["name"], "ssh");
    assert_eq!(s["product"], "OpenSSH");
    assert_eq!(s["version"], "9.9");
    assert_eq!(s["confidence"], "high");
    assert_eq!(s["evidence"], "ssh-openssh");
    assert_eq!(d["interfaces"][0]["mac"], Value::Null);
    assert!(doc["warnings"].is_array());
}

#[test]
fn testlan_every_format_parses() {
    if !require("testlan_every_format_parses") {
        return;
    }
    // Docker is left out: another test of this binary starts a container meanwhile.
    let base = [
        "scan",
        "10.77.0.0/24",
        "10.77.1.0/24",
        "-p",
        "22,53,80,8080",
        "--timeout-ms",
        "500",
        "--scanners",
        "arp,tcp-ping,tcp,udp,names",
    ];
    let run = |format: &str| {
        let out = in_lan(&base).args(["-f", format]).output().unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let doc: Value = serde_json::from_str(&run("json")).unwrap();
    let devices = doc["devices"].as_array().unwrap();
    let web = devices
        .iter()
        .find(|d| d["interfaces"][0]["ip"] == WEB.ip.to_string())
        .expect("web found");
    assert_eq!(web["interfaces"][0]["mac"], WEB.mac.unwrap());
    assert_eq!(web["interfaces"][0]["subnet"], "10.77.0.0/24");
    assert_eq!(web["services"][0]["product"], "nginx");
    let ips: Vec<&str> = devices
        .iter()
        .filter_map(|d| d["interfaces"][0]["ip"].as_str())
        .collect();
    for ip in [
        "10.77.0.1",
        "10.77.0.10",
        "10.77.0.11",
        "10.77.0.12",
        "10.77.0.13",
        "10.77.1.10",
    ] {
        assert!(ips.contains(&ip), "{ip} missing from {ips:?}");
    }

    let ndjson = run("ndjson");
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), devices.len(), "one line a device");

    let csv = run("csv");
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(header[1], "ip");
    assert!(rows.all(|r| r.split(',').count() == header.len()), "{csv}");
    assert!(csv.contains(",80,tcp,open,http,nginx,"), "{csv}");

    let table = run("table");
    assert!(table.starts_with("ADDRESS"), "{table}");
    assert!(table.contains("80/tcp http (nginx"), "{table}");
}

fn read_available(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut s);
    }
    s
}

#[test]
fn testlan_ndjson_streams_before_the_end_and_ctrl_c_keeps_results() {
    if !require("testlan_ndjson_streams_before_the_end_and_ctrl_c_keeps_results") {
        return;
    }
    // A slow scan: one /24 at 100 probes per second takes far longer than the test waits.
    let mut child = in_lan(&[
        "scan",
        "10.77.0.10",
        "10.77.0.0/24",
        "-p",
        "80",
        "--rate",
        "100",
        "-f",
        "ndjson",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let line: Value = serde_json::from_str(&first).expect("a device line");
    assert!(line["interfaces"].is_array());
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first device arrived while the scan still ran"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let start = Instant::now();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    assert_eq!(status.code(), Some(130));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
    for l in rest.lines() {
        serde_json::from_str::<Value>(l).expect("partial results are whole lines");
    }

    // JSON: an interrupted scan still prints its document, marked interrupted.
    let mut child = in_lan(&[
        "scan",
        "10.77.0.0/24",
        "-p",
        "80",
        "--rate",
        "100",
        "-f",
        "json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = read_available(&mut child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let doc: Value = serde_json::from_str(&out).expect("a JSON document after Ctrl-C");
    assert_eq!(doc["scan"]["interrupted"], true);
    assert!(
        !doc["devices"].as_array().unwrap().is_empty(),
        "what was found is printed"
    );
}

#[test]
fn testlan_printer_ports_are_never_probed_by_default() {
    if !require("testlan_printer_ports_are_never_probed_by_default") {
        return;
    }
    // A JetDirect stand-in on the scanner's own address: count who connects.
    let count = |extra: &'static [&'static str]| -> usize {
        in_scanner_ns(move || async move {
            let l = tokio::net::TcpListener::bind("10.77.0.2:9100")
                .await
                .unwrap();
            let mut args = vec![
                "scan",
                "10.77.0.2",
                "-p",
                "top1000",
                "--scanners",
                "tcp",
                "-f",
                "json",
            ];
            args.extend_from_slice(extra);
            let mut child = tokio::process::Command::new(BIN)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut n = 0;
            loop {
                tokio::select! {
                    _ = l.accept() => n += 1,
                    s = child.wait() => { assert!(s.unwrap().success()); break; }
                }
            }
            n
        })
    };
    assert_eq!(count(&[]), 0, "port 9100 was probed by default");
    assert!(
        count(&["--probe-printer-ports"]) > 0,
        "with --probe-printer-ports it is (the test can fail)"
    );
}

#[test]
fn testlan_without_cap_net_raw_the_scan_falls_back_and_says_so() {
    if !require("testlan_without_cap_net_raw_the_scan_falls_back_and_says_so") {
        return;
    }
    let cmd = format!("{BIN} scan 10.77.0.0/24 -p 22,80 --timeout-ms 500 -f json");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            SCANNER_NS,
            "capsh",
            "--drop=cap_net_raw",
            "--",
            "-c",
            &cmd,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("CAP_NET_RAW") && warnings.contains("setcap"),
        "{warnings}"
    );
    assert!(
        !doc["scan"]["scanners"]
            .as_array()
            .unwrap()
            .contains(&Value::from("arp"))
    );
    let macs: Vec<&str> = doc["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["interfaces"][0]["mac"].as_str())
        .collect();
    // The neighbour table still yields every on-link host's MAC, even the one dropping all TCP.
    for h in [WEB, SSH, QUIET, DROP] {
        assert!(
            macs.contains(&h.mac.unwrap()),
            "{} missing: {macs:?}",
            h.name
        );
    }
}

#[test]
fn testlan_docker_containers_hang_off_the_scanning_host() {
    if !require("testlan_docker_containers_hang_off_the_scanning_host")
        || !scanopy_testlan::require_docker("testlan_docker_containers_hang_off_the_scanning_host")
    {
        return;
    }
    let name = "scanopy-test-daemon";
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
    let run = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            name,
            "-p",
            "127.0.0.1:18082:8080",
            "scanopy-test/busybox:latest",
            "httpd",
            "-f",
            "-p",
            "8080",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = in_lan(&["scan", "10.77.0.2", "-p", "1", "-f", "json"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["scan"]["scanners"]
            .as_array()
            .unwrap()
            .contains(&Value::from("docker"))
    );
    let devices = doc["devices"].as_array().unwrap();
    let host = devices
        .iter()
        .find(|d| d["interfaces"][0]["ip"] == "10.77.0.2")
        .expect("the scanning host");
    assert_eq!(host["device_type"], "docker_host");
    let c = devices
        .iter()
        .find(|d| d["container"]["name"] == name)
        .expect("the container");
    assert_eq!(c["device_type"], "container");
    assert_eq!(c["parent"], host["id"]);
    assert_eq!(c["container"]["ports"][0]["host_port"], 18082);
    assert!(
        host["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["port"] == 18082)
    );
}

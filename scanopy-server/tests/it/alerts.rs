//! Alerts end to end through a real SMTP server (Debian's `python3-aiosmtpd`, a process on
//! 127.0.0.1 keeping what it receives in a Maildir) and an HTTP receiver standing in for ntfy:
//! rules made through the API, fired by the store's events as the pump reads them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use scanopy_core::{Fact, MacAddr, Observation};
use scanopy_store::NewScanRun;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::Api;

/// The Python with aiosmtpd: Debian's (`python3-aiosmtpd`).
const PYTHON: &str = "/usr/bin/python3";

/// An aiosmtpd process writing what it receives to a Maildir; killed when dropped.
struct Smtpd {
    child: Child,
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
    /// Starts one, or says why not: `None` skips the test loudly, unless `SCANOPY_SMTPD=1`
    /// (CI installs it) promised it.
    fn start(test: &str) -> Option<Smtpd> {
        let has = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has {
            assert!(
                std::env::var("SCANOPY_SMTPD").map_or(true, |v| v != "1"),
                "{test}: SCANOPY_SMTPD=1 but {PYTHON} has no aiosmtpd (apt-get install python3-aiosmtpd)"
            );
            eprintln!(
                "SKIPPED {test}: no SMTP server to test against (apt-get install python3-aiosmtpd)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = std::env::temp_dir().join(format!("scanopy-mail-{}", Uuid::new_v4()));
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Smtpd {
            child,
            port,
            maildir,
        })
    }

    /// Each received mail's (To, Subject, body).
    fn mails(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(dir) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for f in dir.flatten() {
                out.push(parse_mail(&f.path()));
            }
        }
        out.sort();
        out
    }
}

fn parse_mail(p: &Path) -> (String, String, String) {
    let text = std::fs::read_to_string(p).unwrap();
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    (header("To"), header("Subject"), body.trim().to_owned())
}

/// What the push receiver got: (path, Title header, body).
type Pushes = Arc<Mutex<Vec<(String, String, String)>>>;

async fn push_receiver() -> (String, Pushes) {
    let got: Pushes = Arc::default();
    let rec = Arc::clone(&got);
    let app = Router::new().fallback(move |uri: Uri, h: HeaderMap, body: String| {
        let rec = Arc::clone(&rec);
        async move {
            let title = h
                .get("title")
                .and_then(|t| t.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            rec.lock()
                .unwrap()
                .push((uri.path().to_owned(), title, body));
            StatusCode::OK
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), got)
}

async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn seen(ip: &str, mac: &str, name: &str) -> Vec<Observation> {
    let at = chrono::Utc::now();
    let o = |fact| Observation {
        ip: ip.parse().unwrap(),
        scanner: "test".into(),
        at,
        fact,
    };
    vec![
        o(Fact::Mac {
            mac: mac.parse::<MacAddr>().unwrap(),
        }),
        o(Fact::Hostname {
            name: name.into(),
            source: "ptr".into(),
        }),
    ]
}

/// A local time of day `minutes` from now, `HH:MM`.
fn local_in(minutes: i64) -> String {
    (chrono::Local::now() + chrono::Duration::minutes(minutes))
        .format("%H:%M")
        .to_string()
}

/// A new device mails once and pushes once; a second one within the mail rule's throttle is
/// pushed but not mailed (recorded `throttled`); a rule in its quiet hours sends nothing
/// (recorded `quiet`); the device going offline and coming back pushes once each; "send a
/// test" mails at once; a reader may not see the rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_mailed_pushed_throttled_and_kept_quiet() {
    let Some(smtpd) = Smtpd::start("alerts_are_mailed_pushed_throttled_and_kept_quiet") else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}", smtpd.port);
    let api = Api::with(|c| {
        c.smtp = Some(scanopy_server::alerts::Smtp::new(&url, "scanopy@lab.test").unwrap())
    })
    .await;
    let (push_url, pushes) = push_receiver().await;
    let net = api.network().await;
    let rule = |body: Value| {
        let api = &api;
        async move {
            let (s, v) = api.post("/api/v1/alerts", body).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["id"].as_str().unwrap().to_owned()
        }
    };
    let mail = rule(
        json!({"name": "mail new devices", "events": ["device_new"], "network": net,
        "channel": {"kind": "email", "to": "ops@lab.test"}, "throttle_secs": 3600}),
    )
    .await;
    rule(
        json!({"name": "push", "events": ["device_new", "device_gone", "device_back"],
        "channel": {"kind": "ntfy", "url": push_url, "topic": "lan"}}),
    )
    .await;
    let quiet = rule(json!({"name": "at night", "events": ["device_new"],
        "channel": {"kind": "ntfy", "url": push_url, "topic": "night"},
        "quiet": {"from": local_in(-60), "to": local_in(60)}}))
    .await;
    tokio::spawn(scanopy_server::events::pump(api.state.clone()));
    tokio::spawn(scanopy_server::alerts::run(api.state.clone()));
    // The pump starts at the end of the event log.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let store = api.state.store.clone();
    let net_id: Uuid = net.parse().unwrap();
    let run = || async {
        store
            .start_scan(NewScanRun {
                network: net_id,
                daemon: None,
                config: Default::default(),
                targets: vec!["10.77.0.0/24".parse().unwrap()],
            })
            .await
            .unwrap()
            .id
    };
    let r = run().await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &seen("10.77.0.5", "00:11:32:00:00:05", "nas"),
        )
        .await
        .unwrap();
    store
        .finish_scan(r, scanopy_store::RunStatus::Done)
        .await
        .unwrap();
    api.state.tell("changed", json!({}));
    wait_until("the mail", Duration::from_secs(20), || {
        smtpd.mails().len() == 1
    })
    .await;
    let (to, subject, body) = smtpd.mails().remove(0);
    assert_eq!(to, "ops@lab.test");
    assert_eq!(subject, "New device on lab: nas (10.77.0.5)");
    assert!(body.contains("Network: lab"), "{body}");
    wait_until("the push", Duration::from_secs(20), || {
        !pushes.lock().unwrap().is_empty()
    })
    .await;
    {
        let p = pushes.lock().unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "/lan");
        assert_eq!(p[0].1, "New device on lab: nas (10.77.0.5)");
    }

    // A second new device: pushed, not mailed (the mail rule's throttle).
    let r = run().await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &seen("10.77.0.6", "00:11:32:00:00:06", "printer"),
        )
        .await
        .unwrap();
    api.state.tell("changed", json!({}));
    wait_until("the second push", Duration::from_secs(20), || {
        pushes.lock().unwrap().len() == 2
    })
    .await;
    let statuses = |id: &str| {
        let api = &api;
        let id = id.to_owned();
        async move {
            let (s, v) = api.get("/api/v1/alerts").await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id.as_str())
                .unwrap()["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["status"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let t0 = Instant::now();
    while statuses(&mail).await.len() < 2 || statuses(&quiet).await.len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{:?}",
            statuses(&mail).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses(&mail).await, ["throttled", "delivered"]);
    assert_eq!(smtpd.mails().len(), 1, "a throttled alert is not mailed");
    assert_eq!(statuses(&quiet).await, ["quiet", "quiet"]);
    assert!(
        pushes.lock().unwrap().iter().all(|p| p.0 != "/night"),
        "quiet hours send nothing"
    );

    // Offline after scans that miss it, then back: one push each.
    for _ in 0..scanopy_store::OFFLINE_AFTER {
        let r = run().await;
        store
            .apply_batch(
                r,
                Uuid::new_v4(),
                &seen("10.77.0.6", "00:11:32:00:00:06", "printer"),
            )
            .await
            .unwrap();
        store
            .finish_scan(r, scanopy_store::RunStatus::Done)
            .await
            .unwrap();
    }
    api.state.tell("changed", json!({}));
    wait_until("the offline push", Duration::from_secs(20), || {
        pushes
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.1.starts_with("Offline on lab: nas"))
    })
    .await;
    let r = run().await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &seen("10.77.0.5", "00:11:32:00:00:05", "nas"),
        )
        .await
        .unwrap();
    api.state.tell("changed", json!({}));
    wait_until("the online push", Duration::from_secs(20), || {
        pushes
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.1.starts_with("Back online on lab: nas"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    {
        let p = pushes.lock().unwrap();
        let titles: Vec<&str> = p.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(
            titles,
            [
                "New device on lab: nas (10.77.0.5)",
                "New device on lab: printer (10.77.0.6)",
                "Offline on lab: nas (10.77.0.5)",
                "Back online on lab: nas (10.77.0.5)",
            ],
            "each once"
        );
    }
    assert_eq!(smtpd.mails().len(), 1);

    // Send a test: mailed now, whatever the throttle.
    let (s, v) = api
        .post(&format!("/api/v1/alerts/{mail}/test"), json!({}))
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("delivered")),
        "{v}"
    );
    let mails = smtpd.mails();
    assert_eq!(mails.len(), 2);
    assert!(
        mails.iter().any(|m| m.1 == "A test from scanopy"),
        "{mails:?}"
    );

    // A reader sees no rules; deleting one stops it.
    let (s, v) = api
        .post("/api/v1/tokens", json!({"name": "reader", "role": "read"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let read = v["token"].as_str().unwrap().to_owned();
    let (s, _) = api
        .call(Method::GET, "/api/v1/alerts", Some(&read), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/alerts/{mail}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/alerts/{mail}"),
            Some(&api.admin.clone()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

/// A rule is checked before it is kept: every field, a template that must stay JSON, and
/// e-mail only where the server has an SMTP relay.
#[tokio::test]
async fn alert_rules_are_checked_before_they_are_kept() {
    let api = Api::new().await;
    let ntfy = json!({"kind": "ntfy", "url": "http://127.0.0.1:9", "topic": "lan"});
    for (body, what) in [
        (
            json!({"name": "x", "events": ["device_new"], "channel": {"kind": "email", "to": "a@b.test"}}),
            "SMTP relay",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": {"kind": "email", "to": "not an address"}}),
            "channel.to",
        ),
        (
            json!({"name": "x", "events": [], "channel": ntfy}),
            "events",
        ),
        (
            json!({"name": "x", "events": ["scan_progress"], "channel": ntfy}),
            "events",
        ),
        (
            json!({"name": "", "events": ["device_new"], "channel": ntfy}),
            "name",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": ntfy, "throttle_secs": -1}),
            "throttle_secs",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": ntfy, "quiet": {"from": "25:00", "to": "07:00"}}),
            "quiet",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": {"kind": "ntfy", "url": "ftp://x", "topic": "lan"}}),
            "channel.url",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": {"kind": "ntfy", "url": "http://x", "topic": "a/b"}}),
            "channel.topic",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": {"kind": "webhook", "url": "http://x", "template": "{\"t\": {{title}}}"}}),
            "channel.template",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": {"kind": "pigeon"}}),
            "",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": ntfy, "extra": 1}),
            "",
        ),
    ] {
        let (s, v) = api.post("/api/v1/alerts", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(v.to_string().contains(what), "{body}: {v}");
    }
    let (s, v) = api
        .post(
            "/api/v1/alerts",
            json!({"name": "x", "events": ["device_new"], "network": Uuid::new_v4(), "channel": ntfy}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = api
        .post(
            "/api/v1/alerts",
            json!({"name": "chat", "events": ["device_new", "device_new"], "channel": {"kind": "webhook",
                "url": "http://127.0.0.1:9/hook", "template": "{\"text\": \"{{title}}\"}"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["events"], json!(["device_new"]));
    let (s, _) = api
        .post(
            &format!("/api/v1/alerts/{}/test", Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Nothing answers on port 9: a failed test says so.
    let id = v["id"].as_str().unwrap();
    let (s, v) = api
        .post(&format!("/api/v1/alerts/{id}/test"), json!({}))
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("failed")),
        "{v}"
    );
    assert_eq!(v["error"], "could not connect");
}

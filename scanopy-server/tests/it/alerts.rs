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
            json!({"name": "x", "events": ["device_new"], "channel": ntfy, "subnet": "10.0.0.0/33"}),
            "subnet",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": ntfy, "digest": "8 o'clock"}),
            "digest",
        ),
        (
            json!({"name": "x", "events": ["device_new"], "channel": ntfy, "tag": "a\u{1b}[2J"}),
            "tag",
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
            json!({"name": "x", "events": ["device_new"], "device": Uuid::new_v4(), "channel": ntfy}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "an unknown device: {v}");
    let (_, v) = api.get("/api/v1/alerts").await;
    assert!(
        v["items"].as_array().unwrap().is_empty(),
        "refused rules are not kept: {v}"
    );
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

/// Scopes: a rule on a subnet hears only its devices', one on a tag only the tagged ones', one
/// on a device only that device's; an address answering with another MAC is an alert; a digest
/// rule keeps its events and sends them together once a day from its time, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_rules_moved_addresses_and_a_daily_digest() {
    use chrono::TimeZone;
    let api = Api::new().await;
    let (push_url, pushes) = push_receiver().await;
    let net = api.network().await;
    let ntfy = |topic: &str| json!({"kind": "ntfy", "url": push_url, "topic": topic});
    let rule = |body: Value| {
        let api = &api;
        async move {
            let (s, v) = api.post("/api/v1/alerts", body).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["id"].as_str().unwrap().to_owned()
        }
    };
    rule(json!({"name": "low", "events": ["device_new"], "subnet": "10.77.0.0/28", "channel": ntfy("low")})).await;
    rule(json!({"name": "cams", "events": ["service_new"], "tag": "cameras", "channel": ntfy("cams")})).await;
    rule(json!({"name": "moved", "events": ["address_moved"], "channel": ntfy("moved")})).await;
    let digest = rule(json!({"name": "daily", "events": ["device_new", "service_new"], "digest": "12:00", "channel": ntfy("daily")})).await;
    tokio::spawn(scanopy_server::events::pump(api.state.clone()));
    tokio::spawn(scanopy_server::alerts::run(api.state.clone()));
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
    let apply = |obs: Vec<Observation>| {
        let store = store.clone();
        let api = &api;
        async move {
            let r = run().await;
            store.apply_batch(r, Uuid::new_v4(), &obs).await.unwrap();
            api.state.tell("changed", json!({}));
        }
    };
    let mut two = seen("10.77.0.5", "00:11:32:00:00:05", "nas");
    two.extend(seen("10.77.0.100", "00:11:32:00:00:64", "far"));
    apply(two).await;
    let topic = |t: &str| {
        let t = format!("/{t}");
        pushes
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.0 == t)
            .map(|p| p.1.clone())
            .collect::<Vec<_>>()
    };
    wait_until("the subnet rule's push", Duration::from_secs(20), || {
        !topic("low").is_empty()
    })
    .await;
    // A camera, tagged by a user, opens a port; so does the untagged nas.
    let (_, list) = api.get("/api/v1/devices?limit=10").await;
    let id_of = |ip: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d.to_string().contains(&format!("\"{ip}\"")))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let far = id_of("10.77.0.100");
    let (s, v) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/devices/{far}"),
            Some(&api.admin.clone()),
            Some(json!({"tags": ["Cameras"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let port = |ip: &str, p: u16| -> Observation {
        serde_json::from_value(json!({"ip": ip, "scanner": "tcp", "at": chrono::Utc::now(),
            "fact": {"kind": "port", "port": p, "transport": "tcp", "state": "open", "name": "rtsp", "extra": {}, "confidence": "high", "evidence": "t"}}))
        .unwrap()
    };
    apply(vec![port("10.77.0.100", 554), port("10.77.0.5", 22)]).await;
    wait_until("the tag rule's push", Duration::from_secs(20), || {
        !topic("cams").is_empty()
    })
    .await;
    // Someone else answers for the nas's address.
    apply(seen("10.77.0.5", "02:00:5e:66:66:66", "intruder")).await;
    wait_until("the moved address's push", Duration::from_secs(20), || {
        !topic("moved").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        topic("low"),
        [
            "New device on lab: nas (10.77.0.5)",
            "New device on lab: intruder (10.77.0.5)"
        ],
        "only the subnet's (not far at .100)"
    );
    assert_eq!(
        topic("cams"),
        ["New service on far (10.77.0.100): 554/tcp rtsp"],
        "only the tagged one's"
    );
    assert_eq!(
        topic("moved"),
        ["Address 10.77.0.5 on lab now answers from 02:00:5e:66:66:66 (was 00:11:32:00:00:05)"]
    );

    // The digest rule sent nothing yet: its events wait, queued.
    assert!(topic("daily").is_empty());
    let statuses = || {
        let api = &api;
        let id = digest.clone();
        async move {
            let (_, v) = api.get("/api/v1/alerts").await;
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
    // Three new devices (nas, far, intruder) and two services.
    let t0 = Instant::now();
    while statuses().await.len() < 5 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{:?}",
            statuses().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(statuses().await.iter().all(|s| s == "queued"));
    let today = chrono::Local::now().date_naive();
    let at = |h, m| {
        chrono::Local
            .from_local_datetime(&today.and_hms_opt(h, m, 0).unwrap())
            .earliest()
            .unwrap()
    };
    assert_eq!(
        scanopy_server::alerts::send_digests(&api.state, at(11, 59)).await,
        0,
        "not before its time"
    );
    assert_eq!(
        scanopy_server::alerts::send_digests(&api.state, at(12, 0)).await,
        1
    );
    assert_eq!(
        scanopy_server::alerts::send_digests(&api.state, at(12, 30)).await,
        0,
        "once a day"
    );
    let body = {
        let p = pushes.lock().unwrap();
        let d: Vec<_> = p.iter().filter(|p| p.0 == "/daily").collect();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].1, "Scanopy digest: 5 changes");
        d[0].2.clone()
    };
    for line in [
        "New device on lab: nas",
        "New device on lab: far",
        "New device on lab: intruder",
        "554/tcp",
        "22/tcp",
    ] {
        assert!(body.contains(line), "{line} not in the digest:\n{body}");
    }
    let st = statuses().await;
    assert_eq!(st.iter().filter(|s| *s == "digested").count(), 5, "{st:?}");
    assert_eq!(st[0], "delivered", "the digest itself: {st:?}");
}

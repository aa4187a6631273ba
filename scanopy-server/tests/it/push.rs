//! Who the server calls: push daemons only at the URL an admin approved, never through a
//! redirect, each call on its own task with its own deadline, signed for the daemon it is for;
//! webhooks through one bounded queue per hook, each event delivered once by the servers
//! sharing a database; one local daemon record per server. Every peer here is a small server
//! on 127.0.0.1 written in this file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use scanopy_server::{AppState, StateConfig};
use scanopy_store::SqlStore;
use scanopy_store::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::Api;

impl Api {
    async fn put_url(&self, daemon: &str, url: Value, token: &str) -> (StatusCode, Value) {
        self.call(
            Method::PUT,
            &format!("/api/v1/daemons/{daemon}/push-url"),
            Some(token),
            Some(json!({ "url": url })),
        )
        .await
    }

    /// A daemon key of `net` and a push daemon registered with it, announcing `url`; (key, id).
    async fn push_daemon(&self, net: &str, name: &str, url: &str) -> (String, String) {
        let (s, k) = self
            .post(
                "/api/v1/daemons/keys",
                json!({"name": name, "network": net}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{k}");
        let key = k["key"].as_str().unwrap().to_owned();
        let id = self.announce(&key, name, url).await;
        (key, id)
    }

    /// The daemon of `key` registers again, announcing `url`; its id.
    async fn announce(&self, key: &str, name: &str, url: &str) -> String {
        let (s, r) = self
            .call(
                Method::POST,
                "/api/v1/daemon/register",
                Some(key),
                Some(json!({"name": name, "capabilities": {"mode": "push", "url": url, "version": "test"}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        r["daemon_id"].as_str().unwrap().to_owned()
    }

    async fn daemon(&self, id: &str) -> Value {
        let (_, list) = self.get("/api/v1/daemons").await;
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("daemon {id} not listed: {list}"))
    }

    async fn scan_for(&self, net: &str, daemon: &str) -> String {
        let (s, v) = self
            .post(
                "/api/v1/scans",
                json!({"network": net, "daemon": daemon, "targets": ["10.77.0.5"], "ports": "80"}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    async fn scan_status(&self, id: &str) -> String {
        let (_, v) = self.get(&format!("/api/v1/scans/{id}")).await;
        v["status"].as_str().unwrap_or_default().to_owned()
    }

    fn metric(&self, name: &str) -> u64 {
        self.state
            .metrics
            .snapshot()
            .into_iter()
            .find(|(k, _)| k == name)
            .map_or(0, |(_, v)| v)
    }
}

/// One request a peer saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

/// How a peer answers.
#[derive(Clone)]
enum Answer {
    /// 202 at once.
    Accept,
    /// 302 to this location.
    Redirect(String),
}

/// A small HTTP server on 127.0.0.1 that records every request.
struct Peer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Peer {
    async fn start(answer: Answer) -> Peer {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let rec = Arc::clone(&seen);
        let app = Router::new().fallback(move |req: Request<Body>| {
            let rec = Arc::clone(&rec);
            let answer = answer.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                rec.lock().unwrap().push(Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body,
                    at: Instant::now(),
                });
                match answer {
                    Answer::Accept => (StatusCode::ACCEPTED, "{}").into_response(),
                    Answer::Redirect(to) => {
                        (StatusCode::FOUND, [(header::LOCATION, to)], "").into_response()
                    }
                }
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        Peer {
            url: format!("http://{addr}"),
            seen,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A listener on 127.0.0.1 that accepts connections and never answers (nor reads); how many it
/// accepted.
async fn silent_peer() -> (String, Arc<Mutex<usize>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            *count.lock().unwrap() += 1;
            held.push(s);
        }
    });
    (format!("http://{addr}"), accepted)
}

async fn wait_until(what: &str, limit: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let t0 = Instant::now();
    while !cond().await {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A daemon's announced URL is shown, never called; the server calls only the URL an admin
/// approved, exactly, and a later announcement changes nothing but the pending flag. The call
/// names the daemon it is for, in the signed bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_daemon_is_called_only_at_the_url_an_admin_approved() {
    let api = Api::new().await;
    let net = api.network().await;
    let a = Peer::start(Answer::Accept).await;
    let b = Peer::start(Answer::Accept).await;
    let (key, id) = api.push_daemon(&net, "pushy", &a.url).await;
    tokio::spawn(scanopy_server::jobs::background(api.state.clone()));
    let d = api.daemon(&id).await;
    assert_eq!(d["announced_url"], a.url.as_str(), "{d}");
    assert_eq!(d["approved_url"], Value::Null, "{d}");
    assert_eq!(d["push_url_pending"], true, "{d}");
    let scan = api.scan_for(&net, &id).await;
    // The dispatcher runs every 2 s and at each new scan: give it several turns.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        a.seen().is_empty(),
        "called before approval: {:?}",
        a.seen()
    );
    assert_eq!(api.scan_status(&scan).await, "queued");

    // Only an admin approves, only a proper URL, only a known daemon.
    let (s, _) = api
        .post("/api/v1/tokens", json!({"name": "r", "role": "read"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, t) = api
        .post("/api/v1/tokens", json!({"name": "r2", "role": "read"}))
        .await;
    let read = t["token"].as_str().unwrap().to_owned();
    let (s, v) = api.put_url(&id, json!(a.url), &read).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api.put_url(&id, json!(a.url), &key).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a daemon key approves nothing: {v}"
    );
    for bad in ["ftp://10.0.0.1", "http://u:p@127.0.0.1:1", "not a url", ""] {
        let (s, v) = api.put_url(&id, json!(bad), &api.admin).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let (s, _) = api
        .put_url(&Uuid::new_v4().to_string(), json!(a.url), &api.admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.seen().is_empty(), "refused approvals approve nothing");

    let (s, v) = api.put_url(&id, json!(a.url), &api.admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["approved_url"], a.url.as_str());
    assert_eq!(v["push_url_pending"], false);
    wait_until(
        "the approved daemon gets its job",
        Duration::from_secs(10),
        async || !a.seen().is_empty(),
    )
    .await;
    let call = &a.seen()[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/api/v1/jobs")
    );
    let daemon_id: Uuid = id.parse().unwrap();
    assert_eq!(
        call.headers["x-scanopy-daemon"].to_str().unwrap(),
        daemon_id.to_string()
    );
    // The signature covers the daemon's id: it verifies for this daemon, not for another.
    let (_, status) = api.get("/api/v1/status").await;
    let pk = status["server_public_key"].as_str().unwrap().to_owned();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let pk =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, b64.decode(pk).unwrap());
    let sig = b64
        .decode(call.headers["x-scanopy-signature"].to_str().unwrap())
        .unwrap();
    let ts: i64 = call.headers["x-scanopy-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let msg = |d| scanopy_core::protocol::signed_message("POST", "/api/v1/jobs", d, ts, &call.body);
    assert!(pk.verify(&msg(daemon_id), &sig).is_ok());
    assert!(pk.verify(&msg(Uuid::new_v4()), &sig).is_err());

    // The daemon announces another URL: the approved one stays, the new one is pending.
    api.announce(&key, "pushy", &b.url).await;
    let d = api.daemon(&id).await;
    assert_eq!(d["approved_url"], a.url.as_str(), "{d}");
    assert_eq!(d["announced_url"], b.url.as_str(), "{d}");
    assert_eq!(d["push_url_pending"], true, "{d}");
    // It ends its job; the next one goes to the approved URL again, never to the announced.
    let (s, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/daemon/jobs/{scan}/finish"),
            Some(&key),
            Some(json!({"outcome": "done"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    api.scan_for(&net, &id).await;
    wait_until(
        "the second job reaches the approved URL",
        Duration::from_secs(10),
        async || a.seen().len() >= 2,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        b.seen().is_empty(),
        "the announced URL was called: {:?}",
        b.seen()
    );

    // Cleared: nothing is called any more.
    let (s, v) = api.put_url(&id, Value::Null, &api.admin).await;
    assert_eq!((s, &v["approved_url"]), (StatusCode::OK, &Value::Null));
}

/// A daemon URL that answers with a redirect to another listener: the server does not follow
/// it (the other listener sees nothing), and the job goes back to the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_a_push_daemon_is_not_followed() {
    let api = Api::new().await;
    let net = api.network().await;
    let target = Peer::start(Answer::Accept).await;
    let redirector = Peer::start(Answer::Redirect(format!("{}/api/v1/jobs", target.url))).await;
    let (_, id) = api.push_daemon(&net, "redirecting", &redirector.url).await;
    let (s, v) = api.put_url(&id, json!(redirector.url), &api.admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    tokio::spawn(scanopy_server::jobs::background(api.state.clone()));
    let scan = api.scan_for(&net, &id).await;
    wait_until(
        "the daemon URL is called",
        Duration::from_secs(10),
        async || !redirector.seen().is_empty(),
    )
    .await;
    wait_until(
        "the failed push is counted",
        Duration::from_secs(10),
        async || api.metric("push_failures") >= 1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        target.seen().is_empty(),
        "the redirect was followed: {:?}",
        target.seen()
    );
    // Released at once: queued again (or already claimed for the next try).
    let st = api.scan_status(&scan).await;
    assert!(st == "queued" || st == "running", "{st}");
}

/// Two push daemons: one accepts connections and never answers, the other answers. The second
/// gets its job at once, however long the first hangs; the first's call ends at its own
/// deadline and its job goes back to the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_push_daemon_delays_no_other() {
    let api = Api::new().await;
    let net = api.network().await;
    let (slow_url, accepted) = silent_peer().await;
    let fast = Peer::start(Answer::Accept).await;
    // Daemons are listed by name: the slow one comes first.
    let (_, slow) = api.push_daemon(&net, "a-slow", &slow_url).await;
    let (_, quick) = api.push_daemon(&net, "b-fast", &fast.url).await;
    for (id, url) in [(&slow, &slow_url), (&quick, &fast.url)] {
        let (s, v) = api.put_url(id, json!(url), &api.admin).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let slow_scan = api.scan_for(&net, &slow).await;
    api.scan_for(&net, &quick).await;
    let t0 = Instant::now();
    tokio::spawn(scanopy_server::jobs::background(api.state.clone()));
    wait_until(
        "the fast daemon gets its job",
        Duration::from_secs(20),
        async || !fast.seen().is_empty(),
    )
    .await;
    let waited = fast.seen()[0].at - t0;
    assert!(*accepted.lock().unwrap() >= 1, "the slow daemon was called");
    assert!(
        waited < Duration::from_secs(3),
        "the fast daemon waited {waited:?} behind the slow one"
    );
    // The slow call ends at its deadline (10 s and a little), not at the lease's end.
    wait_until(
        "the slow daemon's call times out and its job is released",
        scanopy_server::push::CALL_DEADLINE + Duration::from_secs(5),
        async || api.metric("push_failures") >= 1,
    )
    .await;
    let st = api.scan_status(&slow_scan).await;
    assert!(st == "queued" || st == "running", "{st}");
    eprintln!(
        "fast daemon's job after {waited:?}; slow call ended after {:?}",
        t0.elapsed()
    );
}

/// A receiver of webhooks on 127.0.0.1: records each delivery's sequence number; holds the
/// first request until `release` is notified.
struct Receiver {
    url: String,
    seqs: Arc<Mutex<Vec<i64>>>,
    release: Arc<tokio::sync::Notify>,
}

async fn receiver(hold_first: bool) -> Receiver {
    let seqs: Arc<Mutex<Vec<i64>>> = Arc::default();
    let release = Arc::new(tokio::sync::Notify::new());
    let (rec, rel) = (Arc::clone(&seqs), Arc::clone(&release));
    let app = Router::new().fallback(move |h: HeaderMap| {
        let (rec, rel) = (Arc::clone(&rec), Arc::clone(&rel));
        async move {
            let seq: i64 = h["x-scanopy-delivery"].to_str().unwrap().parse().unwrap();
            let first = {
                let mut r = rec.lock().unwrap();
                r.push(seq);
                r.len() == 1
            };
            if first && hold_first {
                rel.notified().await;
            }
            StatusCode::OK
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        seqs,
        release,
    }
}

/// A webhook that does not answer holds only its own bounded queue: 1,500 events behind one
/// in flight keep the newest 1,000, the 500 oldest are dropped and counted, and once it answers
/// it gets exactly those kept, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_queue_is_bounded_and_drops_its_oldest() {
    let api = Api::new().await;
    let rx = receiver(true).await;
    let (s, v) = api.post("/api/v1/webhooks", json!({"url": rx.url})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    tokio::spawn(scanopy_server::webhooks::deliver(api.state.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tell = |seq: i64| {
        api.state
            .tell("device_new", json!({"seq": seq, "kind": "device_new"}))
    };
    tell(1);
    wait_until(
        "the first event is in flight",
        Duration::from_secs(5),
        async || !rx.seqs.lock().unwrap().is_empty(),
    )
    .await;
    let cap = scanopy_server::webhooks::QUEUE_CAPACITY as i64;
    let more = cap + 500;
    for seq in 2..=more + 1 {
        tell(seq);
        if seq % 50 == 0 {
            // Let the dispatcher keep up with the live channel.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    wait_until(
        "the overflow is counted",
        Duration::from_secs(5),
        async || api.metric("webhook_dropped") >= 500,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        api.metric("webhook_events_missed"),
        0,
        "the test outran the channel"
    );
    assert_eq!(api.metric("webhook_dropped"), 500);
    rx.release.notify_one();
    wait_until(
        "the kept events are delivered",
        Duration::from_secs(60),
        async || rx.seqs.lock().unwrap().len() as i64 > cap,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx.seqs.lock().unwrap().clone();
    let want: Vec<i64> = std::iter::once(1).chain(502..=more + 1).collect();
    assert_eq!(
        got, want,
        "the oldest were dropped, the rest came in order, once"
    );
}

/// Two servers on one PostgreSQL database, each with its event pump and webhook workers: each
/// event reaches the webhook once, not once per server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_deliver_each_event_once() {
    let Ok(admin_url) = std::env::var("SCANOPY_PG_URL") else {
        assert!(
            std::env::var("SCANOPY_PG").map_or(true, |v| v != "1"),
            "SCANOPY_PG=1 but SCANOPY_PG_URL is not set"
        );
        eprintln!(
            "SKIPPED two_servers_on_one_postgres_deliver_each_event_once: set SCANOPY_PG_URL"
        );
        return;
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin_url).await.unwrap();
    let db = format!("scanopy_hooks_{}", Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let url = format!("{base}/{db}");
    let one: Arc<dyn Store> = Arc::new(SqlStore::connect_postgres(&url).await.unwrap());
    let two: Arc<dyn Store> = Arc::new(SqlStore::connect_postgres(&url).await.unwrap());
    let rx = receiver(false).await;
    one.create_webhook(&rx.url, "0123456789abcdef0123")
        .await
        .unwrap();
    let mut servers = Vec::new();
    for (store, name) in [(one.clone(), "server-1"), (two.clone(), "server-2")] {
        let state = AppState::build(
            store,
            StateConfig {
                instance: name.into(),
                ..StateConfig::new(scanopy_daemon::push::generate_key())
            },
        );
        tokio::spawn(scanopy_server::events::pump(state.clone()));
        tokio::spawn(scanopy_server::webhooks::deliver(state.clone()));
        servers.push(state);
    }
    // The pumps start at the end of the event log.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let net = one
        .create_network("shared", &["10.9.0.0/24".parse().unwrap()])
        .await
        .unwrap()
        .id;
    for (i, store) in [&one, &two, &one, &two].into_iter().enumerate() {
        let run = store
            .start_scan(scanopy_store::NewScanRun {
                network: net,
                daemon: None,
                config: Default::default(),
                targets: vec![],
            })
            .await
            .unwrap()
            .id;
        let obs: Vec<scanopy_core::Observation> = (1..=5u8)
            .map(|h| scanopy_core::Observation {
                ip: format!("10.9.0.{}", i as u8 * 10 + h).parse().unwrap(),
                scanner: "t".into(),
                at: chrono::Utc::now(),
                fact: scanopy_core::Fact::Port(scanopy_core::PortFact::state(
                    80,
                    scanopy_core::Transport::Tcp,
                    scanopy_core::PortState::Open,
                )),
            })
            .collect();
        store.apply_batch(run, Uuid::new_v4(), &obs).await.unwrap();
        for s in &servers {
            s.tell("changed", json!({}));
        }
    }
    let events: Vec<i64> = one
        .events(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert!(events.len() >= 20, "{events:?}");
    wait_until(
        "every event is delivered",
        Duration::from_secs(20),
        async || {
            let got = rx.seqs.lock().unwrap();
            events.iter().all(|e| got.contains(e))
        },
    )
    .await;
    // Both pumps poll every second: give the second server time to deliver a duplicate.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut per_seq: BTreeMap<i64, usize> = BTreeMap::new();
    for s in rx.seqs.lock().unwrap().iter() {
        *per_seq.entry(*s).or_default() += 1;
    }
    let twice: Vec<_> = per_seq.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(per_seq.len(), events.len());
}

/// Two servers on one database each register their own local daemon; a restart keeps it.
#[tokio::test]
async fn two_servers_have_two_local_daemons() {
    let store: Arc<dyn Store> = Arc::new(SqlStore::in_memory().await.unwrap());
    let a = Api::over(store.clone(), "instance-a").await;
    let b = Api::over(store.clone(), "instance-b").await;
    let caps = scanopy_core::protocol::Capabilities::default();
    let (da, net_a) = scanopy_server::local::register(&a.state, &caps)
        .await
        .unwrap();
    let (db, net_b) = scanopy_server::local::register(&b.state, &caps)
        .await
        .unwrap();
    assert_eq!(net_a.id, net_b.id, "one network named local");
    assert_ne!(da.id, db.id, "each server's local daemon is its own record");
    let (da2, _) = scanopy_server::local::register(&a.state, &caps)
        .await
        .unwrap();
    assert_eq!(da2.id, da.id, "a restart keeps the record");
    let (_, list) = a.get("/api/v1/daemons").await;
    let locals = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["local"] == true)
        .count();
    assert_eq!(locals, 2, "{list}");
}

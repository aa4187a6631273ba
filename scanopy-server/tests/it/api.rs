use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::{Api, PASSWORD};

impl Api {
    /// A new API token of `role`.
    async fn token(&self, role: &str) -> String {
        let (s, v) = self
            .post("/api/v1/tokens", json!({"name": role, "role": role}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no error body>")
}

/// Every route but health and login refuses a caller without credentials, with the error body.
#[tokio::test]
async fn every_route_needs_authentication() {
    let api = Api::new().await;
    let id = "00000000-0000-4000-8000-000000000000";
    let routes: Vec<(Method, String)> = [
        ("GET", "/api/v1/me"),
        ("PUT", "/api/v1/me/password"),
        ("GET", "/api/v1/me/sessions"),
        ("DELETE", "/api/v1/me/sessions/ID"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("PATCH", "/api/v1/users/ID"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/devices"),
        ("GET", "/api/v1/devices/ID"),
        ("PATCH", "/api/v1/devices/ID"),
        ("DELETE", "/api/v1/devices/ID"),
        ("GET", "/api/v1/services"),
        ("GET", "/api/v1/networks"),
        ("POST", "/api/v1/networks"),
        ("GET", "/api/v1/networks/ID/snmp-credentials"),
        ("POST", "/api/v1/networks/ID/snmp-credentials"),
        ("PATCH", "/api/v1/networks/ID"),
        ("GET", "/api/v1/networks/ID/suggested-subnets"),
        ("GET", "/api/v1/topology"),
        ("GET", "/api/v1/scans"),
        ("POST", "/api/v1/scans"),
        ("GET", "/api/v1/scans/ID"),
        ("POST", "/api/v1/scans/ID/cancel"),
        ("GET", "/api/v1/schedules"),
        ("POST", "/api/v1/schedules"),
        ("DELETE", "/api/v1/schedules/ID"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/events/stream"),
        ("GET", "/api/v1/daemons"),
        ("PUT", "/api/v1/daemons/ID/push-url"),
        ("GET", "/api/v1/daemons/keys"),
        ("POST", "/api/v1/daemons/keys"),
        ("DELETE", "/api/v1/daemons/keys/ID"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/ID"),
        ("GET", "/api/v1/webhooks"),
        ("POST", "/api/v1/webhooks"),
        ("DELETE", "/api/v1/webhooks/ID"),
        ("GET", "/api/v1/export"),
        ("GET", "/api/v1/changes"),
        ("GET", "/api/v1/presence"),
        ("GET", "/api/v1/devices/ID/presence"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/alerts"),
        ("POST", "/api/v1/alerts"),
        ("DELETE", "/api/v1/alerts/ID"),
        ("POST", "/api/v1/alerts/ID/test"),
        ("GET", "/api/v1/metrics"),
        ("POST", "/api/v1/daemon/register"),
        ("POST", "/api/v1/daemon/heartbeat"),
        ("POST", "/api/v1/daemon/poll"),
        ("POST", "/api/v1/daemon/listen"),
        ("POST", "/api/v1/daemon/jobs/ID/results"),
        ("POST", "/api/v1/daemon/jobs/ID/progress"),
        ("POST", "/api/v1/daemon/jobs/ID/finish"),
    ]
    .iter()
    .map(|(m, p)| (m.parse().unwrap(), p.replace("ID", id)))
    .collect();
    for (m, p) in &routes {
        let body = (*m != Method::GET && *m != Method::DELETE).then(|| json!({}));
        for auth in [None, Some("st_not-a-real-token"), Some("garbage")] {
            let (s, v) = api.call(m.clone(), p, auth, body.clone()).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {p} with {auth:?}: {v}");
            assert_eq!(error_code(&v), "unauthorized", "{m} {p}");
        }
    }
    // Health answers without credentials.
    let (s, v) = api.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!((s, v["database"].as_str()), (StatusCode::OK, Some("ok")));
    // The OpenAPI document lists every route above.
    let (s, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (m, p) in &routes {
        let templ = p.replace(id, "{id}");
        let op = paths
            .get(&templ)
            .and_then(|o| o.get(m.as_str().to_lowercase()));
        assert!(
            op.is_some(),
            "{m} {templ} missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn roles_limit_what_a_caller_may_do() {
    let api = Api::new().await;
    let read = api.token("read").await;
    let net = api.network().await;
    let (s, _) = api
        .call(Method::GET, "/api/v1/devices", Some(&read), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    for (m, p, body) in [
        (Method::POST, "/api/v1/networks", json!({"name": "x"})),
        (
            Method::POST,
            "/api/v1/tokens",
            json!({"name": "x", "role": "admin"}),
        ),
        (Method::POST, "/api/v1/scans", json!({"network": net})),
        (Method::GET, "/api/v1/daemons/keys", json!(null)),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (s, v) = api.call(m.clone(), p, Some(&read), body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {p}: {v}");
        assert_eq!(error_code(&v), "forbidden");
    }
    // A daemon key is for the daemon protocol only, and a user token is not a daemon key.
    let (_, k) = api
        .post("/api/v1/daemons/keys", json!({"name": "d", "network": net}))
        .await;
    let key = k["key"].as_str().unwrap();
    let (s, _) = api
        .call(Method::GET, "/api/v1/devices", Some(key), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .call(Method::POST, "/api/v1/daemon/poll", Some(&read), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/daemon/listen",
            Some(&read),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a user's token opens no listen run"
    );
    // A revoked token stops working at once.
    let (_, list) = api.get("/api/v1/tokens").await;
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !list.to_string().contains(&read),
        "a token list never shows secrets"
    );
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&api.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(Method::GET, "/api/v1/devices", Some(&read), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_is_rate_limited() {
    let api = Api::new().await;
    let login = |password: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"username": "admin", "password": password}).to_string(),
            ))
            .unwrap()
    };
    let (s, h, _) = api.raw(login(PASSWORD)).await;
    assert_eq!(s, StatusCode::OK);
    let cookie = h[header::SET_COOKIE].to_str().unwrap().to_owned();
    for part in [
        "scanopy_session=ss_",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure flag over plain HTTP");
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = Request::builder()
        .uri("/api/v1/me")
        .header(header::COOKIE, &session)
        .body(Body::empty())
        .unwrap();
    let (s, _, body) = api.raw(me).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("admin"));
    // Signing out ends the session.
    let out = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/logout")
        .header(header::COOKIE, &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(out).await.0, StatusCode::NO_CONTENT);
    let me = Request::builder()
        .uri("/api/v1/me")
        .header(header::COOKIE, &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(me).await.0, StatusCode::UNAUTHORIZED);
    // Wrong passwords: 401, then 429 once the limit is reached — even with the right one.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(api.raw(login("wrong password")).await.0);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        api.raw(login(PASSWORD)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A sign-in as `user` from the TCP peer `peer`, with an `X-Forwarded-For` header if given.
async fn login_from(
    api: &Api,
    peer: &str,
    xff: Option<&str>,
    user: &str,
    password: &str,
) -> StatusCode {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(x) = xff {
        b = b.header("x-forwarded-for", x);
    }
    let mut req = b
        .body(Body::from(
            json!({"username": user, "password": password}).to_string(),
        ))
        .unwrap();
    let ip: std::net::IpAddr = peer.parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            ip, 40_000,
        )));
    api.raw(req).await.0
}

/// A stranger's wrong passwords for `admin` from one address lock out that address, not the
/// admin: the right password from another address still signs in (issue 11: on the old code
/// it got 429 for a minute).
#[tokio::test]
async fn a_strangers_failures_lock_out_their_address_not_the_user() {
    let api = Api::new().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(login_from(&api, "192.0.2.10", None, "admin", "wrong password").await);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED, "{statuses:?}");
    assert_eq!(statuses[11], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // The address that failed is refused, even with the right password.
    assert_eq!(
        login_from(&api, "192.0.2.10", None, "admin", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The admin from another address signs in (slowed a little at most).
    let t = std::time::Instant::now();
    assert_eq!(
        login_from(&api, "198.51.100.20", None, "admin", PASSWORD).await,
        StatusCode::OK
    );
    eprintln!(
        "the admin's sign-in from a new address took {:?}",
        t.elapsed()
    );
}

/// Failures are counted per /64 for IPv6: addresses of one /64 share a limit, across user
/// names; another /64 is not limited by them.
#[tokio::test]
async fn ipv6_addresses_in_one_64_share_a_limit() {
    let api = Api::new().await;
    let limit = scanopy_server::signin::PER_ADDRESS;
    for i in 0..limit {
        // Each name once, half from each address: only the /64 ties them together.
        let from = if i % 2 == 0 {
            "2001:db8:0:1::1"
        } else {
            "2001:db8:0:1:ffff::2"
        };
        let s = login_from(&api, from, None, &format!("nobody{i}"), "wrong password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        login_from(&api, "2001:db8:0:1:1234::3", None, "admin", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "another address of the same /64"
    );
    assert_eq!(
        login_from(&api, "2001:db8:0:2::1", None, "admin", PASSWORD).await,
        StatusCode::OK,
        "another /64"
    );
}

/// `X-Forwarded-For` names the client only when the peer is a trusted proxy.
#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let api = Api::with_sign_in(scanopy_server::signin::SignInConfig {
        trusted_proxies: vec!["10.0.0.1/32".parse().unwrap()],
        ..Default::default()
    })
    .await;
    let limit = scanopy_server::signin::PER_USER_ADDRESS;
    // An untrusted peer cannot spread its failures over made-up addresses.
    for i in 0..limit {
        let xff = format!("203.0.113.{i}");
        let s = login_from(&api, "192.0.2.50", Some(&xff), "admin", "wrong password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        login_from(&api, "192.0.2.50", Some("203.0.113.200"), "admin", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "X-Forwarded-For from an untrusted peer is ignored"
    );
    // Through the trusted proxy, one client's failures limit that client only.
    for i in 0..limit {
        let s = login_from(
            &api,
            "10.0.0.1",
            Some("203.0.113.7"),
            "admin",
            "wrong password",
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i} through the proxy");
    }
    assert_eq!(
        login_from(&api, "10.0.0.1", Some("203.0.113.7"), "admin", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the client behind the proxy that failed"
    );
    // What the client itself wrote left of the proxy's entry does not change who it is.
    assert_eq!(
        login_from(
            &api,
            "10.0.0.1",
            Some("198.51.100.1, 203.0.113.7"),
            "admin",
            PASSWORD
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "a spoofed left-most entry"
    );
    assert_eq!(
        login_from(&api, "10.0.0.1", Some("203.0.113.8"), "admin", PASSWORD).await,
        StatusCode::OK,
        "another client behind the same proxy"
    );
}

/// A sign-in that cannot get a password-check permit in time is answered 503, not queued
/// forever.
#[tokio::test]
async fn a_sign_in_waiting_too_long_for_a_password_check_gets_503() {
    let api = Api::with_sign_in(scanopy_server::signin::SignInConfig {
        permits: 1,
        wait: std::time::Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let held = api.state.sign_in.hold_permit().await;
    let t = std::time::Instant::now();
    assert_eq!(
        login_from(&api, "192.0.2.1", None, "admin", PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
    drop(held);
    // A 503 is not a failure: the same address signs in at once after.
    assert_eq!(
        login_from(&api, "192.0.2.1", None, "admin", PASSWORD).await,
        StatusCode::OK
    );
}

/// Reads an SSE body until it ends; panics if it is still open after `limit`.
async fn until_the_stream_ends(body: &mut Body, limit: std::time::Duration) -> std::time::Duration {
    let t = std::time::Instant::now();
    loop {
        let left = limit.saturating_sub(t.elapsed());
        match tokio::time::timeout(left, body.frame()).await {
            Ok(None) => return t.elapsed(),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("the stream failed: {e}"),
            Err(_) => panic!("the event stream still runs {limit:?} after its credential ended"),
        }
    }
}

/// Reads an SSE body until `what` shows.
async fn until_seen(body: &mut Body, what: &str) {
    let mut seen = String::new();
    while !seen.contains(what) {
        let f = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
            .unwrap();
        if let Ok(d) = f.into_data() {
            seen.push_str(&String::from_utf8_lossy(&d));
        }
    }
}

/// The SSE stream ends when its session is signed out or its API token revoked (issue 11: it
/// went on streaming).
#[tokio::test]
async fn the_event_stream_ends_when_its_session_or_token_is_revoked() {
    let api = Api::new().await;
    let login = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": "admin", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let (s, h, _) = api.raw(login).await;
    assert_eq!(s, StatusCode::OK);
    let session = h[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = api.token("read").await;
    let open = |cookie: Option<&str>, token: Option<&str>| {
        let mut b = Request::builder().uri("/api/v1/events/stream");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        api.app.clone().oneshot(b.body(Body::empty()).unwrap())
    };
    let r = open(Some(&session), None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut by_session = r.into_body();
    let r = open(None, Some(&token)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut by_token = r.into_body();
    // Both stream.
    api.state
        .tell("device_new", json!({"seq": 1, "kind": "device_new"}));
    until_seen(&mut by_session, "device_new").await;
    until_seen(&mut by_token, "device_new").await;
    // Signing out ends the session's stream; the token's goes on.
    let out = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/logout")
        .header(header::COOKIE, &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(out).await.0, StatusCode::NO_CONTENT);
    let took = until_the_stream_ends(&mut by_session, std::time::Duration::from_secs(10)).await;
    eprintln!("the session's stream ended {took:?} after the sign-out");
    api.state.tell(
        "device_new",
        json!({"seq": 2, "kind": "device_new", "n": "second"}),
    );
    until_seen(&mut by_token, "second").await;
    // Revoking the token ends its stream.
    let (_, list) = api.get("/api/v1/tokens").await;
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "read")
        .unwrap_or_else(|| panic!("{list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&api.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let took = until_the_stream_ends(&mut by_token, std::time::Duration::from_secs(10)).await;
    eprintln!("the token's stream ended {took:?} after the revocation");
}

/// CONTRACT.md names the routes that need no credential, and the code agrees: those answer
/// without one, `GET /api/v1/openapi.json` among them (it describes the API and holds no
/// data; the schema fuzzer fetches it), and any other refuses (issue 11: the contract said
/// the document needed a credential, the code served it to anyone).
#[tokio::test]
async fn the_routes_the_contract_calls_public_are_public_and_only_those() {
    let contract =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONTRACT.md"))
            .unwrap();
    let text = contract.replace('\n', " ");
    let start = text
        .find("Every route but")
        .expect("CONTRACT.md says which routes need no credential");
    let sentence = &text[start..start + text[start..].find("needs").unwrap()];
    let public: Vec<(Method, String)> = sentence
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|r| {
            let (m, p) = r.split_once(' ').unwrap();
            (m.parse().unwrap(), p.to_owned())
        })
        .collect();
    assert!(public.len() >= 2, "{sentence}");
    let api = Api::new().await;
    for (m, p) in &public {
        let body = (*m == Method::POST).then(|| json!({}));
        let (s, v) = api.call(m.clone(), p, None, body).await;
        assert_ne!(
            s,
            StatusCode::UNAUTHORIZED,
            "{m} {p} is public by the contract: {v}"
        );
    }
    let openapi = (Method::GET, "/api/v1/openapi.json".to_owned());
    let (s, doc) = api.call(Method::GET, &openapi.1, None, None).await;
    if public.contains(&openapi) {
        assert_eq!(s, StatusCode::OK);
        assert!(doc["paths"].is_object(), "{doc}");
    } else {
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "the contract says it needs a credential"
        );
    }
}

/// Registers a daemon with a new key of `net`; returns its key.
async fn daemon_key(api: &Api, net: &str) -> String {
    let (s, k) = api
        .post(
            "/api/v1/daemons/keys",
            json!({"name": "lab daemon", "network": net}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let (s, r) = api
        .call(
            Method::POST,
            "/api/v1/daemon/register",
            Some(&key),
            Some(json!({"name": "lab", "capabilities": {"raw_sockets": true, "subnets": ["10.77.0.0/24"], "version": "test"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["network_id"].as_str(), Some(net));
    key
}

fn observations() -> Value {
    let at = chrono::Utc::now().to_rfc3339();
    json!([
        {"ip": "10.77.0.10", "scanner": "arp", "at": at, "fact": {"kind": "mac", "mac": "00:11:32:aa:00:10"}},
        {"ip": "10.77.0.10", "scanner": "tcp", "at": at, "fact": {"kind": "port", "port": 80, "transport": "tcp", "state": "open", "name": "http", "product": "nginx", "extra": {}, "confidence": "high", "evidence": "t"}},
        {"ip": "10.77.0.11", "scanner": "tcp", "at": at, "fact": {"kind": "port", "port": 22, "transport": "tcp", "state": "open", "name": "ssh", "extra": {}, "confidence": "high", "evidence": "t"}},
    ])
}

/// A scan through the daemon protocol: queued, claimed once, results applied once, finished.
#[tokio::test]
async fn a_scan_goes_through_the_daemon_protocol() {
    let api = Api::new().await;
    let net = api.network().await;
    let key = daemon_key(&api, &net).await;
    let (s, scan) = api
        .post(
            "/api/v1/scans",
            json!({"network": net, "targets": ["10.77.0.0/24"], "ports": "22,80", "scanners": ["tcp"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{scan}");
    assert_eq!(scan["status"], "queued");
    let id = scan["id"].as_str().unwrap().to_owned();
    let (s, poll) = api
        .call(Method::POST, "/api/v1/daemon/poll", Some(&key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(poll["job"]["id"].as_str(), Some(id.as_str()));
    assert_eq!(poll["job"]["config"]["ports"], "22,80");
    // Nothing more to claim.
    let (_, again) = api
        .call(Method::POST, "/api/v1/daemon/poll", Some(&key), None)
        .await;
    assert!(again["job"].is_null(), "{again}");
    let batch =
        json!({"batch_id": "6d1e2b6e-0000-4000-8000-0000000000aa", "observations": observations()});
    for _ in 0..2 {
        let (s, ack) = api
            .call(
                Method::POST,
                &format!("/api/v1/daemon/jobs/{id}/results"),
                Some(&key),
                Some(batch.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{ack}");
        assert_eq!(ack["cancel"], false);
    }
    let (s, _) = api
        .call(
            Method::POST,
            &format!("/api/v1/daemon/jobs/{id}/progress"),
            Some(&key),
            Some(json!({"hosts_total": 256, "hosts_found": 2, "hosts_done": 2, "probes_sent": 4, "ports_probed": 4, "observations": 3})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let finish = json!({"outcome": "done", "progress": {"hosts_total": 256, "hosts_found": 2, "hosts_done": 2, "probes_sent": 4, "ports_probed": 4, "observations": 3}});
    for _ in 0..2 {
        let (s, _) = api
            .call(
                Method::POST,
                &format!("/api/v1/daemon/jobs/{id}/finish"),
                Some(&key),
                Some(finish.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "finishing twice is harmless");
    }
    let (_, run) = api.get(&format!("/api/v1/scans/{id}")).await;
    assert_eq!(run["status"], "done");
    assert_eq!(run["progress"]["hosts_found"], 2);

    // The inventory: two devices, once each, with their services.
    let (_, devices) = api.get("/api/v1/devices").await;
    let items = devices["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{devices}");
    let web = items
        .iter()
        .find(|d| d["interfaces"][0]["ip"] == "10.77.0.10")
        .unwrap();
    assert_eq!(web["interfaces"][0]["mac"], "00:11:32:aa:00:10");
    assert_eq!(web["services"][0]["product"], "nginx");
    // Filters, pagination, one device with its history.
    let (_, f) = api.get("/api/v1/devices?service=ssh").await;
    assert_eq!(f["items"].as_array().unwrap().len(), 1);
    let (_, p1) = api.get("/api/v1/devices?limit=1").await;
    let c = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = api
        .get(&format!("/api/v1/devices?limit=1&cursor={c}"))
        .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    assert_ne!(p1["items"][0]["id"], p2["items"][0]["id"]);
    let wid = web["id"].as_str().unwrap();
    let (_, one) = api.get(&format!("/api/v1/devices/{wid}")).await;
    assert!(
        one["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "device_new")
    );
    let (_, svcs) = api.get("/api/v1/services").await;
    assert_eq!(svcs["items"].as_array().unwrap().len(), 2);
    // The map in every format.
    let (s, topo) = api.get(&format!("/api/v1/topology?network={net}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        topo["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "subnet:10.77.0.0/24")
    );
    for (fmt, needle) in [("dot", "graph"), ("mermaid", "flowchart"), ("svg", "<svg")] {
        let (s, text) = api
            .get(&format!("/api/v1/topology?network={net}&format={fmt}"))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(text.as_str().unwrap().contains(needle), "{fmt}: {text}");
    }
    // Events: in order, resumable.
    let (_, evs) = api.get("/api/v1/events?limit=1000").await;
    let kinds: Vec<&str> = evs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "device_new").count(), 2);
    assert_eq!(kinds.last(), Some(&"scan_done"));
    let (_, newest) = api.get("/api/v1/events?order=desc&limit=1").await;
    assert_eq!(newest["items"][0]["kind"], "scan_done");
    // Metrics count it.
    let (_, m) = api.get("/api/v1/metrics").await;
    assert!(m.as_str().unwrap().contains("scanopy_devices 2"), "{m}");
}

/// The map as the server lays it out (`format=layout`, what the UI draws): every device placed
/// in its subnet's box, a `cap` honoured with a "more" node, a wrong `cap` refused; `format=svg`
/// draws the same layout.
#[tokio::test]
async fn the_map_is_served_laid_out() {
    let api = Api::new().await;
    let net = api.network().await;
    let key = daemon_key(&api, &net).await;
    let (s, scan) = api
        .post(
            "/api/v1/scans",
            json!({"network": net, "targets": ["10.77.0.0/24"], "ports": "22,80", "scanners": ["tcp"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{scan}");
    let id = scan["id"].as_str().unwrap().to_owned();
    let (s, _) = api
        .call(Method::POST, "/api/v1/daemon/poll", Some(&key), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let batch =
        json!({"batch_id": "6d1e2b6e-0000-4000-8000-0000000000ab", "observations": observations()});
    let (s, ack) = api
        .call(
            Method::POST,
            &format!("/api/v1/daemon/jobs/{id}/results"),
            Some(&key),
            Some(batch),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ack}");

    let (s, l) = api
        .get(&format!("/api/v1/topology?network={net}&format=layout"))
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["devices"], 2, "{l}");
    let nodes = l["nodes"].as_array().unwrap();
    let devices: Vec<&Value> = nodes.iter().filter(|n| n["kind"] == "device").collect();
    assert_eq!(devices.len(), 2, "{l}");
    for d in &devices {
        assert_eq!(d["group"], "subnet:10.77.0.0/24", "{d}");
    }
    let group = &l["groups"][0];
    assert_eq!(group["kind"], "subnet");
    assert_eq!(group["label"], "10.77.0.0/24");
    assert_eq!(group["total"], 2);

    let (s, l) = api
        .get(&format!(
            "/api/v1/topology?network={net}&format=layout&cap=1"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["cap"], 1);
    let nodes = l["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().filter(|n| n["kind"] == "device").count(), 1);
    let more: Vec<&Value> = nodes.iter().filter(|n| n["kind"] == "more").collect();
    assert_eq!(more.len(), 1, "{l}");
    assert_eq!(more[0]["count"], 1);
    assert_eq!(more[0]["group"], "subnet:10.77.0.0/24");
    let (s, svg) = api
        .get(&format!("/api/v1/topology?network={net}&format=svg&cap=1"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let svg = svg.as_str().unwrap();
    assert!(
        svg.contains("more devices") && svg.contains(">+1<"),
        "{svg}"
    );
    for cap in ["0", "10001"] {
        let (s, v) = api
            .get(&format!("/api/v1/topology?format=layout&cap={cap}"))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "cap={cap}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("cap"),
            "{v}"
        );
    }
    let (s, _) = api.get("/api/v1/topology?format=layout&cap=many").await;
    assert!(s.is_client_error(), "{s}");

    // A cluster opened on demand: with cap=1 the subnet's group draws both devices.
    let (s, l) = api
        .get(&format!(
            "/api/v1/topology?network={net}&format=layout&cap=1&expand=subnet:10.77.0.0/24"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["expanded"], json!(["subnet:10.77.0.0/24"]), "{l}");
    let nodes = l["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().filter(|n| n["kind"] == "device").count(), 2);
    assert!(!nodes.iter().any(|n| n["kind"] == "more"), "{l}");
    // A focused device is drawn though the cap leaves it out.
    let hidden = more[0]["group"].clone();
    assert_eq!(hidden, "subnet:10.77.0.0/24");
    let (_, plain) = api
        .get(&format!(
            "/api/v1/topology?network={net}&format=layout&cap=1"
        ))
        .await;
    let drawn = plain["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "device")
        .map(|n| n["id"].clone())
        .unwrap();
    let (_, devs) = api.get(&format!("/api/v1/devices?network={net}")).await;
    let other = devs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .find(|id| *id != drawn)
        .unwrap();
    let (s, l) = api
        .get(&format!(
            "/api/v1/topology?network={net}&format=layout&cap=1&focus={}",
            other.as_str().unwrap()
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    let ids: Vec<&Value> = l["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "device")
        .map(|n| &n["id"])
        .collect();
    assert_eq!(ids, vec![&other], "{l}");
    let many = (0..65)
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let (s, v) = api
        .get(&format!("/api/v1/topology?format=layout&expand={many}"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = api.get("/api/v1/topology?format=layout&focus=nope").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing() {
    let api = Api::new().await;
    let net = api.network().await;
    let cases = [
        (
            json!({"network": net, "targets": ["10.0.0.300"]}),
            "10.0.0.300",
        ),
        (json!({"network": net, "targets": ["10.0.0.0/8"]}), "/16"),
        (json!({"network": net, "ports": "22,x"}), "ports"),
        (json!({"network": net, "scanners": ["arp2"]}), "arp2"),
        // Only what a daemon runs: a name it does not know would fail the job there.
        (json!({"network": net, "scanners": ["syn"]}), "syn"),
        (json!({"network": net, "colour": "red"}), "colour"),
        (json!({"network": "not-a-uuid"}), "network"),
        (json!({"targets": []}), "network"),
        (json!({"network": net, "rate": "fast"}), "rate"),
        (
            json!({"network": "00000000-0000-4000-8000-000000000000"}),
            "network",
        ),
    ];
    for (body, needle) in cases {
        let (s, v) = api.post("/api/v1/scans", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let (_, scans) = api.get("/api/v1/scans").await;
    assert!(
        scans["items"].as_array().unwrap().is_empty(),
        "nothing queued"
    );
    // Malformed JSON: 400; no JSON content type: 415; oversize: 413.
    let bad = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/networks")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    let (s, _, b) = api.raw(bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&b).contains("\"code\":\"bad_request\""));
    let plain = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/networks")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.admin))
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(api.raw(plain).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 << 20));
    let big = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/networks")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (s, _, b) = api.raw(big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&b).contains("too_large"));
    // Unknown ids: 404 with the error body.
    for p in [
        "/api/v1/devices/00000000-0000-4000-8000-000000000000",
        "/api/v1/devices/nonsense",
        "/api/v1/scans/00000000-0000-4000-8000-000000000000",
        "/api/v1/nothing-here",
    ] {
        let (s, v) = api.get(p).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
        assert_eq!(error_code(&v), "not_found", "{p}");
    }
    let (s, v) = api
        .call(
            Method::PATCH,
            "/api/v1/devices/00000000-0000-4000-8000-000000000000",
            Some(&api.admin.clone()),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    // Wrong fields elsewhere: named.
    let (s, v) = api
        .post(
            "/api/v1/networks",
            json!({"name": "x", "subnets": ["10.1.2.3/99"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10.1.2.3/99")
    );
    let (s, v) = api.get("/api/v1/devices?seen_since=yesterday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("seen_since")
    );
    let (s, _) = api.get("/api/v1/devices?limit=5000").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = api.get("/api/v1/topology?format=png").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = api
        .post("/api/v1/webhooks", json!({"url": "ftp://x"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = api
        .post("/api/v1/tokens", json!({"name": "x", "role": "root"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn user_edits_and_deletions_through_the_api() {
    let api = Api::new().await;
    let net = api.network().await;
    let key = daemon_key(&api, &net).await;
    let (_, scan) = api.post("/api/v1/scans", json!({"network": net})).await;
    let id = scan["id"].as_str().unwrap().to_owned();
    api.call(Method::POST, "/api/v1/daemon/poll", Some(&key), None)
        .await;
    let batch =
        json!({"batch_id": "6d1e2b6e-0000-4000-8000-0000000000bb", "observations": observations()});
    api.call(
        Method::POST,
        &format!("/api/v1/daemon/jobs/{id}/results"),
        Some(&key),
        Some(batch),
    )
    .await;
    let (_, devices) = api.get("/api/v1/devices?q=10.77.0.10").await;
    let dev = devices["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/devices/{dev}");
    let admin = api.admin.clone();
    let (s, d) = api
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"name": "web", "notes": "rack 2", "tags": ["prod"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(
        (d["user_name"].as_str(), d["tags"][0].as_str()),
        (Some("web"), Some("prod"))
    );
    // Lists show the edit at once (their answers are cached until the next write).
    let (_, listed) = api.get("/api/v1/devices?q=10.77.0.10").await;
    assert_eq!(listed["items"][0]["user_name"], "web");
    // null clears; a field left out stays.
    let (_, d) = api
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"notes": null})),
        )
        .await;
    assert!(d["notes"].is_null());
    assert_eq!(d["user_name"], "web");
    let (s, v) = api
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"nickname": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"]["message"].as_str().unwrap().contains("nickname"));
    let (s, _) = api.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api.get(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, listed) = api.get("/api/v1/devices?q=10.77.0.10").await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    let (s, _) = api.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cancel_schedules_webhooks_and_keys() {
    let api = Api::new().await;
    let net = api.network().await;
    let (_, scan) = api.post("/api/v1/scans", json!({"network": net})).await;
    let id = scan["id"].as_str().unwrap();
    let (s, c) = api
        .call(
            Method::POST,
            &format!("/api/v1/scans/{id}/cancel"),
            Some(&api.admin.clone()),
            None,
        )
        .await;
    assert_eq!(
        (s, c["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (s, sched) = api
        .post(
            "/api/v1/schedules",
            json!({"network": net, "every_minutes": 30}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sched}");
    let (_, list) = api.get("/api/v1/schedules").await;
    assert_eq!(list["items"][0]["every_minutes"], 30);
    let (s, _) = api
        .post(
            "/api/v1/schedules",
            json!({"network": net, "every_minutes": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let sid = sched["id"].as_str().unwrap();
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/schedules/{sid}"),
            Some(&api.admin.clone()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, hook) = api
        .post(
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = hook["secret"].as_str().unwrap();
    let (_, hooks) = api.get("/api/v1/webhooks").await;
    assert!(
        !hooks.to_string().contains(secret),
        "secrets are shown once"
    );
    let (_, k) = api
        .post("/api/v1/daemons/keys", json!({"name": "d", "network": net}))
        .await;
    let key = k["key"].as_str().unwrap();
    let (_, keys) = api.get("/api/v1/daemons/keys").await;
    assert!(!keys.to_string().contains(key));
    let kid = k["id"].as_str().unwrap();
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/daemons/keys/{kid}"),
            Some(&api.admin.clone()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(
            Method::POST,
            "/api/v1/daemon/register",
            Some(key),
            Some(json!({"name": "x", "capabilities": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a revoked key is refused");
    let _ = &api.state;
}

#[tokio::test]
async fn the_ui_is_served_with_a_strict_policy() {
    let api = Api::new().await;
    for p in ["/", "/devices/abc", "/map"] {
        let (s, h, b) = api
            .raw(Request::builder().uri(p).body(Body::empty()).unwrap())
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert!(String::from_utf8_lossy(&b).contains("<html"), "{p}");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    for f in ["app.js", "app.css", "icons.js"] {
        let (s, _, _) = api
            .raw(
                Request::builder()
                    .uri(format!("/ui/{f}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{f}");
    }
}

/// `GET /scanners` lists the registry, needs a credential, and a scan request is checked
/// against the same list: every listed name is accepted, others are refused with the list.
#[tokio::test]
async fn the_scanner_list_is_the_one_a_scan_is_checked_against() {
    let api = Api::new().await;
    let (s, _) = api.call(Method::GET, "/api/v1/scanners", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let read = api.token("read").await;
    let (s, v) = api
        .call(Method::GET, "/api/v1/scanners", Some(&read), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        scanopy_daemon::setup::available(),
        "the API lists what a daemon runs"
    );
    let tcp = v.as_array().unwrap().iter().find(|e| e["name"] == "tcp");
    assert_eq!(tcp.unwrap()["kind"], "per_host");
    let arp = v.as_array().unwrap().iter().find(|e| e["name"] == "arp");
    assert_eq!(arp.unwrap()["needs"], json!(["raw_sockets"]));
    let net = api.network().await;
    for name in &names {
        let (s, v) = api
            .post(
                "/api/v1/scans",
                json!({"network": net, "targets": ["10.77.0.10"], "scanners": [name]}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{name}: {v}");
    }
    let (s, v) = api
        .post(
            "/api/v1/scans",
            json!({"network": net, "targets": ["10.77.0.10"], "scanners": ["syn"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("\"syn\"") && msg.contains("tcp-ping"), "{msg}");
}

/// The policy allows no inline style or script, and every module the entry imports is served
/// as JavaScript (a module missing from the server would be a blank page).
#[tokio::test]
async fn the_ui_needs_no_inline_code_and_every_module_is_served() {
    let api = Api::new().await;
    let (_, h, index) = api
        .raw(Request::builder().uri("/").body(Body::empty()).unwrap())
        .await;
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let index = String::from_utf8_lossy(&index).into_owned();
    assert!(!index.contains("style="), "an inline style in index.html");
    assert!(
        index.contains(r#"<script type="module" src="/ui/app.js">"#),
        "{index}"
    );
    // Follow the imports from the entry module.
    let mut todo = vec!["app.js".to_owned()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        let (s, h, body) = api
            .raw(
                Request::builder()
                    .uri(format!("/ui/{f}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{f}");
        assert!(
            h[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript"),
            "{f}"
        );
        let text = String::from_utf8_lossy(&body).into_owned();
        for sink in [
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!text.contains(sink), "{f} writes markup ({sink})");
        }
        let dir = f.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for line in text.lines().filter(|l| l.starts_with("import ")) {
            let spec = line.rsplit('"').nth(1).unwrap();
            let mut parts: Vec<&str> = if dir.is_empty() {
                vec![]
            } else {
                dir.split('/').collect()
            };
            for seg in spec.split('/') {
                match seg {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    s => parts.push(s),
                }
            }
            todo.push(parts.join("/"));
        }
    }
    assert!(seen.len() > 10, "{seen:?}");
    assert!(seen.contains("map/scene.js") && seen.contains("pages/daemons.js"));
}

/// Results through the daemon protocol: taken only from the daemon holding the job while it
/// runs, per-host facts only about its targets, times within its window, caps, refused batches
/// that fail the run, counts of distinct devices, and no clock comparisons between daemon and
/// server (issue 11, "Results" and "Counts").
mod results {
    use super::*;

    pub(super) struct Lab {
        pub(super) api: Api,
        pub(super) a: String,
        pub(super) b: String,
        net: String,
    }

    pub(super) async fn lab() -> Lab {
        lab_over(Api::new().await).await
    }

    /// A lab over `api`.
    pub(super) async fn lab_over(api: Api) -> Lab {
        let net = api.network().await;
        let a = daemon_key(&api, &net).await;
        let b = daemon_key(&api, &net).await;
        Lab { api, a, b, net }
    }

    impl Lab {
        /// Queues a scan of `targets` and has daemon a claim it.
        pub(super) async fn job(&self, targets: &[&str]) -> String {
            let (s, scan) = self
                .api
                .post(
                    "/api/v1/scans",
                    json!({"network": self.net, "targets": targets, "ports": "22,80", "scanners": ["tcp"]}),
                )
                .await;
            assert_eq!(s, StatusCode::ACCEPTED, "{scan}");
            let (_, poll) = self
                .api
                .call(Method::POST, "/api/v1/daemon/poll", Some(&self.a), None)
                .await;
            let id = scan["id"].as_str().unwrap().to_owned();
            assert_eq!(poll["job"]["id"].as_str(), Some(id.as_str()), "{poll}");
            id
        }

        pub(super) async fn send(&self, key: &str, job: &str, obs: Value) -> (StatusCode, Value) {
            let body = json!({"batch_id": uuid::Uuid::new_v4(), "observations": obs});
            self.send_raw(key, job, body).await
        }

        pub(super) async fn send_raw(
            &self,
            key: &str,
            job: &str,
            body: Value,
        ) -> (StatusCode, Value) {
            self.api
                .call(
                    Method::POST,
                    &format!("/api/v1/daemon/jobs/{job}/results"),
                    Some(key),
                    Some(body),
                )
                .await
        }

        pub(super) async fn finish(&self, job: &str, outcome: &str) -> Value {
            let (s, ack) = self
                .api
                .call(
                    Method::POST,
                    &format!("/api/v1/daemon/jobs/{job}/finish"),
                    Some(&self.a),
                    Some(json!({"outcome": outcome, "progress": {"hosts_total": 256, "hosts_found": 1, "hosts_done": 256, "probes_sent": 1, "ports_probed": 1, "observations": 1}})),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{ack}");
            self.scan(job).await
        }

        pub(super) async fn scan(&self, job: &str) -> Value {
            self.api.get(&format!("/api/v1/scans/{job}")).await.1
        }

        pub(super) async fn devices(&self) -> Vec<Value> {
            let (_, d) = self.api.get("/api/v1/devices?limit=1000").await;
            d["items"].as_array().unwrap().clone()
        }

        pub(super) async fn events(&self) -> usize {
            let (_, e) = self.api.get("/api/v1/events?limit=1000").await;
            e["items"].as_array().unwrap().len()
        }
    }

    fn mac(ip: &str, mac: &str, at: &str) -> Value {
        json!({"ip": ip, "scanner": "arp", "at": at, "fact": {"kind": "mac", "mac": mac}})
    }

    fn port(ip: &str, port: u16, at: &str) -> Value {
        json!({"ip": ip, "scanner": "tcp", "at": at, "fact": {"kind": "port", "port": port, "transport": "tcp", "state": "open", "name": "ssh", "extra": {}, "confidence": "high", "evidence": "t"}})
    }

    fn now() -> String {
        chrono::Utc::now().to_rfc3339()
    }

    #[tokio::test]
    async fn results_come_only_from_the_daemon_holding_the_job_while_it_runs() {
        let lab = lab().await;
        let job = lab.job(&["10.77.0.0/24"]).await;
        let seen = json!([mac("10.77.0.10", "00:11:32:aa:00:10", &now())]);
        // Another daemon of the network, with its own key: refused, nothing changes.
        let (s, v) = lab.send(&lab.b, &job, seen.clone()).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::CONFLICT, "job_not_held"),
            "{v}"
        );
        assert!(
            lab.devices().await.is_empty(),
            "a stranger's batch was applied"
        );
        assert_eq!(lab.events().await, 0);
        assert_eq!(lab.scan(&job).await["devices_seen"], 0);
        // The holder's is taken.
        let (s, ack) = lab.send(&lab.a, &job, seen).await;
        assert_eq!(
            (s, &ack["applied"]),
            (StatusCode::OK, &json!(true)),
            "{ack}"
        );
        assert_eq!(lab.finish(&job, "done").await["status"], "done");
        // After the end: refused, nothing changes.
        let before = lab.devices().await;
        let events = lab.events().await;
        let late = json!([mac("10.77.0.11", "00:11:32:aa:00:11", &now())]);
        let (s, v) = lab.send(&lab.a, &job, late).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::CONFLICT, "job_not_running"),
            "{v}"
        );
        assert_eq!(lab.devices().await, before);
        assert_eq!(lab.events().await, events);
    }

    #[tokio::test]
    async fn per_host_facts_outside_the_targets_are_dropped_and_times_clamped() {
        let lab = lab().await;
        let job = lab.job(&["10.77.0.0/28"]).await;
        let batch = json!([
            port("10.77.0.5", 22, "2099-01-01T00:00:00Z"),
            port("10.77.0.100", 22, &now()),
            {"ip": "10.77.0.101", "scanner": "names", "at": now(), "fact": {"kind": "hostname", "name": "planted.lan", "source": "ptr"}},
            // An ARP reply from the segment is a fact, not an invitation: kept.
            mac("10.77.0.200", "00:11:32:aa:00:c8", &now()),
        ]);
        let (s, ack) = lab.send(&lab.a, &job, batch).await;
        assert_eq!(s, StatusCode::OK, "{ack}");
        let devices = lab.devices().await;
        let mut ips: Vec<&str> = devices
            .iter()
            .map(|d| d["interfaces"][0]["ip"].as_str().unwrap())
            .collect();
        ips.sort();
        assert_eq!(ips, ["10.77.0.200", "10.77.0.5"], "{devices:#?}");
        let later = chrono::Utc::now();
        for d in &devices {
            let last: chrono::DateTime<chrono::Utc> =
                d["last_seen"].as_str().unwrap().parse().unwrap();
            assert!(last <= later, "a time from 2099 landed: {d}");
            for svc in d["services"].as_array().unwrap() {
                let at: chrono::DateTime<chrono::Utc> =
                    svc["last_seen"].as_str().unwrap().parse().unwrap();
                assert!(at <= later, "{svc}");
            }
        }
        let run = lab.scan(&job).await;
        assert_eq!(run["observations_dropped"], 2, "{run}");
    }

    #[tokio::test]
    async fn a_refused_batch_then_done_ends_the_run_failed_and_misses_nothing() {
        let lab = lab().await;
        let job = lab.job(&["10.77.0.0/24"]).await;
        let seen = json!([mac("10.77.0.10", "00:11:32:aa:00:10", &now())]);
        lab.send(&lab.a, &job, seen).await;
        assert_eq!(lab.finish(&job, "done").await["status"], "done");
        for round in 0..3 {
            let job = lab.job(&["10.77.0.0/24"]).await;
            let (s, v) = if round == 0 {
                // Too many observations: 413.
                let many: Vec<Value> = (0..20_001)
                    .map(|_| mac("10.77.0.10", "00:11:32:aa:00:10", "2026-01-01T00:00:00Z"))
                    .collect();
                lab.send(&lab.a, &job, Value::Array(many)).await
            } else {
                // Not a batch at all: 422.
                lab.send_raw(&lab.a, &job, json!({"batch_id": "x", "observations": 3}))
                    .await
            };
            assert!(
                s == StatusCode::PAYLOAD_TOO_LARGE || s == StatusCode::UNPROCESSABLE_ENTITY,
                "{s}: {v}"
            );
            let run = lab.finish(&job, "done").await;
            assert_eq!(run["status"], "failed", "{run}");
            assert!(
                run["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("refused"),
                "{run}"
            );
        }
        let devices = lab.devices().await;
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0]["offline"], false, "{devices:#?}");
        let (_, evs) = lab.api.get("/api/v1/events?limit=1000").await;
        assert!(
            !evs["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "device_gone"),
            "{evs}"
        );
    }

    #[tokio::test]
    async fn devices_seen_counts_distinct_devices_across_batches() {
        let lab = lab().await;
        let job = lab.job(&["10.77.0.0/24"]).await;
        for i in 0..3 {
            let batch = json!([
                mac("10.77.0.10", "00:11:32:aa:00:10", &now()),
                port("10.77.0.10", 22, &now()),
                port("10.77.0.11", 22, &now()),
                port(&format!("10.77.0.{}", 20 + i % 2), 80, &now()),
            ]);
            let (s, v) = lab.send(&lab.a, &job, batch).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let run = lab.finish(&job, "done").await;
        assert_eq!(run["devices_seen"], 4, "{run}");
        assert_eq!(lab.devices().await.len(), 4);
    }

    /// A daemon whose clock runs 10 minutes behind the server's: what it saw is not taken for
    /// missed (on the old code a sighting counted as a miss, so two true misses made a host
    /// offline, and a port that closed was never found gone).
    #[tokio::test]
    async fn a_daemon_clock_behind_the_server_marks_no_host_missed() {
        let lab = lab().await;
        let behind = || (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
        let rounds = [
            vec![22, 80],
            // Port 80 closed: gone, though every time the daemon sends is before the run.
            vec![22],
        ];
        for ports in rounds {
            let job = lab.job(&["10.77.0.0/24"]).await;
            let mut batch = vec![mac("10.77.0.10", "00:11:32:aa:00:10", &behind())];
            batch.extend(ports.iter().map(|p| port("10.77.0.10", *p, &behind())));
            let (s, v) = lab.send(&lab.a, &job, Value::Array(batch)).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            assert_eq!(lab.finish(&job, "done").await["status"], "done");
        }
        let d = lab.devices().await.remove(0);
        let ports: Vec<&Value> = d["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["port"])
            .collect();
        assert_eq!(ports, [&json!(22)], "{d}");
        // Gone now: two scans miss it, and it is still online; the third makes it offline.
        for (n, offline) in [(1, false), (2, false), (3, true)] {
            let job = lab.job(&["10.77.0.0/24"]).await;
            lab.finish(&job, "done").await;
            let d = lab.devices().await.remove(0);
            assert_eq!(d["offline"], offline, "after {n} scans missed it: {d}");
        }
    }

    #[tokio::test]
    async fn a_run_over_its_cap_ends_failed() {
        let lab = lab_over(
            Api::with(|c| {
                c.run_limits = scanopy_store::RunLimits {
                    max_devices: 2,
                    max_observations: 1_000,
                }
            })
            .await,
        )
        .await;
        let job = lab.job(&["10.77.0.0/24"]).await;
        let three = json!([
            port("10.77.0.1", 22, &now()),
            port("10.77.0.2", 22, &now()),
            port("10.77.0.3", 22, &now()),
        ]);
        let (s, v) = lab.send(&lab.a, &job, three).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::CONFLICT, "run_limit"),
            "{v}"
        );
        assert!(lab.devices().await.is_empty());
        let run = lab.scan(&job).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert!(
            run["error"].as_str().unwrap().contains("2 devices"),
            "{run}"
        );
    }

    /// Arbitrary bodies to the results route (batches with any ids, addresses, times and facts,
    /// and bodies that are not batches at all), from the holder, from another daemon, and for a
    /// job that ended: never a 5xx, and a refused one changes neither the inventory nor the
    /// events, nor, from a stranger or for an ended job, the runs.
    #[test]
    fn arbitrary_results_bodies_never_fail_the_server_and_refusals_change_nothing() {
        use proptest::prelude::*;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (lab, running, ended) = rt.block_on(async {
            let lab = lab().await;
            let ended = lab.job(&["10.77.0.0/28"]).await;
            lab.finish(&ended, "done").await;
            let running = lab.job(&["10.77.0.0/28"]).await;
            (lab, running, ended)
        });
        let config = proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let outcome = runner.run(&(0..3usize, body()), |(who, body)| {
            rt.block_on(async {
                let (key, job) = match who {
                    0 => (&lab.a, &running),
                    1 => (&lab.b, &running),
                    _ => (&lab.a, &ended),
                };
                let before = (lab.devices().await, lab.events().await);
                let runs = (lab.scan(&running).await, lab.scan(&ended).await);
                let req = Request::builder()
                    .method(Method::POST)
                    .uri(format!("/api/v1/daemon/jobs/{job}/results"))
                    .header(header::AUTHORIZATION, format!("Bearer {key}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.clone()))
                    .unwrap();
                let (status, _, answer) = lab.api.raw(req).await;
                let answer = String::from_utf8_lossy(&answer);
                prop_assert!(status.as_u16() < 500, "{status} for {body}: {answer}");
                if status != StatusCode::OK {
                    prop_assert_eq!(
                        &(lab.devices().await, lab.events().await),
                        &before,
                        "a refused batch changed the inventory: {}",
                        body
                    );
                    if who != 0 {
                        let after = (lab.scan(&running).await, lab.scan(&ended).await);
                        prop_assert_eq!(&after, &runs, "a refused batch changed a run");
                    }
                } else {
                    prop_assert_eq!(who, 0, "taken from a stranger or after the end: {}", body);
                }
                Ok(())
            })
        });
        outcome.unwrap();
    }

    /// Bodies: mostly batch-shaped with odd values, some not batches, some not JSON.
    fn body() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let ip = prop_oneof![
            (0u8..32).prop_map(|i| json!(format!("10.77.0.{i}"))),
            any::<[u8; 4]>().prop_map(|b| json!(std::net::Ipv4Addr::from(b).to_string())),
            Just(json!("::1")),
            Just(json!("fe80::1")),
            "[ -~]{0,20}".prop_map(|s| json!(s)),
            Just(json!(7)),
        ];
        let at = prop_oneof![
            (-100_000_000_000i64..100_000_000_000i64).prop_map(|secs| {
                json!(
                    chrono::DateTime::from_timestamp(secs, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                )
            }),
            Just(json!("2099-01-01T00:00:00Z")),
            Just(json!(chrono::Utc::now().to_rfc3339())),
            "[ -~]{0,30}".prop_map(|s| json!(s)),
        ];
        let text = prop_oneof!["[ -~]{0,40}", "\\PC{0,300}", Just("\u{1b}[2J".to_owned())];
        let fact = prop_oneof![
            (any::<u64>(), text.clone()).prop_map(|(m, s)| json!({"kind": "mac", "mac": if m % 3 == 0 { s } else {
                format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m as u8, (m >> 8) as u8, (m >> 16) as u8, (m >> 24) as u8, (m >> 32) as u8, (m >> 40) as u8) }})),
            (0u32..70_000, text.clone(), prop_oneof![Just("tcp"), Just("udp"), Just("sctp")], prop_oneof![Just("open"), Just("closed"), Just("filtered"), Just("?")]).prop_map(|(p, name, t, st)| json!({
                "kind": "port", "port": p, "transport": t, "state": st, "name": name, "product": name,
                "extra": {"k": name}, "confidence": "high", "evidence": name})),
            (text.clone(), text.clone()).prop_map(|(n, s)| json!({"kind": "hostname", "name": n, "source": s})),
            text.clone().prop_map(|v| json!({"kind": "vendor", "vendor": v})),
            (text.clone(), text.clone()).prop_map(|(r, v)| json!({"kind": "identity", "rule": r, "value": v})),
            Just(json!({"kind": "gateway"})),
            (text.clone(), any::<Option<u64>>()).prop_map(|(m, r)| json!({"kind": "alive", "method": m, "rtt_us": r})),
            text.clone().prop_map(|k| json!({"kind": k})),
        ];
        let observation = (ip, text.clone(), at, fact).prop_map(
            |(ip, scanner, at, fact)| json!({"ip": ip, "scanner": scanner, "at": at, "fact": fact}),
        );
        let batch_id = prop_oneof![
            any::<u128>().prop_map(|n| json!(uuid::Uuid::from_u128(n))),
            text.clone().prop_map(|s| json!(s)),
            Just(Value::Null),
        ];
        prop_oneof![
            6 => (batch_id, proptest::collection::vec(observation, 0..8))
                .prop_map(|(id, obs)| json!({"batch_id": id, "observations": obs}).to_string()),
            1 => text.clone().prop_map(|s| json!({"batch_id": s}).to_string()),
            1 => "\\PC{0,200}",
            1 => Just("[]".to_owned()),
        ]
    }
}

/// What a daemon announces is bounded: a 10 kB push URL, a 1 kB version or 2,000 subnets are
/// refused with 422 and store nothing.
#[tokio::test]
async fn oversized_announcements_are_refused() {
    let api = Api::new().await;
    let net = api.network().await;
    let (s, k) = api
        .post(
            "/api/v1/daemons/keys",
            json!({"name": "big", "network": net}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let long_url = format!("http://10.77.0.5:60073/{}", "a".repeat(10_000));
    let many: Vec<String> = (0..2000u32)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    for caps in [
        json!({"subnets": [], "version": "1", "mode": "push", "url": long_url}),
        json!({"subnets": [], "version": "v".repeat(1000)}),
        json!({"subnets": many, "version": "1"}),
    ] {
        let (s, r) = api
            .call(
                Method::POST,
                "/api/v1/daemon/register",
                Some(&key),
                Some(json!({"name": "big", "capabilities": caps})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    }
    let (s, d) = api.get("/api/v1/daemons").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        d["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["name"] != "big"),
        "a refused registration stored a daemon: {d}"
    );
}

/// A network's SNMP credentials: added by an admin, sealed in the database (a copy of its files
/// holds no secret), listed without their secrets, handed only to that network's daemons with
/// their jobs, and deleted; bad input is a 422 that repeats no password.
#[tokio::test]
async fn snmp_credentials_are_sealed_listed_without_secrets_and_handed_to_their_network() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scanopy.db");
    let store: std::sync::Arc<dyn scanopy_store::Store> =
        std::sync::Arc::new(scanopy_store::SqliteStore::open(&db).await.unwrap());
    let api = Api::over(store, "snmp-test").await;
    let a = api.network().await;
    let (_, b) = api
        .post(
            "/api/v1/networks",
            json!({"name": "other", "subnets": ["10.88.0.0/24"]}),
        )
        .await;
    let b = b["id"].as_str().unwrap().to_owned();
    let secrets = [
        "lab-ro-secret-1",
        "auth-secret-22",
        "priv-secret-33",
        "other-secret-44",
    ];
    let path = |n: &str| format!("/api/v1/networks/{n}/snmp-credentials");
    let (s, c1) = api
        .post(
            &path(&a),
            json!({"label": "switches", "community": secrets[0]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c1}");
    let (s, c2) = api
        .post(
            &path(&a),
            json!({"user": "mon", "auth_protocol": "sha256", "auth_password": secrets[1],
                   "privacy_protocol": "aes", "privacy_password": secrets[2]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c2}");
    assert_eq!(c2["label"], "v3 mon");
    assert_eq!(c2["auth_protocol"], "SHA-256");
    assert_eq!(c2["privacy_protocol"], "AES");
    let (s, _) = api.post(&path(&b), json!({"community": secrets[3]})).await;
    assert_eq!(s, StatusCode::CREATED);

    // Bad input: 422, and the answer repeats no password.
    for bad in [
        json!({"community": "x", "user": "y"}),
        json!({}),
        json!({"community": ""}),
        json!({"user": "mon", "auth_protocol": "SHA", "auth_password": "shortpw"}),
        json!({"user": "mon", "auth_protocol": "SHA"}),
        json!({"user": "mon", "privacy_protocol": "AES", "privacy_password": "longenough-1"}),
        json!({"user": "mon", "auth_protocol": "SHA", "auth_password": "longenough-2",
               "privacy_protocol": "DES", "privacy_password": "longenough-3"}),
        json!({"community": "c", "auth_password": "longenough-4"}),
        json!({"community": "c", "color": "red"}),
    ] {
        let (s, v) = api.post(&path(&a), bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert!(
            !v.to_string().contains("longenough") && !v.to_string().contains("shortpw"),
            "{v}"
        );
    }
    let (s, _) = api
        .post(
            &path(&uuid::Uuid::new_v4().to_string()),
            json!({"community": "c"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Only admins.
    let read = api.token("read").await;
    for (m, body) in [
        (Method::GET, None),
        (Method::POST, Some(json!({"community": "c"}))),
    ] {
        let (s, _) = api.call(m.clone(), &path(&a), Some(&read), body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m}");
    }

    // Listed in order, without a secret.
    let (s, list) = api.get(&path(&a)).await;
    assert_eq!(s, StatusCode::OK);
    let labels: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["switches", "v3 mon"]);
    for s in secrets {
        assert!(!list.to_string().contains(s), "{list}");
    }

    // Each network's daemon gets its own network's, opened, with its job.
    for (net, want_communities, want_users) in
        [(&a, vec![secrets[0]], 1), (&b, vec![secrets[3]], 0)]
    {
        let key = daemon_key(&api, net).await;
        let (s, _) = api
            .post(
                "/api/v1/scans",
                json!({"network": net, "targets": [], "ports": "161", "scanners": ["snmp"]}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED);
        let (_, poll) = api
            .call(Method::POST, "/api/v1/daemon/poll", Some(&key), None)
            .await;
        let job: scanopy_core::protocol::Job =
            serde_json::from_value(poll["job"].clone()).expect("a job");
        assert_eq!(job.snmp.communities, want_communities);
        assert_eq!(job.snmp.users.len(), want_users);
        if want_users == 1 {
            let u = &job.snmp.users[0];
            assert_eq!(u.user, "mon");
            assert_eq!(u.auth_password.as_deref(), Some(secrets[1]));
            assert_eq!(u.privacy_password.as_deref(), Some(secrets[2]));
        }
        // Its Debug (what a log line would show) tells no secret.
        let shown = format!("{job:?}");
        for s in secrets {
            assert!(!shown.contains(s), "{shown}");
        }
    }

    // Deleted (only by an admin): gone, and a second delete is a 404.
    let id = c1["id"].as_str().unwrap();
    let del = format!("{}/{id}", path(&a));
    let (s, _) = api.call(Method::DELETE, &del, Some(&read), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.call(Method::DELETE, &del, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = api
        .call(Method::DELETE, &del, Some(&api.admin.clone()), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(Method::DELETE, &del, Some(&api.admin.clone()), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = api.get(&path(&a)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // The database's files hold seals only.
    drop(api);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!bytes.is_empty());
    for s in &secrets {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
            "{s} is in the database files"
        );
    }
}

/// Subnets a router's agent has legs on, and a daemon's interfaces, that the network does not
/// cover are suggested, never scanned; an admin adds one (`PATCH /networks/{id}`) and it is
/// suggested no more.
#[tokio::test]
async fn subnets_seen_behind_a_router_are_suggested_until_added() {
    let api = Api::new().await;
    let net = api.network().await;
    let key = daemon_key(&api, &net).await;
    let (s, scan) = api
        .post(
            "/api/v1/scans",
            json!({"network": net, "targets": ["10.77.0.1"], "ports": "161", "scanners": ["snmp"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{scan}");
    let id = scan["id"].as_str().unwrap().to_owned();
    let (_, poll) = api
        .call(Method::POST, "/api/v1/daemon/poll", Some(&key), None)
        .await;
    assert_eq!(poll["job"]["id"].as_str(), Some(id.as_str()));
    let at = chrono::Utc::now().to_rfc3339();
    let batch = json!({"batch_id": uuid::Uuid::new_v4(), "observations": [
        {"ip": "10.77.0.1", "scanner": "snmp", "at": at, "fact": {"kind": "port", "port": 161, "transport": "udp", "state": "open", "name": "snmp",
         "extra": {"snmp.subnets": "10.77.0.0/24,10.77.1.0/24,10.77.2.0/24,not a subnet"}, "confidence": "high", "evidence": "snmp-walk"}},
        {"ip": "10.77.0.1", "scanner": "snmp", "at": at, "fact": {"kind": "hostname", "name": "router.lab.test", "source": "snmp"}},
    ]});
    let (s, ack) = api
        .call(
            Method::POST,
            &format!("/api/v1/daemon/jobs/{id}/results"),
            Some(&key),
            Some(batch),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ack}");
    let path = format!("/api/v1/networks/{net}/suggested-subnets");
    let (s, got) = api.get(&path).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    let subnets: Vec<(&str, &str)> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["subnet"].as_str().unwrap(), x["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        subnets,
        [("10.77.1.0/24", "router"), ("10.77.2.0/24", "router")]
    );
    assert_eq!(got[0]["seen_by"], "router.lab.test");
    // A reader sees them; only an admin changes the network.
    let read = api.token("read").await;
    let (s, _) = api.call(Method::GET, &path, Some(&read), None).await;
    assert_eq!(s, StatusCode::OK);
    let patch = |body: Value| {
        let api = &api;
        let net = net.clone();
        async move {
            api.call(
                Method::PATCH,
                &format!("/api/v1/networks/{net}"),
                Some(&api.admin.clone()),
                Some(body),
            )
            .await
        }
    };
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/networks/{net}"),
            Some(&read),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for bad in [
        json!({"subnets": ["nope"]}),
        json!({"name": ""}),
        json!({"color": "red"}),
    ] {
        let (s, v) = patch(bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let (s, n) = patch(json!({"subnets": ["10.77.0.0/24", "10.77.1.0/24"]})).await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert_eq!(n["name"], "lab");
    let (_, got) = api.get(&path).await;
    let left: Vec<&str> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["subnet"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["10.77.2.0/24"]);
    let (_, nets) = api.get("/api/v1/networks").await;
    assert!(nets.to_string().contains("10.77.1.0/24"), "{nets}");
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/networks/{}", uuid::Uuid::new_v4()),
            Some(&api.admin.clone()),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The inventory exported whole, filtered as the list: devices, interfaces and services as CSV
/// (a name that a spreadsheet would run as a formula is neutralised) and JSON; readers may.
#[tokio::test]
async fn the_inventory_is_exported_as_csv_and_json_filtered_as_the_list() {
    use scanopy_core::{Fact, Observation, PortFact, PortState, Transport};
    let api = Api::new().await;
    let net: uuid::Uuid = api.network().await.parse().unwrap();
    let run = api
        .state
        .store
        .start_scan(scanopy_store::NewScanRun {
            network: net,
            daemon: None,
            config: Default::default(),
            targets: vec!["10.77.0.0/24".parse().unwrap()],
        })
        .await
        .unwrap()
        .id;
    let at = chrono::Utc::now();
    let named = |port, name: &str| PortFact {
        name: Some(name.into()),
        ..PortFact::state(port, Transport::Tcp, PortState::Open)
    };
    let o = |ip: &str, fact| Observation {
        ip: ip.parse().unwrap(),
        scanner: "t".into(),
        at,
        fact,
    };
    let obs = vec![
        o(
            "10.77.0.5",
            Fact::Mac {
                mac: "00:11:32:00:00:05".parse().unwrap(),
            },
        ),
        o(
            "10.77.0.5",
            Fact::Hostname {
                name: "nas".into(),
                source: "ptr".into(),
            },
        ),
        o("10.77.0.5", Fact::Port(named(22, "ssh"))),
        o("10.77.0.5", Fact::Port(named(80, "http"))),
        o(
            "10.77.0.6",
            Fact::Mac {
                mac: "00:11:32:00:00:06".parse().unwrap(),
            },
        ),
        o(
            "10.77.0.6",
            Fact::Hostname {
                name: "=HYPERLINK(\"http://x\",\"y\")".into(),
                source: "mdns".into(),
            },
        ),
    ];
    api.state
        .store
        .apply_batch(run, uuid::Uuid::new_v4(), &obs)
        .await
        .unwrap();
    let read = api.token("read").await;
    let get = |path: String| {
        let api = &api;
        let read = read.clone();
        async move {
            let req = Request::builder()
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {read}"))
                .body(Body::empty())
                .unwrap();
            let (s, h, b) = api.raw(req).await;
            (s, h, String::from_utf8(b).unwrap())
        }
    };
    let (s, h, csv) = get("/api/v1/export".into()).await;
    assert_eq!(s, StatusCode::OK, "{csv}");
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("scanopy-devices.csv")
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("device_id,network,name,hostname,"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",nas,nas,") && l.contains("10.77.0.5") && l.contains(",2,")),
        "{csv}"
    );
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        "a formula stays text: {csv}"
    );
    let (_, _, svc) = get("/api/v1/export?kind=services&service=ssh".into()).await;
    let lines: Vec<&str> = svc.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "the devices with ssh, all their services: {svc}"
    );
    assert!(
        lines[1].contains(",22,tcp,open,ssh,") && lines[2].contains(",80,tcp,open,http,"),
        "{svc}"
    );
    let (_, _, ifs) = get("/api/v1/export?kind=interfaces&q=nas".into()).await;
    assert_eq!(ifs.lines().count(), 2, "{ifs}");
    assert!(
        ifs.contains("10.77.0.5,00:11:32:00:00:05,10.77.0.0/24"),
        "{ifs}"
    );
    let (s, h, json) = get("/api/v1/export?format=json".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(v["kind"], "devices");
    let (_, _, json) = get("/api/v1/export?format=json&kind=services".into()).await;
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["items"][0]["port"], "22", "{v}");
    for bad in ["kind=people", "format=xml", "subnet=nope"] {
        let (s, _, b) = get(format!("/api/v1/export?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
}

/// Every change made through the API is in the audit trail with who made it and what it acted
/// on, sign-ins (failed ones too) and sign-outs by their handlers; no secret is in it; only
/// admins read it.
#[tokio::test]
async fn every_change_is_in_the_audit_trail() {
    let api = Api::new().await;
    let login = |password: &str| {
        let api = &api;
        let body = json!({"username": "admin", "password": password});
        async move {
            api.call(Method::POST, "/api/v1/auth/login", None, Some(body))
                .await
        }
    };
    assert_eq!(login("wrong-password").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(PASSWORD).await.0, StatusCode::OK);
    let (s, v) = api
        .post("/api/v1/tokens", json!({"name": "grafana", "role": "read"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (token_id, secret) = (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    );
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{token_id}"),
            Some(&api.admin.clone()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let net = api.network().await;
    let (s, v) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/networks/{net}"),
            Some(&api.admin.clone()),
            Some(json!({"name": "home"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Refused: not a change, not recorded.
    let (s, _) = api.post("/api/v1/networks", json!({"name": ""})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let read = api.token("read").await;
    let (s, _) = api
        .call(Method::GET, "/api/v1/audit", Some(&read), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = api.get("/api/v1/audit").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let entries = v["items"].as_array().unwrap();
    let got: Vec<(String, String, String, String)> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["via"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = [
        ("sign_in_failed", "admin", "session", ""),
        ("sign_in", "admin", "session", ""),
        ("token_created", "admin", "token", token_id.as_str()),
        ("token_revoked", "admin", "token", token_id.as_str()),
        ("network_created", "admin", "token", net.as_str()),
        ("network_changed", "admin", "token", net.as_str()),
        ("token_created", "admin", "token", ""),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "{got:#?}");
        assert_eq!((g.1.as_str(), g.2.as_str()), (w.1, w.2), "{g:?}");
        if !w.3.is_empty() {
            assert_eq!(g.3, w.3, "{g:?}");
        }
    }
    let created = entries.iter().rev().nth(2).unwrap();
    assert_eq!(created["detail"]["name"], "grafana");
    let changed = entries.iter().rev().nth(5).unwrap();
    assert_eq!(changed["detail"]["fields"], json!(["name"]));
    let text = v.to_string();
    assert!(
        !text.contains(&secret),
        "a token's value is in the audit trail"
    );
    assert!(
        !text.contains(PASSWORD) && !text.contains("wrong-password"),
        "a password is in the audit trail"
    );
    // Pages by time.
    let (_, page) = api.get("/api/v1/audit?limit=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = api
        .get(&format!(
            "/api/v1/audit?limit=100&before={}",
            next.replace('+', "%2B")
        ))
        .await;
    assert_eq!(
        rest["items"].as_array().unwrap().len(),
        want.len() - 3,
        "{rest}"
    );
}

/// What changed between two dates, from real batches: a device added, its service, a second
/// device that went offline; a period before them shows nothing; wrong times are refused.
#[tokio::test]
async fn what_changed_between_two_dates() {
    use scanopy_core::{Fact, Observation, PortFact, PortState, Transport};
    let api = Api::new().await;
    let net: uuid::Uuid = api.network().await.parse().unwrap();
    let store = api.state.store.clone();
    let t0 = chrono::Utc::now();
    let run = || async {
        store
            .start_scan(scanopy_store::NewScanRun {
                network: net,
                daemon: None,
                config: Default::default(),
                targets: vec!["10.77.0.0/24".parse().unwrap()],
            })
            .await
            .unwrap()
            .id
    };
    let o = |ip: &str, fact| Observation {
        ip: ip.parse().unwrap(),
        scanner: "t".into(),
        at: chrono::Utc::now(),
        fact,
    };
    let r = run().await;
    store
        .apply_batch(
            r,
            uuid::Uuid::new_v4(),
            &[
                o(
                    "10.77.0.5",
                    Fact::Mac {
                        mac: "00:11:32:00:00:05".parse().unwrap(),
                    },
                ),
                o(
                    "10.77.0.5",
                    Fact::Hostname {
                        name: "nas".into(),
                        source: "ptr".into(),
                    },
                ),
                o(
                    "10.77.0.5",
                    Fact::Port(PortFact {
                        name: Some("ssh".into()),
                        ..PortFact::state(22, Transport::Tcp, PortState::Open)
                    }),
                ),
                o(
                    "10.77.0.6",
                    Fact::Mac {
                        mac: "00:11:32:00:00:06".parse().unwrap(),
                    },
                ),
            ],
        )
        .await
        .unwrap();
    store
        .finish_scan(r, scanopy_store::RunStatus::Done)
        .await
        .unwrap();
    for _ in 0..scanopy_store::OFFLINE_AFTER {
        let r = run().await;
        store
            .apply_batch(
                r,
                uuid::Uuid::new_v4(),
                &[o(
                    "10.77.0.5",
                    Fact::Mac {
                        mac: "00:11:32:00:00:05".parse().unwrap(),
                    },
                )],
            )
            .await
            .unwrap();
        store
            .finish_scan(r, scanopy_store::RunStatus::Done)
            .await
            .unwrap();
    }
    let enc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339().replace('+', "%2B");
    let (s, v) = api
        .get(&format!("/api/v1/changes?from={}&network={net}", enc(t0)))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names = |k: &str| -> Vec<String> {
        let mut n: Vec<String> = v[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("devices_added"), ["10.77.0.6", "nas"], "{v:#}");
    assert_eq!(names("devices_gone"), ["10.77.0.6"]);
    assert!(names("devices_back").is_empty());
    assert_eq!(v["services_added"][0]["port"], 22);
    assert_eq!(v["services_added"][0]["service"], "ssh");
    // The one that went: online, then offline, on its page.
    let gone = v["devices_gone"][0]["device"].as_str().unwrap().to_owned();
    let (_, d) = api.get(&format!("/api/v1/devices/{gone}")).await;
    let iv: Vec<bool> = d["presence"]["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["online"].as_bool().unwrap())
        .collect();
    assert_eq!(iv, [true, false], "{:#}", d["presence"]);
    let a = d["presence"]["availability"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&a), "{a}");
    assert_eq!(v["truncated"], false);
    // The same over a period of one's choosing, and for several devices at once.
    let now = chrono::Utc::now();
    let (s, p) = api
        .get(&format!(
            "/api/v1/devices/{gone}/presence?from={}&to={}",
            enc(now - chrono::Duration::days(30)),
            enc(now)
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["intervals"].as_array().unwrap().len(), 2, "{p:#}");
    let a30 = p["availability"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&a30), "{a30}");
    assert_eq!(
        p["intervals"][0], d["presence"]["intervals"][0],
        "the same online stretch, whatever the period (the offline one grows with now)"
    );
    // A period before it was seen knows nothing.
    let (_, p) = api
        .get(&format!(
            "/api/v1/devices/{gone}/presence?from={}&to={}",
            enc(t0 - chrono::Duration::days(2)),
            enc(t0 - chrono::Duration::days(1))
        ))
        .await;
    assert!(
        p["availability"].is_null() && p["intervals"].as_array().unwrap().is_empty(),
        "{p}"
    );
    let ids: Vec<String> = ["devices_added"]
        .iter()
        .flat_map(|k| {
            v[*k]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["device"].as_str().unwrap().to_owned())
        })
        .collect();
    let unknown = uuid::Uuid::new_v4();
    let (s, many) = api
        .get(&format!(
            "/api/v1/presence?devices={},{unknown}",
            ids.join(",")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{many}");
    let items = many["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the unknown one is left out: {many:#}");
    let of_gone = items.iter().find(|x| x["device"] == gone.as_str()).unwrap();
    assert_eq!(of_gone["intervals"].as_array().unwrap().len(), 2);
    let other = items.iter().find(|x| x["device"] != gone.as_str()).unwrap();
    assert_eq!(other["availability"], 1.0, "{other}");
    for bad in [
        "/api/v1/presence".to_owned(),
        "/api/v1/presence?devices=nope".to_owned(),
        format!(
            "/api/v1/presence?devices={gone}&from={}",
            enc(now + chrono::Duration::hours(1))
        ),
        format!(
            "/api/v1/presence?devices={gone}&from={}",
            enc(now - chrono::Duration::days(400))
        ),
        format!(
            "/api/v1/presence?devices={}",
            vec![gone.clone(); 201].join(",")
        ),
    ] {
        let (s, v) = api.get(&bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let (s, _) = api
        .get(&format!("/api/v1/devices/{unknown}/presence"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The map as it was before the scans: empty; now: the two devices.
    let devices_on = |v: &Value| v["devices"].as_u64().unwrap_or(u64::MAX);
    let (s, m) = api
        .get(&format!(
            "/api/v1/topology?network={net}&format=layout&at={}",
            enc(t0 - chrono::Duration::hours(1))
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(devices_on(&m), 0, "{m}");
    let (_, m) = api
        .get(&format!(
            "/api/v1/topology?network={net}&format=layout&at={}",
            enc(now)
        ))
        .await;
    assert_eq!(devices_on(&m), 2, "{m}");
    let (s, _) = api.get("/api/v1/topology?at=yesterday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Before any of it: nothing.
    let before = t0 - chrono::Duration::hours(2);
    let (_, v) = api
        .get(&format!(
            "/api/v1/changes?from={}&to={}",
            enc(before),
            enc(t0 - chrono::Duration::hours(1))
        ))
        .await;
    assert!(v["devices_added"].as_array().unwrap().is_empty(), "{v}");
    for bad in ["from=yesterday", "to=2026-13-01T00:00:00Z", "network=x"] {
        let (s, _) = api.get(&format!("/api/v1/changes?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let (s, _) = api
        .get(&format!(
            "/api/v1/changes?from={}&to={}",
            enc(t0),
            enc(before)
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "from after to");
}

//! Users and the three roles: each role × each route of the user API (signed in, as the UI is),
//! and what users do with their accounts.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::{Api, PASSWORD};

const ID: &str = "00000000-0000-4000-8000-000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum R {
    Viewer,
    Editor,
    Admin,
}

/// The least role each route of the user API needs (paths as the OpenAPI document has them).
const TABLE: &[(&str, &str, R)] = &[
    ("GET", "/me", R::Viewer),
    ("PUT", "/me/password", R::Viewer),
    ("GET", "/me/sessions", R::Viewer),
    ("DELETE", "/me/sessions/{id}", R::Viewer),
    ("GET", "/users", R::Admin),
    ("POST", "/users", R::Admin),
    ("PATCH", "/users/{id}", R::Admin),
    ("GET", "/status", R::Viewer),
    ("GET", "/devices", R::Viewer),
    ("GET", "/devices/{id}", R::Viewer),
    ("PATCH", "/devices/{id}", R::Editor),
    ("DELETE", "/devices/{id}", R::Editor),
    ("GET", "/services", R::Viewer),
    ("GET", "/export", R::Viewer),
    ("GET", "/changes", R::Viewer),
    ("GET", "/presence", R::Viewer),
    ("GET", "/devices/{id}/presence", R::Viewer),
    ("GET", "/networks", R::Viewer),
    ("POST", "/networks", R::Admin),
    ("PATCH", "/networks/{id}", R::Admin),
    ("GET", "/networks/{id}/suggested-subnets", R::Viewer),
    ("GET", "/networks/{id}/snmp-credentials", R::Admin),
    ("POST", "/networks/{id}/snmp-credentials", R::Admin),
    (
        "DELETE",
        "/networks/{id}/snmp-credentials/{credential}",
        R::Admin,
    ),
    ("GET", "/topology", R::Viewer),
    ("GET", "/scans", R::Viewer),
    ("POST", "/scans", R::Editor),
    ("GET", "/scanners", R::Viewer),
    ("GET", "/scans/{id}", R::Viewer),
    ("POST", "/scans/{id}/cancel", R::Editor),
    ("GET", "/schedules", R::Viewer),
    ("POST", "/schedules", R::Editor),
    ("DELETE", "/schedules/{id}", R::Editor),
    ("GET", "/events", R::Viewer),
    ("GET", "/events/stream", R::Viewer),
    ("GET", "/daemons", R::Viewer),
    ("PUT", "/daemons/{id}/push-url", R::Admin),
    ("GET", "/daemons/keys", R::Admin),
    ("POST", "/daemons/keys", R::Admin),
    ("DELETE", "/daemons/keys/{id}", R::Admin),
    ("GET", "/tokens", R::Viewer),
    ("POST", "/tokens", R::Viewer),
    ("DELETE", "/tokens/{id}", R::Viewer),
    ("GET", "/webhooks", R::Admin),
    ("POST", "/webhooks", R::Admin),
    ("DELETE", "/webhooks/{id}", R::Admin),
    ("GET", "/alerts", R::Admin),
    ("POST", "/alerts", R::Admin),
    ("DELETE", "/alerts/{id}", R::Admin),
    ("POST", "/alerts/{id}/test", R::Admin),
    ("GET", "/audit", R::Admin),
    ("GET", "/metrics", R::Viewer),
];

/// Routes outside the table: no credentials needed, or the daemon protocol (daemon keys only).
fn outside(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/auth/login" | "/auth/logout" | "/openapi.json"
    ) || path.starts_with("/daemon/")
}

/// Sends a request with a session cookie; the status and, unless it is a stream, the body.
async fn as_session(
    api: &Api,
    cookie: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"))
        .header(header::COOKIE, format!("scanopy_session={cookie}"));
    let req = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            b.body(Body::from(v.to_string())).unwrap()
        }
        None => b.body(Body::empty()).unwrap(),
    };
    let r = api.app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    if r.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    {
        return (status, Value::Null);
    }
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

/// Signs in; the session cookie's value.
async fn sign_in(api: &Api, user: &str, password: &str) -> String {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": user, "password": password}).to_string(),
        ))
        .unwrap();
    let (s, h, body) = api.raw(req).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "{user}: {}",
        String::from_utf8_lossy(&body)
    );
    let c = h[header::SET_COOKIE].to_str().unwrap();
    c.split(';')
        .next()
        .unwrap()
        .strip_prefix("scanopy_session=")
        .unwrap()
        .to_owned()
}

async fn sign_in_status(api: &Api, user: &str, password: &str) -> StatusCode {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"username": user, "password": password}).to_string(),
        ))
        .unwrap();
    api.raw(req).await.0
}

/// A user made by the admin; its id.
async fn user(api: &Api, name: &str, role: &str) -> String {
    let (s, v) = api
        .post(
            "/api/v1/users",
            json!({"username": name, "password": format!("{name}'s long password"), "role": role}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["role"], role);
    assert!(v.get("password_hash").is_none() && !v.to_string().contains("argon2"));
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_role_may_do_what_the_table_says_on_every_route() {
    let api = Api::new().await;
    // The table covers every route of the user API in the OpenAPI document, and no other.
    let (_, doc) = api.get("/api/v1/openapi.json").await;
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            let path = path.strip_prefix("/api/v1").unwrap_or(path);
            if !outside(path) && ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                documented.push((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    documented.sort();
    let mut table: Vec<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    table.sort();
    assert_eq!(
        documented, table,
        "the role table and the API's routes differ"
    );

    user(&api, "erin", "editor").await;
    user(&api, "vic", "viewer").await;
    let sessions = [
        (R::Admin, sign_in(&api, "admin", PASSWORD).await),
        (
            R::Editor,
            sign_in(&api, "erin", "erin's long password").await,
        ),
        (R::Viewer, sign_in(&api, "vic", "vic's long password").await),
    ];
    let mut checked = 0;
    for (m, p, need) in TABLE {
        let path = p.replace("{id}", ID).replace("{credential}", ID);
        let body = (*m != "GET" && *m != "DELETE").then(|| json!({}));
        for (role, cookie) in &sessions {
            let (s, v) = as_session(&api, cookie, m, &path, body.clone()).await;
            if role >= need {
                assert!(
                    s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
                    "{role:?} may {m} {p}, got {s}: {v}"
                );
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{role:?} may not {m} {p}: {v}");
                assert_eq!(v["error"]["code"], "forbidden", "{m} {p}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, TABLE.len() * 3);
    // The sessions still work: nothing above signed anyone out.
    for (role, cookie) in &sessions {
        let (s, v) = as_session(&api, cookie, "GET", "/me", None).await;
        assert_eq!(s, StatusCode::OK);
        let want = match role {
            R::Admin => "admin",
            R::Editor => "editor",
            R::Viewer => "viewer",
        };
        assert_eq!(v["role"], want);
        assert_eq!(v["via"], "session");
    }
}

#[tokio::test]
async fn a_token_never_exceeds_its_user_and_follows_its_changes() {
    let api = Api::new().await;
    let erin = user(&api, "erin", "editor").await;
    let s = sign_in(&api, "erin", "erin's long password").await;
    let (st, v) = as_session(
        &api,
        &s,
        "POST",
        "/tokens",
        Some(json!({"name": "ci", "role": "admin"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = as_session(
        &api,
        &s,
        "POST",
        "/tokens",
        Some(json!({"name": "ci", "role": "editor"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["role"], "editor");
    let tok = v["token"].as_str().unwrap().to_owned();
    let tok_id = v["id"].as_str().unwrap().to_owned();
    // The older name of viewer is still taken.
    let (st, v) = as_session(
        &api,
        &s,
        "POST",
        "/tokens",
        Some(json!({"name": "grafana", "role": "read"})),
    )
    .await;
    assert_eq!(
        (st, v["role"].as_str()),
        (StatusCode::CREATED, Some("viewer"))
    );
    let scan = |auth: String| {
        let api = &api;
        async move {
            api.call(Method::POST, "/api/v1/scans", Some(&auth), Some(json!({})))
                .await
                .0
        }
    };
    assert_eq!(
        scan(tok.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an editor's token may scan"
    );
    // Its own tokens only: the admin's are not listed, and not revocable by it.
    let (_, mine) = as_session(&api, &s, "GET", "/tokens", None).await;
    let names: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{mine}");
    let (_, other) = api.post("/api/v1/tokens", json!({"name": "admin's"})).await;
    let other_id = other["id"].as_str().unwrap();
    let (st, _) = as_session(&api, &s, "DELETE", &format!("/tokens/{other_id}"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Demoted: the token and the session are a viewer's from the next request.
    let (st, v) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{erin}"),
            Some(&api.admin),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(
        (st, v["role"].as_str()),
        (StatusCode::OK, Some("viewer")),
        "{v}"
    );
    assert_eq!(scan(tok.clone()).await, StatusCode::FORBIDDEN);
    let (st, _) = as_session(&api, &s, "POST", "/scans", Some(json!({}))).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, me) = api.call(Method::GET, "/api/v1/me", Some(&tok), None).await;
    assert_eq!(me["role"], "viewer");
    // Disabled: no sign-in (told as a wrong password), its session ended, its token refused.
    let (st, v) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{erin}"),
            Some(&api.admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["disabled_at"].is_string());
    assert_eq!(
        sign_in_status(&api, "erin", "erin's long password").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        as_session(&api, &s, "GET", "/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call(Method::GET, "/api/v1/me", Some(&tok), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Enabled again, as editor: the token is back; the ended session is not.
    let (st, _) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{erin}"),
            Some(&api.admin),
            Some(json!({"disabled": false, "role": "editor"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(scan(tok.clone()).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        as_session(&api, &s, "GET", "/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Its own token, revoked by it.
    let s = sign_in(&api, "erin", "erin's long password").await;
    let (st, _) = as_session(&api, &s, "DELETE", &format!("/tokens/{tok_id}"), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(scan(tok).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_change_their_password_and_end_their_sessions() {
    let api = Api::new().await;
    user(&api, "vic", "viewer").await;
    let a = sign_in(&api, "vic", "vic's long password").await;
    let b = sign_in(&api, "vic", "vic's long password").await;
    let (st, list) = as_session(&api, &a, "GET", "/me/sessions", None).await;
    assert_eq!(st, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|x| x["current"] == true).count(), 1);
    assert!(
        !list.to_string().contains(&a) && !list.to_string().contains(&b),
        "no secrets"
    );
    // Wrong current password: refused, nothing changed.
    let (st, v) = as_session(
        &api,
        &a,
        "PUT",
        "/me/password",
        Some(json!({"current_password": "not it at all", "new_password": "vic's newer password"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, _) = as_session(
        &api,
        &a,
        "PUT",
        "/me/password",
        Some(json!({"current_password": "vic's long password", "new_password": "short"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        as_session(&api, &b, "GET", "/me", None).await.0,
        StatusCode::OK
    );
    // Changed: this session goes on, the other one ends, the new password signs in.
    let (st, v) = as_session(&api, &a, "PUT", "/me/password",
        Some(json!({"current_password": "vic's long password", "new_password": "vic's newer password"}))).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(
        as_session(&api, &a, "GET", "/me", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        as_session(&api, &b, "GET", "/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_status(&api, "vic", "vic's long password").await,
        StatusCode::UNAUTHORIZED
    );
    let c = sign_in(&api, "vic", "vic's newer password").await;
    // One session ends another; another user's session is not found.
    let (_, list) = as_session(&api, &c, "GET", "/me/sessions", None).await;
    let other = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = sign_in(&api, "admin", PASSWORD).await;
    let (st, _) = as_session(
        &api,
        &admin,
        "DELETE",
        &format!("/me/sessions/{other}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "not the admin's session");
    let (st, _) = as_session(&api, &c, "DELETE", &format!("/me/sessions/{other}"), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        as_session(&api, &a, "GET", "/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        as_session(&api, &c, "GET", "/me", None).await.0,
        StatusCode::OK
    );
    // The audit trail has each of these, by name, and no password.
    let (_, audit) = api.get("/api/v1/audit?limit=1000").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "user_created",
        "password_changed",
        "session_ended",
        "sign_in",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    let text = audit.to_string();
    assert!(
        !text.contains("long password") && !text.contains("newer password"),
        "{text}"
    );
}

#[tokio::test]
async fn admins_manage_users_and_one_admin_always_remains() {
    let api = Api::new().await;
    let (_, list) = api.get("/api/v1/users").await;
    let admin_id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["username"], "admin");
    for (body, want) in [
        (
            json!({"username": "x", "password": "long enough password", "role": "root"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"username": "x", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"username": "", "password": "long enough password"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"username": "a\u{7}b", "password": "long enough password"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"username": "admin", "password": "long enough password"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"username": "x", "password": "long enough password", "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, v) = api.post("/api/v1/users", body.clone()).await;
        assert_eq!(s, want, "{body}: {v}");
    }
    let (_, list) = api.get("/api/v1/users").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "bad input made nobody"
    );
    let patch = |id: String, body: Value| {
        let api = &api;
        async move {
            api.call(
                Method::PATCH,
                &format!("/api/v1/users/{id}"),
                Some(&api.admin),
                Some(body),
            )
            .await
        }
    };
    // The only admin cannot be demoted or disabled.
    for body in [json!({"role": "viewer"}), json!({"disabled": true})] {
        let (s, v) = patch(admin_id.clone(), body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
    }
    // A bad password in a patch changes nothing else.
    let bob = user(&api, "bob", "viewer").await;
    let (s, _) = patch(bob.clone(), json!({"role": "admin", "password": "short"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = api.get("/api/v1/users").await;
    let b = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(b["role"], "viewer");
    // An admin sets a new password: the user's sessions end.
    let s1 = sign_in(&api, "bob", "bob's long password").await;
    let (s, _) = patch(bob.clone(), json!({"password": "set by the admin"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        as_session(&api, &s1, "GET", "/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    sign_in(&api, "bob", "set by the admin").await;
    let (s, _) = patch(ID.to_owned(), json!({"role": "viewer"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = patch("not-an-id".to_owned(), json!({"role": "viewer"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // With a second admin, the first may step down.
    let (s, _) = patch(bob, json!({"role": "admin"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = patch(admin_id, json!({"role": "editor"})).await;
    assert_eq!(
        (s, v["role"].as_str()),
        (StatusCode::OK, Some("editor")),
        "{v}"
    );
}

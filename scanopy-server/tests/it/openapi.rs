//! The OpenAPI document: generated from the router's one list of routes, every route in it with
//! a response schema, and the bodies the routes serve matching those schemas.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::common::Api;

/// The document as served, also written to `target/openapi.json` for outside validators.
async fn served_document(api: &Api) -> Value {
    let (s, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/openapi.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    doc
}

/// Operations whose success has no body, and why.
const NO_BODY: &[(&str, &str, &str)] = &[
    (
        "post",
        "/api/v1/auth/logout",
        "204: the answer is the cleared cookie",
    ),
    ("delete", "/api/v1/devices/{id}", "204 No Content"),
    ("delete", "/api/v1/schedules/{id}", "204 No Content"),
    ("delete", "/api/v1/daemons/keys/{id}", "204 No Content"),
    ("delete", "/api/v1/tokens/{id}", "204 No Content"),
    ("delete", "/api/v1/webhooks/{id}", "204 No Content"),
    ("delete", "/api/v1/alerts/{id}", "204 No Content"),
    ("delete", "/api/v1/me/sessions/{id}", "204 No Content"),
    ("put", "/api/v1/me/password", "204 No Content"),
    (
        "delete",
        "/api/v1/networks/{id}/snmp-credentials/{credential}",
        "204 No Content",
    ),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation's success answer has a schema (but those of [`NO_BODY`]), and every error
/// answer has the error body.
#[tokio::test]
async fn every_operation_has_response_schemas() {
    let api = Api::new().await;
    let doc = served_document(&api).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "{:?}", paths.keys());
    let mut without = BTreeSet::new();
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                let content = r.get("content").and_then(Value::as_object);
                // `GET /health` answers 503 with its own body: the database's state.
                if status.starts_with('2') || (path == "/api/v1/health" && status == "503") {
                    if content.is_none() {
                        without.insert((m.to_owned(), path.clone()));
                    }
                    continue;
                }
                let schema = content
                    .and_then(|c| c.get("application/json"))
                    .map(|c| &c["schema"]);
                assert_eq!(
                    schema,
                    Some(&json!({"$ref": "#/components/schemas/ErrorBody"})),
                    "{m} {path} {status}: {r}"
                );
            }
        }
    }
    let listed: BTreeSet<(String, String)> = NO_BODY
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(without, listed, "operations without a response schema");
}

/// The router serves exactly the methods the document lists on each of its paths: a method the
/// document lists is routed (never 405), one it does not list is refused with 405.
#[tokio::test]
async fn the_router_serves_what_the_document_lists() {
    let api = Api::new().await;
    let doc = served_document(&api).await;
    let id = "00000000-0000-4000-8000-000000000000";
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = path.replace("{id}", id);
        for m in METHODS {
            let req = Request::builder()
                .method(m.to_uppercase().as_str())
                .uri(&uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let (s, _, _) = api.raw(req).await;
            let documented = item.get(m).is_some();
            assert_eq!(
                s == StatusCode::METHOD_NOT_ALLOWED,
                !documented,
                "{m} {path}: {s}, documented: {documented}"
            );
        }
    }
}

/// The schema `s` with `$ref`s followed.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => s,
    }
}

/// The properties and required fields of an object schema, `allOf` parts merged.
fn object_shape(doc: &Value, s: &Value) -> Option<(Map<String, Value>, BTreeSet<String>)> {
    let s = resolve(doc, s);
    let mut props = Map::new();
    let mut required = BTreeSet::new();
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        for p in parts {
            let (pp, pr) = object_shape(doc, p)?;
            props.extend(pp);
            required.extend(pr);
        }
        return Some((props, required));
    }
    let p = s.get("properties")?.as_object()?;
    props.extend(p.clone());
    for r in s["required"].as_array().into_iter().flatten() {
        required.insert(r.as_str().unwrap().to_owned());
    }
    Some((props, required))
}

/// What in `v` does not match schema `s`: a field the schema does not declare, a required one
/// missing, a value of another type.
fn mismatches(doc: &Value, s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let s = resolve(doc, s);
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
        let fits = alts.iter().any(|a| {
            let mut e = Vec::new();
            mismatches(doc, a, v, at, &mut e);
            e.is_empty()
        });
        if !fits {
            out.push(format!(
                "{at}: {v} fits none of {}",
                Value::Array(alts.clone())
            ));
        }
        return;
    }
    if let Some((props, required)) = object_shape(doc, s) {
        let Some(obj) = v.as_object() else {
            out.push(format!("{at}: not an object: {v}"));
            return;
        };
        for r in &required {
            if !obj.contains_key(r) {
                out.push(format!("{at}: the required field {r} is missing"));
            }
        }
        for (k, fv) in obj {
            match props.get(k) {
                Some(ps) => mismatches(doc, ps, fv, &format!("{at}.{k}"), out),
                None => out.push(format!("{at}: the field {k} is not in the schema")),
            }
        }
        return;
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return, // any value
    };
    let fits = types.iter().any(|t| match *t {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "object" => v.is_object(),
        "array" => v.as_array().is_some_and(|items| {
            items.iter().enumerate().all(|(i, x)| {
                let mut e = Vec::new();
                mismatches(doc, &s["items"], x, &format!("{at}[{i}]"), &mut e);
                out.extend(e.iter().cloned());
                e.is_empty()
            })
        }),
        _ => false,
    });
    if !fits {
        out.push(format!("{at}: {v} is not of type {types:?}"));
    }
}

/// Checks the body of `method path` answered `status` against the document.
fn conforms(doc: &Value, method: &str, path: &str, status: StatusCode, body: &Value) {
    let r = &doc["paths"][path][method]["responses"][status.as_str()];
    let schema = &r["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema documented"
    );
    let mut out = Vec::new();
    mismatches(doc, schema, body, "body", &mut out);
    assert!(
        out.is_empty(),
        "{method} {path} {status} does not match its schema:\n{}\n{body:#}",
        out.join("\n")
    );
}

fn obs(ip: &str, scanner: &str, fact: Value) -> Value {
    json!({"ip": ip, "scanner": scanner, "at": chrono::Utc::now().to_rfc3339(), "fact": fact})
}

/// The bodies the routes serve, through a scan with a daemon, match the document: no field it
/// does not declare, none it requires missing, every value of its type. A field added to a
/// stored type without its schema (`src/schema.rs`) fails here.
#[tokio::test]
async fn served_bodies_match_the_document() {
    let api = Api::new().await;
    let doc = served_document(&api).await;
    let key = api.admin.clone();
    let call = |m: Method, p: String, auth: Option<String>, body: Option<Value>| {
        let api = &api;
        async move { api.call(m, &p, auth.as_deref(), body).await }
    };
    macro_rules! check {
        ($m:ident $templ:literal, $uri:expr, $auth:expr, $body:expr, $want:expr) => {{
            let (s, v) = call(Method::$m, $uri, $auth, $body).await;
            assert_eq!(s, $want, "{} {}: {v}", stringify!($m), $templ);
            conforms(&doc, &stringify!($m).to_lowercase(), $templ, s, &v);
            v
        }};
    }
    let admin = Some(key.clone());
    check!(GET "/api/v1/health", "/api/v1/health".into(), None, None, StatusCode::OK);
    check!(GET "/api/v1/me", "/api/v1/me".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/me", "/api/v1/me".into(), None, None, StatusCode::UNAUTHORIZED);
    check!(GET "/api/v1/status", "/api/v1/status".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/scanners", "/api/v1/scanners".into(), admin.clone(), None, StatusCode::OK);
    let login = json!({"username": "admin", "password": crate::common::PASSWORD});
    check!(POST "/api/v1/auth/login", "/api/v1/auth/login".into(), None, Some(login), StatusCode::OK);
    let net = check!(POST "/api/v1/networks", "/api/v1/networks".into(), admin.clone(),
        Some(json!({"name": "lab", "subnets": ["10.77.0.0/24"]})), StatusCode::CREATED);
    let net = net["id"].as_str().unwrap().to_owned();
    check!(GET "/api/v1/networks", "/api/v1/networks".into(), admin.clone(), None, StatusCode::OK);
    let token = check!(POST "/api/v1/tokens", "/api/v1/tokens".into(), admin.clone(),
        Some(json!({"name": "ci", "role": "read"})), StatusCode::CREATED);
    check!(POST "/api/v1/tokens", "/api/v1/tokens".into(), admin.clone(),
        Some(json!({"name": "ci", "role": "root"})), StatusCode::UNPROCESSABLE_ENTITY);
    check!(GET "/api/v1/tokens", "/api/v1/tokens".into(), admin.clone(), None, StatusCode::OK);
    let read = Some(token["token"].as_str().unwrap().to_owned());
    check!(GET "/api/v1/tokens", "/api/v1/tokens".into(), read.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/daemons/keys", "/api/v1/daemons/keys".into(), read.clone(), None, StatusCode::FORBIDDEN);
    let u = check!(POST "/api/v1/users", "/api/v1/users".into(), admin.clone(),
        Some(json!({"username": "erin", "password": "erin's long password", "role": "editor"})), StatusCode::CREATED);
    check!(POST "/api/v1/users", "/api/v1/users".into(), admin.clone(),
        Some(json!({"username": "erin", "password": "erin's long password"})), StatusCode::CONFLICT);
    check!(GET "/api/v1/users", "/api/v1/users".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/users", "/api/v1/users".into(), read.clone(), None, StatusCode::FORBIDDEN);
    let uid = u["id"].as_str().unwrap().to_owned();
    check!(PATCH "/api/v1/users/{id}", format!("/api/v1/users/{uid}"), admin.clone(),
        Some(json!({"role": "viewer", "disabled": true})), StatusCode::OK);
    check!(PATCH "/api/v1/users/{id}", format!("/api/v1/users/{uid}"), admin.clone(),
        Some(json!({"role": "root"})), StatusCode::UNPROCESSABLE_ENTITY);
    check!(GET "/api/v1/me/sessions", "/api/v1/me/sessions".into(), admin.clone(), None, StatusCode::OK);
    check!(PUT "/api/v1/me/password", "/api/v1/me/password".into(), admin.clone(),
        Some(json!({"current_password": "x", "new_password": "a long new password"})), StatusCode::FORBIDDEN);
    let dk = check!(POST "/api/v1/daemons/keys", "/api/v1/daemons/keys".into(), admin.clone(),
        Some(json!({"name": "d", "network": net})), StatusCode::CREATED);
    check!(GET "/api/v1/daemons/keys", "/api/v1/daemons/keys".into(), admin.clone(), None, StatusCode::OK);
    let dk = Some(dk["key"].as_str().unwrap().to_owned());
    let caps = json!({"name": "d", "capabilities": {"mode": "push", "url": "http://127.0.0.1:9", "version": "t", "subnets": ["10.77.0.0/24"]}});
    let reg = check!(POST "/api/v1/daemon/register", "/api/v1/daemon/register".into(), dk.clone(),
        Some(caps.clone()), StatusCode::OK);
    check!(POST "/api/v1/daemon/heartbeat", "/api/v1/daemon/heartbeat".into(), dk.clone(),
        Some(caps), StatusCode::OK);
    let daemon = reg["daemon_id"].as_str().unwrap().to_owned();
    check!(GET "/api/v1/daemons", "/api/v1/daemons".into(), admin.clone(), None, StatusCode::OK);
    check!(PUT "/api/v1/daemons/{id}/push-url", format!("/api/v1/daemons/{daemon}/push-url"),
        admin.clone(), Some(json!({"url": null})), StatusCode::OK);
    let scan = check!(POST "/api/v1/scans", "/api/v1/scans".into(), admin.clone(),
        Some(json!({"network": net, "targets": ["10.77.0.0/24"], "ports": "22", "scanners": ["tcp"]})),
        StatusCode::ACCEPTED);
    let run = scan["id"].as_str().unwrap().to_owned();
    let poll = check!(POST "/api/v1/daemon/poll", "/api/v1/daemon/poll".into(), dk.clone(), None, StatusCode::OK);
    assert_eq!(poll["job"]["id"], run, "{poll}");
    check!(POST "/api/v1/daemon/poll", "/api/v1/daemon/poll".into(), dk.clone(), None, StatusCode::OK);
    let batch = json!({"batch_id": uuid::Uuid::new_v4(), "observations": [
        obs("10.77.0.5", "arp", json!({"kind": "mac", "mac": "00:11:32:aa:00:05"})),
        obs("10.77.0.5", "tcp", json!({"kind": "port", "port": 22, "transport": "tcp", "state": "open", "name": "ssh", "extra": {"ssh.banner": "x"}, "confidence": "high", "evidence": "t"})),
    ]});
    check!(POST "/api/v1/daemon/jobs/{id}/results", format!("/api/v1/daemon/jobs/{run}/results"),
        dk.clone(), Some(batch), StatusCode::OK);
    let progress = json!({"hosts_total": 256, "hosts_found": 1, "hosts_done": 1, "probes_sent": 1, "ports_probed": 1, "observations": 2});
    check!(POST "/api/v1/daemon/jobs/{id}/progress", format!("/api/v1/daemon/jobs/{run}/progress"),
        dk.clone(), Some(progress.clone()), StatusCode::OK);
    check!(POST "/api/v1/daemon/jobs/{id}/finish", format!("/api/v1/daemon/jobs/{run}/finish"),
        dk.clone(), Some(json!({"outcome": "done", "progress": progress})), StatusCode::OK);
    check!(GET "/api/v1/scans/{id}", format!("/api/v1/scans/{run}"), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/scans", "/api/v1/scans".into(), admin.clone(), None, StatusCode::OK);
    check!(POST "/api/v1/scans/{id}/cancel", format!("/api/v1/scans/{run}/cancel"), admin.clone(), None, StatusCode::OK);
    let devices = check!(GET "/api/v1/devices", "/api/v1/devices".into(), admin.clone(), None, StatusCode::OK);
    let device = devices["items"][0]["id"].as_str().unwrap().to_owned();
    let one = check!(GET "/api/v1/devices/{id}", format!("/api/v1/devices/{device}"), admin.clone(), None, StatusCode::OK);
    assert!(!one["history"].as_array().unwrap().is_empty(), "{one}");
    check!(GET "/api/v1/devices/{id}", format!("/api/v1/devices/{run}"), admin.clone(), None, StatusCode::NOT_FOUND);
    check!(PATCH "/api/v1/devices/{id}", format!("/api/v1/devices/{device}"), admin.clone(),
        Some(json!({"name": "nas", "tags": ["a"]})), StatusCode::OK);
    check!(GET "/api/v1/services", "/api/v1/services".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/devices", "/api/v1/devices?limit=0".into(), admin.clone(), None, StatusCode::UNPROCESSABLE_ENTITY);
    check!(GET "/api/v1/events", "/api/v1/events".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/events", "/api/v1/events?order=desc".into(), admin.clone(), None, StatusCode::OK);
    check!(POST "/api/v1/schedules", "/api/v1/schedules".into(), admin.clone(),
        Some(json!({"network": net, "every_minutes": 60})), StatusCode::CREATED);
    check!(GET "/api/v1/schedules", "/api/v1/schedules".into(), admin.clone(), None, StatusCode::OK);
    check!(POST "/api/v1/webhooks", "/api/v1/webhooks".into(), admin.clone(),
        Some(json!({"url": "http://127.0.0.1:9/hook"})), StatusCode::CREATED);
    check!(GET "/api/v1/webhooks", "/api/v1/webhooks".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/topology", "/api/v1/topology".into(), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/topology", format!("/api/v1/topology?network={net}&format=layout"), admin.clone(), None, StatusCode::OK);
    check!(GET "/api/v1/topology", "/api/v1/topology?format=layout&cap=1".into(), admin.clone(), None, StatusCode::OK);
}

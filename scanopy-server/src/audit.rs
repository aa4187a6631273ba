//! The audit trail: who did what (sign-ins, scans started, devices edited or deleted, keys,
//! tokens, webhooks, alerts, networks, SNMP credentials and schedules made or removed, users
//! made or changed, passwords changed, sessions ended), when
//! and from which address; only ever added to, read by admins (`GET /audit`). An entry never
//! holds a secret: a token's or key's name and id, never its value.
//!
//! Every change the API makes is recorded by one layer ([`layer`]), not by each handler: a
//! request that changes something (not `GET`, not the daemon protocol) and succeeded is an
//! entry named by its route ([`action`]), with who made it (the [`Caller`] its handler
//! authenticated, passed back through an [`AuditSlot`]), its target (the path's id, or the id
//! and name of what it created) and, for an edit, the fields it set. Sign-ins (and failed
//! ones) and sign-outs are recorded by their handlers, which know the user.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::ApiQuery;
use crate::api::Items;
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Records what `caller` did; a failure to record is logged and counted, and does not undo
/// what was done.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: Option<String>,
    detail: serde_json::Value,
) {
    write(
        state,
        &caller.username,
        caller.via,
        caller.address,
        action,
        target,
        detail,
    )
    .await;
}

/// Records an action its handler authenticated itself: a sign-in (or a failed one), a sign-out.
pub async fn write(
    state: &AppState,
    actor: &str,
    via: &str,
    address: Option<std::net::IpAddr>,
    action: &str,
    target: Option<String>,
    detail: serde_json::Value,
) {
    let e = scanopy_store::AuditEntry {
        id: Uuid::new_v4(),
        at: Utc::now(),
        actor: crate::alerts::clean(actor),
        via: via.to_owned(),
        address: address.map(|a| a.to_string()),
        action: action.to_owned(),
        target,
        detail,
    };
    if let Err(err) = state.store.record_audit(&e).await {
        state.metrics.inc("audit_failures");
        tracing::warn!(action, error = %err, "an audit entry could not be written");
    }
}

/// `GET /audit`'s parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries per page (1 to 1,000; 100 by default).
    pub limit: Option<usize>,
    /// RFC 3339: only entries before this time (the `at` of a page's last entry: the next
    /// page).
    pub before: Option<String>,
}

/// `GET /audit`: the newest entries first.
#[utoipa::path(get, path = "/audit", tag = "server", params(AuditQuery),
    responses((status = 200, description = "audit entries, newest first; next_cursor is the `before` of the next page", body = crate::api::Items<crate::schema::AuditEntry>),
              (status = 422, description = "a wrong parameter", body = crate::error::ErrorBody), crate::error::AdminErrors))]
pub async fn audit(
    State(state): State<AppState>,
    _a: Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<axum::Json<Items<scanopy_store::AuditEntry>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 1000"));
    }
    let before = q
        .before
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid(format!("before: {s:?} is not an RFC 3339 time")))
        })
        .transpose()?;
    let entries = state.store.audit(limit, before).await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.at.to_rfc3339()))
        .flatten();
    Ok(axum::Json(Items::new(entries, next)))
}

/// Where a handler's [`Caller`] is left for [`layer`] (the extractor fills it).
#[derive(Clone, Default)]
pub struct AuditSlot(pub Arc<Mutex<Option<Caller>>>);

/// The action a change is recorded as, from its method and path below `/api/v1`; `None` for
/// what is not audited here (reads, the daemon protocol, sign-in and sign-out).
pub fn action(method: &Method, path: &str) -> Option<(String, Option<String>)> {
    if *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS {
        return None;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let id = |i: usize| segs.get(i).map(|s| (*s).to_owned());
    let m = method.as_str();
    let named = match (m, segs.as_slice()) {
        (_, ["daemon", ..]) | (_, ["auth", ..]) => return None,
        ("POST", ["scans"]) => ("scan_started", None),
        ("POST", ["scans", _, "cancel"]) => ("scan_cancelled", id(1)),
        ("PATCH", ["devices", _]) => ("device_edited", id(1)),
        ("DELETE", ["devices", _]) => ("device_deleted", id(1)),
        ("POST", ["networks"]) => ("network_created", None),
        ("PATCH", ["networks", _]) => ("network_changed", id(1)),
        ("POST", ["networks", _, "snmp-credentials"]) => ("snmp_credential_added", id(1)),
        ("DELETE", ["networks", _, "snmp-credentials", _]) => ("snmp_credential_deleted", id(3)),
        ("POST", ["schedules"]) => ("schedule_created", None),
        ("DELETE", ["schedules", _]) => ("schedule_deleted", id(1)),
        ("PUT", ["daemons", _, "push-url"]) => ("push_url_set", id(1)),
        ("POST", ["daemons", "keys"]) => ("key_created", None),
        ("DELETE", ["daemons", "keys", _]) => ("key_revoked", id(2)),
        ("POST", ["tokens"]) => ("token_created", None),
        ("DELETE", ["tokens", _]) => ("token_revoked", id(1)),
        ("POST", ["webhooks"]) => ("webhook_created", None),
        ("DELETE", ["webhooks", _]) => ("webhook_deleted", id(1)),
        ("POST", ["alerts"]) => ("alert_created", None),
        ("DELETE", ["alerts", _]) => ("alert_deleted", id(1)),
        ("POST", ["alerts", _, "test"]) => ("alert_tested", id(1)),
        ("POST", ["users"]) => ("user_created", None),
        ("PATCH", ["users", _]) => ("user_changed", id(1)),
        ("PUT", ["me", "password"]) => ("password_changed", None),
        ("DELETE", ["me", "sessions", _]) => ("session_ended", id(2)),
        // A change this table does not name yet is still recorded, by its route.
        _ => return Some((format!("{m} /{}", segs.join("/")), None)),
    };
    Some((named.0.to_owned(), named.1))
}

/// Answers kept to read what a request created (its id and name), at most.
const CREATED_MAX: usize = 64 * 1024;

/// The layer over `/api/v1`: records each change that succeeded (see the module's text).
pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some((act, target)) = action(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    // An edit's fields (names only: a value may be a secret).
    let (parts, body) = req.into_parts();
    let edit = parts.method == Method::PATCH || parts.method == Method::PUT;
    let (body, fields) = if edit {
        match axum::body::to_bytes(body, crate::BODY_LIMIT).await {
            Ok(b) => {
                let fields: Vec<String> = serde_json::from_slice::<serde_json::Value>(&b)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
                    .unwrap_or_default();
                (axum::body::Body::from(b), fields)
            }
            Err(_) => {
                return crate::error::ApiError::invalid("the body is too large").into_response();
            }
        }
    } else {
        (body, Vec::new())
    };
    let resp = next.run(Request::from_parts(parts, body)).await;
    if !resp.status().is_success() {
        return resp;
    }
    let Some(caller) = slot.0.lock().ok().and_then(|c| c.clone()) else {
        return resp;
    };
    let mut detail = serde_json::json!({});
    if !fields.is_empty() {
        detail["fields"] = serde_json::json!(fields);
    }
    // What it created: the answer's id and name (never the rest: a token's value is there).
    // Only an answer of known, small size is read back; another is passed on untouched and
    // recorded without its id.
    use axum::body::HttpBody as _;
    let small = resp
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= CREATED_MAX as u64);
    let (resp, target) = if target.is_none() && small {
        let (p, b) = resp.into_parts();
        match axum::body::to_bytes(b, CREATED_MAX).await {
            Ok(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                for k in ["name", "username", "label", "url"] {
                    if let Some(s) = v[k].as_str() {
                        detail[k] = serde_json::Value::from(crate::alerts::clean(s));
                    }
                }
                let id = v["id"].as_str().map(str::to_owned);
                (Response::from_parts(p, axum::body::Body::from(bytes)), id)
            }
            // Its size was known and small: reading it cannot fail but by a broken body.
            Err(_) => (Response::from_parts(p, axum::body::Body::empty()), None),
        }
    } else {
        (resp, target)
    };
    record(&state, &caller, &act, target, detail).await;
    resp
}

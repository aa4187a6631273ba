//! The JSON API under `/api/v1`: inventory, scans, schedules, events, daemons and keys, tokens,
//! webhooks, status and metrics.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Path, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use scanopy_core::{PortSpec, ScanConfig, Target, TargetSpec, Topology};
use scanopy_store::{
    Credential, CredentialKind, Daemon, Delivery, DeviceEdit, DeviceFilter, Event, NewCredential,
    NewScanRun, NewSchedule, Role, StoredDevice, Webhook,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::auth::{Admin, Caller, Editor, Whoami};
use crate::error::{
    AdminErrors, ApiError, ApiJson, ApiResult, CallerErrors, EditorErrors, ErrorBody,
};
use crate::schema;
use crate::state::{AppState, ScanUpdate};

/// The scanners a scan may name: those a daemon runs (a name it does not know would fail the
/// job on the daemon, so it is refused here).
use scanopy_daemon::setup::registry;

/// Query strings whose rejections are API errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

/// A list page: `{"items": […], "next_cursor": "…" | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    /// The items.
    items: Vec<T>,
    /// Where the next page starts; `null` on the last page.
    next_cursor: Option<String>,
}

impl<T> Items<T> {
    /// A page and where the next starts.
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        Items { items, next_cursor }
    }
}

fn items<T>(items: Vec<T>) -> axum::Json<Items<T>> {
    axum::Json(Items {
        items,
        next_cursor: None,
    })
}

/// `limit` and `cursor`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page: 1 to 1000, 50 by default.
    pub limit: Option<usize>,
    /// Where to go on from (`next_cursor` of the previous page).
    pub cursor: Option<String>,
}

fn limit(l: Option<usize>) -> ApiResult<usize> {
    match l {
        None => Ok(50),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!(
            "limit must be between 1 and 1000, not {n}"
        ))),
    }
}

fn parse_uuid(field: &str, v: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(v).map_err(|_| ApiError::invalid(format!("{field}: {v:?} is not an id")))
}

// ---- status, me, health ----------------------------------------------------------------

/// `GET /health`: the database answers or not (503).
#[utoipa::path(get, path = "/health", tag = "server",
    responses((status = 200, description = "up", body = Health),
              (status = 503, description = "the database is down", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(Health {
            status: "ok",
            database: "ok",
        })
        .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            axum::Json(Health {
                status: "degraded",
                database: "unavailable",
            }),
        )
            .into_response(),
    }
}

/// The answer of `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

/// A scanner a scan may name (`GET /scanners`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScannerInfo {
    /// The name a scan request uses.
    pub name: &'static str,
    /// A label for people.
    pub label: &'static str,
    /// `discovery` (finds hosts) or `per_host` (examines each host found).
    pub kind: &'static str,
    /// Run when a scan names no scanner.
    pub default: bool,
    /// What it needs on the daemon's machine beyond the ordinary: `raw_sockets`, `docker`.
    pub needs: Vec<&'static str>,
}

/// `GET /scanners`: the scanners a scan may name, in the order a daemon runs them.
#[utoipa::path(get, path = "/scanners", tag = "scans",
    responses((status = 200, description = "the scanners", body = [ScannerInfo]), CallerErrors))]
pub async fn scanners(_: Caller) -> axum::Json<Vec<ScannerInfo>> {
    axum::Json(
        registry::SCANNERS
            .iter()
            .map(|e| ScannerInfo {
                name: e.name,
                label: e.label,
                kind: match e.kind {
                    scanopy_core::ScannerKind::Discovery => "discovery",
                    scanopy_core::ScannerKind::PerHost => "per_host",
                },
                default: e.default,
                needs: [
                    ("raw_sockets", e.needs.raw_sockets),
                    ("docker", e.needs.docker),
                ]
                .into_iter()
                .filter_map(|(n, on)| on.then_some(n))
                .collect(),
            })
            .collect(),
    )
}

/// `GET /me`.
#[utoipa::path(get, path = "/me", tag = "auth",
    responses((status = 200, description = "the caller", body = Whoami), CallerErrors))]
pub async fn me(caller: Caller) -> axum::Json<Whoami> {
    axum::Json(Whoami {
        id: caller.user,
        username: caller.username,
        role: caller.role,
        via: caller.via,
    })
}

/// `GET /status`: counts, the local daemon and warnings, for the dashboard.
#[utoipa::path(get, path = "/status", tag = "server",
    responses((status = 200, description = "status", body = Status), CallerErrors))]
pub async fn status(State(state): State<AppState>, _c: Caller) -> ApiResult<axum::Json<Status>> {
    let counts = state.store.counts().await?;
    let local = state
        .local
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let warnings: Vec<String> = local
        .as_ref()
        .map(|l| l.warnings.clone())
        .unwrap_or_default();
    Ok(axum::Json(Status {
        version: env!("CARGO_PKG_VERSION"),
        devices: counts.devices,
        devices_offline: counts.devices_offline,
        services: counts.services,
        networks: counts.networks,
        server_public_key: crate::push::public_key_base64(&state.signing_key),
        local_daemon: local.map(|l| LocalDaemonStatus {
            enabled: true,
            id: l.id,
            raw_sockets: l.raw_sockets,
            docker: l.docker,
            subnets: l.subnets,
            listening: l.listening,
        }),
        warnings,
        uptime_seconds: state.started.elapsed().as_secs(),
    }))
}

/// The answer of `GET /status`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// The server's version.
    pub version: &'static str,
    /// Devices in the inventory.
    pub devices: i64,
    /// Of which offline.
    pub devices_offline: i64,
    /// Services.
    pub services: i64,
    /// Networks.
    pub networks: i64,
    /// The server's Ed25519 public key (base64), which push daemons check calls against.
    pub server_public_key: String,
    /// The in-process daemon; `null` when the server runs without one.
    pub local_daemon: Option<LocalDaemonStatus>,
    /// What the local daemon does instead of what it cannot.
    pub warnings: Vec<String>,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
}

/// The local daemon, as `GET /status` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LocalDaemonStatus {
    /// Always `true` (the field is `null` without a local daemon).
    pub enabled: bool,
    /// Its daemon record.
    pub id: Option<Uuid>,
    /// It may open raw sockets.
    pub raw_sockets: bool,
    /// A Docker engine answers it.
    pub docker: bool,
    /// The subnets it documents (CIDR).
    #[schema(value_type = Vec<String>)]
    pub subnets: Vec<IpNet>,
    /// The interfaces it hears ARP and DHCP on (empty: it does not listen).
    pub listening: Vec<String>,
}

// ---- devices and services --------------------------------------------------------------

/// Device list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// A network id.
    pub network: Option<String>,
    /// A subnet (CIDR).
    pub subnet: Option<String>,
    /// Text in a name, vendor, address or MAC.
    pub q: Option<String>,
    /// A service name (`http`, `ssh`, …).
    pub service: Option<String>,
    /// RFC 3339: only devices seen since.
    pub seen_since: Option<String>,
    /// Items per page.
    pub limit: Option<usize>,
    /// The cursor.
    pub cursor: Option<String>,
}

fn device_filter(q: &DeviceQuery) -> ApiResult<DeviceFilter> {
    Ok(DeviceFilter {
        network: q
            .network
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|n| parse_uuid("network", n))
            .transpose()?,
        subnet: q
            .subnet
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .map_err(|_| ApiError::invalid(format!("subnet: {s:?} is not a CIDR block")))
            })
            .transpose()?,
        q: q.q.clone().filter(|s| !s.is_empty()),
        service: q.service.clone().filter(|s| !s.is_empty()),
        seen_since: q
            .seen_since
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::invalid(format!("seen_since: {s:?} is not an RFC 3339 time"))
                    })
            })
            .transpose()?,
    })
}

/// `GET /devices`.
#[utoipa::path(get, path = "/devices", tag = "inventory", params(DeviceQuery),
    responses((status = 200, description = "a page of devices", body = Items<schema::StoredDevice>),
              (status = 422, description = "a wrong parameter", body = ErrorBody), CallerErrors))]
pub async fn devices(
    State(state): State<AppState>,
    _c: Caller,
    RawQuery(raw): RawQuery,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Response> {
    let filter = device_filter(&q)?;
    let n = limit(q.limit)?;
    let key = format!("devices?{}", raw.unwrap_or_default());
    cached(&state, key, "application/json", || async {
        let page = state.store.devices(&filter, n, q.cursor.as_deref()).await?;
        serde_json::to_vec(&page).map_err(|_| ApiError::bad_request("devices"))
    })
    .await
}

/// What `GET /export` answers.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `devices` (one row each, the default), `interfaces` or `services`.
    pub kind: Option<String>,
    /// `csv` (the default) or `json`.
    pub format: Option<String>,
    /// A network id.
    pub network: Option<String>,
    /// A subnet (CIDR).
    pub subnet: Option<String>,
    /// Text in a name, vendor, address or MAC.
    pub q: Option<String>,
    /// A service name (`http`, `ssh`, …).
    pub service: Option<String>,
    /// RFC 3339: only devices seen since.
    pub seen_since: Option<String>,
}

/// Devices exported at most (a larger inventory is exported filtered, by network or subnet).
pub const EXPORT_MAX: usize = 200_000;

/// `GET /export`: the inventory filtered as the devices list, whole (not paged), as CSV (cells
/// that a spreadsheet would run as formulas neutralised) or JSON, for download.
#[utoipa::path(get, path = "/export", tag = "inventory", params(ExportQuery),
    responses((status = 200, description = "the rows, as a download (text/csv or application/json)", body = String),
              (status = 422, description = "a wrong parameter", body = ErrorBody), CallerErrors))]
pub async fn export(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let kind = q.kind.as_deref().unwrap_or("devices");
    if !["devices", "interfaces", "services"].contains(&kind) {
        return Err(ApiError::invalid("kind: devices, interfaces or services"));
    }
    let format = q.format.as_deref().unwrap_or("csv");
    if !["csv", "json"].contains(&format) {
        return Err(ApiError::invalid("format: csv or json"));
    }
    let filter = device_filter(&DeviceQuery {
        network: q.network.clone(),
        subnet: q.subnet.clone(),
        q: q.q.clone(),
        service: q.service.clone(),
        seen_since: q.seen_since.clone(),
        limit: None,
        cursor: None,
    })?;
    let mut devices: Vec<StoredDevice> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = state
            .store
            .devices(&filter, 1000, cursor.as_deref())
            .await?;
        devices.extend(page.items);
        if devices.len() > EXPORT_MAX {
            return Err(ApiError::invalid(format!(
                "more than {EXPORT_MAX} devices: export a network or a subnet at a time"
            )));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let rows = export_rows(kind, &devices);
    let (body, ct) = if format == "json" {
        let v = if kind == "devices" {
            serde_json::json!({"kind": kind, "items": devices})
        } else {
            let items: Vec<serde_json::Map<String, serde_json::Value>> = rows
                .1
                .iter()
                .map(|r| {
                    rows.0
                        .iter()
                        .zip(r)
                        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.clone())))
                        .collect()
                })
                .collect();
            serde_json::json!({"kind": kind, "items": items})
        };
        (
            serde_json::to_vec(&v).map_err(|_| ApiError::bad_request("export"))?,
            "application/json",
        )
    } else {
        let mut out = rows.0.join(",");
        out.push('\n');
        for r in &rows.1 {
            let cells: Vec<String> = r
                .iter()
                .map(|c| scanopy_daemon::output::csv_field(c))
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        (out.into_bytes(), "text/csv; charset=utf-8")
    };
    let name = format!("attachment; filename=\"scanopy-{kind}.{format}\"");
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response())
}

/// The columns and rows of an export of `kind`.
fn export_rows(kind: &str, devices: &[StoredDevice]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let name = |d: &StoredDevice| {
        d.user_name
            .clone()
            .or(d.device.hostname.clone())
            .unwrap_or_default()
    };
    let join = |v: Vec<String>| v.join(" ");
    match kind {
        "interfaces" => (
            vec!["device_id", "name", "ip", "mac", "subnet"],
            devices
                .iter()
                .flat_map(|d| {
                    d.device.interfaces.iter().map(move |i| {
                        vec![
                            d.device.id.to_string(),
                            name(d),
                            i.ip.to_string(),
                            i.mac.map(|m| m.to_string()).unwrap_or_default(),
                            i.subnet.map(|s| s.to_string()).unwrap_or_default(),
                        ]
                    })
                })
                .collect(),
        ),
        "services" => (
            vec![
                "device_id",
                "name",
                "ip",
                "port",
                "protocol",
                "state",
                "service",
                "product",
                "version",
                "confidence",
                "first_seen",
                "last_seen",
            ],
            devices
                .iter()
                .flat_map(|d| {
                    d.device.services.iter().map(move |s| {
                        let text = |v: serde_json::Result<serde_json::Value>| {
                            v.ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default()
                        };
                        vec![
                            d.device.id.to_string(),
                            name(d),
                            s.ip.to_string(),
                            s.port.to_string(),
                            s.transport.to_string(),
                            text(serde_json::to_value(s.state)),
                            s.name.clone(),
                            s.product.clone().unwrap_or_default(),
                            s.version.clone().unwrap_or_default(),
                            text(serde_json::to_value(s.confidence)),
                            s.first_seen.to_rfc3339(),
                            s.last_seen.to_rfc3339(),
                        ]
                    })
                })
                .collect(),
        ),
        _ => (
            vec![
                "device_id",
                "network",
                "name",
                "hostname",
                "vendor",
                "device_type",
                "os",
                "ips",
                "macs",
                "tags",
                "online",
                "services",
                "first_seen",
                "last_seen",
            ],
            devices
                .iter()
                .map(|d| {
                    vec![
                        d.device.id.to_string(),
                        d.network.to_string(),
                        name(d),
                        d.device.hostname.clone().unwrap_or_default(),
                        d.device.vendor.clone().unwrap_or_default(),
                        d.device.device_type.to_string(),
                        d.device
                            .os
                            .as_ref()
                            .map(|o| {
                                [
                                    Some(o.family.as_str()),
                                    o.name.as_deref(),
                                    o.version.as_deref(),
                                ]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" ")
                            })
                            .unwrap_or_default(),
                        join(d.device.ips().iter().map(|i| i.to_string()).collect()),
                        join(d.device.macs().iter().map(|m| m.to_string()).collect()),
                        d.tags.join(" "),
                        (!d.offline).to_string(),
                        d.device.services.len().to_string(),
                        d.device.first_seen.to_rfc3339(),
                        d.device.last_seen.to_rfc3339(),
                    ]
                })
                .collect(),
        ),
    }
}

/// Serves `key` from the cache, or computes, keeps and serves it.
async fn cached<F, Fut>(
    state: &AppState,
    key: String,
    content_type: &'static str,
    compute: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<Vec<u8>>>,
{
    let answer = |body: axum::body::Bytes, ct: &'static str| {
        ([(header::CONTENT_TYPE, ct)], body).into_response()
    };
    if let Some((body, ct)) = state.cache.get(&key) {
        state.metrics.inc("cache_hits");
        return Ok(answer(body, ct));
    }
    let lock = state.cache.lock_for(&key);
    let _computing = lock.lock().await;
    if let Some((body, ct)) = state.cache.get(&key) {
        state.metrics.inc("cache_hits");
        return Ok(answer(body, ct));
    }
    let generation = state.cache.generation();
    let body = axum::body::Bytes::from(compute().await?);
    state.cache.put(key, generation, body.clone(), content_type);
    Ok(answer(body, content_type))
}

/// `GET /devices/{id}`: with its history.
#[utoipa::path(get, path = "/devices/{id}", tag = "inventory",
    params(("id" = Uuid, Path, description = "device id")),
    responses((status = 200, description = "the device", body = DeviceDetail),
              (status = 404, description = "unknown", body = ErrorBody), CallerErrors))]
pub async fn device(
    State(state): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeviceDetail>> {
    let id = parse_id(&id, "device")?;
    let device = state
        .store
        .device(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("device {id}")))?;
    let history = state.store.device_events(id, 100).await?;
    let links = network_links(&state, device.network)
        .await?
        .into_iter()
        .filter(|l| l.switch == id || l.device == id)
        .collect();
    let now = Utc::now();
    let presence = crate::changes::presences(&state, &[id], now - chrono::Duration::days(7), now)
        .await?
        .pop()
        .map(|p| p.presence)
        .unwrap_or_else(|| {
            crate::changes::presence(
                &[],
                device.device.first_seen,
                now - chrono::Duration::days(7),
                now,
            )
        });
    Ok(axum::Json(DeviceDetail {
        device,
        history,
        links,
        presence,
    }))
}

/// A device with its history (`GET /devices/{id}`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceDetail {
    /// The device.
    #[serde(flatten)]
    #[schema(value_type = schema::StoredDevice)]
    pub device: StoredDevice,
    /// Its last 100 events, newest first.
    #[schema(value_type = Vec<schema::Event>)]
    pub history: Vec<Event>,
    /// Its layer-2 links: the switch port it is plugged into (it is the `device`), and for a
    /// switch what is on its ports (it is the `switch`), as the map draws them.
    pub links: Vec<DeviceLink>,
    /// When it was online and offline in the last 7 days, and its availability (other periods:
    /// `GET /devices/{id}/presence`).
    pub presence: crate::changes::Presence,
}

/// A layer-2 link of a device (`GET /devices/{id}`'s `links`): the topology's `link` edge
/// with both ends named.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceLink {
    /// The switch.
    pub switch: Uuid,
    /// Its name (the user's, its host name, else its first address).
    pub switch_name: Option<String>,
    /// The switch's port.
    pub port: String,
    /// The device on that port.
    pub device: Uuid,
    /// Its name.
    pub device_name: Option<String>,
    /// The device's own port, when known.
    pub device_port: Option<String>,
    /// `lldp`, `cdp` or `fdb`.
    pub via: String,
    /// The VLAN.
    pub vlan: Option<u16>,
}

/// The layer-2 links of a network, computed once per change of the store (the answer cache's
/// generation) and kept with the cached answers.
async fn network_links(state: &AppState, network: Uuid) -> ApiResult<Vec<DeviceLink>> {
    let key = format!("l2links?{network}");
    let read = |body: &[u8]| {
        serde_json::from_slice::<Vec<DeviceLink>>(body).map_err(|_| ApiError::bad_request("links"))
    };
    if let Some((body, _)) = state.cache.get(&key) {
        return read(&body);
    }
    let lock = state.cache.lock_for(&key);
    let _computing = lock.lock().await;
    if let Some((body, _)) = state.cache.get(&key) {
        return read(&body);
    }
    let generation = state.cache.generation();
    let stored = state.store.map_devices(Some(network)).await?;
    let names: std::collections::HashMap<Uuid, Option<String>> = stored
        .iter()
        .map(|s| {
            let name = s
                .user_name
                .clone()
                .or_else(|| s.device.hostname.clone())
                .or_else(|| s.device.ips().first().map(|ip| ip.to_string()));
            (s.device.id, name)
        })
        .collect();
    let devices: Vec<scanopy_core::Device> = stored.into_iter().map(|s| s.device).collect();
    let links: Vec<DeviceLink> = scanopy_core::topology::l2_links(&devices)
        .into_iter()
        .map(|l| DeviceLink {
            switch_name: names.get(&l.switch).cloned().flatten(),
            device_name: names.get(&l.device).cloned().flatten(),
            switch: l.switch,
            port: l.port,
            device: l.device,
            device_port: l.device_port,
            via: l.source,
            vlan: l.vlan,
        })
        .collect();
    let body = serde_json::to_vec(&links).map_err(|_| ApiError::bad_request("links"))?;
    state.cache.put(
        key,
        generation,
        axum::body::Bytes::from(body),
        "application/json",
    );
    Ok(links)
}

fn parse_id(id: &str, what: &str) -> ApiResult<Uuid> {
    // An id that is not a UUID names nothing: 404, like any unknown id.
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("{what} {id:?}")))
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A user's edit of a device.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    /// A name (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Notes (null clears them).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// `PATCH /devices/{id}`.
#[utoipa::path(patch, path = "/devices/{id}", tag = "inventory", request_body = DevicePatch,
    params(("id" = Uuid, Path, description = "device id")),
    responses((status = 200, description = "the device", body = schema::StoredDevice),
              (status = 404, description = "unknown", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), EditorErrors))]
pub async fn patch_device(
    State(state): State<AppState>,
    _e: Editor,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<DevicePatch>,
) -> ApiResult<axum::Json<StoredDevice>> {
    let id = parse_id(&id, "device")?;
    let long = |s: &Option<Option<String>>, max: usize| {
        s.as_ref()
            .and_then(|v| v.as_ref())
            .is_some_and(|v| v.chars().count() > max)
    };
    if long(&p.name, 200) {
        return Err(ApiError::invalid("name: at most 200 characters"));
    }
    if long(&p.notes, 10_000) {
        return Err(ApiError::invalid("notes: at most 10000 characters"));
    }
    if let Some(t) = &p.tags
        && (t.len() > 50 || t.iter().any(|t| t.is_empty() || t.chars().count() > 50))
    {
        return Err(ApiError::invalid(
            "tags: at most 50 tags of 1 to 50 characters",
        ));
    }
    let d = state
        .store
        .edit_device(
            id,
            DeviceEdit {
                name: p.name,
                notes: p.notes,
                tags: p.tags,
            },
        )
        .await?;
    state.cache.invalidate();
    Ok(axum::Json(d))
}

/// `DELETE /devices/{id}`: it stays deleted unless seen again.
#[utoipa::path(delete, path = "/devices/{id}", tag = "inventory",
    params(("id" = Uuid, Path, description = "device id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "unknown", body = ErrorBody), EditorErrors))]
pub async fn delete_device(
    State(state): State<AppState>,
    _e: Editor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "device")?;
    state.store.delete_device(id).await?;
    state.cache.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /services`.
#[utoipa::path(get, path = "/services", tag = "inventory", params(DeviceQuery),
    responses((status = 200, description = "services with their devices", body = Items<schema::ServiceRow>),
              (status = 422, description = "a wrong parameter", body = ErrorBody), CallerErrors))]
pub async fn services(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Response> {
    let filter = device_filter(&q)?;
    let page = state
        .store
        .services(&filter, limit(q.limit)?, q.cursor.as_deref())
        .await?;
    Ok(axum::Json(page).into_response())
}

// ---- networks and topology -------------------------------------------------------------

/// `GET /networks`.
#[utoipa::path(get, path = "/networks", tag = "inventory",
    responses((status = 200, description = "networks", body = Items<schema::Network>), CallerErrors))]
pub async fn networks(State(state): State<AppState>, _c: Caller) -> ApiResult<Response> {
    Ok(items(state.store.networks().await?).into_response())
}

/// A network to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNetwork {
    /// Its name.
    pub name: String,
    /// Its subnets (CIDR).
    #[serde(default)]
    pub subnets: Vec<String>,
}

fn parse_cidrs(field: &str, v: &[String]) -> ApiResult<Vec<IpNet>> {
    v.iter()
        .map(|s| {
            s.trim()
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .map_err(|_| ApiError::invalid(format!("{field}: {s:?} is not a CIDR block")))
        })
        .collect()
}

/// `POST /networks`.
#[utoipa::path(post, path = "/networks", tag = "inventory", request_body = NewNetwork,
    responses((status = 201, description = "created", body = schema::Network),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn create_network(
    State(state): State<AppState>,
    _a: Admin,
    ApiJson(n): ApiJson<NewNetwork>,
) -> ApiResult<Response> {
    if n.name.trim().is_empty() || n.name.chars().count() > 100 {
        return Err(ApiError::invalid("name: 1 to 100 characters"));
    }
    let subnets = parse_cidrs("subnets", &n.subnets)?;
    let net = state.store.create_network(&n.name, &subnets).await?;
    state.cache.invalidate();
    Ok((StatusCode::CREATED, axum::Json(net)).into_response())
}

/// A change to a network: its name, its subnets (all of them, replacing the list).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkPatch {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its subnets (CIDR), replacing the list: what its scans cover when they name no target.
    #[serde(default)]
    pub subnets: Option<Vec<String>>,
}

/// `PATCH /networks/{id}`.
#[utoipa::path(patch, path = "/networks/{id}", tag = "inventory", request_body = NetworkPatch,
    params(("id" = Uuid, Path, description = "network id")),
    responses((status = 200, description = "the network as it is now", body = schema::Network),
              (status = 404, description = "unknown", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn patch_network(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<NetworkPatch>,
) -> ApiResult<axum::Json<scanopy_core::Network>> {
    let id = parse_id(&id, "network")?;
    if let Some(n) = &p.name {
        if n.trim().is_empty() || n.chars().count() > 100 {
            return Err(ApiError::invalid("name: 1 to 100 characters"));
        }
    }
    let subnets = p
        .subnets
        .as_deref()
        .map(|s| parse_cidrs("subnets", s))
        .transpose()?;
    if subnets.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(ApiError::invalid("subnets: at most 256"));
    }
    let n = state
        .store
        .update_network(id, p.name.as_deref(), subnets.as_deref())
        .await?;
    state.cache.invalidate();
    Ok(axum::Json(n))
}

/// The network a path names: 404 for an id that is not one, or names none.
pub(crate) async fn network_named(state: &AppState, id: &str) -> ApiResult<scanopy_core::Network> {
    let id = parse_id(id, "network")?;
    state
        .store
        .networks()
        .await?
        .into_iter()
        .find(|n| n.id == id)
        .ok_or_else(|| ApiError::not_found(format!("network {id}")))
}

/// A subnet seen but not among a network's: where it was seen.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SuggestedSubnet {
    /// The subnet.
    pub subnet: String,
    /// `router` (an interface of a device whose SNMP agent was read: a router's leg, a
    /// switch's VLAN interface) or `daemon` (an interface of one of the network's daemons).
    pub source: String,
    /// The device, for `router`.
    pub device: Option<Uuid>,
    /// The device's or the daemon's name.
    pub seen_by: String,
}

/// `GET /networks/{id}/suggested-subnets`: subnets its routers' agents and its daemons have an
/// interface on that it does not cover; an admin may add them (`PATCH /networks/{id}`), nothing
/// is scanned until then.
#[utoipa::path(get, path = "/networks/{id}/suggested-subnets", tag = "inventory",
    params(("id" = Uuid, Path, description = "network id")),
    responses((status = 200, description = "subnets seen, not covered", body = Vec<SuggestedSubnet>),
              (status = 404, description = "unknown network", body = ErrorBody), CallerErrors))]
pub async fn suggested_subnets(
    State(state): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<SuggestedSubnet>>> {
    let net = network_named(&state, &id).await?;
    let id = net.id;
    let covered = |s: &IpNet| net.subnets.iter().any(|n| n.contains(s));
    let mut out: BTreeMap<String, SuggestedSubnet> = BTreeMap::new();
    let filter = DeviceFilter {
        network: Some(id),
        service: Some("snmp".into()),
        ..Default::default()
    };
    let rows = state.store.services(&filter, 1000, None).await?;
    for r in &rows.items {
        if r.service.port != 161 {
            continue;
        }
        let Some(list) = r.service.extra.get("snmp.subnets") else {
            continue;
        };
        for s in list
            .split(',')
            .filter_map(|s| s.trim().parse::<IpNet>().ok())
        {
            if !covered(&s) {
                out.entry(s.to_string()).or_insert_with(|| SuggestedSubnet {
                    subnet: s.to_string(),
                    source: "router".into(),
                    device: Some(r.device),
                    seen_by: r.device_name.clone(),
                });
            }
        }
    }
    for d in state
        .store
        .daemons()
        .await?
        .iter()
        .filter(|d| d.network == id)
    {
        for s in &d.capabilities.subnets {
            if !covered(s) && !s.addr().is_loopback() {
                out.entry(s.to_string()).or_insert_with(|| SuggestedSubnet {
                    subnet: s.to_string(),
                    source: "daemon".into(),
                    device: None,
                    seen_by: d.name.clone(),
                });
            }
        }
    }
    Ok(axum::Json(out.into_values().collect()))
}

/// Topology parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopologyQuery {
    /// The network (every network when absent).
    pub network: Option<String>,
    /// `json` (default: the node-link graph), `layout` (the map laid out, as the UI draws it),
    /// `dot`, `mermaid` or `svg` (the layout drawn).
    pub format: Option<String>,
    /// With `layout` and `svg`: the most devices drawn per group (1 to 10,000; the others are
    /// counted in a `more` node). By default 2,400 spread over the groups, 24 to 240 each.
    pub cap: Option<usize>,
    /// RFC 3339: the map as it was then, as far as the store remembers (the devices first seen
    /// by then and not deleted before, with the addresses they had by then).
    pub at: Option<String>,
    /// With `layout` and `svg`: groups to open, by key, comma-separated (at most 64): each
    /// draws up to 2,000 devices (or `cap`, if larger), so a cluster expands on demand.
    pub expand: Option<String>,
    /// With `layout` and `svg`: a device id always drawn, wherever it falls among its group's
    /// (what the map's search jumps to).
    pub focus: Option<String>,
}

/// The largest `cap` of `GET /topology`.
const MAX_MAP_CAP: usize = 10_000;
/// The most groups `GET /topology?expand=` opens.
const MAX_MAP_EXPAND: usize = 64;

/// `GET /topology`.
#[utoipa::path(get, path = "/topology", tag = "inventory", params(TopologyQuery),
    responses((status = 200, description = "the map as JSON (the graph, or with `format=layout` the map laid out), DOT, Mermaid or SVG (by `format`)",
               content((schema::TopologyJson = "application/json"), (String = "text/vnd.graphviz"),
                       (String = "text/plain"), (String = "image/svg+xml"))),
              (status = 422, description = "a wrong parameter", body = ErrorBody), CallerErrors))]
pub async fn topology(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<TopologyQuery>,
) -> ApiResult<Response> {
    let network = q
        .network
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|n| parse_uuid("network", n))
        .transpose()?;
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "layout", "dot", "mermaid", "svg"].contains(&format) {
        return Err(ApiError::invalid(format!(
            "format: {format:?} is not one of json, layout, dot, mermaid, svg"
        )));
    }
    if let Some(cap) = q.cap.filter(|c| !(1..=MAX_MAP_CAP).contains(c)) {
        return Err(ApiError::invalid(format!(
            "cap: {cap} is not between 1 and {MAX_MAP_CAP}"
        )));
    }
    let at =
        q.at.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::invalid(format!("at: {s:?} is not an RFC 3339 time")))
            })
            .transpose()?;
    let expand: std::collections::BTreeSet<String> = q
        .expand
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    if expand.len() > MAX_MAP_EXPAND {
        return Err(ApiError::invalid(format!(
            "expand: {} groups, at most {MAX_MAP_EXPAND}",
            expand.len()
        )));
    }
    let focus = q
        .focus
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|f| parse_uuid("focus", f))
        .transpose()?;
    let options = scanopy_core::topology::LayoutOptions {
        cap: q.cap,
        expand,
        focus,
    };
    let key = format!(
        "topology?{}&{format}&{}&{}&{}&{}",
        network.map(|n| n.to_string()).unwrap_or_default(),
        q.cap.map(|c| c.to_string()).unwrap_or_default(),
        at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        options
            .expand
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(","),
        focus.map(|f| f.to_string()).unwrap_or_default()
    );
    let content_type = match format {
        "dot" => "text/vnd.graphviz; charset=utf-8",
        "mermaid" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        _ => "application/json",
    };
    let st = state.clone();
    cached(&state, key, content_type, || async move {
        let stored = match at {
            Some(t) => st.store.map_devices_at(network, t).await?,
            None => st.store.map_devices(network).await?,
        };
        let devices: Vec<scanopy_core::Device> = stored
            .into_iter()
            .map(|s| {
                let mut d = s.device;
                if let Some(name) = s.user_name {
                    d.hostname = Some(name);
                }
                d
            })
            .collect();
        let t = Topology::build(&devices);
        // The map holds what it draws: the devices can go before it is laid out and written.
        drop(devices);
        let layout = || t.layout_with(&options);
        Ok(match format {
            "dot" => t.to_dot().into_bytes(),
            "mermaid" => t.to_mermaid().into_bytes(),
            "svg" => layout().to_svg().into_bytes(),
            "layout" => {
                serde_json::to_vec(&layout()).map_err(|_| ApiError::bad_request("topology"))?
            }
            _ => {
                let mut out = Vec::new();
                t.write_json(&mut out)
                    .map_err(|_| ApiError::bad_request("topology"))?;
                out
            }
        })
    })
    .await
}

// ---- scans and schedules ---------------------------------------------------------------

/// A scan to start (or a schedule's scan).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScan {
    /// The network.
    pub network: Uuid,
    /// The daemon to run it (any daemon of the network when absent).
    #[serde(default)]
    pub daemon: Option<Uuid>,
    /// Targets (CIDR, address, range, host name); the network's subnets when empty.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Targets to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `top100`, `top1000` (default), `all` or a list.
    #[serde(default)]
    pub ports: Option<String>,
    /// Scanners by name (all available when empty).
    #[serde(default)]
    pub scanners: Vec<String>,
    /// Probes per second.
    #[serde(default)]
    pub rate: Option<u32>,
    /// Allow targets larger than a /16.
    #[serde(default)]
    pub allow_large: bool,
    /// Also probe printer ports.
    #[serde(default)]
    pub probe_printer_ports: bool,
    /// Minutes between runs (schedules only).
    #[serde(default)]
    pub every_minutes: Option<i64>,
}

/// Checks a scan request and turns it into a run to queue.
pub async fn scan_request(state: &AppState, s: &NewScan) -> ApiResult<NewScanRun> {
    let nets = state.store.networks().await?;
    let net = nets
        .iter()
        .find(|n| n.id == s.network)
        .ok_or_else(|| ApiError::invalid(format!("network: no network {}", s.network)))?;
    if let Some(d) = s.daemon {
        let daemons = state.store.daemons().await?;
        match daemons.iter().find(|x| x.id == d) {
            None => return Err(ApiError::invalid(format!("daemon: no daemon {d}"))),
            Some(x) if x.network != net.id => {
                return Err(ApiError::invalid(format!(
                    "daemon: {d} scans another network"
                )));
            }
            _ => {}
        }
    }
    if s.targets.len() > 256 || s.exclude.len() > 256 {
        return Err(ApiError::invalid("targets: at most 256 entries"));
    }
    let include: Vec<String> = if s.targets.is_empty() {
        net.subnets.iter().map(|n| n.to_string()).collect()
    } else {
        s.targets.clone()
    };
    let spec = TargetSpec::new(&include, &s.exclude)
        .map_err(|e| ApiError::invalid(format!("targets: {e}")))?;
    let (parsed, _) = spec
        .parsed()
        .map_err(|e| ApiError::invalid(format!("targets: {e}")))?;
    let mut covered = Vec::new();
    for t in &parsed {
        if let Target::Net(n) = t {
            let big = match n {
                IpNet::V4(v) => v.prefix_len() < 16,
                IpNet::V6(v) => v.prefix_len() < 112,
            };
            if big && !s.allow_large {
                return Err(ApiError::invalid(format!(
                    "targets: {n} is larger than a /16; set allow_large to scan it"
                )));
            }
            covered.push(n.trunc());
        }
        // Addresses and ranges are covered too: a device there that the scan misses counts a
        // miss (the run's exclusions are taken out when misses are counted).
        if let Target::Range(a, b) = t {
            match (a, b) {
                (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => {
                    covered.extend(ipnet::Ipv4Subnets::new(*a, *b, 0).map(IpNet::V4));
                }
                (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => {
                    covered.extend(ipnet::Ipv6Subnets::new(*a, *b, 0).map(IpNet::V6));
                }
                _ => {}
            }
        }
    }
    let ports: PortSpec = s
        .ports
        .as_deref()
        .unwrap_or("top1000")
        .parse()
        .map_err(|e| ApiError::invalid(format!("ports: {e}")))?;
    if let Some(bad) = s.scanners.iter().find(|x| registry::find(x).is_none()) {
        return Err(ApiError::invalid(format!(
            "scanners: unknown scanner {bad:?} (available: {})",
            registry::names().collect::<Vec<_>>().join(", ")
        )));
    }
    if s.rate == Some(0) {
        return Err(ApiError::invalid("rate: at least 1 probe per second"));
    }
    Ok(NewScanRun {
        network: net.id,
        daemon: s.daemon,
        config: ScanConfig {
            targets: spec,
            ports,
            scanners: s.scanners.clone(),
            rate: s.rate,
            allow_large: s.allow_large,
            probe_printer_ports: s.probe_printer_ports,
            ..ScanConfig::default()
        },
        targets: covered,
    })
}

/// `POST /scans`: queues a scan for a daemon of the network.
#[utoipa::path(post, path = "/scans", tag = "scans", request_body = NewScan,
    responses((status = 202, description = "queued", body = schema::ScanRun),
              (status = 422, description = "a wrong field", body = ErrorBody), EditorErrors))]
pub async fn create_scan(
    State(state): State<AppState>,
    _e: Editor,
    ApiJson(s): ApiJson<NewScan>,
) -> ApiResult<Response> {
    if s.every_minutes.is_some() {
        return Err(ApiError::invalid(
            "every_minutes: recurring scans are made with POST /api/v1/schedules",
        ));
    }
    let run = scan_request(&state, &s).await?;
    let queued = state.store.enqueue_scan(run).await?;
    state.metrics.inc("scans_queued");
    state.tell("scan_queued", ScanUpdate::new(queued.id));
    crate::jobs::kick(&state);
    Ok((StatusCode::ACCEPTED, axum::Json(queued)).into_response())
}

/// Scan list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanQuery {
    /// A network id.
    pub network: Option<String>,
    /// Items per page.
    pub limit: Option<usize>,
    /// The cursor.
    pub cursor: Option<String>,
}

/// `GET /scans`: newest first.
#[utoipa::path(get, path = "/scans", tag = "scans", params(ScanQuery),
    responses((status = 200, description = "scan runs", body = Items<schema::ScanRun>),
              (status = 422, description = "a wrong parameter", body = ErrorBody), CallerErrors))]
pub async fn scans(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<ScanQuery>,
) -> ApiResult<Response> {
    let network = q
        .network
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|n| parse_uuid("network", n))
        .transpose()?;
    let page = state
        .store
        .scan_runs(network, limit(q.limit)?, q.cursor.as_deref())
        .await?;
    Ok(axum::Json(page).into_response())
}

/// `GET /scans/{id}`.
#[utoipa::path(get, path = "/scans/{id}", tag = "scans",
    params(("id" = Uuid, Path, description = "scan run id")),
    responses((status = 200, description = "the run", body = schema::ScanRun),
              (status = 404, description = "unknown", body = ErrorBody), CallerErrors))]
pub async fn scan(
    State(state): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "scan")?;
    let run = state
        .store
        .scan_run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("scan {id}")))?;
    Ok(axum::Json(run).into_response())
}

/// `POST /scans/{id}/cancel`.
#[utoipa::path(post, path = "/scans/{id}/cancel", tag = "scans",
    params(("id" = Uuid, Path, description = "scan run id")),
    responses((status = 200, description = "cancelled, or asked to stop", body = schema::ScanRun),
              (status = 404, description = "unknown", body = ErrorBody), EditorErrors))]
pub async fn cancel_scan(
    State(state): State<AppState>,
    _e: Editor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "scan")?;
    let run = state.store.cancel_scan(id).await?;
    crate::jobs::cancel_pushed(&state, &run).await;
    crate::jobs::cancel_local(&state, id);
    state.tell("scan_progress", ScanUpdate::status(id, run.status));
    Ok(axum::Json(run).into_response())
}

/// `GET /schedules`.
#[utoipa::path(get, path = "/schedules", tag = "scans",
    responses((status = 200, description = "schedules", body = Items<schema::Schedule>), CallerErrors))]
pub async fn schedules(State(state): State<AppState>, _c: Caller) -> ApiResult<Response> {
    Ok(items(state.store.schedules().await?).into_response())
}

/// `POST /schedules`: a recurring scan (`every_minutes`, 60 by default).
#[utoipa::path(post, path = "/schedules", tag = "scans", request_body = NewScan,
    responses((status = 201, description = "created", body = schema::Schedule),
              (status = 422, description = "a wrong field", body = ErrorBody), EditorErrors))]
pub async fn create_schedule(
    State(state): State<AppState>,
    _e: Editor,
    ApiJson(s): ApiJson<NewScan>,
) -> ApiResult<Response> {
    let run = scan_request(&state, &s).await?;
    let every = s.every_minutes.unwrap_or(60);
    if !(1..=525_600).contains(&every) {
        return Err(ApiError::invalid("every_minutes: between 1 and 525600"));
    }
    let sched = state
        .store
        .create_schedule(NewSchedule {
            network: run.network,
            daemon: run.daemon,
            every_minutes: every,
            config: run.config,
            targets: run.targets,
            first_run: Utc::now(),
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(sched)).into_response())
}

/// `DELETE /schedules/{id}`.
#[utoipa::path(delete, path = "/schedules/{id}", tag = "scans",
    params(("id" = Uuid, Path, description = "schedule id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "unknown", body = ErrorBody), EditorErrors))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    _e: Editor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "schedule")?;
    state.store.delete_schedule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- events ----------------------------------------------------------------------------

/// Event list parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Items per page.
    pub limit: Option<usize>,
    /// A sequence number: events after it.
    pub cursor: Option<String>,
    /// `asc` (default: oldest first, from `cursor`) or `desc` (the newest, newest first).
    pub order: Option<String>,
}

/// `GET /events`: after `cursor` (a sequence number), oldest first; or the newest with
/// `order=desc`.
#[utoipa::path(get, path = "/events", tag = "events", params(EventQuery),
    responses((status = 200, description = "events", body = EventPage),
              (status = 422, description = "a wrong parameter", body = ErrorBody), CallerErrors))]
pub async fn events(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(p): ApiQuery<EventQuery>,
) -> ApiResult<axum::Json<EventPage>> {
    match p.order.as_deref() {
        None | Some("asc") => {}
        Some("desc") => {
            let items = state.store.recent_events(limit(p.limit)?).await?;
            let last_seq = items.first().map_or(0, |e| e.seq);
            return Ok(axum::Json(EventPage {
                items,
                next_cursor: None,
                last_seq,
            }));
        }
        Some(o) => {
            return Err(ApiError::invalid(format!(
                "order: {o:?} is not asc or desc"
            )));
        }
    }
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| ApiError::invalid(format!("cursor: {c:?} is not a sequence number")))?,
    };
    let n = limit(p.limit)?;
    let items = state.store.events(after, n).await?;
    let next_cursor = (items.len() == n)
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    let last_seq = items.last().map_or(after, |e| e.seq);
    Ok(axum::Json(EventPage {
        items,
        next_cursor,
        last_seq,
    }))
}

/// A page of events (`GET /events`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// The events.
    #[schema(value_type = Vec<schema::Event>)]
    pub items: Vec<Event>,
    /// The cursor of the next page; `null` on the last page (and with `order=desc`).
    pub next_cursor: Option<String>,
    /// The highest sequence number on this page (the cursor given when the page is empty),
    /// from which a client follows on.
    pub last_seq: i64,
}

// ---- daemons and keys ------------------------------------------------------------------

/// `GET /daemons`.
#[utoipa::path(get, path = "/daemons", tag = "daemons",
    responses((status = 200, description = "daemons", body = Items<ListedDaemon>), CallerErrors))]
pub async fn daemons(
    State(state): State<AppState>,
    _c: Caller,
) -> ApiResult<axum::Json<Items<ListedDaemon>>> {
    let now = Utc::now();
    let list = state
        .store
        .daemons()
        .await?
        .into_iter()
        .map(|d| ListedDaemon {
            online: now - d.last_seen < chrono::Duration::seconds(120),
            daemon: DaemonView::from(d),
        })
        .collect();
    Ok(items(list))
}

/// A daemon with whether its announced push URL waits for an admin.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DaemonView {
    /// The daemon.
    #[serde(flatten)]
    #[schema(value_type = schema::Daemon)]
    pub daemon: Daemon,
    /// A push daemon announces a URL no admin approved (none yet, or another).
    pub push_url_pending: bool,
}

impl From<Daemon> for DaemonView {
    fn from(daemon: Daemon) -> Self {
        DaemonView {
            push_url_pending: daemon.push_url_pending(),
            daemon,
        }
    }
}

/// A daemon as `GET /daemons` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListedDaemon {
    /// The daemon.
    #[serde(flatten)]
    pub daemon: DaemonView,
    /// Heard from in the last two minutes.
    pub online: bool,
}

/// The URL the server calls a push daemon at, as an admin sets it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushUrl {
    /// `http://host:60073` (http or https, a host, no user name, query or fragment); `null`
    /// stops all calls to the daemon. To approve what the daemon announced, send its
    /// `announced_url`.
    pub url: Option<String>,
}

/// `PUT /daemons/{id}/push-url`: sets or approves the only URL the server calls this push
/// daemon at (admin only). What a daemon announces is only shown (`announced_url`,
/// `push_url_pending`); it is never called until an admin puts it here, and a later
/// announcement changes nothing here.
#[utoipa::path(put, path = "/daemons/{id}/push-url", tag = "daemons",
    params(("id" = Uuid, Path, description = "daemon id")),
    request_body = PushUrl,
    responses((status = 200, description = "the daemon, with approved_url", body = DaemonView),
              (status = 404, description = "unknown daemon", body = ErrorBody),
              (status = 422, description = "not an acceptable URL", body = ErrorBody), AdminErrors))]
pub async fn set_push_url(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PushUrl>,
) -> ApiResult<axum::Json<DaemonView>> {
    let id = parse_id(&id, "daemon")?;
    let url = match body.url.as_deref() {
        Some(u) => Some(crate::push::check_push_url(u).map_err(ApiError::invalid)?),
        None => None,
    };
    let d = state.store.set_daemon_push_url(id, url.as_deref()).await?;
    tracing::info!(daemon = %d.id, name = %d.name, by = %caller.username, url = ?d.approved_url, "push URL set");
    Ok(axum::Json(DaemonView::from(d)))
}

/// A daemon key or API token to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A name for people.
    pub name: String,
    /// The network (daemon keys).
    #[serde(default)]
    pub network: Option<Uuid>,
    /// `admin` or `read` (API tokens).
    #[serde(default)]
    pub role: Option<String>,
}

/// `GET /daemons/keys`.
#[utoipa::path(get, path = "/daemons/keys", tag = "daemons",
    responses((status = 200, description = "daemon keys, without secrets", body = Items<schema::Credential>), AdminErrors))]
pub async fn daemon_keys(State(state): State<AppState>, _a: Admin) -> ApiResult<Response> {
    Ok(items(state.store.credentials(CredentialKind::DaemonKey).await?).into_response())
}

/// `POST /daemons/keys`: the key is in the answer, once.
#[utoipa::path(post, path = "/daemons/keys", tag = "daemons", request_body = NewKey,
    responses((status = 201, description = "the key, shown once", body = CreatedKey),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn create_daemon_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(k): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, axum::Json<CreatedKey>)> {
    let Some(network) = k.network else {
        return Err(ApiError::invalid(
            "network: a daemon key is scoped to a network",
        ));
    };
    if k.role.is_some() {
        return Err(ApiError::invalid("role: daemon keys have no role"));
    }
    let (cred, key) = state
        .store
        .create_credential(NewCredential {
            kind: CredentialKind::DaemonKey,
            name: k.name,
            role: Role::Daemon,
            network: Some(network),
            user: caller.user,
            expires_at: None,
        })
        .await?;
    tracing::info!(key = %cred.id, by = %caller.username, "daemon key created");
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { cred, key })))
}

/// `DELETE /daemons/keys/{id}`.
#[utoipa::path(delete, path = "/daemons/keys/{id}", tag = "daemons",
    params(("id" = Uuid, Path, description = "key id")),
    responses((status = 204, description = "revoked"), (status = 404, description = "unknown", body = ErrorBody), AdminErrors))]
pub async fn revoke_daemon_key(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "daemon key")?;
    state
        .store
        .revoke_credential(CredentialKind::DaemonKey, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /tokens`: an admin's list has every token; another user's, that user's own.
#[utoipa::path(get, path = "/tokens", tag = "auth",
    responses((status = 200, description = "API tokens, without secrets", body = Items<schema::Credential>), CallerErrors))]
pub async fn tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let list = if caller.role.covers(Role::Admin) {
        state.store.credentials(CredentialKind::ApiToken).await?
    } else if let Some(user) = caller.user {
        state
            .store
            .user_credentials(user, CredentialKind::ApiToken)
            .await?
    } else {
        Vec::new()
    };
    Ok(items(list).into_response())
}

/// `POST /tokens`: the token is in the answer, once. It belongs to the caller's user and never
/// has more than that user's role.
#[utoipa::path(post, path = "/tokens", tag = "auth", request_body = NewKey,
    responses((status = 201, description = "the token, shown once", body = CreatedToken),
              (status = 403, description = "a role above the caller's", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), CallerErrors))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(k): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, axum::Json<CreatedToken>)> {
    let role = match k.role.as_deref() {
        None => Role::Viewer,
        Some(r) => Role::parse(r)
            .filter(|r| *r != Role::Daemon)
            .ok_or_else(|| {
                ApiError::invalid(format!("role: {r:?} is not admin, editor or viewer"))
            })?,
    };
    if !caller.role.covers(role) {
        return Err(ApiError::forbidden(format!(
            "a token never exceeds its user's role: you are {} {}",
            if caller.role == Role::Admin {
                "an"
            } else {
                "a"
            },
            caller.role.as_str()
        )));
    }
    if k.network.is_some() {
        return Err(ApiError::invalid(
            "network: API tokens are not scoped to a network",
        ));
    }
    let (cred, token) = state
        .store
        .create_credential(NewCredential {
            kind: CredentialKind::ApiToken,
            name: k.name,
            role,
            network: None,
            user: caller.user,
            expires_at: None,
        })
        .await?;
    tracing::info!(token = %cred.id, by = %caller.username, "API token created");
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken { cred, token }),
    ))
}

/// A daemon key just made: the key is in this answer only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key's record.
    #[serde(flatten)]
    #[schema(value_type = schema::Credential)]
    pub cred: Credential,
    /// The key, for `scanopy-daemon run --key`.
    pub key: String,
}

/// An API token just made: the token is in this answer only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token's record.
    #[serde(flatten)]
    #[schema(value_type = schema::Credential)]
    pub cred: Credential,
    /// The token, for `Authorization: Bearer`.
    pub token: String,
}

/// `DELETE /tokens/{id}`: an admin revokes any token, another user only its own.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204, description = "revoked"), (status = 404, description = "unknown, or another user's", body = ErrorBody), CallerErrors))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "token")?;
    if !caller.role.covers(Role::Admin) {
        let own = match caller.user {
            Some(u) => state
                .store
                .user_credentials(u, CredentialKind::ApiToken)
                .await?
                .iter()
                .any(|c| c.id == id),
            None => false,
        };
        if !own {
            return Err(ApiError::not_found(format!("token {id}")));
        }
    }
    state
        .store
        .revoke_credential(CredentialKind::ApiToken, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- webhooks --------------------------------------------------------------------------

/// A webhook to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST events (http or https).
    pub url: String,
    /// The HMAC key (generated when absent).
    #[serde(default)]
    pub secret: Option<String>,
}

/// `GET /webhooks`.
#[utoipa::path(get, path = "/webhooks", tag = "events",
    responses((status = 200, description = "webhooks with their last deliveries", body = Items<ListedWebhook>), AdminErrors))]
pub async fn webhooks(
    State(state): State<AppState>,
    _a: Admin,
) -> ApiResult<axum::Json<Items<ListedWebhook>>> {
    let mut out = Vec::new();
    for (hook, _) in state.store.webhooks().await? {
        let deliveries = state.store.deliveries(hook.id, 10).await?;
        out.push(ListedWebhook { hook, deliveries });
    }
    Ok(items(out))
}

/// A webhook with its last deliveries (`GET /webhooks`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListedWebhook {
    /// The webhook.
    #[serde(flatten)]
    #[schema(value_type = schema::Webhook)]
    pub hook: Webhook,
    /// Its last 10 deliveries, newest first.
    #[schema(value_type = Vec<schema::Delivery>)]
    pub deliveries: Vec<Delivery>,
}

/// A webhook just added: its HMAC key is in this answer only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    #[serde(flatten)]
    #[schema(value_type = schema::Webhook)]
    pub hook: Webhook,
    /// The key of the `X-Scanopy-Signature` HMAC.
    pub secret: String,
}

/// `POST /webhooks`: the secret is in the answer, once.
#[utoipa::path(post, path = "/webhooks", tag = "events", request_body = NewWebhook,
    responses((status = 201, description = "created; the HMAC key shown once", body = CreatedWebhook),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn create_webhook(
    State(state): State<AppState>,
    _a: Admin,
    ApiJson(w): ApiJson<NewWebhook>,
) -> ApiResult<(StatusCode, axum::Json<CreatedWebhook>)> {
    let url = w.url.trim();
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !ok {
        return Err(ApiError::invalid("url: an http:// or https:// URL"));
    }
    let secret = match w.secret {
        Some(s) if s.len() >= 16 && s.len() <= 200 => s,
        Some(_) => return Err(ApiError::invalid("secret: 16 to 200 characters")),
        None => {
            use base64::Engine;
            use rand::RngCore;
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            format!(
                "wh_{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            )
        }
    };
    let hook = state.store.create_webhook(url, &secret).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedWebhook { hook, secret }),
    ))
}

/// `DELETE /webhooks/{id}`.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "events",
    params(("id" = Uuid, Path, description = "webhook id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "unknown", body = ErrorBody), AdminErrors))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "webhook")?;
    state.store.delete_webhook(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- alerts ----------------------------------------------------------------------------

/// An alert rule to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlert {
    /// A name for people (1 to 100 characters).
    pub name: String,
    /// The event kinds it sends: `device_new`, `device_gone`, `device_back`, `device_changed`,
    /// `service_new`, `service_gone`, `address_moved`.
    pub events: Vec<String>,
    /// Only this network's events; absent: every network.
    #[serde(default)]
    pub network: Option<Uuid>,
    /// Only events of devices with an address in this subnet (`10.0.0.0/24`).
    #[serde(default)]
    pub subnet: Option<String>,
    /// Only events of devices with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only this device's events.
    #[serde(default)]
    pub device: Option<Uuid>,
    /// `HH:MM` (the server's local time): keep the events and send them as one digest a day
    /// from then; absent: each at once.
    #[serde(default)]
    pub digest: Option<String>,
    /// Where it sends.
    #[schema(value_type = schema::AlertChannel)]
    pub channel: scanopy_store::AlertChannel,
    /// At most one alert in this many seconds (0, the default: no limit; at most a week).
    #[serde(default)]
    pub throttle_secs: i64,
    /// Hours it sends nothing, the server's local time.
    #[serde(default)]
    #[schema(value_type = Option<schema::QuietHours>)]
    pub quiet: Option<scanopy_store::QuietHours>,
}

/// A rule with what it did lately (`GET /alerts`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListedAlert {
    /// The rule.
    #[serde(flatten)]
    #[schema(value_type = schema::AlertRule)]
    pub rule: scanopy_store::AlertRule,
    /// Its last 20 records, newest first.
    #[schema(value_type = Vec<schema::AlertDelivery>)]
    pub deliveries: Vec<scanopy_store::AlertDelivery>,
}

fn http_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://"))
        && u.len() <= 2000
        && u.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
        && !u.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Checks a rule before it is kept: every field, and that its channel can work here.
fn checked_alert(state: &AppState, a: NewAlert) -> ApiResult<scanopy_store::NewAlertRule> {
    use scanopy_store::AlertChannel;
    let name = a.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name: 1 to 100 printable characters"));
    }
    let mut events = a.events;
    events.sort();
    events.dedup();
    if events.is_empty()
        || events
            .iter()
            .any(|e| !crate::alerts::KINDS.contains(&e.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "events: one or more of {}",
            crate::alerts::KINDS.join(", ")
        )));
    }
    if !(0..=7 * 86_400).contains(&a.throttle_secs) {
        return Err(ApiError::invalid("throttle_secs: 0 to 604800 (a week)"));
    }
    if let Some(q) = &a.quiet {
        if crate::alerts::time_of_day(&q.from).is_none()
            || crate::alerts::time_of_day(&q.to).is_none()
        {
            return Err(ApiError::invalid(
                "quiet: {\"from\": \"HH:MM\", \"to\": \"HH:MM\"}",
            ));
        }
    }
    let channel = match a.channel {
        AlertChannel::Email { to } => {
            let to = to.trim().to_owned();
            if to.len() > 254 || to.parse::<lettre::message::Mailbox>().is_err() {
                return Err(ApiError::invalid("channel.to: an e-mail address"));
            }
            if state.smtp.is_none() {
                return Err(ApiError::invalid(
                    "channel: e-mail needs an SMTP relay: start the server with --smtp-url",
                ));
            }
            AlertChannel::Email { to }
        }
        AlertChannel::Ntfy { url, topic } => {
            let url = url.trim().to_owned();
            if !http_url(&url) {
                return Err(ApiError::invalid("channel.url: an http:// or https:// URL"));
            }
            let ok = !topic.is_empty()
                && topic.len() <= 64
                && topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(ApiError::invalid(
                    "channel.topic: 1 to 64 letters, digits, - and _",
                ));
            }
            AlertChannel::Ntfy { url, topic }
        }
        AlertChannel::Webhook { url, template } => {
            let url = url.trim().to_owned();
            if !http_url(&url) {
                return Err(ApiError::invalid("channel.url: an http:// or https:// URL"));
            }
            if let Some(t) = &template {
                if t.len() > 8192 {
                    return Err(ApiError::invalid("channel.template: at most 8 KiB"));
                }
                crate::alerts::render(t, &crate::alerts::sample_fields())
                    .map_err(|e| ApiError::invalid(format!("channel.template: {e}")))?;
            }
            AlertChannel::Webhook { url, template }
        }
    };
    let subnet = a
        .subnet
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .map(|n| n.trunc())
                .map_err(|_| ApiError::invalid(format!("subnet: {s:?} is not a CIDR subnet")))
        })
        .transpose()?;
    let tag = a.tag.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if tag
        .as_ref()
        .is_some_and(|t| t.chars().count() > 64 || t.chars().any(char::is_control))
    {
        return Err(ApiError::invalid("tag: at most 64 printable characters"));
    }
    let digest = a
        .digest
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if let Some(d) = &digest
        && crate::alerts::time_of_day(d).is_none()
    {
        return Err(ApiError::invalid(
            "digest: the time of day to send it, HH:MM",
        ));
    }
    Ok(scanopy_store::NewAlertRule {
        name,
        events,
        network: a.network,
        scope: scanopy_store::AlertScope {
            subnet,
            tag,
            device: a.device,
        },
        digest,
        channel,
        throttle_secs: a.throttle_secs,
        quiet: a.quiet,
    })
}

/// `GET /alerts`.
#[utoipa::path(get, path = "/alerts", tag = "events",
    responses((status = 200, description = "alert rules with what they did lately", body = Items<ListedAlert>), AdminErrors))]
pub async fn alerts(
    State(state): State<AppState>,
    _a: Admin,
) -> ApiResult<axum::Json<Items<ListedAlert>>> {
    let mut out = Vec::new();
    for rule in state.store.alert_rules().await? {
        let deliveries = state.store.alert_deliveries(rule.id, 20).await?;
        out.push(ListedAlert { rule, deliveries });
    }
    Ok(items(out))
}

/// `POST /alerts`.
#[utoipa::path(post, path = "/alerts", tag = "events", request_body = NewAlert,
    responses((status = 201, description = "created", body = schema::AlertRule),
              (status = 404, description = "unknown network", body = ErrorBody),
              (status = 422, description = "a wrong field", body = ErrorBody), AdminErrors))]
pub async fn create_alert(
    State(state): State<AppState>,
    _a: Admin,
    ApiJson(a): ApiJson<NewAlert>,
) -> ApiResult<(StatusCode, axum::Json<scanopy_store::AlertRule>)> {
    let rule = checked_alert(&state, a)?;
    if let Some(d) = rule.scope.device
        && state.store.device(d).await?.is_none()
    {
        return Err(ApiError::not_found(format!("device {d}")));
    }
    let rule = state.store.create_alert_rule(rule).await?;
    Ok((StatusCode::CREATED, axum::Json(rule)))
}

/// `DELETE /alerts/{id}`.
#[utoipa::path(delete, path = "/alerts/{id}", tag = "events",
    params(("id" = Uuid, Path, description = "alert rule id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "unknown", body = ErrorBody), AdminErrors))]
pub async fn delete_alert(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "alert rule")?;
    state.store.delete_alert_rule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /alerts/{id}/test`: a test message through the rule's channel, now.
#[utoipa::path(post, path = "/alerts/{id}/test", tag = "events",
    params(("id" = Uuid, Path, description = "alert rule id")),
    responses((status = 200, description = "what happened (status delivered or failed, with the error)", body = schema::AlertDelivery),
              (status = 404, description = "unknown", body = ErrorBody), AdminErrors))]
pub async fn test_alert(
    State(state): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<scanopy_store::AlertDelivery>> {
    let id = parse_id(&id, "alert rule")?;
    let rule = state
        .store
        .alert_rules()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found(format!("alert rule {id}")))?;
    Ok(axum::Json(crate::alerts::test(&state, &rule).await))
}

// ---- metrics ---------------------------------------------------------------------------

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "Prometheus text format", body = String,
               content_type = "text/plain; version=0.0.4"), CallerErrors))]
pub async fn metrics(State(state): State<AppState>, _c: Caller) -> ApiResult<Response> {
    use std::fmt::Write;
    let counts = state.store.counts().await?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: i64| {
        let _ = writeln!(
            out,
            "# HELP scanopy_{name} {help}\n# TYPE scanopy_{name} gauge\nscanopy_{name} {v}"
        );
    };
    gauge("devices", "Devices in the inventory.", counts.devices);
    gauge(
        "devices_offline",
        "Devices marked offline.",
        counts.devices_offline,
    );
    gauge("services", "Services in the inventory.", counts.services);
    gauge("networks", "Networks.", counts.networks);
    let daemons = state.store.daemons().await?;
    let now = Utc::now();
    let online = daemons
        .iter()
        .filter(|d| now - d.last_seen < chrono::Duration::seconds(120))
        .count();
    gauge(
        "daemons_online",
        "Daemons heard from in the last two minutes.",
        online as i64,
    );
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (k, v) in state.metrics.snapshot() {
        by_name.insert(k, v);
    }
    for (k, v) in by_name {
        let _ = writeln!(
            out,
            "# TYPE scanopy_{k}_total counter\nscanopy_{k}_total {v}"
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

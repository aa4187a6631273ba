//! "What changed between these two dates" (`GET /changes`): the store's events of that time,
//! folded per device and per service: devices added, gone offline, back online, changed (their
//! last name, vendor, type and OS), services added and gone. The fold is a pure function
//! ([`fold`]), tested on its own; the route names each device as it is now.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ApiQuery;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Events read at most for one answer (more: `truncated`).
pub const MAX_EVENTS: usize = 50_000;

/// A device that was added, went offline or came back.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviceChange {
    /// The device.
    pub device: Uuid,
    /// Its name now (a user's, its host name, an address).
    pub name: String,
    /// When (the last time in the period, for a device that did it more than once).
    pub at: DateTime<Utc>,
    /// What the event said (for `changed`: `hostname`, `vendor`, `device_type`, `os`).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A service that was added or gone.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ServiceChange {
    /// The device.
    pub device: Uuid,
    /// The device's name now.
    pub name: String,
    /// The address.
    pub ip: String,
    /// The port.
    pub port: i64,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The service's name.
    pub service: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// `GET /changes`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Changes {
    /// The period's start.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// The network, or every one.
    pub network: Option<Uuid>,
    /// Devices seen for the first time.
    pub devices_added: Vec<DeviceChange>,
    /// Devices that went offline.
    pub devices_gone: Vec<DeviceChange>,
    /// Devices that came back online.
    pub devices_back: Vec<DeviceChange>,
    /// Devices whose name, vendor, type or OS changed (what they became last).
    pub devices_changed: Vec<DeviceChange>,
    /// Services found for the first time.
    pub services_added: Vec<ServiceChange>,
    /// Services no longer found.
    pub services_gone: Vec<ServiceChange>,
    /// More events than [`MAX_EVENTS`] happened: this is their first part.
    pub truncated: bool,
}

/// Folds events (oldest first) into what changed: each device once per kind (its last such
/// event), each service once per kind. `name` names a device (the caller looks them up once).
pub fn fold(
    events: &[scanopy_store::Event],
    name: impl Fn(Uuid) -> String,
) -> ([Vec<DeviceChange>; 4], [Vec<ServiceChange>; 2]) {
    let kinds = ["device_new", "device_gone", "device_back", "device_changed"];
    let mut devices: [BTreeMap<Uuid, DeviceChange>; 4] = Default::default();
    let mut services: [BTreeMap<(Uuid, i64, String), ServiceChange>; 2] = Default::default();
    for e in events {
        let Some(dev) = e.device else { continue };
        if let Some(i) = kinds.iter().position(|k| *k == e.kind) {
            devices[i].insert(
                dev,
                DeviceChange {
                    device: dev,
                    name: String::new(),
                    at: e.at,
                    detail: e.detail.clone(),
                },
            );
            continue;
        }
        let i = match e.kind.as_str() {
            "service_new" => 0,
            "service_gone" => 1,
            _ => continue,
        };
        let port = e.detail["port"].as_i64().unwrap_or_default();
        let protocol = e.detail["protocol"].as_str().unwrap_or("tcp").to_owned();
        services[i].insert(
            (dev, port, protocol.clone()),
            ServiceChange {
                device: dev,
                name: String::new(),
                ip: e.detail["ip"].as_str().unwrap_or_default().to_owned(),
                port,
                protocol,
                service: e.detail["name"].as_str().unwrap_or_default().to_owned(),
                at: e.at,
            },
        );
    }
    let devices = devices.map(|m| {
        let mut v: Vec<DeviceChange> = m.into_values().collect();
        v.sort_by(|a, b| a.at.cmp(&b.at).then(a.device.cmp(&b.device)));
        v.into_iter()
            .map(|mut c| {
                c.name = name(c.device);
                c
            })
            .collect::<Vec<_>>()
    });
    let services = services.map(|m| {
        let mut v: Vec<ServiceChange> = m.into_values().collect();
        v.sort_by(|a, b| {
            a.at.cmp(&b.at)
                .then(a.device.cmp(&b.device))
                .then(a.port.cmp(&b.port))
        });
        v.into_iter()
            .map(|mut c| {
                c.name = name(c.device);
                c
            })
            .collect::<Vec<_>>()
    });
    (devices, services)
}

/// A stretch of time a device was online or offline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Interval {
    /// Its start.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// Online (seen by the scans), or offline (missed by them).
    pub online: bool,
}

/// A device's presence over a period: when it was online and offline, and the share of the
/// known time it was online.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Presence {
    /// The period's start.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// Online and offline stretches in order, clipped to the period (none before the device was
    /// first seen).
    pub intervals: Vec<Interval>,
    /// Online time over known time, 0 to 1 (`null` when nothing is known of the period).
    pub availability: Option<f64>,
}

/// A device's presence from `from` to `to`, from its events (any order; `device_new` and
/// `device_back` put it online, `device_gone` offline) and when it was first seen.
pub fn presence(
    events: &[scanopy_store::Event],
    first_seen: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Presence {
    let mut turns: Vec<(DateTime<Utc>, bool)> = events
        .iter()
        .filter_map(|e| match e.kind.as_str() {
            "device_new" | "device_back" => Some((e.at, true)),
            "device_gone" => Some((e.at, false)),
            _ => None,
        })
        .collect();
    turns.push((first_seen, true));
    turns.sort_by_key(|t| t.0);
    let mut intervals: Vec<Interval> = Vec::new();
    for (i, (at, online)) in turns.iter().enumerate() {
        let end = turns.get(i + 1).map_or(to, |n| n.0);
        let (a, b) = ((*at).max(from), end.min(to));
        if a >= b {
            continue;
        }
        match intervals.last_mut() {
            Some(last) if last.online == *online && last.to == a => last.to = b,
            _ => intervals.push(Interval {
                from: a,
                to: b,
                online: *online,
            }),
        }
    }
    let known: i64 = intervals
        .iter()
        .map(|i| (i.to - i.from).num_milliseconds())
        .sum();
    let up: i64 = intervals
        .iter()
        .filter(|i| i.online)
        .map(|i| (i.to - i.from).num_milliseconds())
        .sum();
    Presence {
        from,
        to,
        intervals,
        availability: (known > 0).then(|| up as f64 / known as f64),
    }
}

/// `GET /changes`'s parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// RFC 3339: the period's start (default: a week before `to`).
    pub from: Option<String>,
    /// RFC 3339: its end (default: now).
    pub to: Option<String>,
    /// A network id (default: every network).
    pub network: Option<String>,
}

fn time(what: &str, s: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    s.filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid(format!("{what}: {s:?} is not an RFC 3339 time")))
        })
        .transpose()
}

/// `GET /presence` and `GET /devices/{id}/presence`'s parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    /// With `GET /presence`: device ids, comma separated (1 to 200).
    pub devices: Option<String>,
    /// RFC 3339: the period's start (default: 7 days before `to`; at most 366 days before it).
    pub from: Option<String>,
    /// RFC 3339: its end (default: now).
    pub to: Option<String>,
}

/// Devices one `GET /presence` answers for at most.
pub const MAX_PRESENCE_DEVICES: usize = 200;

fn period(q: &PresenceQuery) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let to = time("to", q.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = time("from", q.from.as_deref())?.unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(ApiError::invalid("from: not before to"));
    }
    if to - from > Duration::days(366) {
        return Err(ApiError::invalid("from: at most 366 days before to"));
    }
    Ok((from, to))
}

/// A device's presence, by id.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DevicePresence {
    /// The device.
    pub device: Uuid,
    /// Its presence over the period.
    #[serde(flatten)]
    pub presence: Presence,
}

/// Presence of stored devices over a period, one store read for all of them.
pub async fn presences(
    state: &AppState,
    devices: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<DevicePresence>> {
    Ok(state
        .store
        .presence_events(devices, to)
        .await?
        .into_iter()
        .map(|(device, first, events)| DevicePresence {
            device,
            presence: presence(&events, first, from, to),
        })
        .collect())
}

/// `GET /devices/{id}/presence`: when the device was online and offline over a period, and
/// its availability.
#[utoipa::path(get, path = "/devices/{id}/presence", tag = "inventory", params(
        ("id" = Uuid, Path, description = "device id"),
        ("from" = Option<String>, Query, description = "RFC 3339 (default: 7 days before to; at most 366 days before it)"),
        ("to" = Option<String>, Query, description = "RFC 3339 (default: now)")),
    responses((status = 200, description = "its presence", body = Presence),
              (status = 404, description = "unknown", body = crate::error::ErrorBody),
              (status = 422, description = "a wrong parameter", body = crate::error::ErrorBody), crate::error::CallerErrors))]
pub async fn device_presence(
    State(state): State<AppState>,
    _c: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiQuery(q): ApiQuery<PresenceQuery>,
) -> ApiResult<axum::Json<Presence>> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found(format!("device {id}")))?;
    let (from, to) = period(&q)?;
    presences(&state, &[id], from, to)
        .await?
        .pop()
        .map(|p| axum::Json(p.presence))
        .ok_or_else(|| ApiError::not_found(format!("device {id}")))
}

/// `GET /presence?devices=ID,ID`: the presence of several devices over a period (the device
/// list's sparklines); unknown or deleted devices are left out.
#[utoipa::path(get, path = "/presence", tag = "inventory", params(PresenceQuery),
    responses((status = 200, description = "each known device's presence", body = crate::api::Items<DevicePresence>),
              (status = 422, description = "a wrong parameter", body = crate::error::ErrorBody), crate::error::CallerErrors))]
pub async fn presence_of(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<PresenceQuery>,
) -> ApiResult<axum::Json<crate::api::Items<DevicePresence>>> {
    let (from, to) = period(&q)?;
    let ids: Vec<Uuid> = q
        .devices
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Uuid::parse_str(s)
                .map_err(|_| ApiError::invalid(format!("devices: {s:?} is not an id")))
        })
        .collect::<ApiResult<_>>()?;
    if ids.is_empty() || ids.len() > MAX_PRESENCE_DEVICES {
        return Err(ApiError::invalid(format!(
            "devices: 1 to {MAX_PRESENCE_DEVICES} device ids, comma separated"
        )));
    }
    Ok(axum::Json(crate::api::Items::new(
        presences(&state, &ids, from, to).await?,
        None,
    )))
}

/// `GET /changes`: what changed between two dates.
#[utoipa::path(get, path = "/changes", tag = "inventory", params(ChangesQuery),
    responses((status = 200, description = "what changed in the period", body = Changes),
              (status = 422, description = "a wrong parameter", body = crate::error::ErrorBody), crate::error::CallerErrors))]
pub async fn changes(
    State(state): State<AppState>,
    _c: Caller,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> ApiResult<axum::Json<Changes>> {
    let to = time("to", q.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = time("from", q.from.as_deref())?.unwrap_or(to - Duration::days(7));
    if from > to {
        return Err(ApiError::invalid("from: after to"));
    }
    let network = q
        .network
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|n| {
            Uuid::parse_str(n)
                .map_err(|_| ApiError::invalid(format!("network: {n:?} is not an id")))
        })
        .transpose()?;
    let mut events = Vec::new();
    let mut after = 0;
    let mut truncated = false;
    loop {
        let page = state
            .store
            .events_between(network, from, to, after, 5000)
            .await?;
        let full = page.len() == 5000;
        if let Some(last) = page.last() {
            after = last.seq;
        }
        events.extend(page);
        if events.len() >= MAX_EVENTS {
            events.truncate(MAX_EVENTS);
            truncated = full;
            break;
        }
        if !full {
            break;
        }
    }
    // Names as they are now, one read per device.
    let mut ids: Vec<Uuid> = events.iter().filter_map(|e| e.device).collect();
    ids.sort();
    ids.dedup();
    let mut names: HashMap<Uuid, String> = HashMap::new();
    for id in ids {
        if let Ok(Some(d)) = state.store.device(id).await {
            let name = d
                .user_name
                .clone()
                .or(d.device.hostname.clone())
                .unwrap_or_else(|| d.device.label());
            names.insert(id, name);
        }
    }
    let (devices, services) = fold(&events, |d| {
        names
            .get(&d)
            .cloned()
            .unwrap_or_else(|| "(deleted)".to_owned())
    });
    let [devices_added, devices_gone, devices_back, devices_changed] = devices;
    let [services_added, services_gone] = services;
    Ok(axum::Json(Changes {
        from,
        to,
        network,
        devices_added,
        devices_gone,
        devices_back,
        devices_changed,
        services_added,
        services_gone,
        truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(
        seq: i64,
        kind: &str,
        device: u128,
        at: i64,
        detail: serde_json::Value,
    ) -> scanopy_store::Event {
        scanopy_store::Event {
            seq,
            network: Uuid::nil(),
            kind: kind.into(),
            device: Some(Uuid::from_u128(device)),
            scan_run: None,
            detail,
            at: DateTime::<Utc>::from_timestamp(1_800_000_000 + at, 0).unwrap(),
        }
    }

    #[test]
    fn presence_is_online_from_first_seen_offline_while_gone() {
        let t = |s: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let events = [
            ev(3, "device_back", 1, 300, serde_json::json!({})),
            ev(1, "device_new", 1, 0, serde_json::json!({})),
            ev(2, "device_gone", 1, 100, serde_json::json!({})),
            ev(4, "service_new", 1, 310, serde_json::json!({})),
        ];
        let p = presence(&events, t(0), t(-100), t(400));
        let iv: Vec<(i64, i64, bool)> = p
            .intervals
            .iter()
            .map(|i| {
                (
                    i.from.timestamp() - 1_800_000_000,
                    i.to.timestamp() - 1_800_000_000,
                    i.online,
                )
            })
            .collect();
        assert_eq!(
            iv,
            [(0, 100, true), (100, 300, false), (300, 400, true)],
            "nothing before it was seen"
        );
        assert_eq!(p.availability, Some(0.5));
        // A period inside the offline stretch.
        let p = presence(&events, t(0), t(150), t(250));
        assert_eq!(p.intervals.len(), 1);
        assert!(!p.intervals[0].online);
        assert_eq!(p.availability, Some(0.0));
        // Before it was first seen: nothing known.
        assert_eq!(presence(&events, t(0), t(-50), t(-10)).availability, None);
    }

    #[test]
    fn each_device_and_service_once_per_kind_its_last() {
        let events = [
            ev(1, "device_new", 1, 0, serde_json::json!({})),
            ev(
                2,
                "service_new",
                1,
                0,
                serde_json::json!({"ip": "10.0.0.1", "port": 22, "protocol": "tcp", "name": "ssh"}),
            ),
            ev(
                3,
                "device_changed",
                1,
                5,
                serde_json::json!({"hostname": "a"}),
            ),
            ev(
                4,
                "device_changed",
                1,
                9,
                serde_json::json!({"hostname": "b"}),
            ),
            ev(5, "device_gone", 2, 10, serde_json::json!({})),
            ev(6, "device_back", 2, 20, serde_json::json!({})),
            ev(7, "device_gone", 2, 30, serde_json::json!({})),
            ev(
                8,
                "service_gone",
                1,
                40,
                serde_json::json!({"ip": "10.0.0.1", "port": 22, "protocol": "tcp", "name": "ssh"}),
            ),
            ev(9, "scan_done", 1, 41, serde_json::json!({})),
        ];
        let (d, s) = fold(&events, |u| format!("dev{}", u.as_u128()));
        let ids = |v: &[DeviceChange]| {
            v.iter()
                .map(|c| (c.name.clone(), c.at.timestamp() - 1_800_000_000))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&d[0]), [("dev1".to_owned(), 0)]);
        assert_eq!(
            ids(&d[1]),
            [("dev2".to_owned(), 30)],
            "the last time it went"
        );
        assert_eq!(ids(&d[2]), [("dev2".to_owned(), 20)]);
        assert_eq!(d[3][0].detail["hostname"], "b", "what it became last");
        assert_eq!(s[0].len(), 1);
        assert_eq!(
            (
                s[1][0].port,
                s[1][0].service.as_str(),
                s[1][0].name.as_str()
            ),
            (22, "ssh", "dev1")
        );
    }
}

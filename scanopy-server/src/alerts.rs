//! Alerts: rules on the store's events (a new device, one gone offline or back, a new or gone
//! service, a changed name, vendor, type or OS, an address answering with another MAC),
//! scoped to a network, a subnet, a tag or a device, sent by e-mail over the
//! server's SMTP relay, as an ntfy-style push, or as a JSON POST from the admin's template.
//! Each rule has a throttle (at most one alert in so many seconds) and quiet hours (the
//! server's local time); what it did with each event is recorded (`delivered`, `failed`,
//! `throttled`, `quiet`). Each event is handled once per rule, even by several servers on one
//! database (the store's claim), one rule's events in order (a worker per rule, a bounded queue
//! that drops its oldest). Text from the network (names, addresses) is stripped of control
//! characters before it reaches a mail header, an HTTP header or a template, and escaped as
//! JSON in a template.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Local, NaiveTime, Timelike, Utc};
use scanopy_store::{AlertChannel, AlertDelivery, AlertRule, AlertScope, QuietHours};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::state::AppState;
use crate::webhooks::DropOldest;

/// The event kinds a rule may name.
pub const KINDS: &[&str] = &[
    "device_new",
    "device_gone",
    "device_back",
    "device_changed",
    "service_new",
    "service_gone",
    "address_moved",
];
/// Events waiting per rule, at most (a flood drops the oldest).
const QUEUE: usize = 256;
/// Attempts per alert: now, after 1 s and after 4 s (each with jitter).
const ATTEMPTS: i64 = 3;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// How often digest rules are looked at.
const DIGEST_TICK: Duration = Duration::from_secs(30);
/// Changes one digest lists at most (the rest wait for the next).
pub const DIGEST_MAX: usize = 100;

/// The server's SMTP relay (`--smtp-url`, `--smtp-from`).
#[derive(Clone)]
pub struct Smtp {
    /// `smtp://host:port` (plain, or `?tls=required` for STARTTLS), `smtps://host:port`
    /// (TLS); may hold a user and password, so never shown.
    pub url: String,
    /// The sender.
    pub from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("url", &"<redacted>")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Smtp {
    /// Checks the settings: the URL lettre understands, the sender an address.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).map_err(|_| {
            "--smtp-url: smtp://HOST[:PORT] (add ?tls=required for STARTTLS) or smtps://HOST[:PORT], \
             with USER:PASSWORD@ before the host if the relay wants them"
                .to_owned()
        })?;
        let from = from
            .parse()
            .map_err(|_| format!("--smtp-from: {from:?} is not an e-mail address"))?;
        Ok(Smtp {
            url: url.to_owned(),
            from,
        })
    }
}

/// What one alert says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line: the subject, the push's title.
    pub title: String,
    /// A few lines.
    pub body: String,
    /// Placeholders of a webhook template.
    pub fields: Vec<(&'static str, String)>,
}

/// Printable text of at most 200 characters: what a mail or HTTP header may hold.
pub fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The message of an event (`data` as the store wrote it) about device `name` at `ip` in
/// network `network`.
pub fn message(
    kind: &str,
    data: &serde_json::Value,
    name: &str,
    ip: &str,
    network: &str,
) -> Message {
    let (name, ip, network) = (clean(name), clean(ip), clean(network));
    let detail = &data["detail"];
    let at = data["at"].as_str().unwrap_or_default().to_owned();
    let port = || {
        format!(
            "{}/{}",
            detail["port"].as_i64().unwrap_or_default(),
            clean(detail["protocol"].as_str().unwrap_or("tcp"))
        )
    };
    let who = if ip.is_empty() || ip == name {
        name.clone()
    } else {
        format!("{name} ({ip})")
    };
    let title = match kind {
        "device_new" => format!("New device on {network}: {who}"),
        "device_gone" => format!("Offline on {network}: {who}"),
        "device_back" => format!("Back online on {network}: {who}"),
        "device_changed" => format!("Changed on {network}: {who}"),
        "service_new" => format!(
            "New service on {who}: {} {}",
            port(),
            clean(detail["name"].as_str().unwrap_or_default())
        ),
        "service_gone" => format!("Service gone on {who}: {}", port()),
        "address_moved" => format!(
            "Address {} on {network} now answers from {} (was {})",
            clean(detail["ip"].as_str().unwrap_or_default()),
            clean(detail["mac"].as_str().unwrap_or_default()),
            clean(detail["previous_mac"].as_str().unwrap_or_default())
        ),
        "test" => "A test from scanopy".to_owned(),
        other => format!("{} on {network}: {who}", clean(other)),
    };
    let title = clean(&title);
    let mut body = format!("{title}\n\nWhen: {at}\nNetwork: {network}\n");
    if kind == "device_changed" {
        for k in ["hostname", "vendor", "device_type", "os"] {
            if let Some(v) = detail[k].as_str() {
                body.push_str(&format!("{k}: {}\n", clean(v)));
            }
        }
    }
    if let Some(d) = data["device"].as_str() {
        body.push_str(&format!("Device: {d}\n"));
    }
    Message {
        fields: vec![
            ("title", title.clone()),
            ("message", body.trim_end().to_owned()),
            ("kind", clean(kind)),
            (
                "device",
                data["device"].as_str().unwrap_or_default().to_owned(),
            ),
            ("name", name),
            ("ip", ip),
            ("network", network),
            ("at", at),
        ],
        title,
        body,
    }
}

/// A webhook template with its placeholders (`{{title}}`, …) replaced by their values escaped
/// as JSON string contents; `Err` when the result is not JSON.
pub fn render(template: &str, fields: &[(&str, String)]) -> Result<String, String> {
    let mut out = template.to_owned();
    for (k, v) in fields {
        let quoted = serde_json::to_string(v).unwrap_or_default();
        let inner = &quoted[1..quoted.len() - 1];
        out = out.replace(&format!("{{{{{k}}}}}"), inner);
    }
    serde_json::from_str::<serde_json::Value>(&out)
        .map_err(|e| format!("the template is not JSON once filled in: {e}"))?;
    Ok(out)
}

/// Sample values of every placeholder, to check a template when a rule is made.
pub fn sample_fields() -> Vec<(&'static str, String)> {
    message(
        "device_new",
        &serde_json::json!({"at": "2026-01-01T00:00:00Z", "device": Uuid::nil().to_string()}),
        "tablet \"x\"\\",
        "10.0.0.2",
        "Home",
    )
    .fields
}

/// `HH:MM` as a time of day.
pub fn time_of_day(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// Whether `now` (a local time of day) falls in the quiet hours; they may wrap midnight
/// (`22:00`–`07:00`). Equal ends: never quiet.
pub fn is_quiet(q: &QuietHours, now: NaiveTime) -> bool {
    let (Some(from), Some(to)) = (time_of_day(&q.from), time_of_day(&q.to)) else {
        return false;
    };
    let now = NaiveTime::from_hms_opt(now.hour(), now.minute(), 0).unwrap_or(now);
    if from <= to {
        from <= now && now < to
    } else {
        now >= from || now < to
    }
}

/// One event for one rule's worker.
struct Queued {
    seq: i64,
    kind: String,
    data: serde_json::Value,
}

type RuleQueue = Arc<DropOldest<Queued>>;

/// Sends the alerts of every rule until the process ends.
pub async fn run(state: AppState) {
    let mut rx = state.live.subscribe();
    let mut workers: HashMap<Uuid, RuleQueue> = HashMap::new();
    let mut rules: Vec<AlertRule> = Vec::new();
    let mut fetched = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                state.metrics.add("alert_events_missed", n);
                tracing::warn!(missed = n, "alerts fell behind; events skipped");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        if !KINDS.contains(&ev.kind.as_str()) {
            continue;
        }
        let Some(seq) = ev.data.get("seq").and_then(|s| s.as_i64()) else {
            continue;
        };
        if fetched.elapsed() > Duration::from_secs(2) {
            if let Ok(r) = state.store.alert_rules().await {
                rules = r;
                refresh(&state, &mut workers, &rules);
            }
            fetched = std::time::Instant::now();
        }
        let network = ev
            .data
            .get("network")
            .and_then(|n| n.as_str())
            .and_then(|n| Uuid::parse_str(n).ok());
        for rule in &rules {
            let wanted = rule.enabled
                && rule.events.contains(&ev.kind)
                && rule.network.is_none_or(|n| Some(n) == network);
            if !wanted {
                continue;
            }
            if let Some(q) = workers.get(&rule.id) {
                let item = Queued {
                    seq,
                    kind: ev.kind.clone(),
                    data: ev.data.clone(),
                };
                if q.push(item).is_some() {
                    state.metrics.inc("alerts_dropped");
                }
            }
        }
    }
    for q in workers.values() {
        q.close();
    }
}

/// A worker for each new rule; deleted rules' workers stop.
fn refresh(state: &AppState, workers: &mut HashMap<Uuid, RuleQueue>, rules: &[AlertRule]) {
    workers.retain(|id, q| {
        let keep = rules.iter().any(|r| r.id == *id);
        if !keep {
            q.close();
        }
        keep
    });
    for rule in rules {
        if workers.contains_key(&rule.id) {
            continue;
        }
        let q: RuleQueue = Arc::new(DropOldest::new(QUEUE));
        workers.insert(rule.id, Arc::clone(&q));
        tokio::spawn(worker(state.clone(), rule.clone(), q));
    }
}

/// One rule's events, in order, each once across servers.
async fn worker(state: AppState, rule: AlertRule, q: RuleQueue) {
    while let Some(item) = q.pop().await {
        // Out of the rule's scope: not its event (every server decides alike, nothing claimed).
        if !in_scope(&state, &rule.scope, &item.data).await {
            continue;
        }
        match state
            .store
            .claim_alert(rule.id, item.seq, &state.instance)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(rule = %rule.id, seq = item.seq, error = %e, "could not claim an alert; skipped");
                continue;
            }
        }
        let status = handle(&state, &rule, &item).await;
        state.metrics.inc(&format!("alerts_{status}"));
    }
}

/// Whether an event (as the pump passed it on) is about a device in `scope`.
async fn in_scope(state: &AppState, scope: &AlertScope, data: &serde_json::Value) -> bool {
    if scope.is_empty() {
        return true;
    }
    let Some(id) = data["device"]
        .as_str()
        .and_then(|d| Uuid::parse_str(d).ok())
    else {
        return false;
    };
    if scope.device.is_some_and(|d| d != id) {
        return false;
    }
    if scope.subnet.is_none() && scope.tag.is_none() {
        return true;
    }
    let Ok(Some(d)) = state.store.device(id).await else {
        return false;
    };
    scope
        .subnet
        .is_none_or(|n| d.device.ips().iter().any(|ip| n.contains(ip)))
        && scope
            .tag
            .as_ref()
            .is_none_or(|t| d.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
}

/// Decides (digest, quiet, throttled) and sends one event's alert; records and returns what
/// it did.
async fn handle(state: &AppState, rule: &AlertRule, item: &Queued) -> &'static str {
    let now = Utc::now();
    let m = describe(state, &item.kind, &item.data).await;
    let record = |status: &'static str, attempts: i64, error: Option<String>| AlertDelivery {
        rule: rule.id,
        event_seq: item.seq,
        status: status.into(),
        attempts,
        error,
        summary: Some(m.title.clone()),
        at: Utc::now(),
    };
    let (status, attempts, error) = if rule.digest.is_some() {
        // Kept for the day's digest ([`send_digests`]).
        ("queued", 0, None)
    } else if rule
        .quiet
        .as_ref()
        .is_some_and(|q| is_quiet(q, Local::now().time()))
    {
        ("quiet", 0, None)
    } else if rule.throttle_secs > 0
        && matches!(state.store.last_alert(rule.id).await, Ok(Some(t))
            if (now - t).num_seconds() < rule.throttle_secs)
    {
        ("throttled", 0, None)
    } else {
        match send(state, &rule.channel, &m, ATTEMPTS).await {
            (n, None) => ("delivered", n, None),
            (n, Some(e)) => {
                tracing::warn!(rule = %rule.id, seq = item.seq, error = %e, "an alert could not be sent");
                ("failed", n, Some(e))
            }
        }
    };
    if let Err(e) = state
        .store
        .record_alert(&record(status, attempts, error))
        .await
    {
        tracing::warn!(rule = %rule.id, error = %e, "an alert's outcome could not be recorded");
    }
    status
}

/// The message of an event, with its device's name and address and its network's name read
/// from the store.
async fn describe(state: &AppState, kind: &str, data: &serde_json::Value) -> Message {
    let device = match data["device"]
        .as_str()
        .and_then(|d| Uuid::parse_str(d).ok())
    {
        Some(id) => state.store.device(id).await.ok().flatten(),
        None => None,
    };
    let (name, ip) = match &device {
        Some(d) => {
            let ip = d
                .device
                .ips()
                .into_iter()
                .min_by_key(|ip| ip.is_ipv6())
                .map(|i| i.to_string())
                .unwrap_or_default();
            let mac = d.device.macs().first().map(|m| m.to_string());
            let name = d
                .user_name
                .clone()
                .or(d.device.hostname.clone())
                .or_else(|| (!ip.is_empty()).then(|| ip.clone()))
                .or(mac)
                .unwrap_or_else(|| d.device.id.to_string());
            (name, ip)
        }
        None => (String::from("a device"), String::new()),
    };
    let network = match data["network"]
        .as_str()
        .and_then(|n| Uuid::parse_str(n).ok())
    {
        Some(id) => state
            .store
            .networks()
            .await
            .ok()
            .and_then(|ns| ns.into_iter().find(|n| n.id == id))
            .map(|n| n.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    message(kind, data, &name, &ip, &network)
}

/// Sends `m` through `channel`, trying up to `attempts` times: the attempts made and the last
/// error, if it failed.
pub async fn send(
    state: &AppState,
    channel: &AlertChannel,
    m: &Message,
    attempts: i64,
) -> (i64, Option<String>) {
    let mut last = None;
    for attempt in 1..=attempts {
        let r = tokio::time::timeout(ATTEMPT_TIMEOUT, send_once(state, channel, m)).await;
        match r {
            Ok(Ok(())) => return (attempt, None),
            Ok(Err(e)) => last = Some(e),
            Err(_) => last = Some("timed out".to_owned()),
        }
        if attempt < attempts {
            let base = 4u64.pow(attempt as u32 - 1) * 1000;
            let jitter = rand::random::<u64>() % (base / 2 + 1);
            tokio::time::sleep(Duration::from_millis(base + jitter)).await;
        }
    }
    (attempts, last)
}

async fn send_once(state: &AppState, channel: &AlertChannel, m: &Message) -> Result<(), String> {
    match channel {
        AlertChannel::Email { to } => {
            use lettre::AsyncTransport;
            let smtp = state
                .smtp
                .as_ref()
                .ok_or("no SMTP relay: start the server with --smtp-url")?;
            let to: lettre::message::Mailbox =
                to.parse().map_err(|_| "not an e-mail address".to_owned())?;
            let mail = lettre::Message::builder()
                .from(smtp.from.clone())
                .to(to)
                .subject(m.title.clone())
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(m.body.clone())
                .map_err(|e| format!("the mail could not be written: {e}"))?;
            let transport =
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&smtp.url)
                    .map_err(|_| "the SMTP URL is not valid".to_owned())?
                    .timeout(Some(ATTEMPT_TIMEOUT))
                    .build();
            transport
                .send(mail)
                .await
                .map(|_| ())
                .map_err(|e| smtp_error(&e))
        }
        AlertChannel::Ntfy { url, topic } => {
            let resp = crate::push::http_client()
                .post(format!("{}/{}", url.trim_end_matches('/'), topic))
                .header("title", &m.title)
                .header("tags", "scanopy")
                .body(m.body.clone())
                .send()
                .await
                .map_err(|e| http_error(&e))?;
            check(resp.status())
        }
        AlertChannel::Webhook { url, template } => {
            let body = match template {
                Some(t) => render(t, &m.fields)?,
                None => serde_json::to_string(&serde_json::Map::from_iter(
                    m.fields
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.clone()))),
                ))
                .unwrap_or_default(),
            };
            let resp = crate::push::http_client()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| http_error(&e))?;
            check(resp.status())
        }
    }
}

fn check(status: reqwest::StatusCode) -> Result<(), String> {
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered {status}"))
    }
}

fn http_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else {
        "could not connect".into()
    }
}

/// What went wrong with the relay, without its URL (which may hold a password).
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    if e.is_permanent() {
        "the SMTP relay refused the mail".into()
    } else if e.is_transient() {
        "the SMTP relay answered with a temporary error".into()
    } else if e.is_timeout() {
        "the SMTP relay timed out".into()
    } else if e.is_tls() {
        "TLS with the SMTP relay failed".into()
    } else {
        "could not talk to the SMTP relay".into()
    }
}

/// The record of a message sent (or not: `error`) for event `seq` of `rule`, now.
fn outcome(
    rule: &AlertRule,
    seq: i64,
    attempts: i64,
    error: Option<String>,
    m: &Message,
) -> AlertDelivery {
    AlertDelivery {
        rule: rule.id,
        event_seq: seq,
        status: if error.is_none() {
            "delivered"
        } else {
            "failed"
        }
        .into(),
        attempts,
        error,
        summary: Some(m.title.clone()),
        at: Utc::now(),
    }
}

/// `POST /alerts/{id}/test`: sends a test message through the rule's channel now (one attempt),
/// and records it (event 0).
pub async fn test(state: &AppState, rule: &AlertRule) -> AlertDelivery {
    let m = message(
        "test",
        &serde_json::json!({"at": Utc::now().to_rfc3339()}),
        "scanopy",
        "",
        "",
    );
    // One attempt: whoever pressed the button is waiting.
    let (attempts, error) = send(state, &rule.channel, &m, 1).await;
    let d = outcome(rule, 0, attempts, error, &m);
    let _ = state.store.record_alert(&d).await;
    d
}

/// A digest of `items` (record summaries, oldest first); `more`: some wait for the next one.
pub fn digest_message(items: &[AlertDelivery], more: bool, now: chrono::DateTime<Utc>) -> Message {
    let n = items.len();
    let title = format!(
        "Scanopy digest: {n} change{}{}",
        if n == 1 { "" } else { "s" },
        if more { " (more in the next)" } else { "" }
    );
    let mut body = format!("{title}\n\n");
    for d in items {
        let at = d.at.with_timezone(&Local).format("%Y-%m-%d %H:%M");
        body.push_str(&format!(
            "{at}  {}\n",
            clean(d.summary.as_deref().unwrap_or("(a change)"))
        ));
    }
    let at = now.to_rfc3339();
    Message {
        fields: vec![
            ("title", title.clone()),
            ("message", body.trim_end().to_owned()),
            ("kind", "digest".to_owned()),
            ("device", String::new()),
            ("name", String::new()),
            ("ip", String::new()),
            ("network", String::new()),
            ("at", at),
        ],
        title,
        body,
    }
}

/// Sends the daily digests until the process ends.
pub async fn digests(state: AppState) {
    let mut tick = tokio::time::interval(DIGEST_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        send_digests(&state, Local::now()).await;
    }
}

/// Sends each enabled digest rule's queued changes, once a day from its time of day (`now` is
/// the server's local time): one message per rule, claimed for the day so that one of several
/// servers sends it. Nothing queued, nothing sent. On failure the changes stay queued for the
/// next day's digest. How many digests it sent (or tried).
pub async fn send_digests(state: &AppState, now: chrono::DateTime<Local>) -> usize {
    use chrono::Datelike;
    let Ok(rules) = state.store.alert_rules().await else {
        return 0;
    };
    let day = i64::from(now.date_naive().num_days_from_ce());
    let mut tried = 0;
    for rule in rules.iter().filter(|r| r.enabled) {
        let Some(at) = rule.digest.as_deref().and_then(time_of_day) else {
            continue;
        };
        if now.time() < at {
            continue;
        }
        let queued = match state.store.queued_alerts(rule.id, DIGEST_MAX + 1).await {
            Ok(q) if !q.is_empty() => q,
            _ => continue,
        };
        if !matches!(
            state
                .store
                .claim_alert(rule.id, -day, &state.instance)
                .await,
            Ok(true)
        ) {
            continue;
        }
        let more = queued.len() > DIGEST_MAX;
        let items = &queued[..queued.len().min(DIGEST_MAX)];
        let m = digest_message(items, more, Utc::now());
        let (attempts, error) = send(state, &rule.channel, &m, ATTEMPTS).await;
        if error.is_none()
            && let Some(last) = items.last()
            && let Err(e) = state.store.mark_digested(rule.id, last.at).await
        {
            tracing::warn!(rule = %rule.id, error = %e, "a digest was sent but not marked");
        }
        if let Some(e) = &error {
            tracing::warn!(rule = %rule.id, error = %e, "a digest could not be sent; its changes wait for the next");
        }
        let d = outcome(rule, -day, attempts, error, &m);
        if let Err(e) = state.store.record_alert(&d).await {
            tracing::warn!(rule = %rule.id, error = %e, "a digest's outcome could not be recorded");
        }
        tried += 1;
    }
    tried
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours {
            from: "22:00".into(),
            to: "07:00".into(),
        };
        let t = |s: &str| time_of_day(s).unwrap();
        assert!(is_quiet(&q, t("23:59")));
        assert!(is_quiet(&q, t("00:00")));
        assert!(is_quiet(&q, t("06:59")));
        assert!(!is_quiet(&q, t("07:00")));
        assert!(!is_quiet(&q, t("12:00")));
        assert!(is_quiet(&q, t("22:00")));
        let day = QuietHours {
            from: "09:00".into(),
            to: "17:30".into(),
        };
        assert!(is_quiet(&day, t("17:29")) && !is_quiet(&day, t("17:30")));
        let never = QuietHours {
            from: "08:00".into(),
            to: "08:00".into(),
        };
        assert!(!is_quiet(&never, t("08:00")));
        assert_eq!(time_of_day("8:00"), None);
        assert_eq!(time_of_day("24:00"), None);
        assert_eq!(time_of_day("12:60"), None);
    }

    #[test]
    fn network_text_cannot_break_a_header_or_a_template() {
        let data = serde_json::json!({"at": "2026-01-01T00:00:00Z"});
        let m = message(
            "device_new",
            &data,
            "evil\r\nBcc: x@y\u{1b}[31m",
            "10.0.0.9",
            "Home",
        );
        assert!(!m.title.contains('\r') && !m.title.contains('\n') && !m.title.contains('\u{1b}'));
        assert_eq!(m.title, "New device on Home: evilBcc: x@y[31m (10.0.0.9)");
        let body = render(r#"{"text": "{{title}}", "who": "{{name}}"}"#, &m.fields).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["who"], "evilBcc: x@y[31m");
        // Quotes and backslashes in a name stay inside their string.
        let q = message("device_new", &data, "a\"},{\"x\":\"\\", "", "Home");
        let body = render(r#"{"text": "{{name}}"}"#, &q.fields).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["text"], "a\"},{\"x\":\"\\");
        assert!(render(r#"{"text": {{title}}}"#, &m.fields).is_err());
        assert!(render(r#"{"t": "{{title}}"}"#, &sample_fields()).is_ok());
    }

    #[test]
    fn each_kind_says_what_happened() {
        let data = serde_json::json!({"at": "t", "detail": {"port": 22, "protocol": "tcp", "name": "ssh"}});
        let title = |k: &str| message(k, &data, "nas", "10.0.0.5", "Home").title;
        assert_eq!(title("device_new"), "New device on Home: nas (10.0.0.5)");
        assert_eq!(title("device_gone"), "Offline on Home: nas (10.0.0.5)");
        assert_eq!(title("device_back"), "Back online on Home: nas (10.0.0.5)");
        assert_eq!(
            title("service_new"),
            "New service on nas (10.0.0.5): 22/tcp ssh"
        );
        assert_eq!(
            title("service_gone"),
            "Service gone on nas (10.0.0.5): 22/tcp"
        );
        let moved = serde_json::json!({"at": "t", "detail": {"ip": "10.0.0.1", "mac": "02:00:00:00:00:66", "previous_mac": "00:11:32:00:00:01"}});
        assert_eq!(
            message("address_moved", &moved, "gw", "10.0.0.1", "Home").title,
            "Address 10.0.0.1 on Home now answers from 02:00:00:00:00:66 (was 00:11:32:00:00:01)"
        );
    }
}

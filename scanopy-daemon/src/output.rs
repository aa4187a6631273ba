//! Output formats of `scan`: the JSON document of the contract, NDJSON, a table and CSV.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use scanopy_core::{Device, ScanConfig};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the `scan` object of the JSON document says.
#[derive(Debug, Clone)]
pub struct ScanInfo {
    /// The scan's id.
    pub id: Uuid,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The targets as given (or the attached subnets).
    pub targets: Vec<String>,
    /// The scanners that ran.
    pub scanners: Vec<String>,
    /// The configuration.
    pub config: ScanConfig,
    /// Whether it was interrupted.
    pub interrupted: bool,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One device as the contract shows it.
pub fn device_json(d: &Device) -> Value {
    serde_json::to_value(d).unwrap_or(Value::Null)
}

/// The whole JSON document.
pub fn document(info: &ScanInfo, devices: &[Device], warnings: &[String]) -> Value {
    json!({
        "scan": {
            "id": info.id,
            "started_at": rfc3339(info.started_at),
            "finished_at": rfc3339(info.finished_at),
            "targets": info.targets,
            "scanners": info.scanners,
            "config": info.config,
            "interrupted": info.interrupted,
        },
        "devices": devices.iter().map(device_json).collect::<Vec<_>>(),
        "warnings": warnings,
    })
}

/// A table for people.
pub fn table(out: &mut impl Write, devices: &[Device]) -> std::io::Result<()> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for d in devices {
        let ip = d
            .ips()
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mac = d
            .macs()
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let name = [d.hostname.clone(), d.vendor.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        let services = d
            .services
            .iter()
            .map(|s| {
                let mut t = format!("{}/{} {}", s.port, s.transport, s.name);
                if let Some(p) = &s.product {
                    t.push_str(&format!(" ({p}"));
                    if let Some(v) = &s.version {
                        t.push_str(&format!(" {v}"));
                    }
                    t.push(')');
                }
                t
            })
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(c) = &d.container {
            // A container: its Docker addresses (read from the API, never scanned), its name,
            // and what runs in it.
            let ips = c
                .networks
                .iter()
                .filter_map(|n| n.ip)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            let mut what = format!("{} [{}", c.image, c.state);
            if let Some(h) = &c.health {
                what.push_str(&format!(", {h}"));
            }
            what.push(']');
            rows.push([
                ips,
                String::new(),
                format!("└ {}", c.name),
                d.device_type.to_string(),
                what,
            ]);
            continue;
        }
        rows.push([ip, mac, name, d.device_type.to_string(), services]);
    }
    let header = ["ADDRESS", "MAC", "NAME / VENDOR", "TYPE", "SERVICES"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()).take(4) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )
    };
    writeln!(out, "{}", line(header).trim_end())?;
    for r in &rows {
        writeln!(
            out,
            "{}",
            line([&r[0], &r[1], &r[2], &r[3], &r[4]]).trim_end()
        )?;
    }
    writeln!(out, "{} device(s)", devices.len())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV: one row per service, or one per device without services.
pub fn csv(out: &mut impl Write, devices: &[Device]) -> std::io::Result<()> {
    writeln!(
        out,
        "device_id,ip,mac,hostname,vendor,device_type,port,protocol,state,name,product,version,confidence,evidence"
    )?;
    for d in devices {
        let ip = d.ips().first().map(|i| i.to_string()).unwrap_or_default();
        let mac = d.macs().first().map(|m| m.to_string()).unwrap_or_default();
        let base = [
            d.id.to_string(),
            ip,
            mac,
            d.hostname.clone().unwrap_or_default(),
            d.vendor.clone().unwrap_or_default(),
            d.device_type.to_string(),
        ];
        let rows: Vec<Vec<String>> = if d.services.is_empty() {
            vec![vec![String::new(); 8]]
        } else {
            d.services
                .iter()
                .map(|s| {
                    vec![
                        s.port.to_string(),
                        s.transport.to_string(),
                        serde_json::to_value(s.state)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        s.name.clone(),
                        s.product.clone().unwrap_or_default(),
                        s.version.clone().unwrap_or_default(),
                        serde_json::to_value(s.confidence)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        s.evidence.clone(),
                    ]
                })
                .collect()
        };
        for r in rows {
            let cells: Vec<String> = base.iter().chain(r.iter()).map(|c| csv_field(c)).collect();
            writeln!(out, "{}", cells.join(","))?;
        }
    }
    Ok(())
}

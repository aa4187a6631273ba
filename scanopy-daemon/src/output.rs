//! Output formats of `scan`: the JSON document of the contract, NDJSON, a table and CSV.
//!
//! Much of what is shown comes from the network (PTR names, banners, SNMP names, certificate
//! names) and may carry terminal escapes. The table and CSV show control characters (and the
//! invisible bidirectional and zero-width format characters) as visible escapes (`\x1b`,
//! `\u{202e}`), and a CSV cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
//! tab, CR first) is neutralised with a leading `'`. JSON and NDJSON stay exact: their
//! encoding already escapes control characters.

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

/// Whether `c` must not reach a terminal as it is: a control character (C0, DEL, C1), or a
/// format character that reorders or hides text (bidirectional overrides, zero-width marks).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

/// Network-supplied text made safe to print: each unsafe character shown as a visible escape
/// (`\x1b` below U+0100, `\u{202e}` above).
pub fn visible(s: &str) -> String {
    if !s.chars().any(unsafe_char) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
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
    for r in &mut rows {
        for c in r.iter_mut() {
            *c = visible(c);
        }
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

/// One CSV cell: escaped like the table, a would-be formula neutralised with `'`, quoted when
/// it holds a comma or a quote.
pub fn csv_field(s: &str) -> String {
    let mut s = visible(s);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r'])
        || s.starts_with("\\x09")
        || s.starts_with("\\x0d")
    {
        s.insert(0, '\'');
    }
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use scanopy_core::{Inventory, InventoryConfig, Observation, PortFact, PortState, Transport};

    use super::*;

    fn device_with(hostname: &str, product: &str) -> Device {
        let ip = "10.77.2.30".parse().unwrap();
        let mut inv = Inventory::new(InventoryConfig {
            network_id: Uuid::nil(),
            subnets: vec![],
        });
        inv.apply(&Observation::now(
            ip,
            "ptr",
            scanopy_core::Fact::Hostname {
                name: hostname.to_owned(),
                source: "ptr".into(),
            },
        ));
        let mut p = PortFact::state(443, Transport::Tcp, PortState::Open);
        p.name = Some("http".into());
        p.product = Some(product.to_owned());
        inv.apply(&Observation::now(ip, "tcp", scanopy_core::Fact::Port(p)));
        inv.devices().remove(0)
    }

    /// The cells of one CSV row (RFC 4180 quoting).
    fn cells(row: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut quoted = false;
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', false) => quoted = true,
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    out.last_mut().unwrap().push('"');
                }
                ('"', true) => quoted = false,
                (',', false) => out.push(String::new()),
                (c, _) => out.last_mut().unwrap().push(c),
            }
        }
        out
    }

    fn table_of(d: &Device) -> String {
        let mut out = Vec::new();
        table(&mut out, std::slice::from_ref(d)).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn csv_of(d: &Device) -> String {
        let mut out = Vec::new();
        csv(&mut out, std::slice::from_ref(d)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn terminal_escapes_from_the_network_are_shown_not_run() {
        let d = device_with("\x1b[31mmute\x1b[0m.evil.test", "x\u{202e}gnp.exe\x07");
        let t = table_of(&d);
        assert!(t.contains("\\x1b[31mmute\\x1b[0m.evil.test"), "{t}");
        assert!(t.contains("x\\u{202e}gnp.exe\\x07"), "{t}");
        assert!(!t.contains('\x1b') && !t.contains('\x07') && !t.contains('\u{202e}'));
        let c = csv_of(&d);
        assert!(c.contains(",\\x1b[31mmute\\x1b[0m.evil.test,"), "{c}");
        assert!(!c.contains('\x1b'));
        // Plain text is untouched.
        assert_eq!(visible("web.lab.test"), "web.lab.test");
        assert_eq!(visible("a\r\nb\u{85}"), "a\\x0d\\x0ab\\x85");
    }

    #[test]
    fn csv_formulas_are_neutralised() {
        for (name, cell) in [
            ("=1+2.every.evil.test", "'=1+2.every.evil.test"),
            ("+cmd", "'+cmd"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
        ] {
            let c = csv_of(&device_with(name, "nginx"));
            let row = c.lines().nth(1).unwrap();
            assert_eq!(cells(row)[3], cell, "{row}");
        }
        // (Host names are trimmed by the merge; a cell can still start with a tab or CR.)
        assert_eq!(csv_field("\tx"), "'\\x09x");
        assert_eq!(csv_field("\rx"), "'\\x0dx");
        // A comma still quotes, after neutralising.
        let c = csv_of(&device_with("=a,b", "nginx"));
        assert!(c.contains(",\"'=a,b\","), "{c}");
    }

    #[test]
    fn json_stays_exact() {
        let d = device_with("\x1b[31mmute.evil.test", "nginx");
        let v = device_json(&d);
        assert_eq!(v["hostname"], "\x1b[31mmute.evil.test");
    }

    proptest! {
        #[test]
        fn no_control_character_reaches_the_table_or_csv(name in any::<String>(), product in any::<String>()) {
            let d = device_with(&name, &product);
            for out in [table_of(&d), csv_of(&d)] {
                for line in out.lines() {
                    prop_assert!(!line.chars().any(unsafe_char), "{:?}", line);
                }
                // Only the line ends are control characters.
                prop_assert_eq!(out.chars().filter(|c| unsafe_char(*c)).count(), out.lines().count());
            }
            let c = csv_of(&d);
            for cell in cells(c.lines().nth(1).unwrap()) {
                prop_assert!(!cell.starts_with(['=', '+', '-', '@']), "{:?}", cell);
            }
        }
    }
}

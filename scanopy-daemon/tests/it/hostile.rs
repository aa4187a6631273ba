//! The hostile-host suite: `scanopy-daemon scan` against the test LAN's hostile segment
//! (`testlan/testlan.sh`, 10.77.2.0/24: a host that accepts and never speaks, one that trickles a
//! byte every 50 ms, one that floods its banner, a TLS handshake that never finishes, a host that
//! answers on every port, malformed SNMP and DNS answers, PTR names with control characters and
//! a 253-character name, a host answering ARP for 64 addresses) together with the ordinary LAN.
//! The scan must end, report every host, say what it gave up on, and still identify the
//! ordinary hosts' services. Needs root and the LAN.

use std::process::Stdio;
use std::time::{Duration, Instant};

use scanopy_testlan::{
    BAD_UDP, EVERY, HOSTILE, HOSTILE_LAN, HOSTILE_PTR, LAN, LIAR, MUTE, SSH, SVC, TLS_STALL,
    TRICKLE, WEB, require,
};
use serde_json::Value;

use super::in_lan;

/// A scan of both segments must end within this: a generous stop for a hang, not a timing
/// assertion (measured: BENCHMARKS.md; `--concurrency 1` takes the longest). On the old code it
/// never ended.
const BOUND: Duration = Duration::from_secs(180);

/// The ports of the ordinary hosts' services and of the hostile ones.
const PORTS: &str = "22,53,80,443,1883,5432,6379";

/// Runs a scan of both segments with `extra` arguments; its stdout, stderr and how long it took.
fn scan(extra: &[&str]) -> (String, String, Duration) {
    let mut args = vec!["scan", LAN, HOSTILE_LAN, "-p", PORTS];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let mut child = in_lan(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (out, err) = (out.join().unwrap(), err.join().unwrap());
            let err = String::from_utf8_lossy(&err).into_owned();
            assert!(status.success(), "{args:?}: {status}: {err}");
            return (String::from_utf8(out).unwrap(), err, start.elapsed());
        }
        if start.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not end within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn device<'a>(doc: &'a Value, ip: &str) -> &'a Value {
    doc["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["interfaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["ip"] == ip)
        })
        .unwrap_or_else(|| panic!("{ip} not reported"))
}

fn service<'a>(doc: &'a Value, ip: &str, port: u16, proto: &str) -> &'a Value {
    device(doc, ip)["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["port"] == port && s["protocol"] == proto)
        .unwrap_or_else(|| panic!("{ip} {port}/{proto} not reported: {:#}", device(doc, ip)))
}

fn check(doc: &Value, label: &str) {
    // The ordinary LAN is scanned as well as ever.
    let web = WEB.ip.to_string();
    for (port, name) in [(80, "http"), (443, "https"), (6379, "redis")] {
        assert_eq!(service(doc, &web, port, "tcp")["name"], name, "{label}");
    }
    assert_eq!(service(doc, &web, 80, "tcp")["product"], "nginx", "{label}");
    assert_eq!(
        service(doc, &web, 443, "tcp")["product"],
        "nginx",
        "{label}"
    );
    let ssh = service(doc, &SSH.ip.to_string(), 22, "tcp");
    assert_eq!(
        (&ssh["name"], &ssh["product"]),
        (&"ssh".into(), &"OpenSSH".into()),
        "{label}"
    );
    let svc = SVC.ip.to_string();
    assert_eq!(
        service(doc, &svc, 5432, "tcp")["name"],
        "postgresql",
        "{label}"
    );
    assert_eq!(service(doc, &svc, 1883, "tcp")["name"], "mqtt", "{label}");

    // Every hostile host is reported, its listeners as open ports.
    for h in HOSTILE {
        let d = device(doc, &h.ip.to_string());
        for p in h
            .open_tcp
            .iter()
            .filter(|p| PORTS.split(',').any(|q| q == p.to_string()))
        {
            assert_eq!(
                service(doc, &h.ip.to_string(), *p, "tcp")["state"],
                "open",
                "{label} {}",
                h.name
            );
        }
        assert!(d["interfaces"][0]["mac"].is_string(), "{label} {}", h.name);
    }
    // Every port of the host that answers on all of them.
    let every = device(doc, &EVERY.ip.to_string());
    assert_eq!(
        every["services"].as_array().unwrap().len(),
        PORTS.split(',').count(),
        "{label}"
    );
    // The addresses the liar claims are one device with its MAC (rule 1: one MAC, one device).
    let liar = device(doc, "10.77.2.100");
    assert_eq!(liar["interfaces"][0]["mac"].as_str(), LIAR.mac, "{label}");
    assert!(
        device(doc, &LIAR.ip.to_string())["id"] == liar["id"],
        "{label}"
    );
    // PTR names are kept exactly in JSON (escaping is the table's and CSV's job).
    for (ip, name) in HOSTILE_PTR {
        assert_eq!(device(doc, &ip.to_string())["hostname"], name, "{label}");
    }

    // A NetBIOS name table cut short, with terminal escapes: the names it did give are kept,
    // without control characters; the malformed mDNS answers report nothing.
    let bad = BAD_UDP.ip.to_string();
    let nb = service(doc, &bad, 137, "udp");
    let name = nb["extra"]["netbios.name"].as_str().unwrap_or_default();
    assert!(
        !name.is_empty() && !name.chars().any(char::is_control),
        "{label}: {nb:#}"
    );
    assert!(
        device(doc, &bad)["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["port"] != 5353),
        "{label}: malformed mDNS answers are no service"
    );
    // Forty SSDP answers with escapes and LOCATIONs elsewhere: one service, its SERVER header
    // cleaned, a foreign LOCATION recorded and never followed (nothing from another host's
    // description lands here), and no UPnP name.
    let ssdp = service(doc, &bad, 1900, "udp");
    assert_eq!(ssdp["name"], "ssdp", "{label}: {ssdp:#}");
    let server = ssdp["extra"]["ssdp.server"].as_str().unwrap_or_default();
    assert!(
        server.contains("Evil/1.0") && !server.chars().any(char::is_control),
        "{label}: {ssdp:#}"
    );
    let foreign = ssdp["extra"]["ssdp.foreign_location"].as_str();
    assert!(
        foreign.is_some_and(|l| !l.contains("10.77.2.35")),
        "{label}: {ssdp:#}"
    );
    assert!(ssdp["extra"].get("upnp.friendlyName").is_none(), "{label}");

    // What it gave up on is a warning naming host, port and why.
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (h, why) in [
        (MUTE, "TLS handshake did not finish"),
        (TLS_STALL, "TLS handshake did not finish"),
        (TRICKLE, "still sending"),
    ] {
        let needle = format!("{} port 443/tcp", h.ip);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&needle) && w.contains(why)),
            "{label}: no warning names {needle} ({why}): {warnings:#?}"
        );
    }
}

#[test]
fn testlan_hostile_hosts_cannot_stall_a_scan() {
    if !require("testlan_hostile_hosts_cannot_stall_a_scan") {
        return;
    }
    for (label, extra) in [
        ("default settings", &[][..]),
        ("--concurrency 1", &["--concurrency", "1"][..]),
    ] {
        let mut args = vec!["-f", "json"];
        args.extend_from_slice(extra);
        let (out, _, took) = scan(&args);
        eprintln!("{label}: the scan of {LAN} and {HOSTILE_LAN} took {took:?}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        check(&doc, label);
    }

    // The table and CSV carry no control character from the network; no CSV cell is a formula.
    let (table, err, _) = scan(&["-f", "table"]);
    assert!(table.contains("\\x1b[31mmute\\x1b[0m.evil.test"), "{table}");
    for text in [&table, &err] {
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    }
    let (csv, _, _) = scan(&["-f", "csv"]);
    assert!(!csv.chars().any(|c| c.is_control() && c != '\n'), "{csv}");
    assert!(csv.contains(",'=1+2.every.evil.test,"), "{csv}");
}

use super::*;

/// (probe, response, service, product, version)
type Case = (
    &'static str,
    &'static [u8],
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

fn id(on: &str, bytes: &[u8]) -> Option<(String, Option<String>, Option<String>, String)> {
    Catalogue::builtin()
        .identify(on, bytes)
        .map(|i| (i.service, i.product, i.version, i.rule))
}

#[test]
fn real_responses_are_identified() {
    let cases: &[Case] = &[
        ("banner", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "ssh", Some("OpenSSH"), Some("9.2p1")),
        ("banner", b"SSH-2.0-dropbear_2022.83\r\n", "ssh", Some("Dropbear sshd"), Some("2022.83")),
        ("banner", b"SSH-2.0-Go\r\n", "ssh", None, None),
        ("banner", b"220 (vsFTPd 3.0.3)\r\n", "ftp", Some("vsftpd"), Some("3.0.3")),
        ("banner", b"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n", "smtp", Some("Postfix"), None),
        ("banner", b"220 ProFTPD Server (Debian) [::ffff:10.0.0.1]\r\n", "ftp", None, None),
        ("banner", b"J\x00\x00\x00\x0a8.0.35\x00\x08\x00\x00\x00", "mysql", Some("MySQL"), Some("8.0.35")),
        ("banner", b"Y\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB-0+deb12u1\x00", "mysql", Some("MariaDB"), Some("10.11.6")),
        ("banner", b"\xff\xfd\x18\xff\xfd\x20", "telnet", None, None),
        ("banner", b"RFB 003.008\n", "vnc", None, Some("003.008")),
        ("redis-ping", b"+PONG\r\n", "redis", Some("Redis"), None),
        ("redis-ping", b"-NOAUTH Authentication required.\r\n", "redis", Some("Redis"), None),
        ("postgres-ssl", b"N", "postgresql", Some("PostgreSQL"), None),
        ("mqtt-connect", b"\x20\x02\x00\x00", "mqtt", None, None),
        (
            "http-get",
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<title>x</title>",
            "http",
            Some("nginx"),
            Some("1.22.1"),
        ),
        ("http-get", b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n", "http", Some("nginx"), None),
        (
            "http-get",
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n<html><head><title>Grafana</title>",
            "http",
            Some("Grafana"),
            None,
        ),
        ("http-get", b"HTTP/1.0 404 Not Found\r\n\r\n", "http", None, None),
    ];
    for (on, bytes, service, product, version) in cases {
        let got = id(on, bytes)
            .unwrap_or_else(|| panic!("{on}: {:?} not identified", String::from_utf8_lossy(bytes)));
        assert_eq!(
            (got.0.as_str(), got.1.as_deref(), got.2.as_deref()),
            (*service, *product, *version),
            "{on}: {:?} (rule {})",
            String::from_utf8_lossy(bytes),
            got.3
        );
    }
}

#[test]
fn dns_version_answer_names_dnsmasq() {
    // A real dnsmasq answer to the version.bind probe, trimmed.
    let mut answer = vec![0x00, 0x3b, 0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    answer.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x0d\x0cdnsmasq-2.89");
    let got = id("dns-version", &answer).unwrap();
    assert_eq!(
        (got.0.as_str(), got.1.as_deref(), got.2.as_deref()),
        ("domain", Some("dnsmasq"), Some("2.89"))
    );
}

#[test]
fn what_matches_nothing_is_not_guessed() {
    assert_eq!(id("banner", b"hello there\r\n"), None);
    assert_eq!(id("banner", b""), None);
    assert_eq!(id("http-get", b"garbage"), None);
}

#[test]
fn probes_for_a_port_come_before_the_fallback() {
    let c = Catalogue::builtin();
    let ids: Vec<&str> = c.probes_for(6379).iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["redis-ping", "http-get"]);
    let ids: Vec<&str> = c.probes_for(80).iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["http-get"]);
    let http = c.probes_for(1).into_iter().next().unwrap();
    let payload = http.payload("10.0.0.1");
    assert!(
        payload.starts_with(b"GET / HTTP/1.0\r\nHost: 10.0.0.1\r\n"),
        "{:?}",
        String::from_utf8_lossy(&payload)
    );
    let pg = c.probes_for(5432)[0].payload("x");
    assert_eq!(pg, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
}

#[test]
fn the_builtin_catalogue_has_over_a_hundred_definitions_each_proven_by_its_example() {
    let c = Catalogue::builtin();
    assert!(
        c.definition_count() >= 100,
        "{} definitions",
        c.definition_count()
    );
    let failures = c.check_examples();
    assert!(failures.is_empty(), "{failures:#?}");
}

fn shared() -> &'static Catalogue {
    static CAT: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    CAT.get_or_init(Catalogue::builtin)
}

proptest::proptest! {
    #[test]
    fn matching_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let c = shared();
        let _ = c.identify("banner", &bytes);
        for id in c.probe_ids() {
            let _ = c.identify(id, &bytes);
        }
        let _ = http_facts(&bytes);
    }
}

#[test]
fn user_rules_come_first_and_may_use_builtin_probes() {
    let dir = std::env::temp_dir().join(format!("scanopy-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mine.json");
    std::fs::write(
        &path,
        r#"{"rules": [{"id": "my-app", "on": "http-get", "service": "http", "pattern": "(?i)<title>My App</title>", "product": "My App", "confidence": "high"}]}"#,
    )
    .unwrap();
    let c = Catalogue::builtin().with_file(&path).unwrap();
    let got = c
        .identify(
            "http-get",
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n<title>My App</title>",
        )
        .unwrap();
    assert_eq!(got.rule, "my-app");
    assert_eq!(c.probes_for(80).len(), 1, "no probe duplicated");

    std::fs::write(
        &path,
        r#"{"rules": [{"id": "bad", "on": "banner", "service": "x", "pattern": "("}]}"#,
    )
    .unwrap();
    let e = Catalogue::builtin()
        .with_file(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"bad\"") && e.contains("bad pattern"), "{e}");
    std::fs::write(
        &path,
        r#"{"rules": [{"id": "lost", "on": "nope", "service": "x", "pattern": "x"}]}"#,
    )
    .unwrap();
    let e = Catalogue::builtin()
        .with_file(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("names no probe"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn http_facts_keep_title_server_and_status() {
    let f = http_facts(b"HTTP/1.1 302 Found\r\nServer: lighttpd/1.4\r\n\r\n<html><HEAD><Title>\n  Router   Login </title>");
    assert_eq!(f["http.status"], "302");
    assert_eq!(f["http.server"], "lighttpd/1.4");
    assert_eq!(f["http.title"], "Router Login");
}

#[test]
fn unescape_understands_the_documented_escapes() {
    assert_eq!(
        unescape(r"a\r\n\t\0\\\x41\xff\xzz"),
        b"a\r\n\t\0\\A\xff\\xzz".to_vec()
    );
}

/// The default scan probes every port a built-in probe names (the core's `IDENTIFIED_TCP` adds
/// those outside the ranked thousand), except the printer ports, which it never sends data to.
#[test]
fn the_default_ports_cover_every_port_a_probe_names() {
    let cfg = scanopy_core::ScanConfig::default();
    let default = crate::ports::tcp_ports(&cfg);
    let cat = Catalogue::builtin();
    let mut missing = Vec::new();
    for p in &cat.probes {
        for port in &p.ports {
            if cfg.port_allowed(*port) && !default.contains(port) {
                missing.push(format!("{port} ({})", p.id));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "add these to scanopy_core::ports::IDENTIFIED_TCP: {missing:?}"
    );
}

use proptest::prelude::*;
use scanopy_core::{PortState, Transport};

use super::*;
use crate::catalogue::{Catalogue, http_facts};

/// What the TCP scanner makes of one response: the catalogue's rule (as `identify` applies it),
/// the HTTP facts, then recog.
fn scanner_view(on: &str, raw: &[u8]) -> PortFact {
    let cat = Catalogue::builtin();
    let mut fact = PortFact::state(0, Transport::Tcp, PortState::Open);
    let mut seen = Seen::default();
    if on == "http-get" {
        fact.extra.extend(http_facts(raw));
        seen.http(raw);
    } else {
        seen.banner(raw);
    }
    if let Some(id) = cat.identify(on, raw) {
        crate::tcp::apply(&mut fact, id);
    }
    enrich(&mut fact, &seen);
    fact
}

/// The greeting a service sends, around the text recog's examples hold.
fn wire(db: &str, text: &str) -> (&'static str, String) {
    match db {
        "ssh_banners" => ("banner", format!("SSH-2.0-{text}\r\n")),
        "smtp_banners" | "ftp_banners" => ("banner", format!("220 {text}\r\n")),
        "pop_banners" => ("banner", format!("+OK {text}\r\n")),
        "imap_banners" => ("banner", format!("* OK {text}\r\n")),
        "nntp_banners" => ("banner", format!("200 {text}\r\n")),
        "http_servers" => (
            "http-get",
            format!("HTTP/1.1 200 OK\r\nServer: {text}\r\nContent-Length: 0\r\n\r\n"),
        ),
        _ => unreachable!(),
    }
}

fn same_product(ours: &str, theirs: &str) -> bool {
    let (a, b) = (ours.to_ascii_lowercase(), theirs.to_ascii_lowercase());
    a == b
}

/// Of recog's examples of banners and `Server` headers whose fingerprint names a product, the
/// share for which the scanner's whole identification (catalogue, then recog) names that
/// product (compared without case). Printed; issue #13 asks for at least 95 %.
#[test]
fn products_named_on_recogs_banners_and_server_headers() {
    let dbs = [
        "ssh_banners",
        "ftp_banners",
        "smtp_banners",
        "pop_banners",
        "imap_banners",
        "nntp_banners",
        "http_servers",
    ];
    let (mut total, mut named) = (0usize, 0usize);
    let mut misses = Vec::new();
    for db in dbs {
        let d = database(db).unwrap();
        let (mut t, mut n) = (0, 0);
        for f in &d.fingerprints {
            for ex in &f.examples {
                let Some(want) = f
                    .apply(&ex.text)
                    .and_then(|p| p.get("service.product").cloned())
                else {
                    continue;
                };
                if ex.text.contains(['\r', '\n']) {
                    continue; // a multi-line text is not one greeting line or header
                }
                t += 1;
                let (on, raw) = wire(db, &ex.text);
                let got = scanner_view(on, raw.as_bytes());
                if got
                    .product
                    .as_deref()
                    .is_some_and(|p| same_product(p, &want))
                {
                    n += 1;
                } else if misses.len() < 40 {
                    misses.push(format!(
                        "{db}: {:?}: ours {:?} ({}), recog {want:?}",
                        ex.text, got.product, got.evidence
                    ));
                }
            }
        }
        println!("recog share: {db}: {n} of {t} named");
        total += t;
        named += n;
    }
    let share = named as f64 * 100.0 / total as f64;
    println!("recog share: all: {named} of {total} named ({share:.1} %)");
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(total > 1000, "only {total} examples");
    assert!(share >= 95.0, "{share:.1} %");
}

#[test]
fn an_openssh_greeting_gets_product_version_and_os() {
    let f = scanner_view("banner", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    assert_eq!(f.name.as_deref(), Some("ssh"));
    assert_eq!(f.product.as_deref(), Some("OpenSSH"));
    assert_eq!(f.version.as_deref(), Some("9.2p1"));
    assert_eq!(f.extra.get("os.family").map(String::as_str), Some("Linux"));
    assert!(
        f.extra["recog"].starts_with("ssh_banners: "),
        "{:?}",
        f.extra
    );
}

#[test]
fn a_server_header_names_a_product_the_catalogue_does_not_know() {
    let f = scanner_view(
        "http-get",
        b"HTTP/1.1 401 Unauthorized\r\nServer: GoAhead-Webs\r\nWWW-Authenticate: Basic realm=\"Transmission\"\r\n\r\n",
    );
    assert_eq!(f.name.as_deref(), Some("http"));
    assert_eq!(f.product.as_deref(), Some("GoAhead Webserver"), "{f:?}");
    assert!(f.extra["recog"].contains("http_wwwauth"), "{:?}", f.extra);
}

#[test]
fn our_rule_wins_where_it_is_more_specific() {
    let mut fact = PortFact::state(80, Transport::Tcp, PortState::Open);
    fact.name = Some("http".into());
    fact.product = Some("our name".into());
    fact.version = Some("1.2".into());
    let mut seen = Seen::default();
    seen.http(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n");
    let used = enrich(&mut fact, &seen);
    assert!(!used.is_empty());
    assert_eq!(fact.product.as_deref(), Some("our name"));
    assert_eq!(fact.version.as_deref(), Some("1.2"));
}

#[test]
fn certificate_names_are_tried_in_both_orders() {
    let m = x509_match(
        "x509_subjects",
        "C=US, L=Irvine, O=Cisco Systems\\, Inc., OU=RV042G, CN=74:a2:e6:5c:99:21",
    );
    assert_eq!(m.unwrap().get("hw.product"), Some("RV042G"));
}

#[test]
fn a_mysql_greeting_gives_its_version() {
    let mut g = vec![0x4a, 0, 0, 0, 0x0a];
    g.extend_from_slice(b"5.5.23-55\0rest");
    assert_eq!(mysql_version(&g).as_deref(), Some("5.5.23-55"));
    assert_eq!(mysql_version(b"SSH-2.0-x"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_bytes_enrich_without_panicking(banner in proptest::collection::vec(any::<u8>(), 0..300),
                                          http in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut fact = PortFact::state(1, Transport::Tcp, PortState::Open);
        let mut seen = Seen::default();
        seen.banner(&banner);
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        h.extend_from_slice(&http);
        seen.http(&h);
        let _ = enrich(&mut fact, &seen);
        for v in fact.extra.values() {
            prop_assert!(v.chars().count() <= 300);
        }
    }
}

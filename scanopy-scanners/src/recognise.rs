//! What recog's fingerprints add to an identification: the product and version where our
//! catalogue named none (or named a product without a version), the vendor, the OS and the
//! hardware behind a service, each match's fingerprint as evidence.
//!
//! [`enrich`] is a pure function of what a port sent (its greeting and an HTTP response) and
//! the facts already found (the TLS certificate's names); the TCP scanner calls it once per
//! open port, after the catalogue. Our own rules win where they are more specific (they named
//! a product and its version); otherwise recog's product and version are taken.
//!
//! What recog says beyond the product goes to the port's `extra`: `service.vendor`,
//! `os.vendor`, `os.family`, `os.product`, `os.version`, `os.device`, `hw.vendor`,
//! `hw.product`, `hw.device`, `hw.model`, the CPEs, and `recog` naming the fingerprints.

use scanopy_core::{Confidence, PortFact};

use crate::recog::{RecogMatch, database};

/// What recog's parameters go to `extra` as they are.
const KEPT: &[&str] = &[
    "service.vendor",
    "service.family",
    "service.cpe23",
    "os.vendor",
    "os.family",
    "os.product",
    "os.version",
    "os.device",
    "os.cpe23",
    "hw.vendor",
    "hw.product",
    "hw.device",
    "hw.model",
    "hw.cpe23",
];

/// The most bytes of a greeting or a response looked at.
const MAX_TEXT: usize = 16 * 1024;

/// What one port sent, as the scanner read it.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// What it sent first, unasked (empty if nothing).
    pub banner: Vec<u8>,
    /// An HTTP response to our request (empty if none).
    pub http: Vec<u8>,
}

impl Seen {
    /// Keeps the first bytes of a greeting.
    pub fn banner(&mut self, b: &[u8]) {
        if self.banner.is_empty() {
            self.banner = b[..b.len().min(MAX_TEXT)].to_vec();
        }
    }

    /// Keeps the first bytes of an HTTP response.
    pub fn http(&mut self, b: &[u8]) {
        if self.http.is_empty() && b.starts_with(b"HTTP/") {
            self.http = b[..b.len().min(MAX_TEXT)].to_vec();
        }
    }
}

/// Adds what recog recognises in `seen` (and in the certificate names in `fact.extra`) to
/// `fact`. Returns the matches used, first the one that named the product.
pub fn enrich(fact: &mut PortFact, seen: &Seen) -> Vec<RecogMatch> {
    let mut found: Vec<(Option<&'static str>, RecogMatch)> = Vec::new();
    if let Some(m) = banner_match(fact.name.as_deref(), &seen.banner) {
        found.push(m);
    }
    for (db, text) in http_texts(&seen.http, fact.extra.get("http.title").map(String::as_str)) {
        if let Some(m) = database(db).and_then(|d| d.first_match(&text)) {
            found.push((Some("http"), m));
        }
    }
    for (key, db) in [
        ("tls.subject", "x509_subjects"),
        ("tls.issuer", "x509_issuers"),
    ] {
        if let Some(name) = fact.extra.get(key) {
            if let Some(m) = x509_match(db, name) {
                found.push((None, m));
            }
        }
    }
    if found.is_empty() {
        return Vec::new();
    }
    merge(fact, &found);
    found.into_iter().map(|(_, m)| m).collect()
}

/// Adds what recog's database `db` recognises in one text a service reported about itself (an
/// SNMP agent's sysDescr, a DNS server's `version.bind`) to `fact`; `None` if nothing matched.
pub fn enrich_text(fact: &mut PortFact, db: &str, text: &str) -> Option<RecogMatch> {
    let text: String = text.chars().take(MAX_TEXT).collect();
    let m = database(db)?.first_match(&text)?;
    merge(fact, &[(None, m.clone())]);
    Some(m)
}

/// Folds the matches into the fact: the first product wins unless the catalogue's rule was
/// more specific; other parameters fill what is still empty.
fn merge(fact: &mut PortFact, found: &[(Option<&'static str>, RecogMatch)]) {
    let ours_specific = fact.product.is_some() && fact.version.is_some();
    if let Some((service, m)) = found
        .iter()
        .find(|(_, m)| m.get("service.product").is_some())
    {
        if !ours_specific {
            let product = m.get("service.product").map(str::to_owned);
            if product != fact.product {
                fact.version = None;
            }
            fact.product = product;
            if let Some(v) = m.get("service.version") {
                fact.version = Some(v.to_owned());
            }
            if fact.name.is_none() {
                if let Some(s) = service {
                    fact.name = Some((*s).to_owned());
                    fact.confidence = Confidence::Medium;
                }
            }
            if fact.evidence.is_empty() || fact.evidence == "no rule matched" {
                fact.evidence = format!("recog:{}", m.database);
            }
        }
    }
    if fact.name.is_none() {
        if let Some((Some(s), m)) = found.iter().find(|(s, _)| s.is_some()) {
            fact.name = Some((*s).to_owned());
            fact.confidence = Confidence::Low;
            fact.evidence = format!("recog:{}", m.database);
        }
    }
    for (_, m) in found {
        for k in KEPT {
            if let Some(v) = m.get(k) {
                fact.extra.entry((*k).to_owned()).or_insert_with(|| clip(v));
            }
        }
    }
    let why: Vec<String> = found
        .iter()
        .map(|(_, m)| format!("{}: {}", m.database, m.description))
        .collect();
    fact.extra.insert("recog".into(), clip(&why.join("; ")));
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

/// The greeting's database and the text recog expects there (the greeting without its
/// protocol's prefix), chosen by the service the catalogue named or by the greeting's shape.
fn banner_match(
    service: Option<&str>,
    banner: &[u8],
) -> Option<(Option<&'static str>, RecogMatch)> {
    if banner.is_empty() {
        return None;
    }
    if let Some(v) = mysql_version(banner) {
        if service.is_none_or(|s| s == "mysql") {
            return database("mysql_banners")?
                .first_match(&v)
                .map(|m| (Some("mysql"), m));
        }
    }
    let text = String::from_utf8_lossy(banner);
    let first = text.lines().next().unwrap_or_default().trim_end();
    let candidates: &[(&str, &str, &str)] = &[
        // (service, database, the prefix recog's texts leave out)
        ("ssh", "ssh_banners", "SSH-"),
        ("smtp", "smtp_banners", "220"),
        ("ftp", "ftp_banners", "220"),
        ("pop3", "pop_banners", "+OK"),
        ("imap", "imap_banners", "* OK"),
        ("nntp", "nntp_banners", "20"),
        ("telnet", "telnet_banners", ""),
    ];
    // The service the catalogue named first, then those whose prefix the greeting has (a
    // `220` greeting is SMTP or FTP, whatever a generic rule guessed).
    let named = candidates.iter().filter(|c| service == Some(c.0));
    let shaped = candidates
        .iter()
        .filter(|c| service != Some(c.0) && !c.2.is_empty() && first.starts_with(c.2));
    for &(svc, db, prefix) in named.chain(shaped) {
        let input = match svc {
            // `SSH-2.0-OpenSSH_9.2p1 Debian-2`: recog sees `OpenSSH_9.2p1 Debian-2`.
            "ssh" => first.splitn(3, '-').nth(2).unwrap_or(first).to_owned(),
            // `220 mail.example.com ESMTP Postfix`, `220-…` continuation lines: the text.
            "smtp" | "ftp" => strip_code(first),
            "pop3" | "imap" => first.get(prefix.len()..).unwrap_or("").trim().to_owned(),
            "nntp" => strip_code(first),
            _ => text.trim().to_owned(),
        };
        if let Some(m) = database(db).and_then(|d| d.first_match(&input)) {
            return Some((Some(svc), m));
        }
    }
    None
}

/// `220 text`, `220-text`: the text.
fn strip_code(line: &str) -> String {
    let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.strip_prefix([' ', '-'])
        .unwrap_or(rest)
        .trim()
        .to_owned()
}

/// The server version in a MySQL/MariaDB greeting: a packet header, protocol 10, the version
/// up to its NUL.
fn mysql_version(b: &[u8]) -> Option<String> {
    if b.len() < 6 || b[4] != 0x0a {
        return None;
    }
    let body = &b[5..];
    let end = body.iter().position(|&c| c == 0)?;
    let v = std::str::from_utf8(&body[..end]).ok()?;
    (!v.is_empty() && v.len() < 100 && v.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| v.to_owned())
}

/// The texts of an HTTP response recog has databases for, in the order they are trusted: the
/// `Server` header, `WWW-Authenticate`, `X-Powered-By`, each `Set-Cookie`, the page's title.
fn http_texts(response: &[u8], title: Option<&str>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !response.is_empty() {
        let text = String::from_utf8_lossy(response);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut cookies = Vec::new();
        for line in head.lines().skip(1) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim().to_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "server" => out.insert(0, ("http_servers", v)),
                "www-authenticate" => out.push(("http_wwwauth", v)),
                "x-powered-by" => out.push(("http_xpoweredby", v)),
                "set-cookie" if cookies.len() < 8 => cookies.push(("http_cookies", v)),
                _ => {}
            }
        }
        out.extend(cookies);
    }
    if let Some(t) = title {
        out.push(("html_title", t.to_owned()));
    }
    out
}

/// recog writes names as `CN=x,OU=y,O=z,C=US` (RFC 4514, most specific first); the certificate
/// parser gives `C=US, O=z, CN=x`. Both orders are tried.
fn x509_match(db: &str, name: &str) -> Option<RecogMatch> {
    let d = database(db)?;
    // Split at `, ` between attributes, not at an escaped `\, ` inside a value.
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = name.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b',' && bytes[i + 1] == b' ' && (i == 0 || bytes[i - 1] != b'\\') {
            parts.push(&name[start..i]);
            start = i + 2;
        }
    }
    parts.push(&name[start.min(name.len())..]);
    let forward = parts.join(",");
    let mut rev = parts.clone();
    rev.reverse();
    d.first_match(&rev.join(","))
        .or_else(|| d.first_match(&forward))
}

#[cfg(test)]
mod tests;

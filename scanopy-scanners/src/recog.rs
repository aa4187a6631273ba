//! Rapid7's recog fingerprint databases, as data: what a banner, an HTTP header or a certificate
//! name says about the product, its version, the OS and the hardware behind it.
//!
//! The XML files in `data/recog/` are recog's, unchanged (BSD-2-Clause, Rapid7; the licence and
//! their origin are in `data/recog/README.md`). Each `<fingerprint>` has a regex `pattern` in
//! Ruby's syntax, `<param>`s that say what a match means (`service.product` as a literal,
//! `service.version` from capture group 1, `os.family`, `hw.vendor`, …) and `<example>`s with the
//! values they must produce; every example is a test (`recog/tests.rs`).
//!
//! Ruby's regexes differ from `regex-lite`'s (the engine here) in a few ways, translated here: `^` and `$`
//! always match at line ends in Ruby (so every pattern gets `(?m)`), and Ruby's `m` flag (and
//! recog's `REG_DOT_NEWLINE`/`REG_MULTILINE`) lets `.` match a newline (our `s`). A pattern the
//! engine cannot take (a possessive quantifier, say) is kept with the reason and never
//! matches; [`Database::unsupported`] lists them.
//!
//! Matching is a pure function of the text: [`Database::first_match`]. A database is parsed and
//! its regexes compiled once per process, on first use ([`database`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex_lite::{Regex, RegexBuilder};

/// The databases compiled into the binary: the file's stem and its text.
const FILES: &[(&str, &str)] = &[
    ("ssh_banners", include_str!("../data/recog/ssh_banners.xml")),
    ("ftp_banners", include_str!("../data/recog/ftp_banners.xml")),
    (
        "smtp_banners",
        include_str!("../data/recog/smtp_banners.xml"),
    ),
    ("pop_banners", include_str!("../data/recog/pop_banners.xml")),
    (
        "imap_banners",
        include_str!("../data/recog/imap_banners.xml"),
    ),
    (
        "telnet_banners",
        include_str!("../data/recog/telnet_banners.xml"),
    ),
    (
        "nntp_banners",
        include_str!("../data/recog/nntp_banners.xml"),
    ),
    (
        "mysql_banners",
        include_str!("../data/recog/mysql_banners.xml"),
    ),
    (
        "http_servers",
        include_str!("../data/recog/http_servers.xml"),
    ),
    (
        "http_wwwauth",
        include_str!("../data/recog/http_wwwauth.xml"),
    ),
    (
        "http_xpoweredby",
        include_str!("../data/recog/http_xpoweredby.xml"),
    ),
    (
        "http_cookies",
        include_str!("../data/recog/http_cookies.xml"),
    ),
    ("html_title", include_str!("../data/recog/html_title.xml")),
    (
        "rtsp_servers",
        include_str!("../data/recog/rtsp_servers.xml"),
    ),
    ("sip_banners", include_str!("../data/recog/sip_banners.xml")),
    (
        "sip_user_agents",
        include_str!("../data/recog/sip_user_agents.xml"),
    ),
    (
        "snmp_sysdescr",
        include_str!("../data/recog/snmp_sysdescr.xml"),
    ),
    (
        "snmp_sysobjid",
        include_str!("../data/recog/snmp_sysobjid.xml"),
    ),
    (
        "x509_subjects",
        include_str!("../data/recog/x509_subjects.xml"),
    ),
    (
        "x509_issuers",
        include_str!("../data/recog/x509_issuers.xml"),
    ),
    (
        "mdns_device-info_txt",
        include_str!("../data/recog/mdns_device-info_txt.xml"),
    ),
    (
        "mdns_workstation_txt",
        include_str!("../data/recog/mdns_workstation_txt.xml"),
    ),
    (
        "dhcp_vendor_class",
        include_str!("../data/recog/dhcp_vendor_class.xml"),
    ),
    (
        "dns_versionbind",
        include_str!("../data/recog/dns_versionbind.xml"),
    ),
    (
        "smb_native_os",
        include_str!("../data/recog/smb_native_os.xml"),
    ),
    (
        "smb_native_lm",
        include_str!("../data/recog/smb_native_lm.xml"),
    ),
    ("ntp_banners", include_str!("../data/recog/ntp_banners.xml")),
    (
        "operating_system",
        include_str!("../data/recog/operating_system.xml"),
    ),
];

/// The names of the built-in databases (recog's file stems: `ssh_banners`, `http_servers`, …).
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(n, _)| *n)
}

/// A built-in database by name, parsed on first use; `None` for a name not built in.
///
/// # Panics
/// Never in a released build: every built-in database is parsed by the tests.
pub fn database(name: &str) -> Option<&'static Database> {
    static PARSED: OnceLock<Vec<OnceLock<Database>>> = OnceLock::new();
    let cells = PARSED.get_or_init(|| FILES.iter().map(|_| OnceLock::new()).collect());
    let i = FILES.iter().position(|(n, _)| *n == name)?;
    Some(cells[i].get_or_init(|| {
        Database::parse(FILES[i].0, FILES[i].1).expect("the built-in recog databases are valid")
    }))
}

/// A database that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecogError {
    /// Not well-formed XML.
    #[error("recog database {name}: {source}")]
    Xml {
        /// The name the database was parsed under (`ssh_banners` for a built-in one).
        name: String,
        /// The XML parser's error, with its position.
        #[source]
        source: roxmltree::Error,
    },
    /// Well-formed, but not a fingerprint database.
    #[error("recog database {name}: {reason}")]
    Format {
        /// The name the database was parsed under (`ssh_banners` for a built-in one).
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// One recog database: fingerprints for one kind of text, tried in order.
#[derive(Debug)]
pub struct Database {
    /// The file's stem (`ssh_banners`).
    pub name: String,
    /// What it matches, as recog names it (`ssh.banner`, `http_header.server`); may be empty.
    pub matches: String,
    /// Its fingerprints, in the file's order.
    pub fingerprints: Vec<Fingerprint>,
}

/// One fingerprint: a pattern, what a match means, and examples.
#[derive(Debug)]
pub struct Fingerprint {
    /// recog's description of what it recognises.
    pub description: String,
    /// The pattern as recog wrote it.
    pub pattern: String,
    /// The compiled pattern, or why the engine cannot take it.
    regex: Result<Regex, String>,
    params: Vec<Param>,
    /// Texts this fingerprint must match, with the values they must give.
    pub examples: Vec<Example>,
}

#[derive(Debug)]
struct Param {
    /// 0: `value` is the value; n: capture group n is.
    pos: usize,
    name: String,
    value: String,
}

/// A text a fingerprint must match and what it must give.
#[derive(Debug, Clone)]
pub struct Example {
    /// The text (decoded when recog stored it in base64).
    pub text: String,
    /// The values the match must give, by parameter name.
    pub expect: BTreeMap<String, String>,
}

/// What a fingerprint made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecogMatch {
    /// The database (`ssh_banners`).
    pub database: String,
    /// The fingerprint's description: the evidence.
    pub description: String,
    /// What it says: `service.product`, `service.version`, `os.family`, `hw.vendor`, …
    pub params: BTreeMap<String, String>,
}

impl RecogMatch {
    /// A parameter's value, if it has one that is not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl Database {
    /// Parses a database document; `name` names it in errors and matches.
    pub fn parse(name: &str, xml: &str) -> Result<Database, RecogError> {
        let doc = roxmltree::Document::parse(xml).map_err(|source| RecogError::Xml {
            name: name.into(),
            source,
        })?;
        let root = doc.root_element();
        if root.tag_name().name() != "fingerprints" {
            return Err(RecogError::Format {
                name: name.into(),
                reason: format!(
                    "the root is <{}>, not <fingerprints>",
                    root.tag_name().name()
                ),
            });
        }
        let fingerprints = root
            .children()
            .filter(|n| n.has_tag_name("fingerprint"))
            .map(|n| fingerprint(name, n))
            .collect::<Result<_, _>>()?;
        Ok(Database {
            name: name.into(),
            matches: root.attribute("matches").unwrap_or_default().into(),
            fingerprints,
        })
    }

    /// The first fingerprint that matches `text`, as recog tries them: in the file's order.
    pub fn first_match(&self, text: &str) -> Option<RecogMatch> {
        self.fingerprints.iter().find_map(|f| {
            f.apply(text).map(|params| RecogMatch {
                database: self.name.clone(),
                description: f.description.clone(),
                params,
            })
        })
    }

    /// The fingerprints whose pattern the engine cannot take, with the reason.
    pub fn unsupported(&self) -> Vec<(&Fingerprint, &str)> {
        self.fingerprints
            .iter()
            .filter_map(|f| f.regex.as_ref().err().map(|e| (f, e.as_str())))
            .collect()
    }
}

impl Fingerprint {
    /// Whether the pattern compiled (an unsupported one never matches).
    pub fn supported(&self) -> bool {
        self.regex.is_ok()
    }

    /// The values this fingerprint gives for `text`, if it matches.
    pub fn apply(&self, text: &str) -> Option<BTreeMap<String, String>> {
        let re = self.regex.as_ref().ok()?;
        let caps = re.captures(text)?;
        let mut out = BTreeMap::new();
        for p in &self.params {
            if p.pos == 0 {
                out.insert(p.name.clone(), p.value.clone());
            } else if let Some(m) = caps.get(p.pos) {
                out.insert(p.name.clone(), m.as_str().to_owned());
            }
        }
        // Literal values may name other parameters: `cpe:/a:openbsd:openssh:{service.version}`.
        let known = out.clone();
        out.retain(|_, v| interpolate(v, &known));
        Some(out)
    }
}

/// Replaces each `{name}` in `v` with that parameter's value; false when one is missing (recog
/// then leaves the parameter out).
fn interpolate(v: &mut String, known: &BTreeMap<String, String>) -> bool {
    if !v.contains('{') {
        return true;
    }
    let mut out = String::with_capacity(v.len());
    let mut rest = v.as_str();
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let key = &rest[start + 1..start + len];
        match known.get(key) {
            Some(val) => {
                out.push_str(&rest[..start]);
                out.push_str(val);
            }
            None => return false,
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    *v = out;
    true
}

fn fingerprint(db: &str, n: roxmltree::Node) -> Result<Fingerprint, RecogError> {
    let format = |reason: String| RecogError::Format {
        name: db.into(),
        reason,
    };
    let pattern = n
        .attribute("pattern")
        .ok_or_else(|| format("a fingerprint without a pattern".into()))?
        .to_owned();
    let flags = n.attribute("flags").unwrap_or_default();
    let child_text = |tag: &str| {
        n.children()
            .find(|c| c.has_tag_name(tag))
            .and_then(|c| c.text())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut params = Vec::new();
    let mut examples = Vec::new();
    for c in n.children().filter(|c| c.is_element()) {
        match c.tag_name().name() {
            "param" => params.push(Param {
                pos: c
                    .attribute("pos")
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| format(format!("{pattern:?}: a param without a position")))?,
                name: c.attribute("name").unwrap_or_default().into(),
                value: c.attribute("value").unwrap_or_default().into(),
            }),
            "example" => examples.push(example(c)),
            _ => {}
        }
    }
    Ok(Fingerprint {
        description: child_text("description"),
        regex: compile(&pattern, flags),
        pattern,
        params,
        examples,
    })
}

fn example(c: roxmltree::Node) -> Example {
    let raw = c.text().unwrap_or_default();
    let text = if c.attribute("_encoding") == Some("base64") {
        decode_base64(raw)
    } else {
        raw.to_owned()
    };
    let expect = c
        .attributes()
        .filter(|a| !a.name().starts_with('_'))
        .map(|a| (a.name().to_owned(), a.value().to_owned()))
        .collect();
    Example { text, expect }
}

/// Decodes recog's base64 examples (whitespace ignored); bytes that are not UTF-8 are replaced.
fn decode_base64(s: &str) -> String {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compiles a recog pattern (Ruby syntax) with recog's flags, or says why it cannot.
///
/// With `regex-lite`: Ruby's `\w`, `\d` and `\s` are ASCII classes, and so are regex-lite's;
/// its compiled patterns are small (the 580 of `snmp_sysdescr` compile in 15 ms into 7.5 MiB,
/// where the `regex` crate took 300 ms and 60 MiB; `cargo run --release -p scanopy-benches --bin
/// recog_cost` measures it), and
/// texts matched here are short (banners, headers, titles, descriptions).
fn compile(pattern: &str, flags: &str) -> Result<Regex, String> {
    let translated = ruby_to_rust(pattern);
    RegexBuilder::new(&translated)
        .multi_line(true)
        .size_limit(16 << 20)
        .case_insensitive(flags.contains("REG_ICASE"))
        .dot_matches_new_line(flags.contains("REG_DOT_NEWLINE") || flags.contains("REG_MULTILINE"))
        .build()
        .map_err(|e| {
            // The regex crate's messages span lines with a caret; the last line says why.
            e.to_string()
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("unsupported")
                .trim()
                .to_owned()
        })
}

/// Ruby's inline `m` flag is our `s` (dot matches newline); Ruby has no `s`. Everything else is
/// passed on as it is.
fn ruby_to_rust(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i] as char;
        if c == '\\' && i + 1 < b.len() {
            out.push_str(&p[i..i + 1 + utf8_len(b[i + 1])]);
            i += 1 + utf8_len(b[i + 1]);
            continue;
        }
        if in_class {
            in_class = c != ']';
        } else if c == '[' {
            in_class = true;
            // A `]` right after `[` or `[^` is a literal in both syntaxes.
            let skip = if p[i + 1..].starts_with('^') { 2 } else { 1 };
            if p[i + skip..].starts_with(']') {
                out.push_str(&p[i..i + skip + 1]);
                i += skip + 1;
                continue;
            }
        } else if p[i..].starts_with("(?") {
            let flags: String = p[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
                .collect();
            let after = p[i + 2 + flags.len()..].chars().next();
            if !flags.is_empty() && matches!(after, Some(':' | ')')) {
                out.push_str("(?");
                out.push_str(&flags.replace('m', "s"));
                i += 2 + flags.len();
                continue;
            }
        }
        let len = utf8_len(b[i]);
        out.push_str(&p[i..i + len]);
        i += len;
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests;

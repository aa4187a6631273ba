//! The service catalogue: data that says how to recognise a service from what it sends.
//!
//! # Format
//! A JSON document (the built-in one is `data/services.json`, compiled in; users add their own
//! with [`Catalogue::with_file`], whose rules are tried before the built-in ones):
//!
//! ```json
//! {
//!   "probes": [
//!     { "id": "redis-ping", "send": "PING\\r\\n", "ports": [6379] },
//!     { "id": "http-get", "fallback": true, "send": "GET / HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n", "ports": [80] }
//!   ],
//!   "rules": [
//!     { "id": "ssh-openssh", "on": "banner", "service": "ssh",
//!       "pattern": "^SSH-[0-9.]+-OpenSSH_([A-Za-z0-9.]+)",
//!       "product": "OpenSSH", "version": "$1", "confidence": "high" }
//!   ]
//! }
//! ```
//!
//! - A **probe** is bytes to send to a port that did not speak first. `send` understands `\r`,
//!   `\n`, `\t`, `\0`, `\\` and `\xNN`, and `{host}` for the target's address. `ports` are the
//!   ports it is tried on first; a `fallback` probe is tried on any port no other probe claims.
//! - A **rule** matches what came back: `on` is `banner` (what the service sent on connect) or
//!   a probe id; `pattern` is a byte regex (`regex::bytes` syntax, Unicode off); `product` and
//!   `version` may use captures (`$1`); `confidence` is `low`, `medium` or `high`. The first
//!   matching rule wins, so specific rules come before generic ones. The rule id is the
//!   evidence recorded with the result.
//!
//! Matching is a pure function: bytes in, identification out ([`Catalogue::identify`]).

use std::collections::BTreeMap;
use std::path::Path;

use regex::bytes::{Regex, RegexBuilder};
use scanopy_core::Confidence;
use serde::Deserialize;

const BUILTIN: &str = include_str!("../data/services.json");

/// A catalogue that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file could not be read.
    #[error("failed to read service catalogue {path}: {source}")]
    Read {
        /// The user catalogue's path, as given.
        path: String,
        /// The read error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON is malformed.
    #[error("failed to parse service catalogue {origin}: {source}")]
    Parse {
        /// Where it came from.
        origin: String,
        /// The JSON error, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A rule is wrong.
    #[error("service catalogue {origin}: rule {rule:?}: {reason}")]
    Rule {
        /// Where it came from.
        origin: String,
        /// The rule's id.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    probes: Vec<ProbeDef>,
    #[serde(default)]
    rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
struct ProbeDef {
    id: String,
    send: String,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    fallback: bool,
}

#[derive(Debug, Deserialize)]
struct RuleDef {
    id: String,
    on: String,
    service: String,
    pattern: String,
    product: Option<String>,
    version: Option<String>,
    #[serde(default)]
    confidence: Confidence,
    /// A response this rule must identify (same escapes as `send`); the built-in catalogue's
    /// test checks every rule against its example, so no rule is shadowed by an earlier one.
    #[serde(default)]
    example: Option<String>,
}

/// A probe: bytes to send to a port that did not speak first.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its id, named by rules' `on`.
    pub id: String,
    send: Vec<u8>,
    /// Ports it is tried on first.
    pub ports: Vec<u16>,
    /// Tried on ports no probe claims.
    pub fallback: bool,
}

impl Probe {
    /// The bytes to send to `host`.
    pub fn payload(&self, host: &str) -> Vec<u8> {
        let marker = b"{host}";
        let mut out = Vec::with_capacity(self.send.len() + host.len());
        let mut i = 0;
        while i < self.send.len() {
            if self.send[i..].starts_with(marker) {
                out.extend_from_slice(host.as_bytes());
                i += marker.len();
            } else {
                out.push(self.send[i]);
                i += 1;
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Rule {
    example: Option<Vec<u8>>,
    id: String,
    on: String,
    service: String,
    pattern: Regex,
    product: Option<String>,
    version: Option<String>,
    confidence: Confidence,
}

/// What a rule made of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    /// The service name (`ssh`, `http`).
    pub service: String,
    /// The product, if the rule tells.
    pub product: Option<String>,
    /// The version, if captured.
    pub version: Option<String>,
    /// How sure the identification is, as the rule declares (`low`, `medium`, `high`).
    pub confidence: Confidence,
    /// The `id` of the rule that matched; it becomes the port fact's `evidence`.
    pub rule: String,
}

/// Probes and rules, ready to match.
#[derive(Debug, Clone)]
pub struct Catalogue {
    probes: Vec<Probe>,
    rules: Vec<Rule>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::builtin()
    }
}

impl Catalogue {
    /// The catalogue compiled into the binary.
    ///
    /// # Panics
    /// Never in a released build: the built-in catalogue is checked by the tests.
    pub fn builtin() -> Self {
        // Compiled once per process: every scanner that needs it gets a cheap clone (compiled
        // regexes are shared).
        static BUILT: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
        BUILT
            .get_or_init(|| {
                Catalogue::parse(BUILTIN, "built-in")
                    .expect("the built-in service catalogue is valid")
            })
            .clone()
    }

    /// Parses a catalogue document.
    pub fn parse(json: &str, origin: &str) -> Result<Self, CatalogueError> {
        let file: File = serde_json::from_str(json).map_err(|source| CatalogueError::Parse {
            origin: origin.into(),
            source,
        })?;
        let probe_ids: Vec<&str> = file.probes.iter().map(|p| p.id.as_str()).collect();
        let mut rules = Vec::with_capacity(file.rules.len());
        for r in &file.rules {
            let err = |reason: String| CatalogueError::Rule {
                origin: origin.into(),
                rule: r.id.clone(),
                reason,
            };
            if r.on != "banner" && !probe_ids.contains(&r.on.as_str()) {
                return Err(err(format!("`on` names no probe: {:?}", r.on)));
            }
            let pattern = RegexBuilder::new(&r.pattern)
                .unicode(false)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| err(format!("bad pattern: {e}")))?;
            rules.push(Rule {
                example: r.example.as_deref().map(unescape),
                id: r.id.clone(),
                on: r.on.clone(),
                service: r.service.clone(),
                pattern,
                product: r.product.clone(),
                version: r.version.clone(),
                confidence: r.confidence,
            });
        }
        let probes = file
            .probes
            .into_iter()
            .map(|p| Probe {
                send: unescape(&p.send),
                id: p.id,
                ports: p.ports,
                fallback: p.fallback,
            })
            .collect();
        Ok(Catalogue { probes, rules })
    }

    /// This catalogue with a user file's probes and rules added; its rules are tried first.
    pub fn with_file(self, path: &Path) -> Result<Self, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let user = Catalogue::parse_with_probes(&text, &path.display().to_string(), &self.probes)?;
        let mut probes = user.probes;
        probes.extend(self.probes);
        let mut rules = user.rules;
        rules.extend(self.rules);
        Ok(Catalogue { probes, rules })
    }

    fn parse_with_probes(
        json: &str,
        origin: &str,
        known: &[Probe],
    ) -> Result<Self, CatalogueError> {
        // Let user rules name built-in probes: parse with the known probes added, then drop them.
        let mut file: serde_json::Value =
            serde_json::from_str(json).map_err(|source| CatalogueError::Parse {
                origin: origin.into(),
                source,
            })?;
        let own = file
            .get("probes")
            .and_then(|p| p.as_array())
            .map(Vec::len)
            .unwrap_or(0);
        if let Some(obj) = file.as_object_mut() {
            let probes = obj.entry("probes").or_insert_with(|| serde_json::json!([]));
            if let Some(arr) = probes.as_array_mut() {
                for p in known {
                    arr.push(serde_json::json!({"id": p.id, "send": ""}));
                }
            }
        }
        let mut c = Catalogue::parse(&file.to_string(), origin)?;
        c.probes.truncate(own);
        Ok(c)
    }

    /// Number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Number of definitions: rules and probes.
    pub fn definition_count(&self) -> usize {
        self.rules.len() + self.probes.len()
    }

    /// Checks every rule that carries an example: the example must be identified by that very
    /// rule (not by an earlier, broader one). Returns the rules that fail, with what matched.
    pub fn check_examples(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.rules {
            let Some(ex) = &r.example else {
                out.push(format!("{}: no example", r.id));
                continue;
            };
            match self.identify(&r.on, ex) {
                Some(id) if id.rule == r.id => {}
                Some(id) => out.push(format!("{}: its example is taken by {}", r.id, id.rule)),
                None => out.push(format!("{}: its example matches nothing", r.id)),
            }
        }
        out
    }

    /// The ids of the probes.
    pub fn probe_ids(&self) -> Vec<&str> {
        self.probes.iter().map(|p| p.id.as_str()).collect()
    }

    /// The probes to try on `port`, in order: those that name the port, then the fallbacks.
    pub fn probes_for(&self, port: u16) -> Vec<&Probe> {
        let mut out: Vec<&Probe> = self
            .probes
            .iter()
            .filter(|p| p.ports.contains(&port))
            .collect();
        for p in self.probes.iter().filter(|p| p.fallback) {
            if !out.iter().any(|q| q.id == p.id) {
                out.push(p);
            }
        }
        out
    }

    /// Identifies a response: `on` is `banner` or the id of the probe that drew it.
    pub fn identify(&self, on: &str, response: &[u8]) -> Option<Identification> {
        if response.is_empty() {
            return None;
        }
        self.rules.iter().filter(|r| r.on == on).find_map(|r| {
            let caps = r.pattern.captures(response)?;
            let expand = |tpl: &Option<String>| -> Option<String> {
                let tpl = tpl.as_ref()?;
                let mut out = Vec::new();
                caps.expand(tpl.as_bytes(), &mut out);
                let s = String::from_utf8_lossy(&out)
                    .trim()
                    .trim_end_matches('.')
                    .to_owned();
                (!s.is_empty()).then_some(s)
            };
            Some(Identification {
                service: r.service.clone(),
                product: expand(&r.product),
                version: expand(&r.version),
                confidence: r.confidence,
                rule: r.id.clone(),
            })
        })
    }
}

/// Facts worth keeping from an HTTP response: `http.server`, `http.title`, `http.status`.
pub fn http_facts(response: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let text = String::from_utf8_lossy(&response[..response.len().min(64 * 1024)]);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    if let Some(status) = lines.next().filter(|l| l.starts_with("HTTP/")) {
        if let Some(code) = status.split_whitespace().nth(1) {
            out.insert("http.status".into(), code.to_owned());
        }
    }
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("server") {
                out.insert("http.server".into(), v.trim().to_owned());
            }
        }
    }
    let lower = body.to_ascii_lowercase();
    if let Some(start) = lower.find("<title") {
        if let Some(gt) = lower[start..].find('>') {
            let from = start + gt + 1;
            if let Some(end) = lower[from..].find("</title>") {
                let title: String = body[from..from + end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if !title.is_empty() {
                    out.insert("http.title".into(), title.chars().take(200).collect());
                }
            }
        }
    }
    out
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 4;
                            continue;
                        }
                        None => out.extend_from_slice(b"\\x"),
                    }
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;

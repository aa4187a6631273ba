//! A device's operating system from all its evidence: what scanners observed as hints
//! ([`crate::Fact::Os`]: a TTL, a greeting), what fingerprints read in its services' answers
//! (recog's `os.*` parameters in a service's `extra`), its ports, its announcements and whether
//! it is a container.
//!
//! A pure function of the merged device and its hints, like [`crate::classify`], so the merge
//! stays independent of order. Each family's evidence is weighed (low 1, medium 3, high 9); the
//! heaviest family wins (ties to the name that sorts first). The result is `high` when a hint
//! itself is, or when two pieces of medium evidence from different places agree. The product
//! and version come from the strongest evidence that names them.

use crate::model::{Confidence, Device, Os, OsHint, PortState, Transport};

/// The most evidence lines a device's [`Os`] keeps.
pub const MAX_EVIDENCE: usize = 8;
/// The longest family, product, version or evidence text kept, in characters.
pub const MAX_TEXT: usize = 120;

fn weight(c: Confidence) -> u32 {
    match c {
        Confidence::Low => 1,
        Confidence::Medium => 3,
        Confidence::High => 9,
    }
}

/// Text from the network, fit to keep: control characters dropped, trimmed, bounded.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn hint(
    confidence: Confidence,
    family: &str,
    name: Option<&str>,
    version: Option<&str>,
    evidence: String,
) -> OsHint {
    let opt = |s: Option<&str>| s.map(clean).filter(|s| !s.is_empty());
    OsHint {
        confidence,
        family: clean(family),
        name: opt(name),
        version: opt(version),
        evidence: clean(&evidence),
    }
}

/// The initial TTL a received TTL (hop limit) most likely started from: the smallest of the
/// common initial values (64, 128, 255) at or above it. `None` for 0, which no sender starts from.
pub fn initial_ttl(ttl: u8) -> Option<u8> {
    match ttl {
        0 => None,
        1..=64 => Some(64),
        65..=128 => Some(128),
        _ => Some(255),
    }
}

/// The OS family an initial TTL points to, a guess:
/// - 64: `Unix`: Linux, Android, macOS, iOS and the BSDs all start there, so the TTL cannot
///   tell them apart (stronger evidence, a banner or an mDNS model, names which);
/// - 128: `Windows`;
/// - 255: `Network OS`: routers, switches and other network gear (Cisco IOS and the like;
///   some older Unix systems, Solaris and AIX, start there too).
pub fn ttl_family(ttl: u8) -> Option<&'static str> {
    match initial_ttl(ttl)? {
        64 => Some("Unix"),
        128 => Some("Windows"),
        _ => Some("Network OS"),
    }
}

/// The low-confidence OS hint of a received TTL; `how` names the packet (`tcp syn-ack`, `icmp
/// echo`): evidence `ttl 63 (icmp echo)`.
pub fn ttl_hint(ttl: u8, how: &str) -> Option<OsHint> {
    Some(hint(
        Confidence::Low,
        ttl_family(ttl)?,
        None,
        None,
        format!("ttl {ttl} ({how})"),
    ))
}

/// What the device's services and announcements say of its OS.
pub fn device_hints(d: &Device) -> Vec<OsHint> {
    let mut out = Vec::new();
    for s in &d.services {
        let Some(family) = s.extra.get("os.family").filter(|f| !f.trim().is_empty()) else {
            continue;
        };
        let product = s.extra.get("os.product").map(String::as_str);
        let vendor = s.extra.get("os.vendor").map(String::as_str);
        // recog names a distribution as the vendor of the product "Linux".
        let name = match (product, vendor) {
            (Some(p), Some(v)) if p.eq_ignore_ascii_case(family) => Some(v),
            (Some(p), _) if !p.eq_ignore_ascii_case(family) => Some(p),
            (_, v) => v.filter(|v| !v.eq_ignore_ascii_case("microsoft")),
        };
        let what = s.product.as_deref().unwrap_or(&s.name);
        out.push(hint(
            Confidence::Medium,
            family,
            name,
            s.extra.get("os.version").map(String::as_str),
            format!("{}/{} {what}", s.port, s.transport),
        ));
    }
    if let Some(model) = d
        .services
        .iter()
        .find_map(|s| s.extra.get("mdns.model"))
        .map(|m| m.to_ascii_lowercase())
    {
        let family = if ["macbook", "imac", "macmini", "macpro", "mac1", "mac"]
            .iter()
            .any(|p| model.starts_with(p))
        {
            Some("macOS")
        } else if model.starts_with("iphone") || model.starts_with("ipad") {
            Some("iOS")
        } else if model.starts_with("appletv") {
            Some("tvOS")
        } else {
            None
        };
        if let Some(f) = family {
            out.push(hint(
                Confidence::Medium,
                f,
                None,
                None,
                format!("mdns model {model}"),
            ));
        }
    }
    let open = |p: u16| {
        d.services
            .iter()
            .any(|s| s.port == p && s.transport == Transport::Tcp && s.state == PortState::Open)
    };
    if open(135) && (open(445) || open(3389)) {
        out.push(hint(
            Confidence::Medium,
            "Windows",
            None,
            None,
            "msrpc (135/tcp) with smb or rdp open".into(),
        ));
    }
    if open(62078) {
        out.push(hint(
            Confidence::Medium,
            "iOS",
            None,
            None,
            "iphone-sync (62078/tcp) open".into(),
        ));
    }
    if d.container.is_some() {
        out.push(hint(
            Confidence::Medium,
            "Linux",
            None,
            None,
            "docker container".into(),
        ));
    }
    let vendor = d.vendor.as_deref().unwrap_or("").to_ascii_lowercase();
    if vendor.contains("raspberry pi") {
        out.push(hint(
            Confidence::Low,
            "Linux",
            None,
            None,
            format!("vendor {}", d.vendor.as_deref().unwrap_or("")),
        ));
    }
    out
}

/// The device's OS from its own evidence and the scanners' hints; `None` when nothing points
/// anywhere.
pub fn infer(d: &Device, hints: &[OsHint]) -> Option<Os> {
    let mut all: Vec<OsHint> = hints
        .iter()
        .map(|h| {
            hint(
                h.confidence,
                &h.family,
                h.name.as_deref(),
                h.version.as_deref(),
                h.evidence.clone(),
            )
        })
        .filter(|h| !h.family.is_empty())
        .collect();
    all.extend(device_hints(d));
    if all.is_empty() {
        return None;
    }
    // Families compared without case: recog says "Linux", a TTL hint may say "linux".
    let key = |h: &OsHint| h.family.to_ascii_lowercase();
    let mut scores: std::collections::BTreeMap<String, u32> = Default::default();
    for h in &all {
        *scores.entry(key(h)).or_default() += weight(h.confidence);
    }
    let (winner, _) = scores
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    let mut mine: Vec<&OsHint> = all.iter().filter(|h| key(h) == *winner).collect();
    // Strongest first; among equals the more specific (a version, a name), then by text.
    mine.sort_by(|a, b| {
        b.confidence
            .cmp(&a.confidence)
            .then(b.version.is_some().cmp(&a.version.is_some()))
            .then(b.name.is_some().cmp(&a.name.is_some()))
            .then(a.cmp(b))
    });
    mine.dedup_by(|a, b| a.evidence == b.evidence);
    let top = mine[0];
    let medium_or_better: std::collections::BTreeSet<&str> = mine
        .iter()
        .filter(|h| h.confidence >= Confidence::Medium)
        .map(|h| h.evidence.as_str())
        .collect();
    let confidence = if top.confidence == Confidence::High || medium_or_better.len() >= 2 {
        Confidence::High
    } else {
        top.confidence
    };
    let named = mine.iter().find(|h| h.name.is_some());
    Some(Os {
        family: top.family.clone(),
        name: named.and_then(|h| h.name.clone()),
        version: named.and_then(|h| h.version.clone()),
        confidence,
        evidence: mine
            .iter()
            .take(MAX_EVIDENCE)
            .map(|h| h.evidence.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests;

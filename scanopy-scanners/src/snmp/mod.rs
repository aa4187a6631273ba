//! The `snmp` scanner: reads a host's SNMP agent (v1 and v2c communities, SNMPv3 users) for its system
//! group, interfaces, addresses, ARP cache, bridge forwarding tables, VLANs and LLDP/CDP
//! neighbours.
//!
//! - [`ber`] and [`pdu`]: the wire format, pure and property-tested over arbitrary bytes.
//! - [`usm`]: SNMPv3 messages (RFC 3414 keys and HMACs, RFC 3826 AES, RFC 7860 SHA-2), pure.
//! - [`walk`]: one agent's session, with a time and byte budget, retries, GETBULK walks that
//!   stop on a loop or an out-of-order table and keep what they read.
//! - [`mib`]: what the rows mean, a pure function of them.
//!
//! What it emits: the 161/udp service with the system group, the host name (`snmp`), the
//! engine id as an identity (two addresses of one router are one device), OS evidence from
//! sysDescr (recog), the router's or switch's type, its link layer as one [`Fact::L2`], and,
//! from its ARP cache, the hosts it talks to (`Alive` by `snmp-arp` and their MAC), which may
//! sit in subnets this machine cannot reach at layer 2.

pub mod ber;
pub mod mib;
pub mod pdu;
pub mod usm;
pub mod walk;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use scanopy_core::{
    Confidence, DeviceType, Fact, PortFact, PortState, ScanContext, ScanError, Scanner,
    ScannerKind, Scope, Transport,
};

use ber::{Oid, Value};
use pdu::Version;
use walk::{End, Limits, Session};

/// The SNMP port.
pub const SNMP_PORT: u16 = 161;

/// A community to try.
#[derive(Clone, PartialEq, Eq)]
pub struct Community {
    /// The community string (a secret: never logged, never in a warning).
    pub community: String,
}

impl std::fmt::Debug for Community {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Community(<hidden>)")
    }
}

/// Credentials to read agents with, tried in order: SNMPv3 users first (when an agent
/// speaks v3), then communities. With neither, the community `public`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Communities (each as v2c, then v1).
    pub communities: Vec<Community>,
    /// SNMPv3 users.
    pub users: Vec<usm::User>,
}

impl Credentials {
    /// Whether none is given.
    pub fn is_empty(&self) -> bool {
        self.communities.is_empty() && self.users.is_empty()
    }
}

/// What the scanner is built from.
#[derive(Debug, Clone)]
pub struct SnmpSettings {
    /// Communities tried in order (each as v2c, then v1); `public` when neither a community
    /// nor a user is given.
    pub communities: Vec<Community>,
    /// SNMPv3 users tried in order, before the communities, on agents that answer v3.
    pub users: Vec<usm::User>,
    /// The agent's port.
    pub port: u16,
    /// What one agent may cost.
    pub limits: Limits,
}

impl Default for SnmpSettings {
    fn default() -> Self {
        SnmpSettings {
            communities: Vec::new(),
            users: Vec::new(),
            port: SNMP_PORT,
            limits: Limits::default(),
        }
    }
}

/// The `snmp` scanner.
#[derive(Debug, Clone, Default)]
pub struct SnmpScanner {
    settings: SnmpSettings,
    /// The users' keys from their passwords, made once (a mebibyte hashed per password).
    keys: std::sync::OnceLock<Vec<usm::PasswordKeys>>,
}

impl SnmpScanner {
    /// A scanner with these settings.
    pub fn new(settings: SnmpSettings) -> Self {
        SnmpScanner {
            settings,
            keys: std::sync::OnceLock::new(),
        }
    }

    fn password_keys(&self) -> &[usm::PasswordKeys] {
        self.keys.get_or_init(|| {
            self.settings
                .users
                .iter()
                .map(usm::User::password_keys)
                .collect()
        })
    }

    fn communities(&self) -> Vec<Vec<u8>> {
        if self.settings.communities.is_empty() && self.settings.users.is_empty() {
            vec![b"public".to_vec()]
        } else {
            self.settings
                .communities
                .iter()
                .map(|c| c.community.as_bytes().to_vec())
                .collect()
        }
    }
}

/// How long to wait for an answer from `ip`: a few round trips, within the scan's timeout.
fn answer_wait(ctx: &ScanContext, ip: IpAddr) -> Duration {
    let cap = Duration::from_millis(ctx.config().timeout_ms.max(200));
    ctx.rtt_hint(ip)
        .map(|r| (r * 8 + Duration::from_millis(200)).min(cap))
        .unwrap_or(cap)
}

#[async_trait]
impl Scanner for SnmpScanner {
    fn name(&self) -> &str {
        "snmp"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Err(ScanError::Config("snmp reads one host at a time".into()));
        };
        if !ctx.config().port_allowed(self.settings.port) {
            return Ok(());
        }
        let mut limits = self.settings.limits;
        limits.timeout = limits.timeout.min(answer_wait(ctx, ip));
        // Each community as v2c, then as v1 (old agents), all asked at once: the first in
        // that order that answers is used.
        let candidates: Vec<(Version, Vec<u8>)> = self
            .communities()
            .into_iter()
            .flat_map(|c| [(Version::V2c, c.clone()), (Version::V1, c)])
            .collect();
        let scalars = mib::scalars();
        let users = &self.settings.users;
        let round = match walk::first_answering(
            ctx,
            ip,
            self.settings.port,
            &candidates,
            &scalars,
            !users.is_empty(),
            limits,
        )
        .await
        {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        let io = |e| ScanError::Io {
            context: "open a UDP socket".into(),
            source: e,
        };
        // SNMPv3 first: each user in turn on an agent that answered discovery.
        let mut opened = None;
        if let Some(engine) = &round.engine {
            let mut refusals = Vec::new();
            for (user, keys) in users.iter().zip(self.password_keys()) {
                let keys = keys.localize(&engine.id);
                let mut s = Session::open_usm(
                    ctx,
                    ip,
                    self.settings.port,
                    &user.name,
                    keys,
                    engine.clone(),
                    limits,
                )
                .await
                .map_err(io)?;
                match s.get(&scalars).await {
                    Ok(rows) => {
                        opened = Some((s, rows));
                        break;
                    }
                    Err(walk::Failure::Cancelled) => return Ok(()),
                    Err(walk::Failure::Refused(c)) => {
                        refusals.push(format!("{} ({})", user.name, usm::report::describe(c)))
                    }
                    // net-snmp drops what it cannot decrypt without a word.
                    Err(_) if user.privacy.is_some() => refusals.push(format!(
                        "{} (no answer: a wrong privacy password or protocol?)",
                        user.name
                    )),
                    Err(_) => refusals.push(format!("{} (no answer)", user.name)),
                }
            }
            if opened.is_none() && !refusals.is_empty() {
                ctx.warn(format!(
                    "snmp: the SNMPv3 agent at {ip} refused {}",
                    refusals.join(", ")
                ));
            }
        }
        let (mut s, scalars) = match (opened, round.community) {
            (Some(o), _) => o,
            (None, Some((i, rows))) => {
                let (version, community) = &candidates[i];
                let mut s = Session::open(ctx, ip, self.settings.port, *version, community, limits)
                    .await
                    .map_err(io)?;
                let rows = if rows.is_empty() {
                    // v1 refused the GET as a whole (one object it lacks): one at a time.
                    match s.get(&scalars).await {
                        Ok(rows) => rows,
                        Err(_) => return Ok(()),
                    }
                } else {
                    rows
                };
                (s, rows)
            }
            (None, None) => return Ok(()),
        };
        ctx.progress().add_ports_probed(1);
        let mut rows: BTreeMap<Oid, Value> = scalars.into_iter().collect();
        let mut cut = None;
        for root in mib::walks() {
            let w = s.walk(&root).await;
            rows.extend(w.rows);
            match w.end {
                End::Complete | End::Error(_) => {}
                End::Failed(walk::Failure::Cancelled) => return Ok(()),
                End::OutOfOrder(at) => {
                    ctx.warn(format!(
                        "snmp: the agent at {ip} answered out of order under {root} (at {at}); kept what came before"
                    ));
                }
                End::RowLimit => {
                    cut = Some(format!("more than {} rows under {root}", limits.max_rows))
                }
                End::Failed(f) => {
                    cut = Some(match f {
                        walk::Failure::Budget => "its time or byte budget ran out".to_owned(),
                        _ => format!("it stopped answering under {root}"),
                    });
                    break;
                }
            }
        }
        if let Some(why) = &cut {
            ctx.warn(format!("snmp: the agent at {ip} was read in part: {why}"));
        }
        let view = mib::interpret(&rows);
        emit(ctx, ip, view, s.version(), cut.is_some()).await;
        Ok(())
    }
}

/// Turns what an agent told into observations.
async fn emit(
    ctx: &ScanContext,
    ip: IpAddr,
    view: mib::AgentView,
    version: Version,
    partial: bool,
) {
    let mut f = PortFact::state(SNMP_PORT, Transport::Udp, PortState::Open);
    f.name = Some("snmp".into());
    f.confidence = Confidence::High;
    f.evidence = "snmp-walk".into();
    // The version the agent was read with (a v3 one is also read with its user's security).
    let v = match version {
        Version::V1 => "1",
        Version::V2c => "2c",
        Version::V3 => "3",
    };
    f.extra.insert("snmp.version".into(), v.into());
    if let Some(d) = &view.sys_descr {
        crate::recognise::enrich_text(&mut f, "snmp_sysdescr", d);
        f.extra
            .insert("snmp.sysDescr".into(), d.chars().take(200).collect());
    }
    for (k, v) in [
        ("snmp.sysName", &view.sys_name),
        ("snmp.sysObjectID", &view.sys_object_id),
        ("snmp.sysLocation", &view.sys_location),
        ("snmp.sysContact", &view.sys_contact),
        ("snmp.engineID", &view.engine_id),
    ] {
        if let Some(v) = v {
            f.extra.insert(k.into(), v.clone());
        }
    }
    // The subnets its interfaces are on (a router's: where it routes to), which the server
    // offers as targets.
    let subnets: Vec<String> = view
        .addresses
        .iter()
        .filter(|(a, p, _)| !a.is_loopback() && !a.is_link_local() && (8..=30).contains(p))
        .filter_map(|(a, p, _)| {
            ipnet::Ipv4Net::new(*a, *p)
                .ok()
                .map(|n| n.trunc().to_string())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(64)
        .collect();
    if !subnets.is_empty() {
        f.extra.insert("snmp.subnets".into(), subnets.join(","));
    }
    if let Some(t) = view.uptime {
        f.extra
            .insert("snmp.uptime_s".into(), (t / 100).to_string());
    }
    if let Some(c) = &view.chassis {
        for (k, v) in [
            ("hw.product", &c.model),
            ("hw.vendor", &c.vendor),
            ("hw.serial", &c.serial),
            ("hw.firmware", &c.firmware),
            ("snmp.entPhysicalDescr", &c.description),
        ] {
            if let Some(v) = v {
                f.extra.insert(k.into(), v.clone());
            }
        }
    }
    ctx.observe(ip, Fact::Port(f)).await;
    if let Some(name) = &view.sys_name {
        ctx.observe(
            ip,
            Fact::Hostname {
                name: name.clone(),
                source: "snmp".into(),
            },
        )
        .await;
    }
    if let Some(e) = &view.engine_id {
        ctx.observe(
            ip,
            Fact::Identity {
                rule: "snmp-engine-id".into(),
                value: e.clone(),
            },
        )
        .await;
    }
    let is_switch = view.l2.is_bridge()
        && view
            .l2
            .ports
            .iter()
            .filter(|p| p.kind.as_deref() == Some("ethernet"))
            .count()
            >= 2;
    let typed = if is_switch {
        Some((DeviceType::Switch, "snmp bridge-mib"))
    } else if view.forwarding && view.addresses.iter().filter(|a| !a.0.is_loopback()).count() >= 2 {
        Some((DeviceType::Gateway, "snmp ip-forwarding"))
    } else {
        None
    };
    if let Some((device_type, evidence)) = typed {
        ctx.observe(
            ip,
            Fact::DeviceType {
                device_type,
                evidence: evidence.into(),
            },
        )
        .await;
    }
    // Its own addresses, each with the MAC of the interface that holds it (a switch's
    // management address on its bridge, a router's legs): the device's interfaces, even where
    // no ARP reached them; the engine id joins them. Only the scanned address and others
    // within the targets: what a scan says of an address beyond them is not kept (the store
    // drops per-host facts there, and a MAC without its identity would be a device of its own).
    for (addr, _, ifindex) in &view.addresses {
        let a = IpAddr::V4(*addr);
        if addr.is_loopback() || addr.is_unspecified() || (a != ip && !ctx.targets().contains(a)) {
            continue;
        }
        if let Some(mac) = view.l2.port(*ifindex).and_then(|p| p.mac) {
            ctx.observe(IpAddr::V4(*addr), Fact::Mac { mac }).await;
            if IpAddr::V4(*addr) != ip {
                if let Some(e) = &view.engine_id {
                    ctx.observe(
                        IpAddr::V4(*addr),
                        Fact::Identity {
                            rule: "snmp-engine-id".into(),
                            value: e.clone(),
                        },
                    )
                    .await;
                }
            }
        }
    }
    // Hosts in its ARP cache are alive (it talked to them) and have that MAC. Its own
    // addresses are left out: they are this device.
    let own: std::collections::HashSet<_> = view.addresses.iter().map(|a| a.0).collect();
    for (addr, mac, _) in &view.arp {
        if own.contains(addr) || addr.is_loopback() || addr.is_unspecified() {
            continue;
        }
        let target = IpAddr::V4(*addr);
        ctx.observe(
            target,
            Fact::Alive {
                method: "snmp-arp".into(),
                rtt_us: None,
            },
        )
        .await;
        ctx.observe(target, Fact::Mac { mac: *mac }).await;
    }
    // Its IPv6 neighbours likewise (link-local ones too: they join a host by its MAC).
    for (addr, mac, _) in &view.nd {
        let target = IpAddr::V6(*addr);
        ctx.observe(
            target,
            Fact::Alive {
                method: "snmp-nd".into(),
                rtt_us: None,
            },
        )
        .await;
        ctx.observe(target, Fact::Mac { mac: *mac }).await;
    }
    let mut l2 = view.l2;
    l2.truncated |= partial;
    if !l2.is_empty() {
        ctx.observe(ip, Fact::L2(Box::new(l2))).await;
    }
}

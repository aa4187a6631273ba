//! Identity and merge: the one component that folds observations into devices.
//!
//! # Rules
//! 1. **Same MAC, same device.** Every unicast MAC seen names one device; zero, broadcast and
//!    multicast MACs name none.
//! 2. **An IP without a MAC joins the device that holds that IP** in the same network: the MAC
//!    most recently bound to it (ties broken by the lower MAC). An address never bound to a MAC
//!    (a host beyond the scanner's segment) is a device of its own.
//! 3. **Several interfaces.** A MAC bound to several addresses gives one device with an
//!    interface per address, including addresses it held before a reassignment.
//! 4. **Two different MACs are joined only by an identity rule** ([`Fact::Identity`]: the same
//!    SSH host key, SNMP engine id…), and the device records the rule in
//!    [`Device::merge_reasons`].
//! 5. **Containers** are devices of their own, keyed by container id, whose parent is the device
//!    holding the Docker host's address.
//! 6. **Conflicting values** (vendor, type) resolve to the latest observed, ties broken by
//!    value; a host name to the most trusted source ([`name_rank`]: the network's DNS and
//!    Docker, then what the host says of itself by mDNS or SNMP, then NetBIOS and others, then
//!    certificates), then the latest; a port's identification to the highest confidence, then
//!    the latest; its state to the latest.
//! 7. Locally administered MACs are flagged ([`Device::randomized_mac`]).
//! 8. **A device heard before it had an address** ([`Fact::Unaddressed`], a DHCP DISCOVER) is
//!    the device of its MAC, with the interface `0.0.0.0` and that MAC until the MAC is bound to
//!    an address; what it said of itself (name, vendor, type, OS hints) is the device's. Other
//!    facts about the unspecified address name nothing and are ignored.
//!
//! # How it stays order independent
//! [`Inventory`] keeps, per address, a summary of everything observed about it in which every
//! field is combined with an operation that is commutative, associative and idempotent (min and
//! max of times, set union, "the value seen latest, ties broken by value"). Devices are then
//! computed from that summary by [`Inventory::devices`], a deterministic function. So applying the
//! same observations twice, in any order, in any batches, gives the same devices.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use uuid::Uuid;

use crate::model::{
    Confidence, Container, Device, DeviceType, Interface, L2, MacAddr, MergeReason, OsHint,
    PortState, Service, Transport, subnet_of,
};
use crate::observation::{Fact, Observation, PortFact};

/// The namespace of device ids (UUID v5), combined with the network id.
const DEVICE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5ca9_0b1d_0000_4000_8000_0000_0000_0001);

/// When something was first and last seen. Joins by (min, max).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

impl Seen {
    fn at(t: DateTime<Utc>) -> Self {
        Seen { first: t, last: t }
    }
    fn join(&mut self, other: Seen) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

fn join_seen(slot: &mut Option<Seen>, s: Seen) {
    match slot {
        Some(x) => x.join(s),
        None => *slot = Some(s),
    }
}

/// "The value seen latest, ties broken by the greater value": a join-semilattice.
fn join_latest<T: Ord>(slot: &mut Option<(DateTime<Utc>, T)>, at: DateTime<Utc>, v: T) {
    join_best(slot, at, v);
}

/// Keeps the value with the greatest key, ties broken by value (commutative, associative,
/// idempotent).
fn join_best<K: Ord + Copy, T: Ord>(slot: &mut Option<(K, T)>, key: K, v: T) {
    let replace = match slot {
        None => true,
        Some((k, old)) => (key, &v) > (*k, &*old),
    };
    if replace {
        *slot = Some((key, v));
    }
}

/// How much a host name's source is trusted, higher first: the network's DNS (`ptr`) and
/// Docker (`docker`) 4; what the host says of itself, `mdns`, `snmp` and its DHCP request
/// (`dhcp`), 3; `netbios`, a UPnP
/// friendly name (`upnp`) and
/// sources this crate does not know (a custom scanner's) 2; a certificate's name (`tls`), which
/// may name a service rather than the host, 1.
pub fn name_rank(source: &str) -> u8 {
    match source {
        "ptr" | "docker" => 4,
        "mdns" | "snmp" | "dhcp" | "lldp" | "cdp" => 3,
        "tls" => 1,
        _ => 2,
    }
}

/// The identification of a port, ordered so that the best one wins: higher confidence, then
/// later, then by value.
type Ident = (
    Confidence,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    String,
);

#[derive(Debug, Clone, Default)]
struct PortSummary {
    seen: Option<Seen>,
    state: Option<(DateTime<Utc>, PortState)>,
    ident: Option<Ident>,
    extra: BTreeMap<String, (DateTime<Utc>, String)>,
}

#[derive(Debug, Clone, Default)]
struct AddrSummary {
    seen: Option<Seen>,
    sources: BTreeSet<String>,
    macs: BTreeMap<MacAddr, Seen>,
    hostname: Option<((u8, DateTime<Utc>), String)>,
    vendor: Option<(DateTime<Utc>, String)>,
    device_type: Option<(DateTime<Utc>, (DeviceType, String))>,
    identities: BTreeSet<(String, String)>,
    gateway: bool,
    ports: BTreeMap<(Transport, u16), PortSummary>,
    /// Containers this address runs, by container id.
    containers: BTreeSet<String>,
    /// OS hints, the [`MAX_OS_HINTS`] strongest (a top-k of a union: order independent).
    os_hints: BTreeSet<OsHint>,
    /// The newest link-layer snapshot.
    l2: Option<(DateTime<Utc>, Box<L2>)>,
}

/// The most OS hints kept per address.
const MAX_OS_HINTS: usize = 16;

#[derive(Debug, Clone)]
struct ContainerSummary {
    seen: Seen,
    sources: BTreeSet<String>,
    /// Latest facts, ties broken by value (`Container` is `Ord`).
    latest: (DateTime<Utc>, Container),
}

/// Settings of an [`Inventory`].
#[derive(Debug, Clone, Default)]
pub struct InventoryConfig {
    /// The network the observations belong to; part of every device id, so that two networks
    /// reusing one private range never share a device.
    pub network_id: Uuid,
    /// Known subnets of the network; an interface's subnet is the most specific one holding its
    /// address.
    pub subnets: Vec<IpNet>,
}

/// The merged state of a set of observations of one network.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    config: InventoryConfig,
    addrs: BTreeMap<IpAddr, AddrSummary>,
    /// What devices heard before they had an address said, by MAC (rule 8).
    unaddressed: BTreeMap<MacAddr, AddrSummary>,
    containers: BTreeMap<String, ContainerSummary>,
}

/// A node of the identity graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Mac(MacAddr),
    Ip(IpAddr),
    Container(String),
    Identity(String, String),
}

impl Inventory {
    /// An empty inventory.
    pub fn new(config: InventoryConfig) -> Self {
        Inventory {
            config,
            ..Default::default()
        }
    }

    /// The known subnets.
    pub fn subnets(&self) -> &[IpNet] {
        &self.config.subnets
    }

    /// Adds a known subnet (for instance one a discovery scanner swept).
    pub fn add_subnet(&mut self, net: IpNet) {
        let net = net.trunc();
        if !self.config.subnets.contains(&net) {
            self.config.subnets.push(net);
            self.config.subnets.sort();
        }
    }

    /// Number of distinct addresses observed.
    pub fn address_count(&self) -> usize {
        self.addrs.len()
    }

    /// Folds a batch of observations in.
    pub fn apply_all<'a>(&mut self, obs: impl IntoIterator<Item = &'a Observation>) {
        for o in obs {
            self.apply(o);
        }
    }

    /// Folds one observation in. Applying the same observation again changes nothing.
    pub fn apply(&mut self, o: &Observation) {
        let at = o.at;
        if let Fact::Unaddressed { mac, facts } = &o.fact {
            if !mac.is_unicast() {
                return;
            }
            let a = self.unaddressed.entry(*mac).or_default();
            join_seen(&mut a.seen, Seen::at(at));
            if !a.sources.contains(&o.scanner) {
                a.sources.insert(o.scanner.clone());
            }
            for f in facts {
                if matches!(
                    f,
                    Fact::Alive { .. }
                        | Fact::Hostname { .. }
                        | Fact::Vendor { .. }
                        | Fact::DeviceType { .. }
                        | Fact::Os(_)
                ) {
                    apply_fact(a, at, f);
                }
            }
            return;
        }
        if o.ip.is_unspecified() {
            return;
        }
        if let Fact::Mac { mac } = &o.fact {
            if !mac.is_unicast() {
                // A broadcast or zero MAC names no device; the address is still alive.
                self.touch(o);
                return;
            }
        }
        if let Fact::Container(c) = &o.fact {
            self.touch(o).containers.insert(c.id.clone());
            let entry = self
                .containers
                .entry(c.id.clone())
                .or_insert_with(|| ContainerSummary {
                    seen: Seen::at(at),
                    sources: BTreeSet::new(),
                    latest: (at, (**c).clone()),
                });
            entry.seen.join(Seen::at(at));
            entry.sources.insert(o.scanner.clone());
            if (at, &**c) > (entry.latest.0, &entry.latest.1) {
                entry.latest = (at, (**c).clone());
            }
            return;
        }
        let a = self.touch(o);
        apply_fact(a, at, &o.fact);
    }

    fn touch(&mut self, o: &Observation) -> &mut AddrSummary {
        let a = self.addrs.entry(o.ip).or_default();
        join_seen(&mut a.seen, Seen::at(o.at));
        if !a.sources.contains(&o.scanner) {
            a.sources.insert(o.scanner.clone());
        }
        a
    }

    /// The MAC that currently holds `ip`: the one bound most recently, ties to the lower MAC.
    fn holder(a: &AddrSummary) -> Option<MacAddr> {
        a.macs
            .iter()
            .max_by(|(ma, sa), (mb, sb)| sa.last.cmp(&sb.last).then(mb.cmp(ma)))
            .map(|(m, _)| *m)
    }

    fn node_of(&self, ip: IpAddr) -> Key {
        match self.addrs.get(&ip).and_then(Self::holder) {
            Some(m) => Key::Mac(m),
            None => Key::Ip(ip),
        }
    }

    /// The devices, sorted by their first address (containers after the devices that run
    /// them), computed from everything applied so far.
    pub fn devices(&self) -> Vec<Device> {
        // Union-find over identity keys.
        let mut uf = UnionFind::default();
        let mut reasons: HashMap<Key, BTreeSet<MergeReason>> = HashMap::new();
        for (ip, a) in &self.addrs {
            for mac in a.macs.keys() {
                uf.add(Key::Mac(*mac));
            }
            let node = self.node_of(*ip);
            uf.add(node.clone());
            for (rule, value) in &a.identities {
                let id = Key::Identity(rule.clone(), value.clone());
                uf.union(node.clone(), id.clone());
                reasons.entry(id).or_default().insert(MergeReason {
                    rule: format!("identity:{rule}"),
                    value: value.clone(),
                });
            }
        }
        for mac in self.unaddressed.keys() {
            uf.add(Key::Mac(*mac));
        }
        for id in self.containers.keys() {
            uf.add(Key::Container(id.clone()));
        }

        // Group keys by component root.
        let mut groups: BTreeMap<Key, Vec<Key>> = BTreeMap::new();
        for k in uf.keys() {
            let root = uf.find(k.clone());
            groups.entry(root).or_default().push(k);
        }

        let mut host_of_container: BTreeMap<&str, IpAddr> = BTreeMap::new();
        for (ip, a) in &self.addrs {
            for c in &a.containers {
                // Deterministic: the lowest address claiming the container.
                host_of_container.entry(c.as_str()).or_insert(*ip);
            }
        }

        // Which component each holder node belongs to, to route per-address facts.
        let mut ips_of_root: HashMap<Key, Vec<IpAddr>> = HashMap::new();
        for ip in self.addrs.keys() {
            let root = uf.find(self.node_of(*ip));
            ips_of_root.entry(root).or_default().push(*ip);
        }

        let mut mac_ips: HashMap<MacAddr, Vec<(IpAddr, Seen)>> = HashMap::new();
        for (ip, a) in &self.addrs {
            for (m, s) in &a.macs {
                mac_ips.entry(*m).or_default().push((*ip, *s));
            }
        }

        let mut devices = Vec::new();
        let mut root_to_id: HashMap<Key, Uuid> = HashMap::new();
        for (root, keys) in &groups {
            if keys.iter().all(|k| matches!(k, Key::Identity(..))) {
                continue;
            }
            let fact_ips = ips_of_root.get(root).map(Vec::as_slice).unwrap_or(&[]);
            let dev = self.build_device(keys, fact_ips, &mac_ips, &reasons);
            root_to_id.insert(root.clone(), dev.id);
            devices.push(dev);
        }
        // Parents of containers.
        for d in &mut devices {
            if let Some(c) = &d.container {
                if let Some(host_ip) = host_of_container.get(c.id.as_str()) {
                    let root = uf.find(self.node_of(*host_ip));
                    d.parent = root_to_id.get(&root).copied();
                }
            }
        }
        devices.sort_by_key(sort_key);
        devices
    }

    fn build_device(
        &self,
        keys: &[Key],
        fact_ips: &[IpAddr],
        mac_ips: &HashMap<MacAddr, Vec<(IpAddr, Seen)>>,
        reasons: &HashMap<Key, BTreeSet<MergeReason>>,
    ) -> Device {
        let mut interfaces = BTreeSet::new();
        let mut seen: Option<Seen> = None;
        let mut sources = BTreeSet::new();
        let mut merge_reasons = BTreeSet::new();
        let mut macs = Vec::new();
        let mut container: Option<&ContainerSummary> = None;
        let mut container_id = None;
        for k in keys {
            match k {
                Key::Mac(m) => macs.push(*m),
                Key::Ip(ip) => {
                    interfaces.insert(Interface {
                        ip: *ip,
                        mac: None,
                        subnet: self.subnet(*ip),
                    });
                }
                Key::Container(id) => {
                    container = self.containers.get(id);
                    container_id = Some(id.clone());
                }
                Key::Identity(..) => {
                    if let Some(r) = reasons.get(k) {
                        merge_reasons.extend(r.iter().cloned());
                    }
                }
            }
        }
        macs.sort();
        // Every address a MAC of this device was bound to is one of its interfaces.
        for m in &macs {
            for (ip, s) in mac_ips.get(m).map(Vec::as_slice).unwrap_or(&[]) {
                interfaces.insert(Interface {
                    ip: *ip,
                    mac: Some(*m),
                    subnet: self.subnet(*ip),
                });
                join_seen(&mut seen, *s);
            }
            // Heard before it had an address, and bound to none since: `0.0.0.0` (rule 8).
            if self.unaddressed.contains_key(m) && mac_ips.get(m).is_none_or(Vec::is_empty) {
                interfaces.insert(Interface {
                    ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    mac: Some(*m),
                    subnet: None,
                });
            }
        }
        let mut hostname = None;
        let mut vendor = None;
        let mut dtype = None;
        let mut gateway = false;
        let mut services = Vec::new();
        let mut os_hints: Vec<OsHint> = Vec::new();
        let mut l2: Option<(DateTime<Utc>, Box<L2>)> = None;
        let summaries = fact_ips
            .iter()
            .map(|ip| (Some(*ip), &self.addrs[ip]))
            .chain(
                macs.iter()
                    .filter_map(|m| self.unaddressed.get(m).map(|a| (None, a))),
            );
        for (ip, a) in summaries {
            if let Some(s) = a.seen {
                join_seen(&mut seen, s);
            }
            sources.extend(a.sources.iter().cloned());
            if let Some((k, h)) = &a.hostname {
                join_best(&mut hostname, *k, h.clone());
            }
            if let Some((t, v)) = &a.vendor {
                join_latest(&mut vendor, *t, v.clone());
            }
            if let Some((t, v)) = &a.device_type {
                join_latest(&mut dtype, *t, v.clone());
            }
            gateway |= a.gateway;
            os_hints.extend(a.os_hints.iter().cloned());
            if let Some((t, v)) = &a.l2 {
                join_latest(&mut l2, *t, v.clone());
            }
            if let Some(ip) = ip {
                for ((transport, port), p) in &a.ports {
                    services.push(port_service(ip, *transport, *port, p));
                }
            }
        }
        // Several identities were joined only when an identity rule says why: keep the reasons
        // only where they joined something.
        let seeds = keys
            .iter()
            .filter(|k| !matches!(k, Key::Identity(..)))
            .count();
        let merge_reasons: Vec<MergeReason> = if seeds > 1 {
            merge_reasons.into_iter().collect()
        } else {
            Vec::new()
        };

        let (mut device_type, mut evidence) = match dtype {
            Some((_, (t, e))) => (t, Some(e)),
            None => (DeviceType::Unknown, None),
        };
        if device_type == DeviceType::Unknown && gateway {
            device_type = DeviceType::Gateway;
            evidence = Some("default gateway".into());
        }
        let mut container_facts = None;
        if let Some(c) = container {
            join_seen(&mut seen, c.seen);
            sources.extend(c.sources.iter().cloned());
            container_facts = Some(c.latest.1.clone());
            device_type = DeviceType::Container;
            evidence = Some("docker".into());
        }

        let id_key = if let Some(m) = macs.first() {
            format!("mac:{m}")
        } else if let Some(c) = &container_id {
            format!("container:{c}")
        } else {
            let ip = keys
                .iter()
                .filter_map(|k| if let Key::Ip(ip) = k { Some(*ip) } else { None })
                .min();
            format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_default())
        };
        let ns = Uuid::new_v5(&DEVICE_ID_NAMESPACE, self.config.network_id.as_bytes());
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let seen = seen.unwrap_or(Seen::at(epoch));
        services.sort_by_key(|s| (s.ip, s.transport, s.port));
        let mut device = Device {
            id: Uuid::new_v5(&ns, id_key.as_bytes()),
            hostname: hostname.map(|(_, h)| h),
            vendor: vendor.map(|(_, v)| v),
            device_type,
            device_type_evidence: evidence,
            interfaces: interfaces.into_iter().collect(),
            services,
            first_seen: seen.first,
            last_seen: seen.last,
            sources,
            randomized_mac: macs.iter().any(|m| m.is_locally_administered()),
            parent: None,
            container: container_facts,
            merge_reasons,
            os: None,
            l2: l2.map(|(_, v)| v),
        };
        device.os = crate::os::infer(&device, &os_hints);
        if device.device_type == DeviceType::Unknown {
            if let Some((t, rule)) = crate::classify::infer(&device) {
                device.device_type = t;
                device.device_type_evidence = Some(format!("inferred:{rule}"));
            }
        }
        device
    }

    fn subnet(&self, ip: IpAddr) -> Option<IpNet> {
        subnet_of(&self.config.subnets, ip)
    }
}

/// Folds one fact into an address's summary (containers are folded by [`Inventory::apply`]).
fn apply_fact(a: &mut AddrSummary, at: DateTime<Utc>, fact: &Fact) {
    match fact {
        Fact::Alive { .. } | Fact::Container(_) | Fact::Unaddressed { .. } => {}
        Fact::Mac { mac } => {
            a.macs
                .entry(*mac)
                .and_modify(|s| s.join(Seen::at(at)))
                .or_insert(Seen::at(at));
        }
        Fact::Hostname { name, source } => {
            let name = name.trim().trim_end_matches('.').to_owned();
            if !name.is_empty() {
                join_best(&mut a.hostname, (name_rank(source), at), name);
            }
        }
        Fact::Vendor { vendor } => join_latest(&mut a.vendor, at, vendor.clone()),
        Fact::DeviceType {
            device_type,
            evidence,
        } => join_latest(&mut a.device_type, at, (*device_type, evidence.clone())),
        Fact::Identity { rule, value } => {
            a.identities.insert((rule.clone(), value.clone()));
        }
        Fact::Gateway => a.gateway = true,
        Fact::Os(h) => {
            a.os_hints.insert(h.clone());
            while a.os_hints.len() > MAX_OS_HINTS {
                a.os_hints.pop_first();
            }
        }
        Fact::Port(p) => apply_port(a, at, p),
        Fact::L2(l2) => join_latest(&mut a.l2, at, l2.clone()),
    }
}

fn apply_port(a: &mut AddrSummary, at: DateTime<Utc>, p: &PortFact) {
    let s = a.ports.entry((p.transport, p.port)).or_default();
    join_seen(&mut s.seen, Seen::at(at));
    join_latest(&mut s.state, at, p.state);
    if let Some(name) = &p.name {
        let ident: Ident = (
            p.confidence,
            at,
            name.clone(),
            p.product.clone(),
            p.version.clone(),
            p.evidence.clone(),
        );
        if s.ident.as_ref().is_none_or(|old| ident > *old) {
            s.ident = Some(ident);
        }
    }
    for (k, v) in &p.extra {
        let slot = s.extra.entry(k.clone()).or_insert_with(|| (at, v.clone()));
        if (at, v) > (slot.0, &slot.1) {
            *slot = (at, v.clone());
        }
    }
}

fn port_service(ip: IpAddr, transport: Transport, port: u16, p: &PortSummary) -> Service {
    let seen = p.seen.unwrap_or(Seen::at(DateTime::<Utc>::UNIX_EPOCH));
    let (name, product, version, confidence, evidence) = match &p.ident {
        Some((c, _, n, prod, ver, ev)) => (n.clone(), prod.clone(), ver.clone(), *c, ev.clone()),
        None => (
            Service::UNKNOWN.to_owned(),
            None,
            None,
            Confidence::Low,
            "no rule matched".into(),
        ),
    };
    Service {
        ip,
        port,
        transport,
        state: p.state.map(|(_, s)| s).unwrap_or(PortState::Filtered),
        name,
        product,
        version,
        extra: p
            .extra
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect(),
        confidence,
        evidence,
        first_seen: seen.first,
        last_seen: seen.last,
    }
}

fn sort_key(d: &Device) -> (u8, Option<IpAddr>, Uuid) {
    (
        u8::from(d.container.is_some()),
        d.interfaces.first().map(|i| i.ip),
        d.id,
    )
}

/// A small union-find over keys.
#[derive(Default)]
struct UnionFind {
    index: HashMap<Key, usize>,
    keys: Vec<Key>,
    parent: Vec<usize>,
}

impl UnionFind {
    fn add(&mut self, k: Key) -> usize {
        if let Some(i) = self.index.get(&k) {
            return *i;
        }
        let i = self.keys.len();
        self.index.insert(k.clone(), i);
        self.keys.push(k);
        self.parent.push(i);
        i
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// The component's representative: its smallest key, so roots do not depend on order.
    fn find(&mut self, k: Key) -> Key {
        let i = self.add(k);
        let r = self.root(i);
        self.keys[r].clone()
    }

    fn union(&mut self, a: Key, b: Key) {
        let ia = self.add(a);
        let ib = self.add(b);
        let (ra, rb) = (self.root(ia), self.root(ib));
        if ra == rb {
            return;
        }
        // Keep the smaller key as the root.
        if self.keys[ra] <= self.keys[rb] {
            self.parent[rb] = ra;
        } else {
            self.parent[ra] = rb;
        }
    }

    fn keys(&self) -> Vec<Key> {
        self.keys.clone()
    }
}

#[cfg(test)]
mod tests;

//! The OpenAPI schemas of the core's and the store's types as the API serves them.
//!
//! Those crates know nothing of HTTP or OpenAPI, so their types carry no schema; these
//! stand-ins describe their JSON for the document and are never built. A test in
//! `tests/it/openapi.rs` checks the served bodies against them (no undocumented field, no
//! missing required one), so a field added to a stored type fails it until it is written here.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An interface of a device.
#[derive(Serialize, ToSchema)]
pub struct Interface {
    /// An IPv4 or IPv6 address.
    ip: String,
    /// `aa:bb:cc:dd:ee:ff`, lower case; `null` beyond the scanner's segment.
    mac: Option<String>,
    /// The most specific known subnet holding `ip` (CIDR).
    subnet: Option<String>,
}

/// A service on one port of one address.
#[derive(Serialize, ToSchema)]
pub struct Service {
    /// The address it listens on.
    ip: String,
    /// The port.
    port: u16,
    /// `tcp` or `udp`.
    protocol: String,
    /// `open`, `closed` or `filtered`.
    state: String,
    /// The usual service name (`http`, `ssh`, …) or `unknown`.
    name: String,
    /// The product, when a rule could tell.
    product: Option<String>,
    /// Its version, when the service revealed it.
    version: Option<String>,
    /// Further facts (`http.title`, `tls.subject`, …); absent when there are none.
    #[serde(default)]
    extra: BTreeMap<String, String>,
    /// `low`, `medium` or `high`.
    confidence: String,
    /// The rule id or short reason behind the name.
    evidence: String,
    /// First seen in any state.
    first_seen: DateTime<Utc>,
    /// Last seen.
    last_seen: DateTime<Utc>,
}

/// A Docker network a container is attached to.
#[derive(Serialize, ToSchema)]
pub struct ContainerNetwork {
    /// The Docker network's name.
    name: String,
    /// The container's address on it.
    ip: Option<String>,
}

/// A port a container exposes or publishes.
#[derive(Serialize, ToSchema)]
pub struct PublishedPort {
    /// The host address it is bound to.
    host_ip: Option<String>,
    /// The host port, when published.
    host_port: Option<u16>,
    /// The container's port.
    container_port: u16,
    /// `tcp` or `udp`.
    protocol: String,
}

/// What Docker says about a container.
#[derive(Serialize, ToSchema)]
pub struct Container {
    /// The container id.
    id: String,
    /// Its name.
    name: String,
    /// Its image.
    image: String,
    /// `running`, `exited`, …
    state: String,
    /// `healthy`, `unhealthy`, `starting`, or `null`.
    health: Option<String>,
    /// The compose project label.
    compose_project: Option<String>,
    /// The compose service label.
    compose_service: Option<String>,
    /// Its Docker networks.
    networks: Vec<ContainerNetwork>,
    /// Its ports.
    ports: Vec<PublishedPort>,
}

/// A rule that joined identities the usual rules keep apart.
#[derive(Serialize, ToSchema)]
pub struct MergeReason {
    /// The rule (`identity:ssh-hostkey`).
    rule: String,
    /// The shared value.
    value: String,
}

/// A device's link layer (`scanopy_core::L2`), the newest snapshot its agent gave.
#[derive(Serialize, ToSchema)]
pub struct L2 {
    /// Its ports, by interface index; absent when none.
    ports: Vec<NetPort>,
    /// Neighbours heard on its ports (LLDP, CDP); absent when none.
    neighbours: Vec<Neighbour>,
    /// MACs its bridge learnt, and where; absent when none.
    learnt: Vec<Learnt>,
    /// Its VLANs; absent when none.
    vlans: Vec<Vlan>,
    /// The bridge's own MAC, for a switch.
    bridge_mac: Option<String>,
    /// Present (true) when a table was cut at 65,536 entries or the agent stopped answering.
    truncated: Option<bool>,
}

/// A port (interface) of a device.
#[derive(Serialize, ToSchema)]
pub struct NetPort {
    /// The agent's interface index.
    index: u32,
    /// `ifName` (else `ifDescr`).
    name: String,
    /// The operator's description (`ifAlias`).
    alias: Option<String>,
    /// Its MAC.
    mac: Option<String>,
    /// Mbit/s.
    speed_mbps: Option<u64>,
    /// Administratively up.
    admin_up: Option<bool>,
    /// Link up.
    oper_up: Option<bool>,
    /// `ethernet`, `loopback`, `bridge`, `wifi`, `virtual`, `tunnel`, `vlan`, `lag`, `other`.
    kind: Option<String>,
    /// Its untagged VLAN.
    vlan: Option<u16>,
}

/// A device heard on a port by LLDP or CDP.
#[derive(Serialize, ToSchema)]
pub struct Neighbour {
    /// The local port's name.
    port: String,
    /// `lldp` or `cdp`.
    source: String,
    /// The neighbour's chassis id (a MAC written as one).
    chassis_id: String,
    /// Its chassis MAC, when the id is one.
    chassis_mac: Option<String>,
    /// The neighbour's port id.
    remote_port: Option<String>,
    /// The neighbour's port description.
    remote_port_description: Option<String>,
    /// Its system name.
    name: Option<String>,
    /// Its system description (CDP: platform).
    description: Option<String>,
    /// A management address it announces.
    address: Option<String>,
    /// What it does: `bridge`, `router`, `wlan-ap`, `phone`, `station`, `host`, … (absent when
    /// it did not say).
    capabilities: Option<Vec<String>>,
}

/// A MAC a bridge learnt on a port.
#[derive(Serialize, ToSchema)]
pub struct Learnt {
    /// The MAC.
    mac: String,
    /// The port's interface index.
    port: u32,
    /// The VLAN it was learnt in.
    vlan: Option<u16>,
}

/// A VLAN.
#[derive(Serialize, ToSchema)]
pub struct Vlan {
    /// 1 to 4094.
    id: u16,
    /// Its name.
    name: Option<String>,
}

/// A device's operating system as the evidence points.
#[derive(Serialize, ToSchema)]
pub struct Os {
    /// The family: `Linux`, `Windows`, `macOS`, `iOS`, `FreeBSD`, …
    family: String,
    /// The product within the family (`Ubuntu`, `Windows Server 2019`), when evidence names it.
    name: Option<String>,
    /// The product's version, when evidence names it.
    version: Option<String>,
    /// `low` (a guess: a TTL, a vendor), `medium` (a fingerprint or a port pattern), `high` (the
    /// device said so, or two independent pieces of evidence agree).
    confidence: String,
    /// What pointed there, strongest first (at most eight).
    evidence: Vec<String>,
}

/// A device as stored: what scans saw (`scanopy_core::Device`) and what users set.
#[derive(Serialize, ToSchema)]
pub struct StoredDevice {
    /// Stable: derived from the device's strongest identity.
    id: Uuid,
    /// The best known host name.
    hostname: Option<String>,
    /// The vendor behind the MAC.
    vendor: Option<String>,
    /// `unknown`, `gateway`, `switch`, `access_point`, `printer`, `nas`, `camera`,
    /// `hypervisor`, `docker_host`, `container`, `server`, `computer`, `phone`, `media`, `iot`.
    device_type: String,
    /// Why it was given that type.
    device_type_evidence: Option<String>,
    /// Its interfaces.
    interfaces: Vec<Interface>,
    /// Its services.
    services: Vec<Service>,
    /// First seen.
    first_seen: DateTime<Utc>,
    /// Last seen.
    last_seen: DateTime<Utc>,
    /// The scanners that saw it.
    sources: Vec<String>,
    /// A MAC of it is locally administered.
    randomized_mac: bool,
    /// The device that runs it (a container's Docker host).
    parent: Option<Uuid>,
    /// Docker facts, for a container.
    container: Option<Container>,
    /// Absent when there are none.
    #[serde(default)]
    merge_reasons: Vec<MergeReason>,
    /// Its operating system; absent when nothing points anywhere.
    os: Option<Os>,
    /// Its link layer, as its SNMP agent told it (`GET /devices/{id}` only; lists leave it
    /// out): ports, LLDP/CDP neighbours, the bridge's forwarding table, VLANs.
    l2: Option<L2>,
    /// Its network.
    network: Uuid,
    /// The name a user gave it.
    user_name: Option<String>,
    /// A user's notes.
    notes: Option<String>,
    /// A user's tags.
    tags: Vec<String>,
    /// Missed by the last scans of its subnet.
    offline: bool,
}

/// A service with its device (`GET /services`).
#[derive(Serialize, ToSchema)]
pub struct ServiceRow {
    /// The device.
    device: Uuid,
    /// The device's name for people.
    device_name: String,
    /// The network.
    network: Uuid,
    /// The service.
    #[serde(flatten)]
    service: Service,
}

/// A network.
#[derive(Serialize, ToSchema)]
pub struct Network {
    /// Its id.
    id: Uuid,
    /// Its name.
    name: String,
    /// Its subnets (CIDR).
    subnets: Vec<String>,
}

/// Counts a scan reports as it goes.
#[derive(Serialize, ToSchema)]
pub struct ProgressSnapshot {
    /// Addresses to try.
    hosts_total: u64,
    /// Hosts found alive.
    hosts_found: u64,
    /// Hosts whose per-host scanners ended.
    hosts_done: u64,
    /// Probes sent.
    probes_sent: u64,
    /// Ports probed.
    ports_probed: u64,
    /// Observations made.
    observations: u64,
}

/// A scan run (`queued`, `running`, `done`, `failed`, `cancelled`).
#[derive(Serialize, ToSchema)]
pub struct ScanRun {
    /// Its id.
    id: Uuid,
    /// The network.
    network: Uuid,
    /// The daemon that claimed it.
    daemon: Option<Uuid>,
    /// What to scan and how (`scanopy_core::ScanConfig`).
    config: ScanConfig,
    /// The subnets it covers (CIDR).
    targets: Vec<String>,
    /// When it started.
    started_at: DateTime<Utc>,
    /// When it ended.
    finished_at: Option<DateTime<Utc>>,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    status: String,
    /// Distinct devices it saw.
    devices_seen: i64,
    /// Observations it took.
    observations: i64,
    /// Per-host facts about addresses outside its targets, dropped.
    observations_dropped: i64,
    /// Batches refused from the daemon holding it.
    rejected_batches: i64,
    /// The daemon asked to run it.
    requested_daemon: Option<Uuid>,
    /// When it was queued.
    created_at: DateTime<Utc>,
    /// Until when its daemon holds it.
    lease_until: Option<DateTime<Utc>>,
    /// The last progress reported.
    progress: Option<ProgressSnapshot>,
    /// Why it failed.
    error: Option<String>,
    /// A user asked to cancel it.
    cancel_requested: bool,
}

/// Targets and exclusions as given.
#[derive(Serialize, ToSchema)]
pub struct TargetSpec {
    /// Targets (CIDR, address, range, host name).
    include: Vec<String>,
    /// Exclusions, in the same forms.
    exclude: Vec<String>,
}

/// What to scan and how (`scanopy_core::ScanConfig`).
#[derive(Serialize, ToSchema)]
pub struct ScanConfig {
    /// Targets and exclusions.
    targets: TargetSpec,
    /// `top100`, `top1000`, `all` or a list with ranges.
    ports: String,
    /// Ports never probed.
    exclude_ports: Vec<u16>,
    /// Scanners by name; empty: every available one.
    scanners: Vec<String>,
    /// Probes per second; `null`: unlimited.
    rate: Option<u32>,
    /// Probes in flight at once.
    concurrency: usize,
    /// Hosts scanned at once.
    hosts_in_flight: usize,
    /// Targets larger than a /16 allowed.
    allow_large: bool,
    /// Printer ports probed.
    probe_printer_ports: bool,
    /// Extra discovery rounds.
    retries: u8,
    /// A probe's first timeout, in milliseconds.
    timeout_ms: u64,
    /// The longest the job may run, in milliseconds.
    max_duration_ms: u64,
    /// How long progress may stand still, in milliseconds, before the job is stalled.
    stall_timeout_ms: u64,
}

/// A recurring scan.
#[derive(Serialize, ToSchema)]
pub struct Schedule {
    /// Its id.
    id: Uuid,
    /// The network.
    network: Uuid,
    /// The daemon to run it (any daemon of the network when `null`).
    daemon: Option<Uuid>,
    /// Minutes between runs.
    every_minutes: i64,
    /// What to scan and how.
    config: ScanConfig,
    /// The subnets covered (CIDR).
    targets: Vec<String>,
    /// The next run.
    next_run: DateTime<Utc>,
    /// The last run.
    last_run: Option<DateTime<Utc>>,
}

/// Something that happened, numbered in order.
#[derive(Serialize, ToSchema)]
pub struct Event {
    /// Its sequence number.
    seq: i64,
    /// Its network.
    network: Uuid,
    /// `device_new`, `device_changed`, `device_gone`, `service_new`, `service_changed`,
    /// `service_gone`, `scan_done`.
    kind: String,
    /// The device concerned.
    device: Option<Uuid>,
    /// The scan run concerned.
    scan_run: Option<Uuid>,
    /// Details, by kind.
    detail: serde_json::Value,
    /// When.
    at: DateTime<Utc>,
}

/// What a daemon says it can do.
#[derive(Serialize, ToSchema)]
pub struct Capabilities {
    /// It may open raw sockets.
    raw_sockets: bool,
    /// A Docker engine answers it.
    docker: bool,
    /// The subnets it is attached to (CIDR).
    subnets: Vec<String>,
    /// Its version.
    version: String,
    /// `pull` or `push`.
    mode: String,
    /// Where a push daemon says it listens.
    url: Option<String>,
    /// The interfaces on which it hears ARP and DHCP passively (empty: it does not listen).
    listening: Vec<String>,
}

/// A daemon as the server knows it.
#[derive(Serialize, ToSchema)]
pub struct Daemon {
    /// Its id.
    id: Uuid,
    /// The network it scans.
    network: Uuid,
    /// Its name.
    name: String,
    /// `pull` or `push`.
    mode: String,
    /// What it said it can do.
    capabilities: Capabilities,
    /// The server's own in-process daemon.
    local: bool,
    /// The key it registered with.
    key_id: Option<Uuid>,
    /// The URL a push daemon announced (never called by itself).
    announced_url: Option<String>,
    /// The URL an admin set or approved: the only one called.
    approved_url: Option<String>,
    /// The server instance a local daemon belongs to.
    instance: Option<String>,
    /// First seen.
    created_at: DateTime<Utc>,
    /// Its last registration, heartbeat or poll.
    last_seen: DateTime<Utc>,
}

/// A daemon key or API token, without its secret.
#[derive(Serialize, ToSchema)]
pub struct Credential {
    /// Its id.
    id: Uuid,
    /// `daemon_key` or `api_token`.
    kind: String,
    /// A name for people.
    name: String,
    /// `admin`, `editor`, `viewer` or `daemon`.
    role: String,
    /// The network a daemon key is scoped to.
    network: Option<Uuid>,
    /// The user a token belongs to.
    user: Option<Uuid>,
    /// When it was made.
    created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    expires_at: Option<DateTime<Utc>>,
}

/// A user account (never its password or hash).
#[derive(Serialize, ToSchema)]
pub struct User {
    /// Its id.
    id: Uuid,
    /// The sign-in name.
    username: String,
    /// `admin`, `editor` or `viewer`.
    role: String,
    /// When it was made.
    created_at: DateTime<Utc>,
    /// When an admin disabled it; `null` while enabled.
    disabled_at: Option<DateTime<Utc>>,
    /// When one of its sessions or tokens was last used (to the minute).
    last_seen_at: Option<DateTime<Utc>>,
}

/// Where events are POSTed.
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    /// Its id.
    id: Uuid,
    /// The URL.
    url: String,
    /// When it was made.
    created_at: DateTime<Utc>,
}

/// One entry of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    /// Its id.
    id: Uuid,
    /// When.
    at: DateTime<Utc>,
    /// Who: a user name or an API token's name.
    actor: String,
    /// `session` or `token`.
    via: String,
    /// The client's address.
    address: Option<String>,
    /// What (`sign_in`, `token_created`, `device_deleted`, …).
    action: String,
    /// What it acted on.
    target: Option<String>,
    /// More, as a JSON object.
    detail: serde_json::Value,
}

/// Where an alert goes: `{"kind": "email", "to"}`, `{"kind": "ntfy", "url", "topic"}` or
/// `{"kind": "webhook", "url", "template"?}`.
#[derive(Serialize, ToSchema)]
pub struct AlertChannel {
    /// `email`, `ntfy` or `webhook`.
    kind: String,
    /// The recipient (`email`).
    to: Option<String>,
    /// The server (`ntfy`) or the URL (`webhook`).
    url: Option<String>,
    /// The topic (`ntfy`).
    topic: Option<String>,
    /// The body's template (`webhook`): JSON with `{{title}}`, `{{message}}`, `{{kind}}`,
    /// `{{device}}`, `{{name}}`, `{{ip}}`, `{{network}}`, `{{at}}`.
    template: Option<String>,
}

/// Hours a rule sends nothing (the server's local time).
#[derive(Serialize, ToSchema)]
pub struct QuietHours {
    /// `HH:MM`.
    from: String,
    /// `HH:MM`; before `from`: the hours wrap midnight.
    to: String,
}

/// An alert rule.
#[derive(Serialize, ToSchema)]
pub struct AlertRule {
    /// Its id.
    id: Uuid,
    /// Its name.
    name: String,
    /// The event kinds it sends.
    events: Vec<String>,
    /// Only this network's events (`null`: every network).
    network: Option<Uuid>,
    /// Only events of devices with an address in this subnet.
    #[schema(value_type = Option<String>)]
    subnet: Option<String>,
    /// Only events of devices with this tag.
    tag: Option<String>,
    /// Only this device's events.
    device: Option<Uuid>,
    /// `HH:MM`: sent as one daily digest from then (server local time); `null`: each at once.
    digest: Option<String>,
    /// Where it sends.
    channel: AlertChannel,
    /// At most one alert in this many seconds (0: no limit).
    throttle_secs: i64,
    /// Hours it sends nothing.
    quiet: Option<QuietHours>,
    /// Whether it sends.
    enabled: bool,
    /// When it was made.
    created_at: DateTime<Utc>,
}

/// What a rule did with one event (event 0: a test).
#[derive(Serialize, ToSchema)]
pub struct AlertDelivery {
    /// The rule.
    rule: Uuid,
    /// The event.
    event_seq: i64,
    /// `delivered`, `failed`, `throttled`, `quiet`, `queued` (waiting for the rule's digest)
    /// or `digested` (sent in one); a digest sent is event `-N` (N: the day).
    status: String,
    /// Attempts made.
    attempts: i64,
    /// What went wrong.
    error: Option<String>,
    /// What it said (the message's title).
    summary: Option<String>,
    /// When.
    at: DateTime<Utc>,
}

/// One attempt to deliver events to a webhook.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    /// The webhook.
    webhook: Uuid,
    /// The last event delivered or tried.
    event_seq: i64,
    /// `delivered` or `failed`.
    status: String,
    /// Attempts made.
    attempts: i64,
    /// The HTTP status answered.
    http_status: Option<i64>,
    /// What went wrong.
    error: Option<String>,
    /// When.
    at: DateTime<Utc>,
}

/// The server's answer to a registration or heartbeat.
#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    /// The daemon's id.
    daemon_id: Uuid,
    /// The network its key is scoped to.
    network_id: Uuid,
    /// How often to poll, in milliseconds.
    poll_interval_ms: u64,
}

/// Work for a daemon: one scan run.
#[derive(Serialize, ToSchema)]
pub struct Job {
    /// The scan run's id.
    id: Uuid,
    /// Its network.
    network: Uuid,
    /// What to scan and how.
    config: ScanConfig,
    /// How long the lease lasts without a call, in milliseconds.
    lease_ms: u64,
}

/// The answer to a poll.
#[derive(Serialize, ToSchema)]
pub struct PollResponse {
    /// A job, or `null`: nothing to do.
    job: Option<Job>,
}

/// The answer to a results, progress or finish call.
#[derive(Serialize, ToSchema)]
pub struct JobAck {
    /// The batch was applied now (false: it had been before).
    applied: bool,
    /// The job was cancelled: stop it.
    cancel: bool,
}

/// `GET /topology` in JSON: the node-link graph (`format=json`, the default) or the map laid
/// out (`format=layout`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum TopologyJson {
    /// `format=json`.
    Graph(TopologyGraph),
    /// `format=layout`.
    Layout(MapLayout),
}

/// The map as a node-link graph (the networkx form), nodes and links sorted by their ids.
#[derive(Serialize, ToSchema)]
pub struct TopologyGraph {
    /// Always `false`: links have no direction.
    directed: bool,
    /// Always `false`: at most one link between two nodes.
    multigraph: bool,
    /// Subnets, devices and Docker networks.
    nodes: Vec<TopologyNode>,
    /// What joins them.
    links: Vec<TopologyLink>,
}

/// A node of the graph; `id` is `subnet:CIDR`, `device:UUID` or `docker-network:HOST:NAME`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TopologyNode {
    /// A subnet.
    Subnet {
        /// `subnet:` and the CIDR.
        id: String,
        /// The block (CIDR).
        cidr: String,
    },
    /// A device.
    Device {
        /// `device:` and the device's id.
        id: String,
        /// The name shown.
        label: String,
        /// The device type (`server`, `nas`, …).
        device_type: String,
        /// Its addresses.
        ips: Vec<String>,
        /// Routes between subnets or is a default gateway.
        gateway: bool,
    },
    /// A Docker network on a Docker host.
    DockerNetwork {
        /// `docker-network:`, the host's id, `:` and the name.
        id: String,
        /// The Docker host's device id.
        host: Uuid,
        /// The network's name.
        name: String,
    },
}

/// A link of the graph, between the ids `source` and `target`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TopologyLink {
    /// A device (`source`) has an interface on a subnet (`target`).
    Member {
        /// The device.
        source: String,
        /// The subnet.
        target: String,
        /// The device's lowest address on the subnet.
        ip: String,
    },
    /// A Docker host (`source`) runs a container (`target`).
    Runs {
        /// The host.
        source: String,
        /// The container.
        target: String,
    },
    /// A container (`source`) is attached to a Docker network (`target`).
    Attached {
        /// The container.
        source: String,
        /// The Docker network.
        target: String,
        /// The container's address there.
        ip: Option<String>,
    },
    /// A layer-2 link: a switch (`source`) has a device or another switch (`target`) on a port.
    Link {
        /// The switch.
        source: String,
        /// The device on its port.
        target: String,
        /// The switch's port.
        port: String,
        /// The other end's port, when LLDP or CDP told it.
        device_port: Option<String>,
        /// How it is known: `lldp`, `cdp` (a neighbour told) or `fdb` (placed from
        /// forwarding tables).
        via: String,
        /// The VLAN.
        vlan: Option<u16>,
    },
}

/// The map laid out by the server (`scanopy_core::topology::layout`, whose documentation
/// tells the picture): whole pixels, y downwards, drawn in the order groups, links, nodes.
#[derive(Serialize, ToSchema)]
pub struct MapLayout {
    /// The drawing's width: everything lies within it.
    width: i64,
    /// The drawing's height.
    height: i64,
    /// The most devices drawn per group and in the top row; the rest are counted in `more`
    /// nodes.
    cap: usize,
    /// The devices in the map, drawn or not.
    devices: usize,
    /// The boxes; a Docker network's box follows its Docker box.
    groups: Vec<MapGroup>,
    /// Curves from gateways to subnets and from Docker hosts to their containers.
    links: Vec<MapLink>,
    /// The devices drawn, and the placeholders for the rest.
    nodes: Vec<MapNode>,
}

/// A point of the layout.
#[derive(Serialize, ToSchema)]
pub struct MapPoint {
    /// Pixels from the left.
    x: i64,
    /// Pixels from the top.
    y: i64,
}

/// A box of the layout.
#[derive(Serialize, ToSchema)]
pub struct MapGroup {
    /// Unique in the layout: the subnet's node id, `other`, `containers:` and the Docker
    /// host's node id, or the Docker network's node id.
    key: String,
    /// `subnet`, `other` (devices on no known subnet), `docker` (a host's containers) or
    /// `docker_network` (inside its `docker` box).
    kind: String,
    /// The top left corner's x.
    x: i64,
    /// The top left corner's y.
    y: i64,
    /// Width.
    w: i64,
    /// Height.
    h: i64,
    /// The title: the subnet's CIDR, the Docker host's or the network's name.
    label: String,
    /// The devices in it, drawn or not.
    total: usize,
    /// The Docker host, for `docker` boxes.
    host: Option<Uuid>,
}

/// A node of the layout, centred on (`x`, `y`).
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MapNode {
    /// A device.
    Device {
        /// `device:` and the id.
        key: String,
        /// The device.
        id: Uuid,
        /// Centre x.
        x: i64,
        /// Centre y.
        y: i64,
        /// The name shown.
        label: String,
        /// The device type.
        device_type: String,
        /// Every address of the device.
        ips: Vec<String>,
        /// The address written under it (for a container without one of its own, its address
        /// on its Docker network).
        ip: Option<String>,
        /// Routes between subnets or is a default gateway.
        gateway: bool,
        /// Drawn in the top row, linked to the subnets it joins.
        top: bool,
        /// The key of the group it is drawn in; `null` in the top row.
        group: Option<String>,
    },
    /// The devices of a group beyond the cap.
    More {
        /// The group's key (`gateways` for the top row).
        group: String,
        /// How many devices it stands for.
        count: usize,
        /// Centre x.
        x: i64,
        /// Centre y.
        y: i64,
    },
}

/// A link of the layout: a cubic Bézier curve (`M p0 C p1 p2 p3`).
#[derive(Serialize, ToSchema)]
pub struct MapLink {
    /// `gateway` (a top-row device to a subnet's box), `runs` (a Docker host to its Docker
    /// box) or `port` (a switch to a device on its port, or to a switch it links to).
    kind: String,
    /// The device's node id (the switch's, for `port`).
    from: String,
    /// The group's key (the device's node id, for `port`).
    to: String,
    /// Start, two control points, end.
    points: Vec<MapPoint>,
    /// The gateway's address on the subnet.
    label: Option<String>,
    /// Where the label is written.
    label_at: Option<MapPoint>,
    /// A `port` link's VLAN, when the switch told it.
    vlan: Option<u16>,
}

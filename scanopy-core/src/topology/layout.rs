//! The map's layout: where each group, device and link of a [`Topology`] is drawn. The one
//! layout of the project: the web UI draws it (`GET /topology?format=layout`), and so does the
//! SVG export ([`Topology::to_svg`]).
//!
//! The picture, in pixels, y downwards:
//! - each subnet is a box (a [`Group`] of kind [`GroupKind::Subnet`]) holding, on a grid, the
//!   devices that are on that subnet only; devices on no known subnet share the box
//!   [`GroupKind::Other`];
//! - gateways (devices that are gateways or join several subnets) sit in a top row, each above
//!   the subnets it joins, with a [`LinkKind::Gateway`] link to each, labelled with its address
//!   there;
//! - a Docker host's containers sit in a box of their own ([`GroupKind::Docker`]) below the
//!   host's subnet, one inner box per Docker network ([`GroupKind::DockerNetwork`]), linked to
//!   the host by a [`LinkKind::Runs`] link.
//!
//! Bounded: a group draws at most `cap` devices (Docker hosts first, so their containers keep
//! their anchor), and the rest as one [`PlacedNode::More`] that counts them; so does the top
//! row. The work is O(n log n) in the devices, the drawing O(groups × cap).
//!
//! Pure and deterministic: the same devices give the same layout, whatever their order.
//! Coordinates are whole pixels.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use uuid::Uuid;

use super::{Edge, Node, Topology};
use crate::model::DeviceType;

/// The width of a grid cell of a group (one device with its labels).
pub const CELL_W: i64 = 132;
/// The height of a grid cell of a group.
pub const CELL_H: i64 = 96;
/// The side of a device's square.
pub const NODE: i64 = 44;
const PAD: i64 = 18;
const HEAD: i64 = 44;
const GAP: i64 = 56;
const GW_SPACING: i64 = 150;
const GW_Y: i64 = 40;
const TOP_ROW: i64 = 150;

/// The key of the top row's [`PlacedNode::More`] (gateways beyond the cap).
pub const TOP_ROW_KEY: &str = "gateways";
/// The key of the group of devices on no known subnet.
pub const OTHER_KEY: &str = "other";

/// A point, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Point {
    /// Pixels from the left.
    pub x: i64,
    /// Pixels from the top.
    pub y: i64,
}

/// What a group box holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// The devices on one subnet (and on no other).
    Subnet,
    /// The devices on no known subnet.
    Other,
    /// A Docker host's containers; holds one [`GroupKind::DockerNetwork`] box per network.
    Docker,
    /// The containers on one Docker network (their first), inside their host's Docker box.
    DockerNetwork,
}

/// A box of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Unique in the layout: the subnet's node key (`subnet:10.0.0.0/24`), [`OTHER_KEY`],
    /// `containers:` and the host's node key, or the Docker network's node key (or
    /// `containers:<host key>:` for containers on no Docker network).
    pub key: String,
    /// What it holds.
    pub kind: GroupKind,
    /// The top left corner's x.
    pub x: i64,
    /// The top left corner's y.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height.
    pub h: i64,
    /// The title: the subnet's CIDR, the Docker host's or network's name.
    pub label: String,
    /// The devices it holds, drawn or not (a [`PlacedNode::More`] counts those beyond the cap).
    pub total: usize,
    /// The Docker host, for [`GroupKind::Docker`] boxes.
    pub host: Option<Uuid>,
}

/// A device, or a placeholder for those beyond the cap, at its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlacedNode {
    /// A device, centred on (`x`, `y`); its labels are drawn below the square.
    Device {
        /// The topology's node key (`device:<id>`).
        key: String,
        /// The device.
        id: Uuid,
        /// Centre x.
        x: i64,
        /// Centre y.
        y: i64,
        /// The name shown (the topology's label).
        label: String,
        /// The type (its icon).
        device_type: DeviceType,
        /// Every address of the device.
        ips: Vec<String>,
        /// The address written under it: its first, or for a container without one of its own
        /// its address on its Docker network.
        ip: Option<String>,
        /// A gateway in the topology's sense (routes between subnets or is a default gateway).
        gateway: bool,
        /// Drawn in the top row, linked to the subnets it joins (a gateway that is not a
        /// container).
        top: bool,
        /// The key of the group it is drawn in; `None` in the top row.
        group: Option<String>,
    },
    /// The devices of a group beyond the cap, counted, in the cell after the last drawn one.
    More {
        /// The group's key ([`TOP_ROW_KEY`] for the top row).
        group: String,
        /// How many devices it stands for.
        count: usize,
        /// Centre x.
        x: i64,
        /// Centre y.
        y: i64,
    },
}

impl PlacedNode {
    /// The centre.
    pub fn at(&self) -> Point {
        match self {
            PlacedNode::Device { x, y, .. } | PlacedNode::More { x, y, .. } => {
                Point { x: *x, y: *y }
            }
        }
    }
}

/// What a link shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A top-row device's interface on a subnet: from the device to the subnet's box.
    Gateway,
    /// A Docker host runs the containers of a Docker box: from the host to that box.
    Runs,
    /// A device on a switch's port (or two switches linked): from the switch to the device,
    /// labelled with the port, at the device's end.
    Port,
}

/// A link, drawn as the cubic Bézier curve `points[0]` to `points[3]` with control points
/// `points[1]` and `points[2]` (SVG `M p0 C p1 p2 p3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// What it shows.
    pub kind: LinkKind,
    /// The device's node key.
    pub from: String,
    /// The group's key.
    pub to: String,
    /// Start, two control points, end.
    pub points: [Point; 4],
    /// The gateway's address on the subnet, written at `label_at`.
    pub label: Option<String>,
    /// Where the label starts (its baseline).
    pub label_at: Option<Point>,
    /// A port link's VLAN, when the switch told it (the map colours and filters by it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// The map laid out: groups, then links, then nodes, in drawing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// The drawing's width: everything lies within `0..width` (a label may overhang a little).
    pub width: i64,
    /// The drawing's height.
    pub height: i64,
    /// The most devices drawn per group and in the top row.
    pub cap: usize,
    /// The devices in the topology, drawn or not.
    pub devices: usize,
    /// The keys of the groups drawn with up to [`EXPANDED_CAP`] devices, as asked
    /// ([`LayoutOptions::expand`]) and present; left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expanded: Vec<String>,
    /// The boxes; a Docker network's box follows its Docker box.
    pub groups: Vec<Group>,
    /// The links.
    pub links: Vec<Link>,
    /// The devices drawn and the placeholders for the rest.
    pub nodes: Vec<PlacedNode>,
}

/// The most devices drawn in a group the caller asked to expand ([`LayoutOptions::expand`]).
pub const EXPANDED_CAP: usize = 2_000;

/// What a caller may ask of a layout beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayoutOptions {
    /// The most devices drawn per group and in the top row ([`default_cap`] when `None`).
    pub cap: Option<usize>,
    /// Keys of groups (and [`TOP_ROW_KEY`]) drawn with up to [`EXPANDED_CAP`] devices, or the
    /// cap when it is larger: a cluster opened on demand.
    pub expand: std::collections::BTreeSet<String>,
    /// A device always drawn, wherever it falls among its group's (what a search jumps to).
    pub focus: Option<Uuid>,
}

/// The cap the UI has always used: 2,400 devices spread over the groups, at least 24 and at
/// most 240 per group.
pub fn default_cap(t: &Topology) -> usize {
    let groups = t
        .graph
        .node_weights()
        .filter(|n| !matches!(n, Node::Device { .. }))
        .count()
        .max(1);
    (2400 / groups).clamp(24, 240)
}

/// A device as the layout sees it.
struct Dev<'a> {
    key: String,
    id: Uuid,
    label: &'a str,
    device_type: DeviceType,
    ips: &'a [String],
    gateway: bool,
    /// Its address on its first Docker network (a container's).
    docker_ip: Option<String>,
    /// It runs containers.
    docker_host: bool,
    /// The shown address's family (IPv4, IPv6, none) and value, for [`Dev::order`].
    ip_order: (u8, u128),
}

impl Dev<'_> {
    fn shown_ip(&self) -> Option<String> {
        self.ips.first().cloned().or_else(|| self.docker_ip.clone())
    }

    /// Docker hosts last, then by address (IPv4 before IPv6), then by label and key.
    fn order(&self) -> (bool, (u8, u128), &str, &str) {
        (self.docker_host, self.ip_order, self.label, &self.key)
    }
}

/// Devices of one box: those drawn (at most the cap), and how many in all.
struct Bin<'a> {
    key: String,
    label: String,
    items: Vec<&'a Dev<'a>>,
    total: usize,
}

impl<'a> Bin<'a> {
    fn new(key: String, label: String) -> Self {
        Bin {
            key,
            label,
            items: Vec::new(),
            total: 0,
        }
    }

    /// Sorts, and keeps the cap: Docker hosts first, in their order, then the others; the
    /// `focus` device, when it is here, is kept in place of the last other one.
    fn cap(&mut self, cap: usize, focus: Option<Uuid>) {
        self.items.sort_by(|a, b| a.order().cmp(&b.order()));
        if self.items.len() > cap {
            let focused = focus.and_then(|f| self.items.iter().copied().find(|d| d.id == f));
            let (hosts, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.items)
                .into_iter()
                .partition(|d| d.docker_host);
            let hosts: Vec<_> = hosts.into_iter().take(cap).collect();
            let others = others.into_iter().take(cap - hosts.len());
            self.items = others.chain(hosts).collect();
            if let Some(f) = focused.filter(|f| !self.items.iter().any(|d| d.id == f.id)) {
                // The last drawn one that is not a Docker host gives way (else the last).
                let at = self
                    .items
                    .iter()
                    .rposition(|d| !d.docker_host)
                    .unwrap_or(self.items.len().saturating_sub(1));
                if let Some(slot) = self.items.get_mut(at) {
                    *slot = f;
                }
                self.items.sort_by(|a, b| a.order().cmp(&b.order()));
            }
        }
    }

    /// The grid cells needed: the drawn devices and a "more" cell.
    fn cells(&self) -> usize {
        self.items.len() + usize::from(self.total > self.items.len())
    }
}

/// Columns and rows of a grid of `n` cells, at most `max_cols` wide, about 1.5 times wider
/// than high.
fn grid(n: usize, max_cols: usize) -> (usize, usize) {
    if n == 0 {
        return (1, 0);
    }
    let mut cols = 1;
    while cols * cols * 2 < n * 3 {
        cols += 1; // the smallest cols with cols² ≥ 1.5 n
    }
    let cols = cols.min(n).min(max_cols).max(1);
    (cols, n.div_ceil(cols))
}

fn px(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX / 4)
}

impl Topology {
    /// The map laid out with the [`default_cap`].
    pub fn layout(&self) -> Layout {
        self.layout_capped(default_cap(self))
    }

    /// The map laid out, drawing at most `cap` devices per group and in the top row (at
    /// least one).
    pub fn layout_capped(&self, cap: usize) -> Layout {
        self.layout_with(&LayoutOptions {
            cap: Some(cap),
            ..LayoutOptions::default()
        })
    }

    /// The map laid out as `options` ask: groups expanded, a device kept in view.
    pub fn layout_with(&self, options: &LayoutOptions) -> Layout {
        let cap = options.cap.unwrap_or_else(|| default_cap(self)).max(1);
        let mut b = Builder::new(self, cap);
        b.expand = options.expand.clone();
        b.focus = options.focus;
        b.run()
    }
}

/// A top-row device, the subnets it joins (keys, with its address there) and the x it wants:
/// the middle of their boxes.
struct TopSlot<'s, 'a> {
    dev: &'s Dev<'a>,
    joined: Vec<(&'s String, &'s String)>,
    cx: i64,
}

/// A Docker host's containers, by Docker network key.
struct DockerBin<'a> {
    host: &'a Dev<'a>,
    nets: BTreeMap<String, Bin<'a>>,
    total: usize,
}

/// A measured Docker box: its width and height, and each inner box's offset, width, height
/// and columns.
struct DockerSize {
    w: i64,
    h: i64,
    inner: Vec<(i64, i64, i64, usize)>,
}

/// A column of the drawing: a subnet's box with the Docker boxes of its hosts below it.
struct Column<'b, 'a> {
    /// The main box, if any: its devices, kind, width, height and grid columns.
    main: Option<(&'b Bin<'a>, GroupKind, i64, i64, usize)>,
    /// The Docker boxes below it, measured.
    dockers: Vec<(&'b DockerBin<'a>, DockerSize)>,
    w: i64,
    h: i64,
}

struct Builder<'a> {
    cap: usize,
    /// Groups drawn with up to [`EXPANDED_CAP`].
    expand: std::collections::BTreeSet<String>,
    /// A device kept in view.
    focus: Option<Uuid>,
    devices: Vec<Dev<'a>>,
    /// Device key → the subnets it is on (keys, sorted) with its address there.
    member_of: BTreeMap<String, Vec<(String, String)>>,
    /// Container key → Docker host key.
    host_of: BTreeMap<String, String>,
    /// Container key → its first Docker network's key.
    first_net: BTreeMap<String, String>,
    /// Docker network key → its name.
    net_names: BTreeMap<String, String>,
    /// Subnet keys in address order, with their CIDR text.
    subnets: Vec<(String, String)>,
    /// Layer-2 links: switch key, device key, the switch's port.
    ports: Vec<(String, String, String, Option<u16>)>,
}

impl<'a> Builder<'a> {
    fn new(t: &'a Topology, cap: usize) -> Self {
        let (nodes, edges) = t.canonical();
        let mut member_of: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut host_of = BTreeMap::new();
        let mut first_net: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        for (a, b, e) in &edges {
            match e {
                Edge::Member { ip } => member_of
                    .entry(a.clone())
                    .or_default()
                    .push((b.clone(), ip.clone())),
                Edge::Runs => {
                    host_of.insert(b.clone(), a.clone());
                }
                Edge::Attached { ip } => {
                    first_net
                        .entry(a.clone())
                        .or_insert_with(|| (b.clone(), ip.clone()));
                }
                Edge::Link { .. } => {}
            }
        }
        let ports = t.port_links();
        let mut subnets = Vec::new();
        let mut net_names = BTreeMap::new();
        let mut devices = Vec::new();
        for n in nodes.iter().copied() {
            match n {
                Node::Subnet { cidr } => subnets.push((
                    (cidr.addr().is_ipv6(), cidr.addr(), n.key()),
                    cidr.to_string(),
                )),
                Node::DockerNetwork { name, .. } => {
                    net_names.insert(n.key(), name.clone());
                }
                Node::Device {
                    id,
                    label,
                    device_type,
                    ips,
                    gateway,
                } => {
                    let key = n.key();
                    let docker_ip = first_net.get(&key).and_then(|(_, ip)| ip.clone());
                    let shown = ips.first().or(docker_ip.as_ref());
                    let ip_order = match shown.and_then(|i| i.parse::<IpAddr>().ok()) {
                        Some(IpAddr::V4(a)) => (0, u128::from(u32::from(a))),
                        Some(IpAddr::V6(a)) => (1, u128::from(a)),
                        None => (2, 0),
                    };
                    devices.push(Dev {
                        ip_order,
                        docker_host: false,
                        key,
                        id: *id,
                        label,
                        device_type: *device_type,
                        ips,
                        gateway: *gateway,
                        docker_ip,
                    });
                }
            }
        }
        subnets.sort();
        let hosts: std::collections::BTreeSet<&String> = host_of.values().collect();
        for d in &mut devices {
            d.docker_host = hosts.contains(&d.key);
        }
        Builder {
            cap,
            expand: Default::default(),
            focus: None,
            devices,
            member_of,
            host_of,
            first_net: first_net.into_iter().map(|(k, (n, _))| (k, n)).collect(),
            net_names,
            subnets: subnets.into_iter().map(|((_, _, k), c)| (k, c)).collect(),
            ports,
        }
    }

    fn run(&'a self) -> Layout {
        let cap = self.cap;
        let by_key: BTreeMap<&str, &Dev> =
            self.devices.iter().map(|d| (d.key.as_str(), d)).collect();
        // Sort the devices into the boxes and the top row.
        let mut groups: Vec<(Bin, GroupKind)> = self
            .subnets
            .iter()
            .map(|(k, cidr)| (Bin::new(k.clone(), cidr.clone()), GroupKind::Subnet))
            .collect();
        let index: BTreeMap<String, usize> = self
            .subnets
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let mut other = Bin::new(OTHER_KEY.to_owned(), "Not in a known subnet".to_owned());
        let mut top = Bin::new(TOP_ROW_KEY.to_owned(), String::new());
        let mut dockers: BTreeMap<&str, DockerBin> = BTreeMap::new();
        for d in &self.devices {
            let host = self
                .host_of
                .get(&d.key)
                .and_then(|h| by_key.get(h.as_str()));
            if let Some(host) = host {
                let db = dockers.entry(&host.key).or_insert_with(|| DockerBin {
                    host,
                    nets: BTreeMap::new(),
                    total: 0,
                });
                let net = self.first_net.get(&d.key);
                let (key, label) = match net {
                    Some(n) => (
                        n.clone(),
                        self.net_names.get(n).cloned().unwrap_or_default(),
                    ),
                    None => (format!("containers:{}:", host.key), "no network".to_owned()),
                };
                let bin = db
                    .nets
                    .entry(key.clone())
                    .or_insert_with(|| Bin::new(key, label));
                bin.items.push(d);
                bin.total += 1;
                db.total += 1;
            } else if d.gateway {
                top.items.push(d);
                top.total += 1;
            } else {
                let first = self.member_of.get(&d.key).and_then(|m| m.first());
                let bin = match first.and_then(|(s, _)| index.get(s)) {
                    Some(&i) => &mut groups[i].0,
                    None => &mut other,
                };
                bin.items.push(d);
                bin.total += 1;
            }
        }
        if other.total > 0 {
            groups.push((other, GroupKind::Other));
        }
        let cap_of = |key: &str| {
            if self.expand.contains(key) {
                cap.max(EXPANDED_CAP)
            } else {
                cap
            }
        };
        for (g, _) in &mut groups {
            g.cap(cap_of(&g.key), self.focus);
        }
        for db in dockers.values_mut() {
            for b in db.nets.values_mut() {
                b.cap(cap_of(&b.key), self.focus);
            }
        }
        // The top row is capped like a group (its Docker hosts are kept first too).
        top.cap(cap_of(&top.key), self.focus);

        let mut out = Drawing::default();
        let top_y = if top.total > 0 { TOP_ROW } else { 0 };
        self.place_columns(&groups, &dockers, top_y, &mut out);
        self.place_top_row(&top, &mut out);
        self.link_docker_hosts(&dockers, &mut out);
        self.link_ports(&mut out);
        Layout {
            width: out.max_w.max(300),
            height: out.height.max(200),
            cap,
            devices: self.devices.len(),
            expanded: out
                .groups
                .iter()
                .map(|g| g.key.clone())
                .chain(std::iter::once(TOP_ROW_KEY.to_owned()).filter(|_| top.total > 0))
                .filter(|k| self.expand.contains(k))
                .collect(),
            groups: out.groups,
            links: out.links,
            nodes: out.nodes,
        }
    }

    /// The boxes in columns (a subnet's box, its hosts' Docker boxes below), the columns in
    /// rows of about a 1.8 : 1 aspect.
    fn place_columns(
        &self,
        groups: &[(Bin, GroupKind)],
        dockers: &BTreeMap<&str, DockerBin>,
        top_y: i64,
        out: &mut Drawing,
    ) {
        let columns = measure_columns(groups, dockers);
        let area: i64 = columns.iter().map(|c| (c.w + GAP) * (c.h + GAP)).sum();
        let widest = columns.iter().map(|c| c.w).max().unwrap_or(0);
        let row_max = if columns.len() <= 4 {
            i64::MAX
        } else {
            isqrt(area.saturating_mul(9) / 5).max(widest)
        };
        let (mut x, mut y, mut row_h) = (0, top_y, 0);
        for c in &columns {
            if x > 0 && x + c.w > row_max {
                x = 0;
                y += row_h + GAP + 30;
                row_h = 0;
            }
            let mut cy = y;
            if let Some((g, kind, w, h, cols)) = c.main {
                let gx = x + (c.w - w) / 2;
                out.groups.push(Group {
                    key: g.key.clone(),
                    kind,
                    x: gx,
                    y: cy,
                    w,
                    h,
                    label: g.label.clone(),
                    total: g.total,
                    host: None,
                });
                out.boxes.insert(g.key.clone(), (gx, cy, w));
                out.cells(g, gx + PAD, cy + HEAD, cols);
                cy += h;
            }
            for (db, size) in &c.dockers {
                if c.main.is_some() || cy != y {
                    cy += GAP;
                }
                let dx = x + (c.w - size.w) / 2;
                let key = format!("containers:{}", db.host.key);
                out.groups.push(Group {
                    key: key.clone(),
                    kind: GroupKind::Docker,
                    x: dx,
                    y: cy,
                    w: size.w,
                    h: size.h,
                    label: db.host.label.to_owned(),
                    total: db.total,
                    host: Some(db.host.id),
                });
                out.boxes.insert(key, (dx, cy, size.w));
                for (b, &(ox, w, h, cols)) in db.nets.values().zip(&size.inner) {
                    let (bx, by) = (dx + ox, cy + HEAD);
                    out.groups.push(Group {
                        key: b.key.clone(),
                        kind: GroupKind::DockerNetwork,
                        x: bx,
                        y: by,
                        w,
                        h,
                        label: b.label.clone(),
                        total: b.total,
                        host: None,
                    });
                    out.cells(b, bx + 8, by + 30, cols);
                }
                cy += size.h;
            }
            x += c.w + GAP;
            row_h = row_h.max(cy - y);
            out.max_w = out.max_w.max(x - GAP);
        }
        out.height = (y + row_h).max(top_y);
    }

    /// The top row: each device above the middle of the subnets it joins, spread at least
    /// [`GW_SPACING`] apart, linked to each of them.
    fn place_top_row(&self, top: &Bin, out: &mut Drawing) {
        let mut row: Vec<TopSlot> = top
            .items
            .iter()
            .map(|d| {
                let joined: Vec<(&String, &String)> = self
                    .member_of
                    .get(&d.key)
                    .into_iter()
                    .flatten()
                    .filter(|(s, _)| out.boxes.contains_key(s))
                    .map(|(s, ip)| (s, ip))
                    .collect();
                let centres: Vec<i64> = joined
                    .iter()
                    .filter_map(|(s, _)| out.boxes.get(*s))
                    .map(|(x, _, w)| x + w / 2)
                    .collect();
                let cx = if centres.is_empty() {
                    out.max_w / 2
                } else {
                    centres.iter().sum::<i64>() / px(centres.len())
                };
                TopSlot { dev: d, joined, cx }
            })
            .collect();
        row.sort_by_key(|r| r.cx); // stable: ties keep the address order
        let mut xs: Vec<i64> = Vec::with_capacity(row.len() + 1);
        let mut last: Option<i64> = None;
        let slots = row.len() + usize::from(top.total > top.items.len());
        for i in 0..slots {
            let want = row.get(i).map_or(i64::MIN, |r| r.cx);
            let x = last.map_or(want, |l| want.max(l + GW_SPACING));
            xs.push(x);
            last = Some(x);
        }
        if let (Some(&first), Some(last)) = (xs.first(), last) {
            // Centre a row wider than the boxes, but never left of the drawing.
            let centre = ((out.max_w - last) / 2).min(0);
            let shift = centre + (CELL_W / 2 - (first + centre)).max(0);
            for x in &mut xs {
                *x += shift;
            }
        }
        let sy = GW_Y + NODE / 2;
        for (TopSlot { dev: d, joined, .. }, &x) in row.iter().zip(&xs) {
            out.place(d, x, GW_Y, None);
            let n = px(joined.len());
            for (j, (s, ip)) in joined.iter().enumerate() {
                let Some(&(bx, ty, bw)) = out.boxes.get(*s) else {
                    continue;
                };
                let tx = (x + (2 * px(j) - (n - 1)) * 12)
                    .max(bx + 40)
                    .min(bx + bw - 40);
                let mid = (sy + ty) / 2;
                out.links.push(Link {
                    kind: LinkKind::Gateway,
                    from: d.key.clone(),
                    to: (*s).clone(),
                    points: [
                        Point { x, y: sy },
                        Point { x, y: mid },
                        Point { x: tx, y: mid },
                        Point { x: tx, y: ty },
                    ],
                    label: Some((*ip).clone()),
                    label_at: Some(Point {
                        x: tx + 6,
                        y: ty - 8,
                    }),
                    vlan: None,
                });
            }
            out.max_w = out.max_w.max(x + CELL_W / 2);
        }
        if top.total > top.items.len() {
            if let Some(&x) = xs.last() {
                out.nodes.push(PlacedNode::More {
                    group: TOP_ROW_KEY.to_owned(),
                    count: top.total - top.items.len(),
                    x,
                    y: GW_Y,
                });
                out.max_w = out.max_w.max(x + CELL_W / 2);
            }
        }
    }

    /// A link from each drawn switch to each drawn device on its ports (and to the switches it
    /// links to), bowed so that links between neighbours in a row stay visible.
    fn link_ports(&self, out: &mut Drawing) {
        for (sw, dev, port, vlan) in &self.ports {
            let (Some(&a), Some(&b)) = (out.centres.get(sw), out.centres.get(dev)) else {
                continue;
            };
            let (sx, sy) = (a.x, a.y + NODE / 2);
            let (ex, ey) = (b.x, b.y - NODE / 2);
            let bow = if (ey - sy).abs() < NODE { 40 } else { 0 };
            out.links.push(Link {
                kind: LinkKind::Port,
                from: sw.clone(),
                to: dev.clone(),
                points: [
                    Point { x: sx, y: sy },
                    Point {
                        x: sx,
                        y: sy + (ey - sy) / 2 + bow,
                    },
                    Point {
                        x: ex,
                        y: sy + (ey - sy) / 2 + bow,
                    },
                    Point { x: ex, y: ey },
                ],
                label: Some(port.clone()),
                label_at: Some(Point {
                    x: ex + 6,
                    y: ey - 4,
                }),
                vlan: *vlan,
            });
        }
    }

    /// A link from each drawn Docker host down to the middle of its Docker box's top edge.
    fn link_docker_hosts(&self, dockers: &BTreeMap<&str, DockerBin>, out: &mut Drawing) {
        for (host, _) in dockers.iter() {
            let key = format!("containers:{host}");
            let (Some(&h), Some(&(bx, ty, bw))) = (out.centres.get(*host), out.boxes.get(&key))
            else {
                continue;
            };
            let tx = bx + bw / 2;
            let (sx, sy) = (h.x, h.y + NODE / 2);
            let mid = (h.y + ty) / 2;
            out.links.push(Link {
                kind: LinkKind::Runs,
                from: (*host).to_owned(),
                to: key,
                points: [
                    Point { x: sx, y: sy },
                    Point { x: sx, y: mid + 20 },
                    Point { x: tx, y: mid },
                    Point { x: tx, y: ty },
                ],
                label: None,
                label_at: None,
                vlan: None,
            });
        }
    }
}

/// The columns, measured: one per group, in order, holding the Docker boxes of the hosts it
/// draws; then one per Docker box whose host is in no group.
fn measure_columns<'b, 'a>(
    groups: &'b [(Bin<'a>, GroupKind)],
    dockers: &'b BTreeMap<&str, DockerBin<'a>>,
) -> Vec<Column<'b, 'a>> {
    let mut columns: Vec<Column> = groups
        .iter()
        .map(|(g, kind)| {
            let (cols, rows) = grid(g.cells(), 10);
            let w = (px(cols) * CELL_W + PAD * 2).max(260);
            let h = HEAD + px(rows.max(1)) * CELL_H + PAD;
            Column {
                main: Some((g, *kind, w, h, cols)),
                dockers: Vec::new(),
                w: 0,
                h: 0,
            }
        })
        .collect();
    let mut host_column = BTreeMap::new();
    for (i, (g, _)) in groups.iter().enumerate() {
        for d in g.items.iter().filter(|d| d.docker_host) {
            host_column.insert(d.key.as_str(), i);
        }
    }
    for (host, db) in dockers {
        let size = measure_docker(db);
        match host_column.get(host) {
            Some(&i) => columns[i].dockers.push((db, size)),
            None => columns.push(Column {
                main: None,
                dockers: vec![(db, size)],
                w: 0,
                h: 0,
            }),
        }
    }
    for c in &mut columns {
        let main = c.main.map(|(_, _, w, h, _)| (w, h));
        c.w = c
            .dockers
            .iter()
            .map(|(_, s)| s.w)
            .chain(main.map(|m| m.0))
            .max()
            .unwrap_or(0);
        let below: i64 = c.dockers.iter().map(|(_, s)| GAP + s.h).sum();
        c.h = match main {
            Some((_, h)) => h + below,
            None => below - GAP,
        };
    }
    columns
}

fn measure_docker(db: &DockerBin) -> DockerSize {
    let mut w = PAD;
    let mut h_max = 0;
    let mut inner = Vec::new();
    for b in db.nets.values() {
        let (cols, rows) = grid(b.cells(), 4);
        let bw = (px(cols) * CELL_W + 16).max(170);
        let bh = 34 + px(rows) * CELL_H + 6;
        inner.push((w, bw, bh, cols));
        w += bw + 12;
        h_max = h_max.max(bh);
    }
    DockerSize {
        w: (w - 12 + PAD).max(240),
        h: HEAD + h_max + PAD,
        inner,
    }
}

fn isqrt(n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    let mut x = (n as f64).sqrt() as i64;
    while x * x > n {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

/// What is placed so far.
#[derive(Default)]
struct Drawing {
    groups: Vec<Group>,
    links: Vec<Link>,
    nodes: Vec<PlacedNode>,
    /// Box key → (x, y, w) of the boxes links may end at.
    boxes: BTreeMap<String, (i64, i64, i64)>,
    /// Device key → centre.
    centres: BTreeMap<String, Point>,
    max_w: i64,
    height: i64,
}

impl Drawing {
    fn place(&mut self, d: &Dev, x: i64, y: i64, group: Option<&str>) {
        self.centres.insert(d.key.clone(), Point { x, y });
        self.nodes.push(PlacedNode::Device {
            key: d.key.clone(),
            id: d.id,
            x,
            y,
            label: d.label.to_owned(),
            device_type: d.device_type,
            ips: d.ips.to_vec(),
            ip: d.shown_ip(),
            gateway: d.gateway,
            top: group.is_none(),
            group: group.map(str::to_owned),
        });
    }

    /// A bin's devices on a grid of `cols` columns from (`x0`, `y0`), and its "more" cell.
    fn cells(&mut self, b: &Bin, x0: i64, y0: i64, cols: usize) {
        let cell = |i: usize| {
            (
                x0 + px(i % cols) * CELL_W + CELL_W / 2,
                y0 + px(i / cols) * CELL_H + NODE / 2 + 6,
            )
        };
        for (i, d) in b.items.iter().enumerate() {
            let (x, y) = cell(i);
            self.place(d, x, y, Some(&b.key));
        }
        if b.total > b.items.len() {
            let (x, y) = cell(b.items.len());
            self.nodes.push(PlacedNode::More {
                group: b.key.clone(),
                count: b.total - b.items.len(),
                x,
                y,
            });
        }
    }
}

#[cfg(test)]
mod tests;

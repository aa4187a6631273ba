//! Topology: the network drawn as a graph, and its exports to Graphviz DOT, Mermaid and JSON.
//!
//! Nodes are subnets, devices and Docker networks. A device is linked to each subnet it has an
//! interface on; a device on two subnets, or a default gateway, is a gateway; a Docker host is
//! linked to the containers it runs, and each container to its Docker networks. Every export
//! is deterministic: the same devices give the same bytes, whatever their order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ipnet::IpNet;
use petgraph::Undirected;
use petgraph::graph::{Graph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::model::{Device, DeviceType};

/// A node of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    /// A subnet.
    Subnet {
        /// Its block.
        cidr: IpNet,
    },
    /// A device.
    Device {
        /// Its id.
        id: Uuid,
        /// A label for people.
        label: String,
        /// Its type (drawn as its shape or icon).
        device_type: DeviceType,
        /// Its addresses.
        ips: Vec<String>,
        /// Whether it routes between subnets or is a default gateway.
        gateway: bool,
    },
    /// A Docker network on a Docker host.
    DockerNetwork {
        /// The Docker host's device id.
        host: Uuid,
        /// The network's name.
        name: String,
    },
}

impl Node {
    /// The node's stable id in every export.
    pub fn key(&self) -> String {
        match self {
            Node::Subnet { cidr } => format!("subnet:{cidr}"),
            Node::Device { id, .. } => format!("device:{id}"),
            Node::DockerNetwork { host, name } => format!("docker-network:{host}:{name}"),
        }
    }

    fn label(&self) -> String {
        match self {
            Node::Subnet { cidr } => cidr.to_string(),
            Node::Device { label, ips, .. } => {
                if ips.is_empty() {
                    label.clone()
                } else if ips.contains(label) {
                    ips.join("\n")
                } else {
                    format!("{label}\n{}", ips.join("\n"))
                }
            }
            Node::DockerNetwork { name, .. } => format!("docker: {name}"),
        }
    }
}

/// An edge of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edge {
    /// A device's interface on a subnet.
    Member {
        /// The interface's address.
        ip: String,
    },
    /// A Docker host runs a container.
    Runs,
    /// A container is attached to a Docker network.
    Attached {
        /// Its address there, if any.
        ip: Option<String>,
    },
}

/// The map of a network.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    graph: Graph<Node, Edge, Undirected>,
}

impl Topology {
    /// Builds the map from devices.
    pub fn build(devices: &[Device]) -> Topology {
        let mut devices: Vec<&Device> = devices.iter().collect();
        devices.sort_by_key(|d| d.id);
        let mut g: Graph<Node, Edge, Undirected> = Graph::default();

        let subnets: BTreeSet<IpNet> = devices.iter().flat_map(|d| d.subnets()).collect();
        let mut subnet_ix = BTreeMap::new();
        for s in subnets {
            subnet_ix.insert(s, g.add_node(Node::Subnet { cidr: s }));
        }
        let mut device_ix: BTreeMap<Uuid, NodeIndex> = BTreeMap::new();
        for d in &devices {
            let gateway = d.device_type == DeviceType::Gateway || d.subnets().len() > 1;
            let ips: Vec<String> = d.ips().iter().map(|i| i.to_string()).collect();
            let ix = g.add_node(Node::Device {
                id: d.id,
                label: d.label(),
                device_type: d.device_type,
                ips,
                gateway,
            });
            device_ix.insert(d.id, ix);
        }
        for d in &devices {
            let mut links: BTreeSet<(IpNet, String)> = BTreeSet::new();
            for i in &d.interfaces {
                if let Some(s) = i.subnet {
                    links.insert((s, i.ip.to_string()));
                }
            }
            // One edge per subnet, naming the lowest address on it.
            let mut done = BTreeSet::new();
            for (s, ip) in links {
                if done.insert(s) {
                    g.add_edge(device_ix[&d.id], subnet_ix[&s], Edge::Member { ip });
                }
            }
        }
        let mut docker_net_ix: BTreeMap<(Uuid, String), NodeIndex> = BTreeMap::new();
        for d in &devices {
            let (Some(c), Some(parent)) = (&d.container, d.parent) else {
                continue;
            };
            let Some(&host_ix) = device_ix.get(&parent) else {
                continue;
            };
            g.add_edge(host_ix, device_ix[&d.id], Edge::Runs);
            let mut nets = c.networks.clone();
            nets.sort();
            for n in nets {
                let ix = *docker_net_ix
                    .entry((parent, n.name.clone()))
                    .or_insert_with(|| {
                        g.add_node(Node::DockerNetwork {
                            host: parent,
                            name: n.name.clone(),
                        })
                    });
                g.add_edge(
                    device_ix[&d.id],
                    ix,
                    Edge::Attached {
                        ip: n.ip.map(|i| i.to_string()),
                    },
                );
            }
        }
        Topology { graph: g }
    }

    /// The underlying graph.
    pub fn graph(&self) -> &Graph<Node, Edge, Undirected> {
        &self.graph
    }

    /// The devices that are gateways, by id.
    pub fn gateways(&self) -> Vec<Uuid> {
        self.graph
            .node_weights()
            .filter_map(|n| match n {
                Node::Device {
                    id, gateway: true, ..
                } => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// Nodes sorted by key, and edges as sorted (key, key, edge) triples: the canonical order
    /// of every export.
    fn canonical(&self) -> (Vec<&Node>, Vec<(String, String, &Edge)>) {
        let mut nodes: Vec<&Node> = self.graph.node_weights().collect();
        nodes.sort_by_key(|n| n.key());
        let mut edges: Vec<(String, String, &Edge)> = self
            .graph
            .edge_references()
            .map(|e| {
                let (a, b) = (self.graph[e.source()].key(), self.graph[e.target()].key());
                (a, b, e.weight())
            })
            .collect();
        edges.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
        (nodes, edges)
    }

    /// JSON node-link form: `{"directed": false, "nodes": [...], "links": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let (nodes, edges) = self.canonical();
        let nodes: Vec<serde_json::Value> = nodes
            .iter()
            .map(|n| {
                let mut v = serde_json::to_value(n).unwrap_or_default();
                v["id"] = json!(n.key());
                v
            })
            .collect();
        let links: Vec<serde_json::Value> = edges
            .iter()
            .map(|(a, b, e)| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["source"] = json!(a);
                v["target"] = json!(b);
                v
            })
            .collect();
        json!({"directed": false, "multigraph": false, "nodes": nodes, "links": links})
    }

    /// Graphviz DOT: each subnet a cluster holding the devices only on it; gateways and
    /// containers outside, linked to what they join.
    pub fn to_dot(&self) -> String {
        let (nodes, edges) = self.canonical();
        let mut out = String::from(
            "graph \"scanopy\" {\n  graph [compound=true, rankdir=LR, fontname=\"Helvetica\"];\n  node [fontname=\"Helvetica\"];\n",
        );
        let home = self.homes();
        let mut clusters: BTreeMap<String, Vec<&Node>> = BTreeMap::new();
        for n in &nodes {
            if let Some(h) = home.get(&n.key()) {
                clusters.entry(h.clone()).or_default().push(n);
            }
        }
        let cluster_names: BTreeMap<String, String> = nodes
            .iter()
            .filter(|n| matches!(n, Node::Subnet { .. }))
            .enumerate()
            .map(|(i, n)| (n.key(), format!("cluster_{i}")))
            .collect();
        for n in &nodes {
            match n {
                Node::Subnet { cidr } => {
                    let _ = writeln!(out, "  subgraph \"{}\" {{", cluster_names[&n.key()]);
                    let _ = writeln!(out, "    label={};", dot_str(&cidr.to_string()));
                    let _ = writeln!(out, "    style=\"rounded\";");
                    let _ = writeln!(out, "    {} [shape=point, style=invis];", dot_str(&n.key()));
                    for m in clusters.get(&n.key()).into_iter().flatten() {
                        let _ = writeln!(out, "    {};", dot_node(m));
                    }
                    out.push_str("  }\n");
                }
                _ if home.contains_key(&n.key()) => {}
                _ => {
                    let _ = writeln!(out, "  {};", dot_node(n));
                }
            }
        }
        for (a, b, e) in &edges {
            // Members drawn inside their subnet's cluster need no edge.
            if let Edge::Member { ip } = e {
                let (dev, subnet) = if a.starts_with("subnet:") {
                    (b, a)
                } else {
                    (a, b)
                };
                if home.get(dev) == Some(subnet) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  {} -- {} [lhead={}, label={}];",
                    dot_str(dev),
                    dot_str(subnet),
                    dot_str(&cluster_names[subnet]),
                    dot_str(ip)
                );
                continue;
            }
            let style = match e {
                Edge::Runs => "style=dashed",
                _ => "style=dotted",
            };
            let _ = writeln!(out, "  {} -- {} [{style}];", dot_str(a), dot_str(b));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart: subnets as subgraphs, gateways linked to the subnets they join.
    pub fn to_mermaid(&self) -> String {
        let (nodes, edges) = self.canonical();
        let ids: BTreeMap<String, String> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.key(), format!("n{i}")))
            .collect();
        let home = self.homes();
        let mut out = String::from("flowchart LR\n");
        for n in &nodes {
            match n {
                Node::Subnet { cidr } => {
                    let _ = writeln!(out, "  subgraph {}[\"{}\"]", ids[&n.key()], cidr);
                    for m in &nodes {
                        if home.get(&m.key()) == Some(&n.key()) {
                            let _ = writeln!(out, "    {}", mermaid_node(&ids[&m.key()], m));
                        }
                    }
                    out.push_str("  end\n");
                }
                _ if home.contains_key(&n.key()) => {}
                _ => {
                    let _ = writeln!(out, "  {}", mermaid_node(&ids[&n.key()], n));
                }
            }
        }
        for (a, b, e) in &edges {
            match e {
                Edge::Member { .. } => {
                    let (dev, subnet) = if a.starts_with("subnet:") {
                        (b, a)
                    } else {
                        (a, b)
                    };
                    if home.get(dev) != Some(subnet) {
                        let _ = writeln!(out, "  {} --- {}", ids[dev], ids[subnet]);
                    }
                }
                Edge::Runs => {
                    let _ = writeln!(out, "  {} -.-> {}", ids[a], ids[b]);
                }
                Edge::Attached { .. } => {
                    let _ = writeln!(out, "  {} -.- {}", ids[a], ids[b]);
                }
            }
        }
        out
    }

    /// Devices drawn inside a subnet: those with interfaces on exactly one subnet that are not
    /// gateways. Maps device key to subnet key.
    /// A standalone SVG drawing: subnets as boxes holding their devices, gateways (and devices
    /// on no single subnet) on top with lines to the subnets they join, a Docker host's
    /// containers in a box of their own. A device's type is written under its name and sets its
    /// colour. Deterministic, like every export.
    pub fn to_svg(&self) -> String {
        const COLS: usize = 6;
        const CELL_W: usize = 150;
        const CELL_H: usize = 54;
        const PAD: usize = 16;
        let (nodes, edges) = self.canonical();
        let home = self.homes();
        let by_key: BTreeMap<String, &Node> = nodes.iter().map(|n| (n.key(), *n)).collect();
        // Containers live with their Docker host's other containers.
        let mut host_of: BTreeMap<String, String> = BTreeMap::new();
        for (a, b, e) in &edges {
            if matches!(e, Edge::Runs) {
                host_of.insert(b.clone(), a.clone());
            }
        }
        let mut groups: BTreeMap<String, Vec<&Node>> = BTreeMap::new();
        let mut top: Vec<&Node> = Vec::new();
        for n in &nodes {
            let Node::Device { .. } = n else { continue };
            let k = n.key();
            if let Some(h) = home.get(&k) {
                groups.entry(h.clone()).or_default().push(n);
            } else if let Some(host) = host_of.get(&k) {
                groups
                    .entry(format!("containers:{host}"))
                    .or_default()
                    .push(n);
            } else {
                top.push(n);
            }
        }
        for n in &nodes {
            if let Node::Subnet { .. } = n {
                groups.entry(n.key()).or_default();
            }
        }
        let group_label = |g: &str| -> String {
            if let Some(host) = g.strip_prefix("containers:") {
                let name = match by_key.get(host) {
                    Some(Node::Device { label, .. }) => label.clone(),
                    _ => host.to_owned(),
                };
                format!("containers on {name}")
            } else {
                g.trim_start_matches("subnet:").to_owned()
            }
        };
        let card = |out: &mut String, n: &Node, x: usize, y: usize| {
            let Node::Device {
                label,
                device_type,
                ips,
                gateway,
                ..
            } = n
            else {
                return;
            };
            let kind = serde_json::to_value(device_type)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let colour = match (gateway, kind.as_str()) {
                (true, _) | (_, "gateway") => "#f59e0b",
                (_, "server") => "#3b82f6",
                (_, "docker_host") | (_, "container") => "#06b6d4",
                (_, "printer") => "#a855f7",
                (_, "nas") => "#10b981",
                (_, "computer") | (_, "phone") => "#64748b",
                _ => "#94a3b8",
            };
            let sub = ips.first().cloned().unwrap_or_default();
            out.push_str(&format!(
                "<g class=\"node\" data-key=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"2\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"12\" font-weight=\"600\">{}</text>\
                 <text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#475569\">{} {}</text></g>\n",
                xml(&n.key()),
                CELL_W - 10,
                CELL_H - 10,
                x + 8,
                y + 18,
                xml(&truncate(label, 20)),
                x + 8,
                y + 34,
                xml(&kind),
                xml(&sub),
            ));
        };
        let mut body = String::new();
        let mut centres: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut y = PAD;
        // The top row: gateways and devices between subnets.
        let top_rows = top.len().div_ceil(COLS);
        for (i, n) in top.iter().enumerate() {
            let (x, yy) = (PAD + (i % COLS) * CELL_W, y + (i / COLS) * CELL_H);
            card(&mut body, n, x, yy);
            centres.insert(n.key(), (x + CELL_W / 2, yy + CELL_H / 2));
        }
        y += top_rows * CELL_H + if top_rows > 0 { 40 } else { 0 };
        let mut width = PAD * 2 + COLS * CELL_W;
        for (g, members) in &groups {
            let rows = members.len().div_ceil(COLS).max(1);
            let h = rows * CELL_H + 34;
            body.push_str(&format!(
                "<g class=\"group\" data-key=\"{}\"><rect x=\"{PAD}\" y=\"{y}\" width=\"{}\" height=\"{h}\" rx=\"10\" fill=\"#f1f5f9\" stroke=\"#cbd5e1\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"700\" fill=\"#334155\">{} ({})</text></g>\n",
                xml(g),
                COLS * CELL_W,
                PAD + 10,
                y + 20,
                xml(&group_label(g)),
                members.len(),
            ));
            centres.insert(g.clone(), (PAD + COLS * CELL_W / 2, y));
            for (i, n) in members.iter().enumerate() {
                card(
                    &mut body,
                    n,
                    PAD + 5 + (i % COLS) * CELL_W,
                    y + 30 + (i / COLS) * CELL_H,
                );
            }
            y += h + PAD;
            width = width.max(PAD * 2 + COLS * CELL_W);
        }
        // Lines from the top row to the groups they join.
        let mut lines = String::new();
        for (a, b, e) in &edges {
            let Edge::Member { .. } = e else { continue };
            let (dev, net) = if a.starts_with("subnet:") {
                (b, a)
            } else {
                (a, b)
            };
            if home.contains_key(dev.as_str()) {
                continue;
            }
            if let (Some(&(x1, y1)), Some(&(x2, y2))) = (centres.get(dev), centres.get(net)) {
                lines.push_str(&format!(
                    "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#f59e0b\" stroke-width=\"2\" opacity=\"0.6\"/>\n"
                ));
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\" font-family=\"Helvetica, Arial, sans-serif\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n{lines}{body}</svg>\n"
        )
    }

    fn homes(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for ix in self.graph.node_indices() {
            let n = &self.graph[ix];
            let Node::Device { gateway: false, .. } = n else {
                continue;
            };
            let subnets: BTreeSet<String> = self
                .graph
                .neighbors(ix)
                .filter(|m| matches!(self.graph[*m], Node::Subnet { .. }))
                .map(|m| self.graph[m].key())
                .collect();
            if subnets.len() == 1 {
                out.insert(n.key(), subnets.into_iter().next().unwrap_or_default());
            }
        }
        out
    }
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

fn truncate(s: &str, n: usize) -> String {
    let first_line = s.lines().next().unwrap_or_default();
    if first_line.chars().count() <= n {
        first_line.to_owned()
    } else {
        let mut t: String = first_line.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn dot_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn dot_shape(t: DeviceType) -> &'static str {
    match t {
        DeviceType::Gateway => "diamond",
        DeviceType::Switch | DeviceType::AccessPoint => "hexagon",
        DeviceType::Printer => "note",
        DeviceType::Nas => "cylinder",
        DeviceType::Camera => "invtriangle",
        DeviceType::Hypervisor | DeviceType::DockerHost | DeviceType::Server => "box3d",
        DeviceType::Container => "component",
        DeviceType::Phone | DeviceType::Media | DeviceType::Iot => "ellipse",
        DeviceType::Computer | DeviceType::Unknown => "box",
    }
}

fn dot_node(n: &Node) -> String {
    let attrs = match n {
        Node::Device { device_type, .. } => format!("shape={}", dot_shape(*device_type)),
        Node::DockerNetwork { .. } => "shape=hexagon, style=dashed".to_owned(),
        Node::Subnet { .. } => "shape=box".to_owned(),
    };
    format!(
        "{} [label={}, {attrs}]",
        dot_str(&n.key()),
        dot_str(&n.label())
    )
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', "<br/>")
}

fn mermaid_node(id: &str, n: &Node) -> String {
    let text = mermaid_text(&n.label());
    match n {
        Node::Device {
            device_type: DeviceType::Gateway,
            ..
        }
        | Node::Device { gateway: true, .. } => {
            format!("{id}{{{{\"{text}\"}}}}")
        }
        Node::Device {
            device_type: DeviceType::Nas,
            ..
        } => format!("{id}[(\"{text}\")]"),
        Node::Device {
            device_type: DeviceType::Container,
            ..
        } => format!("{id}[[\"{text}\"]]"),
        Node::DockerNetwork { .. } => format!("{id}([\"{text}\"])"),
        _ => format!("{id}[\"{text}\"]"),
    }
}

#[cfg(test)]
mod tests;

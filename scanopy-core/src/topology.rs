//! Topology: the network drawn as a graph, and its exports to Graphviz DOT, Mermaid, JSON and
//! SVG. Where each node is drawn is computed once, in [`layout`]; the SVG export
//! ([`Topology::to_svg`], in `svg.rs`) and the web UI both draw that layout.
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

pub mod l2;
pub mod layout;
mod svg;

pub use l2::{L2Link, links as l2_links};
pub use layout::{Layout, LayoutOptions};

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
    /// A layer-2 link: a device on a switch's port, or two switches linked
    /// ([`l2::links`]); from the switch's end.
    Link {
        /// The switch's port.
        port: String,
        /// The other end's port, when known (LLDP, CDP).
        #[serde(skip_serializing_if = "Option::is_none")]
        device_port: Option<String>,
        /// How it is known: `lldp`, `cdp` or `fdb` (`source` is the link's end in the JSON).
        via: String,
        /// The VLAN.
        #[serde(skip_serializing_if = "Option::is_none")]
        vlan: Option<u16>,
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
        // Layer 2, where managed switches told it: edges from a switch to what is on its ports.
        let owned: Vec<Device> = devices.iter().map(|d| (*d).clone()).collect();
        if owned.iter().any(|d| d.l2.is_some()) {
            for l in l2::links(&owned) {
                let (Some(&a), Some(&b)) = (device_ix.get(&l.switch), device_ix.get(&l.device))
                else {
                    continue;
                };
                g.add_edge(
                    a,
                    b,
                    Edge::Link {
                        port: l.port,
                        device_port: l.device_port,
                        via: l.source,
                        vlan: l.vlan,
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

    /// The layer-2 links as (switch key, device key, the switch's port), in canonical order.
    pub fn port_links(&self) -> Vec<(String, String, String, Option<u16>)> {
        let mut out: Vec<(String, String, String, Option<u16>)> = self
            .graph
            .edge_references()
            .filter_map(|e| match e.weight() {
                Edge::Link { port, vlan, .. } => Some((
                    self.graph[e.source()].key(),
                    self.graph[e.target()].key(),
                    port.clone(),
                    *vlan,
                )),
                _ => None,
            })
            .collect();
        out.sort();
        out
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
        nodes.sort_by_cached_key(|n| n.key());
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

    /// The same node-link form as [`Topology::to_json`], written to `w` as it is serialized,
    /// without building a `serde_json::Value` tree (a tree of 100,000 devices takes several
    /// times the memory of its text). Object keys come in another order; the value is equal.
    pub fn write_json<W: std::io::Write>(&self, w: W) -> serde_json::Result<()> {
        /// A node with its key as `id` (a device's own `id` field gives way to it): one
        /// small `Value` at a time.
        struct JsonNode<'a>(&'a Node);
        impl Serialize for JsonNode<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut v = serde_json::to_value(self.0).map_err(serde::ser::Error::custom)?;
                v["id"] = json!(self.0.key());
                v.serialize(s)
            }
        }
        #[derive(Serialize)]
        struct JsonLink<'a> {
            source: &'a str,
            target: &'a str,
            #[serde(flatten)]
            edge: &'a Edge,
        }
        #[derive(Serialize)]
        struct JsonGraph<'a> {
            directed: bool,
            multigraph: bool,
            nodes: Vec<JsonNode<'a>>,
            links: Vec<JsonLink<'a>>,
        }
        let (nodes, edges) = self.canonical();
        let graph = JsonGraph {
            directed: false,
            multigraph: false,
            nodes: nodes.iter().map(|n| JsonNode(n)).collect(),
            links: edges
                .iter()
                .map(|(a, b, e)| JsonLink {
                    source: a,
                    target: b,
                    edge: e,
                })
                .collect(),
        };
        serde_json::to_writer(w, &graph)
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
                Edge::Runs => "style=dashed".to_owned(),
                Edge::Link { port, via, .. } => {
                    format!(
                        "style=bold, label={}, tooltip={}",
                        dot_str(port),
                        dot_str(via)
                    )
                }
                _ => "style=dotted".to_owned(),
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
        // Each subnet's members, in node order (one pass, not one per subnet).
        let mut members: BTreeMap<&str, Vec<(&str, &Node)>> = BTreeMap::new();
        let keyed: Vec<(String, &Node)> = nodes.iter().map(|n| (n.key(), *n)).collect();
        for (k, n) in &keyed {
            if let Some(s) = home.get(k) {
                members.entry(s.as_str()).or_default().push((&ids[k], n));
            }
        }
        let mut out = String::from("flowchart LR\n");
        for (k, n) in &keyed {
            match n {
                Node::Subnet { cidr } => {
                    let _ = writeln!(out, "  subgraph {}[\"{}\"]", ids[k], cidr);
                    for (id, m) in members.get(k.as_str()).into_iter().flatten() {
                        let _ = writeln!(out, "    {}", mermaid_node(id, m));
                    }
                    out.push_str("  end\n");
                }
                _ if home.contains_key(k) => {}
                _ => {
                    let _ = writeln!(out, "  {}", mermaid_node(&ids[k], n));
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
                Edge::Link { port, .. } => {
                    let _ = writeln!(
                        out,
                        "  {} ===|\"{}\"| {}",
                        ids[a],
                        mermaid_text(port),
                        ids[b]
                    );
                }
            }
        }
        out
    }

    /// Devices drawn inside a subnet: those with interfaces on exactly one subnet that are not
    /// gateways. Maps device key to subnet key.
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

//! The map as a standalone SVG file, drawn from the [`Layout`] (the one the web UI draws), with
//! the UI's map styles embedded in their light colours. Every text from the network is
//! escaped; the same layout gives the same bytes.

use std::fmt::Write as _;

use super::Topology;
use super::layout::{GroupKind, Layout, LinkKind, NODE, PlacedNode};
use crate::model::DeviceType;

/// The drawing's margin around the layout.
const MARGIN: i64 = 30;

/// The UI's map styles (`scanopy-server/ui/map/draw.js`), in the light theme's colours.
const CSS: &str = "\
.bg{fill:#f7f8fa}\
.grp>rect.box{fill:#ffffff;stroke:#c9d1dc;stroke-width:1.2}\
.grp text.gl{font:600 13px system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;fill:#3e4757}\
.grp text.gs{font:12px system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;fill:#6b7381}\
.grp.docker>rect.box{fill:#f1f6ff;stroke:#9db8ee;stroke-dasharray:6 4}\
.grp.dnet>rect.box{fill:#e6efff;stroke:none}\
.grp.other>rect.box{stroke-dasharray:3 4}\
.link{fill:none;stroke:#9aa5b4;stroke-width:1.6}\
.link.runs{stroke:#9db8ee;stroke-dasharray:6 4}\
.link.gw{stroke:#e0951f;stroke-width:2}\
.link.port{stroke:#3d9a6a;stroke-width:2}\
.link.port.vlan-c0{stroke:#3d9a6a}.link.port.vlan-c1{stroke:#2f6fd6}.link.port.vlan-c2{stroke:#8e44ad}.link.port.vlan-c3{stroke:#c0392b}.link.port.vlan-c4{stroke:#16a2b8}.link.port.vlan-c5{stroke:#e84393}.link.port.vlan-c6{stroke:#5d6d7e}.link.port.vlan-c7{stroke:#795548}\
.linklabel{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#6b7381}\
.node rect.nb{fill:#ffffff;stroke:#b8c1ce;stroke-width:1.2}\
.node text.ab{font:700 11px system-ui,sans-serif;fill:#2c3442;text-anchor:middle}\
.node.gw rect.nb{fill:#fff4e5;stroke:#e0951f;stroke-width:1.8}\
.node.gw text.ab{fill:#a35f00}\
.node.dock rect.nb{stroke:#9db8ee}\
.node text.nl{font:500 12px system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;fill:#1f2530;text-anchor:middle}\
.node text.ni{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#6b7381;text-anchor:middle}\
.node.more rect.nb{stroke-dasharray:4 3;fill:#ffffff}\
.node.more text.nm{font:600 13px system-ui,sans-serif;fill:#3b6cf6;text-anchor:middle}";

impl Topology {
    /// A standalone SVG drawing of [`Topology::layout`]: subnets as boxes holding their
    /// devices, gateways on top with curves to the subnets they join, a Docker host's
    /// containers in a box below it. A device's type is its colour and a short tag in its
    /// square. Deterministic, like every export.
    pub fn to_svg(&self) -> String {
        self.layout().to_svg()
    }
}

impl Layout {
    /// This layout as a standalone SVG file (what [`Topology::to_svg`] gives for the default
    /// cap).
    pub fn to_svg(&self) -> String {
        render(self)
    }
}

fn render(l: &Layout) -> String {
    let (w, h) = (l.width + MARGIN * 2, l.height + MARGIN * 2);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"{} {} {w} {h}\" role=\"img\" aria-label=\"Network map\">",
        -MARGIN, -MARGIN
    );
    let _ = writeln!(out, "<style>{CSS}</style>");
    let _ = writeln!(
        out,
        "<rect class=\"bg\" x=\"{}\" y=\"{}\" width=\"{w}\" height=\"{h}\"/>",
        -MARGIN, -MARGIN
    );
    for g in &l.groups {
        let small = g.kind == GroupKind::DockerNetwork;
        let (cls, label, sub) = match g.kind {
            GroupKind::Subnet => ("grp", g.label.clone(), Some(count(g.total, "device"))),
            GroupKind::Other => ("grp other", g.label.clone(), Some(count(g.total, "device"))),
            GroupKind::Docker => (
                "grp docker",
                format!("Docker · {}", g.label),
                Some(format!("{} containers", thousands(g.total))),
            ),
            GroupKind::DockerNetwork => ("grp dnet", g.label.clone(), None),
        };
        let _ = write!(
            out,
            "<g class=\"{cls} group\" data-key=\"{}\"><rect class=\"box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\"/><text class=\"gl\" x=\"{}\" y=\"{}\">{}</text>",
            xml(&g.key),
            g.x,
            g.y,
            g.w,
            g.h,
            if small { 8 } else { 12 },
            g.x + if small { 10 } else { 16 },
            g.y + if small { 20 } else { 27 },
            xml(&label)
        );
        if let Some(sub) = sub {
            let _ = write!(
                out,
                "<text class=\"gs\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                g.x + g.w - 16,
                g.y + 27,
                xml(&sub)
            );
        }
        out.push_str("</g>\n");
    }
    for k in &l.links {
        let cls = match k.kind {
            LinkKind::Gateway => "link gw",
            LinkKind::Runs => "link runs",
            LinkKind::Port => "link port",
        };
        let [a, b, c, d] = k.points;
        // A port link's VLAN: one of eight colours by its id, and the id itself.
        let vlan = k
            .vlan
            .map(|v| format!(" vlan-c{}\" data-vlan=\"{v}", v % 8))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<path class=\"{cls}{vlan}\" d=\"M{},{}C{},{} {},{} {},{}\"/>",
            a.x, a.y, b.x, b.y, c.x, c.y, d.x, d.y
        );
        if let (Some(text), Some(at)) = (&k.label, k.label_at) {
            let _ = writeln!(
                out,
                "<text class=\"linklabel\" x=\"{}\" y=\"{}\">{}</text>",
                at.x,
                at.y,
                xml(text)
            );
        }
    }
    for n in &l.nodes {
        node(&mut out, n);
    }
    out.push_str("</svg>\n");
    out
}

fn node(out: &mut String, n: &PlacedNode) {
    let half = NODE / 2;
    match n {
        PlacedNode::More { count, x, y, .. } => {
            let _ = writeln!(
                out,
                "<g class=\"node more\" transform=\"translate({x},{y})\"><rect class=\"nb\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{NODE}\" rx=\"10\"/><text class=\"nm\" y=\"5\">+{}</text><text class=\"nl\" y=\"{}\">more devices</text></g>",
                -half - 14,
                -half,
                NODE + 28,
                thousands(*count),
                half + 16
            );
        }
        PlacedNode::Device {
            key,
            x,
            y,
            label,
            device_type,
            ips,
            ip,
            gateway,
            top,
            ..
        } => {
            let t = device_type.as_str();
            let mut cls = format!("node t-{t}");
            if *top || *device_type == DeviceType::Gateway {
                cls.push_str(" gw");
            }
            if matches!(device_type, DeviceType::Container | DeviceType::DockerHost) {
                cls.push_str(" dock");
            }
            let title = if *gateway && *device_type != DeviceType::Gateway {
                format!("{label} · {t} · gateway")
            } else {
                format!("{label} · {t}")
            };
            let _ = write!(
                out,
                "<g class=\"{cls}\" data-key=\"{}\" transform=\"translate({x},{y})\"><title>{}</title><rect class=\"nb\" x=\"{}\" y=\"{}\" width=\"{NODE}\" height=\"{NODE}\" rx=\"{}\"/><text class=\"ab\" y=\"4\">{}</text><text class=\"nl\" y=\"{}\">{}</text>",
                xml(key),
                xml(&title),
                -half,
                -half,
                if *top { half } else { 10 },
                tag(*device_type),
                half + 16,
                xml(&truncate(label, 18))
            );
            if let Some(ip) = ip {
                let more = if ips.len() > 1 && !*top {
                    format!(" +{}", ips.len() - 1)
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<text class=\"ni\" y=\"{}\">{}{more}</text>",
                    half + 30,
                    xml(ip)
                );
            }
            out.push_str("</g>\n");
        }
    }
}

/// The short tag drawn in a device's square (the UI draws an icon there).
fn tag(t: DeviceType) -> &'static str {
    match t {
        DeviceType::Unknown => "?",
        DeviceType::Gateway => "GW",
        DeviceType::Switch => "SW",
        DeviceType::AccessPoint => "AP",
        DeviceType::Printer => "PRN",
        DeviceType::Nas => "NAS",
        DeviceType::Camera => "CAM",
        DeviceType::Hypervisor => "HV",
        DeviceType::DockerHost => "DH",
        DeviceType::Container => "CT",
        DeviceType::Server => "SRV",
        DeviceType::Computer => "PC",
        DeviceType::Phone => "PH",
        DeviceType::Media => "TV",
        DeviceType::Iot => "IOT",
    }
}

/// `1 device`, `1,024 devices`.
fn count(n: usize, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {what}{s}", thousands(n))
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text escaped for XML; control characters (but tab and newline) dropped.
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

/// The first line of `s`, at most `n` characters (the last an ellipsis when cut).
fn truncate(s: &str, n: usize) -> String {
    let first_line = s.lines().next().unwrap_or_default();
    if first_line.chars().count() <= n {
        first_line.to_owned()
    } else {
        let mut t: String = first_line.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

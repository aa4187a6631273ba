// The map's scene: the layout the server computed (GET /topology?format=layout, from
// scanopy_core::topology::layout, the project's one layout) turned into what draw.js draws and
// what the page looks up. Pure (no DOM), so node's test runner checks it (tests/ui/scene.test.mjs).

import { fmtNum, qs } from "../format.js";

// The side of a device's square (the core's layout::NODE).
export const NODE = 44;

export function labelOf(n) { return n ? n.label || String(n.id || "").replace(/^[a-z-]+:/, "") : ""; }

const plural = (n, one, many) => fmtNum(n) + (n === 1 ? one : many);

// A group of the layout as a box: its CSS classes, title, subtitle and data attributes.
function boxOf(g) {
  const box = { x: g.x, y: g.y, w: g.w, h: g.h, key: g.key, label: g.label, data: {} };
  if (g.kind === "subnet") return { ...box, cls: "grp", sub: plural(g.total, " device", " devices"), data: { "data-subnet": g.label } };
  if (g.kind === "other") return { ...box, cls: "grp other", sub: plural(g.total, " device", " devices") };
  if (g.kind === "docker") return { ...box, cls: "grp docker", label: "Docker · " + g.label, sub: fmtNum(g.total) + " containers", data: { "data-docker-host": g.host || "" } };
  return { ...box, cls: "grp dnet", small: true, data: { "data-docker-network": g.label } };
}

// The scene of a layout of `network`: boxes, links (SVG paths), placed nodes (devices, and
// "more" placeholders: a click opens their group on the map, or lists them), the devices by node key, the size.
export function sceneOf(layout, network) {
  const groups = new Map((layout.groups || []).map((g) => [g.key, g]));
  const boxes = (layout.groups || []).map(boxOf);
  const links = (layout.links || []).map((l) => {
    const [a, b, c, d] = l.points;
    const link = { d: `M${a.x},${a.y}C${b.x},${b.y} ${c.x},${c.y} ${d.x},${d.y}`, cls: "link " + ({ gateway: "gw", port: "port" }[l.kind] || "runs") };
    if (l.label && l.label_at) Object.assign(link, { label: l.label, lx: l.label_at.x, ly: l.label_at.y });
    // A port link's VLAN: one of eight colours by its id; the map filters by it.
    if (l.kind === "port" && l.vlan != null) Object.assign(link, { vlan: l.vlan, cls: link.cls + " vlan-c" + (l.vlan % 8), from: l.from, to: l.to });
    return link;
  });
  const nodes = new Map();
  const placedNodes = (layout.nodes || []).map((p) => {
    if (p.kind === "more") {
      const g = groups.get(p.group);
      return { more: p.count, group: p.group, href: "#/devices" + qs({ network, subnet: g && g.kind === "subnet" ? g.label : "" }), x: p.x, y: p.y };
    }
    const n = { id: p.key, label: p.label, device_type: p.device_type, ips: p.ips || [], ip: p.ip || "", gateway: p.gateway };
    nodes.set(p.key, n);
    return { n, x: p.x, y: p.y, gw: p.top };
  });
  const groupCount = boxes.filter((b) => b.cls === "grp" || b.cls === "grp other").length;
  const vlans = [...new Set(links.filter((l) => l.vlan != null).map((l) => l.vlan))].sort((x, y) => x - y);
  return { boxes, links, placedNodes, nodes, groupCount, vlans, devices: layout.devices || 0, width: layout.width, height: layout.height };
}

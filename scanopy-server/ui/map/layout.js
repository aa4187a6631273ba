// The map's layout: a pure function from the topology (GET /topology?format=json) to boxes,
// links and node positions. No DOM, so node's test runner checks it (tests/ui/layout.test.js).

import { fmtNum, ipNum, qs } from "../format.js";

export const CELL_W = 132, CELL_H = 96, PAD = 18, HEAD = 44, NODE = 44;

export function buildTopology(topo, perGroupCap) {
  const nodes = new Map();
  for (const n of topo.nodes || []) nodes.set(n.id, n);
  const devices = [...nodes.values()].filter((n) => n.kind === "device");
  const memberOf = new Map(), memberIp = new Map(), hostOf = new Map(), runs = new Map(), attached = new Map();
  const push = (m, k, v) => { let a = m.get(k); if (!a) m.set(k, (a = [])); a.push(v); };
  for (const l of topo.links || []) {
    if (l.kind === "member") { push(memberOf, l.source, l.target); if (l.ip) memberIp.set(l.source + "|" + l.target, l.ip); }
    else if (l.kind === "runs") { hostOf.set(l.target, l.source); push(runs, l.source, l.target); }
    else if (l.kind === "attached") { push(attached, l.source, { net: l.target, ip: l.ip }); }
  }
  const subnetIds = [...nodes.values()].filter((n) => n.kind === "subnet").map((n) => n.id);
  for (const ids of memberOf.values()) for (const sid of ids) if (!nodes.has(sid)) { nodes.set(sid, { id: sid, kind: "subnet", label: sid.replace(/^subnet:/, "") }); subnetIds.push(sid); }
  subnetIds.sort((a, b) => ipNum(a.replace(/^subnet:/, "").split("/")[0]) - ipNum(b.replace(/^subnet:/, "").split("/")[0]) || a.localeCompare(b));
  const isGw = (n) => n.gateway === true || (memberOf.get(n.id) || []).length >= 2;
  const gateways = [], groups = new Map(), dockers = new Map();
  for (const sid of subnetIds) groups.set(sid, { id: sid, kind: "subnet", label: labelOf(nodes.get(sid)), items: [], total: 0 });
  const other = { id: "other", kind: "other", label: "Not in a known subnet", items: [], total: 0 };
  for (const n of devices) {
    const host = hostOf.get(n.id);
    if (host && nodes.has(host)) {
      let dg = dockers.get(host);
      if (!dg) dockers.set(host, (dg = { host, nets: new Map(), total: 0 }));
      const att = attached.get(n.id) || [];
      const net = att.length ? att[0].net : "";
      if (!n.ips || !n.ips.length) n._ip = att.length ? att[0].ip : "";
      let nb = dg.nets.get(net);
      if (!nb) dg.nets.set(net, (nb = { id: net, label: net ? labelOf(nodes.get(net)) || net.split(":").pop() : "no network", items: [], total: 0 }));
      nb.items.push(n); nb.total++; dg.total++;
    } else if (isGw(n)) {
      gateways.push(n);
    } else {
      const sid = (memberOf.get(n.id) || [])[0];
      const g = sid ? groups.get(sid) : other;
      g.items.push(n); g.total++;
    }
  }
  if (other.items.length) groups.set("other", other);
  for (const [hid] of dockers) { const hn = nodes.get(hid); if (hn) hn._docker = true; }
  const byIp = (a, b) => (a._docker ? 1 : 0) - (b._docker ? 1 : 0) || ipNum((a.ips || [])[0] || a._ip) - ipNum((b.ips || [])[0] || b._ip) || String(a.label).localeCompare(String(b.label));
  for (const g of groups.values()) {
    g.items.sort(byIp);
    if (g.items.length > perGroupCap) {
      // keep Docker hosts (their containers hang below them) when the group is capped
      const keep = g.items.filter((n) => n._docker);
      g.items = g.items.filter((n) => !n._docker).slice(0, Math.max(0, perGroupCap - keep.length)).concat(keep);
    }
  }
  for (const dg of dockers.values()) for (const nb of dg.nets.values()) { nb.items.sort(byIp); if (nb.items.length > perGroupCap) nb.items.length = perGroupCap; }
  gateways.sort(byIp);
  return { nodes, devices, groups, dockers, gateways, memberOf, memberIp };
}
export function labelOf(n) { return n ? n.label || n.cidr || n.name || String(n.id).replace(/^[a-z-]+:/, "") : ""; }
export function gridDims(n, maxCols) {
  if (n <= 0) return { cols: 1, rows: 0 };
  const cols = Math.max(1, Math.min(n, maxCols, Math.ceil(Math.sqrt(n * 1.5))));
  return { cols, rows: Math.ceil(n / cols) };
}

// Pure layout: positions for groups and nodes. O(n).
export function layoutTopology(m, network) {
  const placedNodes = []; // {n, x, y, cls}
  const boxes = []; // {x,y,w,h,cls,label,sub,attrs}
  const links = []; // {d, cls, label?, lx, ly}
  const pos = new Map();
  const cells = (items, total, x0, y0, cols, moreLink) => {
    items.forEach((n, i) => {
      const x = x0 + (i % cols) * CELL_W + CELL_W / 2, y = y0 + Math.floor(i / cols) * CELL_H + NODE / 2 + 6;
      placedNodes.push({ n, x, y }); pos.set(n.id, { x, y });
    });
    if (total > items.length) {
      const i = items.length;
      placedNodes.push({ more: total - items.length, href: moreLink, x: x0 + (i % cols) * CELL_W + CELL_W / 2, y: y0 + Math.floor(i / cols) * CELL_H + NODE / 2 + 6 });
    }
  };
  // measure a subnet group
  const measure = (g) => {
    const count = g.items.length + (g.total > g.items.length ? 1 : 0);
    const { cols, rows } = gridDims(count, 10);
    return { cols, w: Math.max(cols * CELL_W + PAD * 2, 260), h: HEAD + Math.max(rows, 1) * CELL_H + PAD };
  };
  const measureDocker = (dg) => {
    const nets = [...dg.nets.values()];
    let w = PAD, hmax = 0;
    const sub = nets.map((nb) => {
      const count = nb.items.length + (nb.total > nb.items.length ? 1 : 0);
      const { cols, rows } = gridDims(count, 4);
      const bw = Math.max(cols * CELL_W + 16, 170), bh = 34 + rows * CELL_H + 6;
      const r = { nb, cols, x: w, w: bw, h: bh };
      w += bw + 12; hmax = Math.max(hmax, bh);
      return r;
    });
    return { sub, w: Math.max(w - 12 + PAD, 240), h: HEAD + hmax + PAD };
  };
  // columns: a subnet group with the docker clusters of its hosts below it
  const hostGroup = new Map();
  for (const g of m.groups.values()) for (const n of g.items) if (n._docker) hostGroup.set(n.id, g.id);
  const columns = [];
  for (const g of m.groups.values()) columns.push({ main: g, mm: measure(g), dockers: [] });
  const loose = [];
  for (const dg of m.dockers.values()) {
    const gid = hostGroup.get(dg.host);
    const col = columns.find((c) => c.main.id === gid);
    if (col) col.dockers.push({ dg, mm: measureDocker(dg) }); else loose.push({ dg, mm: measureDocker(dg) });
  }
  for (const l of loose) columns.push({ main: null, dockers: [l] });
  for (const c of columns) {
    c.w = Math.max(c.main ? c.mm.w : 0, ...c.dockers.map((d) => d.mm.w));
    c.h = (c.main ? c.mm.h : 0) + c.dockers.reduce((a, d) => a + 56 + d.mm.h, 0) - (c.main ? 0 : 56);
  }
  const GAP = 56;
  const area = columns.reduce((a, c) => a + (c.w + GAP) * (c.h + GAP), 0);
  const rowMax = columns.length <= 4 ? Infinity : Math.max(Math.sqrt(area * 1.8), ...columns.map((c) => c.w));
  const topY = m.gateways.length ? 150 : 0;
  let x = 0, y = topY, rowH = 0, maxW = 0;
  for (const c of columns) {
    if (x > 0 && x + c.w > rowMax) { x = 0; y += rowH + GAP + 30; rowH = 0; }
    c.x = x; c.y = y;
    let cy = y;
    if (c.main) {
      const g = c.main, mm = c.mm;
      const gx = x + (c.w - mm.w) / 2;
      g.box = { x: gx, y: cy, w: mm.w, h: mm.h };
      const net = network;
      const moreLink = "#/devices" + qs({ network: net, subnet: g.kind === "subnet" ? g.label : "" });
      boxes.push({ x: gx, y: cy, w: mm.w, h: mm.h, cls: "grp" + (g.kind === "other" ? " other" : ""), label: g.label, sub: fmtNum(g.total) + (g.total === 1 ? " device" : " devices"), data: g.kind === "subnet" ? { "data-subnet": g.label } : {} });
      cells(g.items, g.total, gx + PAD, cy + HEAD, mm.cols, moreLink);
      cy += mm.h;
    }
    for (const d of c.dockers) {
      if (c.main || cy !== y) cy += 56;
      const dx = x + (c.w - d.mm.w) / 2;
      const hostNode = m.nodes.get(d.dg.host);
      boxes.push({ x: dx, y: cy, w: d.mm.w, h: d.mm.h, cls: "grp docker", label: "Docker · " + labelOf(hostNode), sub: fmtNum(d.dg.total) + " containers", data: { "data-docker-host": d.dg.host.replace(/^device:/, "") } });
      for (const sb of d.mm.sub) {
        const bx = dx + sb.x, by = cy + HEAD;
        boxes.push({ x: bx, y: by, w: sb.w, h: sb.h, cls: "grp dnet", label: sb.nb.label, small: true, data: { "data-docker-network": sb.nb.label } });
        cells(sb.nb.items, sb.nb.total, bx + 8, by + 30, sb.cols, "#/devices" + qs({ network }));
      }
      const hp = pos.get(d.dg.host);
      if (hp) {
        const tx = dx + d.mm.w / 2, ty = cy;
        links.push({ d: `M${hp.x},${hp.y + NODE / 2}C${hp.x},${(hp.y + ty) / 2 + 20} ${tx},${(hp.y + ty) / 2} ${tx},${ty}`, cls: "link runs" });
      }
      cy += d.mm.h;
    }
    x += c.w + GAP;
    rowH = Math.max(rowH, cy - y);
    maxW = Math.max(maxW, x - GAP);
  }
  // gateways: above the groups they join, spread so they do not overlap
  const gws = m.gateways.map((n) => {
    const gs = (m.memberOf.get(n.id) || []).map((sid) => m.groups.get(sid)).filter((g) => g && g.box);
    const cx = gs.length ? gs.reduce((a, g) => a + g.box.x + g.box.w / 2, 0) / gs.length : maxW / 2;
    return { n, gs, cx };
  }).sort((a, b) => a.cx - b.cx);
  const GW_SP = 150;
  let lastX = -Infinity;
  for (const g of gws) { g.x = Math.max(g.cx, lastX + GW_SP); lastX = g.x; }
  if (gws.length) {
    const shift = Math.min(0, (maxW - lastX) / 2) + Math.max(0, -gws[0].x + CELL_W / 2);
    for (const g of gws) g.x += shift;
  }
  gws.forEach((g, i) => {
    const gy = 40 + (gws.length > 6 ? (i % 2) * 0 : 0);
    placedNodes.push({ n: g.n, x: g.x, y: gy, gw: true });
    pos.set(g.n.id, { x: g.x, y: gy });
    g.gs.forEach((grp, j) => {
      const b = grp.box;
      const tx = Math.min(b.x + b.w - 40, Math.max(b.x + 40, g.x + (j - (g.gs.length - 1) / 2) * 24));
      const ty = b.y;
      const sy = gy + NODE / 2;
      links.push({ d: `M${g.x},${sy}C${g.x},${(sy + ty) / 2} ${tx},${(sy + ty) / 2} ${tx},${ty}`, cls: "link gw", label: m.memberIp.get(g.n.id + "|" + grp.id), lx: tx + 6, ly: ty - 8 });
    });
    maxW = Math.max(maxW, g.x + CELL_W / 2);
  });
  const height = Math.max(y + rowH, topY);
  return { placedNodes, boxes, links, width: Math.max(maxW, 300), height: Math.max(height, 200) };
}

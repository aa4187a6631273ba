// Drawing the map's scene (map/scene.js, from the server's layout) as SVG: live in the page (styled by app.css) or exported as a standalone file
// (the map's CSS embedded, with the theme's colours resolved).

import { iconParts, s, SVGNS, XLINKNS } from "../dom.js";
import { fmtNum, KNOWN_TYPES, typeKey } from "../format.js";
import { labelOf, NODE } from "./scene.js";

export const MAP_CSS = `
.bg{fill:var(--m-bg)}
.grp>rect.box{fill:var(--m-group);stroke:var(--m-group-stroke);stroke-width:1.2}
.grp text.gl{font:600 13px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--m-group-label)}
.grp text.gs{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--m-text-2)}
.grp.docker>rect.box{fill:var(--m-docker);stroke:var(--m-docker-stroke);stroke-dasharray:6 4}
.grp.dnet>rect.box{fill:var(--m-dnet);stroke:none}
.grp.other>rect.box{stroke-dasharray:3 4}
.link{fill:none;stroke:var(--m-link);stroke-width:1.6}
.link.runs{stroke:var(--m-docker-stroke);stroke-dasharray:6 4}
.link.gw{stroke:var(--m-gw-stroke);stroke-width:2}
.link.port{stroke:var(--m-port-stroke, #3d9a6a);stroke-width:2}
.link.port.vlan-c0{stroke:#3d9a6a}.link.port.vlan-c1{stroke:#2f6fd6}.link.port.vlan-c2{stroke:#8e44ad}.link.port.vlan-c3{stroke:#c0392b}.link.port.vlan-c4{stroke:#16a2b8}.link.port.vlan-c5{stroke:#e84393}.link.port.vlan-c6{stroke:#5d6d7e}.link.port.vlan-c7{stroke:#795548}
.link.dim,.linklabel.dim{opacity:.12}
.node.dim{opacity:.25}
.linklabel{font:11px ui-monospace,Menlo,Consolas,monospace;fill:var(--m-text-2)}
.node rect.nb{fill:var(--m-node);stroke:var(--m-node-stroke);stroke-width:1.2}
.node use{color:var(--m-icon)}
.node.gw rect.nb{fill:var(--m-gw);stroke:var(--m-gw-stroke);stroke-width:1.8}
.node.gw use{color:var(--m-gw-icon)}
.node.dock rect.nb{stroke:var(--m-docker-stroke)}
.node.offline{opacity:.45}
.node text.nl{font:500 12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--m-text);text-anchor:middle}
.node text.ni{font:11px ui-monospace,Menlo,Consolas,monospace;fill:var(--m-text-2);text-anchor:middle}
.node.more rect.nb{stroke-dasharray:4 3;fill:var(--m-group)}
.node.more text.nm{font:600 13px system-ui,sans-serif;fill:var(--m-accent);text-anchor:middle}
.node:hover rect.nb,.node.hl rect.nb{stroke:var(--m-accent);stroke-width:2.4}
.grp text.gc,.grp text.gcn{display:none;text-anchor:middle;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;pointer-events:none}
.grp text.gc{font-weight:700;fill:var(--m-group-label)}
.grp text.gcn{font-weight:600;fill:var(--m-accent)}
.node.hl text.nl{fill:var(--m-accent)}
`;

export function renderMapSvg(scene) {
  // In the page the map is styled by app.css (svg.map-svg); an export embeds MAP_CSS.
  const svg = s("svg", { xmlns: SVGNS, class: "map-svg", role: "img", "aria-label": "Network map" });
  const defs = s("defs");
  for (const t of KNOWN_TYPES) {
    const sym = s("symbol", { id: "mi-" + t, viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", "stroke-width": "1.7", "stroke-linecap": "round", "stroke-linejoin": "round" });
    for (const [tag, attrs] of iconParts(t)) sym.appendChild(s(tag, attrs));
    defs.appendChild(sym);
  }
  svg.appendChild(defs);
  svg.appendChild(s("rect", { class: "bg", x: "-100000", y: "-100000", width: "200000", height: "200000" }));
  const vp = s("g", { class: "viewport" });
  const gBoxes = s("g", { class: "groups" }), gLinks = s("g", { class: "links" }), gNodes = s("g", { class: "nodes" });
  for (const b of scene.boxes) {
    const g = s("g", { class: b.cls + " group", ...b.data });
    g.appendChild(s("rect", { class: "box", x: b.x, y: b.y, width: b.w, height: b.h, rx: b.small ? 8 : 12 }));
    g.appendChild(s("text", { class: "gl", x: b.x + (b.small ? 10 : 16), y: b.y + (b.small ? 20 : 27) }, b.label));
    if (b.sub) g.appendChild(s("text", { class: "gs", x: b.x + b.w - 16, y: b.y + 27, "text-anchor": "end" }, b.sub));
    // The cluster's overview, shown when the map is zoomed far out (app.css, lod-min): its
    // name and count across the box, sized to it.
    if (b.sub && !b.small) {
      const size = Math.max(14, Math.round(Math.min(b.w / Math.max(8, String(b.label).length * 0.7), b.h / 3.2)));
      const cx = b.x + b.w / 2, cy = b.y + b.h / 2;
      g.appendChild(s("text", { class: "gc", x: cx, y: Math.round(cy - size * 0.05), "font-size": size }, b.label));
      g.appendChild(s("text", { class: "gcn", x: cx, y: Math.round(cy + size * 0.8), "font-size": Math.round(size * 0.6) }, b.sub));
    }
    gBoxes.appendChild(g);
  }
  for (const l of scene.links) {
    const attrs = { class: l.cls, d: l.d };
    if (l.vlan != null) attrs["data-vlan"] = String(l.vlan);
    gLinks.appendChild(s("path", attrs));
    if (l.label) gLinks.appendChild(s("text", { class: "linklabel", x: l.lx, y: l.ly, "data-vlan": l.vlan != null ? String(l.vlan) : null }, l.label));
  }
  const trunc = (t, n) => (t.length > n ? t.slice(0, n - 1) + "…" : t);
  for (const p of scene.placedNodes) {
    if (p.more) {
      const g = s("g", { class: "node more", transform: `translate(${p.x},${p.y})`, "data-href": p.href, "data-group": p.group || null, tabindex: "0" });
      g.appendChild(s("rect", { class: "nb", x: -NODE / 2 - 14, y: -NODE / 2, width: NODE + 28, height: NODE, rx: 10 }));
      g.appendChild(s("text", { class: "nm", y: 5 }, "+" + fmtNum(p.more)));
      g.appendChild(s("text", { class: "nl", y: NODE / 2 + 16 }, "more devices"));
      g.appendChild(s("title", null, p.group ? "Show these " + fmtNum(p.more) + " devices here" : "List them"));
      gNodes.appendChild(g);
      continue;
    }
    const n = p.n;
    const t = typeKey(n.device_type);
    const uuid = String(n.id).replace(/^device:/, "");
    const cls = "node t-" + t + (p.gw || t === "gateway" ? " gw" : "") + (t === "container" || t === "docker_host" ? " dock" : "") + (n.offline ? " offline" : "");
    const g = s("g", { class: cls, transform: `translate(${p.x},${p.y})`, "data-device-id": uuid, tabindex: "0", role: "link", "aria-label": labelOf(n) });
    g.appendChild(s("rect", { class: "nb", x: -NODE / 2, y: -NODE / 2, width: NODE, height: NODE, rx: p.gw ? NODE / 2 : 10 }));
    const use = s("use", { href: "#mi-" + t, x: -12, y: -12, width: 24, height: 24 });
    use.setAttributeNS(XLINKNS, "xlink:href", "#mi-" + t);
    g.appendChild(use);
    g.appendChild(s("text", { class: "nl", y: NODE / 2 + 16 }, trunc(String(labelOf(n)), 18)));
    const ip = n.ip;
    if (ip) g.appendChild(s("text", { class: "ni", y: NODE / 2 + 30 }, ip + ((n.ips || []).length > 1 && !p.gw ? " +" + (n.ips.length - 1) : "")));
    gNodes.appendChild(g);
  }
  vp.append(gBoxes, gLinks, gNodes);
  svg.appendChild(vp);
  return svg;
}

export function exportSvg(scene) {
  const svg = renderMapSvg(scene);
  const m = 30;
  const w = Math.ceil(scene.width + m * 2), hgt = Math.ceil(scene.height + m * 2);
  svg.setAttribute("viewBox", `${-m} ${-m} ${w} ${hgt}`);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(hgt));
  svg.setAttribute("xmlns:xlink", XLINKNS);
  const bg = svg.querySelector("rect.bg");
  bg.setAttribute("x", String(-m)); bg.setAttribute("y", String(-m)); bg.setAttribute("width", String(w)); bg.setAttribute("height", String(hgt));
  const cs = getComputedStyle(document.documentElement);
  const css = MAP_CSS.replace(/var\((--[a-z0-9-]+)\)/g, (_, name) => cs.getPropertyValue(name).trim() || "#888");
  // A detached element: the page's CSP does not apply to a file being written.
  const style = s("style");
  style.textContent = css;
  svg.querySelector("defs").appendChild(style);
  svg.removeAttribute("class");
  for (const n of svg.querySelectorAll("[tabindex]")) { n.removeAttribute("tabindex"); n.removeAttribute("role"); }
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg);
}

// The map page: the network as the server laid it out (GET /topology?format=layout), with zoom,
// pan, search and exports.

import { $, $$, append, download, h, icon } from "../dom.js";
import { api, loadNetworks, networkName, report, state } from "../api.js";
import { debounce, fmtNum, qs, typeLabel } from "../format.js";
import { go, liveRefresher } from "../router.js";
import { labelOf, sceneOf } from "../map/scene.js";
import { exportSvg, renderMapSvg } from "../map/draw.js";

let mapNetwork = "";

// A network's subnets for its menu entry: the first three, and how many more.
const subnetsText = (subnets) => subnets.slice(0, 3).join(", ") + (subnets.length > 3 ? ", +" + (subnets.length - 3) + " more" : "");

export async function pageMap(root, ctx) {
  root.classList.add("map-page");
  await loadNetworks();
  const qnet = ctx.query.get("network");
  if (qnet) mapNetwork = qnet;
  if (!state.networks.find((n) => n.id === mapNetwork)) mapNetwork = state.networks.length ? state.networks[0].id : "";
  const netSel = h("select", { "aria-label": "Network", id: "map-network" }, state.networks.map((n) => h("option", { value: n.id, selected: n.id === mapNetwork }, n.name + "  (" + subnetsText(n.subnets || []) + ")")));
  const find = h("input", { type: "search", class: "search", placeholder: "Find on map…", "aria-label": "Find a device on the map" });
  // The map as it was at a date ("now" when empty): the devices the server knew then.
  const asOf = h("input", { type: "datetime-local", id: "map-at", "aria-label": "The map as it was at", title: "The map as it was at this time (empty: now)" });
  if (ctx.query.get("at")) { const t = new Date(ctx.query.get("at")); if (!isNaN(t)) asOf.value = new Date(t.getTime() - t.getTimezoneOffset() * 60000).toISOString().slice(0, 16); }
  const atParam = () => (asOf.value ? new Date(asOf.value).toISOString() : undefined);
  // VLANs of the switch port links: a filter (hidden when there are none).
  const vlanSel = h("select", { "aria-label": "VLAN", id: "map-vlan", hidden: true }, h("option", { value: "" }, "All VLANs"));
  let vlan = "";
  const btn = (ic, label, title) => h("button", { type: "button", class: "btn", title: title || label }, icon(ic, "sm"), label);
  const exSvg = btn("download", "SVG", "Download the map as SVG");
  const exDot = btn("download", "DOT", "Download Graphviz DOT");
  const exMmd = btn("download", "Mermaid", "Download Mermaid");
  const zin = h("button", { type: "button", title: "Zoom in", "aria-label": "Zoom in" }, icon("plus", "sm"));
  const zout = h("button", { type: "button", title: "Zoom out", "aria-label": "Zoom out" }, icon("minus", "sm"));
  const zfit = h("button", { type: "button", title: "Fit to screen", "aria-label": "Fit to screen" }, icon("fit", "sm"));
  // Collapse every group opened on the map (shown when one is).
  const collapse = btn("minus", "Collapse", "Close the groups opened on the map");
  collapse.id = "map-collapse";
  collapse.hidden = true;
  const mapBox = h("div", { id: "map" });
  const stats = h("div", { class: "map-stats" });
  append(root, [
    h("div", { class: "map-toolbar" }, h("h1", null, "Map"), netSel, vlanSel, find, asOf, h("div", { class: "spacer" }), collapse, h("div", { class: "btn-group" }, exSvg, exDot, exMmd)),
    mapBox,
  ]);
  if (!mapNetwork) {
    mapBox.appendChild(h("div", { class: "empty tall" }, icon("map"), "No network yet. Create one on the Daemons page, then run a scan."));
    return;
  }
  const view = { x: 0, y: 0, k: 1, touched: false };
  // Clusters opened on demand (group keys; the server draws up to 2,000 devices of each) and
  // the device a search jumped to (the server always draws it).
  const expanded = new Set();
  let focus = "";
  let svg = null, vp = null, layout = null;
  const tip = $("#tooltip");
  const applyView = () => {
    if (!vp) return;
    vp.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
    svg.classList.toggle("lod-low", view.k < 0.55);
    svg.classList.toggle("lod-min", view.k < 0.3);
  };
  const fit = () => {
    if (!layout) return;
    const W = mapBox.clientWidth || 800, H = mapBox.clientHeight || 600, m = 40;
    const k = Math.min((W - m * 2) / layout.width, (H - m * 2) / layout.height, 1.4);
    view.k = Math.max(0.03, k);
    view.x = (W - layout.width * view.k) / 2;
    view.y = Math.max(m, (H - layout.height * view.k) / 2);
    applyView();
  };
  const zoomAt = (f, cx, cy) => {
    const k2 = Math.min(4, Math.max(0.03, view.k * f));
    const W = mapBox.clientWidth, H = mapBox.clientHeight;
    if (cx === undefined) { cx = W / 2; cy = H / 2; }
    view.x = cx - ((cx - view.x) * k2) / view.k;
    view.y = cy - ((cy - view.y) * k2) / view.k;
    view.k = k2; view.touched = true;
    applyView();
  };
  zin.addEventListener("click", () => zoomAt(1.3));
  zout.addEventListener("click", () => zoomAt(1 / 1.3));
  zfit.addEventListener("click", () => { view.touched = false; fit(); });

  // One VLAN picked: its port links and the devices at their ends stand out, the rest dims.
  function applyVlan() {
    if (!svg) return;
    const on = new Set();
    for (const l of layout.links) if (vlan !== "" && String(l.vlan) === vlan) { on.add(String(l.from).replace(/^device:/, "")); on.add(String(l.to).replace(/^device:/, "")); }
    for (const el of svg.querySelectorAll(".links > *")) el.classList.toggle("dim", vlan !== "" && el.getAttribute("data-vlan") !== vlan);
    for (const el of svg.querySelectorAll("g.node[data-device-id]")) el.classList.toggle("dim", vlan !== "" && !on.has(el.getAttribute("data-device-id")));
  }
  vlanSel.addEventListener("change", () => { vlan = vlanSel.value; applyVlan(); });

  async function load() {
    const laid = await api("/topology" + qs({ network: mapNetwork, format: "layout", at: atParam(), expand: [...expanded].join(",") || undefined, focus: focus || undefined }));
    collapse.hidden = expanded.size === 0;
    if (!ctx.alive() && ctx.mounted) return;
    layout = sceneOf(laid, mapNetwork);
    const devCount = layout.devices;
    const nsvg = renderMapSvg(layout);
    if (svg) svg.replaceWith(nsvg); else mapBox.prepend(nsvg);
    svg = nsvg; vp = svg.querySelector("g.viewport");
    bindSvg();
    const vlans = layout.vlans || [];
    if (!vlans.includes(Number(vlan))) vlan = "";
    vlanSel.replaceChildren(h("option", { value: "" }, "All VLANs"), ...vlans.map((v) => h("option", { value: String(v), selected: String(v) === vlan }, "VLAN " + v)));
    vlanSel.hidden = vlans.length === 0;
    applyVlan();
    const shown = layout.placedNodes.filter((p) => !p.more).length;
    stats.textContent = (asOf.value ? "as at " + new Date(asOf.value).toLocaleString() + " · " : "") + fmtNum(devCount) + " devices" + (shown < devCount ? " · " + fmtNum(shown) + " drawn" : "") + " · " + fmtNum(layout.groupCount) + " groups";
    if (!mapBox.contains(stats)) {
      mapBox.append(
        h("div", { class: "map-zoom" }, zin, zout, zfit), stats,
        h("div", { class: "map-legend" }, h("span", null, h("i"), "subnet member"), h("span", null, h("i", { class: "dash" }), "runs containers"),
          h("span", null, h("i", { class: "port" }), "switch port (LLDP, CDP or forwarding table), coloured by VLAN"),
          devCount === 0 ? h("span", null, "No devices yet: run a scan") : null));
    }
    if (view.touched) applyView(); else fit();
    if (find.value) highlight(find.value, false);
  }
  let drag = null;
  function bindSvg() {
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0018)), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { sx: e.clientX, sy: e.clientY, x: view.x, y: view.y, moved: false, id: e.pointerId };
    });
    svg.addEventListener("pointermove", (e) => {
      if (drag && drag.id === e.pointerId) {
        const dx = e.clientX - drag.sx, dy = e.clientY - drag.sy;
        if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; svg.setPointerCapture(e.pointerId); svg.classList.add("dragging"); tip.hidden = true; }
        if (drag.moved) { view.x = drag.x + dx; view.y = drag.y + dy; view.touched = true; applyView(); }
        return;
      }
      const g = e.target.closest && e.target.closest("g.node[data-device-id]");
      if (g) showTip(g, e.clientX, e.clientY); else tip.hidden = true;
    });
    const end = (e) => {
      if (!drag || drag.id !== e.pointerId) return;
      const wasMoved = drag.moved;
      drag = null;
      svg.classList.remove("dragging");
      if (wasMoved || e.type === "pointercancel") return;
      activate(e.target);
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("pointerleave", () => { tip.hidden = true; });
    svg.addEventListener("keydown", (e) => { if (e.key === "Enter") activate(e.target); });
  }
  function activate(target) {
    const g = target.closest && target.closest("g.node");
    if (!g) return;
    tip.hidden = true;
    if (g.dataset.deviceId) go("#/devices/" + encodeURIComponent(g.dataset.deviceId));
    else if (g.dataset.group && !expanded.has(g.dataset.group) && expanded.size < 64) {
      // A cluster: open it here (a group already open lists the rest on the devices page).
      expanded.add(g.dataset.group); view.touched = true;
      load().catch(report);
    } else if (g.dataset.href) go(g.dataset.href);
  }
  function showTip(g, cx, cy) {
    const n = layout.nodes.get("device:" + g.dataset.deviceId);
    if (!n) return;
    const ips = n.ips.length ? n.ips : n.ip ? [n.ip] : [];
    tip.replaceChildren();
    append(tip, [h("strong", null, labelOf(n)), h("div", { class: "t-type" }, typeLabel(n.device_type) + (n.gateway ? " · gateway" : "") + (n.offline ? " · offline" : "")),
      ips.slice(0, 8).map((ip) => h("code", null, ip)), ips.length > 8 ? h("div", { class: "muted" }, "+" + (ips.length - 8) + " more") : null]);
    tip.hidden = false;
    const r = tip.getBoundingClientRect();
    tip.style.left = Math.min(window.innerWidth - r.width - 8, cx + 14) + "px";
    tip.style.top = Math.min(window.innerHeight - r.height - 8, cy + 14) + "px";
  }
  ctx.onCleanup(() => { tip.hidden = true; });
  function highlight(text, center) {
    const t = text.trim().toLowerCase();
    let first = null;
    for (const g of $$("g.node[data-device-id]", svg)) {
      const n = layout.nodes.get("device:" + g.dataset.deviceId);
      const hit = !!t && n && (String(labelOf(n)).toLowerCase().includes(t) || (n.ips || []).some((ip) => ip.includes(t)));
      g.classList.toggle("hl", hit);
      if (hit && !first) first = g;
    }
    if (!first) return false;
    if (center) {
      const p = layout.placedNodes.find((q) => q.n && String(q.n.id) === "device:" + first.dataset.deviceId);
      if (p) {
        view.k = Math.max(view.k, 0.9);
        view.x = mapBox.clientWidth / 2 - p.x * view.k; view.y = mapBox.clientHeight / 2 - p.y * view.k; view.touched = true;
        applyView();
      }
    }
    return true;
  }
  // A search that matches nothing drawn asks the server, and the first device found is
  // drawn (focused) and centred.
  async function search(text) {
    if (highlight(text, true) || text.trim().length < 2) return;
    const found = await api("/devices" + qs({ network: mapNetwork, q: text.trim(), limit: 1 }));
    const d = found && found.items && found.items[0];
    if (!d || find.value !== text) return;
    focus = d.id;
    await load();
    highlight(text, true);
  }
  find.addEventListener("input", debounce(() => search(find.value).catch(report), 250));
  collapse.addEventListener("click", () => { expanded.clear(); focus = ""; view.touched = false; load().catch(report); });
  netSel.addEventListener("change", () => { mapNetwork = netSel.value; expanded.clear(); focus = ""; view.touched = false; load().catch(report); });
  asOf.addEventListener("change", () => { view.touched = false; load().catch(report); });
  const exportName = (ext) => "scanopy-" + (networkName(mapNetwork) || "map").replace(/[^A-Za-z0-9._-]+/g, "_") + "." + ext;
  exSvg.addEventListener("click", () => { if (layout) download(exportName("svg"), exportSvg(layout), "image/svg+xml"); });
  const exportText = async (format, ext) => {
    try { download(exportName(ext), await api("/topology" + qs({ network: mapNetwork, format, at: atParam() }), { text: true }), "text/plain"); } catch (e) { report(e); }
  };
  exDot.addEventListener("click", () => exportText("dot", "dot"));
  exMmd.addEventListener("click", () => exportText("mermaid", "mmd"));
  await load();
  ctx.mounted = true;
  const onResize = debounce(() => { if (!view.touched) fit(); }, 150);
  window.addEventListener("resize", onResize);
  ctx.onCleanup(() => window.removeEventListener("resize", onResize));
  ctx.afterMount = () => { if (!view.touched) fit(); };
  liveRefresher(ctx, () => (asOf.value ? null : load()), ["device_new", "device_gone", "device_changed", "scan_done"], 2500);
}

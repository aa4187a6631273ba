// The devices list: filters, sorting, paging.

import { append, emptyRow, h, icon, onlineBadge, pageHead, presenceBar, timeEl, typeIcon } from "../dom.js";
import { api, items, loadNetworks, report, state } from "../api.js";
import { debounce, devName, fmtNum, ipLabel, ipNum, osLabel, parseTime, qs, typeLabel } from "../format.js";
import { go, liveRefresher } from "../router.js";

// ------------------------------------------------------------------ devices
const devState = { q: "", network: "", subnet: "", service: "", sort: { key: "ip", dir: 1 }, rows: [], cursor: null };
const DEV_COLUMNS = [
  { key: "name", label: "Name", get: (d) => devName(d).toLowerCase() },
  { key: "ip", label: "IP addresses", get: (d) => ipNum(d.interfaces && d.interfaces[0] && d.interfaces[0].ip) },
  { key: "mac", label: "MAC", cls: "hide-md", get: (d) => ((d.interfaces || []).find((i) => i.mac) || {}).mac || "~" },
  { key: "vendor", label: "Vendor", cls: "hide-md", get: (d) => (d.vendor || "~").toLowerCase() },
  { key: "type", label: "Type", get: (d) => d.device_type || "unknown" },
  { key: "os", label: "OS", cls: "hide-md", get: (d) => osLabel(d.os).toLowerCase() },
  { key: "services", label: "Services", get: (d) => (d.services || []).length, num: true },
  { key: "last_seen", label: "Last seen", get: (d) => -(parseTime(d.last_seen) || 0) },
  { key: "status", label: "Status", get: (d) => (d.offline ? 1 : 0) },
];
export async function pageDevices(root, ctx) {
  const q = ctx.query;
  for (const k of ["q", "network", "subnet", "service"]) if (q.has(k)) devState[k] = q.get(k);
  await loadNetworks().catch(() => null);
  const subnets = [...new Set(state.networks.flatMap((n) => n.subnets || []))];
  const search = h("input", { type: "search", name: "q", placeholder: "Search name, IP, MAC, vendor…", value: devState.q, "aria-label": "Search devices" });
  const netSel = h("select", { name: "network", "aria-label": "Network" }, h("option", { value: "" }, "All networks"),
    state.networks.map((n) => h("option", { value: n.id, selected: n.id === devState.network }, n.name)));
  const subnet = h("input", { name: "subnet", placeholder: "Subnet, e.g. 10.0.0.0/24", value: devState.subnet, list: "subnet-list", "aria-label": "Subnet" });
  const subnetList = h("datalist", { id: "subnet-list" }, subnets.map((x) => h("option", { value: x })));
  const service = h("input", { name: "service", placeholder: "Service, e.g. ssh", value: devState.service, "aria-label": "Service" });
  const clear = h("button", { type: "button", class: "btn ghost" }, "Clear");
  const tbody = h("tbody");
  const thead = h("thead");
  const count = h("span");
  const more = h("button", { type: "button", class: "btn sm", id: "devices-more" }, "Load more");
  const table = h("table", { class: "data", id: "devices-table" }, thead, tbody);

  function renderHead() {
    thead.replaceChildren(h("tr", null, DEV_COLUMNS.map((c) => {
      const active = devState.sort.key === c.key;
      const th = h("th", { class: "sortable" + (c.num ? " num" : "") + (c.cls ? " " + c.cls : ""), tabindex: "0", scope: "col", "aria-sort": active ? (devState.sort.dir > 0 ? "ascending" : "descending") : "none" },
        c.label, h("span", { class: "arrow" }, active ? (devState.sort.dir > 0 ? "▲" : "▼") : ""));
      const act = () => {
        if (devState.sort.key === c.key) devState.sort.dir *= -1; else devState.sort = { key: c.key, dir: 1 };
        renderHead(); renderRows();
      };
      th.addEventListener("click", act);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); act(); } });
      return th;
    })));
  }
  function renderRows() {
    const col = DEV_COLUMNS.find((c) => c.key === devState.sort.key) || DEV_COLUMNS[1];
    const dir = devState.sort.dir;
    const rows = devState.rows.slice().sort((a, b) => {
      const x = col.get(a), y = col.get(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || ipNum(((a.interfaces || [])[0] || {}).ip) - ipNum(((b.interfaces || [])[0] || {}).ip);
    });
    const frag = document.createDocumentFragment();
    for (const d of rows) {
      const ifs = d.interfaces || [];
      const mac = (ifs.find((i) => i.mac) || {}).mac;
      const sub = d.user_name && d.hostname ? d.hostname : d.container ? d.container.image : null;
      const tr = h("tr", { class: "clickable", tabindex: "0", "data-device-id": d.id },
        h("td", null, h("div", { class: "primary-cell" }, typeIcon(d.device_type), h("div", null, devName(d), sub ? h("span", { class: "sub" }, sub) : null))),
        h("td", null, h("div", { class: "ips" }, ifs.slice(0, 3).map((i) => h("code", null, ipLabel(i.ip))), ifs.length > 3 ? h("span", { class: "muted small" }, "+" + (ifs.length - 3)) : null)),
        h("td", { class: "mono nowrap hide-md" }, mac || h("span", { class: "muted" }, "—")),
        h("td", { class: "hide-md" }, d.vendor || h("span", { class: "muted" }, "—")),
        h("td", { class: "nowrap" }, typeLabel(d.device_type)),
        h("td", { class: "hide-md" }, d.os ? osLabel(d.os) : h("span", { class: "muted" }, "—")),
        h("td", { class: "num" }, String((d.services || []).length)),
        h("td", { class: "nowrap" }, timeEl(d.last_seen)),
        h("td", null, onlineBadge(d.offline), h("div", { "data-spark": d.id }, sparkOf(d.id))));
      frag.appendChild(tr);
    }
    tbody.replaceChildren(rows.length ? frag : emptyRow(DEV_COLUMNS.length, anyFilter() ? "No device matches these filters." : "No devices yet. Run a scan to discover your network."));
    if (rows.length) fillPresence().catch(report);
    count.textContent = fmtNum(devState.rows.length) + " device" + (devState.rows.length === 1 ? "" : "s") + (devState.cursor ? " loaded" : "");
    more.hidden = !devState.cursor;
  }
  // The last 7 days of each listed device, a small bar beside its status: fetched for the
  // rows shown, 200 at a time, again at most every 30 s.
  const presence = new Map();
  let presenceAt = 0, presenceBusy = false;
  const sparkOf = (id) => (presence.get(id) ? presenceBar(presence.get(id), { compact: true }) : null);
  async function fillPresence() {
    if (presenceBusy) return;
    presenceBusy = true;
    try {
      if (Date.now() - presenceAt > 30000) { presence.clear(); presenceAt = Date.now(); }
      const missing = devState.rows.map((d) => d.id).filter((id) => !presence.has(id));
      for (let i = 0; i < missing.length; i += 200) {
        const chunk = missing.slice(i, i + 200);
        const r = await api("/presence?devices=" + chunk.join(","));
        for (const p of items(r)) presence.set(p.device, p);
        for (const id of chunk) if (!presence.has(id)) presence.set(id, null);
      }
      for (const cell of tbody.querySelectorAll("[data-spark]")) {
        const bar = sparkOf(cell.dataset.spark);
        cell.replaceChildren(...(bar ? [bar] : []));
      }
    } finally { presenceBusy = false; }
  }
  const anyFilter = () => devState.q || devState.network || devState.subnet || devState.service;
  const params = (extra) => ({ q: devState.q, network: devState.network, subnet: devState.subnet, service: devState.service, ...extra });
  let loadSeq = 0;
  async function load(limit) {
    const my = ++loadSeq;
    const r = await api("/devices" + qs(params({ limit: limit || 100 })));
    if (my !== loadSeq) return;
    devState.rows = items(r);
    devState.cursor = r.next_cursor || null;
    renderRows();
    setExports();
  }
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const r = await api("/devices" + qs(params({ limit: 100, cursor: devState.cursor })));
      const seen = new Set(devState.rows.map((d) => d.id));
      devState.rows = devState.rows.concat(items(r).filter((d) => !seen.has(d.id)));
      devState.cursor = r.next_cursor || null;
      renderRows();
    } catch (e) { report(e); } finally { more.disabled = false; }
  });
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-device-id]");
    if (tr) go("#/devices/" + encodeURIComponent(tr.dataset.deviceId));
  });
  tbody.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr[data-device-id]");
    if (tr && e.key === "Enter") go("#/devices/" + encodeURIComponent(tr.dataset.deviceId));
  });
  const refilter = debounce(() => { load().catch(report); }, 250);
  const bind = (el, key) => el.addEventListener(el.tagName === "SELECT" ? "change" : "input", () => { devState[key] = el.value.trim(); refilter(); });
  bind(search, "q"); bind(netSel, "network"); bind(subnet, "subnet"); bind(service, "service");
  clear.addEventListener("click", () => {
    devState.q = devState.network = devState.subnet = devState.service = "";
    search.value = subnet.value = service.value = ""; netSel.value = "";
    load().catch(report);
  });
  // Downloads of the whole list as filtered now (the session's cookie is the credential).
  const exportLinks = [["devices", "csv", "Devices CSV"], ["services", "csv", "Services CSV"], ["interfaces", "csv", "Interfaces CSV"], ["devices", "json", "JSON"]]
    .map(([kind, format, label]) => h("a", { class: "btn sm", download: "", "data-kind": kind, "data-format": format }, label));
  const setExports = () => {
    for (const a of exportLinks) {
      const p = new URLSearchParams({ kind: a.dataset.kind, format: a.dataset.format });
      for (const k of ["q", "network", "subnet", "service"]) if (devState[k]) p.set(k, devState[k]);
      a.href = "/api/v1/export?" + p.toString();
    }
  };
  const exports = h("div", { id: "devices-export" }, h("span", { class: "small muted" }, "Export"), exportLinks);
  renderHead();
  await load();
  append(root, [
    pageHead("Devices", "Every device found on your networks", exports, h("a", { class: "btn", href: "#/map" }, icon("map", "sm"), "Map")),
    h("section", { class: "card" },
      h("div", { class: "filters" }, h("div", { class: "search" }, icon("search", "sm"), search), netSel, subnet, subnetList, service, clear),
      h("div", { class: "table-wrap" }, table),
      h("div", { class: "table-foot" }, count, h("div", { class: "spacer" }), more)),
  ]);
  ctx.afterMount = () => { if (devState.q) search.focus(); };
  liveRefresher(ctx, () => load(Math.min(1000, Math.max(100, devState.rows.length))), ["device_new", "device_changed", "device_gone", "service_new", "service_gone"], 1500);
}

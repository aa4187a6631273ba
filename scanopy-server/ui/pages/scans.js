// Scans: start one, watch it run, repeat it on a schedule.

import { $$, append, card, emptyRow, h, icon, pageHead, timeEl, toast } from "../dom.js";
import { api, can, daemonName, items, loadDaemons, loadNetworks, networkName, report, state } from "../api.js";
import { fmtNum, parseTime, qs } from "../format.js";
import { liveRefresher } from "../router.js";
import { progressCell, scanStatusBadge } from "./scan-cells.js";

// The scanners a scan may name come from the server's registry (GET /scanners).
let scannerList = null;
async function loadScanners() {
  if (!scannerList) scannerList = await api("/scanners");
  return scannerList;
}
let scanNetwork = "";
export async function pageScans(root, ctx) {
  const [, , scanners] = await Promise.all([loadNetworks(), loadDaemons().catch(() => []), loadScanners()]);
  if (!state.networks.find((n) => n.id === scanNetwork)) scanNetwork = state.networks.length ? state.networks[0].id : "";
  const tbody = h("tbody");
  const schedBody = h("tbody");
  const mayScan = can("editor");
  // new-scan form
  const netSel = h("select", { id: "scan-network", name: "network", required: true }, state.networks.map((n) => h("option", { value: n.id, selected: n.id === scanNetwork }, n.name)));
  const dmSel = h("select", { id: "scan-daemon", name: "daemon" });
  const targets = h("input", { id: "scan-targets", name: "targets", placeholder: "" });
  const ports = h("select", { id: "scan-ports", name: "ports" },
    h("option", { value: "top100" }, "Top 100 ports"), h("option", { value: "top1000", selected: true }, "Top 1000 ports"), h("option", { value: "all" }, "All 65535 ports"), h("option", { value: "custom" }, "Custom list…"));
  const portsCustom = h("input", { id: "scan-ports-custom", name: "ports_custom", placeholder: "22,80,443,8000-8100", hidden: true, "aria-label": "Custom ports", class: "mt-6" });
  const every = h("input", { type: "number", min: "1", value: "60", id: "sched-every", name: "every_minutes", "aria-label": "Repeat every N minutes" });
  const schedBtn = h("button", { type: "button", class: "btn", id: "add-schedule" }, "Add schedule");
  const fillDaemons = () => {
    const ds = state.daemons.filter((d) => !netSel.value || d.network === netSel.value);
    dmSel.replaceChildren(h("option", { value: "" }, "Any daemon (server picks)"), ds.map((d) => h("option", { value: d.id }, d.name + (d.online ? "" : " (offline)"))));
    const n = state.networks.find((x) => x.id === netSel.value);
    targets.placeholder = n && n.subnets && n.subnets.length ? n.subnets.join(", ") : "10.0.0.0/24, 10.0.1.5";
  };
  fillDaemons();
  ports.addEventListener("change", () => { portsCustom.hidden = ports.value !== "custom"; if (!portsCustom.hidden) portsCustom.focus(); });
  const form = h("form", { id: "new-scan-form", class: "card-body", novalidate: true },
    h("div", { class: "form-row" },
      h("div", { class: "field" }, h("label", { for: "scan-network" }, "Network"), netSel),
      h("div", { class: "field" }, h("label", { for: "scan-daemon" }, "Daemon"), dmSel),
      h("div", { class: "field" }, h("label", { for: "scan-targets" }, "Targets"), targets, h("div", { class: "hint" }, "Comma separated; empty scans the network's subnets")),
      h("div", { class: "field" }, h("label", { for: "scan-ports" }, "Ports"), ports, portsCustom)),
    h("fieldset", { class: "field bare" }, h("legend", { class: "small legend" }, "Scanners"),
      h("div", { class: "checks" }, scanners.map((sc) => h("label", null, h("input", { type: "checkbox", name: "scanners", value: sc.name, checked: sc.default && sc.name !== "udp" }), sc.label)))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn primary" }, icon("scans", "sm"), "Start scan"),
      h("div", { class: "spacer" }),
      h("label", { for: "sched-every", class: "m0" }, "or repeat every"), h("span", { class: "inline-input" }, every, h("span", { class: "muted" }, "min")), schedBtn));
  const readForm = () => {
    const t = targets.value.split(",").map((x) => x.trim()).filter(Boolean);
    const p = ports.value === "custom" ? portsCustom.value.trim() : ports.value;
    const sc = $$("input[name=scanners]:checked", form).map((c) => c.value);
    if (!netSel.value) throw new Error("Choose a network first.");
    if (!p) throw new Error("Enter the ports to scan.");
    if (!sc.length) throw new Error("Choose at least one scanner.");
    return { network: netSel.value, daemon: dmSel.value || null, targets: t, ports: p, scanners: sc };
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let body;
    try { body = readForm(); } catch (ex) { toast(ex.message, "err"); return; }
    const b = form.querySelector("button[type=submit]");
    b.disabled = true;
    try {
      await api("/scans", { method: "POST", body });
      toast("Scan queued", "ok");
      await loadScans();
    } catch (ex) { report(ex); } finally { b.disabled = false; }
  });
  schedBtn.addEventListener("click", async () => {
    let body;
    try { body = readForm(); } catch (ex) { toast(ex.message, "err"); return; }
    const m = parseInt(every.value, 10);
    if (!(m > 0)) { toast("Enter how often to repeat, in minutes.", "err"); return; }
    try {
      await api("/schedules", { method: "POST", body: { ...body, every_minutes: m } });
      toast("Schedule added", "ok");
      await loadSchedules();
    } catch (ex) { report(ex); }
  });
  netSel.addEventListener("change", () => { scanNetwork = netSel.value; fillDaemons(); loadSchedules().catch(report); });

  let running = false;
  async function loadScans() {
    const list = items(await api("/scans?limit=50"));
    list.sort((a, b) => (parseTime(b.started_at) || Infinity) - (parseTime(a.started_at) || Infinity));
    running = list.some((x) => x.status === "running" || x.status === "queued");
    tbody.replaceChildren(...(list.length ? list.map((sc) => {
      const cancel = mayScan && (sc.status === "running" || sc.status === "queued")
        ? h("button", { type: "button", class: "btn sm danger", "data-cancel": sc.id }, "Cancel") : null;
      return h("tr", { "data-scan-id": sc.id, "data-status": sc.status },
        h("td", null, scanStatusBadge(sc.status)),
        h("td", null, networkName(sc.network)),
        h("td", null, daemonName(sc.daemon)),
        h("td", null, h("span", { class: "mono" }, (sc.targets || []).join(", ") || h("span", { class: "muted" }, "network subnets"))),
        h("td", { class: "nowrap" }, timeEl(sc.started_at)),
        h("td", { class: "nowrap" }, sc.finished_at ? timeEl(sc.finished_at) : h("span", { class: "muted" }, "—")),
        h("td", null, progressCell(sc)),
        h("td", { class: "num" }, fmtNum(sc.devices_seen || 0)),
        h("td", null, cancel));
    }) : [emptyRow(9, "No scans yet. Start one with the form.")]));
  }
  tbody.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-cancel]");
    if (!b) return;
    b.disabled = true;
    try { await api("/scans/" + encodeURIComponent(b.dataset.cancel) + "/cancel", { method: "POST" }); toast("Cancelling scan", ""); await loadScans(); } catch (ex) { report(ex); b.disabled = false; }
  });
  async function loadSchedules() {
    const list = items(await api("/schedules" + qs({ network: netSel.value, limit: 200 }))).filter((x) => !netSel.value || x.network === netSel.value);
    const cfg = (x) => x.config || {};
    schedBody.replaceChildren(...(list.length ? list.map((x) => h("tr", { "data-schedule-id": x.id },
      h("td", { class: "nowrap" }, "every " + (x.every_minutes >= 60 && x.every_minutes % 60 === 0 ? (x.every_minutes / 60) + " h" : x.every_minutes + " min")),
      h("td", null, daemonName(x.daemon)),
      h("td", { class: "mono" }, ((x.targets || cfg(x).targets || []).join(", ")) || h("span", { class: "muted" }, "network subnets")),
      h("td", { class: "mono" }, String(x.ports || cfg(x).ports || "—")),
      h("td", null, (x.scanners || cfg(x).scanners || []).join(", ") || "—"),
      h("td", { class: "nowrap" }, timeEl(x.next_run)),
      h("td", { class: "nowrap" }, x.last_run ? timeEl(x.last_run) : h("span", { class: "muted" }, "never")),
      h("td", null, mayScan ? h("button", { type: "button", class: "btn sm danger", "data-delete": x.id }, "Delete") : null))) : [emptyRow(8, "No schedules for this network.")]));
  }
  schedBody.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-delete]");
    if (!b || !confirm("Delete this schedule?")) return;
    try { await api("/schedules/" + encodeURIComponent(b.dataset.delete), { method: "DELETE" }); toast("Schedule deleted", "ok"); await loadSchedules(); } catch (ex) { report(ex); }
  });
  await Promise.all([loadScans(), loadSchedules().catch((e) => { report(e); })]);
  const scansTable = h("table", { class: "data", id: "scans-table" },
    h("thead", null, h("tr", null, ["Status", "Network", "Daemon", "Targets", "Started", "Finished", "Progress", "Devices", ""].map((t, i) => h("th", { class: i === 7 ? "num" : null }, t)))), tbody);
  append(root, [
    pageHead("Scans", "Start a scan, watch it run, repeat it on a schedule"),
    state.networks.length ? null : h("div", { class: "banner" }, icon("alert"), h("div", null, "There is no network yet. ", h("a", { href: "#/daemons" }, "Create one"), " first.")),
    // Viewers see the scans and schedules, and pick the network, but start nothing.
    mayScan ? card("New scan", null, form)
      : card("Network", h("span", { class: "muted small" }, "viewers see scans; editors start them"),
        h("div", { class: "card-body" }, h("div", { class: "field" }, h("label", { for: "scan-network" }, "Network"), netSel))),
    card("Scans", null, h("div", { class: "table-wrap" }, scansTable)),
    card("Schedules", h("span", { class: "muted small" }, "for the network chosen above"), h("div", { class: "table-wrap" }, h("table", { class: "data", id: "schedules-table" },
      h("thead", null, h("tr", null, ["Every", "Daemon", "Targets", "Ports", "Scanners", "Next run", "Last run", ""].map((t) => h("th", null, t)))), schedBody))),
  ]);
  const refresh = liveRefresher(ctx, loadScans, ["scan_progress", "scan_done", "scan_started"], 800);
  ctx.every(3000, () => { if (running) refresh(); });
}

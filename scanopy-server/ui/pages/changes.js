// What changed between two dates (GET /changes): devices added, gone offline, back online,
// changed; services added and gone.

import { append, badge, card, emptyRow, h, pageHead, timeEl } from "../dom.js";
import { api, loadNetworks, report, state } from "../api.js";
import { qs } from "../format.js";

const pad = (n) => String(n).padStart(2, "0");
// A date for <input type="datetime-local"> in local time.
const localInput = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;

export async function pageChanges(root, ctx) {
  await loadNetworks().catch(() => null);
  const q = ctx.query;
  const now = new Date();
  const from = h("input", { type: "datetime-local", id: "changes-from", value: q.get("from") ? localInput(new Date(q.get("from"))) : localInput(new Date(now - 7 * 86400e3)), "aria-label": "From" });
  const to = h("input", { type: "datetime-local", id: "changes-to", value: q.get("to") ? localInput(new Date(q.get("to"))) : localInput(new Date(now.getTime() + 60e3)), "aria-label": "To" });
  const netSel = h("select", { id: "changes-network", "aria-label": "Network" }, h("option", { value: "" }, "All networks"),
    state.networks.map((n) => h("option", { value: n.id, selected: n.id === q.get("network") }, n.name)));
  const body = h("div", { id: "changes" });
  // At most three addresses, then a count (a host's IPv6 addresses are long).
  const ips = (list) => h("div", { class: "ips" }, list.slice(0, 3).map((x) => h("code", null, x)), list.length > 3 ? h("span", { class: "muted small" }, "+" + (list.length - 3)) : null);
  const devLink = (c) => h("a", { href: "#/devices/" + encodeURIComponent(c.device) }, c.name);
  const devTable = (id, rows, extra) => h("div", { class: "table-wrap" }, h("table", { class: "data", id },
    h("thead", null, h("tr", null, h("th", null, "Device"), h("th", null, extra ? "Now" : "Addresses"), h("th", null, "When"))),
    h("tbody", null, rows.length ? rows.map((c) => h("tr", null, h("td", null, devLink(c)),
      h("td", { class: "small" }, extra ? extra(c) : ips(c.detail.ips || [])),
      h("td", { class: "nowrap" }, timeEl(c.at)))) : [emptyRow(3, "None.")])));
  const svcTable = (id, rows) => h("div", { class: "table-wrap" }, h("table", { class: "data", id },
    h("thead", null, h("tr", null, h("th", null, "Device"), h("th", null, "Service"), h("th", null, "When"))),
    h("tbody", null, rows.length ? rows.map((s) => h("tr", null, h("td", null, devLink(s)),
      h("td", { class: "mono small" }, `${s.ip} ${s.port}/${s.protocol} ${s.service}`), h("td", { class: "nowrap" }, timeEl(s.at)))) : [emptyRow(3, "None.")])));
  const changed = (c) => ["hostname", "vendor", "device_type", "os"].filter((k) => c.detail[k]).map((k) => h("div", null, h("span", { class: "muted" }, k.replace("_", " ") + " "), String(c.detail[k])));
  async function load() {
    const params = { from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() };
    if (netSel.value) params.network = netSel.value;
    const r = await api("/changes" + qs(params));
    const count = (n, label, kind) => badge(n + " " + label, n ? kind : "");
    body.replaceChildren(
      h("div", { id: "changes-summary" },
        count(r.devices_added.length, "added", "ok"), " ", count(r.devices_gone.length, "offline", "err"), " ",
        count(r.devices_back.length, "back online", "ok"), " ", count(r.devices_changed.length, "changed", "info"), " ",
        count(r.services_added.length, "services added", "info"), " ", count(r.services_gone.length, "services gone", "warn"),
        r.truncated ? [" ", badge("more than 50,000 events: only the first", "warn")] : null),
      h("div", { class: "grid cols-2 mt-18" },
        card("Devices added", null, devTable("changes-added", r.devices_added)),
        card("Gone offline", null, devTable("changes-gone", r.devices_gone))),
      h("div", { class: "grid cols-2 mt-18" },
        card("Back online", null, devTable("changes-back", r.devices_back)),
        card("Changed", null, devTable("changes-changed", r.devices_changed, changed))),
      h("div", { class: "grid cols-2 mt-18" },
        card("Services added", null, svcTable("changes-services-added", r.services_added)),
        card("Services gone", null, svcTable("changes-services-gone", r.services_gone))));
  }
  for (const el of [from, to, netSel]) el.addEventListener("change", () => load().catch(report));
  await load();
  append(root, [
    pageHead("Changes", "What changed on the network between two dates"),
    h("section", { class: "card" }, h("div", { class: "filters" },
      h("label", { for: "changes-from", class: "small muted" }, "From"), from,
      h("label", { for: "changes-to", class: "small muted" }, "to"), to, netSel)),
    body,
  ]);
}

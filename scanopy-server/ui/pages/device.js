// One device: interfaces, services, container, history, and what the user may edit.

import { append, badge, card, emptyRow, h, icon, onlineBadge, presenceBar, timeEl, toast, typeIcon } from "../dom.js";
import { api, can, loadNetworks, networkName, report, state } from "../api.js";
import { describeEvent, devName, EVENT_STYLE, fullTime, ipLabel, osLabel, relTime, shortId, typeLabel } from "../format.js";
import { go, liveRefresher } from "../router.js";

// ------------------------------------------------------------------ device page
export async function pageDevice(root, ctx) {
  const id = ctx.params[0];
  const [d] = await Promise.all([api("/devices/" + encodeURIComponent(id)), state.networks.length ? null : loadNetworks().catch(() => null)]);
  const main = h("div"), side = h("div");
  let dirty = false;
  function render(d) {
    const ifs = d.interfaces || [];
    const svcs = (d.services || []).slice().sort((a, b) => a.port - b.port || String(a.protocol).localeCompare(b.protocol));
    const head = h("div", { class: "device-head" }, typeIcon(d.device_type),
      h("div", null, h("h1", null, devName(d)),
        h("div", { class: "meta" }, onlineBadge(d.offline), badge(typeLabel(d.device_type), d.device_type === "gateway" ? "warn" : ""),
          d.vendor ? h("span", null, d.vendor) : null,
          h("span", null, "· last seen ", timeEl(d.last_seen)),
          (d.tags || []).map((t) => h("span", { class: "tag" }, t)))));
    const ifCard = card("Interfaces", h("span", { class: "muted small" }, String(ifs.length)), h("div", { class: "table-wrap" }, h("table", { class: "data", id: "interfaces-table" },
      h("thead", null, h("tr", null, h("th", null, "IP address"), h("th", null, "MAC"), h("th", null, "Subnet"))),
      h("tbody", null, ifs.length ? ifs.map((i) => h("tr", null, h("td", { class: "mono" }, ipLabel(i.ip)), h("td", { class: "mono" }, i.mac || "—"), h("td", { class: "mono" }, i.subnet || "—"))) : emptyRow(3, "No addresses on the scanned networks")))));
    const confKind = { high: "ok", medium: "info", low: "warn" };
    const svcCard = card("Services", h("span", { class: "muted small" }, String(svcs.length)), h("div", { class: "table-wrap" }, h("table", { class: "data", id: "services-table" },
      h("thead", null, h("tr", null, h("th", null, "Port"), h("th", null, "State"), h("th", null, "Service"), h("th", null, "Product"), h("th", null, "Version"), h("th", null, "Confidence"), h("th", null, "Evidence"))),
      h("tbody", null, svcs.length ? svcs.map((x) => h("tr", null,
        h("td", { class: "mono nowrap" }, x.port + "/" + x.protocol, ifs.length > 1 ? h("span", { class: "muted small" }, " " + x.ip) : null),
        h("td", null, badge(x.state || "open", x.state === "open" ? "ok" : "")),
        h("td", null, h("strong", null, x.name || "unknown")),
        h("td", null, x.product || h("span", { class: "muted" }, "—")),
        h("td", { class: "mono" }, x.version || h("span", { class: "muted" }, "—")),
        h("td", null, badge(x.confidence || "—", confKind[x.confidence])),
        h("td", { class: "muted small" }, x.evidence || ""))) : emptyRow(7, "No open ports found.")))));
    let ctCard = null;
    if (d.container) {
      const c = d.container;
      const ports = c.ports || [];
      ctCard = card("Container", null, h("div", { class: "card-body" }, h("dl", { class: "kv" },
        h("dt", null, "Name"), h("dd", null, c.name || "—"),
        h("dt", null, "Image"), h("dd", { class: "mono" }, c.image || "—"),
        h("dt", null, "State"), h("dd", null, badge(c.state || "?", c.state === "running" ? "ok" : "warn"), c.health ? [" ", badge(c.health, c.health === "healthy" ? "ok" : "warn")] : null),
        c.compose_project ? [h("dt", null, "Compose"), h("dd", null, c.compose_project + (c.compose_service ? " / " + c.compose_service : ""))] : null,
        h("dt", null, "Networks"), h("dd", null, (c.networks || []).length ? h("span", { class: "ips" }, c.networks.map((n) => h("code", null, n.name + (n.ip ? " " + n.ip : "")))) : "—"),
        h("dt", null, "Ports"), h("dd", null, ports.length ? h("span", { class: "ips" }, ports.map((p) => h("code", null,
          (p.host_port ? (p.host_ip || "0.0.0.0") + ":" + p.host_port + " → " : "") + p.container_port + "/" + (p.protocol || "tcp")))) : "—"),
        h("dt", null, "Container id"), h("dd", { class: "mono" }, String(c.id || "").slice(0, 12) || "—"))));
    }
    // Link layer, as the device's SNMP agent told it: its ports with what is heard and learnt
    // on each.
    let l2Card = null;
    if (d.l2 && (d.l2.ports || []).length) {
      const l2 = d.l2;
      const heard = new Map();
      for (const n of l2.neighbours || []) heard.set(n.port, [...(heard.get(n.port) || []), n]);
      const learnt = new Map();
      for (const l of l2.learnt || []) learnt.set(l.port, (learnt.get(l.port) || 0) + 1);
      const speed = (m) => (m == null ? "—" : m >= 1000 ? m / 1000 + " Gbit/s" : m + " Mbit/s");
      // What the map places on each of its ports (links where it is the switch).
      const onPort = new Map();
      for (const l of d.links || []) if (l.switch === d.id) onPort.set(l.port, [...(onPort.get(l.port) || []), l]);
      const ports = (l2.ports || []).slice().sort((a, b) => a.index - b.index);
      l2Card = card("Ports", h("span", { class: "muted small" }, String(ports.length) + (l2.truncated ? " · read in part" : "")), h("div", { class: "table-wrap" }, h("table", { class: "data", id: "ports-table" },
        h("thead", null, h("tr", null, h("th", null, "Port"), h("th", null, "Link"), h("th", null, "Speed"), h("th", null, "VLAN"), h("th", null, "Neighbour"), h("th", null, "Connected"), h("th", null, "MACs learnt"))),
        h("tbody", null, ports.map((p) => h("tr", null,
          h("td", null, h("strong", { class: "mono" }, p.name), p.alias ? h("div", { class: "muted small" }, p.alias) : null),
          h("td", null, p.oper_up == null ? "—" : badge(p.oper_up ? "up" : "down", p.oper_up ? "ok" : "")),
          h("td", { class: "mono" }, speed(p.speed_mbps)),
          h("td", { class: "mono" }, p.vlan == null ? "—" : String(p.vlan)),
          h("td", null, (heard.get(p.name) || []).map((n) => h("div", null, n.name || n.chassis_id,
            n.remote_port_description || n.remote_port ? h("span", { class: "muted small" }, " · " + (n.remote_port_description || n.remote_port)) : null,
            h("span", { class: "muted small" }, " (" + n.source + ")")))),
          h("td", null, (onPort.get(p.name) || []).map((l) => h("div", null,
            h("a", { href: "#/devices/" + encodeURIComponent(l.device) }, l.device_name || shortId(l.device)),
            h("span", { class: "muted small" }, " (" + l.via + ")")))),
          h("td", { class: "mono" }, String(learnt.get(p.index) || 0))))))));
    }
    const hist = (d.history || []).slice().sort((a, b) => (b.seq || 0) - (a.seq || 0));
    const histCard = card("History", null, h("ul", { class: "list", id: "device-history" }, hist.length ? hist.slice(0, 100).map((ev) => {
      const [ic, cls] = EVENT_STYLE[ev.kind] || ["scans", ""];
      return h("li", null, h("span", { class: "ev-icon " + cls }, icon(ic)), h("span", { class: "grow" }, describeEvent(ev)), h("span", { class: "time", title: fullTime(ev.at), "data-time": ev.at }, relTime(ev.at)));
    }) : h("li", { class: "muted" }, "No history yet.")));
    const parentLink = d.parent ? h("a", { href: "#/devices/" + encodeURIComponent(d.parent), id: "parent-link" }, "Docker host " + shortId(d.parent)) : null;
    if (parentLink) api("/devices/" + encodeURIComponent(d.parent)).then((p) => { parentLink.textContent = devName(p); }).catch(() => null);
    const details = card("Details", null, h("div", { class: "card-body" }, h("dl", { class: "kv" },
      h("dt", null, "Host name"), h("dd", null, d.hostname || "—"),
      h("dt", null, "Vendor"), h("dd", null, d.vendor || "—"),
      h("dt", null, "Type"), h("dd", null, typeLabel(d.device_type), d.device_type_evidence ? h("div", { class: "muted small" }, d.device_type_evidence) : null),
      h("dt", null, "OS"), h("dd", { id: "device-os" }, osLabel(d.os), d.os ? [" ", badge(d.os.confidence, confKind[d.os.confidence])] : null,
        d.os ? (d.os.evidence || []).map((e) => h("div", { class: "muted small" }, e)) : null),
      parentLink ? [h("dt", null, "Runs on"), h("dd", null, parentLink)] : null,
      // The switch port it hangs off, as the map places it.
      (d.links || []).some((l) => l.device === d.id) ? [h("dt", null, "Plugged into"), h("dd", { id: "plugged-into" },
        (d.links || []).filter((l) => l.device === d.id).map((l) => h("div", null,
          h("a", { href: "#/devices/" + encodeURIComponent(l.switch) }, l.switch_name || shortId(l.switch)),
          " port ", h("strong", { class: "mono" }, l.port),
          h("span", { class: "muted small" }, " (" + l.via + (l.vlan != null ? ", VLAN " + l.vlan : "") + (l.device_port ? ", its " + l.device_port : "") + ")"))))] : null,
      d.notes && !can("editor") ? [h("dt", null, "Notes"), h("dd", { class: "pre-wrap" }, d.notes)] : null,
      h("dt", null, "Network"), h("dd", null, networkName(d.network)),
      d.presence ? [h("dt", null, "Last 7 days"), h("dd", null, presenceBar(d.presence, { id: "device-presence" }))] : null,
      h("dt", null, "Sources"), h("dd", null, (d.sources || []).join(", ") || "—"),
      h("dt", null, "First seen"), h("dd", null, fullTime(d.first_seen) || "—"),
      h("dt", null, "Last seen"), h("dd", null, fullTime(d.last_seen) || "—"),
      h("dt", null, "Id"), h("dd", { class: "mono small" }, d.id))));
    const head2 = [h("a", { class: "crumb", href: "#/devices" }, icon("back", "sm"), "Devices"), head];
    main.replaceChildren(...[ctCard, ifCard, l2Card, svcCard, histCard].filter(Boolean));
    // Names, notes and tags are an editor's to change; a viewer reads them above.
    side.replaceChildren(...(can("editor") ? [details, editCard(d)] : [details]));
    return head2;
  }
  function editCard(d) {
    const form = h("form", { id: "device-edit-form", class: "card-body" },
      h("div", { class: "field" }, h("label", { for: "dev-name" }, "Name"), h("input", { id: "dev-name", name: "name", value: d.user_name || "", placeholder: d.hostname || "Give it a name" })),
      h("div", { class: "field" }, h("label", { for: "dev-notes" }, "Notes"), h("textarea", { id: "dev-notes", name: "notes", rows: "4" }, d.notes || "")),
      h("div", { class: "field" }, h("label", { for: "dev-tags" }, "Tags"), h("input", { id: "dev-tags", name: "tags", value: (d.tags || []).join(", "), placeholder: "comma separated" })),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn primary" }, "Save"), h("div", { class: "spacer" }),
        h("button", { type: "button", class: "btn danger", id: "device-delete" }, icon("trash", "sm"), "Delete")));
    form.addEventListener("input", () => { dirty = true; });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = form.name.value.trim(), notes = form.notes.value.trim();
      const tags = form.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
      try {
        const nd = await api("/devices/" + encodeURIComponent(d.id), { method: "PATCH", body: { name: name || null, notes: notes || null, tags } });
        dirty = false;
        toast("Saved", "ok");
        const fresh = nd && nd.id ? { ...d, ...nd, history: nd.history || d.history } : await api("/devices/" + encodeURIComponent(d.id));
        root.replaceChildren(...layout(fresh));
      } catch (ex) { report(ex); }
    });
    form.querySelector("#device-delete").addEventListener("click", async () => {
      if (!confirm("Delete " + devName(d) + "? It comes back if a scan sees it again.")) return;
      try {
        await api("/devices/" + encodeURIComponent(d.id), { method: "DELETE" });
        toast("Device deleted", "ok");
        go("#/devices");
      } catch (ex) { report(ex); }
    });
    return card("Name, notes and tags", null, form);
  }
  function layout(d) {
    const head = render(d);
    return [...head, h("div", { class: "layout-2" }, main, side)];
  }
  root.id = "device";
  root.dataset.deviceId = d.id;
  append(root, layout(d));
  liveRefresher(ctx, async () => {
    if (dirty) return;
    const nd = await api("/devices/" + encodeURIComponent(id));
    if (ctx.alive() && !dirty) root.replaceChildren(...layout(nd));
  }, null, 1000);
  const prev = ctx.onEvent;
  ctx.onEvent = (ev) => { if (!ev.device || ev.device === id) prev(ev); };
}

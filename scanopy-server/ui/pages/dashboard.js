// The dashboard: counts, recent scans, newest devices, recent events, the local daemon.

import { append, badge, card, emptyRow, h, icon, onlineBadge, pageHead, timeEl, typeIcon } from "../dom.js";
import { api, items, loadDaemons, loadNetworks, loadStatus, networkName, state } from "../api.js";
import { describeEvent, devName, EVENT_STYLE, fmtNum, fullTime, ipLabel, parseTime, relTime } from "../format.js";
import { liveRefresher } from "../router.js";
import { progressCell, scanStatusBadge } from "./scan-cells.js";

// ------------------------------------------------------------------ dashboard
export async function pageDashboard(root, ctx) {
  root.id = "dashboard";
  const body = h("div");
  append(root, [pageHead("Dashboard", "Everything scanopy knows about your networks", h("a", { class: "btn primary", href: "#/scans" }, icon("scans", "sm"), "New scan")), body]);
  const load = async () => {
    const [status, scans, devices, events] = await Promise.all([
      loadStatus(),
      api("/scans?limit=6").then(items).catch(() => []),
      api("/devices?limit=200").then(items).catch(() => []),
      api("/events?limit=200&order=desc").then(items).catch(() => []),
      loadNetworks().catch(() => state.networks),
      loadDaemons().catch(() => state.daemons),
    ]);
    if (!ctx.alive() && ctx.mounted) return;
    const st = status || {};
    const total = st.devices || 0, off = st.devices_offline || 0;
    const stat = (label, value, cls, href, ic) => h("div", { class: "card stat" },
      h("div", { class: "label" }, ic ? icon(ic, "sm") : null, label),
      href ? h("a", { class: "value" + (cls ? " " + cls : ""), href }, fmtNum(value)) : h("div", { class: "value" + (cls ? " " + cls : "") }, fmtNum(value)));
    const warnings = (st.warnings || []).map((w) => h("div", { class: "banner", role: "status" }, icon("alert"), h("div", null, w)));
    const stats = h("div", { class: "stats" },
      stat("Devices", total, "", "#/devices", null),
      stat("Online", Math.max(0, total - off), "ok", null, null),
      stat("Offline", off, off ? "err" : "", null, null),
      stat("Services", st.services || 0, "", null, null),
      stat("Networks", st.networks !== undefined ? st.networks : state.networks.length, "", "#/map", null));

    // recent scans
    const scanRows = scans.slice(0, 6).map((sc) => h("tr", null,
      h("td", null, scanStatusBadge(sc.status)),
      h("td", null, networkName(sc.network), h("div", { class: "mono small muted" }, (sc.targets || []).join(", ") || "network subnets")),
      h("td", null, progressCell(sc)),
      h("td", { class: "nowrap muted" }, timeEl(sc.started_at))));
    const scansCard = card("Recent scans", h("a", { href: "#/scans", class: "small" }, "All scans"),
      h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", null, h("tr", null, h("th", null, "Status"), h("th", null, "Network"), h("th", null, "Progress"), h("th", null, "Started"))),
        h("tbody", null, scanRows.length ? scanRows : emptyRow(4, "No scans yet. Start one from the Scans page.")))));

    // newest devices
    const newest = devices.slice().sort((a, b) => (parseTime(b.first_seen) || 0) - (parseTime(a.first_seen) || 0)).slice(0, 8);
    const devList = h("ul", { class: "list" }, newest.length ? newest.map((d) => h("li", null,
      typeIcon(d.device_type),
      h("a", { class: "grow", href: "#/devices/" + encodeURIComponent(d.id) }, devName(d),
        h("span", { class: "muted small" }, "  " + ((d.interfaces || []).map((i) => ipLabel(i.ip)).join(", ")))),
      onlineBadge(d.offline),
      h("span", { class: "time", title: fullTime(d.first_seen), "data-time": d.first_seen }, relTime(d.first_seen)))) : h("li", { class: "muted" }, "No devices found yet."));
    const devCard = card("Newest devices", h("a", { href: "#/devices", class: "small" }, "All devices"), devList);

    // events
    const evs = events.slice().sort((a, b) => (b.seq || 0) - (a.seq || 0)).filter((e) => e.kind !== "scan_progress").slice(0, 12);
    const evCard = card("Recent events", null, h("ul", { class: "list" }, evs.length ? evs.map((ev) => {
      const [ic, cls] = EVENT_STYLE[ev.kind] || ["scans", ""];
      const text = describeEvent(ev);
      return h("li", null, h("span", { class: "ev-icon " + cls }, icon(ic)),
        ev.device ? h("a", { class: "grow", href: "#/devices/" + encodeURIComponent(ev.device) }, text) : h("span", { class: "grow" }, text),
        h("span", { class: "time", title: fullTime(ev.at), "data-time": ev.at }, relTime(ev.at)));
    }) : h("li", { class: "muted" }, "Nothing happened yet.")));

    // local daemon and networks
    const ld = st.local_daemon;
    const yesNo = (v) => (v ? badge("yes", "ok") : badge("no", "warn"));
    const envCard = card("Local daemon", h("a", { href: "#/daemons", class: "small" }, "Daemons"), h("div", { class: "card-body" },
      ld ? h("dl", { class: "kv" },
        h("dt", null, "Status"), h("dd", null, ld.enabled ? badge("enabled", "ok", true) : badge("disabled", "", true)),
        h("dt", null, "Raw sockets"), h("dd", null, yesNo(ld.raw_sockets), ld.raw_sockets ? null : h("span", { class: "muted small" }, "  TCP discovery instead of ARP")),
        h("dt", null, "Docker"), h("dd", null, yesNo(ld.docker)),
        h("dt", null, "Listening"), h("dd", null, (ld.listening || []).length
          ? h("span", { class: "ips" }, ld.listening.map((x) => h("code", null, x)))
          : h("span", { class: "muted small" }, "no (needs CAP_NET_RAW; off with --no-passive)")),
        h("dt", null, "Subnets"), h("dd", null, h("span", { class: "ips" }, (ld.subnets || []).map((x) => h("code", null, x)))))
        : h("p", { class: "muted m0" }, "No local daemon: scans run on attached daemons."),
      h("h3", { class: "section-title" }, "Networks"),
      state.networks.length ? h("dl", { class: "kv" }, state.networks.map((n) => [h("dt", null, n.name), h("dd", null, h("span", { class: "ips" }, (n.subnets || []).map((x) => h("code", null, x))))]))
        : h("p", { class: "muted m0" }, "No networks yet.")));

    body.replaceChildren(...warnings, stats, h("div", { class: "grid cols-2" }, scansCard, devCard, evCard, envCard));
  };
  await load();
  ctx.mounted = true;
  const refresh = liveRefresher(ctx, load, null, 1500);
  ctx.every(15000, refresh);
}

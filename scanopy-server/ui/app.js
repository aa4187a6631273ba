// Scanopy web UI: a small single-page app in plain ES2020, no dependencies.
// Every string from the server is put into the page with textContent or
// setAttribute (never innerHTML), so a hostile host name stays text.
"use strict";

(() => {
  // ------------------------------------------------------------------ helpers
  const SVGNS = "http://www.w3.org/2000/svg";
  const XLINKNS = "http://www.w3.org/1999/xlink";
  const ICONS = window.SCANOPY_ICONS || {};
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
    return el;
  }
  function setAttrs(el, attrs, isSvg) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.setAttribute("class", v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (!isSvg && (k === "value" || k === "checked" || k === "disabled" || k === "selected" || k === "hidden")) el[k] = v;
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs, false);
    return append(el, children);
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs, true);
    return append(el, children);
  }
  function iconParts(name) {
    let def = ICONS[name];
    if (typeof def === "string") def = ICONS[def];
    return def || ICONS.unknown || [];
  }
  function icon(name, cls) {
    const svg = s("svg", { class: "icon" + (cls ? " " + cls : ""), viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" });
    for (const [tag, attrs] of iconParts(name)) svg.appendChild(s(tag, attrs));
    return svg;
  }
  function fillIcons(root) {
    for (const el of $$("[data-icon]", root)) {
      if (!el.firstChild) el.appendChild(icon(el.dataset.icon));
    }
  }
  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
    const str = u.toString();
    return str ? "?" + str : "";
  }
  const fmtNum = (n) => (typeof n === "number" ? n.toLocaleString() : n === null || n === undefined ? "—" : String(n));
  function parseTime(t) {
    if (!t) return null;
    const d = new Date(t);
    return isNaN(d) ? null : d;
  }
  function relTime(t) {
    const d = parseTime(t);
    if (!d) return "—";
    const sec = (Date.now() - d.getTime()) / 1000;
    const fut = sec < 0;
    const a = Math.abs(sec);
    let v;
    if (a < 45) return fut ? "in a moment" : "just now";
    else if (a < 3600) v = Math.round(a / 60) + " min";
    else if (a < 86400) v = Math.round(a / 3600) + " h";
    else if (a < 86400 * 30) v = Math.round(a / 86400) + " d";
    else return d.toLocaleDateString();
    return fut ? "in " + v : v + " ago";
  }
  const fullTime = (t) => { const d = parseTime(t); return d ? d.toLocaleString() : ""; };
  function timeEl(t) { return h("span", { class: "nowrap", title: fullTime(t), "data-time": t || null }, relTime(t)); }
  function ipNum(ip) {
    if (!ip) return Number.MAX_SAFE_INTEGER;
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
    if (!m) return 2 ** 33 + (ip.charCodeAt(0) || 0);
    return ((+m[1] * 256 + +m[2]) * 256 + +m[3]) * 256 + +m[4];
  }
  const shortId = (id) => (id ? String(id).slice(0, 8) : "");
  function devName(d) {
    if (!d) return "";
    const ip = d.interfaces && d.interfaces[0] && d.interfaces[0].ip;
    return d.user_name || d.hostname || (d.container && d.container.name) || ip || shortId(d.id);
  }
  const TYPE_LABELS = { nas: "NAS", iot: "IoT", docker_host: "Docker host", access_point: "Access point", unknown: "Unknown" };
  function typeLabel(t) {
    if (!t) return "Unknown";
    return TYPE_LABELS[t] || t.charAt(0).toUpperCase() + t.slice(1).replace(/_/g, " ");
  }
  const KNOWN_TYPES = ["gateway", "server", "computer", "printer", "nas", "camera", "phone", "docker_host", "container", "access_point", "switch", "hypervisor", "media", "iot", "unknown"];
  const typeKey = (t) => (KNOWN_TYPES.includes(t) ? t : "unknown");
  function typeIcon(t) {
    const k = typeKey(t);
    return h("span", { class: "type-icon " + k, title: typeLabel(t) }, icon(k));
  }
  function badge(text, kind, dot) { return h("span", { class: "badge" + (kind ? " " + kind : "") }, dot ? h("span", { class: "dot" }) : null, text); }
  function onlineBadge(offline) { return offline ? badge("offline", "err", true) : badge("online", "ok", true); }
  function emptyRow(cols, text) { return h("tr", null, h("td", { colspan: cols }, h("div", { class: "empty" }, text))); }
  function networkName(id) {
    const n = state.networks.find((x) => x.id === id);
    return n ? n.name : id ? shortId(id) : "—";
  }
  function daemonName(id) {
    if (!id) return "any";
    const d = state.daemons.find((x) => x.id === id);
    return d ? d.name : shortId(id);
  }
  function debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }
  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h("a", { href: url, download: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  }
  async function copyText(text, btn) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const ta = h("textarea", { value: text, style: "position:fixed;left:-9999px" });
      document.body.appendChild(ta); ta.select();
      try { document.execCommand("copy"); } catch (_) { /* ignore */ }
      ta.remove();
    }
    if (btn) { const old = btn.lastChild.textContent; btn.lastChild.textContent = "Copied"; setTimeout(() => { btn.lastChild.textContent = old; }, 1400); }
  }
  function copyButton(text) {
    const b = h("button", { type: "button", class: "btn sm", title: "Copy to clipboard" }, icon("copy", "sm"), h("span", null, "Copy"));
    b.addEventListener("click", () => copyText(text, b));
    return b;
  }

  // ------------------------------------------------------------------ toasts
  function toast(message, kind, ms) {
    const box = $("#toasts");
    const close = h("button", { type: "button", "aria-label": "Dismiss" }, icon("x", "sm"));
    const t = h("div", { class: "toast" + (kind ? " " + kind : ""), role: kind === "err" ? "alert" : "status" }, h("div", { class: "grow" }, message), close);
    close.addEventListener("click", () => t.remove());
    box.appendChild(t);
    while (box.children.length > 5) box.firstChild.remove();
    setTimeout(() => t.remove(), ms || (kind === "err" ? 7000 : 4500));
  }
  function report(err) {
    if (!err || err.status === 401) return;
    toast(err.message || String(err), "err");
    if (!(err instanceof ApiError)) console.error(err);
  }

  // ------------------------------------------------------------------ API
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  async function api(path, opts = {}) {
    const init = { method: opts.method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (opts.body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(opts.body); }
    let res;
    try {
      res = await fetch("/api/v1" + path, init);
    } catch (_) {
      throw new ApiError(0, "network", "Cannot reach the server");
    }
    if (res.status === 401 && !opts.noAuthRedirect) {
      showSignin();
      throw new ApiError(401, "unauthorized", "Signed out");
    }
    if (!res.ok) {
      let msg = res.status + " " + res.statusText, code = "error";
      try {
        const j = await res.json();
        if (j && j.error) { msg = j.error.message || msg; code = j.error.code || code; }
      } catch (_) { /* not JSON */ }
      throw new ApiError(res.status, code, msg);
    }
    if (res.status === 204) return null;
    const ct = res.headers.get("content-type") || "";
    if (opts.text || !ct.includes("json")) return res.text();
    return res.json();
  }
  const items = (r) => (r && Array.isArray(r.items) ? r.items : Array.isArray(r) ? r : []);

  // ------------------------------------------------------------------ state
  const state = { me: null, status: null, networks: [], daemons: [], signedIn: false };
  async function loadNetworks() { state.networks = items(await api("/networks?limit=1000")); return state.networks; }
  async function loadDaemons() { state.daemons = items(await api("/daemons?limit=1000")); return state.daemons; }
  async function loadStatus() {
    state.status = await api("/status");
    if (state.status && state.status.version) $("#version").textContent = "v" + state.status.version;
    return state.status;
  }

  // ------------------------------------------------------------------ sign-in
  function showSignin() {
    state.signedIn = false;
    stopEvents();
    if (current) { runCleanup(current); current = null; }
    $("#shell").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").hidden = true;
    document.body.dataset.page = "signin";
    const u = $("#signin-form [name=username]");
    if (u && !u.value) u.focus(); else $("#signin-form [name=password]").focus();
  }
  function initSignin() {
    const form = $("#signin-form");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const err = $("#signin-error");
      err.hidden = true;
      const username = form.username.value.trim();
      const password = form.password.value;
      if (!username || !password) { err.textContent = "Enter your user name and password."; err.hidden = false; return; }
      const btn = form.querySelector("button[type=submit]");
      btn.disabled = true;
      try {
        await api("/auth/login", { method: "POST", body: { username, password }, noAuthRedirect: true });
        form.password.value = "";
        $("#signin").hidden = true;
        await boot();
      } catch (ex) {
        err.textContent = ex.status === 401 ? "Wrong user name or password." : ex.status === 429 ? "Too many attempts, wait a minute." : ex.message;
        err.hidden = false;
        form.password.select();
      } finally {
        btn.disabled = false;
      }
    });
    $("#signout").addEventListener("click", async () => {
      try { await api("/auth/logout", { method: "POST", noAuthRedirect: true }); } catch (_) { /* signed out anyway */ }
      state.me = null;
      showSignin();
    });
  }

  // ------------------------------------------------------------------ live events (SSE)
  const EVENT_KINDS = ["device_new", "device_changed", "device_gone", "service_new", "service_changed", "service_gone", "scan_done", "scan_progress", "scan_started"];
  let es = null, esRetry = null;
  function setLive(on, text) {
    const el = $("#live-indicator");
    el.classList.toggle("on", on === true);
    el.classList.toggle("off", on === false);
    $("#live-text").textContent = text;
    el.title = text;
  }
  function stopEvents() {
    if (es) { es.close(); es = null; }
    clearTimeout(esRetry);
  }
  function startEvents() {
    stopEvents();
    if (typeof EventSource === "undefined") return;
    es = new EventSource("/api/v1/events/stream");
    es.onopen = () => setLive(true, "Live");
    es.onerror = () => {
      setLive(false, "Reconnecting…");
      if (es && es.readyState === EventSource.CLOSED) {
        es = null;
        esRetry = setTimeout(async () => {
          try { await api("/me"); startEvents(); } catch (_) { /* signin shown on 401 */ }
        }, 5000);
      }
    };
    const handler = (kind) => (msg) => {
      let ev = null;
      try { ev = JSON.parse(msg.data); } catch (_) { return; }
      if (!ev || typeof ev !== "object") return;
      onLiveEvent(ev.kind || kind, ev);
    };
    for (const k of EVENT_KINDS) es.addEventListener(k, handler(k));
    es.onmessage = handler("message");
  }
  const detailName = (ev) => {
    const d = ev.detail || {};
    return d.name || d.user_name || d.hostname || d.label || d.ip || (Array.isArray(d.ips) && d.ips[0]) ||
      (Array.isArray(d.interfaces) && d.interfaces[0] && d.interfaces[0].ip) || (ev.device ? shortId(ev.device) : "");
  };
  function describeEvent(ev) {
    const d = ev.detail || {};
    const who = detailName(ev);
    switch (ev.kind) {
      case "device_new": return "New device " + who;
      case "device_gone": return "Device offline: " + who;
      case "device_changed": return "Device changed: " + who + (d.field ? " (" + d.field + ")" : "");
      case "service_new": return "New service " + (d.port ? d.port + "/" + (d.protocol || "tcp") + " " : "") + (d.service || d.service_name || "") + (who ? " on " + who : "");
      case "service_changed": return "Service changed" + (d.port ? " " + d.port + "/" + (d.protocol || "tcp") : "") + (who ? " on " + who : "");
      case "service_gone": return "Service closed" + (d.port ? " " + d.port + "/" + (d.protocol || "tcp") : "") + (who ? " on " + who : "");
      case "scan_done": return "Scan " + (d.status && d.status !== "done" ? d.status : "finished") + (typeof d.devices_seen === "number" ? " · " + d.devices_seen + " devices" : "");
      case "scan_progress": return "Scan progress";
      case "scan_started": return "Scan started";
      default: return (ev.kind || "event").replace(/_/g, " ");
    }
  }
  const EVENT_STYLE = {
    device_new: ["plus", "ok"], device_gone: ["minus", "err"], device_changed: ["devices", "info"],
    service_new: ["plus", "info"], service_changed: ["scans", "info"], service_gone: ["minus", "err"],
    scan_done: ["scans", "ok"], scan_progress: ["scans", ""], scan_started: ["scans", "info"],
  };
  let toastBatch = { count: 0, timer: null };
  function onLiveEvent(kind, ev) {
    ev.kind = ev.kind || kind;
    if (ev.kind === "device_new" || ev.kind === "device_gone" || ev.kind === "scan_done") {
      toastBatch.count++;
      if (toastBatch.count <= 3) toast(describeEvent(ev), ev.kind === "device_gone" ? "" : "ok");
      if (!toastBatch.timer) {
        toastBatch.timer = setTimeout(() => {
          if (toastBatch.count > 3) toast((toastBatch.count - 3) + " more changes", "");
          toastBatch = { count: 0, timer: null };
        }, 2500);
      }
    }
    if (current && current.onEvent) {
      try { current.onEvent(ev); } catch (e) { console.error(e); }
    }
  }

  // ------------------------------------------------------------------ router
  let current = null;
  let seq = 0;
  const ROUTES = [
    [/^\/?$/, "dashboard"], [/^\/dashboard\/?$/, "dashboard"], [/^\/devices\/?$/, "devices"],
    [/^\/devices\/([^/?#]+)\/?$/, "device"], [/^\/map\/?$/, "map"], [/^\/scans\/?$/, "scans"], [/^\/daemons\/?$/, "daemons"],
  ];
  function parseRoute() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query] = raw.split("?");
    for (const [re, name] of ROUTES) {
      const m = re.exec(path);
      if (m) return { name, params: m.slice(1).map(decodeURIComponent), query: new URLSearchParams(query || "") };
    }
    return { name: "notfound", params: [], query: new URLSearchParams() };
  }
  function runCleanup(ctx) {
    ctx.dead = true;
    for (const fn of ctx.cleanups) { try { fn(); } catch (_) { /* ignore */ } }
    ctx.cleanups = [];
  }
  async function route() {
    if (!state.signedIn) return;
    const r = parseRoute();
    if (current) runCleanup(current);
    const ctx = { id: ++seq, name: r.name, params: r.params, query: r.query, cleanups: [], dead: false, onEvent: null };
    ctx.alive = () => !ctx.dead && current === ctx;
    ctx.onCleanup = (fn) => ctx.cleanups.push(fn);
    ctx.every = (ms, fn) => { const t = setInterval(fn, ms); ctx.onCleanup(() => clearInterval(t)); };
    current = ctx;
    document.body.dataset.page = "loading";
    const navName = r.name === "device" ? "devices" : r.name;
    for (const a of $$(".nav a")) {
      const on = a.dataset.nav === navName;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    const view = $("#view");
    view.replaceChildren(h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading…"));
    const page = PAGES[r.name] || pageNotFound;
    try {
      const root = h("div", { class: "page" });
      await page(root, ctx);
      if (!ctx.alive()) return;
      view.replaceChildren(root);
      document.title = (TITLES[r.name] || "Scanopy") + " · Scanopy";
      document.body.dataset.page = r.name;
      if (ctx.afterMount) ctx.afterMount();
    } catch (e) {
      if (!ctx.alive() || e.status === 401) return;
      view.replaceChildren(h("div", { class: "banner err" }, icon("alert"), h("div", null, h("strong", null, "Could not load this page. "), e.message)));
      document.body.dataset.page = "error";
    }
  }
  const TITLES = { dashboard: "Dashboard", devices: "Devices", device: "Device", map: "Map", scans: "Scans", daemons: "Daemons & keys", notfound: "Not found" };
  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
  function liveRefresher(ctx, fn, kinds, ms) {
    let timer = null, running = false, again = false;
    const run = async () => {
      timer = null;
      if (!ctx.alive()) return;
      if (running) { again = true; return; }
      running = true;
      try { await fn(); } catch (e) { report(e); } finally {
        running = false;
        if (again) { again = false; schedule(); }
      }
    };
    const schedule = () => { if (!timer) timer = setTimeout(run, ms || 700); };
    ctx.onCleanup(() => clearTimeout(timer));
    ctx.onEvent = (ev) => { if (!kinds || kinds.includes(ev.kind)) schedule(); };
    return schedule;
  }
  function pageHead(title, sub, ...right) {
    return h("div", { class: "page-head" }, h("div", null, h("h1", null, title), sub ? h("div", { class: "sub" }, sub) : null), h("div", { class: "spacer" }), ...right);
  }
  function card(title, right, body, opts) {
    return h("section", { class: "card", id: opts && opts.id },
      title ? h("div", { class: "card-head" }, h("h2", null, title), h("div", { class: "spacer" }), right) : null,
      body);
  }

  async function pageNotFound(root) {
    append(root, [pageHead("Not found"), h("p", { class: "muted" }, "There is no page here. ", h("a", { href: "#/" }, "Back to the dashboard"))]);
  }

  // ------------------------------------------------------------------ dashboard
  async function pageDashboard(root, ctx) {
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
          h("span", { class: "muted small" }, "  " + ((d.interfaces || []).map((i) => i.ip).join(", ")))),
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
          h("dt", null, "Subnets"), h("dd", null, h("span", { class: "ips" }, (ld.subnets || []).map((x) => h("code", null, x)))))
          : h("p", { class: "muted", style: "margin:0" }, "No local daemon: scans run on attached daemons."),
        h("h3", { style: "margin:18px 0 8px" }, "Networks"),
        state.networks.length ? h("dl", { class: "kv" }, state.networks.map((n) => [h("dt", null, n.name), h("dd", null, h("span", { class: "ips" }, (n.subnets || []).map((x) => h("code", null, x))))]))
          : h("p", { class: "muted", style: "margin:0" }, "No networks yet.")));

      body.replaceChildren(...warnings, stats, h("div", { class: "grid cols-2" }, scansCard, devCard, evCard, envCard));
    };
    await load();
    ctx.mounted = true;
    const refresh = liveRefresher(ctx, load, null, 1500);
    ctx.every(15000, refresh);
  }

  function scanStatusBadge(st) {
    const map = { queued: ["queued", ""], running: ["running", "info"], done: ["done", "ok"], failed: ["failed", "err"], cancelled: ["cancelled", "warn"] };
    const [t, k] = map[st] || [st || "?", ""];
    return badge(t, k, true);
  }
  function progressCell(sc) {
    const p = sc.progress;
    const active = sc.status === "running" || sc.status === "queued";
    let pct = null;
    // hosts_total counts the target addresses, hosts_found the live hosts, hosts_done the live
    // hosts whose ports are scanned: the bar follows hosts_done of hosts_found.
    if (sc.status === "done") pct = 100;
    else if (p && p.hosts_found) pct = Math.min(100, Math.round((100 * (p.hosts_done || 0)) / p.hosts_found));
    const bar = h("div", { class: "progress" + (active && pct === null ? " indeterminate" : ""), role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": pct === null ? null : pct },
      h("span", { style: "width:" + (pct === null ? (active ? 35 : 0) : pct) + "%" }));
    let text = "";
    if (p) {
      const parts = [];
      if (p.hosts_total) parts.push(fmtNum(p.hosts_total) + (p.hosts_total === 1 ? " address" : " addresses"));
      if (p.hosts_found !== undefined) parts.push(fmtNum(p.hosts_found) + " found" + (active && p.hosts_found ? " (" + fmtNum(p.hosts_done || 0) + " scanned)" : ""));
      if (p.ports_probed) parts.push(fmtNum(p.ports_probed) + " ports probed");
      text = parts.join(" · ");
    } else if (sc.status === "queued") text = "waiting for a daemon";
    if (sc.status === "failed" && sc.error) text = sc.error;
    return h("div", { class: "progress-cell" }, bar, text ? h("span", { class: "small" }, text) : null);
  }

  // ------------------------------------------------------------------ devices
  const devState = { q: "", network: "", subnet: "", service: "", sort: { key: "ip", dir: 1 }, rows: [], cursor: null };
  const DEV_COLUMNS = [
    { key: "name", label: "Name", get: (d) => devName(d).toLowerCase() },
    { key: "ip", label: "IP addresses", get: (d) => ipNum(d.interfaces && d.interfaces[0] && d.interfaces[0].ip) },
    { key: "mac", label: "MAC", cls: "hide-md", get: (d) => ((d.interfaces || []).find((i) => i.mac) || {}).mac || "~" },
    { key: "vendor", label: "Vendor", cls: "hide-md", get: (d) => (d.vendor || "~").toLowerCase() },
    { key: "type", label: "Type", get: (d) => d.device_type || "unknown" },
    { key: "services", label: "Services", get: (d) => (d.services || []).length, num: true },
    { key: "last_seen", label: "Last seen", get: (d) => -(parseTime(d.last_seen) || 0) },
    { key: "status", label: "Status", get: (d) => (d.offline ? 1 : 0) },
  ];
  async function pageDevices(root, ctx) {
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
          h("td", null, h("div", { class: "ips" }, ifs.slice(0, 3).map((i) => h("code", null, i.ip)), ifs.length > 3 ? h("span", { class: "muted small" }, "+" + (ifs.length - 3)) : null)),
          h("td", { class: "mono nowrap hide-md" }, mac || h("span", { class: "muted" }, "—")),
          h("td", { class: "hide-md" }, d.vendor || h("span", { class: "muted" }, "—")),
          h("td", { class: "nowrap" }, typeLabel(d.device_type)),
          h("td", { class: "num" }, String((d.services || []).length)),
          h("td", { class: "nowrap" }, timeEl(d.last_seen)),
          h("td", null, onlineBadge(d.offline)));
        frag.appendChild(tr);
      }
      tbody.replaceChildren(rows.length ? frag : emptyRow(DEV_COLUMNS.length, anyFilter() ? "No device matches these filters." : "No devices yet. Run a scan to discover your network."));
      count.textContent = fmtNum(devState.rows.length) + " device" + (devState.rows.length === 1 ? "" : "s") + (devState.cursor ? " loaded" : "");
      more.hidden = !devState.cursor;
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
    renderHead();
    await load();
    append(root, [
      pageHead("Devices", "Every device found on your networks", h("a", { class: "btn", href: "#/map" }, icon("map", "sm"), "Map")),
      h("section", { class: "card" },
        h("div", { class: "filters" }, h("div", { class: "search" }, icon("search", "sm"), search), netSel, subnet, subnetList, service, clear),
        h("div", { class: "table-wrap" }, table),
        h("div", { class: "table-foot" }, count, h("div", { class: "spacer" }), more)),
    ]);
    ctx.afterMount = () => { if (devState.q) search.focus(); };
    liveRefresher(ctx, () => load(Math.min(1000, Math.max(100, devState.rows.length))), ["device_new", "device_changed", "device_gone", "service_new", "service_gone"], 1500);
  }

  // ------------------------------------------------------------------ device page
  async function pageDevice(root, ctx) {
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
        h("tbody", null, ifs.length ? ifs.map((i) => h("tr", null, h("td", { class: "mono" }, i.ip), h("td", { class: "mono" }, i.mac || "—"), h("td", { class: "mono" }, i.subnet || "—"))) : emptyRow(3, "No addresses on the scanned networks")))));
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
        parentLink ? [h("dt", null, "Runs on"), h("dd", null, parentLink)] : null,
        h("dt", null, "Network"), h("dd", null, networkName(d.network)),
        h("dt", null, "Sources"), h("dd", null, (d.sources || []).join(", ") || "—"),
        h("dt", null, "First seen"), h("dd", null, fullTime(d.first_seen) || "—"),
        h("dt", null, "Last seen"), h("dd", null, fullTime(d.last_seen) || "—"),
        h("dt", null, "Id"), h("dd", { class: "mono small" }, d.id))));
      const head2 = [h("a", { class: "crumb", href: "#/devices" }, icon("back", "sm"), "Devices"), head];
      if (ctCard) main.replaceChildren(ctCard, ifCard, svcCard, histCard); else main.replaceChildren(ifCard, svcCard, histCard);
      side.replaceChildren(details, editCard(d));
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

  // ------------------------------------------------------------------ map
  const MAP_CSS = `
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
.node.hl text.nl{fill:var(--m-accent)}
`;
  const LIVE_MAP_CSS = MAP_CSS + `.node{cursor:pointer}.lod-low text.ni,.lod-low text.linklabel{display:none}.lod-min .node:not(.more) text,.lod-min text.gs{display:none}.lod-min .node.more text.nm{font-size:40px}.lod-min text.gl{font-size:26px}`;
  const CELL_W = 132, CELL_H = 96, PAD = 18, HEAD = 44, NODE = 44;
  let mapNetwork = "";

  function buildTopology(topo, perGroupCap) {
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
  function labelOf(n) { return n ? n.label || n.cidr || n.name || String(n.id).replace(/^[a-z-]+:/, "") : ""; }
  function gridDims(n, maxCols) {
    if (n <= 0) return { cols: 1, rows: 0 };
    const cols = Math.max(1, Math.min(n, maxCols, Math.ceil(Math.sqrt(n * 1.5))));
    return { cols, rows: Math.ceil(n / cols) };
  }

  // Pure layout: positions for groups and nodes. O(n).
  function layoutTopology(m) {
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
        const net = mapNetwork;
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
          cells(sb.nb.items, sb.nb.total, bx + 8, by + 30, sb.cols, "#/devices" + qs({ network: mapNetwork }));
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

  function renderMapSvg(layout) {
    const svg = s("svg", { xmlns: SVGNS, role: "img", "aria-label": "Network map" });
    const defs = s("defs");
    for (const t of KNOWN_TYPES) {
      const sym = s("symbol", { id: "mi-" + t, viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", "stroke-width": "1.7", "stroke-linecap": "round", "stroke-linejoin": "round" });
      for (const [tag, attrs] of iconParts(t)) sym.appendChild(s(tag, attrs));
      defs.appendChild(sym);
    }
    const style = s("style");
    style.textContent = LIVE_MAP_CSS;
    defs.appendChild(style);
    svg.appendChild(defs);
    svg.appendChild(s("rect", { class: "bg", x: "-100000", y: "-100000", width: "200000", height: "200000" }));
    const vp = s("g", { class: "viewport" });
    const gBoxes = s("g", { class: "groups" }), gLinks = s("g", { class: "links" }), gNodes = s("g", { class: "nodes" });
    for (const b of layout.boxes) {
      const g = s("g", { class: b.cls + " group", ...b.data });
      g.appendChild(s("rect", { class: "box", x: b.x, y: b.y, width: b.w, height: b.h, rx: b.small ? 8 : 12 }));
      g.appendChild(s("text", { class: "gl", x: b.x + (b.small ? 10 : 16), y: b.y + (b.small ? 20 : 27) }, b.label));
      if (b.sub) g.appendChild(s("text", { class: "gs", x: b.x + b.w - 16, y: b.y + 27, "text-anchor": "end" }, b.sub));
      gBoxes.appendChild(g);
    }
    for (const l of layout.links) {
      gLinks.appendChild(s("path", { class: l.cls, d: l.d }));
      if (l.label) gLinks.appendChild(s("text", { class: "linklabel", x: l.lx, y: l.ly }, l.label));
    }
    const trunc = (t, n) => (t.length > n ? t.slice(0, n - 1) + "…" : t);
    for (const p of layout.placedNodes) {
      if (p.more) {
        const g = s("g", { class: "node more", transform: `translate(${p.x},${p.y})`, "data-href": p.href, tabindex: "0" });
        g.appendChild(s("rect", { class: "nb", x: -NODE / 2 - 14, y: -NODE / 2, width: NODE + 28, height: NODE, rx: 10 }));
        g.appendChild(s("text", { class: "nm", y: 5 }, "+" + fmtNum(p.more)));
        g.appendChild(s("text", { class: "nl", y: NODE / 2 + 16 }, "more devices"));
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
      const ip = (n.ips || [])[0] || n._ip;
      if (ip) g.appendChild(s("text", { class: "ni", y: NODE / 2 + 30 }, ip + ((n.ips || []).length > 1 && !p.gw ? " +" + (n.ips.length - 1) : "")));
      gNodes.appendChild(g);
    }
    vp.append(gBoxes, gLinks, gNodes);
    svg.appendChild(vp);
    return svg;
  }

  async function pageMap(root, ctx) {
    root.classList.add("map-page");
    await loadNetworks();
    const qnet = ctx.query.get("network");
    if (qnet) mapNetwork = qnet;
    if (!state.networks.find((n) => n.id === mapNetwork)) mapNetwork = state.networks.length ? state.networks[0].id : "";
    const netSel = h("select", { "aria-label": "Network", id: "map-network" }, state.networks.map((n) => h("option", { value: n.id, selected: n.id === mapNetwork }, n.name + "  (" + (n.subnets || []).join(", ") + ")")));
    const find = h("input", { type: "search", class: "search", placeholder: "Find on map…", "aria-label": "Find a device on the map" });
    const btn = (ic, label, title) => h("button", { type: "button", class: "btn", title: title || label }, icon(ic, "sm"), label);
    const exSvg = btn("download", "SVG", "Download the map as SVG");
    const exDot = btn("download", "DOT", "Download Graphviz DOT");
    const exMmd = btn("download", "Mermaid", "Download Mermaid");
    const zin = h("button", { type: "button", title: "Zoom in", "aria-label": "Zoom in" }, icon("plus", "sm"));
    const zout = h("button", { type: "button", title: "Zoom out", "aria-label": "Zoom out" }, icon("minus", "sm"));
    const zfit = h("button", { type: "button", title: "Fit to screen", "aria-label": "Fit to screen" }, icon("fit", "sm"));
    const mapBox = h("div", { id: "map" });
    const stats = h("div", { class: "map-stats" });
    append(root, [
      h("div", { class: "map-toolbar" }, h("h1", { style: "margin-right:8px" }, "Map"), netSel, find, h("div", { class: "spacer" }), h("div", { class: "btn-group" }, exSvg, exDot, exMmd)),
      mapBox,
    ]);
    if (!mapNetwork) {
      mapBox.appendChild(h("div", { class: "empty", style: "padding-top:120px" }, icon("map"), "No network yet. Create one on the Daemons page, then run a scan."));
      return;
    }
    const view = { x: 0, y: 0, k: 1, touched: false };
    let svg = null, vp = null, layout = null, model = null;
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

    async function load() {
      const topo = await api("/topology" + qs({ network: mapNetwork, format: "json" }));
      if (!ctx.alive() && ctx.mounted) return;
      const devCount = (topo.nodes || []).filter((n) => n.kind === "device").length;
      const groupsGuess = Math.max(1, (topo.nodes || []).filter((n) => n.kind !== "device").length);
      const cap = Math.max(24, Math.min(240, Math.floor(2400 / groupsGuess)));
      model = buildTopology(topo, cap);
      layout = layoutTopology(model);
      const nsvg = renderMapSvg(layout);
      if (svg) svg.replaceWith(nsvg); else mapBox.prepend(nsvg);
      svg = nsvg; vp = svg.querySelector("g.viewport");
      bindSvg();
      const shown = layout.placedNodes.filter((p) => !p.more).length;
      stats.textContent = fmtNum(devCount) + " devices" + (shown < devCount ? " · " + fmtNum(shown) + " drawn" : "") + " · " + fmtNum(model.groups.size) + " groups";
      if (!mapBox.contains(stats)) {
        mapBox.append(
          h("div", { class: "map-zoom" }, zin, zout, zfit), stats,
          h("div", { class: "map-legend" }, h("span", null, h("i"), "subnet member"), h("span", null, h("i", { class: "dash" }), "runs containers"),
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
      else if (g.dataset.href) go(g.dataset.href);
    }
    function showTip(g, cx, cy) {
      const n = model.nodes.get("device:" + g.dataset.deviceId);
      if (!n) return;
      const ips = (n.ips || []).length ? n.ips : n._ip ? [n._ip] : [];
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
        const n = model.nodes.get("device:" + g.dataset.deviceId);
        const hit = !!t && n && (String(labelOf(n)).toLowerCase().includes(t) || (n.ips || []).some((ip) => ip.includes(t)));
        g.classList.toggle("hl", hit);
        if (hit && !first) first = g;
      }
      if (first && center) {
        const p = layout.placedNodes.find((q) => q.n && String(q.n.id) === "device:" + first.dataset.deviceId);
        if (p) {
          view.k = Math.max(view.k, 0.9);
          view.x = mapBox.clientWidth / 2 - p.x * view.k; view.y = mapBox.clientHeight / 2 - p.y * view.k; view.touched = true;
          applyView();
        }
      }
    }
    find.addEventListener("input", debounce(() => highlight(find.value, true), 200));
    netSel.addEventListener("change", () => { mapNetwork = netSel.value; view.touched = false; load().catch(report); });
    const exportName = (ext) => "scanopy-" + (networkName(mapNetwork) || "map").replace(/[^A-Za-z0-9._-]+/g, "_") + "." + ext;
    exSvg.addEventListener("click", () => { if (layout) download(exportName("svg"), exportSvg(layout), "image/svg+xml"); });
    const exportText = async (format, ext) => {
      try { download(exportName(ext), await api("/topology" + qs({ network: mapNetwork, format }), { text: true }), "text/plain"); } catch (e) { report(e); }
    };
    exDot.addEventListener("click", () => exportText("dot", "dot"));
    exMmd.addEventListener("click", () => exportText("mermaid", "mmd"));
    await load();
    ctx.mounted = true;
    const onResize = debounce(() => { if (!view.touched) fit(); }, 150);
    window.addEventListener("resize", onResize);
    ctx.onCleanup(() => window.removeEventListener("resize", onResize));
    ctx.afterMount = () => { if (!view.touched) fit(); };
    liveRefresher(ctx, load, ["device_new", "device_gone", "device_changed", "scan_done"], 2500);
  }

  function exportSvg(layout) {
    const svg = renderMapSvg(layout);
    const m = 30;
    const w = Math.ceil(layout.width + m * 2), hgt = Math.ceil(layout.height + m * 2);
    svg.setAttribute("viewBox", `${-m} ${-m} ${w} ${hgt}`);
    svg.setAttribute("width", String(w));
    svg.setAttribute("height", String(hgt));
    svg.setAttribute("xmlns:xlink", XLINKNS);
    const bg = svg.querySelector("rect.bg");
    bg.setAttribute("x", String(-m)); bg.setAttribute("y", String(-m)); bg.setAttribute("width", String(w)); bg.setAttribute("height", String(hgt));
    const cs = getComputedStyle(document.documentElement);
    const css = MAP_CSS.replace(/var\((--[a-z0-9-]+)\)/g, (_, name) => cs.getPropertyValue(name).trim() || "#888");
    svg.querySelector("style").textContent = css;
    for (const n of svg.querySelectorAll("[tabindex]")) { n.removeAttribute("tabindex"); n.removeAttribute("role"); }
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg);
  }

  // ------------------------------------------------------------------ scans
  const SCANNERS = [["arp", "ARP"], ["tcp-ping", "TCP ping"], ["tcp", "TCP ports"], ["udp", "UDP"], ["names", "Names (DNS)"], ["docker", "Docker"]];
  let scanNetwork = "";
  async function pageScans(root, ctx) {
    await Promise.all([loadNetworks(), loadDaemons().catch(() => [])]);
    if (!state.networks.find((n) => n.id === scanNetwork)) scanNetwork = state.networks.length ? state.networks[0].id : "";
    const tbody = h("tbody");
    const schedBody = h("tbody");
    // new-scan form
    const netSel = h("select", { id: "scan-network", name: "network", required: true }, state.networks.map((n) => h("option", { value: n.id, selected: n.id === scanNetwork }, n.name)));
    const dmSel = h("select", { id: "scan-daemon", name: "daemon" });
    const targets = h("input", { id: "scan-targets", name: "targets", placeholder: "" });
    const ports = h("select", { id: "scan-ports", name: "ports" },
      h("option", { value: "top100" }, "Top 100 ports"), h("option", { value: "top1000", selected: true }, "Top 1000 ports"), h("option", { value: "all" }, "All 65535 ports"), h("option", { value: "custom" }, "Custom list…"));
    const portsCustom = h("input", { id: "scan-ports-custom", name: "ports_custom", placeholder: "22,80,443,8000-8100", hidden: true, "aria-label": "Custom ports", style: "margin-top:6px" });
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
      h("fieldset", { class: "field", style: "border:0;padding:0;margin:0 0 16px" }, h("legend", { class: "small", style: "font-weight:550;color:var(--text-2);margin-bottom:4px;padding:0" }, "Scanners"),
        h("div", { class: "checks" }, SCANNERS.map(([v, l]) => h("label", null, h("input", { type: "checkbox", name: "scanners", value: v, checked: v !== "udp" }), l)))),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn primary" }, icon("scans", "sm"), "Start scan"),
        h("div", { class: "spacer" }),
        h("label", { for: "sched-every", style: "margin:0" }, "or repeat every"), h("span", { class: "inline-input" }, every, h("span", { class: "muted" }, "min")), schedBtn));
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
        const cancel = sc.status === "running" || sc.status === "queued"
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
        h("td", null, h("button", { type: "button", class: "btn sm danger", "data-delete": x.id }, "Delete")))) : [emptyRow(8, "No schedules for this network.")]));
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
      card("New scan", null, form),
      card("Scans", null, h("div", { class: "table-wrap" }, scansTable)),
      card("Schedules", h("span", { class: "muted small" }, "for the network chosen above"), h("div", { class: "table-wrap" }, h("table", { class: "data", id: "schedules-table" },
        h("thead", null, h("tr", null, ["Every", "Daemon", "Targets", "Ports", "Scanners", "Next run", "Last run", ""].map((t) => h("th", null, t)))), schedBody))),
    ]);
    const refresh = liveRefresher(ctx, loadScans, ["scan_progress", "scan_done", "scan_started"], 800);
    ctx.every(3000, () => { if (running) refresh(); });
  }

  // ------------------------------------------------------------------ daemons & keys
  function secretBox(title, secret, extras) {
    const input = h("input", { readonly: true, value: secret, "aria-label": title, class: "secret-value" });
    input.addEventListener("focus", () => input.select());
    return h("div", { class: "secret", role: "status" },
      h("div", { class: "note" }, icon("alert", "sm"), title + " — copy it now, it will not be shown again."),
      h("div", { class: "row" }, input, copyButton(secret)),
      extras || null);
  }
  function cmdBlock(label, text) {
    return h("div", null, h("div", { class: "small muted", style: "margin-top:8px" }, label), h("div", { class: "cmd" }, h("pre", null, text), copyButton(text)));
  }
  async function pageDaemons(root, ctx) {
    await Promise.all([loadNetworks(), loadStatus().catch(() => null)]);
    const dBody = h("tbody"), kBody = h("tbody"), tBody = h("tbody"), wBody = h("tbody"), nBody = h("tbody");
    const netOpts = (sel) => state.networks.map((n) => h("option", { value: n.id, selected: n.id === sel }, n.name));
    const yes = (v) => (v ? badge("yes", "ok") : badge("no", ""));
    async function loadD() {
      await loadDaemons();
      dBody.replaceChildren(...(state.daemons.length ? state.daemons.map((d) => {
        const c = d.capabilities || {};
        return h("tr", { "data-daemon-id": d.id },
          h("td", null, h("strong", null, d.name), d.local ? [" ", badge("local", "info")] : null),
          h("td", null, networkName(d.network)),
          h("td", null, d.mode || "—"),
          h("td", null, yes(c.raw_sockets)),
          h("td", null, yes(c.docker)),
          h("td", null, h("span", { class: "ips" }, (c.subnets || []).map((x) => h("code", null, x)))),
          h("td", { class: "mono" }, c.version || "—"),
          h("td", null, pushCell(d)),
          h("td", { class: "nowrap" }, timeEl(d.last_seen)),
          h("td", null, d.online ? badge("online", "ok", true) : badge("offline", "err", true)));
      }) : [emptyRow(10, "No daemon yet. Create a key below and start one.")]));
    }
    // The server calls a push daemon only at the URL an admin approved; what the daemon
    // announces is shown here, pending, until approved.
    function pushCell(d) {
      if (d.mode !== "push") return h("span", { class: "muted" }, "—");
      const admin = state.me && state.me.role === "admin";
      const approved = d.approved_url
        ? h("div", null, h("code", { title: "The only URL the server calls" }, d.approved_url))
        : h("div", null, badge("not approved", "warn"), " ", h("span", { class: "small muted" }, "never called"));
      const pending = d.push_url_pending && d.announced_url
        ? h("div", { class: "small" }, badge("pending", "warn"), " announces ", h("code", null, d.announced_url),
            admin ? [" ", h("button", { type: "button", class: "btn sm", "data-approve": d.id, "data-url": d.announced_url }, "Approve")] : null)
        : null;
      const edit = admin
        ? h("div", null,
            h("button", { type: "button", class: "btn sm", "data-set-url": d.id, "data-url": d.approved_url || d.announced_url || "" }, "Set URL"),
            d.approved_url ? [" ", h("button", { type: "button", class: "btn sm danger", "data-clear-url": d.id, "data-name": d.name }, "Stop calling")] : null)
        : null;
      return h("div", { class: "push-url" }, approved, pending, edit);
    }
    async function putPushUrl(id, url) {
      try {
        await api("/daemons/" + encodeURIComponent(id) + "/push-url", { method: "PUT", body: { url } });
        toast(url ? "Push URL approved: " + url : "The server no longer calls this daemon", "ok");
        await loadD();
      } catch (ex) { report(ex); }
    }
    dBody.addEventListener("click", async (e) => {
      const ap = e.target.closest("button[data-approve]");
      if (ap) {
        if (confirm("Let the server call this daemon at " + ap.dataset.url + "? Approve only a URL you know is this daemon's.")) await putPushUrl(ap.dataset.approve, ap.dataset.url);
        return;
      }
      const set = e.target.closest("button[data-set-url]");
      if (set) {
        const url = prompt("The URL the server calls this push daemon at (http:// or https://):", set.dataset.url);
        if (url !== null && url.trim()) await putPushUrl(set.dataset.setUrl, url.trim());
        return;
      }
      const clr = e.target.closest("button[data-clear-url]");
      if (clr && confirm("Stop calling \u201c" + clr.dataset.name + "\u201d? It gets no pushed jobs until a URL is approved again.")) await putPushUrl(clr.dataset.clearUrl, null);
    });
    async function loadK() {
      const list = items(await api("/daemons/keys?limit=1000"));
      kBody.replaceChildren(...(list.length ? list.map((k) => h("tr", { "data-key-id": k.id },
        h("td", null, h("strong", null, k.name)), h("td", null, networkName(k.network)), h("td", { class: "nowrap" }, timeEl(k.created_at)),
        h("td", { class: "nowrap" }, k.last_used_at ? timeEl(k.last_used_at) : h("span", { class: "muted" }, "never")),
        h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": k.id, "data-name": k.name }, "Revoke")))) : [emptyRow(5, "No daemon keys.")]));
    }
    async function loadT() {
      const list = items(await api("/tokens?limit=1000"));
      tBody.replaceChildren(...(list.length ? list.map((t) => h("tr", { "data-token-id": t.id },
        h("td", null, h("strong", null, t.name)), h("td", null, badge(t.role, t.role === "admin" ? "warn" : "info")), h("td", { class: "nowrap" }, timeEl(t.created_at)),
        h("td", { class: "nowrap" }, t.last_used_at ? timeEl(t.last_used_at) : h("span", { class: "muted" }, "never")),
        h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": t.id, "data-name": t.name }, "Revoke")))) : [emptyRow(5, "No API tokens.")]));
    }
    async function loadW() {
      const list = items(await api("/webhooks?limit=1000"));
      wBody.replaceChildren(...(list.length ? list.map((w) => h("tr", { "data-webhook-id": w.id },
        h("td", { class: "mono" }, w.url), h("td", { class: "nowrap" }, w.created_at ? timeEl(w.created_at) : "—"),
        h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": w.id, "data-name": w.url }, "Delete")))) : [emptyRow(3, "No webhooks.")]));
    }
    function loadN() {
      nBody.replaceChildren(...(state.networks.length ? state.networks.map((n) => h("tr", { "data-network-id": n.id },
        h("td", null, h("strong", null, n.name)), h("td", null, h("span", { class: "ips" }, (n.subnets || []).map((x) => h("code", null, x)))),
        h("td", { class: "mono small muted" }, n.id))) : [emptyRow(3, "No networks.")]));
    }
    const revoker = (body, path, what, reload) => body.addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-revoke]");
      if (!b || !confirm("Revoke " + what + " \u201c" + b.dataset.name + "\u201d? This cannot be undone.")) return;
      try { await api(path + encodeURIComponent(b.dataset.revoke), { method: "DELETE" }); toast(what.charAt(0).toUpperCase() + what.slice(1) + " revoked", "ok"); await reload(); } catch (ex) { report(ex); }
    });
    revoker(kBody, "/daemons/keys/", "key", loadK);
    revoker(tBody, "/tokens/", "token", loadT);
    revoker(wBody, "/webhooks/", "webhook", loadW);

    // forms
    const keyOut = h("div");
    const keyForm = h("form", { id: "new-key-form", class: "card-body form-actions", style: "align-items:flex-end" },
      h("div", { style: "flex:1 1 200px" }, h("label", { for: "key-name" }, "Name"), h("input", { id: "key-name", name: "name", required: true, placeholder: "e.g. office-pi" })),
      h("div", { style: "flex:1 1 200px" }, h("label", { for: "key-network" }, "Network"), h("select", { id: "key-network", name: "network" }, netOpts(""))),
      h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "New key"));
    keyForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = keyForm.name.value.trim();
      if (!name) { toast("Give the key a name.", "err"); keyForm.name.focus(); return; }
      try {
        const r = await api("/daemons/keys", { method: "POST", body: { name, network: keyForm.network.value } });
        const origin = location.origin;
        const pk = (state.status && state.status.server_public_key) || "<SERVER_PUBLIC_KEY>";
        keyOut.replaceChildren(h("div", { class: "card-body", style: "padding-top:0" }, secretBox("Daemon key " + r.name, r.key, [
          cmdBlock("Pull mode (the daemon polls this server):", `scanopy-daemon run --server ${origin} --key ${r.key}`),
          cmdBlock("Push mode (this server connects to the daemon, once you approve its URL in the Daemons table):", `scanopy-daemon run --mode push --listen 0.0.0.0:60073 --server ${origin} --key ${r.key} --server-public-key ${pk}`),
        ])));
        keyForm.reset();
        await loadK();
      } catch (ex) { report(ex); }
    });
    const tokOut = h("div");
    const tokForm = h("form", { id: "new-token-form", class: "card-body form-actions", style: "align-items:flex-end" },
      h("div", { style: "flex:1 1 200px" }, h("label", { for: "tok-name" }, "Name"), h("input", { id: "tok-name", name: "name", required: true, placeholder: "e.g. grafana" })),
      h("div", { style: "flex:0 1 160px" }, h("label", { for: "tok-role" }, "Role"), h("select", { id: "tok-role", name: "role" }, h("option", { value: "read" }, "read"), h("option", { value: "admin" }, "admin"))),
      h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "New token"));
    tokForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = tokForm.name.value.trim();
      if (!name) { toast("Give the token a name.", "err"); tokForm.name.focus(); return; }
      try {
        const r = await api("/tokens", { method: "POST", body: { name, role: tokForm.role.value } });
        tokOut.replaceChildren(h("div", { class: "card-body", style: "padding-top:0" }, secretBox("API token " + r.name, r.token,
          cmdBlock("Use it as a bearer token:", `curl -H "Authorization: Bearer ${r.token}" ${location.origin}/api/v1/devices`))));
        tokForm.reset();
        await loadT();
      } catch (ex) { report(ex); }
    });
    const whOut = h("div");
    const whForm = h("form", { id: "new-webhook-form", class: "card-body form-actions", style: "align-items:flex-end" },
      h("div", { style: "flex:2 1 260px" }, h("label", { for: "wh-url" }, "URL"), h("input", { id: "wh-url", name: "url", type: "url", required: true, placeholder: "https://example.com/hooks/scanopy" })),
      h("div", { style: "flex:1 1 160px" }, h("label", { for: "wh-secret" }, "Secret (optional)"), h("input", { id: "wh-secret", name: "secret", placeholder: "generated if empty" })),
      h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add webhook"));
    whForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const url = whForm.url.value.trim();
      if (!url) { toast("Enter the URL to POST events to.", "err"); whForm.url.focus(); return; }
      const body = { url };
      if (whForm.secret.value.trim()) body.secret = whForm.secret.value.trim();
      try {
        const r = await api("/webhooks", { method: "POST", body });
        whOut.replaceChildren(r && r.secret ? h("div", { class: "card-body", style: "padding-top:0" }, secretBox("Signing secret for " + url, r.secret)) : "");
        whForm.reset();
        await loadW();
      } catch (ex) { report(ex); }
    });
    const netForm = h("form", { id: "new-network-form", class: "card-body form-actions", style: "align-items:flex-end" },
      h("div", { style: "flex:1 1 180px" }, h("label", { for: "net-name" }, "Name"), h("input", { id: "net-name", name: "name", required: true, placeholder: "e.g. home" })),
      h("div", { style: "flex:2 1 240px" }, h("label", { for: "net-subnets" }, "Subnets"), h("input", { id: "net-subnets", name: "subnets", placeholder: "192.168.1.0/24, 10.0.0.0/24" })),
      h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add network"));
    netForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = netForm.name.value.trim();
      if (!name) { toast("Give the network a name.", "err"); return; }
      try {
        await api("/networks", { method: "POST", body: { name, subnets: netForm.subnets.value.split(",").map((x) => x.trim()).filter(Boolean) } });
        netForm.reset();
        await loadNetworks(); loadN();
        for (const sel of [keyForm.network]) sel.replaceChildren(...netOpts(sel.value));
        toast("Network added", "ok");
      } catch (ex) { report(ex); }
    });

    await Promise.all([loadD(), loadK(), loadT().catch(report), loadW().catch(report)]);
    loadN();
    const table = (id, heads, body) => h("div", { class: "table-wrap" }, h("table", { class: "data", id }, h("thead", null, h("tr", null, heads.map((t) => h("th", null, t)))), body));
    append(root, [
      pageHead("Daemons & keys", "Daemons scan for this server; keys let them in, tokens let scripts in"),
      card("Daemons", null, table("daemons-table", ["Name", "Network", "Mode", "Raw sockets", "Docker", "Subnets", "Version", "Push URL", "Last seen", "Status"], dBody)),
      card("Daemon keys", null, [table("keys-table", ["Name", "Network", "Created", "Last used", ""], kBody), h("div", { style: "border-top:1px solid var(--border)" }, keyForm), keyOut]),
      h("div", { class: "grid cols-2", style: "margin-top:18px" },
        card("API tokens", null, [table("tokens-table", ["Name", "Role", "Created", "Last used", ""], tBody), h("div", { style: "border-top:1px solid var(--border)" }, tokForm), tokOut]),
        card("Webhooks", null, [table("webhooks-table", ["URL", "Created", ""], wBody), h("div", { style: "border-top:1px solid var(--border)" }, whForm), whOut])),
      h("div", { style: "margin-top:18px" }, card("Networks", null, [table("networks-table", ["Name", "Subnets", "Id"], nBody), h("div", { style: "border-top:1px solid var(--border)" }, netForm)])),
    ]);
    ctx.every(15000, () => loadD().catch(() => null));
  }

  const PAGES = { dashboard: pageDashboard, devices: pageDevices, device: pageDevice, map: pageMap, scans: pageScans, daemons: pageDaemons, notfound: pageNotFound };

  // ------------------------------------------------------------------ boot
  async function boot() {
    try {
      state.me = await api("/me");
    } catch (e) {
      if (e.status === 401) return;
      document.body.dataset.page = "error";
      $("#signin").hidden = true;
      $("#shell").hidden = false;
      $("#view").replaceChildren(h("div", { class: "banner err" }, icon("alert"), h("div", null, h("strong", null, "Cannot reach the scanopy server. "), e.message, " ",
        h("button", { type: "button", class: "btn sm", onclick: () => boot() }, "Retry"))));
      return;
    }
    state.signedIn = true;
    $("#signin").hidden = true;
    $("#shell").hidden = false;
    const uname = (state.me && state.me.username) || "";
    $("#user-name").textContent = uname + (state.me && state.me.role ? " · " + state.me.role : "");
    $("#user-avatar").textContent = uname.slice(0, 1) || "?";
    await Promise.all([loadStatus().catch(() => null), loadNetworks().catch(() => null), loadDaemons().catch(() => null)]);
    setLive(null, "Connecting…");
    startEvents();
    await route();
  }

  function init() {
    fillIcons(document);
    // a deep link like /devices/ID (no hash) becomes #/devices/ID
    if (!location.hash && location.pathname !== "/" && !location.pathname.startsWith("/ui/")) {
      history.replaceState(null, "", "/#" + location.pathname + location.search);
    }
    initSignin();
    window.addEventListener("hashchange", route);
    // keep relative times fresh
    setInterval(() => {
      for (const el of $$("#view [data-time]")) el.textContent = relTime(el.dataset.time);
    }, 30000);
    boot();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();

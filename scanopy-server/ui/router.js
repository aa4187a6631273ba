// Hash routes to pages: each page gets a context that dies when the user leaves it (timers and
// listeners registered with ctx.onCleanup end with it).

import { $, $$, append, h, icon, pageHead } from "./dom.js";
import { report, state } from "./api.js";
import { pageDashboard } from "./pages/dashboard.js";
import { pageDevices } from "./pages/devices.js";
import { pageDevice } from "./pages/device.js";
import { pageMap } from "./pages/map.js";
import { pageScans } from "./pages/scans.js";
import { pageDaemons } from "./pages/daemons.js";
import { pageChanges } from "./pages/changes.js";
import { pageUsers } from "./pages/users.js";

let current = null;
/** The context of the page shown, or null. */
export function currentPage() { return current; }
/** Ends the page shown (signing out). */
export function leavePage() { if (current) { runCleanup(current); current = null; } }
let seq = 0;
export const ROUTES = [
  [/^\/?$/, "dashboard"], [/^\/dashboard\/?$/, "dashboard"], [/^\/devices\/?$/, "devices"],
  [/^\/devices\/([^/?#]+)\/?$/, "device"], [/^\/map\/?$/, "map"], [/^\/scans\/?$/, "scans"], [/^\/changes\/?$/, "changes"], [/^\/daemons\/?$/, "daemons"], [/^\/users\/?$/, "users"],
];
/** The page a location hash names: `{ name, params, query }` (pure: tests/ui/router.test.js). */
export function parseRoute(hash) {
  const raw = String(hash || "").replace(/^#/, "") || "/";
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
export async function route() {
  if (!state.signedIn) return;
  const r = parseRoute(location.hash);
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
export const TITLES = { dashboard: "Dashboard", devices: "Devices", device: "Device", map: "Map", scans: "Scans", changes: "Changes", daemons: "Daemons & keys", users: "Users & account", notfound: "Not found" };
export function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
export function liveRefresher(ctx, fn, kinds, ms) {
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

async function pageNotFound(root) {
  append(root, [pageHead("Not found"), h("p", { class: "muted" }, "There is no page here. ", h("a", { href: "#/" }, "Back to the dashboard"))]);
}

const PAGES = { dashboard: pageDashboard, devices: pageDevices, device: pageDevice, map: pageMap, scans: pageScans, changes: pageChanges, daemons: pageDaemons, users: pageUsers, notfound: pageNotFound };

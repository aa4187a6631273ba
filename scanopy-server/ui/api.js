// The server's API: one fetch wrapper with the contract's error body, the shared state the
// pages read (networks, daemons, status) and their loaders.

import { $, toast } from "./dom.js";
import { shortId } from "./format.js";

// Called on a 401 (the sign-in form is shown); set by app.js.
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
export async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (opts.body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(opts.body); }
  let res;
  try {
    res = await fetch("/api/v1" + path, init);
  } catch (_) {
    throw new ApiError(0, "network", "Cannot reach the server");
  }
  if (res.status === 401 && !opts.noAuthRedirect) {
    unauthorized();
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
export const items = (r) => (r && Array.isArray(r.items) ? r.items : Array.isArray(r) ? r : []);

export const state = { me: null, status: null, networks: [], daemons: [], signedIn: false };
// Roles, each allowed what the ones below it are ("read" is the older name of "viewer").
const RANK = { viewer: 1, read: 1, editor: 2, admin: 3 };
/** Whether the signed-in user has `role` or a higher one (the server checks it again). */
export function can(role) { return ((state.me && RANK[state.me.role]) || 0) >= RANK[role]; }
export async function loadNetworks() { state.networks = items(await api("/networks?limit=1000")); return state.networks; }
export async function loadDaemons() { state.daemons = items(await api("/daemons?limit=1000")); return state.daemons; }
export async function loadStatus() {
  state.status = await api("/status");
  if (state.status && state.status.version) $("#version").textContent = "v" + state.status.version;
  return state.status;
}

export function networkName(id) {
  const n = state.networks.find((x) => x.id === id);
  return n ? n.name : id ? shortId(id) : "—";
}
export function daemonName(id) {
  if (!id) return "any";
  const d = state.daemons.find((x) => x.id === id);
  return d ? d.name : shortId(id);
}
export function report(err) {
  if (!err || err.status === 401) return;
  toast(err.message || String(err), "err");
  if (!(err instanceof ApiError)) console.error(err);
}

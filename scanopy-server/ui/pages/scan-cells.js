// Table cells of a scan run, shared by the dashboard and the scans page.

import { badge, h } from "../dom.js";
import { fmtNum } from "../format.js";

export function scanStatusBadge(st) {
  const map = { queued: ["queued", ""], running: ["running", "info"], done: ["done", "ok"], failed: ["failed", "err"], cancelled: ["cancelled", "warn"] };
  const [t, k] = map[st] || [st || "?", ""];
  return badge(t, k, true);
}
export function progressCell(sc) {
  const p = sc.progress;
  const active = sc.status === "running" || sc.status === "queued";
  let pct = null;
  // hosts_total counts the target addresses, hosts_found the live hosts, hosts_done the live
  // hosts whose ports are scanned: the bar follows hosts_done of hosts_found.
  if (sc.status === "done") pct = 100;
  else if (p && p.hosts_found) pct = Math.min(100, Math.round((100 * (p.hosts_done || 0)) / p.hosts_found));
  // The fill's width through the CSSOM (allowed by the CSP, unlike a style attribute).
  const fill = h("span");
  fill.style.width = (pct === null ? (active ? 35 : 0) : pct) + "%";
  const bar = h("div", { class: "progress" + (active && pct === null ? " indeterminate" : ""), role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": pct === null ? null : pct },
    fill);
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

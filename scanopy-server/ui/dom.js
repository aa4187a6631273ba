// Building the page: elements from data, never from markup strings. Every string from the
// server is set with textContent or setAttribute (never innerHTML), so a hostile host name
// stays text; inline styles are refused (the CSP has no 'unsafe-inline'): use a class.

import { ICONS } from "./icons.js";
import { fullTime, relTime, typeKey, typeLabel } from "./format.js";

export const SVGNS = "http://www.w3.org/2000/svg";
export const XLINKNS = "http://www.w3.org/1999/xlink";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function append(el, children) {
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
    if (k === "style") throw new Error("inline styles are refused by the CSP: use a class");
    if (k === "class") el.setAttribute("class", v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (!isSvg && (k === "value" || k === "checked" || k === "disabled" || k === "selected" || k === "hidden")) el[k] = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs, false);
  return append(el, children);
}
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs, true);
  return append(el, children);
}
export function iconParts(name) {
  let def = ICONS[name];
  if (typeof def === "string") def = ICONS[def];
  return def || ICONS.unknown || [];
}
export function icon(name, cls) {
  const svg = s("svg", { class: "icon" + (cls ? " " + cls : ""), viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" });
  for (const [tag, attrs] of iconParts(name)) svg.appendChild(s(tag, attrs));
  return svg;
}
export function fillIcons(root) {
  for (const el of $$("[data-icon]", root)) {
    if (!el.firstChild) el.appendChild(icon(el.dataset.icon));
  }
}
export function timeEl(t) { return h("span", { class: "nowrap", title: fullTime(t), "data-time": t || null }, relTime(t)); }
export function typeIcon(t) {
  const k = typeKey(t);
  return h("span", { class: "type-icon " + k, title: typeLabel(t) }, icon(k));
}
export function badge(text, kind, dot) { return h("span", { class: "badge" + (kind ? " " + kind : "") }, dot ? h("span", { class: "dot" }) : null, text); }
export function onlineBadge(offline) { return offline ? badge("offline", "err", true) : badge("online", "ok", true); }
export function emptyRow(cols, text) { return h("tr", null, h("td", { colspan: cols }, h("div", { class: "empty" }, text))); }
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}
export async function copyText(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const ta = h("textarea", { value: text, class: "offscreen" });
    document.body.appendChild(ta); ta.select();
    try { document.execCommand("copy"); } catch (_) { /* ignore */ }
    ta.remove();
  }
  if (btn) { const old = btn.lastChild.textContent; btn.lastChild.textContent = "Copied"; setTimeout(() => { btn.lastChild.textContent = old; }, 1400); }
}
export function copyButton(text) {
  const b = h("button", { type: "button", class: "btn sm", title: "Copy to clipboard" }, icon("copy", "sm"), h("span", null, "Copy"));
  b.addEventListener("click", () => copyText(text, b));
  return b;
}
export function toast(message, kind, ms) {
  const box = $("#toasts");
  const close = h("button", { type: "button", "aria-label": "Dismiss" }, icon("x", "sm"));
  const t = h("div", { class: "toast" + (kind ? " " + kind : ""), role: kind === "err" ? "alert" : "status" }, h("div", { class: "grow" }, message), close);
  close.addEventListener("click", () => t.remove());
  box.appendChild(t);
  while (box.children.length > 5) box.firstChild.remove();
  setTimeout(() => t.remove(), ms || (kind === "err" ? 7000 : 4500));
}
export function pageHead(title, sub, ...right) {
  return h("div", { class: "page-head" }, h("div", null, h("h1", null, title), sub ? h("div", { class: "sub" }, sub) : null), h("div", { class: "spacer" }), ...right);
}
export function card(title, right, body, opts) {
  return h("section", { class: "card", id: opts && opts.id },
    title ? h("div", { class: "card-head" }, h("h2", null, title), h("div", { class: "spacer" }), right) : null,
    body);
}
// Online (green) and offline (red) stretches of the last 7 days, with its availability. The bar
// spans what is known: from the week's start, or from the first sighting when that is later
// (a device seen an hour ago gets an hour-wide bar, not a sliver of a week).
export function presenceBar(p, opts) {
  const o = opts || {};
  const ivs = p.intervals || [];
  const known = ivs.length ? Math.min(...ivs.map((i) => Date.parse(i.from))) : Date.parse(p.from);
  const t0 = Math.max(Date.parse(p.from), known), span = Math.max(1, Date.parse(p.to) - t0);
  const pct = (t) => (((Math.max(Date.parse(t), t0) - t0) / span) * 100).toFixed(3) + "%";
  const avail = p.availability == null ? null : Math.round(p.availability * 1000) / 10 + "% online";
  const since = t0 > Date.parse(p.from) + 60000 ? " since " + fullTime(new Date(t0).toISOString()) : "";
  const bar = h("div", { class: "presence" + (o.compact ? " compact" : ""), id: o.id || null, role: "img", title: o.compact ? (avail == null ? "nothing known" : avail + since) : null, "aria-label": avail == null ? "nothing known" : avail },
    ivs.map((i) => {
      const seg = h("span", { class: i.online ? "on" : "off", title: (i.online ? "online " : "offline ") + fullTime(i.from) + " – " + fullTime(i.to) });
      // Through the CSSOM: the CSP refuses style attributes.
      seg.style.left = pct(i.from);
      seg.style.width = `max(2px, calc(${pct(i.to)} - ${pct(i.from)}))`;
      return seg;
    }));
  if (o.compact) return bar;
  return h("div", null, bar, h("div", { class: "muted small" }, avail == null ? "nothing known yet" : avail + since));
}

// Live events from the server-sent event stream: toasts, and the current page's refresh.

import { $, toast } from "./dom.js";
import { api } from "./api.js";
import { describeEvent } from "./format.js";
import { currentPage } from "./router.js";

export const EVENT_KINDS = ["device_new", "device_changed", "device_gone", "service_new", "service_changed", "service_gone", "scan_done", "scan_progress", "scan_started"];
let es = null, esRetry = null;
export function setLive(on, text) {
  const el = $("#live-indicator");
  el.classList.toggle("on", on === true);
  el.classList.toggle("off", on === false);
  $("#live-text").textContent = text;
  el.title = text;
}
export function stopEvents() {
  if (es) { es.close(); es = null; }
  clearTimeout(esRetry);
}
export function startEvents() {
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
  const page = currentPage();
  if (page && page.onEvent) {
    try { page.onEvent(ev); } catch (e) { console.error(e); }
  }
}

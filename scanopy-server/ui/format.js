// Pure formatting: no DOM, no network, so node's test runner can check it
// (tests/ui/format.test.js).

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
  const str = u.toString();
  return str ? "?" + str : "";
}
export const fmtNum = (n) => (typeof n === "number" ? n.toLocaleString() : n === null || n === undefined ? "—" : String(n));
export function parseTime(t) {
  if (!t) return null;
  const d = new Date(t);
  return isNaN(d) ? null : d;
}
export function relTime(t) {
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
export const fullTime = (t) => { const d = parseTime(t); return d ? d.toLocaleString() : ""; };
export function ipNum(ip) {
  if (!ip) return Number.MAX_SAFE_INTEGER;
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return 2 ** 33 + (ip.charCodeAt(0) || 0);
  return ((+m[1] * 256 + +m[2]) * 256 + +m[3]) * 256 + +m[4];
}
export const shortId = (id) => (id ? String(id).slice(0, 8) : "");
// An interface's address for people: 0.0.0.0 is a device heard before it had one (asking DHCP).
export const ipLabel = (ip) => (ip === "0.0.0.0" ? "no address yet" : ip);
export function devName(d) {
  if (!d) return "";
  const i = d.interfaces && d.interfaces[0];
  const ip = i && (i.ip === "0.0.0.0" ? i.mac : i.ip);
  return d.user_name || d.hostname || (d.container && d.container.name) || ip || shortId(d.id);
}
export const TYPE_LABELS = { nas: "NAS", iot: "IoT", docker_host: "Docker host", access_point: "Access point", unknown: "Unknown" };
export function typeLabel(t) {
  if (!t) return "Unknown";
  return TYPE_LABELS[t] || t.charAt(0).toUpperCase() + t.slice(1).replace(/_/g, " ");
}
// A device's OS for people: "Ubuntu 22.04" (the family in brackets when the name does not
// say it), the family alone, or "—" when nothing points anywhere.
export function osLabel(os) {
  if (!os || !os.family) return "—";
  const name = [os.name, os.version].filter(Boolean).join(" ");
  if (!name) return os.family;
  return name.toLowerCase().includes(os.family.toLowerCase()) ? name : name + " (" + os.family + ")";
}
export const KNOWN_TYPES = ["gateway", "server", "computer", "printer", "nas", "camera", "phone", "docker_host", "container", "access_point", "switch", "hypervisor", "media", "iot", "unknown"];
export const typeKey = (t) => (KNOWN_TYPES.includes(t) ? t : "unknown");
export function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
export const detailName = (ev) => {
  const d = ev.detail || {};
  return d.name || d.user_name || d.hostname || d.label || d.ip || (Array.isArray(d.ips) && d.ips[0]) ||
    (Array.isArray(d.macs) && d.macs[0]) ||
    (Array.isArray(d.interfaces) && d.interfaces[0] && d.interfaces[0].ip) || (ev.device ? shortId(ev.device) : "");
};
export function describeEvent(ev) {
  const d = ev.detail || {};
  const who = detailName(ev);
  switch (ev.kind) {
    case "device_new": return "New device " + who;
    case "device_gone": return "Device offline: " + who;
    case "device_back": return "Back online: " + who;
    case "address_moved": return "Address " + (d.ip || "") + " now answers from " + (d.mac || "another MAC") + (d.previous_mac ? " (was " + d.previous_mac + ")" : "");
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
export const EVENT_STYLE = {
  device_new: ["plus", "ok"], device_gone: ["minus", "err"], device_back: ["plus", "ok"], address_moved: ["alert", "warn"], device_changed: ["devices", "info"],
  service_new: ["plus", "info"], service_changed: ["scans", "info"], service_gone: ["minus", "err"],
  scan_done: ["scans", "ok"], scan_progress: ["scans", ""], scan_started: ["scans", "info"],
};

// node --test scanopy-server/tests/ui: the UI's pure formatting (ui/format.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { qs, relTime, ipNum, devName, typeLabel, typeKey, describeEvent, shortId, fmtNum, osLabel } from "../../ui/format.js";

test("an OS reads as its name and version, with the family when the name does not say it", () => {
  assert.equal(osLabel(null), "—");
  assert.equal(osLabel({}), "—");
  assert.equal(osLabel({ family: "Linux" }), "Linux");
  assert.equal(osLabel({ family: "Linux", name: "Ubuntu", version: "22.04" }), "Ubuntu 22.04 (Linux)");
  assert.equal(osLabel({ family: "Windows", name: "Windows Server 2019" }), "Windows Server 2019");
});

test("qs drops empty values and encodes the rest", () => {
  assert.equal(qs({}), "");
  assert.equal(qs({ a: "", b: null, c: undefined }), "");
  assert.equal(qs({ network: "n 1", subnet: "10.0.0.0/24", limit: 100 }), "?network=n+1&subnet=10.0.0.0%2F24&limit=100");
});

test("relative times read as people say them", () => {
  const ago = (s) => new Date(Date.now() - s * 1000).toISOString();
  assert.equal(relTime(null), "—");
  assert.equal(relTime("not a date"), "—");
  assert.equal(relTime(ago(5)), "just now");
  assert.equal(relTime(ago(-5)), "in a moment");
  assert.equal(relTime(ago(600)), "10 min ago");
  assert.equal(relTime(ago(-600)), "in 10 min");
  assert.equal(relTime(ago(7200)), "2 h ago");
  assert.equal(relTime(ago(3 * 86400)), "3 d ago");
});

test("addresses sort numerically, IPv6 and garbage after IPv4", () => {
  const ips = ["10.0.0.10", "10.0.0.9", "9.255.255.255", "fe80::1", "10.0.0.100"];
  const sorted = ips.slice().sort((a, b) => ipNum(a) - ipNum(b));
  assert.deepEqual(sorted, ["9.255.255.255", "10.0.0.9", "10.0.0.10", "10.0.0.100", "fe80::1"]);
  assert.equal(ipNum(null), Number.MAX_SAFE_INTEGER);
});

test("a device's name: the user's, then the host name, the container, the address, the id", () => {
  const d = { id: "0123456789abcdef", interfaces: [{ ip: "10.0.0.5" }] };
  assert.equal(devName({ ...d, user_name: "nas", hostname: "h" }), "nas");
  assert.equal(devName({ ...d, hostname: "h" }), "h");
  assert.equal(devName({ ...d, container: { name: "web" } }), "web");
  assert.equal(devName(d), "10.0.0.5");
  assert.equal(devName({ id: "0123456789abcdef" }), "01234567");
  assert.equal(devName(null), "");
  assert.equal(shortId(""), "");
});

test("device types get labels, unknown types an unknown icon", () => {
  assert.equal(typeLabel("nas"), "NAS");
  assert.equal(typeLabel("access_point"), "Access point");
  assert.equal(typeLabel("media_server"), "Media server");
  assert.equal(typeLabel(null), "Unknown");
  assert.equal(typeKey("printer"), "printer");
  assert.equal(typeKey("<script>"), "unknown");
});

test("events are described from their detail, whatever the detail holds", () => {
  assert.equal(describeEvent({ kind: "device_new", detail: { hostname: "nas.lan" } }), "New device nas.lan");
  assert.equal(describeEvent({ kind: "service_new", detail: { port: 22, service: "ssh", ip: "10.0.0.5" } }), "New service 22/tcp ssh on 10.0.0.5");
  assert.equal(describeEvent({ kind: "scan_done", detail: { status: "failed", devices_seen: 3 } }), "Scan failed · 3 devices");
  assert.equal(describeEvent({ kind: "strange_thing" }), "strange thing");
  assert.equal(describeEvent({}), "event");
  // Odd details never throw.
  for (const detail of [null, 5, "x", [], { interfaces: "no" }, { ips: {} }]) describeEvent({ kind: "device_gone", detail });
  assert.equal(fmtNum(null), "—");
});

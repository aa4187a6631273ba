// node --test scanopy-server/tests/ui: the map's layout (ui/map/layout.js), a pure function of
// the topology. The fixture is the core's topology snapshot of the test LAN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildTopology, layoutTopology, gridDims } from "../../ui/map/layout.js";

const snap = readFileSync(new URL("../../../scanopy-core/src/topology/snapshots/scanopy_core__topology__tests__lab_json.snap", import.meta.url), "utf8");
const topo = () => JSON.parse(snap.slice(snap.indexOf("{")));

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test("every device is drawn once: gateways above, containers under their host", () => {
  const t = topo();
  const m = buildTopology(t, 100);
  const l = layoutTopology(m, "net-1");
  const devices = t.nodes.filter((n) => n.kind === "device").map((n) => n.id).sort();
  const drawn = l.placedNodes.filter((p) => p.n).map((p) => p.n.id).sort();
  assert.deepEqual(drawn, devices);
  const gws = l.placedNodes.filter((p) => p.gw);
  assert.equal(gws.length, 1);
  const groups = l.boxes.filter((b) => b.cls === "grp");
  assert.ok(groups.length >= 2, "one box per subnet");
  for (const g of groups) assert.ok(gws[0].y < g.y, "the gateway is above the subnets");
  assert.ok(l.boxes.some((b) => b.cls === "grp docker"), "a Docker box");
  assert.ok(l.links.filter((k) => k.cls === "link gw").length >= 2, "the gateway links both subnets");
});

test("top-level boxes never overlap, and the layout is deterministic", () => {
  const l = layoutTopology(buildTopology(topo(), 100), "n");
  const top = l.boxes.filter((b) => b.cls === "grp" || b.cls === "grp other" || b.cls === "grp docker");
  for (let i = 0; i < top.length; i++) for (let j = i + 1; j < top.length; j++) assert.ok(!overlaps(top[i], top[j]), `boxes ${i} and ${j} overlap`);
  assert.deepEqual(JSON.parse(JSON.stringify(layoutTopology(buildTopology(topo(), 100), "n"))), JSON.parse(JSON.stringify(l)));
});

test("a big subnet is capped with a 'more' node that links to the filtered device list", () => {
  const nodes = [{ id: "subnet:10.0.0.0/16", kind: "subnet", cidr: "10.0.0.0/16" }];
  const links = [];
  for (let i = 0; i < 500; i++) {
    const id = `device:${i}`;
    nodes.push({ id, kind: "device", label: `h${i}`, ips: [`10.0.${i >> 8}.${i & 255}`], device_type: "server", gateway: false });
    links.push({ kind: "member", source: id, target: "subnet:10.0.0.0/16" });
  }
  const l = layoutTopology(buildTopology({ nodes, links }, 24), "lan");
  const more = l.placedNodes.filter((p) => p.more);
  assert.equal(l.placedNodes.filter((p) => p.n).length, 24);
  assert.equal(more.length, 1);
  assert.equal(more[0].more, 476);
  assert.equal(more[0].href, "#/devices?network=lan&subnet=10.0.0.0%2F16");
});

test("an empty topology still has a drawable size", () => {
  const l = layoutTopology(buildTopology({ nodes: [], links: [] }, 24), "");
  assert.equal(l.placedNodes.length, 0);
  assert.ok(l.width >= 300 && l.height >= 200);
  assert.deepEqual(gridDims(0, 10), { cols: 1, rows: 0 });
  assert.deepEqual(gridDims(7, 10), { cols: 4, rows: 2 });
});

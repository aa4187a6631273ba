// node --test scanopy-server/tests/ui: the map's scene (ui/map/scene.js), a pure function of the
// layout the server serves. The fixture is the core's layout snapshot of the test LAN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { labelOf, sceneOf } from "../../ui/map/scene.js";

const snap = readFileSync(new URL("../../../scanopy-core/src/topology/snapshots/scanopy_core__topology__tests__lab_layout.snap", import.meta.url), "utf8");
const layout = () => JSON.parse(snap.slice(snap.indexOf("{")));

test("every device the server placed is drawn once: the gateway above, a Docker box, links", () => {
  const l = layout();
  const sc = sceneOf(l, "net-1");
  const devices = l.nodes.filter((n) => n.kind === "device").map((n) => n.key).sort();
  const drawn = sc.placedNodes.filter((p) => p.n).map((p) => p.n.id).sort();
  assert.deepEqual(drawn, devices);
  assert.equal(sc.nodes.size, devices.length);
  assert.equal(sc.devices, l.devices);
  const gws = sc.placedNodes.filter((p) => p.gw);
  assert.equal(gws.length, 1);
  const groups = sc.boxes.filter((b) => b.cls === "grp");
  assert.ok(groups.length >= 2, "one box per subnet");
  assert.equal(sc.groupCount, groups.length);
  for (const g of groups) {
    assert.ok(gws[0].y < g.y, "the gateway is above the subnets");
    assert.equal(g.data["data-subnet"], g.label);
    assert.match(g.sub, /^\d+ devices?$/);
  }
  const docker = sc.boxes.find((b) => b.cls === "grp docker");
  assert.ok(docker, "a Docker box");
  assert.ok(docker.label.startsWith("Docker · "));
  assert.match(docker.data["data-docker-host"], /^[0-9a-f-]{36}$/);
  assert.ok(sc.boxes.some((b) => b.cls === "grp dnet" && b.small));
  const gwLinks = sc.links.filter((k) => k.cls === "link gw");
  assert.ok(gwLinks.length >= 2, "the gateway links both subnets");
  for (const k of gwLinks) assert.ok(k.label && typeof k.lx === "number" && typeof k.ly === "number");
  assert.ok(sc.links.some((k) => k.cls === "link runs"));
  for (const k of sc.links) assert.match(k.d, /^M-?\d+,-?\d+C-?\d+,-?\d+ -?\d+,-?\d+ -?\d+,-?\d+$/);
  assert.equal(sc.width, l.width);
  assert.equal(sc.height, l.height);
});

test("the scene is a function of the layout", () => {
  assert.deepEqual(JSON.parse(JSON.stringify({ ...sceneOf(layout(), "n"), nodes: [] })), JSON.parse(JSON.stringify({ ...sceneOf(layout(), "n"), nodes: [] })));
});

test("a 'more' node links to the device list filtered by its subnet", () => {
  const l = {
    width: 400, height: 300, cap: 1, devices: 3,
    groups: [
      { key: "subnet:10.0.0.0/16", kind: "subnet", x: 0, y: 0, w: 300, h: 200, label: "10.0.0.0/16", total: 2, host: null },
      { key: "other", kind: "other", x: 0, y: 250, w: 300, h: 200, label: "Not in a known subnet", total: 1, host: null },
    ],
    links: [],
    nodes: [
      { kind: "device", key: "device:a", id: "a", x: 84, y: 72, label: "h1", device_type: "server", ips: ["10.0.0.1"], ip: "10.0.0.1", gateway: false, top: false, group: "subnet:10.0.0.0/16" },
      { kind: "more", group: "subnet:10.0.0.0/16", count: 1, x: 216, y: 72 },
      { kind: "more", group: "gateways", count: 4, x: 300, y: 40 },
    ],
  };
  const sc = sceneOf(l, "lan");
  const more = sc.placedNodes.filter((p) => p.more);
  assert.equal(more.length, 2);
  assert.equal(more[0].more, 1);
  assert.equal(more[0].href, "#/devices?network=lan&subnet=10.0.0.0%2F16");
  assert.equal(more[1].href, "#/devices?network=lan");
  // The group key: a click opens the cluster on the map (GET /topology?expand=).
  assert.equal(more[0].group, "subnet:10.0.0.0/16");
  assert.equal(more[1].group, "gateways");
  assert.equal(sc.boxes[1].cls, "grp other");
  assert.equal(sc.groupCount, 2);
  assert.equal(labelOf(sc.nodes.get("device:a")), "h1");
});

test("an empty layout has nothing to draw and keeps its size", () => {
  const sc = sceneOf({ width: 300, height: 200, cap: 240, devices: 0, groups: [], links: [], nodes: [] }, "");
  assert.equal(sc.placedNodes.length, 0);
  assert.equal(sc.boxes.length, 0);
  assert.ok(sc.width >= 300 && sc.height >= 200);
});

test("port links carry their VLAN as a colour class, and the scene lists the VLANs once each", () => {
  const p = [{ x: 0, y: 0 }, { x: 0, y: 10 }, { x: 10, y: 10 }, { x: 10, y: 20 }];
  const sc = sceneOf({
    width: 100, height: 100, cap: 240, devices: 3, groups: [], nodes: [],
    links: [
      { kind: "port", from: "device:sw", to: "device:a", points: p, label: "ge1", label_at: { x: 1, y: 1 }, vlan: 10 },
      { kind: "port", from: "device:sw", to: "device:b", points: p, label: "ge2", label_at: { x: 1, y: 1 }, vlan: 20 },
      { kind: "port", from: "device:sw", to: "device:c", points: p, label: "ge3", label_at: { x: 1, y: 1 }, vlan: 10 },
      { kind: "port", from: "device:sw", to: "device:d", points: p, label: "ge4", label_at: { x: 1, y: 1 } },
      { kind: "gateway", from: "device:r", to: "subnet:x", points: p },
    ],
  }, "lan");
  assert.deepEqual(sc.vlans, [10, 20]);
  assert.equal(sc.links[0].cls, "link port vlan-c2");
  assert.equal(sc.links[1].cls, "link port vlan-c4");
  assert.equal(sc.links[0].vlan, 10);
  assert.equal(sc.links[3].cls, "link port");
  assert.equal(sc.links[3].vlan, undefined);
  assert.equal(sc.links[4].cls, "link gw");
});

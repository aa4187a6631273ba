// node --test scanopy-server/tests/ui: hash routes (ui/router.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRoute } from "../../ui/router.js";

test("hashes name pages, with decoded parameters and the query", () => {
  assert.equal(parseRoute("").name, "dashboard");
  assert.equal(parseRoute("#/").name, "dashboard");
  assert.equal(parseRoute("#/devices").name, "devices");
  const r = parseRoute("#/devices/ab%20c?x=1");
  assert.equal(r.name, "device");
  assert.deepEqual(r.params, ["ab c"]);
  const d = parseRoute("#/devices?subnet=10.0.0.0%2F24");
  assert.equal(d.query.get("subnet"), "10.0.0.0/24");
  assert.equal(parseRoute("#/nothing/here").name, "notfound");
  assert.equal(parseRoute("#/map").name, "map");
  const c = parseRoute("#/changes?from=2026-01-01T00:00:00Z");
  assert.equal(c.name, "changes");
  assert.equal(c.query.get("from"), "2026-01-01T00:00:00Z");
});

#!/usr/bin/env node
// The map of a large inventory in a real browser, run by scanopy-server/tests/browser.rs
// (the_map_of_ten_thousand_devices) against a server seeded with DEVICES devices on /24s.
//
//   node map10k.js BASE_URL PASSWORD OUT_DIR DEVICES
//
// Signs in, opens the map and prints `map-first-paint-ms N`: from the hash change to the
// first frame painted after the map's nodes are in the page. Then checks that the map says
// DEVICES devices and draws a bounded part of them as clusters with counts, that a click on a
// cluster opens it on the map, that a search for a device not drawn jumps to it, and saves
// OUT_DIR/map-10k.png. Exits 1 with a message on the first failed check, or when the page
// logged an error.
"use strict";

const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const [base, password, outDir, devicesArg] = process.argv.slice(2);
if (!base || !password || !outDir || !devicesArg) {
  console.error("usage: node map10k.js BASE_URL PASSWORD OUT_DIR DEVICES");
  process.exit(2);
}
const DEVICES = Number(devicesArg);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

class CheckFailed extends Error {}
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}
const step = (text) => console.log("map10k: " + text);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const num = (t) => Number(String(t).replace(/[^0-9]/g, ""));

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(require("os").tmpdir(), "scanopy-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu"],
  });
  const errors = [];
  let signedIn = false;
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    page.setDefaultTimeout(30_000);
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      if (!signedIn && /status of 401/.test(m.text())) return;
      errors.push("console error: " + m.text());
    });
    page.on("pageerror", (e) => errors.push("page error: " + (e && e.message ? e.message : String(e))));

    await page.goto(base + "/", { waitUntil: "domcontentloaded" });
    await page.waitForSelector("body[data-page=signin]");
    await page.type("#signin-form [name=username]", "admin");
    await page.type("#signin-form [name=password]", password);
    await page.click("#signin-form button[type=submit]");
    await page.waitForSelector("body[data-page=dashboard]");
    signedIn = true;
    step("signed in");

    // ---- first paint: from the hash change to a frame painted with the nodes in the page
    const paintMs = await page.evaluate(() => new Promise((resolve, reject) => {
      const t0 = performance.now();
      location.hash = "#/map";
      const until = t0 + 60_000;
      const poll = () => {
        if (document.querySelector("#map svg g.node")) {
          // Two frames: the first after the nodes were added is the one that paints them.
          requestAnimationFrame(() => requestAnimationFrame(() => resolve(Math.round(performance.now() - t0))));
        } else if (performance.now() > until) reject(new Error("no map nodes within 60 s"));
        else requestAnimationFrame(poll);
      };
      poll();
    }));
    console.log("map-first-paint-ms " + paintMs);
    await page.waitForSelector("#map .map-stats");
    const stats = await page.$eval("#map .map-stats", (e) => e.textContent.trim());
    const drawn = await page.$$eval("#map svg g.node[data-device-id]", (n) => n.length);
    const clusters = await page.$$eval("#map svg g.node.more", (n) => n.map((g) => ({ group: g.getAttribute("data-group"), count: g.querySelector("text.nm").textContent.trim() })));
    const groups = await page.$$eval("#map svg g.grp[data-subnet]", (n) => n.length);
    step(`first paint after ${paintMs} ms: "${stats}"; ${drawn} devices drawn, ${clusters.length} clusters, ${groups} subnet boxes`);
    check(stats.includes(DEVICES.toLocaleString("en-US")) || stats.includes(String(DEVICES)), `the map's stats do not say ${DEVICES} devices: ${stats}`);
    check(drawn > 0 && drawn < DEVICES, `the map drew ${drawn} of ${DEVICES} devices: it should draw a bounded part`);
    check(clusters.length > 0, "no cluster (a 'more' node with a count) on the map");
    const counted = clusters.reduce((a, c) => a + num(c.count), 0);
    check(drawn + counted === DEVICES, `drawn (${drawn}) and counted in clusters (${counted}) do not add up to ${DEVICES}`);
    check(groups >= Math.floor(DEVICES / 256), `only ${groups} subnet boxes for ${DEVICES} devices on /24s`);
    await sleep(300);
    const file = path.join(outDir, "map-10k.png");
    await page.screenshot({ path: file });
    step("saved " + file);

    // ---- a cluster opened on demand
    const target = clusters[0];
    check(target.group, "a cluster has no group key");
    await page.$eval(`#map svg g.node.more[data-group="${target.group}"]`, (g) => {
      g.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0, pointerId: 7, clientX: 10, clientY: 10 }));
      g.dispatchEvent(new PointerEvent("pointerup", { bubbles: true, button: 0, pointerId: 7, clientX: 10, clientY: 10 }));
    });
    await page.waitForFunction((before) => document.querySelectorAll("#map svg g.node[data-device-id]").length > before, {}, drawn);
    const opened = await page.$$eval("#map svg g.node[data-device-id]", (n) => n.length);
    const stillMore = await page.$$eval(`#map svg g.node.more[data-group="${target.group}"]`, (n) => n.length);
    step(`opened ${target.group} (${target.count}): ${opened} devices drawn now (was ${drawn}); its cluster ${stillMore ? "remains" : "is gone"}`);
    check(opened === drawn + num(target.count), `opening ${target.group} drew ${opened - drawn} more devices, not its ${target.count}`);
    check(!(await page.$("#map-collapse[hidden]")), "the Collapse button is not shown with a group open");
    await page.click("#map-collapse");
    await page.waitForFunction((n) => document.querySelectorAll("#map svg g.node[data-device-id]").length === n, {}, drawn);
    step("Collapse closed it again");

    // ---- a search for a device that is not drawn: the highest address of the inventory
    // The last address of the first /24 (its group draws its lowest addresses only).
    const last = "10.64.0.255";
    const before = await page.$$eval("#map svg g.node[data-device-id] text", (ts, ip) => ts.some((t) => t.textContent.trim() === ip), last);
    check(!before, `${last} is drawn before any search: pick another`);
    await page.type(".map-toolbar input[type=search]", last);
    await page.waitForFunction((ip) => Array.from(document.querySelectorAll("#map svg g.node.hl text")).some((t) => t.textContent.trim() === ip), {}, last);
    step(`a search for ${last}, not drawn, drew it and highlighted it`);

    check(errors.length === 0, "the page logged errors:\n  " + errors.join("\n  "));
    step("all checks passed");
  } catch (e) {
    console.error("map10k: FAILED: " + (e instanceof CheckFailed ? e.message : e && e.stack ? e.stack : String(e)));
    process.exitCode = 1;
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})();

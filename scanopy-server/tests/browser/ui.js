#!/usr/bin/env node
// The real-browser test of scanopy-server's web UI, run by scanopy-server/tests/browser.rs
// against a real server on the test LAN (run it inside the scanner's namespace, where the
// server listens on 127.0.0.1).
//
//   node ui.js BASE_URL PASSWORD OUT_DIR [DEADLINE_EPOCH_MS]
//
// Signs in (a wrong password first), waits for the LAN's hosts on the devices page (until
// DEADLINE_EPOCH_MS, default: 60 s from now), checks the map and a click on one of its nodes,
// and saves screenshots of every page into OUT_DIR. Prints `devices-listed-at-ms N` (epoch
// milliseconds) when the devices page first lists the hosts. Exits 1 with a message on the
// first failed check, or when the pages logged an error.
"use strict";

const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const [base, password, outDir, deadlineArg] = process.argv.slice(2);
if (!base || !password || !outDir) {
  console.error("usage: node ui.js BASE_URL PASSWORD OUT_DIR [DEADLINE_EPOCH_MS]");
  process.exit(2);
}
const deadline = deadlineArg ? Number(deadlineArg) : Date.now() + 60_000;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const LAN_HOSTS = ["10.77.0.1", "10.77.0.10", "10.77.0.11", "10.77.0.20"];
const LAN_SUBNET = "10.77.0.0/24";
const MIN_MAP_NODES = 5;

class CheckFailed extends Error {}
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const step = (text) => console.log("ui: " + text);

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(require("os").tmpdir(), "scanopy-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-gpu",
    ],
  });
  const errors = [];
  let signedIn = false;
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    page.setDefaultTimeout(15_000);
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const text = m.text();
      // Before sign-in the UI asks /me and /auth/login and gets 401s on purpose; the browser
      // logs those failed requests itself.
      if (!signedIn && /status of 401/.test(text)) return;
      const loc = m.location() && m.location().url ? " (" + m.location().url + ")" : "";
      errors.push("console error: " + text + loc);
    });
    page.on("pageerror", (e) => errors.push("page error: " + (e && e.message ? e.message : String(e))));
    page.on("dialog", (d) => d.dismiss());
    const shot = async (name) => {
      await sleep(300); // let transitions settle
      // Toasts of what the test did before are not part of the page.
      await page.evaluate(() => { const t = document.querySelector("#toasts"); if (t) t.replaceChildren(); });
      const file = path.join(outDir, name + ".png");
      await page.screenshot({ path: file });
      step("saved " + file);
    };
    const visit = async (hash, name) => {
      await page.evaluate((h) => { location.hash = h; }, hash);
      await page.waitForSelector(`body[data-page=${name}]`);
    };

    // ---- sign-in
    step("open " + base + "/");
    await page.goto(base + "/", { waitUntil: "domcontentloaded" });
    await page.waitForSelector("body[data-page=signin]");
    await page.type("#signin-form [name=username]", "admin");
    await page.type("#signin-form [name=password]", password + "-wrong");
    await page.click("#signin-form button[type=submit]");
    await page.waitForFunction(() => {
      const e = document.querySelector("#signin-error");
      return e && !e.hidden && e.textContent.trim() !== "";
    });
    const wrong = await page.$eval("#signin-error", (e) => e.textContent.trim());
    step("a wrong password shows: " + wrong);
    check(await page.$("body[data-page=signin]"), "a wrong password left the sign-in page");
    await page.$eval("#signin-form [name=password]", (e) => { e.value = ""; });
    await page.type("#signin-form [name=password]", password);
    await page.click("#signin-form button[type=submit]");
    await page.waitForSelector("body[data-page=dashboard]");
    signedIn = true;
    check(await page.$("#dashboard"), "the dashboard page has no #dashboard");
    step("signed in, the dashboard loaded");

    // ---- devices: wait for the LAN's hosts
    await visit("#/devices", "devices");
    let listed = [];
    for (;;) {
      listed = await page.$$eval("#devices-table tr[data-device-id]", (rows) => rows.map((r) => Array.from(r.querySelectorAll("td code"), (c) => c.textContent.trim())));
      const missing = LAN_HOSTS.filter((ip) => !listed.some((ips) => ips.includes(ip)));
      if (missing.length === 0) break;
      check(Date.now() < deadline, `the devices page does not list ${missing.join(", ")} in time (it lists ${listed.length} devices)`);
      await sleep(1000);
      // The page follows live events; reload it anyway in case one was missed.
      await page.reload({ waitUntil: "domcontentloaded" });
      await page.waitForSelector("body[data-page=devices]");
    }
    console.log("devices-listed-at-ms " + Date.now());
    const sparks = await page.waitForFunction(() => document.querySelectorAll("#devices-table [data-spark] .presence.compact").length, { timeout: 10000 }).then((h) => h.jsonValue()).catch(() => 0);
    step(`the devices list draws ${sparks} presence sparklines`);
    check(sparks >= LAN_HOSTS.length, `the devices list draws ${sparks} presence sparklines, expected one per listed device`);
    step(`the devices page lists ${listed.length} devices, with ${LAN_HOSTS.join(", ")}`);
    // ---- its Export link downloads the list as CSV, with the session's cookie
    const exported = await page.evaluate(async () => {
      const a = document.querySelector("#devices-export a[data-kind=devices][data-format=csv]");
      if (!a || !a.href) return "no export link";
      const r = await fetch(a.href);
      return (r.headers.get("content-type") || "") + "\n" + (await r.text());
    });
    const exportedRows = exported.split("\n").filter((l) => l.trim()).length - 2;
    check(exported.startsWith("text/csv") && exported.includes("device_id,network,name") && exported.includes("10.77.0.10"),
      `the devices export is not a CSV of the LAN: ${JSON.stringify(exported.slice(0, 300))}`);
    step(`the Export link downloads ${exportedRows} devices as CSV`);

    // ---- scans: the first discovery finishes
    await visit("#/scans", "scans");
    check(await page.$("#scans-table"), "the scans page has no #scans-table");
    const scanDeadline = Math.max(deadline, Date.now()) + 60_000;
    while (!(await page.$("#scans-table tr[data-scan-id][data-status=done]"))) {
      check(Date.now() < scanDeadline, "no scan is done on the scans page in time");
      await sleep(1000);
      await page.reload({ waitUntil: "domcontentloaded" });
      await page.waitForSelector("body[data-page=scans]");
    }
    step("a scan is done");
    await shot("scans");

    // ---- screenshots of the dashboard and the devices, now that the scan is done
    await visit("#/", "dashboard");
    await shot("dashboard");
    await visit("#/devices", "devices");
    await shot("devices");

    // ---- the map
    await visit("#/map", "map");
    await page.waitForSelector("#map svg g.node[data-device-id]");
    await sleep(500);
    const nodes = await page.$$eval("#map svg g.node[data-device-id]", (r) => r.length);
    const groups = await page.$$eval("#map svg g.group[data-subnet]", (r) => r.map((g) => g.getAttribute("data-subnet")));
    step(`the map shows ${nodes} device nodes, subnet groups ${groups.join(", ")}`);
    check(nodes >= MIN_MAP_NODES, `the map shows ${nodes} device nodes, expected at least ${MIN_MAP_NODES}`);
    check(groups.includes(LAN_SUBNET), `the map has no group for ${LAN_SUBNET} (groups: ${groups.join(", ") || "none"})`);
    // The campus: its switches' agents place the four hosts on their ports, and link the
    // switches (five port links, labelled with the port).
    const portLinks = await page.$$eval("#map svg path.link.port", (r) => r.length);
    const portLabels = await page.$$eval("#map svg text.linklabel", (r) => r.map((t) => t.textContent));
    step(`the map shows ${portLinks} switch port links (${portLabels.filter((t) => t.startsWith("ge")).join(", ")})`);
    check(portLinks >= 5, `the map shows ${portLinks} switch port links, expected 5 (4 campus hosts and the trunk)`);
    // The campus's VLANs (sw1's ge2/ge3 in 10 and 20): a filter that dims the other links.
    const vlanOpts = await page.$$eval("#map-vlan option", (r) => r.map((o) => o.value).filter(Boolean));
    step(`the map's VLAN filter offers ${vlanOpts.join(", ") || "nothing"}`);
    check(vlanOpts.includes("10") && vlanOpts.includes("20"), `the VLAN filter offers ${JSON.stringify(vlanOpts)}, expected 10 and 20`);
    if (vlanOpts.includes("20")) {
      await page.select("#map-vlan", "20");
      const lit = await page.$$eval("#map svg path.link.port:not(.dim)", (r) => r.map((p) => p.getAttribute("data-vlan")));
      check(lit.length >= 1 && lit.every((v) => v === "20"), `with VLAN 20 picked the port links not dimmed are ${JSON.stringify(lit)}`);
      await page.select("#map-vlan", "");
    }
    await shot("map");
    // ---- the map as it was before the server started: nothing yet; then now again
    await page.$eval("#map-at", (e) => { e.value = "2020-01-01T00:00"; e.dispatchEvent(new Event("change")); });
    await page.waitForFunction(() => /as at/.test((document.querySelector(".map-stats") || {}).textContent || ""), { timeout: 10000 }).catch(() => null);
    const then = await page.$$eval("#map svg g.node[data-device-id]", (r) => r.length);
    const thenStats = await page.$eval(".map-stats", (e) => e.textContent).catch(() => "");
    step(`the map as at 2020-01-01: ${thenStats}`);
    check(then === 0 && /as at/.test(thenStats), `the map as it was in 2020 shows ${then} devices (${thenStats})`);
    await page.$eval("#map-at", (e) => { e.value = ""; e.dispatchEvent(new Event("change")); });
    await page.waitForFunction(() => document.querySelectorAll("#map svg g.node[data-device-id]").length > 0, { timeout: 10000 }).catch(() => null);

    // ---- a click on a node opens its device page
    // the web server's node (10.77.0.10), or else the first one
    const all = await page.$$("#map svg g.node[data-device-id]");
    let node = all[0];
    for (const n of all) {
      if (await n.evaluate((g) => /^10\.77\.0\.10( |$)/.test((g.querySelector("text.ni") || {}).textContent || ""))) { node = n; break; }
    }
    const id = await node.evaluate((g) => g.getAttribute("data-device-id"));
    const box = await node.boundingBox();
    check(box, "the clicked map node is not visible");
    // the node's icon is at the top of its box, its labels below
    await page.mouse.click(box.x + box.width / 2, box.y + Math.min(box.height / 2, 20));
    await page.waitForSelector("body[data-page=device]");
    const url = page.url();
    check(url.includes(encodeURIComponent(id)), `a click on node ${id} opened ${url}`);
    const title = await page.$eval(".device-head h1", (e) => e.textContent.trim()).catch(() => "");
    step(`a click on a map node opened the device page of ${title || id}`);
    const presence = await page.$eval("#device-presence", (e) => ({ label: e.getAttribute("aria-label"), on: e.querySelectorAll(".on").length })).catch(() => null);
    step(`its last 7 days: ${presence ? presence.label : "(no presence bar)"}`);
    check(presence && presence.on >= 1 && /% online$/.test(presence.label), `the device page has no presence timeline: ${JSON.stringify(presence)}`);
    await shot("device");

    // ---- a campus host's page says which switch port it is plugged into
    await visit("#/map", "map");
    await page.waitForSelector("#map svg g.node[data-device-id]");
    const campusId = await page.$$eval("#map svg g.node[data-device-id]", (r) => {
      const g = r.find((g) => /^10\.77\.4\.10( |$)/.test((g.querySelector("text.ni") || {}).textContent || ""));
      return g ? g.getAttribute("data-device-id") : null;
    });
    check(campusId, "the campus host 10.77.4.10 is not on the map");
    if (campusId) {
      await visit("#/devices/" + encodeURIComponent(campusId), "device");
      await page.waitForSelector("#plugged-into", { timeout: 5000 }).catch(() => null);
      const plugged = await page.$eval("#plugged-into", (e) => e.textContent).catch(() => "");
      step(`the campus host's page says it is plugged into ${plugged}`);
      check(/sw1\.lab\.test port ge2/.test(plugged), `10.77.4.10's page says it is plugged into ${JSON.stringify(plugged)}, expected sw1.lab.test port ge2`);
    }

    // ---- daemons
    await visit("#/daemons", "daemons");
    check(await page.$("#daemons-table"), "the daemons page has no #daemons-table");
    const daemons = await page.$$eval("#daemons-table tbody tr", (r) => r.length);
    check(daemons >= 1, "the daemons page lists no daemon (the local daemon should be there)");
    await shot("daemons");

    // ---- the subnet behind the router (its agent's third leg, 10.77.1.0/24) is offered, not scanned
    await page.waitForSelector("#networks-table td.suggested");
    const suggested = await page.$$eval("#networks-table td.suggested code", (r) => r.map((c) => c.textContent));
    step(`networks: seen, not covered: ${suggested.join(", ") || "nothing"}`);
    check(suggested.includes("10.77.1.0/24"), `the networks table does not offer 10.77.1.0/24 (it offers ${JSON.stringify(suggested)})`);

    // ---- an SNMP credential added in the UI is listed, its secret nowhere on the page
    const snmpSecret = "ui-secret-" + Date.now();
    await page.select("#snmp-kind", "v3");
    await page.type("#snmp-label", "ui test user");
    await page.type("#snmp-user", "uimon");
    await page.select("#snmp-auth", "SHA-256");
    await page.type("#snmp-auth-pw", snmpSecret + "-a");
    await page.select("#snmp-priv", "AES");
    await page.type("#snmp-priv-pw", snmpSecret + "-p");
    await page.click("#new-snmp-form button[type=submit]");
    await page.waitForFunction(() => [...document.querySelectorAll("#snmp-table tbody tr")].some((r) => r.textContent.includes("ui test user")), { timeout: 5000 }).catch(() => null);
    const snmpRows = await page.$$eval("#snmp-table tbody tr", (r) => r.map((x) => x.textContent));
    const added = snmpRows.find((t) => t.includes("ui test user"));
    step(`the SNMP credentials table lists: ${added || "(not the one added)"}`);
    check(added && added.includes("uimon") && added.includes("SHA-256") && added.includes("AES"), `the added SNMPv3 user is not listed: ${JSON.stringify(snmpRows)}`);
    const html = await page.content();
    check(!html.includes(snmpSecret), "an SNMP password is on the page after it was added");

    // ---- an alert rule added in the UI is listed; its test says why it failed (nothing listens)
    await page.type("#alert-name", "ui test alert");
    await page.select("#alert-kind", "ntfy");
    await page.type("#alert-target", "http://127.0.0.1:9/ui-test");
    await page.click("#new-alert-form button[type=submit]");
    await page.waitForFunction(() => [...document.querySelectorAll("#alerts-table tbody tr")].some((r) => r.textContent.includes("ui test alert")), { timeout: 5000 }).catch(() => null);
    const alertRow = (await page.$$eval("#alerts-table tbody tr", (r) => r.map((x) => x.textContent))).find((t) => t.includes("ui test alert"));
    step(`the alerts table lists: ${alertRow || "(not the one added)"}`);
    check(alertRow && alertRow.includes("push http://127.0.0.1:9/ui-test") && alertRow.includes("new device"), `the added alert rule is not listed as made: ${JSON.stringify(alertRow)}`);
    await page.click("#alerts-table button[data-test]");
    await page.waitForFunction(() => [...document.querySelectorAll("#alerts-table tbody tr")].some((r) => r.textContent.includes("could not connect")), { timeout: 15000 }).catch(() => null);
    const tested = (await page.$$eval("#alerts-table tbody tr", (r) => r.map((x) => x.textContent))).find((t) => t.includes("ui test alert"));
    check(tested && tested.includes("failed") && tested.includes("could not connect"), `the alert's test outcome is not shown: ${JSON.stringify(tested)}`);
    await shot("alerts");

    // ---- what changed since the server started: the LAN's devices, added
    await visit("#/changes", "changes");
    await page.waitForSelector("#changes-added tbody tr");
    const addedDevices = await page.$$eval("#changes-added tbody tr a", (r) => r.map((x) => x.textContent));
    const summary = await page.$eval("#changes-summary", (e) => e.textContent);
    step(`changes this week: ${summary}; ${addedDevices.length} devices added`);
    check(addedDevices.length >= LAN_HOSTS.length, `the changes page lists ${addedDevices.length} devices added, fewer than the LAN's ${LAN_HOSTS.length}`);
    await shot("changes");

    // ---- the audit trail lists the browser's sign-in and the alert rule it just made
    await visit("#/devices", "devices");
    await visit("#/daemons", "daemons");
    await page.waitForFunction(() => [...document.querySelectorAll("#audit-table tbody tr")].some((r) => r.textContent.includes("alert created")), { timeout: 5000 }).catch(() => null);
    const audit = await page.$$eval("#audit-table tbody tr", (r) => r.map((x) => x.textContent));
    step(`the audit trail shows ${audit.length} entries, the newest: ${audit[0] || "(none)"}`);
    check(audit.some((t) => t.includes("alert created") && t.includes("ui test alert")), `the audit trail does not list the alert rule made: ${JSON.stringify(audit.slice(0, 5))}`);
    check(audit.some((t) => t.includes("sign in") && t.includes("admin")), `the audit trail does not list the sign-in: ${JSON.stringify(audit.slice(0, 8))}`);

    // ---- users: the admin adds a viewer in the UI
    await visit("#/users", "users");
    const viewer = "vera", viewerPw = "vera's long password " + Date.now();
    await page.type("#user-name-new", viewer);
    await page.type("#user-password-new", viewerPw);
    await page.select("#user-role-new", "viewer");
    await page.click("#new-user-form button[type=submit]");
    await page.waitForFunction((n) => !!document.querySelector(`#users-table tr[data-username="${n}"]`), { timeout: 5000 }, viewer).catch(() => null);
    const userRow = await page.$eval(`#users-table tr[data-username="${viewer}"]`, (r) => ({ text: r.textContent, role: r.querySelector("select").value })).catch(() => null);
    step(`the users table lists ${viewer}: ${userRow ? userRow.role + ", " + userRow.text : "(not listed)"}`);
    check(userRow && userRow.role === "viewer" && userRow.text.includes("enabled"), `the user added in the UI is not listed as an enabled viewer: ${JSON.stringify(userRow)}`);
    await shot("users");

    // ---- signed in as that viewer: everything readable, no admin or editor control anywhere
    await page.click("#signout");
    await page.waitForSelector("body[data-page=signin]");
    signedIn = false;
    await page.evaluate(() => { location.hash = "#/"; });
    await page.$eval("#signin-form [name=username]", (e) => { e.value = ""; });
    await page.$eval("#signin-form [name=password]", (e) => { e.value = ""; });
    await page.type("#signin-form [name=username]", viewer);
    await page.type("#signin-form [name=password]", viewerPw);
    await page.click("#signin-form button[type=submit]");
    await page.waitForSelector("body[data-page=dashboard]");
    signedIn = true;
    const who = await page.$eval("#user-name", (e) => e.textContent);
    check(who.includes(viewer) && who.includes("viewer"), `signed in as the viewer, the sidebar says ${JSON.stringify(who)}`);
    const pages = [
      ["#/daemons", "daemons", "#daemons-table", ["#new-key-form", "#keys-table", "#new-network-form", "#new-webhook-form", "#new-alert-form", "#audit-table", "#snmp-table", "button[data-add-subnet]", "button[data-set-url]", "button[data-approve]"]],
      ["#/scans", "scans", "#scans-table", ["#new-scan-form", "button[data-cancel]", "button[data-delete]"]],
      ["#/users", "users", "#password-form", ["#users-table", "#new-user-form"]],
      ["#/devices/" + encodeURIComponent(id), "device", "#device", ["#device-edit-form", "#device-delete"]],
      ["#/devices", "devices", "#devices-table", []],
      ["#/map", "map", "#map", []],
      ["#/changes", "changes", "#changes-summary", []],
    ];
    for (const [hash, name, present, absent] of pages) {
      await visit(hash, name);
      await page.waitForSelector(present, { timeout: 5000 }).catch(() => null);
      check(await page.$(present), `as a viewer, ${hash} has no ${present}`);
      const shown = [];
      for (const sel of absent) if (await page.$(sel)) shown.push(sel);
      check(shown.length === 0, `as a viewer, ${hash} shows ${shown.join(", ")}`);
    }
    await visit("#/daemons", "daemons");
    const tokRoles = await page.$$eval("#tok-role option", (r) => r.map((o) => o.value));
    check(JSON.stringify(tokRoles) === JSON.stringify(["viewer"]), `a viewer is offered tokens of ${JSON.stringify(tokRoles)}`);
    step(`as a viewer: ${pages.length} pages readable, no admin or editor control on them; tokens offered: ${tokRoles.join(", ")}`);
    // The viewer changes their own password; this session goes on, the new one signs in.
    await visit("#/users", "users");
    await page.type("#pw-current", viewerPw);
    await page.type("#pw-new", viewerPw + " new");
    await page.type("#pw-again", viewerPw + " new");
    await page.click("#password-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#pw-current") && document.querySelector("#pw-current").value === "", { timeout: 10000 }).catch(() => null);
    const after = await page.evaluate(async (u, p) => {
      const me = await fetch("/api/v1/me").then((r) => r.status);
      const login = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: u, password: p }) }).then((r) => r.status);
      return { me, login };
    }, viewer, viewerPw + " new");
    check(after.me === 200 && after.login === 200, `after the viewer changed their password: /me ${after.me}, sign-in with it ${after.login}`);
    step("the viewer changed their password in the UI and signed in with it");
    await shot("viewer");

    await sleep(500);
    check(errors.length === 0, "the pages logged errors:\n  " + errors.join("\n  "));
    step("all checks passed");
  } finally {
    await browser.close().catch(() => null);
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error("ui.js FAILED: " + (e instanceof CheckFailed ? e.message : e && e.stack ? e.stack : String(e)));
  process.exit(1);
});

// Daemons & keys: daemons, daemon keys, API tokens, webhooks, alerts, networks, SNMP credentials.

import { append, badge, card, copyButton, emptyRow, h, icon, pageHead, timeEl, toast } from "../dom.js";
import { api, can, items, loadDaemons, loadNetworks, loadStatus, networkName, report, state } from "../api.js";

// ------------------------------------------------------------------ daemons & keys
function secretBox(title, secret, extras) {
  const input = h("input", { readonly: true, value: secret, "aria-label": title, class: "secret-value" });
  input.addEventListener("focus", () => input.select());
  return h("div", { class: "secret", role: "status" },
    h("div", { class: "note" }, icon("alert", "sm"), title + " — copy it now, it will not be shown again."),
    h("div", { class: "row" }, input, copyButton(secret)),
    extras || null);
}
function cmdBlock(label, text) {
  return h("div", null, h("div", { class: "small muted mt-8" }, label), h("div", { class: "cmd" }, h("pre", null, text), copyButton(text)));
}
export async function pageDaemons(root, ctx) {
  await Promise.all([loadNetworks(), loadStatus().catch(() => null)]);
  const dBody = h("tbody"), kBody = h("tbody"), tBody = h("tbody"), wBody = h("tbody"), nBody = h("tbody"), sBody = h("tbody"), aBody = h("tbody"), auBody = h("tbody");
  const isAdmin = state.me && state.me.role === "admin";
  const netOpts = (sel) => state.networks.map((n) => h("option", { value: n.id, selected: n.id === sel }, n.name));
  const yes = (v) => (v ? badge("yes", "ok") : badge("no", ""));
  async function loadD() {
    await loadDaemons();
    dBody.replaceChildren(...(state.daemons.length ? state.daemons.map((d) => {
      const c = d.capabilities || {};
      return h("tr", { "data-daemon-id": d.id },
        h("td", null, h("strong", null, d.name), d.local ? [" ", badge("local", "info")] : null),
        h("td", null, networkName(d.network)),
        h("td", null, d.mode || "—"),
        h("td", null, yes(c.raw_sockets)),
        h("td", null, yes(c.docker)),
        h("td", null, listeningCell(c.listening)),
        h("td", null, h("span", { class: "ips" }, (c.subnets || []).map((x) => h("code", null, x)))),
        h("td", { class: "mono" }, c.version || "—"),
        h("td", null, pushCell(d)),
        h("td", { class: "nowrap" }, timeEl(d.last_seen)),
        h("td", null, d.online ? badge("online", "ok", true) : badge("offline", "err", true)));
    }) : [emptyRow(11, "No daemon yet. Create a key below and start one.")]));
  }
  // Where a daemon hears ARP and DHCP passively (new devices appear within a second).
  function listeningCell(ifaces) {
    if (!ifaces || !ifaces.length) return h("span", { class: "muted", title: "Not listening: no CAP_NET_RAW, or --no-passive" }, "no");
    return h("span", { class: "ips", title: "Hears ARP and DHCP on these interfaces" }, badge("listening", "ok"), " ", ifaces.map((x) => h("code", null, x)));
  }
  // The server calls a push daemon only at the URL an admin approved; what the daemon
  // announces is shown here, pending, until approved.
  function pushCell(d) {
    if (d.mode !== "push") return h("span", { class: "muted" }, "—");
    const admin = state.me && state.me.role === "admin";
    const approved = d.approved_url
      ? h("div", null, h("code", { title: "The only URL the server calls" }, d.approved_url))
      : h("div", null, badge("not approved", "warn"), " ", h("span", { class: "small muted" }, "never called"));
    const pending = d.push_url_pending && d.announced_url
      ? h("div", { class: "small" }, badge("pending", "warn"), " announces ", h("code", null, d.announced_url),
          admin ? [" ", h("button", { type: "button", class: "btn sm", "data-approve": d.id, "data-url": d.announced_url }, "Approve")] : null)
      : null;
    const edit = admin
      ? h("div", null,
          h("button", { type: "button", class: "btn sm", "data-set-url": d.id, "data-url": d.approved_url || d.announced_url || "" }, "Set URL"),
          d.approved_url ? [" ", h("button", { type: "button", class: "btn sm danger", "data-clear-url": d.id, "data-name": d.name }, "Stop calling")] : null)
      : null;
    return h("div", { class: "push-url" }, approved, pending, edit);
  }
  async function putPushUrl(id, url) {
    try {
      await api("/daemons/" + encodeURIComponent(id) + "/push-url", { method: "PUT", body: { url } });
      toast(url ? "Push URL approved: " + url : "The server no longer calls this daemon", "ok");
      await loadD();
    } catch (ex) { report(ex); }
  }
  dBody.addEventListener("click", async (e) => {
    const ap = e.target.closest("button[data-approve]");
    if (ap) {
      if (confirm("Let the server call this daemon at " + ap.dataset.url + "? Approve only a URL you know is this daemon's.")) await putPushUrl(ap.dataset.approve, ap.dataset.url);
      return;
    }
    const set = e.target.closest("button[data-set-url]");
    if (set) {
      const url = prompt("The URL the server calls this push daemon at (http:// or https://):", set.dataset.url);
      if (url !== null && url.trim()) await putPushUrl(set.dataset.setUrl, url.trim());
      return;
    }
    const clr = e.target.closest("button[data-clear-url]");
    if (clr && confirm("Stop calling \u201c" + clr.dataset.name + "\u201d? It gets no pushed jobs until a URL is approved again.")) await putPushUrl(clr.dataset.clearUrl, null);
  });
  async function loadK() {
    if (!isAdmin) return;
    const list = items(await api("/daemons/keys?limit=1000"));
    kBody.replaceChildren(...(list.length ? list.map((k) => h("tr", { "data-key-id": k.id },
      h("td", null, h("strong", null, k.name)), h("td", null, networkName(k.network)), h("td", { class: "nowrap" }, timeEl(k.created_at)),
      h("td", { class: "nowrap" }, k.last_used_at ? timeEl(k.last_used_at) : h("span", { class: "muted" }, "never")),
      h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": k.id, "data-name": k.name }, "Revoke")))) : [emptyRow(5, "No daemon keys.")]));
  }
  async function loadT() {
    const list = items(await api("/tokens?limit=1000"));
    tBody.replaceChildren(...(list.length ? list.map((t) => h("tr", { "data-token-id": t.id },
      h("td", null, h("strong", null, t.name)), h("td", null, badge(t.role, t.role === "admin" ? "warn" : t.role === "editor" ? "ok" : "info")), h("td", { class: "nowrap" }, timeEl(t.created_at)),
      h("td", { class: "nowrap" }, t.last_used_at ? timeEl(t.last_used_at) : h("span", { class: "muted" }, "never")),
      h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": t.id, "data-name": t.name }, "Revoke")))) : [emptyRow(5, "No API tokens.")]));
  }
  async function loadW() {
    if (!isAdmin) return;
    const list = items(await api("/webhooks?limit=1000"));
    wBody.replaceChildren(...(list.length ? list.map((w) => h("tr", { "data-webhook-id": w.id },
      h("td", { class: "mono" }, w.url), h("td", { class: "nowrap" }, w.created_at ? timeEl(w.created_at) : "—"),
      h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": w.id, "data-name": w.url }, "Delete")))) : [emptyRow(3, "No webhooks.")]));
  }
  // Each network with the subnets its routers and daemons have legs on that it does not cover:
  // offered, scanned only once an admin adds them.
  async function loadN() {
    const seen = await Promise.all(state.networks.map((n) => api("/networks/" + encodeURIComponent(n.id) + "/suggested-subnets").catch(() => [])));
    nBody.replaceChildren(...(state.networks.length ? state.networks.map((n, i) => h("tr", { "data-network-id": n.id },
      h("td", null, h("strong", null, n.name)), h("td", null, h("span", { class: "ips" }, (n.subnets || []).map((x) => h("code", null, x)))),
      h("td", { class: "suggested" }, seen[i].length ? seen[i].map((x) => h("div", { class: "small" },
        h("code", null, x.subnet), h("span", { class: "muted" }, " via " + x.seen_by + " (" + x.source + ") "),
        isAdmin ? h("button", { type: "button", class: "btn sm", "data-add-subnet": x.subnet, "data-network": n.id }, "Add") : null)) : h("span", { class: "muted" }, "—")),
      h("td", { class: "mono small muted" }, n.id))) : [emptyRow(4, "No networks.")]));
  }
  nBody.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-add-subnet]");
    if (!b) return;
    const n = state.networks.find((x) => x.id === b.dataset.network);
    if (!n || !confirm("Add " + b.dataset.addSubnet + " to " + n.name + "? Its scans will cover it from the next one.")) return;
    try {
      await api("/networks/" + encodeURIComponent(n.id), { method: "PATCH", body: { subnets: [...(n.subnets || []), b.dataset.addSubnet] } });
      toast(b.dataset.addSubnet + " added to " + n.name, "ok");
      await loadNetworks(); await loadN();
    } catch (ex) { report(ex); }
  });
  // SNMP credentials of each network (admins only): what they are, never their secrets.
  async function loadS() {
    if (!isAdmin) return;
    const rows = [];
    for (const n of state.networks) {
      for (const c of await api("/networks/" + encodeURIComponent(n.id) + "/snmp-credentials")) rows.push(c);
    }
    sBody.replaceChildren(...(rows.length ? rows.map((c) => h("tr", { "data-snmp-id": c.id },
      h("td", null, networkName(c.network)), h("td", null, h("strong", null, c.label)),
      h("td", null, c.kind === "v3" ? badge("v3", "info") : badge("community", "")),
      h("td", { class: "mono" }, c.user || "—"), h("td", null, c.auth_protocol || "—"), h("td", null, c.privacy_protocol || "—"),
      h("td", { class: "nowrap" }, timeEl(c.created_at)),
      h("td", null, h("button", { type: "button", class: "btn sm danger", "data-revoke": c.id, "data-network": c.network, "data-name": c.label }, "Delete")))) : [emptyRow(8, "No SNMP credentials: daemons use their own (--snmp-community, --snmp-v3), else public.")]));
  }
  sBody.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-revoke]");
    if (!b || !confirm("Delete the SNMP credential \u201c" + b.dataset.name + "\u201d?")) return;
    try {
      await api("/networks/" + encodeURIComponent(b.dataset.network) + "/snmp-credentials/" + encodeURIComponent(b.dataset.revoke), { method: "DELETE" });
      toast("SNMP credential deleted", "ok"); await loadS();
    } catch (ex) { report(ex); }
  });
  // The audit trail (admins only): the newest 50 entries.
  async function loadAudit() {
    if (!isAdmin) return;
    const list = items(await api("/audit?limit=50"));
    auBody.replaceChildren(...(list.length ? list.map((e) => h("tr", null,
      h("td", { class: "nowrap" }, timeEl(e.at)),
      h("td", null, h("strong", null, e.actor), " ", h("span", { class: "muted small" }, e.via)),
      h("td", { class: "mono small" }, e.address || "—"),
      h("td", null, badge(e.action.replace(/_/g, " "), /failed|revoked|deleted/.test(e.action) ? "warn" : "info")),
      h("td", { class: "small" }, [e.detail && (e.detail.name || e.detail.label || e.detail.url) ? h("div", null, e.detail.name || e.detail.label || e.detail.url) : null,
        e.detail && e.detail.fields ? h("div", { class: "muted" }, "set " + e.detail.fields.join(", ")) : null,
        e.target ? h("div", { class: "mono muted" }, e.target) : null]))) : [emptyRow(5, "Nothing recorded yet.")]));
  }
  // Alert rules (admins only): what each sends where, and what it did lately.
  const EVENT_LABELS = { device_new: "new device", device_gone: "offline", device_back: "back online", device_changed: "changed", service_new: "new service", service_gone: "service gone", address_moved: "address moved" };
  const channelText = (c) => c.kind === "email" ? "e-mail " + c.to : c.kind === "ntfy" ? "push " + c.url + "/" + c.topic : "webhook " + c.url;
  async function loadA() {
    if (!isAdmin) return;
    const list = items(await api("/alerts"));
    aBody.replaceChildren(...(list.length ? list.map((r) => {
      const last = (r.deliveries || [])[0];
      return h("tr", { "data-alert-id": r.id },
        h("td", null, h("strong", null, r.name)),
        h("td", null, h("span", { class: "ips" }, r.events.map((k) => badge(EVENT_LABELS[k] || k, "info")))),
        h("td", { class: "small" }, [r.network ? networkName(r.network) : h("span", { class: "muted" }, "all"),
          r.subnet ? h("div", null, h("code", null, r.subnet)) : null, r.tag ? h("div", null, badge(r.tag, "")) : null,
          r.device ? h("div", null, h("a", { href: "#/devices/" + encodeURIComponent(r.device) }, "one device")) : null]),
        h("td", { class: "mono small" }, channelText(r.channel)),
        h("td", { class: "small" }, [r.digest ? "daily digest at " + r.digest : r.throttle_secs ? "1 per " + r.throttle_secs + " s" : "no limit", !r.digest && r.quiet ? h("div", { class: "muted" }, "quiet " + r.quiet.from + "–" + r.quiet.to) : null]),
        h("td", { class: "small" }, last ? [badge(last.status, last.status === "delivered" ? "ok" : last.status === "failed" ? "err" : ""), " ", timeEl(last.at), last.summary ? h("div", null, last.summary) : null, last.error ? h("div", { class: "muted" }, last.error) : null] : h("span", { class: "muted" }, "nothing yet")),
        h("td", { class: "nowrap" },
          h("button", { type: "button", class: "btn sm", "data-test": r.id }, "Send a test"), " ",
          h("button", { type: "button", class: "btn sm danger", "data-revoke": r.id, "data-name": r.name }, "Delete")));
    }) : [emptyRow(7, "No alert rules: nothing is sent when the network changes.")]));
  }
  aBody.addEventListener("click", async (e) => {
    const t = e.target.closest("button[data-test]");
    if (!t) return;
    t.disabled = true;
    try {
      const r = await api("/alerts/" + encodeURIComponent(t.dataset.test) + "/test", { method: "POST", body: {} });
      toast(r.status === "delivered" ? "Test sent" : "The test failed: " + (r.error || "unknown error"), r.status === "delivered" ? "ok" : "err");
      await loadA();
    } catch (ex) { report(ex); } finally { t.disabled = false; }
  });
  const revoker = (body, path, what, reload) => body.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-revoke]");
    if (!b || !confirm("Revoke " + what + " \u201c" + b.dataset.name + "\u201d? This cannot be undone.")) return;
    try { await api(path + encodeURIComponent(b.dataset.revoke), { method: "DELETE" }); toast(what.charAt(0).toUpperCase() + what.slice(1) + " revoked", "ok"); await reload(); } catch (ex) { report(ex); }
  });
  revoker(kBody, "/daemons/keys/", "key", loadK);
  revoker(tBody, "/tokens/", "token", loadT);
  revoker(wBody, "/webhooks/", "webhook", loadW);
  revoker(aBody, "/alerts/", "alert rule", loadA);

  // forms
  const keyOut = h("div");
  const keyForm = h("form", { id: "new-key-form", class: "card-body form-actions end" },
    h("div", { class: "f-200" }, h("label", { for: "key-name" }, "Name"), h("input", { id: "key-name", name: "name", required: true, placeholder: "e.g. office-pi" })),
    h("div", { class: "f-200" }, h("label", { for: "key-network" }, "Network"), h("select", { id: "key-network", name: "network" }, netOpts(""))),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "New key"));
  keyForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = keyForm.name.value.trim();
    if (!name) { toast("Give the key a name.", "err"); keyForm.name.focus(); return; }
    try {
      const r = await api("/daemons/keys", { method: "POST", body: { name, network: keyForm.network.value } });
      const origin = location.origin;
      const pk = (state.status && state.status.server_public_key) || "<SERVER_PUBLIC_KEY>";
      keyOut.replaceChildren(h("div", { class: "card-body flush-top" }, secretBox("Daemon key " + r.name, r.key, [
        cmdBlock("Pull mode (the daemon polls this server):", `scanopy-daemon run --server ${origin} --key ${r.key}`),
        cmdBlock("Push mode (this server connects to the daemon, once you approve its URL in the Daemons table):", `scanopy-daemon run --mode push --listen 0.0.0.0:60073 --server ${origin} --key ${r.key} --server-public-key ${pk}`),
      ])));
      keyForm.reset();
      await loadK();
    } catch (ex) { report(ex); }
  });
  const tokOut = h("div");
  const tokForm = h("form", { id: "new-token-form", class: "card-body form-actions end" },
    h("div", { class: "f-200" }, h("label", { for: "tok-name" }, "Name"), h("input", { id: "tok-name", name: "name", required: true, placeholder: "e.g. grafana" })),
    h("div", { class: "f-160-fixed" }, h("label", { for: "tok-role" }, "Role"), h("select", { id: "tok-role", name: "role" }, ["viewer", "editor", "admin"].filter((r) => can(r)).map((r) => h("option", { value: r }, r)))),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "New token"));
  tokForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = tokForm.name.value.trim();
    if (!name) { toast("Give the token a name.", "err"); tokForm.name.focus(); return; }
    try {
      const r = await api("/tokens", { method: "POST", body: { name, role: tokForm.role.value } });
      tokOut.replaceChildren(h("div", { class: "card-body flush-top" }, secretBox("API token " + r.name, r.token,
        cmdBlock("Use it as a bearer token:", `curl -H "Authorization: Bearer ${r.token}" ${location.origin}/api/v1/devices`))));
      tokForm.reset();
      await loadT();
    } catch (ex) { report(ex); }
  });
  const whOut = h("div");
  const whForm = h("form", { id: "new-webhook-form", class: "card-body form-actions end" },
    h("div", { class: "f-260" }, h("label", { for: "wh-url" }, "URL"), h("input", { id: "wh-url", name: "url", type: "url", required: true, placeholder: "https://example.com/hooks/scanopy" })),
    h("div", { class: "f-160" }, h("label", { for: "wh-secret" }, "Secret (optional)"), h("input", { id: "wh-secret", name: "secret", placeholder: "generated if empty" })),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add webhook"));
  whForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const url = whForm.url.value.trim();
    if (!url) { toast("Enter the URL to POST events to.", "err"); whForm.url.focus(); return; }
    const body = { url };
    if (whForm.secret.value.trim()) body.secret = whForm.secret.value.trim();
    try {
      const r = await api("/webhooks", { method: "POST", body });
      whOut.replaceChildren(r && r.secret ? h("div", { class: "card-body flush-top" }, secretBox("Signing secret for " + url, r.secret)) : "");
      whForm.reset();
      await loadW();
    } catch (ex) { report(ex); }
  });
  const alertForm = h("form", { id: "new-alert-form", class: "card-body form-actions end" },
    h("div", { class: "f-160" }, h("label", { for: "alert-name" }, "Name"), h("input", { id: "alert-name", name: "name", required: true, placeholder: "e.g. new devices" })),
    h("div", { class: "f-200" }, h("label", null, "When"), h("div", { class: "checks" }, Object.entries(EVENT_LABELS).map(([k, label]) =>
      h("label", { class: "small nowrap" }, h("input", { type: "checkbox", name: "events", value: k, checked: k === "device_new" }), " " + label)))),
    h("div", { class: "f-160" }, h("label", { for: "alert-network" }, "Network"), h("select", { id: "alert-network", name: "network" }, h("option", { value: "" }, "all"), netOpts(""))),
    h("div", { class: "f-120" }, h("label", { for: "alert-subnet" }, "Subnet (optional)"), h("input", { id: "alert-subnet", name: "subnet", placeholder: "10.0.0.0/24" })),
    h("div", { class: "f-120" }, h("label", { for: "alert-tag" }, "Tag (optional)"), h("input", { id: "alert-tag", name: "tag", placeholder: "cameras" })),
    h("div", { class: "f-160-fixed" }, h("label", { for: "alert-kind" }, "Send by"), h("select", { id: "alert-kind", name: "kind" }, h("option", { value: "email" }, "e-mail"), h("option", { value: "ntfy" }, "push (ntfy)"), h("option", { value: "webhook" }, "webhook"))),
    h("div", { class: "f-200" }, h("label", { for: "alert-target" }, "To"), h("input", { id: "alert-target", name: "target", required: true, placeholder: "you@example.com, or https://ntfy.sh/topic, or a URL" })),
    h("div", { class: "f-200", "data-for": "webhook" }, h("label", { for: "alert-template" }, "Body template (optional)"), h("input", { id: "alert-template", name: "template", placeholder: "{\"text\": \"{{title}}\"}" })),
    h("div", { class: "f-120" }, h("label", { for: "alert-throttle" }, "At most one per (s)"), h("input", { id: "alert-throttle", name: "throttle", type: "number", min: 0, max: 604800, value: 0 })),
    h("div", { class: "f-120" }, h("label", { for: "alert-quiet-from" }, "Quiet from"), h("input", { id: "alert-quiet-from", name: "quiet_from", type: "time" })),
    h("div", { class: "f-120" }, h("label", { for: "alert-quiet-to" }, "to"), h("input", { id: "alert-quiet-to", name: "quiet_to", type: "time" })),
    h("div", { class: "f-120" }, h("label", { for: "alert-digest" }, "Or a daily digest at"), h("input", { id: "alert-digest", name: "digest", type: "time" })),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add rule"));
  const showAlertKind = () => { for (const el of alertForm.querySelectorAll("[data-for]")) el.hidden = el.dataset.for !== alertForm.kind.value; };
  alertForm.kind.addEventListener("change", showAlertKind);
  showAlertKind();
  alertForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = alertForm;
    const events = [...f.querySelectorAll("input[name=events]:checked")].map((x) => x.value);
    if (!events.length) { toast("Pick at least one kind of change.", "err"); return; }
    const target = f.target.value.trim();
    let channel;
    if (f.kind.value === "email") channel = { kind: "email", to: target };
    else if (f.kind.value === "ntfy") {
      const cut = target.replace(/\/+$/, "").lastIndexOf("/");
      if (cut < 8) { toast("Give the ntfy server and topic, e.g. https://ntfy.sh/my-lan.", "err"); return; }
      channel = { kind: "ntfy", url: target.slice(0, cut), topic: target.slice(cut + 1) };
    } else {
      channel = { kind: "webhook", url: target };
      if (f.template.value.trim()) channel.template = f.template.value.trim();
    }
    const body = { name: f.name.value.trim(), events, channel, throttle_secs: Number(f.throttle.value || 0) };
    if (f.network.value) body.network = f.network.value;
    if (f.subnet.value.trim()) body.subnet = f.subnet.value.trim();
    if (f.tag.value.trim()) body.tag = f.tag.value.trim();
    if (f.digest.value) body.digest = f.digest.value;
    if (f.quiet_from.value && f.quiet_to.value) body.quiet = { from: f.quiet_from.value, to: f.quiet_to.value };
    try {
      await api("/alerts", { method: "POST", body });
      f.reset(); showAlertKind();
      toast("Alert rule added", "ok");
      await loadA();
    } catch (ex) { report(ex); }
  });
  const netForm = h("form", { id: "new-network-form", class: "card-body form-actions end" },
    h("div", { class: "f-180" }, h("label", { for: "net-name" }, "Name"), h("input", { id: "net-name", name: "name", required: true, placeholder: "e.g. home" })),
    h("div", { class: "f-240" }, h("label", { for: "net-subnets" }, "Subnets"), h("input", { id: "net-subnets", name: "subnets", placeholder: "192.168.1.0/24, 10.0.0.0/24" })),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add network"));
  netForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = netForm.name.value.trim();
    if (!name) { toast("Give the network a name.", "err"); return; }
    try {
      await api("/networks", { method: "POST", body: { name, subnets: netForm.subnets.value.split(",").map((x) => x.trim()).filter(Boolean) } });
      netForm.reset();
      await loadNetworks(); await loadN();
      for (const sel of [keyForm.network, snmpForm.network]) sel.replaceChildren(...netOpts(sel.value));
      alertForm.network.replaceChildren(h("option", { value: "" }, "all"), ...netOpts(alertForm.network.value));
      toast("Network added", "ok");
    } catch (ex) { report(ex); }
  });

  const opt = (v, label) => h("option", { value: v }, label || v);
  const snmpForm = h("form", { id: "new-snmp-form", class: "card-body form-actions end" },
    h("div", { class: "f-160" }, h("label", { for: "snmp-network" }, "Network"), h("select", { id: "snmp-network", name: "network" }, netOpts(""))),
    h("div", { class: "f-160" }, h("label", { for: "snmp-label" }, "Label"), h("input", { id: "snmp-label", name: "label", placeholder: "e.g. core switches" })),
    h("div", { class: "f-160-fixed" }, h("label", { for: "snmp-kind" }, "Kind"), h("select", { id: "snmp-kind", name: "kind" }, opt("community", "community (v2c, v1)"), opt("v3", "SNMPv3 user"))),
    h("div", { class: "f-160", "data-for": "community" }, h("label", { for: "snmp-community" }, "Community"), h("input", { id: "snmp-community", name: "community", type: "password", autocomplete: "off" })),
    h("div", { class: "f-160", "data-for": "v3" }, h("label", { for: "snmp-user" }, "User"), h("input", { id: "snmp-user", name: "user", autocomplete: "off" })),
    h("div", { class: "f-160-fixed", "data-for": "v3" }, h("label", { for: "snmp-auth" }, "Authentication"), h("select", { id: "snmp-auth", name: "auth" }, opt("", "none"), ["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"].map((p) => opt(p)))),
    h("div", { class: "f-160", "data-for": "v3" }, h("label", { for: "snmp-auth-pw" }, "Its password"), h("input", { id: "snmp-auth-pw", name: "auth_password", type: "password", autocomplete: "new-password" })),
    h("div", { class: "f-160-fixed", "data-for": "v3" }, h("label", { for: "snmp-priv" }, "Privacy"), h("select", { id: "snmp-priv", name: "priv" }, opt("", "none"), opt("AES"))),
    h("div", { class: "f-160", "data-for": "v3" }, h("label", { for: "snmp-priv-pw" }, "Its password"), h("input", { id: "snmp-priv-pw", name: "privacy_password", type: "password", autocomplete: "new-password" })),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add credential"));
  const showKind = () => {
    for (const el of snmpForm.querySelectorAll("[data-for]")) el.hidden = el.dataset.for !== snmpForm.kind.value;
  };
  snmpForm.kind.addEventListener("change", showKind);
  showKind();
  snmpForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = snmpForm, body = {};
    if (f.label.value.trim()) body.label = f.label.value.trim();
    if (f.kind.value === "community") {
      if (!f.community.value) { toast("Enter the community.", "err"); f.community.focus(); return; }
      body.community = f.community.value;
    } else {
      if (!f.user.value.trim()) { toast("Enter the user name.", "err"); f.user.focus(); return; }
      body.user = f.user.value.trim();
      if (f.auth.value) { body.auth_protocol = f.auth.value; body.auth_password = f.auth_password.value; }
      if (f.priv.value) { body.privacy_protocol = f.priv.value; body.privacy_password = f.privacy_password.value; }
    }
    try {
      await api("/networks/" + encodeURIComponent(f.network.value) + "/snmp-credentials", { method: "POST", body });
      f.reset(); showKind();
      toast("SNMP credential added; the network's daemons use it from their next scan", "ok");
      await loadS();
    } catch (ex) { report(ex); }
  });

  await Promise.all([loadD(), loadK(), loadT().catch(report), loadW().catch(report), loadS().catch(report), loadA().catch(report), loadAudit().catch(report)]);
  await loadN().catch(report);
  const table = (id, heads, body) => h("div", { class: "table-wrap" }, h("table", { class: "data", id }, h("thead", null, h("tr", null, heads.map((t) => h("th", null, t)))), body));
  append(root, [
    pageHead("Daemons & keys", "Daemons scan for this server; keys let them in, tokens let scripts in"),
    card("Daemons", null, table("daemons-table", ["Name", "Network", "Mode", "Raw sockets", "Docker", "Listening", "Subnets", "Version", "Push URL", "Last seen", "Status"], dBody)),
    isAdmin ? card("Daemon keys", null, [table("keys-table", ["Name", "Network", "Created", "Last used", ""], kBody), h("div", { class: "divider" }, keyForm), keyOut]) : null,
    h("div", { class: "grid cols-2 mt-18" },
      card(isAdmin ? "API tokens" : "Your API tokens", isAdmin ? null : h("span", { class: "muted small" }, "never more than your role"),
        [table("tokens-table", ["Name", "Role", "Created", "Last used", ""], tBody), h("div", { class: "divider" }, tokForm), tokOut]),
      isAdmin ? card("Webhooks", null, [table("webhooks-table", ["URL", "Created", ""], wBody), h("div", { class: "divider" }, whForm), whOut]) : null),
    isAdmin ? h("div", { class: "mt-18" }, card("Alerts", h("span", { class: "muted small" }, "told when the network changes: by e-mail, push or webhook"),
      [table("alerts-table", ["Name", "When", "About", "Sends to", "Limits", "Last", ""], aBody), h("div", { class: "divider" }, alertForm)])) : null,
    isAdmin ? h("div", { class: "mt-18" }, card("Audit trail", h("span", { class: "muted small" }, "who did what: sign-ins, scans, edits, keys and tokens, settings"),
      table("audit-table", ["When", "Who", "From", "What", "On"], auBody))) : null,
    h("div", { class: "mt-18" }, card("Networks", null, [table("networks-table", ["Name", "Subnets", "Seen, not covered", "Id"], nBody), isAdmin ? h("div", { class: "divider" }, netForm) : null])),
    isAdmin ? h("div", { class: "mt-18" }, card("SNMP credentials", h("span", { class: "muted small" }, "sealed on the server; handed only to the network's daemons"),
      [table("snmp-table", ["Network", "Label", "Kind", "User", "Authentication", "Privacy", "Added", ""], sBody), h("div", { class: "divider" }, snmpForm)])) : null,
  ]);
  ctx.every(15000, () => loadD().catch(() => null));
}

// Users & account: your password and sessions; for admins, the users and their roles.

import { append, badge, card, emptyRow, h, icon, pageHead, timeEl, toast } from "../dom.js";
import { api, can, items, report, state } from "../api.js";

const ROLE_STYLE = { admin: "warn", editor: "ok", viewer: "info" };
const ROLE_TEXT = {
  admin: "everything: users, networks, daemons, keys, credentials, alerts, the audit trail",
  editor: "scans and schedules, device names, notes, tags and deletion; reading",
  viewer: "reading only",
};

export async function pageUsers(root, ctx) {
  const isAdmin = can("admin");
  const me = state.me || {};
  const sBody = h("tbody"), uBody = h("tbody");
  const table = (id, heads, body) => h("div", { class: "table-wrap" }, h("table", { class: "data", id }, h("thead", null, h("tr", null, heads.map((t) => h("th", null, t)))), body));

  // ---- your sessions
  async function loadSessions() {
    const list = items(await api("/me/sessions"));
    sBody.replaceChildren(...(list.length ? list.map((s) => h("tr", { "data-session-id": s.id },
      h("td", { class: "nowrap" }, timeEl(s.created_at), s.current ? [" ", badge("this one", "ok")] : null),
      h("td", { class: "nowrap" }, s.last_used_at ? timeEl(s.last_used_at) : h("span", { class: "muted" }, "—")),
      h("td", { class: "nowrap" }, s.expires_at ? timeEl(s.expires_at) : "—"),
      h("td", null, h("button", { type: "button", class: "btn sm danger", "data-end": s.id, "data-current": s.current ? "1" : "" }, s.current ? "Sign out" : "End")))) : [emptyRow(4, "No session: you came with an API token.")]));
  }
  sBody.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-end]");
    if (!b) return;
    if (!confirm(b.dataset.current ? "End this session? You will be signed out." : "End this session? That browser is signed out at once.")) return;
    try {
      await api("/me/sessions/" + encodeURIComponent(b.dataset.end), { method: "DELETE" });
      if (b.dataset.current) { location.reload(); return; }
      toast("Session ended", "ok");
      await loadSessions();
    } catch (ex) { report(ex); }
  });

  // ---- your password
  const pwForm = h("form", { id: "password-form", class: "card-body form-actions end" },
    h("div", { class: "f-200" }, h("label", { for: "pw-current" }, "Current password"), h("input", { id: "pw-current", name: "current", type: "password", autocomplete: "current-password", required: true })),
    h("div", { class: "f-200" }, h("label", { for: "pw-new" }, "New password"), h("input", { id: "pw-new", name: "next", type: "password", autocomplete: "new-password", required: true, minlength: 12 })),
    h("div", { class: "f-200" }, h("label", { for: "pw-again" }, "Again"), h("input", { id: "pw-again", name: "again", type: "password", autocomplete: "new-password", required: true })),
    h("button", { type: "submit", class: "btn primary" }, "Change password"));
  pwForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = pwForm;
    if (f.next.value.length < 12) { toast("A password has at least 12 characters.", "err"); f.next.focus(); return; }
    if (f.next.value !== f.again.value) { toast("The two new passwords differ.", "err"); f.again.focus(); return; }
    try {
      await api("/me/password", { method: "PUT", body: { current_password: f.current.value, new_password: f.next.value } });
      f.reset();
      toast("Password changed; your other sessions are signed out", "ok");
      await loadSessions();
    } catch (ex) { report(ex); }
  });

  // ---- users (admins)
  let users = [];
  async function loadUsers() {
    if (!isAdmin) return;
    users = items(await api("/users"));
    uBody.replaceChildren(...(users.length ? users.map((u) => {
      const self = u.id === me.id;
      const role = h("select", { "data-role-of": u.id, "aria-label": "Role of " + u.username },
        ["admin", "editor", "viewer"].map((r) => h("option", { value: r, selected: r === u.role }, r)));
      return h("tr", { "data-user-id": u.id, "data-username": u.username },
        h("td", null, h("strong", null, u.username), self ? [" ", badge("you", "info")] : null),
        h("td", null, role),
        h("td", null, u.disabled_at ? badge("disabled", "err", true) : badge("enabled", "ok", true)),
        h("td", { class: "nowrap" }, timeEl(u.created_at)),
        h("td", { class: "nowrap" }, u.last_seen_at ? timeEl(u.last_seen_at) : h("span", { class: "muted" }, "never")),
        h("td", { class: "nowrap" },
          h("button", { type: "button", class: "btn sm", "data-password-of": u.id }, "Set password"), " ",
          u.disabled_at
            ? h("button", { type: "button", class: "btn sm", "data-enable": u.id }, "Enable")
            : h("button", { type: "button", class: "btn sm danger", "data-disable": u.id }, "Disable")));
    }) : [emptyRow(6, "No users.")]));
  }
  const nameOf = (id) => (users.find((u) => u.id === id) || {}).username || id;
  async function patchUser(id, body, done) {
    try {
      await api("/users/" + encodeURIComponent(id), { method: "PATCH", body });
      toast(done, "ok");
    } catch (ex) { report(ex); }
    await loadUsers().catch(report);
  }
  uBody.addEventListener("change", async (e) => {
    const sel = e.target.closest("select[data-role-of]");
    if (sel) await patchUser(sel.dataset.roleOf, { role: sel.value }, nameOf(sel.dataset.roleOf) + " is now " + sel.value);
  });
  uBody.addEventListener("click", async (e) => {
    const dis = e.target.closest("button[data-disable]");
    if (dis) {
      if (confirm("Disable " + nameOf(dis.dataset.disable) + "? Their sessions end and their tokens stop working until enabled again.")) await patchUser(dis.dataset.disable, { disabled: true }, nameOf(dis.dataset.disable) + " disabled");
      return;
    }
    const en = e.target.closest("button[data-enable]");
    if (en) { await patchUser(en.dataset.enable, { disabled: false }, nameOf(en.dataset.enable) + " enabled"); return; }
    const pw = e.target.closest("button[data-password-of]");
    if (pw) {
      const p = prompt("A new password for " + nameOf(pw.dataset.passwordOf) + " (at least 12 characters). Their sessions end.");
      if (p) await patchUser(pw.dataset.passwordOf, { password: p }, "Password set; " + nameOf(pw.dataset.passwordOf) + "'s sessions ended");
    }
  });
  const userForm = h("form", { id: "new-user-form", class: "card-body form-actions end" },
    h("div", { class: "f-160" }, h("label", { for: "user-name-new" }, "User name"), h("input", { id: "user-name-new", name: "username", required: true, maxlength: 64, autocomplete: "off" })),
    h("div", { class: "f-200" }, h("label", { for: "user-password-new" }, "Password"), h("input", { id: "user-password-new", name: "password", type: "password", required: true, minlength: 12, autocomplete: "new-password" })),
    h("div", { class: "f-160-fixed" }, h("label", { for: "user-role-new" }, "Role"), h("select", { id: "user-role-new", name: "role" }, ["viewer", "editor", "admin"].map((r) => h("option", { value: r }, r)))),
    h("button", { type: "submit", class: "btn primary" }, icon("plus", "sm"), "Add user"));
  userForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = userForm;
    const username = f.username.value.trim();
    if (!username) { toast("Give the user a name.", "err"); f.username.focus(); return; }
    if (f.password.value.length < 12) { toast("A password has at least 12 characters.", "err"); f.password.focus(); return; }
    try {
      await api("/users", { method: "POST", body: { username, password: f.password.value, role: f.role.value } });
      f.reset();
      toast(username + " added", "ok");
      await loadUsers();
    } catch (ex) { report(ex); }
  });

  await Promise.all([loadSessions().catch(report), loadUsers().catch(report)]);
  append(root, [
    pageHead("Users & account", isAdmin ? "Who may use this server, and what each may do" : "Your password and your sessions"),
    card("Your account", h("span", { class: "muted small" }, me.role ? [badge(me.role, ROLE_STYLE[me.role] || "info"), " " + (ROLE_TEXT[me.role] || "")] : null),
      [h("div", { class: "card-body" }, h("strong", { id: "account-name" }, me.username || "—")), h("div", { class: "divider" }, pwForm)]),
    h("div", { class: "mt-18" }, card("Your sessions", h("span", { class: "muted small" }, "each browser you signed in from; a session lasts 7 days"),
      table("sessions-table", ["Signed in", "Last used", "Ends", ""], sBody))),
    isAdmin ? h("div", { class: "mt-18" }, card("Users", h("span", { class: "muted small" }, "admin: everything · editor: scans and device edits · viewer: reading"),
      [table("users-table", ["Name", "Role", "Status", "Created", "Last seen", ""], uBody), h("div", { class: "divider" }, userForm)])) : null,
  ]);
  ctx.every(30000, () => loadSessions().catch(() => null));
}

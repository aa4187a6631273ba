// The sign-in form and signing out.

import { $ } from "./dom.js";
import { api, state } from "./api.js";
import { stopEvents } from "./live.js";
import { leavePage } from "./router.js";

// What to do once signed in; set by app.js.
let afterSignin = async () => {};

export function showSignin() {
  state.signedIn = false;
  stopEvents();
  leavePage();
  $("#shell").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").hidden = true;
  document.body.dataset.page = "signin";
  const u = $("#signin-form [name=username]");
  if (u && !u.value) u.focus(); else $("#signin-form [name=password]").focus();
}
export function initSignin(whenSignedIn) {
  afterSignin = whenSignedIn;
  const form = $("#signin-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#signin-error");
    err.hidden = true;
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) { err.textContent = "Enter your user name and password."; err.hidden = false; return; }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      await api("/auth/login", { method: "POST", body: { username, password }, noAuthRedirect: true });
      form.password.value = "";
      $("#signin").hidden = true;
      await afterSignin();
    } catch (ex) {
      err.textContent = ex.status === 401 ? "Wrong user name or password." : ex.status === 429 ? "Too many attempts, wait a minute." : ex.message;
      err.hidden = false;
      form.password.select();
    } finally {
      btn.disabled = false;
    }
  });
  $("#signout").addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST", noAuthRedirect: true }); } catch (_) { /* signed out anyway */ }
    state.me = null;
    showSignin();
  });
}

// Scanopy web UI: a small single-page app of native ES modules, no dependencies, no build step.
// This is the entry module (index.html loads it); the pages and helpers are imported below.

import { $, $$, h, icon, fillIcons } from "./dom.js";
import { api, loadDaemons, loadNetworks, loadStatus, onUnauthorized, state } from "./api.js";
import { relTime } from "./format.js";
import { setLive, startEvents } from "./live.js";
import { route } from "./router.js";
import { initSignin, showSignin } from "./signin.js";

async function boot() {
  try {
    state.me = await api("/me");
  } catch (e) {
    if (e.status === 401) return;
    document.body.dataset.page = "error";
    $("#signin").hidden = true;
    $("#shell").hidden = false;
    $("#view").replaceChildren(h("div", { class: "banner err" }, icon("alert"), h("div", null, h("strong", null, "Cannot reach the scanopy server. "), e.message, " ",
      h("button", { type: "button", class: "btn sm", onclick: () => boot() }, "Retry"))));
    return;
  }
  state.signedIn = true;
  $("#signin").hidden = true;
  $("#shell").hidden = false;
  const uname = (state.me && state.me.username) || "";
  $("#user-name").textContent = uname + (state.me && state.me.role ? " · " + state.me.role : "");
  $("#user-avatar").textContent = uname.slice(0, 1) || "?";
  await Promise.all([loadStatus().catch(() => null), loadNetworks().catch(() => null), loadDaemons().catch(() => null)]);
  setLive(null, "Connecting…");
  startEvents();
  await route();
}

function init() {
  fillIcons(document);
  // a deep link like /devices/ID (no hash) becomes #/devices/ID
  if (!location.hash && location.pathname !== "/" && !location.pathname.startsWith("/ui/")) {
    history.replaceState(null, "", "/#" + location.pathname + location.search);
  }
  onUnauthorized(showSignin);
  initSignin(boot);
  window.addEventListener("hashchange", route);
  // keep relative times fresh
  setInterval(() => {
    for (const el of $$("#view [data-time]")) el.textContent = relTime(el.dataset.time);
  }, 30000);
  boot();
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();

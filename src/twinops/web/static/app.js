// The twinops console: a hash-routed single-page app over the REST API (/v1/...).

import { ApiError, clearKey, get, getKey, onUnauthorized, setKey } from "./lib/api.js";
import { clear, el, errorBox } from "./lib/dom.js";
import * as overview from "./pages/overview.js";
import * as twin from "./pages/twin.js";
import * as scenario from "./pages/scenario.js";
import * as jobs from "./pages/jobs.js";
import * as registry from "./pages/registry.js";
import * as quarantine from "./pages/quarantine.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const logout = document.getElementById("logout");
const flash = document.getElementById("flash");

// [pattern, page module, nav item]; a page exports render(root, params, ctx) and may
// answer a cleanup function (stop streams and timers when the user leaves).
const ROUTES = [
  [/^\/?$/, overview, "overview"],
  [/^\/twins\/([^/]+)$/, twin, "overview"],
  [/^\/scenario$/, scenario, "scenario"],
  [/^\/jobs$/, jobs, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobs, "jobs"],
  [/^\/registry$/, registry, "registry"],
  [/^\/registry\/(.+)$/, registry, "registry"],
  [/^\/quarantine$/, quarantine, "quarantine"],
];

let cleanup = null;
let generation = 0;
let signingIn = false;

export function showFlash(message) {
  clear(flash);
  if (message) flash.append(el("p", {}, message, " ", el("button", { type: "button", class: "link", onclick: () => clear(flash) }, "Dismiss")));
}

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const [path, search = ""] = raw.split("?");
  return { path, params: new URLSearchParams(search) };
}

async function route() {
  const mine = ++generation;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a page's cleanup must never block the next page
    }
    cleanup = null;
  }
  clear(main);
  if (!getKey()) {
    renderLogin();
    return;
  }
  nav.hidden = false;
  logout.hidden = false;
  const { path, params } = parseHash();
  let match = null;
  let entry = null;
  for (const candidate of ROUTES) {
    match = candidate[0].exec(path);
    if (match) {
      entry = candidate;
      break;
    }
  }
  for (const link of nav.querySelectorAll("a")) {
    if (entry && link.dataset.nav === entry[2]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!entry) {
    main.append(el("h1", {}, "Not found"), el("p", {}, "No page at ", el("code", {}, path), ". ", el("a", { href: "#/" }, "Back to the fleet")));
    return;
  }
  const root = el("div", { class: "page" });
  main.append(root);
  const ctx = { isCurrent: () => mine === generation, navigate: (hash) => (location.hash = hash) };
  try {
    const result = await entry[1].render(root, { match: match.slice(1), query: params }, ctx);
    if (typeof result === "function") {
      if (mine === generation) cleanup = result;
      else result();
    }
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError && error.status === 401) return;
    root.append(errorBox(error));
  }
}

function renderLogin(message) {
  nav.hidden = true;
  logout.hidden = true;
  clear(main);
  const input = el("input", { id: "api-key", name: "key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const problem = el("div", { id: "login-error", role: "alert" }, message ? errorBox(message) : null);
  const form = el(
    "form",
    { class: "card login", "aria-labelledby": "login-title" },
    el("h1", { id: "login-title" }, "Sign in"),
    el("p", {}, "Paste an API key. The embedded demo prints an admin key once when it first starts; ", el("code", {}, "twinops keys create"), " makes others."),
    el("label", { for: "api-key" }, "API key"),
    input,
    el("button", { type: "submit", class: "primary" }, "Sign in"),
    problem,
    el("p", { class: "muted small" }, "The key stays in this tab only (sessionStorage) and is sent as Authorization: Bearer."),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    setKey(key);
    clear(problem);
    signingIn = true;
    try {
      await get("/v1/twins?limit=1");
    } catch (error) {
      clearKey();
      problem.append(errorBox(error));
      input.focus();
      return;
    } finally {
      signingIn = false;
    }
    showFlash("");
    route();
  });
  main.append(form);
  input.focus();
}

onUnauthorized((error) => {
  if (signingIn) return; // the sign-in form shows its own error
  clearKey();
  renderLogin(new ApiError(401, { title: "Signed out", detail: `${error.detail} — sign in again.` }));
});

logout.addEventListener("click", () => {
  clearKey();
  if (cleanup) cleanup();
  cleanup = null;
  location.hash = "#/";
  renderLogin();
});

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  if (reason && reason.name === "AbortError") {
    event.preventDefault();
    return;
  }
  if (reason instanceof ApiError) {
    event.preventDefault();
    if (reason.status !== 401) showFlash(`${reason.title}: ${reason.detail}`);
  }
});
document.getElementById("booting")?.remove();
route();

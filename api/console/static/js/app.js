// The console shell: sign-in with an API key, role-aware navigation, and a
// hash router that hands #/page/args to one module per page.
import { api, clearKey, getKey, setKey } from "./api.js";
import { errorNote, fmtTime, h } from "./format.js";

const OPERATORS = ["admin", "operator"];
const EVERYONE = ["admin", "operator", "scientist"];

/** Page name -> its title, the roles that see it, its module, in nav order. */
const PAGES = {
  overview: { title: "Overview", roles: OPERATORS, module: "./overview.js", nav: true },
  timeline: { title: "Timeline", roles: OPERATORS, module: "./timeline.js", nav: true },
  passes: { title: "Passes", roles: OPERATORS, module: "./passes.js", nav: true },
  satellites: { title: "Satellites", roles: OPERATORS, module: "./satellites.js", nav: true },
  datasets: { title: "Datasets", roles: EVERYONE, module: "./datasets.js", nav: true },
  usage: { title: "Usage", roles: OPERATORS, module: "./usage.js", nav: true },
  keys: { title: "API keys", roles: ["admin"], module: "./keys.js", nav: true },
  contact: { title: "Contact", roles: OPERATORS, module: "./contact.js", nav: false },
};

const state = { session: null, fetchedAt: 0, cleanup: null };

/** The service clock's now in epoch ms (simulated clocks run at their speed-up). */
export function serviceNow() {
  const s = state.session;
  return Date.parse(s.now) + (Date.now() - state.fetchedAt) * s.clock_speedup;
}

function homeOf(role) {
  return role === "scientist" ? "datasets" : "overview";
}

function renderSignIn(message) {
  document.getElementById("nav").replaceChildren();
  document.getElementById("who").replaceChildren();
  document.getElementById("clock").replaceChildren();
  const input = h("input", {
    id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "api-key-help",
  });
  const form = h(
    "form",
    { class: "signin", id: "signin" },
    h("h1", {}, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("p", { id: "api-key-help", class: "muted" },
      "A key from `groundstation keys create`. It is kept for this browser session only."),
    h("button", { type: "submit" }, "Sign in"),
    message ? errorNote(message) : null,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setKey(input.value.trim());
    await start();
  });
  document.getElementById("main").replaceChildren(form);
  input.focus();
}

function renderShell(session) {
  const allowed = Object.entries(PAGES).filter(([, p]) => p.nav && p.roles.includes(session.role));
  const links = allowed.map(([name, p]) => h("a", { href: `#/${name}`, "data-page": name }, p.title));
  links.push(h("a", { href: "/docs", "data-page": "docs" }, "API docs"));
  document.getElementById("nav").replaceChildren(...links);
  const tenant = session.role === "scientist"
    ? `tenants ${session.granted_tenants.join(", ") || "none"}`
    : session.tenant ? `tenant ${session.tenant}` : "all tenants";
  const signOut = h("button", { type: "button", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", () => {
    clearKey();
    window.location.hash = "";
    renderSignIn(null);
  });
  document.getElementById("who").replaceChildren(
    h("span", { id: "who-name" }, `${session.name} (${session.role}, ${tenant})`),
    signOut,
  );
  renderClock();
}

function renderClock() {
  const s = state.session;
  const clock = document.getElementById("clock");
  if (s.clock === "simulated") {
    clock.textContent = `Simulated clock: service time ${fmtTime(serviceNow())}` +
      (s.clock_speedup !== 1 ? ` (running ${s.clock_speedup}× real time)` : "") +
      ". Contacts and their states follow this clock, not the wall clock.";
  } else {
    clock.replaceChildren();
  }
}

function parseHash() {
  if (!window.location.hash.startsWith("#/")) return { name: homeOf(state.session.role), args: [] };
  const [name, ...args] = window.location.hash.replace(/^#\/?/, "").split("/");
  return { name: name || homeOf(state.session.role), args: args.map(decodeURIComponent) };
}

async function route() {
  if (!state.session) return;
  if (state.cleanup) {
    state.cleanup();
    state.cleanup = null;
  }
  const { name, args } = parseHash();
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  try {
    await renderPage(main, name, args);
  } finally {
    main.dataset.page = name;
    main.dataset.ready = "true";
  }
}

async function renderPage(main, name, args) {
  const page = PAGES[name];
  if (!page) {
    main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, `There is no page "${name}".`));
    return;
  }
  document.title = `${page.title} · groundstation console`;
  if (!page.roles.includes(state.session.role)) {
    main.replaceChildren(
      h("h1", {}, page.title),
      h("p", { class: "error", role: "alert" },
        `The ${page.title} page is not available to role ${state.session.role}.`),
    );
    return;
  }
  main.replaceChildren(h("h1", {}, page.title), h("p", { class: "muted" }, "Loading…"));
  const controller = new AbortController();
  state.cleanup = () => controller.abort();
  try {
    const module = await import(page.module);
    await module.render(main, { session: state.session, args, signal: controller.signal, now: serviceNow });
  } catch (err) {
    if (!controller.signal.aborted) main.append(errorNote(err));
  }
}

async function start() {
  if (!getKey()) {
    renderSignIn(null);
    return;
  }
  try {
    state.session = await api("/console/session");
    state.fetchedAt = Date.now();
  } catch (err) {
    clearKey();
    state.session = null;
    renderSignIn(err.status === 401 ? `Not signed in: ${err.message}` : err.message);
    return;
  }
  renderShell(state.session);
  await route();
}

window.addEventListener("hashchange", () => {
  if (window.location.hash === "#main") return; // the skip link, not a page
  document.getElementById("main").dataset.ready = "false";
  route().then(() => document.getElementById("main").focus({ preventScroll: true }));
});
setInterval(() => state.session && renderClock(), 1000);
start();

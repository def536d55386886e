// Small helpers shared by the pages: DOM building (text only, never HTML
// from the API), UTC times, sizes, and the colour of each contact state.

/** h("a", {href: "#/x", class: "y"}, "text", child) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "style") {
      el.style.cssText = value; // CSSOM: allowed by the page's style-src 'self'
    } else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace `parent`'s children with `children`, leaving out null, undefined
 * and false as h() does (replaceChildren would write them as text). */
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** "2023-07-04 18:00:00Z" from an ISO string, a Date or epoch milliseconds. */
export function fmtTime(value) {
  if (value === null || value === undefined) return "";
  const d = value instanceof Date ? value : new Date(value);
  return d.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

export function fmtClock(value) {
  return fmtTime(value).slice(11, 16);
}

export function fmtDuration(seconds) {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min ${s % 60} s`;
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do { v /= 1024; i += 1; } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtNumber(n, digits = 1) {
  return n === null || n === undefined ? "–" : Number(n).toFixed(digits);
}

/** Fill colour of each contact state (timeline bars, state badges). */
export const STATE_COLOURS = {
  AVAILABLE: "#8c959f",
  SCHEDULED: "#0969da",
  PREPASS: "#8250df",
  PASS: "#bf3989",
  POSTPASS: "#9a6700",
  COMPLETED: "#1a7f37",
  FAILED: "#cf222e",
  CANCELLED: "#6e7781",
  CANCELLING: "#57606a",
  FAILED_TO_SCHEDULE: "#953800",
  PROVIDER_FAILED: "#a40e26",
};

/** Colour of each verdict (vetting): a stripe along the bottom of a
 * timeline bar, and the verdict badge. None is a state colour. */
export const VERDICT_COLOURS = {
  good: "#4ac26b",
  partial: "#d4a72c",
  bad: "#fa4549",
  failed: "#82071e",
};

/** "partial" badge with its source, or "not vetted". */
export function verdictBadge(verdict, source) {
  if (!verdict) return h("span", { class: "verdict none" }, "not vetted");
  return h("span", { class: "verdict", "data-verdict": verdict, style: `background:${VERDICT_COLOURS[verdict] || "#57606a"}` },
    source ? `${verdict} (${source})` : verdict);
}

export const RUNNING_STATES = ["PREPASS", "PASS", "POSTPASS", "CANCELLING"];
export const FAILED_STATES = ["FAILED", "FAILED_TO_SCHEDULE", "PROVIDER_FAILED"];

export function stateBadge(state) {
  return h("span", { class: "state", style: `background:${STATE_COLOURS[state] || "#57606a"}` }, state);
}

export function table(headers, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", { class: "muted" }, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
  );
}

export function emptyNote(text) {
  return h("p", { class: "empty" }, text);
}

export function errorNote(err) {
  return h("p", { class: "error", role: "alert" }, err && err.message ? err.message : String(err));
}

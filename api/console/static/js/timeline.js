// Timeline: the contacts of one UTC day or week per antenna, coloured by state,
// with a stripe in the colour of its verdict along the bottom of each vetted
// contact's bar. All bars are drawn on one canvas in one pass (bucketed by
// state and verdict: one path and one fill each), so 12,000 contacts draw in
// milliseconds; the
// selection is drawn on an overlay canvas. Click a bar, or select one with
// the arrow keys and press Enter, to open the contact. Zoom (buttons, or + and
// - on the canvas) narrows the view down to 15 minutes within the day or week
// fetched, and Earlier/Later pan it by half a view; each redraws from the
// contacts already in the page. Maintenance windows are hatched across their
// antenna's row, behind the contacts, and listed in a table below.
import { allPages, api } from "./api.js";
import { STATE_COLOURS, VERDICT_COLOURS, emptyNote, fmtClock, fmtTime, h, table } from "./format.js";

const DAY_MS = 86400000;
const ROW_H = 14;
const AXIS_H = 22;
const LABEL_W = 150;
const STRIPE_H = 3; // the verdict stripe at the bottom of a bar

function dayStart(ms) {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** Rows (antennas) and, per row, its contacts sorted by start (for hit
 * tests) and its maintenance windows. */
function layout(stations, contacts, windows) {
  const rows = [];
  const index = new Map();
  for (const s of stations) {
    for (const a of s.antennas) {
      index.set(a.id, rows.length);
      rows.push({ antenna: a.id, station: s.id, items: [], maintenance: [] });
    }
  }
  for (const c of contacts) {
    if (!index.has(c.antenna_id)) {
      index.set(c.antenna_id, rows.length);
      rows.push({ antenna: c.antenna_id, station: c.station_id, items: [], maintenance: [] });
    }
    rows[index.get(c.antenna_id)].items.push({
      c, start: Date.parse(c.booked_start), end: Date.parse(c.booked_end),
    });
  }
  for (const r of rows) r.items.sort((x, y) => x.start - y.start);
  for (const m of windows) {
    if (index.has(m.antenna_id)) {
      rows[index.get(m.antenna_id)].maintenance.push({ start: Date.parse(m.start), end: Date.parse(m.end) });
    }
  }
  return rows;
}

const MIN_VIEW_MS = 15 * 60000;
const TICK_STEPS_MS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * 60000);

/** Grid lines at a round step (at most about 12 labels); a date label at
 * each midnight when the view spans more than a day, else HH:MM. */
function drawAxis(g, from, spanMs, width) {
  const step = TICK_STEPS_MS.find((s) => spanMs / s <= 12) || DAY_MS;
  const scale = (width - LABEL_W) / spanMs;
  g.fillStyle = "#57606a";
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#d0d7de";
  g.beginPath();
  for (let t = Math.ceil(from / step) * step; t <= from + spanMs; t += step) {
    const x = LABEL_W + (t - from) * scale;
    g.moveTo(x + 0.5, AXIS_H - 4);
    g.lineTo(x + 0.5, g.canvas.height);
    if (t >= from + spanMs) continue;
    const label = spanMs > DAY_MS ? (t % DAY_MS === 0 ? fmtTime(t).slice(5, 10) : null) : fmtClock(t);
    if (label) g.fillText(label, x + 2, 13);
  }
  g.stroke();
}

function drawNow(g, from, spanMs, width, nowMs, height) {
  if (nowMs < from || nowMs > from + spanMs) return;
  const x = LABEL_W + ((width - LABEL_W) * (nowMs - from)) / spanMs;
  g.strokeStyle = "#cf222e";
  g.lineWidth = 1.5;
  g.beginPath();
  g.moveTo(x, AXIS_H - 6);
  g.lineTo(x, height);
  g.stroke();
  g.fillStyle = "#cf222e";
  g.fillText("now", x + 3, AXIS_H - 8 + 8);
}

/** Draw every row and bar in one pass; -> milliseconds it took. */
function draw(canvas, rows, from, spanMs, width, nowMs) {
  const t0 = performance.now();
  const ratio = window.devicePixelRatio || 1;
  const height = AXIS_H + rows.length * ROW_H;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  drawAxis(g, from, spanMs, width);
  const scale = (width - LABEL_W) / spanMs;
  const paths = {};
  const stripes = {};
  const maintenance = new Path2D();
  g.fillStyle = "#1b1f24";
  g.font = "11px system-ui, sans-serif";
  rows.forEach((row, i) => {
    const y = AXIS_H + i * ROW_H;
    if (i % 2) {
      g.fillStyle = "#f6f8fa";
      g.fillRect(0, y, width, ROW_H);
      g.fillStyle = "#1b1f24";
    }
    g.fillText(row.antenna, 4, y + ROW_H - 3, LABEL_W - 8);
    for (const m of row.maintenance) {
      if (m.end < from || m.start > from + spanMs) continue;
      const x0 = LABEL_W + Math.max(0, m.start - from) * scale;
      const x1 = LABEL_W + Math.min(spanMs, m.end - from) * scale;
      maintenance.rect(x0, y, Math.max(1, x1 - x0), ROW_H);
    }
    for (const it of row.items) {
      if (it.end < from || it.start > from + spanMs) continue; // outside the view
      const x0 = LABEL_W + Math.max(0, it.start - from) * scale;
      const x1 = LABEL_W + Math.min(spanMs, it.end - from) * scale;
      const path = paths[it.c.state] || (paths[it.c.state] = new Path2D());
      path.rect(x0, y + 2, Math.max(1, x1 - x0), ROW_H - 4);
      const verdict = it.c.verdict;
      if (verdict) {
        const stripe = stripes[verdict] || (stripes[verdict] = new Path2D());
        stripe.rect(x0, y + ROW_H - 2 - STRIPE_H, Math.max(1, x1 - x0), STRIPE_H);
      }
    }
  });
  g.fillStyle = maintenancePattern(g);
  g.fill(maintenance);
  for (const [state, path] of Object.entries(paths)) {
    g.fillStyle = STATE_COLOURS[state] || "#57606a";
    g.fill(path);
  }
  for (const [verdict, stripe] of Object.entries(stripes)) {
    g.fillStyle = VERDICT_COLOURS[verdict] || "#57606a";
    g.fill(stripe);
  }
  drawNow(g, from, spanMs, width, nowMs, height);
  return performance.now() - t0;
}

/** Grey diagonal hatching: the fill of maintenance windows. */
function maintenancePattern(g) {
  const tile = document.createElement("canvas");
  tile.width = 8;
  tile.height = 8;
  const t = tile.getContext("2d");
  t.fillStyle = "#eaeef2";
  t.fillRect(0, 0, 8, 8);
  t.strokeStyle = "#6e7781";
  t.lineWidth = 1.5;
  t.beginPath();
  t.moveTo(0, 8);
  t.lineTo(8, 0);
  t.stroke();
  return g.createPattern(tile, "repeat");
}

function legend(counts, verdicts, maintenance) {
  return h("div", {},
    h("ul", { class: "legend", id: "tl-legend-states", "aria-label": "Colours of contact states" },
      Object.entries(STATE_COLOURS).map(([state, colour]) => h("li", {},
        h("span", { class: "swatch", style: `background:${colour}`, "aria-hidden": "true" }),
        `${state} (${counts[state] || 0})`))),
    h("ul", { class: "legend", id: "tl-legend-verdicts", "aria-label": "Colours of verdicts (stripe under a bar)" },
      Object.entries(VERDICT_COLOURS).map(([verdict, colour]) => h("li", { "data-verdict": verdict },
        h("span", { class: "swatch stripe", style: `background:${colour}`, "aria-hidden": "true" }),
        `${verdict} (${verdicts[verdict] || 0})`)),
      h("li", { "data-verdict": "none" }, `not vetted (${verdicts.none || 0})`)),
    h("ul", { class: "legend", id: "tl-legend-maintenance", "aria-label": "Maintenance windows" },
      h("li", {}, h("span", { class: "swatch maintenance", "aria-hidden": "true" }), `maintenance (${maintenance})`)));
}

function controls(from, days, stations, station, onChange) {
  const day = h("input", { type: "date", id: "tl-day", value: fmtTime(from).slice(0, 10) });
  const select = h("select", { id: "tl-station" },
    h("option", { value: "" }, "All stations"),
    stations.map((s) => h("option", { value: s.id, selected: s.id === station }, s.name)));
  const span = h("select", { id: "tl-span" },
    h("option", { value: "1", selected: days === 1 }, "One day"),
    h("option", { value: "7", selected: days === 7 }, "One week"));
  const go = (ms) => onChange(ms, select.value, Number(span.value));
  day.addEventListener("change", () => day.value && go(Date.parse(`${day.value}T00:00:00Z`)));
  select.addEventListener("change", () => go(from));
  span.addEventListener("change", () => go(from));
  const unit = days === 1 ? "day" : "week";
  return h("div", { class: "controls" },
    h("label", { for: "tl-day" }, "From (UTC)", day),
    h("label", { for: "tl-span" }, "Span", span),
    h("label", { for: "tl-station" }, "Station", select),
    h("button", { type: "button", id: "tl-prev", onclick: () => go(from - days * DAY_MS) }, `Previous ${unit}`),
    h("button", { type: "button", id: "tl-next", onclick: () => go(from + days * DAY_MS) }, `Next ${unit}`));
}

/** Keyboard and pointer selection over the drawn rows, in the current
 * `view` ({from, spanMs}, changed by zooming and panning); -> {show,
 * selected} for the zoom to redraw the selection and centre on it. */
function interact(canvas, overlay, rows, view, width, announce) {
  let sel = null; // [row, item]
  const g = overlay.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  overlay.width = canvas.width;
  overlay.height = canvas.height;
  overlay.style.width = canvas.style.width;
  overlay.style.height = canvas.style.height;
  const itemAt = (r, k) => rows[r] && rows[r].items[k];
  function show() {
    const { from, spanMs } = view;
    const scale = (width - LABEL_W) / spanMs;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, overlay.height);
    if (!sel) return;
    const it = itemAt(...sel);
    const x0 = LABEL_W + Math.max(0, it.start - from) * scale;
    const x1 = LABEL_W + Math.min(spanMs, it.end - from) * scale;
    g.strokeStyle = "#ff9500";
    g.lineWidth = 2;
    g.strokeRect(x0 - 2, AXIS_H + sel[0] * ROW_H, Math.max(1, x1 - x0) + 4, ROW_H);
    announce(`Selected contact ${it.c.id}: NORAD ${it.c.norad_id} on ${it.c.antenna_id}, ` +
      `${fmtTime(it.c.booked_start)} to ${fmtClock(it.c.booked_end)}, ${it.c.state}` +
      `${it.c.verdict ? `, verdict ${it.c.verdict}` : ""}. Enter opens it.`);
  }
  const open = () => sel && (window.location.hash = `#/contact/${encodeURIComponent(itemAt(...sel).c.id)}`);
  function nearest(r, ms) {
    const items = rows[r].items;
    if (!items.length) return null;
    let lo = 0;
    let hi = items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid].end < ms) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  canvas.addEventListener("keydown", (e) => {
    const rowsWithItems = rows.map((r, i) => (r.items.length ? i : -1)).filter((i) => i >= 0);
    if (!rowsWithItems.length) return;
    let [r, k] = sel || [rowsWithItems[0], -1];
    const at = sel ? itemAt(r, k).start : view.from;
    if (e.key === "ArrowRight") k = Math.min(rows[r].items.length - 1, k + 1);
    else if (e.key === "ArrowLeft") k = Math.max(0, k - 1);
    else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const pos = rowsWithItems.indexOf(r) + (e.key === "ArrowDown" ? 1 : -1);
      if (pos < 0 || pos >= rowsWithItems.length) return;
      r = rowsWithItems[pos];
      k = nearest(r, at);
    } else if (e.key === "Enter") { open(); return; } else return; // + and - are the zoom's
    e.preventDefault();
    sel = [r, Math.max(0, k)];
    show();
  });
  canvas.addEventListener("click", (e) => {
    const box = canvas.getBoundingClientRect();
    const r = Math.floor((e.clientY - box.top - AXIS_H) / ROW_H);
    if (r < 0 || r >= rows.length) return;
    const scale = (width - LABEL_W) / view.spanMs;
    const ms = view.from + (e.clientX - box.left - LABEL_W) / scale;
    const k = nearest(r, ms);
    if (k === null || rows[r].items[k].start > ms + 2 / scale) return;
    sel = [r, k];
    show();
    open();
  });
  return { show, selected: () => (sel ? itemAt(...sel) : null) };
}

/** Zoom and pan buttons (and + / - on the canvas) over the fetched span;
 * zooming centres on focus() (the selected contact) when it is not null. */
function zoomControls(canvas, fetched, view, redraw, focus) {
  const centre = (ms, spanMs) => {
    const span = Math.max(MIN_VIEW_MS, Math.min(fetched.spanMs, spanMs));
    const from = Math.max(fetched.from, Math.min(fetched.from + fetched.spanMs - span, ms - span / 2));
    view.from = from;
    view.spanMs = span;
    redraw();
  };
  const zoom = (factor) => centre(focus() ?? view.from + view.spanMs / 2, view.spanMs * factor);
  const pan = (sign) => centre(view.from + view.spanMs / 2 + sign * view.spanMs / 2, view.spanMs);
  canvas.addEventListener("keydown", (e) => {
    if (e.key === "+" || e.key === "=") zoom(0.5);
    else if (e.key === "-") zoom(2);
    else return;
    e.preventDefault();
  });
  const button = (id, label, onclick) => h("button", { type: "button", id, onclick }, label);
  return h("div", { class: "controls", role: "group", "aria-label": "Zoom and pan the timeline" },
    button("tl-zoom-in", "Zoom in", () => zoom(0.5)),
    button("tl-zoom-out", "Zoom out", () => zoom(2)),
    button("tl-earlier", "Earlier", () => pan(-1)),
    button("tl-later", "Later", () => pan(1)),
    button("tl-zoom-reset", "Whole span", () => centre(fetched.from + fetched.spanMs / 2, fetched.spanMs)));
}

export async function render(main, { signal, now, args }) {
  const from = args[0] ? Date.parse(`${args[0]}T00:00:00Z`) : dayStart(now());
  const station = args[1] || "";
  const days = args[2] === "7" ? 7 : 1;
  const spanMs = days * DAY_MS;
  const stations = (await api("/ground-stations", { signal })).data
    .filter((s) => !station || s.id === station);
  const allStations = station ? (await api("/ground-stations", { signal })).data : stations;
  const t0 = performance.now();
  const span = { start: new Date(from).toISOString(), end: new Date(from + spanMs).toISOString(), station };
  const [contacts, windows] = await Promise.all([
    allPages("/contacts", span, { signal }),
    api("/maintenance-windows", { params: span, signal }),
  ]);
  const fetchMs = performance.now() - t0;
  const rows = layout(stations, contacts, windows.data);
  const counts = {};
  const verdicts = {};
  for (const c of contacts) {
    counts[c.state] = (counts[c.state] || 0) + 1;
    const v = c.verdict || "none";
    verdicts[v] = (verdicts[v] || 0) + 1;
  }

  const canvas = h("canvas", {
    id: "timeline", tabindex: 0, role: "img",
    "aria-label": `Timeline of ${contacts.length} contacts on ${rows.length} antennas, ${days === 1 ? "" : `${days} days from `}${fmtTime(from).slice(0, 10)} UTC. ` +
      `${windows.count} maintenance window${windows.count === 1 ? "" : "s"} (listed below). Arrow keys select a contact, Enter opens it.`,
  });
  const overlay = h("canvas", { class: "overlay", "aria-hidden": "true" });
  const status = h("p", { id: "tl-status", class: "muted", role: "status" });
  const selected = h("p", { id: "tl-selected", "aria-live": "polite" });
  const wrap = h("div", { class: "timeline-wrap" }, canvas, overlay);
  const go = (ms, st, n) => { window.location.hash = `#/timeline/${fmtTime(ms).slice(0, 10)}/${st}/${n}`; };
  main.replaceChildren(
    h("h1", {}, "Timeline"),
    controls(from, days, allStations, station, go),
    legend(counts, verdicts, windows.count), status, wrap, selected,
    h("h2", {}, "Contacts by antenna and state"),
    rows.some((r) => r.items.length)
      ? table(["Antenna", "Contacts", ...Object.keys(STATE_COLOURS)],
        rows.filter((r) => r.items.length).map((r) => [r.antenna, r.items.length,
          ...Object.keys(STATE_COLOURS).map((s) => r.items.filter((it) => it.c.state === s).length)]))
      : emptyNote("No contact on this day."),
    h("h2", { id: "tl-maintenance-h" }, "Maintenance windows"),
    windows.count
      ? h("div", { id: "tl-maintenance" }, table(["Antenna", "From (UTC)", "To (UTC)", "Reason"],
        windows.data.map((m) => [m.antenna_id, fmtTime(m.start), fmtTime(m.end), m.reason || "–"])))
      : emptyNote("No maintenance window in this span."),
  );
  const width = Math.max(600, wrap.clientWidth || 1000);
  const view = { from, spanMs };
  let selection = null;
  const redraw = () => {
    const drawMs = draw(canvas, rows, view.from, view.spanMs, width, now());
    canvas.dataset.drawMs = drawMs.toFixed(1);
    canvas.dataset.viewStart = new Date(view.from).toISOString();
    canvas.dataset.viewSpanMs = String(view.spanMs);
    status.textContent = `${contacts.length} contacts on ${rows.length} antennas; ` +
      `fetched in ${fetchMs.toFixed(0)} ms, drawn in ${drawMs.toFixed(1)} ms; ` +
      `showing ${fmtTime(view.from)} to ${fmtTime(view.from + view.spanMs)}.`;
    if (selection) selection.show();
  };
  const focus = () => {
    const it = selection && selection.selected();
    return it ? (it.start + it.end) / 2 : null;
  };
  wrap.before(zoomControls(canvas, { from, spanMs }, view, redraw, focus));
  redraw();
  canvas.dataset.contacts = String(contacts.length);
  canvas.dataset.rows = String(rows.length);
  canvas.dataset.maintenance = String(windows.count);
  canvas.dataset.vetted = String(contacts.length - (verdicts.none || 0));
  canvas.dataset.antennas = rows.map((r) => r.antenna).join(",");
  canvas.dataset.fetchMs = fetchMs.toFixed(0);
  selection = interact(canvas, overlay, rows, view, width, (text) => { selected.textContent = text; });
}

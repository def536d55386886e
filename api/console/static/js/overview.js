// Overview: stations and their antennas' status, contacts running now (with
// progress), the next contacts, and failures of the last day; refreshed
// when the event stream reports a contact change.
import { api, followEvents } from "./api.js";
import {
  FAILED_STATES, RUNNING_STATES, emptyNote, errorNote, fmtNumber, fmtTime, h, stateBadge, table,
} from "./format.js";
import { loadLand, worldMapFigure } from "./worldmap.js";

const DAY_MS = 86400000;

function contactLink(c, names) {
  return h("a", { href: `#/contact/${encodeURIComponent(c.id)}` }, `${names.get(c.norad_id) || c.norad_id}`);
}

/** A station's agent (GET /ground-stations/{id}/agent): online or not, its
 * last heartbeat; without one, the station's passes are simulated in-process. */
function agentText(agent) {
  if (!agent || !agent.registered) return "no agent: passes simulated by the central service";
  const seen = agent.last_seen_at ? `last heartbeat ${fmtTime(agent.last_seen_at)}` : "no heartbeat yet";
  const front = agent.front_end ? `, ${agent.front_end}` : "";
  return `${agent.online ? "online" : "offline"}, ${seen}${front}`;
}

function stationsSection(stations, agents) {
  if (!stations.length) return emptyNote("No stations.");
  return table(
    ["Station", "Location", "Antennas", "Station agent"],
    stations.map((s, i) => [
      `${s.name} (${s.id})`,
      `${fmtNumber(s.lat_deg, 2)}°, ${fmtNumber(s.lon_deg, 2)}°, ${Math.round(s.alt_m)} m`,
      h("ul", { class: "antennas" }, s.antennas.map((a) =>
        h("li", { "data-antenna": a.id }, `${a.id}: `, h("strong", { class: a.status === "online" ? "ok" : "bad" }, a.status)))),
      h("span", { class: "agent", "data-station": s.id }, agentText(agents[i])),
    ]),
  );
}

function percentDone(c, nowMs) {
  const start = Date.parse(c.booked_start);
  const end = Date.parse(c.booked_end);
  return Math.max(0, Math.min(100, (100 * (nowMs - start)) / (end - start)));
}

function progressOf(c, nowMs) {
  const pct = percentDone(c, nowMs).toFixed(0);
  const bar = h("progress", { max: 100, value: pct, "aria-label": `progress of contact ${c.id}` }, `${pct} %`);
  bar.contact = c;
  return bar;
}

/** The cell of a running contact's live figures (filled by `showFigures`). */
function figuresOf(c) {
  return h("span", { class: "figures", "data-contact": c.id }, "–");
}

/** Fill each running contact's figures from GET /contacts/{id}/progress (at
 * most 12 contacts: one request each). */
async function showFigures(section, signal) {
  const cells = [...section.querySelectorAll("span.figures")].slice(0, 12);
  await Promise.all(cells.map(async (cell) => {
    try {
      const p = await api(`/contacts/${encodeURIComponent(cell.dataset.contact)}/progress`, { signal });
      cell.dataset.frames = p.frames_decoded ?? "";
      cell.textContent = p.status === "not_started" ? "not started"
        : `${p.frames_decoded} frames` + (p.esn0_db === null ? "" : `, Es/N0 ${fmtNumber(p.esn0_db)} dB`)
          + (p.simulated ? " (simulated)" : "");
    } catch (err) {
      if (!signal.aborted) cell.textContent = "–";
    }
  }));
}

function contactsTable(rows, names, extra, empty) {
  if (!rows.length) return emptyNote(empty);
  return table(
    ["Satellite", "Antenna", "State", "AOS", "LOS", "Max el.", ...extra.map((e) => e.title)],
    rows.map((c) => [
      contactLink(c, names), `${c.station_id} / ${c.antenna_id}`, stateBadge(c.state),
      fmtTime(c.aos), fmtTime(c.los), `${fmtNumber(c.max_elevation_deg)}°`,
      ...extra.map((e) => e.cell(c)),
    ]),
  );
}

async function loadContacts(now) {
  const [running, next, failed] = await Promise.all([
    api("/contacts", { params: { state: RUNNING_STATES, limit: 100 } }),
    api("/contacts", { params: { state: "SCHEDULED", start: new Date(now).toISOString(), limit: 10 } }),
    api("/contacts", {
      params: {
        state: FAILED_STATES, start: new Date(now - DAY_MS).toISOString(),
        end: new Date(now).toISOString(), limit: 100,
      },
    }),
  ]);
  return { running, next, failed };
}

/** Where each running contact's satellite is now and goes until LOS (at
 * most 12 contacts: one ground-track request each). */
async function runningTracks(rows, names, nowMs) {
  const shown = rows.filter((c) => Date.parse(c.los) > nowMs).slice(0, 12);
  return Promise.all(shown.map(async (c) => {
    const track = await api(`/satellites/${c.norad_id}/ground-track`, {
      params: { start: new Date(nowMs).toISOString(), end: c.los, step_s: 15 },
    });
    return {
      contact_id: c.id, norad_id: c.norad_id, name: names.get(c.norad_id) || `NORAD ${c.norad_id}`,
      station_id: c.station_id, points: track.data.map((p) => [p.lon_deg, p.lat_deg]),
    };
  }));
}

const MAP_CAPTION = "Stations: green all antennas online, amber some, red none. Running contacts: "
  + "their satellite now (blue square) and its path to LOS. Land: Natural Earth 1:110m.";

export async function render(main, { signal, now }) {
  const [stations, satellites] = await Promise.all([api("/ground-stations"), api("/satellites")]);
  // One request per station (a few): the agent's status and last heartbeat.
  const agentsPending = Promise.all(stations.data.slice(0, 50).map((s) =>
    api(`/ground-stations/${encodeURIComponent(s.id)}/agent`, { signal }).catch(() => null)));
  let map;
  let rings = null;
  const mapOptions = (running) => ({
    id: "stations-map", stations: stations.data, running,
    label: `World map of ${stations.count} station${stations.count === 1 ? "" : "s"}`
      + (running.length ? ` and ${running.length} running contact${running.length === 1 ? "" : "s"}` : ""),
  });
  try {
    rings = await loadLand();
    map = worldMapFigure(h, rings, mapOptions([]), MAP_CAPTION);
  } catch (err) {
    map = errorNote(err);
  }
  const names = new Map(satellites.data.map((s) => [s.norad_id, s.name]));
  const agents = await agentsPending; // fetched while the map loaded
  const live = h("p", { class: "live", role: "status", id: "live" }, "Event stream: connecting…");
  const sections = {
    running: h("section", { id: "running", "aria-labelledby": "running-h" }),
    next: h("section", { id: "next", "aria-labelledby": "next-h" }),
    failed: h("section", { id: "failed", "aria-labelledby": "failed-h" }),
  };
  main.replaceChildren(
    h("h1", {}, "Overview"), live,
    h("section", { id: "stations", "aria-labelledby": "stations-h" },
      h("h2", { id: "stations-h" }, "Stations"), map, stationsSection(stations.data, agents)),
    sections.running, sections.next, sections.failed,
  );

  async function refresh() {
    const t = now();
    try {
      const { running, next, failed } = await loadContacts(t);
      sections.running.replaceChildren(h("h2", { id: "running-h" }, `Running now (${running.count})`),
        contactsTable(running.data, names, [
          { title: "Progress", cell: (c) => progressOf(c, t) },
          { title: "Decoded so far", cell: figuresOf },
        ], "No contact is running."));
      await showFigures(sections.running, signal);
      sections.next.replaceChildren(h("h2", { id: "next-h" }, "Next contacts"),
        contactsTable(next.data, names, [], "No contact is scheduled."));
      sections.failed.replaceChildren(h("h2", { id: "failed-h" }, `Failures in the last 24 h (${failed.count})`),
        contactsTable(failed.data, names, [{ title: "Reason", cell: (c) => c.state_reason }], "No failure in the last 24 hours."));
      if (rings !== null) {
        const tracks = await runningTracks(running.data, names, t);
        map.replaceWith(map = worldMapFigure(h, rings, mapOptions(tracks), MAP_CAPTION));
        map.dataset.running = String(tracks.length);
      }
    } catch (err) {
      if (!signal.aborted) main.append(errorNote(err));
    }
  }
  await refresh();
  // Progress of the running contacts follows the service clock between refreshes.
  // Their decoded frames as the executor stores them, every 2 s.
  let tick = 0;
  const ticker = setInterval(() => {
    for (const bar of sections.running.querySelectorAll("progress")) {
      if (bar.contact) bar.value = percentDone(bar.contact, now()).toFixed(0);
    }
    tick += 1;
    if (tick % 2 === 0) showFigures(sections.running, signal);
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(ticker));

  let pending = null;
  followEvents(() => {
    if (pending === null) pending = setTimeout(() => { pending = null; refresh(); }, 500);
  }, { signal, onStatus: (text) => { live.textContent = `Event stream: ${text}`; } });
}

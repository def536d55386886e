// Contact page: state and the pass's live figures (from the event stream),
// times, history, a track summary and sky plot from GET
// /contacts/{id}/track, and its datasets with their frames.
import { api, followEvents } from "./api.js";
import { datasetTable } from "./datasets.js";
import {
  VERDICT_COLOURS, emptyNote, errorNote, fill, fmtDuration, fmtNumber, fmtTime, h, stateBadge, table, verdictBadge,
} from "./format.js";
import { quickLooks } from "./quicklooks.js";
import { skyPlotSvg } from "./skyplot.js";
import { loadLand, worldMapFigure } from "./worldmap.js";

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v, id]) => [h("dt", {}, k), h("dd", { id }, v)]));
}

function historyRow(t) {
  const change = t.old_state === t.new_state && t.verdict
    ? `verdict ${t.verdict} (${t.verdict_source})`
    : `${t.old_state} → ${t.new_state}${t.verdict ? `, verdict ${t.verdict} (${t.verdict_source})` : ""}`;
  return [fmtTime(t.at), change, t.reason];
}

/** States in which a contact may be vetted (it has ended). */
const VETTABLE = ["COMPLETED", "FAILED", "PROVIDER_FAILED", "CANCELLED"];

function qualityText(c) {
  if (c.frames_ok === null || c.frames_ok === undefined) return "not measured";
  const frames = c.frames_expected
    ? `${c.frames_ok} of ${c.frames_expected} frames decoded (${fmtNumber((100 * c.frames_ok) / c.frames_expected)} %)`
    : `${c.frames_ok} frames decoded`;
  return c.esn0_db === null ? frames : `${frames}, Es/N0 ${fmtNumber(c.esn0_db)} dB`;
}

function verdictWhy(c) {
  if (!c.verdict) return "–";
  const who = c.verdict_source === "manual" ? `set by ${c.verdict_by} at ${fmtTime(c.verdict_at)}: ` : "";
  return `${who}${c.verdict_reason || "–"}`;
}

/** The verdict, its reason and the pass quality, and (once the contact has
 * ended) a form to set it by hand: PUT /contacts/{id}/verdict with the
 * contact's version as If-Match, so a change made meanwhile is refused. */
function verdictSection(state) {
  const badge = h("span", { id: "contact-verdict" });
  const why = h("span", { id: "contact-verdict-reason" });
  const quality = h("span", { id: "contact-quality" });
  const formSlot = h("div", { id: "verdict-form-slot" });
  const section = h("section", { id: "vetting", "aria-labelledby": "vetting-h" },
    h("h2", { id: "vetting-h" }, "Verdict"),
    facts([["Verdict", badge], ["Why", why], ["Measured", quality]]), formSlot);
  const show = () => {
    const c = state.contact;
    badge.replaceChildren(verdictBadge(c.verdict, c.verdict_source));
    why.textContent = verdictWhy(c);
    quality.textContent = qualityText(c) + (c.simulated ? " (simulated pass)" : "");
    if (VETTABLE.includes(c.state) && !formSlot.firstChild) formSlot.append(verdictForm(state, show));
  };
  show();
  return { section, show };
}

function verdictForm(state, show) {
  const c = state.contact;
  const choice = h("select", { id: "verdict-choice" },
    Object.keys(VERDICT_COLOURS).map((v) => h("option", { value: v, selected: v === c.verdict }, v)));
  const reason = h("input", { id: "verdict-reason", type: "text", maxlength: 500, required: true, value: "" });
  const note = h("span", { id: "verdict-note", role: "status" });
  const form = h("form", { class: "controls", id: "verdict-form", "aria-label": "Set the verdict of this contact" },
    h("label", { for: "verdict-choice" }, "Verdict", choice),
    h("label", { for: "verdict-reason" }, "Reason", reason),
    h("button", { type: "submit" }, "Set verdict"), note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.replaceChildren(" saving…");
    try {
      state.contact = await api(`/contacts/${encodeURIComponent(state.contact.id)}/verdict`, {
        method: "PUT",
        body: { verdict: choice.value, reason: reason.value },
        extraHeaders: { "If-Match": `"${state.contact.version}"` },
      });
      note.replaceChildren(" saved");
      show();
    } catch (err) {
      note.replaceChildren(h("span", { class: "error refused", role: "alert" }, `Refused: ${err.message}`));
    }
  });
  return form;
}

function trackSummary(track) {
  const pts = track.data.filter((p) => p.elevation_deg !== null);
  if (!pts.length) return emptyNote("No track point.");
  let top = pts[0];
  for (const p of pts) if (p.elevation_deg > top.elevation_deg) top = p;
  const up = pts.filter((p) => p.elevation_deg >= 0);
  const ranges = pts.map((p) => p.range_km).filter((v) => v !== null);
  const doppler = pts.map((p) => p.doppler_hz).filter((v) => v !== null);
  return facts([
    ["Points", `${track.count} every ${track.step_s} s`],
    ["Above the horizon", up.length ? `${fmtTime(up[0].time)} to ${fmtTime(up[up.length - 1].time)}` : "never"],
    ["Rise azimuth", up.length ? `${fmtNumber(up[0].azimuth_deg)}°` : "–"],
    ["Highest", `${fmtNumber(top.elevation_deg)}° at ${fmtTime(top.time)}, azimuth ${fmtNumber(top.azimuth_deg)}°`, "track-max-el"],
    ["Set azimuth", up.length ? `${fmtNumber(up[up.length - 1].azimuth_deg)}°` : "–"],
    ["Range", `${fmtNumber(Math.min(...ranges), 0)} – ${fmtNumber(Math.max(...ranges), 0)} km`],
    ["Doppler", `${fmtNumber(Math.min(...doppler) / 1000, 2)} … ${fmtNumber(Math.max(...doppler) / 1000, 2)} kHz at ${fmtNumber(track.downlink_freq_hz / 1e6, 3)} MHz`],
  ]);
}

async function trackSection(c, signal) {
  const section = h("section", { id: "track", "aria-labelledby": "track-h" }, h("h2", { id: "track-h" }, "Track"));
  try {
    const [track, station] = await Promise.all([
      api(`/contacts/${encodeURIComponent(c.id)}/track`, { params: { step_s: 5 }, signal }),
      api(`/ground-stations/${encodeURIComponent(c.station_id)}`, { signal }),
    ]);
    const plot = skyPlotSvg(track.data, station.horizon_mask, station.min_elevation_deg,
      `Sky plot of contact ${c.id} over ${station.name}: ${track.count} points, highest ${fmtNumber(c.max_elevation_deg)}°`);
    const figure = h("figure", { id: "skyplot", "data-segments": plot.segments, "data-points": plot.points });
    figure.innerHTML = plot.svg; // built from numbers and our own strings only
    figure.append(h("figcaption", { class: "muted" }, "Azimuth/elevation of the track; zenith at the centre, north up. Dashed: station minimum elevation."));
    section.append(h("div", { class: "grid2" }, trackSummary(track), figure));
    section.append(await groundTrackMap(c, station, signal));
  } catch (err) {
    section.append(errorNote(err));
  }
  return section;
}

/** The contact's ground track on the world map, over its station's footprint. */
async function groundTrackMap(c, station, signal) {
  try {
    const [rings, ground] = await Promise.all([
      loadLand(),
      api(`/satellites/${c.norad_id}/ground-track`, {
        params: { start: c.booked_start, end: c.booked_end, step_s: 10 }, signal,
      }),
    ]);
    ground.footprints = ground.footprints.filter((f) => f.station_id === c.station_id);
    return worldMapFigure(h, rings, {
      id: "contact-map", stations: [station], track: ground,
      label: `Ground track of contact ${c.id} over ${station.name}`,
    }, `Ground track from ${fmtTime(c.booked_start)} to ${fmtTime(c.booked_end)} (dot: its start) with the ` +
      `elements in force now (epoch ${fmtTime(ground.elements_epoch)}; the contact was booked with ${fmtTime(c.ephemeris_epoch)}); ` +
      `dashed: where ${station.name} sees the satellite above ${fmtNumber(station.min_elevation_deg)}°.`);
  } catch (err) {
    return errorNote(err);
  }
}

/** Cancel (POST /contacts/{id}/cancel) with a reason; the API says when it may not. */
function cancelForm(c, onCancelled) {
  const reason = h("input", { id: "cancel-reason", type: "text", maxlength: 500, value: "cancelled from the console" });
  const note = h("span", { id: "cancel-note", role: "status" });
  const form = h("form", { class: "controls", id: "cancel-form", "aria-label": "Cancel this contact" },
    h("label", { for: "cancel-reason" }, "Reason", reason),
    h("button", { type: "submit" }, "Cancel contact"), note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.replaceChildren(" cancelling…");
    try {
      const done = await api(`/contacts/${encodeURIComponent(c.id)}/cancel`, { method: "POST", body: { reason: reason.value } });
      note.replaceChildren(" cancelled");
      onCancelled(done);
    } catch (err) {
      note.replaceChildren(h("span", { class: "error refused", role: "alert" }, `Refused: ${err.message}`));
    }
  });
  return form;
}

/** States in which the pass's live figures may move. */
const LIVE_STATES = ["PREPASS", "PASS", "POSTPASS"];

/** The pass's live figures, from the event stream (`event: progress`, sent
 * while the contact is in PASS or POSTPASS). GET /contacts/{id}/progress is
 * read only when the stream is down (then every second while the contact
 * may be live, until the stream is back) and once when the contact has
 * ended (its final figures), never polled while the stream works. */
function liveSection(c, signal) {
  const frames = h("span", { id: "live-frames" }, "–");
  const esn0 = h("span", { id: "live-esn0" }, "–");
  const doppler = h("span", { id: "live-doppler" }, "–");
  const times = h("span", { id: "live-elapsed" }, "–");
  const bar = h("progress", { id: "live-bar", max: 1, value: 0, "aria-label": "Pass elapsed" });
  const status = h("p", { id: "live-status", class: "muted", role: "status" }, "");
  const simulated = h("p", { id: "live-simulated", class: "muted" });
  const section = h("section", { id: "live-progress", "aria-labelledby": "live-h", "data-status": "not_started", "data-source": "" },
    h("h2", { id: "live-h" }, "Pass progress"), status,
    facts([["Frames decoded", frames], ["Es/N0", esn0], ["Doppler", doppler], ["Elapsed · remaining", h("span", {}, times, " ", bar)]]),
    simulated);
  let state = c.state;
  let streaming = false;
  let timer = null;
  let fetchedFinal = false;
  const waiting = () => {
    status.textContent = ["SCHEDULED", "PREPASS"].includes(state)
      ? "The figures appear when the pass begins."
      : LIVE_STATES.includes(state) ? "Waiting for the pass's figures…" : "No figure: the pass did not run.";
  };
  const show = (p, source) => {
    section.dataset.status = p.status;
    section.dataset.source = source;
    section.dataset.frames = p.frames_decoded ?? "";
    if (p.status === "not_started") { waiting(); return; }
    const how = source === "stream" ? "from the event stream" : "read every second (event stream down)";
    status.textContent = p.status === "running"
      ? `Live: figures of ${fmtTime(p.updated_at)}, ${how}.`
      : `Pass ended: its last figures (${fmtTime(p.updated_at)}).`;
    frames.textContent = p.frames_sent === null ? `${p.frames_decoded}` : `${p.frames_decoded} of ${p.frames_sent} sent`;
    esn0.textContent = p.esn0_db === null ? "not measured yet" : `${fmtNumber(p.esn0_db)} dB`;
    doppler.textContent = p.doppler_hz === null ? "–" : `${fmtNumber(p.doppler_hz / 1000, 2)} kHz`;
    times.textContent = `${fmtDuration(p.elapsed_s)} · ${fmtDuration(p.remaining_s)} (${fmtNumber(100 * (p.fraction ?? 0), 0)} %)`;
    bar.max = p.duration_s || 1;
    bar.value = p.elapsed_s;
    simulated.textContent = p.simulated
      ? `Simulated pass, worked ${p.executed_by}: these figures come from a simulated signal, not from a radio.`
      : `Worked by ${p.executed_by}.`;
  };
  /** One read of GET /contacts/{id}/progress; again in a second while the
   * stream is down and the contact may be live. */
  const read = async () => {
    timer = null;
    if (signal.aborted) return;
    try {
      const p = await api(`/contacts/${encodeURIComponent(c.id)}/progress`, { signal });
      show(p, "request");
      state = p.state;
      if (p.status === "final" && !LIVE_STATES.includes(p.state)) fetchedFinal = true;
    } catch (err) {
      if (signal.aborted) return;
      status.textContent = `Figures not available: ${err.message}`;
    }
    if (!streaming && LIVE_STATES.includes(state) && !signal.aborted && timer === null) timer = setTimeout(read, 1000);
  };
  const ended = () => !LIVE_STATES.includes(state) && state !== "SCHEDULED";
  signal.addEventListener("abort", () => { if (timer !== null) clearTimeout(timer); });
  if (ended()) read(); else waiting();
  return {
    section,
    /** `event: progress` of this contact from the stream. */
    progress(p) {
      state = p.state;
      show(p, "stream");
    },
    /** The contact's state changed (event stream): once it has ended, its final figures. */
    changed(newState) {
      state = newState;
      if (ended() && !fetchedFinal && timer === null) read();
      else if (section.dataset.status === "not_started") waiting();
    },
    /** The event stream is up (true) or down (false): read the figures while it is down. */
    stream(up) {
      streaming = up;
      if (up && timer !== null) { clearTimeout(timer); timer = null; }
      if (!up && timer === null && (LIVE_STATES.includes(state) || (ended() && !fetchedFinal))) read();
    },
  };
}

/** Frames in one page of the frames table. */
const FRAMES_PAGE = 50;

function crcText(f) {
  const crc = f.crc_ok === null ? "no CRC" : f.crc_ok ? "CRC ok" : "CRC bad";
  const rs = f.rs_corrections < 0 ? ", RS uncorrectable" : f.rs_corrections > 0 ? `, RS ${f.rs_corrections} fixed` : "";
  return `${f.frame_ok ? "ok" : "failed"} (${crc}${rs})`;
}

/** A dataset's decoded frames (GET /datasets/{id}/frames), a page at a
 * time with previous/next buttons. */
function framesTable(d, simulated, signal) {
  const body = h("div", { id: `frames-${d.id}`, class: "frames-page" });
  const note = h("span", { class: "muted", role: "status", "data-frames-range": "" });
  const prev = h("button", { type: "button", "data-frames-prev": d.id }, "Previous frames");
  const next = h("button", { type: "button", "data-frames-next": d.id }, "Next frames");
  const section = h("section", { class: "frames", "data-dataset": d.id, "aria-label": `Frames of dataset ${d.id}` },
    h("h3", {}, `Frames of dataset ${d.id}`), h("div", { class: "controls" }, prev, next, note), body);
  let offset = 0;
  // aria-disabled, not disabled: the buttons stay reachable with the Tab key.
  const enable = (button, on) => button.setAttribute("aria-disabled", on ? "false" : "true");
  const enabled = (button) => button.getAttribute("aria-disabled") !== "true";
  const load = async () => {
    enable(prev, false);
    enable(next, false);
    note.textContent = " loading…";
    try {
      const page = await api(`/datasets/${encodeURIComponent(d.id)}/frames`, {
        params: { offset, limit: FRAMES_PAGE }, signal,
      });
      const last = offset + page.data.length;
      section.dataset.offset = offset;
      section.dataset.count = page.count;
      note.textContent = page.count
        ? ` frames ${offset + 1}–${last} of ${page.count}` : " no frame decoded";
      fill(body, table(
        ["#", "Time", "Bytes", "Check", "Es/N0", "VC · counter", "First bytes (hex)"],
        page.data.map((f) => [
          `${f.sequence}`, fmtTime(f.time), `${f.length_bytes}`, crcText(f),
          f.esn0_db === null ? "–" : `${fmtNumber(f.esn0_db)} dB`,
          `${f.virtual_channel} · ${f.frame_counter}`, h("code", {}, f.head_hex),
        ]),
        `Decoded frames of ${d.id} from frames.h5${simulated ? " (simulated pass: frames of the RF simulator's signal)" : ""}`,
      ));
      enable(prev, offset > 0);
      enable(next, last < page.count);
    } catch (err) {
      if (signal.aborted) return;
      note.textContent = "";
      fill(body, errorNote(err));
      enable(prev, offset > 0);
    }
  };
  prev.addEventListener("click", () => {
    if (enabled(prev)) { offset = Math.max(0, offset - FRAMES_PAGE); load(); }
  });
  next.addEventListener("click", () => { if (enabled(next)) { offset += FRAMES_PAGE; load(); } });
  load();
  return section;
}

function framesSection(datasets, simulated, signal) {
  const withFrames = datasets.filter((d) => d.files.some((f) => f.name === "frames.h5"));
  return h("section", { id: "contact-frames", "aria-labelledby": "frames-h" },
    h("h2", { id: "frames-h" }, "Frames"),
    withFrames.length ? withFrames.map((d) => framesTable(d, simulated, signal)) : emptyNote("No frames file yet: it comes with the dataset when the pass completes."));
}

function quickLookSection(datasets, simulated) {
  const galleries = datasets.map((d) => quickLooks(d, { large: true })).filter(Boolean);
  return h("section", { id: "contact-quicklooks", "aria-labelledby": "quicklooks-h" },
    h("h2", { id: "quicklooks-h" }, "Quick-looks"),
    simulated ? h("p", { class: "muted" }, "Simulated pass: the RF simulator made the signal these images show.") : null,
    galleries.length ? galleries : emptyNote("No quick-look image in this contact's datasets."));
}

export async function render(main, { args, signal }) {
  const id = args[0];
  const c = await api(`/contacts/${encodeURIComponent(id)}`, { signal });
  const sat = await api(`/satellites/${c.norad_id}`, { signal }).catch(() => ({ name: `NORAD ${c.norad_id}` }));
  const stateCell = h("span", { id: "contact-state" }, stateBadge(c.state));
  const reasonCell = h("span", { id: "contact-reason" }, c.state_reason || "–");
  const history = h("tbody", { id: "history" }, c.history.map((t) => h("tr", {}, historyRow(t).map((v) => h("td", {}, v)))));
  const live = h("p", { class: "live", role: "status", id: "live" }, "Event stream: connecting…");
  const datasets = await api("/datasets", { params: { contact: c.id }, signal });
  // The datasets and quick-looks: shown again when the contact ends (its dataset is then ready).
  const products = h("div", { id: "contact-products" });
  const showProducts = (found) => {
    products.replaceChildren(
      h("section", { id: "contact-datasets", "aria-labelledby": "datasets-h" }, h("h2", { id: "datasets-h" }, "Frames and datasets"),
        found.count ? datasetTable(found.data, { linkContacts: false, withQuickLooks: false }) : emptyNote("No dataset yet: one is made when the pass completes.")),
      framesSection(found.data, c.simulated, signal),
      quickLookSection(found.data, c.simulated));
  };
  const state = { contact: c };
  const vetting = verdictSection(state);
  const liveFigures = liveSection(c, signal);
  fill(main, 
    h("h1", {}, `${sat.name} on ${c.antenna_id}`),
    live,
    facts([
      ["Contact", c.id],
      ["Worked by", c.simulated ? "the RF simulator (simulated: no antenna, no radio)" : "the station", "contact-simulated"],
      ["State", stateCell],
      ["Reason", reasonCell],
      ["Station / antenna", `${c.station_id} / ${c.antenna_id}`],
      ["Satellite", `${sat.name} (NORAD ${c.norad_id}), tenant ${c.tenant}`],
      ["Profile", c.profile_id],
      ["AOS · TCA · LOS", `${fmtTime(c.aos)} · ${fmtTime(c.tca)} · ${fmtTime(c.los)}`],
      ["Booked", `${fmtTime(c.booked_start)} to ${fmtTime(c.booked_end)} (${fmtDuration((Date.parse(c.booked_end) - Date.parse(c.booked_start)) / 1000)})`],
      ["Max elevation", `${fmtNumber(c.max_elevation_deg)}°`],
      ["Elements epoch", fmtTime(c.ephemeris_epoch)],
    ]),
    ["SCHEDULED", "PREPASS", "PASS", "POSTPASS", "CANCELLING"].includes(c.state)
      ? cancelForm(c, (done) => {
        stateCell.replaceChildren(stateBadge(done.state));
        reasonCell.textContent = done.state_reason || "–";
      })
      : null,
    liveFigures.section,
    vetting.section,
    h("section", { "aria-labelledby": "history-h" }, h("h2", { id: "history-h" }, "History"),
      h("table", {}, h("thead", {}, h("tr", {}, ["At", "Change", "Reason"].map((t) => h("th", { scope: "col" }, t)))), history)),
    await trackSection(c, signal),
    products,
  );
  showProducts(datasets);
  followEvents((type, e) => {
    if (type === "progress" && e.contact_id === c.id) { liveFigures.progress(e); return; }
    if (type !== "contact" || e.contact_id !== c.id) return;
    history.append(h("tr", {}, historyRow(e).map((v) => h("td", {}, v))));
    const verdictOnly = e.old_state === e.new_state && e.verdict;
    if (!verdictOnly) { // a verdict event leaves the state and its reason as they were
      stateCell.replaceChildren(stateBadge(e.new_state));
      reasonCell.textContent = e.reason || "–";
      liveFigures.changed(e.new_state);
      if (VETTABLE.includes(e.new_state)) {
        api("/datasets", { params: { contact: c.id }, signal }).then(showProducts).catch(() => {});
      }
    }
    live.textContent = `Event stream: live; ${historyRow(e)[1]} at ${fmtTime(e.at)}`;
    // The verdict, the measured quality and the version (If-Match) as they are now.
    api(`/contacts/${encodeURIComponent(c.id)}`, { signal })
      .then((now) => { state.contact = now; vetting.show(); })
      .catch(() => {});
  }, {
    signal,
    onStatus: (text) => {
      live.textContent = `Event stream: ${text}`;
      liveFigures.stream(text === "live");
    },
  });
}


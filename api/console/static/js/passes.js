// Passes and booking: predicted passes of a satellite over the stations,
// each antenna free or busy (and why); "Book" reserves the pass on that
// antenna with POST /contacts. A refusal shows the API's reason. "Plan a
// batch" proposes contacts for several satellites at once (POST /plans,
// nothing booked), then commits the proposal (all booked, or none).
import { api } from "./api.js";
import { emptyNote, errorNote, fill, fmtDuration, fmtNumber, fmtTime, h, table } from "./format.js";

function localInput(ms) {
  return fmtTime(ms).slice(0, 16).replace(" ", "T");
}

function bookButton(p, a, profile) {
  const note = h("span", { role: "status" });
  const label = `Book ${a.antenna_id}`;
  const button = h("button", {
    type: "button", "data-antenna": a.antenna_id, "data-aos": p.aos,
    "aria-label": `${label} for the pass at ${fmtTime(p.aos)}`,
  }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    note.replaceChildren(" booking…");
    try {
      const c = await api("/contacts", {
        method: "POST",
        body: { norad_id: p.norad_id, antenna_id: a.antenna_id, profile_id: profile(), start: p.aos, end: p.los },
      });
      note.replaceChildren(" booked: ", h("a", { href: `#/contact/${encodeURIComponent(c.id)}`, class: "booked" }, c.id));
    } catch (err) {
      button.disabled = false;
      note.replaceChildren(h("span", { class: "error refused", role: "alert" }, `Refused: ${err.message}`));
    }
  });
  return h("li", {}, button, note);
}

function antennaCell(p, profile) {
  return h("ul", { class: "files" }, p.antennas.map((a) => (a.free
    ? bookButton(p, a, profile)
    : h("li", {}, `${a.antenna_id}: busy (${a.blocked_by})`))));
}

function plannedRow(p, names) {
  return [names.get(p.norad_id) || `NORAD ${p.norad_id}`, p.antenna_id, fmtTime(p.aos), fmtTime(p.los),
    fmtDuration((Date.parse(p.los) - Date.parse(p.aos)) / 1000)];
}

/** Plan a batch: the satellites ticked, over the window and station of the
 * prediction form, proposed by the planner (POST /plans), then committed
 * (POST /plans/{id}/commit): every contact is booked, or none, and a refusal
 * says why. */
function planSection(satellites, stations, form) {
  const names = new Map(satellites.map((s) => [s.norad_id, s.name]));
  const boxes = satellites.map((s) => h("input", { type: "checkbox", id: `plan-sat-${s.norad_id}`, value: s.norad_id }));
  const result = h("div", { id: "plan-result", "aria-live": "polite" });
  const propose = h("button", { type: "submit" }, "Propose a plan");
  const planForm = h("form", { class: "filters", id: "plan-form", "aria-label": "Plan a batch of contacts" },
    h("fieldset", {}, h("legend", {}, "Satellites"),
      satellites.map((s, i) => h("label", { for: `plan-sat-${s.norad_id}` }, boxes[i], ` ${s.name} (${s.norad_id})`))),
    propose);
  planForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = boxes.filter((b) => b.checked).map((b) => Number(b.value));
    if (!chosen.length) {
      result.replaceChildren(h("p", { class: "error", role: "alert" }, "Tick at least one satellite to plan."));
      return;
    }
    const { start, end, station, profile } = form();
    const antennas = station ? stations.find((s) => s.id === station).antennas.map((a) => a.id) : null;
    result.replaceChildren(h("p", { class: "muted" }, "Planning…"));
    try {
      const plan = await api("/plans", {
        method: "POST",
        body: { profile_id: profile, requests: chosen.map((n) => ({ norad_id: n, start, end })), antenna_ids: antennas },
      });
      showProposal(plan);
    } catch (err) {
      result.replaceChildren(h("p", { class: "error refused", role: "alert" }, `Refused: ${err.message}`));
    }
  });
  function showProposal(plan) {
    const note = h("span", { id: "plan-note", role: "status" });
    const commit = h("button", { type: "button", id: "plan-commit", disabled: !plan.proposed.length }, `Book these ${plan.proposed.length} contacts`);
    commit.addEventListener("click", async () => {
      commit.disabled = true;
      note.replaceChildren(" booking…");
      try {
        const done = await api(`/plans/${encodeURIComponent(plan.id)}/commit`, { method: "POST" });
        note.replaceChildren(` booked ${done.booked.length}: `,
          ...done.booked.flatMap((c, i) => [i ? ", " : "", h("a", { href: `#/contact/${encodeURIComponent(c.id)}`, class: "plan-booked" }, c.id)]));
      } catch (err) {
        commit.disabled = false;
        note.replaceChildren(h("span", { class: "error refused", role: "alert" }, `Refused: ${err.message}`));
      }
    });
    result.replaceChildren(
      h("p", { id: "plan-summary" }, `Plan ${plan.id}: ${plan.proposed.length} contact${plan.proposed.length === 1 ? "" : "s"} proposed ` +
        `(${plan.status}; nothing is booked until you book them).`),
      plan.proposed.length
        ? table(["Satellite", "Antenna", "AOS", "LOS", "Duration"], plan.proposed.map((p) => plannedRow(p, names)))
        : emptyNote("The planner found no free window."),
      h("div", { class: "controls" }, commit, note));
  }
  return h("section", { id: "plan", "aria-labelledby": "plan-h" },
    h("h2", { id: "plan-h" }, "Plan a batch"),
    h("p", { class: "muted" }, "Proposes contacts for the satellites ticked over the window, station and mission profile above; " +
      "booking the proposal books all of them, or none if a window was taken meanwhile."),
    planForm, result);
}

export async function render(main, { now, signal }) {
  const [satellites, stations, profiles] = await Promise.all([
    api("/satellites", { signal }), api("/ground-stations", { signal }), api("/mission-profiles", { signal }),
  ]);
  const field = (id, label, control) => h("label", { for: id }, label, control);
  const sat = h("select", { id: "ps-satellite", required: true },
    satellites.data.map((s) => h("option", { value: s.norad_id }, `${s.name} (${s.norad_id})`)));
  const station = h("select", { id: "ps-station" }, h("option", { value: "" }, "All stations"),
    stations.data.map((s) => h("option", { value: s.id }, s.name)));
  const profile = h("select", { id: "ps-profile", required: true },
    profiles.data.map((p) => h("option", { value: p.id }, p.id)));
  const from = h("input", { id: "ps-from", type: "datetime-local", value: localInput(now()), required: true });
  const hours = h("input", { id: "ps-hours", type: "number", min: 1, max: 168, value: 24, required: true });
  const minEl = h("input", { id: "ps-min-el", type: "number", min: -5, max: 90, step: "any", value: 10 });
  const form = h("form", { class: "filters", id: "ps-form", "aria-label": "Predict passes" },
    field("ps-satellite", "Satellite", sat), field("ps-station", "Station", station),
    field("ps-profile", "Mission profile", profile), field("ps-from", "From (UTC)", from),
    field("ps-hours", "Hours", hours), field("ps-min-el", "Min. elevation (°)", minEl),
    h("button", { type: "submit" }, "Predict passes"));
  const results = h("section", { id: "ps-results", "aria-live": "polite" });
  const chosenSpan = () => {
    const start = Date.parse(`${from.value}:00Z`);
    return {
      start: new Date(start).toISOString(), end: new Date(start + Number(hours.value) * 3600000).toISOString(),
      station: station.value, profile: profile.value,
    };
  };
  fill(main, h("h1", {}, "Passes and booking"), form, results,
    satellites.count ? planSection(satellites.data, stations.data, chosenSpan) : null);
  if (!satellites.count) {
    results.replaceChildren(emptyNote("No satellite: add one (POST /satellites) to predict its passes."));
    return;
  }

  async function predict() {
    const start = Date.parse(`${from.value}:00Z`);
    results.replaceChildren(h("p", { class: "muted" }, "Predicting…"));
    try {
      const found = await api("/passes", {
        params: {
          satellite: sat.value, station: station.value, start: new Date(start).toISOString(),
          end: new Date(start + Number(hours.value) * 3600000).toISOString(), min_elevation: minEl.value,
        },
        signal,
      });
      results.replaceChildren(
        h("p", { id: "ps-count" }, `${found.count} pass${found.count === 1 ? "" : "es"}`),
        found.count
          ? table(["Station", "AOS", "LOS", "Duration", "Max el.", "Azimuth AOS → LOS", "Antennas"],
            found.data.map((p) => [
              p.station_id, fmtTime(p.aos), fmtTime(p.los), fmtDuration(p.duration_s),
              `${fmtNumber(p.max_elevation_deg)}°`,
              `${fmtNumber(p.aos_azimuth_deg, 0)}° → ${fmtNumber(p.los_azimuth_deg, 0)}°`,
              antennaCell(p, () => profile.value),
            ]))
          : emptyNote("No pass in this window."));
    } catch (err) {
      results.replaceChildren(errorNote(err));
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); predict(); });
  await predict();
}

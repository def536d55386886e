// Satellites: the tenant's satellites with their transmitter; one satellite's
// elements in force (and their age on the service clock), element history,
// and its next passes over the stations (GET /passes).
import { api } from "./api.js";
import { emptyNote, errorNote, fmtDuration, fmtNumber, fmtTime, h, table } from "./format.js";
import { loadLand, worldMapFigure } from "./worldmap.js";

const DAY_MS = 86400000;

function transmitter(s) {
  return `${fmtNumber(s.downlink_freq_hz / 1e6, 3)} MHz, ${s.modulation}` +
    (s.symbol_rate_baud ? ` ${s.symbol_rate_baud} Bd` : "") +
    (s.downlink_bandwidth_hz ? `, ${fmtNumber(s.downlink_bandwidth_hz / 1e3, 1)} kHz wide` : "");
}

function satelliteLink(s) {
  return h("a", { href: `#/satellites/${s.norad_id}` }, s.name);
}

async function listPage(main, signal) {
  const page = await api("/satellites", { params: { limit: 1000 }, signal });
  main.replaceChildren(
    h("h1", {}, "Satellites"),
    h("p", { id: "sat-count" }, `${page.count} satellite${page.count === 1 ? "" : "s"}`),
    page.count
      ? table(["Satellite", "NORAD", "Tenant", "Downlink", "Framing", "Problems"],
        page.data.map((s) => [satelliteLink(s), s.norad_id, s.tenant, transmitter(s),
          s.framing_profile || "ccsds-bpsk-conv-rs (default)",
          s.problems.length ? h("span", { class: "bad" }, s.problems.join("; ")) : "–"]))
      : emptyNote("No satellite."),
  );
}

function ageText(epochIso, nowMs) {
  const age_s = (nowMs - Date.parse(epochIso)) / 1000;
  return age_s >= 0 ? `${fmtDuration(age_s)} old` : `epoch ${fmtDuration(-age_s)} ahead`;
}

function elementsSection(eph, nowMs) {
  const section = h("section", { id: "sat-elements", "aria-labelledby": "sat-elements-h" },
    h("h2", { id: "sat-elements-h" }, "Elements"));
  const inForce = eph.data.find((e) => e.id === eph.in_force_id);
  section.append(inForce
    ? h("p", { id: "sat-in-force" },
      `In force: epoch ${fmtTime(inForce.epoch)} (${ageText(inForce.epoch, nowMs)} on the service clock), ` +
      `${inForce.source_format} from ${inForce.source || "upload"}, uploaded ${fmtTime(inForce.uploaded_at)}`)
    : h("p", { id: "sat-in-force", class: "bad" }, "No element set in force: passes cannot be predicted."));
  if (inForce) section.append(h("pre", { class: "elements", "aria-label": "element set in force" }, inForce.text));
  section.append(table(["Epoch", "Age", "Format", "Source", "Priority", "Enabled", "Expires"],
    eph.data.map((e) => [fmtTime(e.epoch), ageText(e.epoch, nowMs), e.source_format, e.source, e.priority,
      e.enabled ? "yes" : "no", e.expires_at ? fmtTime(e.expires_at) : "–"]),
    `${eph.count} element set${eph.count === 1 ? "" : "s"}, newest epoch first`));
  return section;
}

async function passesSection(s, nowMs, signal) {
  const section = h("section", { id: "sat-passes", "aria-labelledby": "sat-passes-h" },
    h("h2", { id: "sat-passes-h" }, "Next passes (24 h)"));
  try {
    const passes = await api("/passes", {
      params: { satellite: s.norad_id, start: new Date(nowMs).toISOString(), end: new Date(nowMs + DAY_MS).toISOString() },
      signal,
    });
    const rows = passes.data.slice(0, 20);
    section.append(rows.length
      ? table(["Station", "AOS", "LOS", "Duration", "Max el.", "Free antennas"],
        rows.map((p) => [p.station_id, fmtTime(p.aos), fmtTime(p.los), fmtDuration(p.duration_s),
          `${fmtNumber(p.max_elevation_deg)}°`,
          p.antennas.filter((a) => a.free).map((a) => a.antenna_id).join(", ") || "none"]),
        passes.count > rows.length ? `first ${rows.length} of ${passes.count}` : null)
      : emptyNote("No pass in the next 24 hours."),
    h("p", {}, h("a", { href: "#/passes" }, "Book a pass on the Passes page")));
  } catch (err) {
    section.append(errorNote(err));
  }
  return section;
}

/** The satellite's downlinks in the built-in satellite catalogue. */
async function catalogueSection(s, signal) {
  const section = h("section", { id: "sat-catalogue", "aria-labelledby": "sat-catalogue-h" },
    h("h2", { id: "sat-catalogue-h" }, "Transmitters in the satellite catalogue"));
  try {
    const found = await api(`/satellites/${s.norad_id}/transmitters`, { signal });
    section.append(found.catalogued
      ? table(["Name", "Frequency", "Modulation", "Baud rate", "Framing", "Deviation / AF carrier"],
        found.data.map((t) => [t.name, `${fmtNumber(t.frequency_hz / 1e6, 3)} MHz`, t.modulation,
          `${fmtNumber(t.baud_rate, 0)} Bd`, t.framing,
          [t.deviation_hz !== null ? `${fmtNumber(t.deviation_hz, 0)} Hz dev.` : null,
            t.af_carrier_hz !== null ? `${fmtNumber(t.af_carrier_hz, 0)} Hz AF` : null]
            .filter((v) => v !== null).join(", ") || "—"]),
        `as catalogued for ${found.catalogue_name}; a mission profile with the catalogue framing picks one by name`)
      : emptyNote("Not in the built-in satellite catalogue: the satellite's own downlink settings above apply."));
  } catch (err) {
    section.append(errorNote(err));
  }
  return section;
}

async function mapSection(s, signal) {
  const section = h("section", { id: "sat-map-section", "aria-labelledby": "sat-map-h" },
    h("h2", { id: "sat-map-h" }, "Ground track (next 100 min)"));
  try {
    const [rings, track, stations] = await Promise.all([
      loadLand(),
      api(`/satellites/${s.norad_id}/ground-track`, { params: { step_s: 30 }, signal }),
      api("/ground-stations", { signal }),
    ]);
    section.append(worldMapFigure(h, rings, {
      id: "sat-map", stations: stations.data, track,
      label: `Ground track of ${s.name} for 100 minutes from ${fmtTime(track.data[0].time)}, with the stations' footprints`,
    }, `Sub-satellite points every ${track.step_s} s from ${fmtTime(track.data[0].time)} (dot: now), ` +
      `mean height ${fmtNumber(track.mean_height_km, 0)} km; dashed: where each station sees it above its minimum elevation.`));
  } catch (err) {
    section.append(errorNote(err));
  }
  return section;
}

async function detailPage(main, norad, nowMs, signal) {
  const s = await api(`/satellites/${encodeURIComponent(norad)}`, { signal });
  const eph = await api(`/satellites/${encodeURIComponent(norad)}/ephemerides`, { signal });
  document.title = `${s.name} · groundstation console`;
  main.replaceChildren(
    h("h1", {}, `${s.name} (NORAD ${s.norad_id})`),
    h("p", {}, h("a", { href: "#/satellites" }, "All satellites")),
    h("dl", { class: "facts", id: "sat-facts" },
      h("dt", {}, "Tenant"), h("dd", {}, s.tenant),
      h("dt", {}, "Transmitter"), h("dd", { id: "sat-transmitter" }, transmitter(s)),
      h("dt", {}, "Framing"), h("dd", {}, s.framing_profile || "ccsds-bpsk-conv-rs (default)"),
      h("dt", {}, "Registered"), h("dd", {}, fmtTime(s.created_at)),
      s.problems.length ? [h("dt", {}, "Problems"), h("dd", { class: "bad" }, s.problems.join("; "))] : null),
    elementsSection(eph, nowMs),
    await catalogueSection(s, signal),
    await mapSection(s, signal),
    await passesSection(s, nowMs, signal),
  );
}

export async function render(main, { args, signal, now }) {
  if (args[0]) await detailPage(main, args[0], now(), signal);
  else await listPage(main, signal);
}

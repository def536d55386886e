// World map: an equirectangular SVG of the land (Natural Earth 1:110m,
// shipped with the console under /console/static/map/: no tile server),
// stations with their status, and optionally a satellite's ground track and
// each station's visibility footprint (from GET /satellites/{id}/ground-track).
const W = 720;
const H = 360;
const LAND_URL = "/console/static/map/land-110m.json";

let land = null;

/** The land rings, fetched once per page load from the console's own origin. */
export async function loadLand() {
  if (land === null) {
    const response = await fetch(LAND_URL);
    if (!response.ok) throw new Error(`${LAND_URL}: ${response.status}`);
    land = (await response.json()).rings;
  }
  return land;
}

const f = (v) => v.toFixed(1);
const x = (lonDeg) => ((lonDeg + 180) / 360) * W;
const y = (latDeg) => ((90 - latDeg) / 180) * H;
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const esc = (text) => String(text).replace(/[&<>"]/g, (ch) => ESC[ch]);

/** Polylines of [lon, lat] points, split where they wrap at ±180°. */
function wrapSegments(points) {
  const segments = [];
  let current = [];
  let last = null;
  for (const p of points) {
    if (p[0] === null || p[1] === null || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      if (current.length > 1) segments.push(current);
      current = [];
      last = null;
      continue;
    }
    if (last !== null && Math.abs(p[0] - last[0]) > 180) {
      if (current.length > 1) segments.push(current);
      current = [];
    }
    current.push(p);
    last = p;
  }
  if (current.length > 1) segments.push(current);
  return segments;
}

const pathOf = (segment) => segment.map(([lon, lat], i) => `${i ? "L" : "M"}${f(x(lon))} ${f(y(lat))}`).join("");

/** The ground circle of `halfAngleDeg` (Earth-central) around a station, as [lon, lat] points. */
export function footprintPoints(latDeg, lonDeg, halfAngleDeg, step = 4) {
  const rad = Math.PI / 180;
  const lat1 = latDeg * rad;
  const d = halfAngleDeg * rad;
  const points = [];
  for (let b = 0; b <= 360; b += step) {
    const brg = b * rad;
    const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(brg));
    const lon2 = lonDeg * rad + Math.atan2(Math.sin(brg) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
    points.push([((((lon2 / rad) + 540) % 360) - 180), lat2 / rad]);
  }
  return points;
}

function stationColour(s) {
  const online = s.antennas.filter((a) => a.status === "online").length;
  if (s.antennas.length && online === s.antennas.length) return ["#1a7f37", "online"];
  if (online > 0) return ["#9a6700", "partly online"];
  return ["#cf222e", "offline"];
}

/** The map's SVG markup. stations: GET /ground-stations rows; track: GET
 * /satellites/{id}/ground-track's answer or null; running: contacts running
 * now, each {contact_id, norad_id, name, station_id, points: [[lon, lat], ..]
 * from now to LOS} (its satellite drawn where the first point is, its path to
 * LOS, a line to its station); label: its accessible name. */
export function worldMapSvg(rings, { stations = [], track = null, running = [], label }) {
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="worldmap" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="map-title">`];
  parts.push(`<title id="map-title">${esc(label)}</title>`);
  parts.push(`<rect width="${W}" height="${H}" fill="#eef6fc"/>`);
  for (let lon = -180; lon <= 180; lon += 30) parts.push(`<line x1="${f(x(lon))}" y1="0" x2="${f(x(lon))}" y2="${H}" stroke="#d8e4ee" stroke-width="0.5"/>`);
  for (let lat = -60; lat <= 60; lat += 30) parts.push(`<line x1="0" y1="${f(y(lat))}" x2="${W}" y2="${f(y(lat))}" stroke="#d8e4ee" stroke-width="0.5"/>`);
  for (const r of rings) {
    let d = "";
    for (let i = 0; i < r.length; i += 2) d += `${i ? "L" : "M"}${f(x(r[i]))} ${f(y(r[i + 1]))}`;
    parts.push(`<path class="land" d="${d}Z" fill="#dfe6d8" stroke="#8c959f" stroke-width="0.4"/>`);
  }
  if (track) {
    for (const fp of track.footprints) {
      for (const seg of wrapSegments(footprintPoints(fp.lat_deg, fp.lon_deg, fp.half_angle_deg))) {
        parts.push(`<path class="footprint" data-station="${esc(fp.station_id)}" d="${pathOf(seg)}" fill="none" stroke="#8250df" stroke-width="1" stroke-dasharray="3 2"/>`);
      }
    }
    const points = track.data.map((p) => [p.lon_deg, p.lat_deg]);
    for (const seg of wrapSegments(points)) {
      parts.push(`<path class="track" d="${pathOf(seg)}" fill="none" stroke="#bf3989" stroke-width="1.5"/>`);
    }
    const first = track.data.find((p) => p.lat_deg !== null);
    if (first) parts.push(`<circle class="subpoint" cx="${f(x(first.lon_deg))}" cy="${f(y(first.lat_deg))}" r="4" fill="#bf3989" stroke="#fff"/>`);
  }
  const stationAt = new Map(stations.map((s) => [s.id, s]));
  for (const r of running) {
    for (const seg of wrapSegments(r.points)) {
      parts.push(`<path class="running-track" data-contact="${esc(r.contact_id)}" d="${pathOf(seg)}" fill="none" stroke="#0969da" stroke-width="1.5" stroke-dasharray="4 2"/>`);
    }
    const at = r.points.find((p) => p[0] !== null && p[1] !== null);
    if (!at) continue;
    const site = stationAt.get(r.station_id);
    if (site && Math.abs(site.lon_deg - at[0]) <= 180) {
      parts.push(`<line class="running-link" data-contact="${esc(r.contact_id)}" x1="${f(x(site.lon_deg))}" y1="${f(y(site.lat_deg))}" x2="${f(x(at[0]))}" y2="${f(y(at[1]))}" stroke="#0969da" stroke-width="0.8"/>`);
    }
    parts.push(`<g class="running-satellite" data-contact="${esc(r.contact_id)}" data-norad="${esc(r.norad_id)}" data-lon="${f(at[0])}" data-lat="${f(at[1])}">` +
      `<title>${esc(r.name)} over ${esc(r.station_id)} (running)</title>` +
      `<rect x="${f(x(at[0]) - 4)}" y="${f(y(at[1]) - 4)}" width="8" height="8" fill="#0969da" stroke="#fff"/>` +
      `<text x="${f(x(at[0]) + 6)}" y="${f(y(at[1]) - 5)}" font-size="9" fill="#0550ae">${esc(r.name)}</text></g>`);
  }
  for (const s of stations) {
    const [colour, status] = stationColour(s);
    parts.push(`<g class="station" data-station="${esc(s.id)}" data-status="${status}">` +
      `<circle cx="${f(x(s.lon_deg))}" cy="${f(y(s.lat_deg))}" r="4" fill="${colour}" stroke="#fff"/>` +
      `<text x="${f(x(s.lon_deg) + 6)}" y="${f(y(s.lat_deg) + 3)}" font-size="9" fill="#1b1f24">${esc(s.name)}</text></g>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

/** A <figure> holding the map (built from numbers and escaped strings only). */
export function worldMapFigure(h, rings, options, caption) {
  const figure = h("figure", { class: "map", id: options.id });
  figure.innerHTML = worldMapSvg(rings, options);
  figure.append(h("figcaption", { class: "muted" }, caption));
  return figure;
}

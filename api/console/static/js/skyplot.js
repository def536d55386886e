// Sky plot: a polar az/el plot of a track over the station's horizon, as
// an SVG string built in one pass (zenith at the centre, north up, east right).
const R = 100;
const C = 120;

function xy(azDeg, elDeg) {
  const r = (R * (90 - Math.max(0, Math.min(90, elDeg)))) / 90;
  const a = (azDeg * Math.PI) / 180;
  return [C + r * Math.sin(a), C - r * Math.cos(a)];
}

const f = (v) => v.toFixed(1);
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const esc = (text) => String(text).replace(/[&<>"]/g, (ch) => ESC[ch]);

/** points: [{azimuth_deg, elevation_deg}], mask: [[az, el], ...], minElevationDeg.
 * -> {svg (markup), segments (drawn above the horizon), points}. */
export function skyPlotSvg(points, mask, minElevationDeg, label) {
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="skyplot" viewBox="0 0 ${2 * C} ${2 * C}" role="img" aria-labelledby="sky-title">`);
  parts.push(`<title id="sky-title">${esc(label)}</title>`);
  for (const el of [0, 30, 60]) {
    parts.push(`<circle cx="${C}" cy="${C}" r="${f((R * (90 - el)) / 90)}" fill="none" stroke="#d0d7de"/>`);
    parts.push(`<text x="${C + 2}" y="${f(C - (R * (90 - el)) / 90 - 2)}" font-size="8" fill="#57606a">${el}°</text>`);
  }
  for (const [name, az] of [["N", 0], ["E", 90], ["S", 180], ["W", 270]]) {
    const [x, y] = xy(az, -6);
    const [x0, y0] = xy(az, 0);
    parts.push(`<line x1="${C}" y1="${C}" x2="${f(x0)}" y2="${f(y0)}" stroke="#eaeef2"/>`);
    parts.push(`<text x="${f(x)}" y="${f(y + 3)}" font-size="10" text-anchor="middle" fill="#1b1f24">${name}</text>`);
  }
  if (minElevationDeg > 0) {
    parts.push(`<circle class="min-elevation" cx="${C}" cy="${C}" r="${f((R * (90 - minElevationDeg)) / 90)}" fill="none" stroke="#9a6700" stroke-dasharray="3 3"/>`);
  }
  if (mask && mask.length) {
    // Obstructed sky: between the horizon circle and the mask, which is
    // linear in azimuth between its points, wrapping at 360° (as
    // orbital.stations.Station.elevation_limit_deg reads it).
    const pts = mask.map(([az, el]) => [((az % 360) + 360) % 360, el]).sort((p, q) => p[0] - q[0]);
    const table = [[pts[pts.length - 1][0] - 360, pts[pts.length - 1][1]], ...pts, [pts[0][0] + 360, pts[0][1]]];
    const maskAt = (az) => {
      let k = 0;
      while (k < table.length - 2 && table[k + 1][0] < az) k += 1;
      const [a0, e0] = table[k];
      const [a1, e1] = table[k + 1];
      return a1 === a0 ? e0 : e0 + ((e1 - e0) * (az - a0)) / (a1 - a0);
    };
    const inner = [];
    for (let az = 0; az < 360; az += 2) inner.push(xy(az, maskAt(az)).map(f).join(","));
    const outer = `M ${C - R} ${C} a ${R} ${R} 0 1 0 ${2 * R} 0 a ${R} ${R} 0 1 0 ${-2 * R} 0 Z`;
    parts.push(`<path class="horizon-mask" d="${outer} M ${inner.join(" L ")} Z" fill="#9a670033" fill-rule="evenodd" stroke="#9a6700" stroke-width="0.8"/>`);
  }
  const segments = [];
  let current = [];
  for (const p of points) {
    if (p.elevation_deg === null || p.azimuth_deg === null || p.elevation_deg < 0) {
      if (current.length) segments.push(current);
      current = [];
    } else {
      current.push(xy(p.azimuth_deg, p.elevation_deg).map(f).join(","));
    }
  }
  if (current.length) segments.push(current);
  for (const seg of segments) {
    parts.push(`<polyline class="track" points="${seg.join(" ")}" fill="none" stroke="#0969da" stroke-width="2"/>`);
  }
  if (segments.length) {
    const first = segments[0][0].split(",");
    const lastSeg = segments[segments.length - 1];
    const last = lastSeg[lastSeg.length - 1].split(",");
    parts.push(`<circle class="aos" cx="${first[0]}" cy="${first[1]}" r="3" fill="#1a7f37"><title>AOS</title></circle>`);
    parts.push(`<circle class="los" cx="${last[0]}" cy="${last[1]}" r="3" fill="#cf222e"><title>LOS</title></circle>`);
  }
  parts.push("</svg>");
  return { svg: parts.join(""), segments: segments.length, points: segments.reduce((n, s) => n + s.length, 0) };
}

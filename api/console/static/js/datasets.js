// Datasets: filter by satellite, station and time; each file downloads with
// the key and its SHA-256 is checked against the catalogue's.
import { api, downloadArchive, downloadFile } from "./api.js";
import { emptyNote, errorNote, fill, fmtBytes, fmtTime, h, table } from "./format.js";
import { quickLooks } from "./quicklooks.js";

const PAGE = 50;

function fileButton(d, f) {
  const note = h("span", { class: "muted", role: "status" });
  const button = h("button", {
    type: "button", "data-file": f.name,
    "aria-label": `Download ${f.name} of dataset ${d.id} (${fmtBytes(f.size_bytes)})`,
  }, `${f.name} (${fmtBytes(f.size_bytes)})`);
  button.addEventListener("click", async () => {
    note.textContent = " downloading…";
    try {
      const got = await downloadFile(d.id, f.name);
      note.textContent = got.verified
        ? ` ${got.bytes} bytes, SHA-256 verified`
        : ` ${got.bytes} bytes, SHA-256 ${got.sha256 || "not computed"} does not match ${got.expected}`;
      note.className = got.verified ? "ok" : "error";
    } catch (err) {
      note.replaceChildren(errorNote(err));
    }
  });
  return h("li", {}, button, note);
}

/** "Whole dataset": its tar archive, every file checked against the manifest. */
function archiveButton(d) {
  const note = h("span", { class: "muted", role: "status" });
  const button = h("button", {
    type: "button", "data-archive": d.id,
    "aria-label": `Download the whole dataset ${d.id} as a tar archive (${fmtBytes(d.total_size_bytes)} of files)`,
  }, "Whole dataset (.tar)");
  button.addEventListener("click", async () => {
    note.textContent = " downloading…";
    try {
      const got = await downloadArchive(d.id);
      note.textContent = got.verified
        ? ` ${got.bytes} bytes, ${got.files} files, every SHA-256 verified against the manifest`
        : ` ${got.bytes} bytes: ${got.problems.join("; ")}`;
      note.className = got.verified ? "ok" : "error";
    } catch (err) {
      note.replaceChildren(errorNote(err));
    }
  });
  return h("li", {}, button, note);
}

/** The table of datasets (also on the contact page, which shows the
 * quick-looks large below it: `withQuickLooks` false). */
export function datasetTable(rows, { linkContacts, withQuickLooks = true }) {
  return table(
    ["Dataset", "Satellite", "Station / antenna", "Time (UTC)", "Size", "Contact", "Files",
      ...(withQuickLooks ? ["Quick-looks"] : [])],
    rows.map((d) => [
      d.id,
      `${d.satellite} (${d.norad_id})`,
      `${d.station} / ${d.antenna}`,
      `${fmtTime(d.start_time)} to ${fmtTime(d.end_time).slice(11)}`,
      fmtBytes(d.total_size_bytes),
      linkContacts ? h("a", { href: `#/contact/${encodeURIComponent(d.contact_id)}` }, d.contact_id) : d.contact_id,
      h("ul", { class: "files" }, d.files.map((f) => fileButton(d, f)), archiveButton(d)),
      ...(withQuickLooks ? [quickLooks(d) || "none"] : []),
    ]),
  );
}

function isoOrEmpty(localValue) {
  return localValue ? new Date(`${localValue}:00Z`).toISOString() : "";
}

export async function render(main, { session, signal }) {
  const [satellites, stations] = await Promise.all([
    api("/satellites", { signal }), api("/ground-stations", { signal }),
  ]);
  const field = (id, label, control) => h("label", { for: id }, label, control);
  const sat = h("select", { id: "ds-satellite", name: "satellite" }, h("option", { value: "" }, "All satellites"),
    satellites.data.map((s) => h("option", { value: s.norad_id }, `${s.name} (${s.norad_id})`)));
  const station = h("select", { id: "ds-station", name: "station" }, h("option", { value: "" }, "All stations"),
    stations.data.map((s) => h("option", { value: s.id }, s.name)));
  const from = h("input", { id: "ds-from", name: "start", type: "datetime-local" });
  const to = h("input", { id: "ds-to", name: "end", type: "datetime-local" });
  const form = h("form", { class: "filters", id: "ds-filters", "aria-label": "Filter datasets" },
    field("ds-satellite", "Satellite", sat), field("ds-station", "Station", station),
    field("ds-from", "From (UTC)", from), field("ds-to", "To (UTC)", to),
    h("button", { type: "submit" }, "Apply filters"));
  const results = h("section", { id: "ds-results", "aria-live": "polite" });
  fill(main, h("h1", {}, "Datasets"),
    session.role === "scientist"
      ? h("p", { class: "muted" }, "Datasets of the tenants granted to this key, with the contact each came from.")
      : null,
    form, results);
  const linkContacts = session.role !== "scientist";

  async function load(offset) {
    const params = {
      satellite: sat.value, station: station.value, start: isoOrEmpty(from.value), end: isoOrEmpty(to.value),
      limit: PAGE, offset,
    };
    try {
      const page = await api("/datasets", { params, signal });
      const nav = h("div", { class: "controls" },
        offset > 0 ? h("button", { type: "button", onclick: () => load(Math.max(0, offset - PAGE)) }, "Previous page") : null,
        offset + PAGE < page.count ? h("button", { type: "button", onclick: () => load(offset + PAGE) }, "Next page") : null);
      results.replaceChildren(
        h("p", { id: "ds-count" }, `${page.count} dataset${page.count === 1 ? "" : "s"}` +
          (page.count > PAGE ? `, ${offset + 1}–${Math.min(offset + PAGE, page.count)} shown` : "")),
        page.count ? datasetTable(page.data, { linkContacts }) : emptyNote("No dataset matches."),
        nav);
    } catch (err) {
      results.replaceChildren(errorNote(err));
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(0); });
  await load(0);
}

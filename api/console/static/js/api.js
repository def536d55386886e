// The console's only way to the service: the public REST API with the
// signed-in key as a Bearer token. The key lives in sessionStorage (gone
// when the browser session ends); nothing is sent to any other host.

const KEY = "groundstation.apiKey";

export function getKey() {
  return sessionStorage.getItem(KEY);
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY);
}

/** An answer other than 2xx, with the API's problem+json detail. */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = (problem && (problem.detail || problem.title)) || "request failed";
    super(`${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    this.status = status;
    this.problem = problem;
  }
}

function url(path, params) {
  const u = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) u.searchParams.append(name, v);
  }
  return u;
}

function headers(extra = {}) {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : { ...extra };
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { detail: response.statusText };
  }
}

// One API request at a time: on SQLite with the default two API threads,
// three concurrent requests can wait on each other until the database's busy
// timeout (each holds a thread while waiting for the write lock that a third,
// needing a thread to end its transaction, still holds). Pages issue few
// requests, so sequential costs little.
let queue = Promise.resolve();

/** GET (or another method with a JSON body; `extraHeaders` such as
 * If-Match) -> the parsed JSON answer. */
export function api(path, options = {}) {
  const run = queue.then(() => request(path, options));
  queue = run.catch(() => {});
  return run;
}

async function request(path, { params, method = "GET", body, signal, extraHeaders = {} } = {}) {
  const init = { method, headers: headers({ Accept: "application/json", ...extraHeaders }), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, params), init);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.status === 204 ? null : response.json();
}

/** Every page of a cursor-paged list (GET /contacts): all rows in order. */
export async function allPages(path, params, { signal, pageSize = 1000 } = {}) {
  const rows = [];
  let cursor = null;
  do {
    const page = await api(path, { params: { ...params, limit: pageSize, cursor }, signal });
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

/** Follow GET /contacts/events (Server-Sent Events) with the key in the
 * Authorization header (EventSource cannot send one), calling
 * onEvent(type, data) for each event; reconnects with Last-Event-ID until
 * `signal` aborts. onStatus(text) tells whether the stream is live. */
export async function followEvents(onEvent, { signal, onStatus = () => {} } = {}) {
  let lastId = null;
  while (!signal.aborted) {
    try {
      const extra = { Accept: "text/event-stream" };
      if (lastId) extra["Last-Event-ID"] = lastId;
      const response = await fetch(url("/contacts/events"), { headers: headers(extra), signal });
      if (!response.ok) throw new ApiError(response.status, await problemOf(response));
      onStatus("live");
      lastId = await readEvents(response.body, onEvent, lastId);
      if (!signal.aborted) onStatus("reconnecting (the stream ended)");
    } catch (err) {
      if (signal.aborted) return;
      onStatus(`reconnecting (${err.message || err})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function readEvents(body, onEvent, lastId) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return lastId;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { type: "message", data: [], id: null };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.type = text;
        else if (field === "data") event.data.push(text);
        else if (field === "id") event.id = text;
      }
      if (event.id) lastId = event.id;
      if (event.data.length) onEvent(event.type, JSON.parse(event.data.join("\n")));
    }
  }
}

async function sha256Hex(buffer) {
  if (!window.crypto || !window.crypto.subtle) return null;
  const digest = await window.crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function filePath(datasetId, name) {
  return `/datasets/${encodeURIComponent(datasetId)}/files/${name.split("/").map(encodeURIComponent).join("/")}`;
}

/** One dataset file's bytes as a Blob, fetched with the key (for images). */
export async function fetchFileBlob(datasetId, name) {
  const response = await fetch(url(filePath(datasetId, name)), { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.blob();
}

/** Download one dataset file with the key, check its SHA-256 against the
 * catalogue's (X-Checksum-SHA256), then hand it to the browser as a file.
 * -> {bytes, sha256, expected, verified}. */
export async function downloadFile(datasetId, name) {
  const response = await fetch(url(filePath(datasetId, name)), { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const expected = response.headers.get("X-Checksum-SHA256");
  const blob = await response.blob();
  const sha256 = await sha256Hex(await blob.arrayBuffer());
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name.split("/").pop();
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return { bytes: blob.size, sha256, expected, verified: sha256 !== null && sha256 === expected };
}

/** The members of a tar archive (ustar, with PAX `path` records): [{name, bytes}]. */
function tarMembers(buffer) {
  const bytes = new Uint8Array(buffer);
  const text = (start, length) => new TextDecoder().decode(bytes.subarray(start, start + length)).replace(/\0.*$/s, "");
  const members = [];
  let offset = 0;
  let paxPath = null;
  while (offset + 512 <= bytes.length) {
    if (bytes.subarray(offset, offset + 512).every((b) => b === 0)) break; // the end blocks
    const size = parseInt(text(offset + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(bytes[offset + 156] || 48);
    const prefix = text(offset + 345, 155);
    const data = bytes.subarray(offset + 512, offset + 512 + size);
    if (type === "x") { // a PAX extended header: "<len> path=<name>\n" records
      for (const record of new TextDecoder().decode(data).split("\n")) {
        const match = record.match(/^\d+ path=(.*)$/s);
        if (match) paxPath = match[1];
      }
    } else if (type === "0" || type === "\0") {
      const name = paxPath || (prefix ? `${prefix}/${text(offset, 100)}` : text(offset, 100));
      members.push({ name, bytes: data });
      paxPath = null;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return members;
}

/** Download a whole dataset (GET /datasets/{id}/archive, a tar) with the key,
 * check that it is complete and that every file's SHA-256 is the one its
 * manifest (the archive's first member) gives, then hand it to the browser.
 * -> {bytes, files, verified, problems}. */
export async function downloadArchive(datasetId) {
  const response = await fetch(url(`/datasets/${encodeURIComponent(datasetId)}/archive`), { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const expectedBytes = Number(response.headers.get("Content-Length"));
  const blob = await response.blob();
  const buffer = await blob.arrayBuffer();
  const problems = [];
  if (expectedBytes && blob.size !== expectedBytes) problems.push(`${blob.size} of ${expectedBytes} bytes received`);
  const members = tarMembers(buffer);
  const manifestMember = members.find((m) => m.name === `${datasetId}/manifest.json`);
  const manifest = manifestMember ? JSON.parse(new TextDecoder().decode(manifestMember.bytes)) : { files: [] };
  if (!manifestMember) problems.push("no manifest.json in the archive");
  const byName = new Map(members.map((m) => [m.name, m]));
  for (const f of manifest.files) {
    const member = byName.get(`${datasetId}/${f.name}`);
    if (!member) { problems.push(`${f.name} missing`); continue; }
    const sha256 = await sha256Hex(member.bytes);
    if (sha256 !== f.sha256) problems.push(`${f.name}: SHA-256 ${sha256} is not the manifest's ${f.sha256}`);
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${datasetId}.tar`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return { bytes: blob.size, files: manifest.files.length, verified: problems.length === 0, problems };
}

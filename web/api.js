// api.js - the daemon's API as the dashboard calls it: the token (kept in
// sessionStorage, sent as a bearer header, never put in a URL), JSON calls
// whose errors keep the server's code and field paths, Server-Sent Events
// and NDJSON streams read through fetch (EventSource cannot send a
// header), and downloads that carry the token.

const TOKEN_KEY = "mcmcd.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// An error answer of the API: status, code, message and the details
// ([{path, message}]) of an invalid spec.
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "";
    this.details = Array.isArray(e.details) ? e.details : [];
  }
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = getToken();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

// fetch with the token; throws ApiError for a 4xx/5xx answer.
export async function request(method, path, { body, type, signal, token, accept } = {}) {
  const h = headers(type ? { "Content-Type": type } : {});
  if (accept) h["Accept"] = accept;
  if (token !== undefined) h["Authorization"] = "Bearer " + token;
  const r = await fetch(path, { method, headers: h, body, signal, cache: "no-store" });
  if (!r.ok) {
    let j = null;
    try {
      j = await r.json();
    } catch (_) {
      j = null;
    }
    throw new ApiError(r.status, j);
  }
  return r;
}

export async function getJson(path, opts) {
  const r = await request("GET", path, opts);
  return r.json();
}

export async function sendJson(method, path, value) {
  const r = await request(method, path, {
    body: value === undefined ? undefined : JSON.stringify(value),
    type: value === undefined ? undefined : "application/json",
  });
  return r.status === 204 ? null : r.json();
}

// Reads an answer of type accept line by line, calling onLine(text) for
// each (without its line end), until it ends or signal aborts.
async function readLines(path, accept, onLine, signal) {
  const r = await request("GET", path, { signal, accept });
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  }
}

function parsed(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return undefined;
  }
}

// Reads an NDJSON answer, calling onLine(object) for each line, until it
// ends or signal aborts. Lines that are not JSON are skipped.
export function streamLines(path, onLine, signal) {
  return readLines(path, "application/x-ndjson", (line) => {
    const obj = line.trim() ? parsed(line) : undefined;
    if (obj !== undefined) onLine(obj);
  }, signal);
}

// Reads a text/event-stream answer (a job's events as Server-Sent
// Events), calling onEvent(object) with each event's JSON data, until it
// ends or signal aborts. Comments (heartbeats), retry: and events whose
// data is not JSON are skipped.
export function streamEvents(path, onEvent, signal) {
  let data = [];
  return readLines(path, "text/event-stream", (line) => {
    if (line === "") { // an event ends
      const obj = data.length ? parsed(data.join("\n")) : undefined;
      data = [];
      if (obj !== undefined) onEvent(obj);
    } else if (line.startsWith("data:")) {
      data.push(line.slice(line[5] === " " ? 6 : 5));
    }
  }, signal);
}

// Downloads path (with the token) as a file named filename, through a
// Blob URL: a plain link could not carry the Authorization header.
export async function download(path, filename) {
  const r = await request("GET", path);
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

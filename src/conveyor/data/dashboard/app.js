// Conveyor's dashboard: one page per view, rendered from the daemon's JSON API
// (/api/v1/*, the same routes the CLI uses) and kept live by one server-sent event stream.
// No build step, no framework, nothing fetched from outside the daemon (it works offline).
//
// The contract every page module (pages/*.js) follows:
//   export default {
//     path: /^\/pipelines\/([^/]+)$/,      // matched against location.pathname minus "/ui"
//     title: "Pipeline",                   // or (params) => string
//     async render(main, params, ctx) {    // main: the <main> element, emptied for you
//       ...; return cleanup;               // optional function, called when the page is left
//     },
//   };
// ctx = {api, h, subscribe, navigate, link, fmt, actor, toast}; see below.

import pages from "./pages/index.js";

const csrf = document.querySelector('meta[name="conveyor-csrf"]')?.content || "";
const actor = document.querySelector('meta[name="conveyor-actor"]')?.content || "";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.type = err.type || "Error";
    this.hint = err.hint || null;
  }
}

async function call(method, path, body) {
  const init = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-Conveyor-CSRF"] = csrf;
    init.body = JSON.stringify(body || {});
  }
  const res = await fetch(path, init);
  if (res.status === 401) { location.assign(`/login?next=${encodeURIComponent(location.pathname)}`); }
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// api.get("/api/v1/pipelines"), api.post("/api/v1/executions/ID/stop", {reason: "..."}).
// Actions need no "by": the server records the session's actor for every change it makes.
export const api = {get: (p) => call("GET", p), post: (p, b) => call("POST", p, b)};

// h("a", {href: "/ui/x", class: "btn", onclick: fn, "aria-label": "..."}, "text", childNode, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElementNS(
    tag === "svg" || attrs?.__svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "__svg" || v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return el;
}

// One EventSource for the whole page (GET /api/v1/events/stream, text/event-stream, each message
// an event as GET /api/v1/events returns it). subscribe(filter, fn) calls fn(event) for each event
// with filter(event) true and returns the unsubscribe function.
const listeners = new Set();
let source = null;
let lastSeq = 0;
function connect() {
  source = new EventSource(`/api/v1/events/stream${lastSeq ? `?after=${lastSeq}` : ""}`);
  source.onmessage = (msg) => {
    let ev;
    try { ev = JSON.parse(msg.data); } catch (_) { return; }
    lastSeq = Math.max(lastSeq, ev.seq || 0);
    for (const l of [...listeners]) if (l.filter(ev)) { try { l.fn(ev); } catch (e) { console.error(e); } }
  };
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false);  // EventSource reconnects by itself (with Last-Event-ID)
}
function setLive(on) {
  const el = document.getElementById("live");
  if (el) { el.textContent = on ? "live" : "reconnecting…"; el.className = on ? "live on" : "live off"; }
}
export function subscribe(filter, fn) {
  const l = {filter, fn};
  listeners.add(l);
  return () => listeners.delete(l);
}

export const fmt = {
  time: (t) => (t ? new Date(t * 1000).toLocaleString() : "—"),
  ago: (t) => {
    if (!t) return "—";
    const s = Math.max(0, Date.now() / 1000 - t);
    return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago`
      : s < 86400 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} d ago`;
  },
  duration: (s) => (s === null || s === undefined ? "—" : s < 60 ? `${s.toFixed(1)} s`
    : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`),
  // a status badge: <span class="status status-succeeded">Succeeded</span>
  status: (s) => h("span", {class: `status status-${String(s || "unknown").toLowerCase()}`}, s || "—"),
};

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const el = h("div", {class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status"}, message);
  box.append(el);
  setTimeout(() => el.remove(), 6000);
}

export function link(path, ...children) {
  return h("a", {href: `/ui${path}`, "data-nav": ""}, ...children);
}

let cleanup = null;
export async function navigate(path, push = true) {
  if (push) history.pushState(null, "", `/ui${path}`);
  await show(path);
}

async function show(path) {
  if (typeof cleanup === "function") { try { cleanup(); } catch (e) { console.error(e); } }
  cleanup = null;
  const main = document.getElementById("main");
  main.replaceChildren();
  for (const page of pages) {
    const m = path.match(page.path);
    if (!m) continue;
    const params = m.slice(1).map(decodeURIComponent);
    const title = typeof page.title === "function" ? page.title(params) : page.title;
    document.title = `${title} · Conveyor`;
    for (const a of document.querySelectorAll("nav a")) {
      a.setAttribute("aria-current", path.startsWith(a.getAttribute("href").slice(3)) ? "page" : "false");
    }
    try {
      cleanup = await page.render(main, params, ctx);
    } catch (e) {
      main.replaceChildren(h("div", {class: "error", role: "alert"}, h("h1", {}, title), h("p", {}, e.message),
        e.hint ? h("p", {class: "hint"}, e.hint) : null));
    }
    main.focus({preventScroll: true});
    return;
  }
  main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, `No page at ${path}.`));
}

const ctx = {api, h, subscribe, navigate, link, fmt, actor, toast};

document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[data-nav]");
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute("href").replace(/^\/ui/, "") || "/");
});
window.addEventListener("popstate", () => show(location.pathname.replace(/^\/ui/, "") || "/"));

connect();
show(location.pathname.replace(/^\/ui/, "") || "/");

// cardpki page kit: the pieces the officers' portal, the applicant page and the holder pages share
// (plain ES module, no build step, no CDN; served beside each page's own module).

/** An element with attributes, listeners (`onclick`...) and children; text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** The page's message line (#message). */
export function say(text, kind = "info") {
  const msg = document.getElementById("message");
  msg.className = kind;
  msg.textContent = text;
}

/** A refused request: the RFC 7807 problem the API answered. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** JSON calls under `base`, with the session's CSRF token (read by `csrf()`) on every state change. */
export function apiClient(base, csrf) {
  return async function api(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method, credentials: "same-origin",
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(method !== "GET" ? { "x-csrf-token": csrf() } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new ApiError(res.status, data || {});
    return data;
  };
}

/** A refusal as an officer or holder reads it: the engine's reason, the guard and the requirement. */
export function refusal(e) {
  const p = (e && e.problem) || {};
  const text = p.detail || (e && e.message) || "The request was refused.";
  return p.guard && !text.includes(p.guard) ? `${text} (rule: ${p.guard}${p.requirement ? `, ${p.requirement}` : ""})` : text;
}

/** Sends a form through `fn` (given its FormData) with the button disabled meanwhile; a refusal goes to the message line. */
export async function submit(form, fn) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await fn(new FormData(form));
  } catch (e) {
    say(refusal(e), "error");
  } finally {
    button.disabled = false;
  }
}

/** Draws a screen into #main (with a heading when `title` is given) and marks the current nav link. */
export function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(...(title ? [h("h1", { text: title })] : []), ...content.flat().filter((c) => c !== null && c !== undefined));
  main.focus();
  for (const a of document.querySelectorAll("nav a")) a.setAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")) ? "page" : "false");
}

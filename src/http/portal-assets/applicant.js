// cardpki applicant page: plain ES module, no build step, no CDN. The link in the message carries the
// order and a single-use token in its fragment (never sent in a request line); the page exchanges the
// token once for a short session (HttpOnly cookie) and then reads the terms, accepts, follows, cancels.
const $main = document.getElementById("main");
const $msg = document.getElementById("message");
const API = "/api/v1/applicant";
const CSRF_KEY = "cardpki-applicant-csrf";
let csrf = sessionStorage.getItem(CSRF_KEY) || "";

function h(tag, attrs = {}, ...children) {
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

function say(text, kind = "info") {
  $msg.className = kind;
  $msg.textContent = text;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body) {
  const res = await fetch(`${API}${path}`, {
    method, credentials: "same-origin",
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(method !== "GET" ? { "x-csrf-token": csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new ApiError(res.status, data || {});
  return data;
}

function page(title, ...content) {
  $main.replaceChildren(h("h1", { text: title }), ...content.flat().filter((c) => c !== null && c !== undefined));
  $main.focus();
}

/** The terms as text: "# " lines are headings, "- " lines list items, other lines paragraphs (blank lines between). Never HTML. */
function termsText(text) {
  const out = [];
  let para = null;
  let list = null;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) {
      para = list = null;
    } else if (t.startsWith("#")) {
      out.push(h("h3", { text: t.replace(/^#+\s*/, "") }));
      para = list = null;
    } else if (t.startsWith("- ")) {
      if (!list) out.push((list = h("ul")));
      list.append(h("li", { text: t.slice(2) }));
      para = null;
    } else if (list) {
      list.lastChild.append(` ${t}`); // an item continued on the next line
    } else if (para) {
      para.append(` ${t}`);
    } else {
      out.push((para = h("p", { text: t })));
    }
  }
  return out;
}

function steps(progress) {
  return h("ol", { class: "steps", "aria-label": "Steps of your card order" },
    progress.steps.map((s) => h("li", { class: s.state.replace(" ", "-"), ...(s.state === "current" ? { "aria-current": "step" } : {}) }, s.label, h("span", { class: "muted", text: ` (${s.state})` }))));
}

async function show(progress) {
  const parts = [h("p", { id: "status", class: "status", text: progress.status }), progress.steps.length ? steps(progress) : null];
  if (progress.termsAccepted) parts.push(h("p", { text: `You accepted the terms of use, version ${progress.termsAccepted}.` }));
  if (progress.canAcceptTerms) {
    const terms = await api("GET", "/terms");
    const box = h("input", { type: "checkbox", name: "accepted", id: "accept-box" }); // never pre-ticked (REQ-06)
    const form = h("form", { "aria-label": "Accept the terms of use" },
      h("label", { class: "check" }, box, `I have read the terms of use (version ${terms.version}) and accept them`),
      h("button", { type: "submit", text: "Accept the terms" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(form, async () => {
        const p = await api("POST", "/accept-terms", { termsVersion: terms.version, accepted: box.checked });
        await show(p);
        say(`Thank you: you accepted the terms of use (version ${terms.version}).`);
      });
    });
    parts.push(h("section", { class: "terms", "aria-labelledby": "terms-title", tabindex: 0 }, h("h2", { id: "terms-title", text: `${terms.title} (version ${terms.version})` }), termsText(terms.text)), form);
  }
  if (progress.canCancel) {
    const confirm = h("input", { type: "checkbox", name: "confirm" });
    const form = h("form", { "aria-label": "Cancel the card order", class: "danger" },
      h("h2", { text: "Cancel the card order" }),
      h("label", { class: "check" }, confirm, "Yes, I want to cancel this card order"),
      h("button", { type: "submit", class: "danger", text: "Cancel the order" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!confirm.checked) return say("Tick the box to confirm that you want to cancel the order.", "error");
      act(form, async () => {
        await show(await api("POST", "/cancel", {}));
        say("Your card order is cancelled.");
      });
    });
    parts.push(form);
  }
  page("Your card order", parts);
}

async function act(form, fn) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await fn();
  } catch (e) {
    say(refusal(e), "error");
  } finally {
    button.disabled = false;
  }
}

function refusal(e) {
  const p = (e && e.problem) || {};
  return p.detail || (e && e.message) || "The request was refused.";
}

function signout() {
  const out = document.getElementById("signout");
  out.hidden = false;
  out.addEventListener("click", async () => {
    await fetch(`${API}/session`, { method: "DELETE", credentials: "same-origin" });
    sessionStorage.removeItem(CSRF_KEY);
    say("");
    page("Session ended", h("p", { text: "You can close this page. The link you received works only once; your registration office can help with anything else." }));
    out.hidden = true;
  });
}

async function start() {
  const link = new URLSearchParams(location.hash.slice(1));
  const order = link.get("order");
  const token = link.get("token");
  // The token leaves the address bar and the history at once.
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  let firstProblem = null;
  if (order || token) {
    if (!order || !token) firstProblem = { detail: "This link is incomplete: open the link from the message you received, unchanged." };
    else {
      try {
        const s = await api("POST", "/session", { orderId: order, token });
        csrf = s.csrfToken;
        sessionStorage.setItem(CSRF_KEY, csrf);
        signout();
        return show(s.progress);
      } catch (e) {
        firstProblem = e.problem || { detail: e.message };
      }
    }
  }
  // A reload, or the link opened again in the same browser: the session may still be open.
  try {
    const p = await api("GET", "/progress");
    signout();
    await show(p);
  } catch {
    page("This link cannot be used", h("p", { id: "problem", text: (firstProblem && firstProblem.detail) || "Open the link from the message you received about your card order." }),
      h("p", { class: "muted", text: "The link works once and for a limited time. If you need help, contact your registration office." }));
  }
}

await start();

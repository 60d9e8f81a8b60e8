// cardpki holder pages: plain ES module, no build step, no CDN. Sign-in with the card's client
// certificate (a session of kind holder, bound to it); every step calls the RA API, which decides.
const $main = document.getElementById("main");
const $msg = document.getElementById("message");
let csrf = "";
let me = null;

const REASONS = [
  ["unspecified", "I no longer need this card"],
  ["superseded", "I have a new card that replaces it"],
  ["keyCompromise", "Someone else may have used the card or knows the PIN"],
];

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
  const res = await fetch(`/api/v1${path}`, {
    method, credentials: "same-origin",
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(method !== "GET" ? { "x-csrf-token": csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new ApiError(res.status, data || {});
  return data;
}

function refusal(e) {
  const p = (e && e.problem) || {};
  const text = p.detail || (e && e.message) || "The request was refused.";
  return p.guard && !text.includes(p.guard) ? `${text} (rule: ${p.guard}${p.requirement ? `, ${p.requirement}` : ""})` : text;
}

function page(title, ...content) {
  $main.replaceChildren(...(title ? [h("h1", { text: title })] : []), ...content.flat().filter((c) => c !== null && c !== undefined));
  $main.focus();
  for (const a of document.querySelectorAll("nav a")) a.setAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")) ? "page" : "false");
}

const fmt = (d) => (d ? new Date(d).toISOString().slice(0, 10) : "");
let flash = "";

async function submit(form, fn) {
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

// ------------------------------------------------------------------ screens
async function activation() {
  const a = await api("GET", "/holder/activation");
  if (!a.pending) return page("Activate your card", h("p", { id: "activation-status", text: a.status }), h("p", {}, h("a", { href: "#/cards", text: "My cards" })));
  const form = h("form", { "aria-label": "Activate the card" },
    h("p", { text: a.status }),
    a.needsActivationCode ? h("label", {}, "Activation code (sent to you apart from the card)", h("input", { name: "code", required: true, autocomplete: "one-time-code", maxlength: 32, pattern: "[A-Za-z0-9]+" })) : null,
    h("button", { type: "submit", text: "Activate my card" }));
  form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async (f) => {
    await api("POST", `/holder/orders/${a.orderId}/activate`, a.needsActivationCode ? { activationCode: String(f.get("code")).trim() } : {});
    flash = a.pin === "transport" ? "Your card is active. Now replace the transport PIN with a PIN of your own (see Change PIN)." : "Your card is active. Change the PIN you received to one only you know (see Change PIN).";
    if (me.credentialOnHold) {
      // The card is released: sign in again, now with every step open to it.
      await signIn();
      location.hash = "#/pin";
      return route();
    }
    location.hash = "#/pin";
  })));
  page("Activate your card",
    h("p", { text: "Activation proves that the card reached you: you sign in with the card and its PIN" + (a.needsActivationCode ? " and enter the activation code you received by another channel." : ".") }),
    form);
}

function confirmForm(label, button, fn, { reason = false, danger = false } = {}) {
  const form = h("form", { "aria-label": label, class: danger ? "danger" : undefined },
    reason ? h("label", {}, "Reason", h("select", { name: "reason" }, REASONS.map(([v, t]) => h("option", { value: v, text: t })))) : null,
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "confirm" }), `Yes: ${label.toLowerCase()}`),
    h("button", { type: "submit", class: danger ? "danger" : undefined, text: button }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!new FormData(form).get("confirm")) return say("Tick the box to confirm.", "error");
    submit(form, fn);
  });
  return form;
}

async function cards() {
  const list = await api("GET", "/holder/cards");
  const rows = list.map((c) => {
    const serial = c.certificate ? c.certificate.serial : "";
    const act = (what, body) => api("POST", `/holder/cards/${serial}/${what}`, body);
    const after = async (text) => {
      if (c.thisCard && text) {
        page("Signed out", h("p", { text: `${text} The card you signed in with can no longer sign you in.` }));
        return;
      }
      flash = text;
      await route();
    };
    const forms = [];
    if (c.actions.includes("activate")) forms.push(h("a", { href: "#/activate", class: "action", text: "Activate this card" }));
    if (c.actions.includes("suspend")) forms.push(confirmForm("Suspend this card for now", "Suspend", async () => { await act("suspend", {}); await after("The card is suspended."); }));
    if (c.actions.includes("resume")) forms.push(confirmForm("Lift the suspension", "Resume", async () => { await act("resume", {}); await after("The suspension is lifted: the card works again."); }));
    if (c.actions.includes("revoke")) forms.push(confirmForm("Revoke this card for good", "Revoke", async (f) => { await act("revoke", { reason: f.get("reason") }); await after("The card is revoked for good."); }, { reason: true, danger: true }));
    if (c.actions.includes("lost")) forms.push(confirmForm("Report this card lost or stolen", "Report lost", async () => { await act("lost", {}); await after("The card is reported lost: it is revoked and can never be used again. Ask your registration office for a new card."); }, { danger: true }));
    return h("section", { class: "card", "data-serial": serial, "aria-label": `Card ${serial || c.orderId.slice(0, 8)}` },
      h("h2", { text: `LoA${c.loa} ${c.purpose === "officer" ? "officer card" : "eID card"}${c.thisCard ? " (the card you signed in with)" : ""}` }),
      h("dl", {},
        h("dt", { text: "Status" }), h("dd", { class: "card-status", text: c.status }),
        c.certificate ? [h("dt", { text: "Certificate" }), h("dd", { text: c.certificate.serial }), h("dt", { text: "Valid until" }), h("dd", { text: fmt(c.certificate.notAfter) })] : null,
        c.activationDeadline ? [h("dt", { text: "Activate by" }), h("dd", { text: fmt(c.activationDeadline) })] : null),
      forms.length ? h("div", { class: "actions" }, forms) : null);
  });
  page("My cards",
    h("p", { class: "muted", text: "Suspend a card you have mislaid for a while; revoke one you no longer use; report one lost or stolen at once. A suspended card cannot sign you in: lift the suspension with another card of yours or at your registration office." }),
    rows.length ? rows : h("p", { text: "No cards." }));
}

function pin() {
  const t = document.getElementById("pin-guidance");
  page(null, t.content.cloneNode(true));
}

// ------------------------------------------------------------------ routing and sign-in
let navigation = 0;

async function route() {
  say(flash);
  flash = "";
  const mine = ++navigation;
  try {
    // REQ-16: a card held until activation may only be activated.
    if (me.credentialOnHold || location.hash === "#/activate") await activation();
    else if (location.hash === "#/pin") pin();
    else await cards();
  } catch (e) {
    if (mine === navigation) page("Something went wrong", h("p", { text: refusal(e) }));
  }
}

async function signIn() {
  const res = await fetch("/holder/session", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}" });
  const data = await res.json();
  if (!res.ok) {
    page("Sign-in failed", h("p", { id: "problem", text: `${data.detail || data.title}.` }), h("p", { text: "Insert your eID card, choose its certificate when the browser asks, and reload this page." }));
    return false;
  }
  csrf = data.csrfToken;
  me = data.me;
  document.getElementById("who").textContent = `Signed in with your LoA${me.loa} card`;
  for (const a of document.querySelectorAll("nav a")) a.hidden = me.credentialOnHold && a.getAttribute("href") !== "#/activate";
  const out = document.getElementById("signout");
  out.hidden = false;
  out.onclick = async () => {
    await fetch("/holder/session", { method: "DELETE", credentials: "same-origin" });
    page("Signed out", h("p", { text: "Remove your card." }));
  };
  return true;
}

window.addEventListener("hashchange", route);
if (await signIn()) await route();

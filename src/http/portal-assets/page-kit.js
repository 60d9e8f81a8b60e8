// cardpki page kit: the pieces the officers' portal, the applicant page and the holder pages share
// (plain ES module, no build step, no CDN; served beside each page's own module): elements, the
// message catalogues and the language switch, API calls, refusals, form errors, times, screens.

// ------------------------------------------------------------------ elements

/** An element with attributes, listeners (`onclick`...) and children; text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false)
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

let ids = 0;
/** A fresh element id (labels, descriptions, error messages). */
export const uid = (p = "f") => `${p}-${++ids}`;

// ------------------------------------------------------------------ languages

/** The languages of the pages, each named in itself (the switch shows them so). */
export const LANGUAGES = { en: "English", sv: "Svenska", da: "Dansk" };
const STORE = "cardpki.lang";
const LOCALE = { en: "en-GB", sv: "sv-SE", da: "da-DK" };
let current = "en";
let words = {};
let english = {};
let base = "";
const listeners = [];

/** The language the person chose (localStorage), else the first of the browser's languages we speak, else English. */
export function chosenLanguage() {
  try {
    const s = localStorage.getItem(STORE);
    if (s && LANGUAGES[s]) return s;
  } catch {
    // storage blocked: the browser's languages decide
  }
  for (const l of navigator.languages && navigator.languages.length
    ? navigator.languages
    : [navigator.language || "en"]) {
    const p = String(l).toLowerCase().split("-")[0];
    if (LANGUAGES[p]) return p;
    if (p === "nb" || p === "nn" || p === "no") return "da"; // Norwegian readers read Danish more easily than English
  }
  return "en";
}

/** The current language (what every request sends as Accept-Language). */
export const language = () => current;

async function catalogue(lang) {
  const res = await fetch(`${base}/locales/${lang}.json`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`catalogue ${lang}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Loads the catalogues served under `assets` (`<assets>/locales/<lang>.json`) for the chosen
 * language (English beside it for a key a translation lacks), sets `<html lang>` and fills the
 * page's static words (`data-t` elements).
 */
export async function startLanguage(assets, lang = chosenLanguage()) {
  base = assets;
  english = await catalogue("en");
  await useLanguage(lang, false);
}

async function useLanguage(lang, remember) {
  try {
    words = lang === "en" ? english : await catalogue(lang);
  } catch (e) {
    console.error(e);
    words = english;
    lang = "en";
  }
  current = lang;
  if (remember) {
    try {
      localStorage.setItem(STORE, lang);
    } catch {
      // not kept: the choice lasts for this page
    }
  }
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  const sw = document.getElementById("language");
  if (sw) sw.value = lang;
}

/** Runs `fn` after each language change (the page redraws its screen in the new words). */
export const onLanguageChange = (fn) => void listeners.push(fn);

/** Whether the catalogues have words for `key`. */
export const known = (key) => words[key] !== undefined || english[key] !== undefined;

/** The words for `key` in the current language, `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  let s = words[key] ?? english[key];
  if (s === undefined) {
    console.warn(`cardpki: no words for ${key}`);
    s = humanise(key.split(".").pop() || key);
  }
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined || params[k] === null ? m : String(params[k])));
}

/** The words for `key` as nodes: each `{name}` placeholder replaced by `nodes[name]` (an element, e.g. a `<code>`). */
export function tNodes(key, nodes = {}) {
  const text = words[key] ?? english[key] ?? key;
  return text
    .split(/(\{\w+\})/)
    .filter(Boolean)
    .map((part) => {
      const m = /^\{(\w+)\}$/.exec(part);
      return m && nodes[m[1]] !== undefined ? nodes[m[1]] : part;
    });
}

/**
 * Words for a value of a closed set (`state.TERMS_ACCEPTED`, `reason.keyCompromise`): the catalogue's, else the value
 * made readable.
 */
export function word(set, value) {
  if (value === undefined || value === null || value === "") return "";
  const key = `${set}.${value}`;
  return known(key) ? t(key) : humanise(String(value));
}

/** `TERMS_ACCEPTED`, `keyCompromise`, `start-production` → "Terms accepted", "Key compromise", "Start production". */
function humanise(v) {
  const s = v
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .replace(/[_.-]+/g, " ")
    .trim()
    .toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The visible language switch (a labelled select, each language named in itself). */
export function languageSwitch() {
  const select = h(
    "select",
    { id: "language", name: "language" },
    Object.entries(LANGUAGES).map(([code, name]) =>
      h("option", { value: code, lang: code, text: name, ...(code === current ? { selected: true } : {}) }),
    ),
  );
  select.addEventListener("change", async () => {
    await useLanguage(select.value, true);
    for (const fn of listeners) await fn();
    select.focus();
  });
  return h(
    "div",
    { class: "language" },
    h("label", { for: "language", "data-t": "lang.label", text: t("lang.label") }),
    select,
  );
}

/** Puts the language switch into the page's header (before the sign-out button when there is one). */
export function mountLanguageSwitch() {
  const header = document.querySelector("header");
  if (!header || document.getElementById("language")) return;
  const out = document.getElementById("signout");
  if (out) out.before(languageSwitch());
  else header.append(languageSwitch());
}

// ------------------------------------------------------------------ times

const pad = (n) => String(n).padStart(2, "0");
function parts(d, withTime) {
  const f = new Intl.DateTimeFormat(LOCALE[current] || "en-GB", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    ...(withTime ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" } : {}),
  });
  return Object.fromEntries(f.formatToParts(d).map((p) => [p.type, p.value]));
}

/** "2026-12-01 18:14 CET": local time with the zone named. */
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = parts(d, true);
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)} ${p.timeZoneName}`;
}

/** "2026-12-01": the local day. */
export function formatDay(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = parts(d, false);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** A `<time>` with the ISO instant in `datetime` and the local time (or day) as text. */
export function when(iso, dayOnly = false) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  return h("time", { datetime: new Date(iso).toISOString() }, dayOnly ? formatDay(iso) : formatTime(iso));
}

/** A certificate serial as certificate viewers print it: upper-case byte pairs, colon-separated. */
export function serialText(serial) {
  const hex = String(serial || "")
    .toUpperCase()
    .replace(/[^0-9A-F]/g, "");
  return (hex.length % 2 ? `0${hex}` : hex).match(/../g)?.join(":") ?? "";
}

// ------------------------------------------------------------------ API calls and refusals

/** A refused request: the RFC 7807 problem the API answered. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** A request with the chosen language (Accept-Language), JSON in and out; a problem answer throws ApiError. */
export async function request(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      "accept-language": current,
      accept: "application/json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok)
    throw new ApiError(
      res.status,
      data && typeof data === "object" ? data : { detail: t("error.http", { status: res.status }) },
    );
  return data;
}

/**
 * JSON calls under `base`, with the session's CSRF token (read by `csrf()`) on every state change;
 * `gate()` (when given) is asked first: false stops the call (the page has signed out).
 */
export function apiClient(apiBase, csrf, gate) {
  return async function api(method, path, body) {
    if (gate && !gate()) throw new ApiError(0, { detail: t("error.signed-out") });
    return request(method, `${apiBase}${path}`, body, method !== "GET" ? { "x-csrf-token": csrf() } : {});
  };
}

/**
 * A refusal as an officer or holder reads it: the server's sentence in the chosen language (the
 * problem's `detail`), then the rule and requirement it names. Never the problem's params.
 */
export function refusal(e) {
  const p = (e && e.problem) || {};
  let text = p.detail || p.title || (e && e.status === 0 ? t("error.signed-out") : t("error.refused"));
  // A failure of the service (5xx) has an incident: the service desk finds the cause in the log by its reference.
  if (p.incident)
    text = `${text.replace(/\s*\(incident [0-9a-f-]+\)/i, "")} ${t("error.incident", { reference: String(p.incident).slice(0, 8).toUpperCase() })}`;
  const rule = p.rule || p.guard;
  const req = p.requirement || p.req;
  const named =
    rule && !text.includes(rule) ? t("error.rule", { rule, requirement: req || "" }).replace(/,\s*\)/, ")") : "";
  if (e && !(e instanceof ApiError)) console.error(e);
  return named ? `${text} ${named}` : text;
}

// ------------------------------------------------------------------ messages and form errors

/** The page's message line (#message): `info` or `error`; empty clears it. */
export function say(text, kind = "info") {
  const msg = document.getElementById("message");
  msg.className = text ? kind : "";
  msg.setAttribute("role", kind === "error" ? "alert" : "status");
  msg.replaceChildren(...(text ? [typeof text === "string" ? h("p", { text }) : text] : []));
}

/** Clears the message line and the form's field errors. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    const described = (el.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.startsWith("err-"));
    if (described.length) el.setAttribute("aria-describedby", described.join(" "));
    else el.removeAttribute("aria-describedby");
  }
  for (const el of form.querySelectorAll(".field-error")) el.remove();
}

/** The field's words for the error list: its label's text. */
function labelOf(el) {
  const label = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
  return label ? label.textContent.trim() : el.getAttribute("aria-label") || el.name;
}

/** Why a control is invalid, in the chosen language (the control's own `data-error` key for a pattern). */
function problemOf(el) {
  const v = el.validity;
  if (v.valueMissing)
    return el.type === "checkbox" ? t("error.tick") : el.tagName === "SELECT" ? t("error.choose") : t("error.required");
  if (v.typeMismatch) return t(el.type === "email" ? "error.email" : "error.format");
  if (v.patternMismatch || v.badInput) return el.dataset.error ? t(el.dataset.error) : t("error.format");
  if (v.tooLong || v.tooShort) return t("error.length");
  if (v.rangeOverflow || v.rangeUnderflow) return t("error.range");
  return el.dataset.error ? t(el.dataset.error) : t("error.format");
}

/** Marks a control invalid with `text` tied to it (aria-invalid, aria-describedby → the message beside it). */
export function markInvalid(el, text) {
  const id = `err-${el.id || uid("x")}`;
  el.setAttribute("aria-invalid", "true");
  el.setAttribute(
    "aria-describedby",
    [...(el.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id), id].join(" "),
  );
  const msg = h("span", { class: "field-error", id }, text);
  const box = el.closest(".field");
  if (box) box.append(msg);
  else el.after(msg);
}

/**
 * The error summary in the message line (heading, one link per field) with focus on it, or (with
 * `focusField`) on the first invalid field; links move focus to their field without navigating.
 */
export function errorSummary(items, focusField, note) {
  const box = h(
    "div",
    {},
    h("p", { class: "summary-title", text: t("error.summary") }),
    note ? h("p", { text: note }) : null,
    h(
      "ul",
      {},
      items.map(([el, text]) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              href: `#${el.id}`,
              onclick: (ev) => {
                ev.preventDefault();
                el.focus();
              },
            },
            `${labelOf(el)}: ${text}`,
          ),
        ),
      ),
    ),
  );
  say(box, "error");
  if (focusField && items[0]) items[0][0].focus();
  else focusMessage();
}

/** Moves focus to the message line (what a refused submit says). */
export function focusMessage() {
  const msg = document.getElementById("message");
  msg.tabIndex = -1;
  msg.focus();
}

/** The form's control for a problem's `field` ("document.number" → name "number" or "document.number"). */
function controlFor(form, field) {
  if (!field) return undefined;
  const names = [
    field,
    field.split(".").pop(),
    ...(form.dataset.fields ? [JSON.parse(form.dataset.fields)[field]] : []),
  ].filter(Boolean);
  for (const n of names) {
    const el = form.querySelector(`[name="${CSS.escape(n)}"]`);
    if (el) return el;
  }
  return undefined;
}

/**
 * Shows a refused request on a form: the problem's words in the error summary, each field's error beside it, focus on
 * the summary.
 */
export function showRefusal(form, e) {
  const p = (e && e.problem) || {};
  const fields = (Array.isArray(p.errors) ? p.errors : [])
    .map((x) => [controlFor(form, x.field), x.detail])
    .filter(([el]) => el);
  if (!fields.length && controlFor(form, p.field)) fields.push([controlFor(form, p.field), p.detail]);
  for (const [el, text] of fields) markInvalid(el, text);
  if (fields.length) errorSummary(fields, true, refusal(e));
  else {
    say(refusal(e), "error");
    focusMessage();
  }
}

/**
 * Sends a form through `fn` (given its FormData) after checking it in the page (each invalid field
 * marked, tied to its message and listed; focus on the first), the button disabled meanwhile; a
 * refusal goes to the error summary with focus on it. `check(form)` may add errors of its own.
 */
export async function submit(form, fn, check) {
  clearErrors(form);
  say("");
  const bad = [...form.elements]
    .filter((el) => el.willValidate && !el.checkValidity())
    .map((el) => [el, problemOf(el)]);
  if (check) bad.push(...check(form).filter(([el]) => !bad.some(([b]) => b === el)));
  if (bad.length) {
    for (const [el, text] of bad) markInvalid(el, text);
    errorSummary(bad, true);
    return false;
  }
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    await fn(new FormData(form));
    return true;
  } catch (e) {
    showRefusal(form, e);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A form the page checks itself (novalidate: the browser's own bubbles speak its language, not the chosen one). */
export function form(label, attrs = {}, ...children) {
  return h("form", { "aria-label": label, novalidate: true, ...attrs }, ...children);
}

/** A labelled control (label, hint, control, later its error: one box); `hint` is tied to it by aria-describedby. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid(input.name || "f");
  const hintEl = hint ? h("span", { class: "hint", id: `hint-${input.id}`, text: hint }) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  const labelEl = h("label", { for: input.id, text: label });
  return input.type === "checkbox" || input.type === "radio"
    ? h("div", { class: "field check" }, input, labelEl, hintEl)
    : h("div", { class: "field" }, labelEl, hintEl, input);
}

// ------------------------------------------------------------------ screens

let appName = "cardpki";
/** The site's name in document titles (a catalogue key). */
export const setAppName = (key) => void (appName = key);

/** A table whose cells carry their column's heading (shown beside each value on a narrow screen). */
export function table(head, rows, caption) {
  for (const r of rows) [...r.children].forEach((td, i) => head[i] && td.setAttribute("data-label", head[i]));
  return h(
    "table",
    {},
    caption ? h("caption", { text: caption }) : null,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        head.map((x) => h("th", { scope: "col", text: x })),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/** A definition list of [term, value] pairs (empty values left out). */
export function facts(pairs, attrs = {}) {
  return h(
    "dl",
    { class: "facts", ...attrs },
    pairs
      .filter(Boolean)
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v, a]) => [h("dt", { text: k }), h("dd", a || {}, v)]),
  );
}

/**
 * Draws a screen into #main with its heading and its own document title, marks the current nav
 * link and moves focus to the screen (so a screen reader starts at its heading).
 */
export function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(
    ...(title ? [h("h1", { text: title })] : []),
    ...content.flat().filter((c) => c !== null && c !== undefined && c !== false),
  );
  const heading = title || (main.querySelector("h1") && main.querySelector("h1").textContent);
  document.title = heading ? `${heading} – ${t(appName)}` : t(appName);
  main.focus();
  for (const a of document.querySelectorAll("nav a"))
    a.setAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")) ? "page" : "false");
}

/**
 * The skip link moves focus to the main content and does nothing else: no navigation (the portal
 * routes on the address's fragment), nothing redrawn, a half-filled form kept.
 */
export function skipLink() {
  const a = document.querySelector("a.skip");
  if (!a) return;
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    const main = document.getElementById("main");
    main.tabIndex = -1;
    main.focus();
    main.scrollIntoView();
  });
}

// ------------------------------------------------------------------ server situations by code

/**
 * A situation the server names by a stable code with params (the applicant's progress and its
 * steps, a card's status, the activation step: `statusCode`/`statusParams`, `steps[].code`) in the
 * chosen language; the English `fallback` only for a code these catalogues do not know yet.
 */
export function coded(code, params = {}, fallback = "") {
  if (code && known(code)) return t(code, params || {});
  if (code) console.warn(`cardpki: no words for ${code}`);
  return fallback || "";
}

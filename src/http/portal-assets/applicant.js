// cardpki applicant page: plain ES module, no build step, no CDN. The link in the message carries the
// order and a single-use token in its fragment (never sent in a request line); the page exchanges the
// token once for a short session (HttpOnly cookie) and then reads the terms, accepts, follows, cancels.
import {
  apiClient,
  field,
  focusMessage,
  form,
  h,
  language,
  mountLanguageSwitch,
  onLanguageChange,
  page,
  refusal,
  say,
  coded,
  setAppName,
  skipLink,
  startLanguage,
  submit,
  t,
} from "./page-kit.js";

const API = "/api/v1/applicant";
const CSRF_KEY = "cardpki-applicant-csrf";
let csrf = sessionStorage.getItem(CSRF_KEY) || "";
const api = apiClient(API, () => csrf);
/** What the screen shows now, so that a language change redraws it: the progress, or a screen without a session. */
let shown = null;

/**
 * The terms as text: "# " lines are headings, "- " lines list items, other lines paragraphs (blank lines between).
 * Never HTML.
 */
function termsText(text) {
  const out = [];
  let para = null;
  let list = null;
  for (const line of text.split("\n")) {
    const s = line.trim();
    if (!s) {
      para = list = null;
    } else if (s.startsWith("#")) {
      out.push(h("h3", { text: s.replace(/^#+\s*/, "") }));
      para = list = null;
    } else if (s.startsWith("- ")) {
      if (!list) out.push((list = h("ul")));
      list.append(h("li", { text: s.slice(2) }));
      para = null;
    } else if (list) {
      list.lastChild.append(` ${s}`); // an item continued on the next line
    } else if (para) {
      para.append(` ${s}`);
    } else {
      out.push((para = h("p", { text: s })));
    }
  }
  return out;
}

const STEP_STATE = { done: "steps.done", current: "steps.current", "to do": "steps.to-do" };
function steps(progress) {
  return h(
    "ol",
    { class: "steps", "aria-label": t("steps.label") },
    progress.steps.map((s) =>
      h(
        "li",
        { class: s.state.replace(" ", "-"), ...(s.state === "current" ? { "aria-current": "step" } : {}) },
        coded(s.code, {}, s.label),
        h("span", { class: "muted", text: ` (${t(STEP_STATE[s.state] || "steps.to-do")})` }),
      ),
    ),
  );
}

async function show(progress) {
  shown = { progress };
  const parts = [
    h("p", { id: "status", class: "status", text: coded(progress.statusCode, progress.statusParams, progress.status) }),
    progress.steps.length ? steps(progress) : null,
  ];
  if (progress.termsAccepted)
    parts.push(h("p", { text: t("applicant.accepted-version", { version: progress.termsAccepted }) }));
  if (progress.canAcceptTerms) {
    const terms = await api("GET", "/terms");
    const termsLang = terms.lang || "en";
    const box = h("input", { type: "checkbox", name: "accepted", id: "accept-box" }); // never pre-ticked (REQ-06)
    const f = form(
      t("applicant.accept-form"),
      {},
      field(t("applicant.accept-box", { version: terms.version }), box),
      h("button", { type: "submit", text: t("applicant.accept") }),
    );
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(f, async () => {
        const p = await api("POST", "/accept-terms", {
          termsVersion: terms.version,
          accepted: box.checked,
          termsLanguage: termsLang,
          ...(terms.sha256 ? { termsSha256: terms.sha256 } : {}),
        });
        await show(p);
        say(t("applicant.thanks", { version: terms.version }));
      });
    });
    parts.push(
      h(
        "section",
        { class: "terms", "aria-labelledby": "terms-title", tabindex: 0, lang: termsLang },
        h("h2", { id: "terms-title", text: `${terms.title} (${t("applicant.version", { version: terms.version })})` }),
        termsText(terms.text),
      ),
    );
    if (termsLang !== language())
      parts.splice(
        parts.length - 1,
        0,
        h("p", { class: "muted", text: t("applicant.terms-language", { language: t(`lang.${termsLang}`) }) }),
      );
    parts.push(f);
  }
  if (progress.canCancel) {
    const confirm = h("input", { type: "checkbox", name: "confirm", required: true });
    const f = form(
      t("applicant.cancel-title"),
      { class: "danger" },
      h("h2", { text: t("applicant.cancel-title") }),
      field(t("applicant.cancel-box"), confirm),
      h("button", { type: "submit", class: "danger", text: t("applicant.cancel") }),
    );
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(f, async () => {
        await show(await api("POST", "/cancel", {}));
        say(t("applicant.cancelled"));
      });
    });
    parts.push(f);
  }
  page(t(progress.canAcceptTerms ? "applicant.title-terms" : "applicant.title-progress"), parts);
}

function ended() {
  shown = { ended: true };
  say("");
  page(t("applicant.ended-title"), h("p", { text: t("applicant.ended-text") }));
}

function unusable(problem) {
  shown = { problem };
  page(
    t("applicant.unusable-title"),
    h("p", { id: "problem", text: problem ? refusal({ problem }) : t("applicant.open-link") }),
    h("p", { class: "muted", text: t("applicant.link-once") }),
  );
}

function signout() {
  const out = document.getElementById("signout");
  out.hidden = false;
  out.addEventListener("click", async () => {
    await fetch(`${API}/session`, {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "accept-language": language() },
    });
    sessionStorage.removeItem(CSRF_KEY);
    csrf = "";
    out.hidden = true;
    ended();
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
    if (!order || !token) firstProblem = { detail: t("applicant.incomplete") };
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
    unusable(firstProblem);
  }
}

setAppName("applicant.app");
await startLanguage("/applicant/assets");
mountLanguageSwitch();
skipLink();
onLanguageChange(async () => {
  if (!shown) return;
  if (shown.ended) return ended();
  if (shown.progress) {
    // Fresh words for the progress from the server, in the new language.
    try {
      return await show(await api("GET", "/progress"));
    } catch (e) {
      say(refusal(e), "error");
      return focusMessage();
    }
  }
  return unusable(shown.problem);
});
await start();

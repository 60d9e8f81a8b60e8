// cardpki holder pages: plain ES module, no build step, no CDN. Sign-in with the card's client
// certificate (a session of kind holder, bound to it); every step calls the RA API, which decides.
import {
  apiClient,
  facts,
  field,
  form,
  h,
  language,
  mountLanguageSwitch,
  onLanguageChange,
  page,
  refusal,
  request,
  say,
  serialText,
  coded,
  setAppName,
  skipLink,
  startLanguage,
  submit,
  t,
  tNodes,
  when,
} from "./page-kit.js";

let csrf = "";
/** False once the holder signed out (or the card they signed in with was revoked): no call is made as them any more. */
let signedIn = false;
const api = apiClient(
  "/api/v1",
  () => csrf,
  () => signedIn,
);
let me = null;
/** The screen without a session (sign-in refused, signed out), redrawn on a language change. */
let off = null;

const REASONS = ["unspecified", "superseded", "keyCompromise"];
let flash = "";

// ------------------------------------------------------------------ screens
async function activation() {
  const a = await api("GET", "/holder/activation");
  if (!a.pending)
    return page(
      t("activate.title"),
      h("p", { id: "activation-status", text: coded(a.statusCode, a.statusParams, a.status) }),
      h("p", {}, h("a", { href: "#/cards", text: t("holder.nav.cards") })),
    );
  // REQ-16 (LoA3): the card signs a fresh challenge of the RA after the card station replaced the transport PIN.
  const challenge = a.needsChallengeSignature
    ? await api("GET", `/holder/orders/${a.orderId}/activation-challenge`)
    : undefined;
  const f = form(
    t("activate.form"),
    {},
    h("p", { text: coded(a.statusCode, a.statusParams, a.status) }),
    challenge ? h("p", { text: t("activate.challenge", { hash: String(challenge.hash).toUpperCase() }) }) : null,
    // The text the card signs, as the card client needs it (machine text, not for reading).
    challenge
      ? h("pre", { id: "activation-message", class: "machine", "data-machine": "", text: challenge.message })
      : null,
    challenge
      ? field(
          t("activate.signature"),
          h("textarea", { name: "signature", required: true, rows: 3, maxlength: 1024, spellcheck: "false" }),
        )
      : null,
    a.needsActivationCode
      ? field(
          t("activate.code"),
          h("input", {
            name: "code",
            required: true,
            autocomplete: "one-time-code",
            maxlength: 32,
            pattern: "[A-Za-z0-9 ]+",
            "data-error": "error.code",
          }),
        )
      : null,
    h("button", { type: "submit", text: t("activate.submit") }),
  );
  f.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(f, async (d) => {
        await api("POST", `/holder/orders/${a.orderId}/activate`, {
          ...(a.needsActivationCode ? { activationCode: String(d.get("code")).replace(/\s+/g, "") } : {}),
          ...(challenge ? { challengeSignature: String(d.get("signature")).replace(/\s+/g, "") } : {}),
        });
        flash = t(
          a.needsChallengeSignature
            ? "activate.done-station-pin"
            : a.pin === "transport"
              ? "activate.done-transport"
              : "activate.done-pin",
        );
        if (me.credentialOnHold) {
          // The card is released: sign in again, now with every step open to it.
          await signIn();
        }
        // The hash change routes (once: a second render would clear the message).
        if (location.hash === "#/pin") await route();
        else location.hash = "#/pin";
      })
    ),
  );
  page(t("activate.title"), h("p", { text: t(a.needsActivationCode ? "activate.intro-code" : "activate.intro") }), f);
}

function confirmForm(labelKey, buttonKey, fn, { reason = false, danger = false } = {}) {
  const f = form(
    t(labelKey),
    { class: danger ? "danger" : undefined },
    reason
      ? h(
          "fieldset",
          {},
          h("legend", { text: t("holder.reason") }),
          REASONS.map((r, i) =>
            field(
              t(`holder.reason.${r}`),
              h("input", {
                type: "radio",
                name: "reason",
                value: r,
                required: true,
                ...(i === 0 ? { checked: true } : {}),
              }),
            ),
          ),
        )
      : null,
    field(
      t("holder.confirm", { what: t(labelKey).charAt(0).toLowerCase() + t(labelKey).slice(1) }),
      h("input", { type: "checkbox", name: "confirm", required: true }),
    ),
    h("button", { type: "submit", class: danger ? "danger" : undefined, text: t(buttonKey) }),
  );
  f.addEventListener("submit", (ev) => (ev.preventDefault(), submit(f, fn)));
  return f;
}

async function cards() {
  const list = await api("GET", "/holder/cards");
  const rows = list.map((c) => {
    const serial = c.certificate ? c.certificate.serial : "";
    const act = (what, body) => api("POST", `/holder/cards/${serial}/${what}`, body);
    const after = async (key) => {
      if (c.thisCard) {
        // The card the holder signed in with can sign them in no more: the session ends with it.
        signedIn = false;
        off = { key };
        return gone();
      }
      flash = t(key);
      await route();
    };
    const forms = [];
    if (c.actions.includes("activate"))
      forms.push(h("a", { href: "#/activate", class: "action", text: t("holder.activate-this") }));
    if (c.actions.includes("suspend"))
      forms.push(
        confirmForm("holder.suspend", "holder.suspend-button", async () => {
          await act("suspend", {});
          await after("holder.suspended");
        }),
      );
    if (c.actions.includes("resume"))
      forms.push(
        confirmForm("holder.resume", "holder.resume-button", async () => {
          await act("resume", {});
          await after("holder.resumed");
        }),
      );
    if (c.actions.includes("revoke"))
      forms.push(
        confirmForm(
          "holder.revoke",
          "holder.revoke-button",
          async (d) => {
            await act("revoke", { reason: d.get("reason") });
            await after("holder.revoked");
          },
          { reason: true, danger: true },
        ),
      );
    if (c.actions.includes("lost"))
      forms.push(
        confirmForm(
          "holder.lost",
          "holder.lost-button",
          async () => {
            await act("lost", {});
            await after("holder.reported-lost");
          },
          { danger: true },
        ),
      );
    const title =
      t(c.purpose === "officer" ? "holder.card-officer" : "holder.card-eid", { loa: c.loa }) +
      (c.thisCard ? ` ${t("holder.this-card")}` : "");
    return h(
      "section",
      { class: "card", "data-serial": serial, "aria-label": title },
      h("h2", { text: title }),
      facts([
        [t("holder.status"), coded(c.statusCode, c.statusParams, c.status), { class: "card-status" }],
        c.certificate ? [t("holder.serial"), serialText(c.certificate.serial), { class: "serial" }] : null,
        c.certificate ? [t("holder.valid-until"), when(c.certificate.notAfter, true)] : null,
        c.activationDeadline ? [t("holder.activate-by"), when(c.activationDeadline, true)] : null,
      ]),
      forms.length ? h("div", { class: "actions" }, forms) : null,
    );
  });
  page(
    t("holder.cards-title"),
    h("p", { class: "muted", text: t("holder.cards-intro") }),
    rows.length ? rows : h("p", { text: t("holder.no-cards") }),
  );
}

function pin() {
  const code = (s) => h("code", { text: s });
  page(
    t("pin.title"),
    h("p", { text: t("pin.intro") }),
    h("h2", { text: t("pin.when") }),
    h(
      "ul",
      {},
      h("li", { text: t("pin.when.loa3") }),
      h("li", { text: t("pin.when.loa2") }),
      h("li", { text: t("pin.when.seen") }),
    ),
    h("h2", { text: t("pin.how") }),
    h(
      "ul",
      {},
      h("li", { text: t("pin.how.windows") }),
      h(
        "li",
        {},
        ...tNodes("pin.how.opensc", {
          tool: code("pkcs15-tool --change-pin"),
          vendor: code("yubico-piv-tool -a change-pin"),
        }),
      ),
      h("li", { text: t("pin.how.choose") }),
    ),
    h("h2", { text: t("pin.blocked") }),
    h("p", { text: t("pin.blocked.text") }),
  );
}

// ------------------------------------------------------------------ routing, sign-in and sign-out
let navigation = 0;

/** Without a session: the sign-in's refusal, the signed-out screen, or the card the holder just gave up. */
function gone() {
  document.getElementById("who").textContent = "";
  document.getElementById("signout").hidden = true;
  document.querySelector("nav").hidden = true;
  if (off && off.problem)
    return page(
      t("signin.failed"),
      h("p", { id: "problem", text: refusal(off.problem) }),
      h("p", { text: t("holder.insert-card") }),
    );
  say("");
  page(
    t("signout.title"),
    off && off.key
      ? h("p", { text: `${t(off.key)} ${t("holder.card-gone")}` })
      : h("p", { text: t("holder.signed-out") }),
    h("ul", {}, h("li", { text: t("signout.remove-card") }), h("li", { text: t("signout.close-browser") })),
    h("button", { type: "button", class: "secondary", text: t("signout.sign-in"), onclick: () => location.reload() }),
  );
}

async function route() {
  if (!signedIn) return gone();
  say(flash);
  flash = "";
  const mine = ++navigation;
  try {
    // REQ-16: a card held until activation may only be activated.
    if (me.credentialOnHold || location.hash === "#/activate") await activation();
    else if (location.hash === "#/pin") pin();
    else await cards();
  } catch (e) {
    if (mine === navigation) page(t("error.title"), h("p", { id: "problem", text: refusal(e) }));
  }
}

async function signIn() {
  let data;
  try {
    data = await request("POST", "/holder/session", {});
  } catch (e) {
    off = { problem: e.problem || { detail: e.message } };
    gone();
    return false;
  }
  csrf = data.csrfToken;
  me = data.me;
  signedIn = true;
  document.getElementById("who").textContent = t("holder.signed-in", { loa: me.loa });
  const nav = document.querySelector("nav");
  for (const a of nav.querySelectorAll("a")) a.hidden = me.credentialOnHold && a.getAttribute("href") !== "#/activate";
  nav.hidden = false;
  const out = document.getElementById("signout");
  out.hidden = false;
  out.onclick = async () => {
    signedIn = false;
    csrf = "";
    off = {};
    await fetch("/holder/session", {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "accept-language": language() },
    }).catch(() => undefined);
    gone();
  };
  return true;
}

setAppName("holder.app");
await startLanguage("/holder/assets");
mountLanguageSwitch();
skipLink();
onLanguageChange(async () => {
  if (!signedIn) return off ? gone() : undefined;
  document.getElementById("who").textContent = t("holder.signed-in", { loa: me.loa });
  await route();
});
window.addEventListener("hashchange", route);
if (await signIn()) await route();

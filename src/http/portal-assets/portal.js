// cardpki RA portal: plain ES module, no build step, no CDN. Every action goes through the RA API
// (/api/v1) with the officer's client certificate; the engine's guards decide, the portal only shows.
const $main = document.getElementById("main");
const $msg = document.getElementById("message");
let csrf = "";
let me = null;
let workflows = [];

const LABEL = {
  identify: "Identify the applicant", approve: "Approve for production", reject: "Reject", "start-production": "Release to production",
  produce: "Produce the card", "hand-out": "Hand out the card", "send-by-mail": "Send the card by mail", "production-failed": "Production failed",
};

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

/** A message that survives the next screen change (the result of an action on the page it leads to). */
let flash = "";

class ApiError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || "request refused");
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
  if (!res.ok) throw new ApiError(data || { detail: `HTTP ${res.status}` });
  return data;
}

/** A refusal as an officer reads it: the engine's reason, the guard and the requirement. */
function refusal(e) {
  const p = e.problem || {};
  const text = p.detail || e.message;
  return p.guard && !text.includes(p.guard) ? `${text} (rule: ${p.guard}${p.requirement ? `, ${p.requirement}` : ""})` : text;
}

function page(title, ...content) {
  $main.replaceChildren(h("h1", { text: title }), ...content.flat().filter((c) => c !== null && c !== undefined));
  $main.focus();
  for (const a of document.querySelectorAll("nav a")) a.setAttribute("aria-current", location.hash.startsWith(a.getAttribute("href")) ? "page" : "false");
}

const table = (head, rows) => h("table", {}, h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col", text: x })))), h("tbody", {}, rows));
const fmt = (d) => (d ? new Date(d).toISOString().replace("T", " ").slice(0, 16) : "");
const has = (role) => me && me.roles.includes(role);

function field(label, input) {
  return input.type === "checkbox" ? h("label", { class: "check" }, input, label) : h("label", {}, label, input);
}

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
async function queue(draw) {
  const rows = await api("GET", "/orders");
  draw("My work queue",
    h("p", { class: "muted", text: "Open orders in your organisation; the ones waiting for your action come first. You only see the steps you are allowed to take." }),
    rows.length === 0 ? h("p", { text: "Nothing open." }) :
    table(["Order", "State", "Workflow", "Applicant", "Your next step"], rows.map((o) => h("tr", {},
      h("td", {}, h("a", { href: `#/orders/${o.id}`, text: o.id.slice(0, 8) })), h("td", { class: "state", text: o.state }), h("td", { text: o.workflow }),
      h("td", { text: o.applicantId.slice(0, 8) }),
      h("td", {}, o.actions.length ? o.actions.map((a) => h("a", { href: `#/orders/${o.id}/act/${a.action}`, class: "action", text: LABEL[a.action] || a.action })) : h("span", { class: "muted", text: "—" })),
    ))));
}

function docFields(prefix, wf) {
  return [
    field("Document type", h("select", { name: `${prefix}type`, required: true }, (wf ? wf.acceptedDocuments : ["passport"]).map((d) => h("option", { value: d, text: d })))),
    field("Document number", h("input", { name: `${prefix}number`, required: true, autocomplete: "off", maxlength: 32 })),
    field("Valid until", h("input", { name: `${prefix}expires`, type: "date", required: true })),
    field("I compared the face with the document photo", h("input", { name: `${prefix}face`, type: "checkbox" })),
  ];
}
const docOf = (f, prefix) => ({ type: f.get(`${prefix}type`), number: f.get(`${prefix}number`), expires: f.get(`${prefix}expires`) });

function actionForm(order, action, offered) {
  const wf = workflows.find((w) => w.id === order.workflow);
  const done = async (o) => {
    flash = `${LABEL[action] || action}: done. The order is now ${o.state}.`;
    location.hash = `#/orders/${order.id}`;
  };
  const form = h("form", { "aria-label": LABEL[action] || action });
  const note = offered ? null : h("p", { class: "muted", text: "This step is not offered to you for this order; the rules will say why if you try." });
  if (action === "identify") {
    form.append(h("fieldset", {}, h("legend", { text: "Identity document (REQ-03/05/09)" }), ...docFields("", wf)));
    if (wf && wf.knowledgeQuestions) form.append(h("fieldset", {}, h("legend", { text: "Control questions answered right (REQ-08)" }),
      wf.knowledgeQuestions.questions.map((q) => field(q.text, h("input", { type: "checkbox", name: `kq-${q.id}` })))));
    form.append(h("button", { type: "submit", text: "Record identification" }));
    form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async (f) => {
      const kq = wf && wf.knowledgeQuestions ? Object.fromEntries(wf.knowledgeQuestions.questions.map((q) => [q.id, f.get(`kq-${q.id}`) === "on"])) : undefined;
      await done(await api("POST", `/orders/${order.id}/actions/identify`, { document: docOf(f, ""), faceCompared: f.get("face") === "on", ...(kq ? { knowledgeAnswers: kq } : {}) }));
    })));
  } else if (action === "hand-out") {
    form.append(h("fieldset", {}, h("legend", { text: "Second identification of the recipient (REQ-04)" }), ...docFields("", wf)),
      h("p", { text: "Tell the holder: activate the card with the card itself and, at LoA3, replace the transport PIN sent to you by SMS with a PIN of your own." }),
      h("button", { type: "submit", text: "Hand out" }));
    form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async (f) => {
      await done(await api("POST", `/orders/${order.id}/actions/hand-out`, { secondIdentification: { document: docOf(f, ""), faceCompared: f.get("face") === "on" } }));
    })));
  } else if (action === "produce") {
    const status = h("p", { id: "station", text: "Checking the card station…" });
    const steps = h("ol", { id: "steps", "aria-live": "polite" });
    form.append(status, field("Reader", h("input", { name: "reader", placeholder: "(the only reader with a card)" })), h("button", { type: "submit", text: "Personalise the card in the reader" }), steps);
    api("GET", "/card-station/readers").then((rs) => {
      status.textContent = rs.length ? rs.map((r) => `${r.name}: ${r.cardPresent ? "card inserted" : "no card"}`).join("; ") : "No reader.";
    }).catch((e) => (status.textContent = refusal(e)));
    form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async (f) => {
      say("Personalising: keep the card in the reader…");
      const r = await api("POST", `/orders/${order.id}/personalise`, f.get("reader") ? { reader: f.get("reader") } : {});
      steps.replaceChildren(...r.steps.map((s) => h("li", { text: s })));
      flash = `Card ${r.cardSerial} personalised: certificate ${r.certSerial} in slot ${r.slot}; ${r.roundTrips} card commands (${r.steps.join(", ")}).`;
      location.hash = `#/orders/${order.id}`;
    })));
  } else if (action === "send-by-mail") {
    form.append(field("Card by", h("select", { name: "card" }, ["mail"].map((c) => h("option", { value: c, text: c })))),
      field("Activation code by", h("select", { name: "code" }, ["sms", "email"].map((c) => h("option", { value: c, text: c })))), h("button", { type: "submit", text: "Send" }));
    form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async (f) => done(await api("POST", `/orders/${order.id}/actions/send-by-mail`, { cardChannel: f.get("card"), activationCodeChannel: f.get("code") })))));
  } else {
    form.append(h("p", { text: `${LABEL[action] || action}?` }), h("button", { type: "submit", text: LABEL[action] || action }));
    form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async () => done(await api("POST", `/orders/${order.id}/actions/${action}`, {})))));
  }
  return [note, form];
}

async function orderScreen(draw, id, action) {
  const [o, timeline] = await Promise.all([api("GET", `/orders/${id}`), api("GET", `/orders/${id}/timeline`)]);
  const offered = o.actions.map((a) => a.action);
  draw(action ? `${LABEL[action] || action}: order ${id.slice(0, 8)}` : `Order ${id.slice(0, 8)}`,
    h("dl", {},
      h("dt", { text: "State" }), h("dd", { class: "state", id: "order-state", text: o.state }),
      h("dt", { text: "Workflow" }), h("dd", { text: o.workflow }),
      h("dt", { text: "Terms" }), h("dd", { text: o.termsVersion || "not accepted yet" }),
      h("dt", { text: "Certificate" }), h("dd", { text: o.certificateSerial || "—" })),
    action ? actionForm(o, action, offered.includes(action)) :
      h("p", {}, offered.length ? offered.map((a) => h("a", { href: `#/orders/${id}/act/${a}`, class: "action", text: LABEL[a] || a })) : h("span", { class: "muted", text: "No step of yours on this order now." })),
    h("h2", { text: "Identifications" }),
    table(["By", "When", "Document", "Face compared"], o.identifications.map((i) => h("tr", {}, h("td", { text: i.by.slice(0, 8) }), h("td", { text: fmt(i.at) }), h("td", { text: i.byEid ? "eID" : i.documentType }), h("td", { text: i.faceCompared ? "yes" : "no" })))),
    h("h2", { text: "Timeline" }),
    table(["When", "Who", "What", "Outcome"], timeline.map((e) => h("tr", {}, h("td", { text: fmt(e.at) }), h("td", { text: e.actor }), h("td", { text: e.action }), h("td", { text: e.outcome })))));
}

async function newOrder(draw) {
  const form = h("form", { "aria-label": "New card order" },
    field("Applicant's national ID number", h("input", { name: "nationalId", required: true, autocomplete: "off", inputmode: "numeric" })),
    field("Organisation id (service-owner staff serving a customer; empty: yours)", h("input", { name: "organisationId", pattern: "[0-9a-f]{32}" })),
    field("Assurance level and workflow", h("select", { name: "workflowId" }, workflows.map((w) => h("option", { value: w.id, text: `LoA${w.loa}: ${w.id}` })))),
    h("button", { type: "submit", text: "Order the card" }));
  form.addEventListener("submit", (ev) => (ev.preventDefault(), submit(form, async (f) => {
    const o = await api("POST", "/orders", { nationalId: f.get("nationalId"), workflowId: f.get("workflowId"), ...(f.get("organisationId") ? { organisationId: f.get("organisationId") } : {}) });
    flash = `Order ${o.id.slice(0, 8)} placed; the register said ${o.registerCheck && o.registerCheck.ok ? "OK" : "?"}. The applicant accepts the terms with the token sent to them.`;
    location.hash = `#/orders/${o.id}`;
  })));
  draw("New card order", form);
}

function certificates(draw) {
  const out = h("div", { id: "certificate" });
  const search = h("form", { "aria-label": "Find a certificate" },
    field("Certificate serial (hex)", h("input", { name: "serial", required: true, pattern: "[0-9a-fA-F]{2,64}" })), h("button", { type: "submit", text: "Find" }));
  search.addEventListener("submit", (ev) => (ev.preventDefault(), submit(search, async (f) => {
    const c = await api("GET", `/certificates/${f.get("serial")}`);
    const form = h("form", { "aria-label": "Suspend or revoke this card" },
      field("Reason", h("select", { name: "reason" }, ["certificateHold", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "unspecified"].map((r) => h("option", { value: r, text: r })))),
      h("button", { type: "submit", text: "Suspend / revoke" }));
    form.addEventListener("submit", (e2) => (e2.preventDefault(), submit(form, async (g) => {
      const r = await api("POST", `/certificates/${c.serial}/revoke`, { reason: g.get("reason") });
      say(r.status === "pending" ? "Held: beyond your hourly limit a second officer must approve (REQ-18)." : `Done: ${g.get("reason")}.`);
    })));
    out.replaceChildren(table(["Serial", "Status", "Valid until", "Holder"], [h("tr", {}, h("td", { text: c.serial }), h("td", { text: c.status }), h("td", { text: fmt(c.notAfter) }), h("td", { text: c.holderPersonId.slice(0, 8) }))]), form);
  })));
  draw("Certificates", search, out);
}

async function station(draw) {
  const readers = await api("GET", "/card-station/readers");
  draw("Card production station", table(["Reader", "Card"], readers.map((r) => h("tr", {}, h("td", { text: r.name }), h("td", { text: r.cardPresent ? "inserted" : "—" })))),
    h("p", { class: "muted", text: "Personalise from an order in production (Work queue → Produce the card)." }));
}

function admin(draw) {
  const bind = h("form", { "aria-label": "Bind a person" }, h("h2", { text: "Bind a person (REQ-21)" }),
    field("Organisation id", h("input", { name: "org", required: true, value: me.organisationId || "" })), field("National ID number", h("input", { name: "nationalId", required: true })),
    field("Name", h("input", { name: "name", required: true })), field("E-mail (terms link)", h("input", { name: "email", type: "email" })),
    field("Phone, E.164 (SMS)", h("input", { name: "phone", type: "tel", pattern: "\\+[1-9][0-9]{6,14}", placeholder: "+46701234567" })),
    field("Postal address (letters), one line per row", h("textarea", { name: "postalAddress", rows: 4 })), h("button", { type: "submit", text: "Bind" }));
  bind.addEventListener("submit", (ev) => (ev.preventDefault(), submit(bind, async (f) => {
    const contact = Object.fromEntries(["email", "phone", "postalAddress"].map((k) => [k, String(f.get(k) || "").trim()]).filter(([, v]) => v));
    const p = await api("POST", `/organisations/${f.get("org")}/people`, { nationalId: f.get("nationalId"), name: f.get("name"), ...contact });
    say(`${p.name} bound (person ${p.id}).`);
  })));
  const appoint = h("form", { "aria-label": "Appoint an officer" }, h("h2", { text: "Appoint an officer (REQ-24/25)" }),
    field("Person id", h("input", { name: "person", required: true, pattern: "[0-9a-f]{32}" })),
    h("fieldset", {}, h("legend", { text: "Roles" }), ["ra-officer", "ra-admin", "auditor", "ca-operator"].map((r) => field(r, h("input", { type: "checkbox", name: `role-${r}` })))),
    field("Qualification", h("input", { name: "qualification" })), field("Qualified until", h("input", { name: "until", type: "date" })), h("button", { type: "submit", text: "Appoint" }));
  appoint.addEventListener("submit", (ev) => (ev.preventDefault(), submit(appoint, async (f) => {
    const roles = ["ra-officer", "ra-admin", "auditor", "ca-operator"].filter((r) => f.get(`role-${r}`) === "on");
    await api("PUT", `/people/${f.get("person")}/officer`, { roles, ...(f.get("qualification") ? { qualification: f.get("qualification"), qualifiedUntil: f.get("until") } : {}) });
    say("Officer appointed.");
  })));
  draw("Administration", bind, appoint);
}

function audit(draw) {
  const out = h("div", { id: "evidence" });
  const ev = h("form", { "aria-label": "Evidence for a certificate" }, field("Certificate serial", h("input", { name: "serial", required: true })), h("button", { type: "submit", text: "Show evidence" }));
  ev.addEventListener("submit", (e) => (e.preventDefault(), submit(ev, async (f) => {
    const x = await api("GET", `/audit/evidence/${f.get("serial")}`);
    out.replaceChildren(h("p", {}, "Verdict: ", h("span", { class: x.verdict, text: x.verdict })),
      table(["Rule", "Requirement", "CPS", "Result", "Detail"], x.verdicts.map((v) => h("tr", {}, h("td", { text: v.rule }), h("td", { text: v.requirement }), h("td", { text: v.cps }), h("td", { class: v.result, text: v.result }), h("td", { text: v.detail })))),
      table(["When", "Step", "Who", "Detail"], x.story.map((s) => h("tr", {}, h("td", { text: fmt(s.at) }), h("td", { text: s.step }), h("td", { text: s.actor }), h("td", { text: s.detail })))));
  })));
  const rep = h("form", { "aria-label": "Conformance report" }, field("From", h("input", { name: "from", type: "date", required: true })), field("To", h("input", { name: "to", type: "date", required: true })), h("button", { type: "submit", text: "Build report" }));
  rep.addEventListener("submit", (e) => (e.preventDefault(), submit(rep, async (f) => {
    const r = await api("GET", `/audit/report?from=${f.get("from")}&to=${f.get("to")}`);
    out.replaceChildren(h("p", {}, `Report ${r.period.from.slice(0, 10)} – ${r.period.to.slice(0, 10)}: `, h("span", { class: r.verdict === "conformant" ? "pass" : "fail", text: r.verdict }),
      `; ${r.issued.total} certificates, ${r.violations.length} violations, audit trail ${r.auditTrail.ok ? "intact" : "NOT intact"}.`));
  })));
  draw("Audit", ev, rep, out);
}

/** REQ-15: messages the service gave up delivering (never their text), each with a retry. */
async function deliveries(draw) {
  const dead = await api("GET", "/delivery/dead-letters");
  const rows = dead.map((d) => {
    const retry = h("button", { type: "button", text: "Try again" });
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        await api("POST", `/delivery/dead-letters/${d.id}/retry`, {});
        flash = `Message ${d.id.slice(0, 8)} queued again.`;
        await route();
      } catch (e) {
        say(refusal(e), "error");
        retry.disabled = false;
      }
    });
    return h("tr", {}, h("td", { text: fmt(d.createdAt) }), h("td", { text: d.kind }), h("td", { text: d.channel }), h("td", { text: d.personId.slice(0, 8) }),
      h("td", { text: String(d.attempts) }), h("td", { text: d.lastError || "" }), h("td", {}, retry));
  });
  draw("Undelivered messages", dead.length ? table(["Created", "Kind", "Channel", "Person", "Attempts", "Last error", ""], rows) : h("p", { class: "muted", text: "Every message was delivered or is still being tried." }));
}

// ------------------------------------------------------------------ routing and sign-in
let navigation = 0;

async function route() {
  say(flash);
  flash = "";
  // A screen that finishes loading after the officer moved on is not drawn over the newer one.
  const mine = ++navigation;
  const draw = (...a) => void (mine === navigation && page(...a));
  const m = location.hash.match(/^#\/orders\/([0-9a-f]{32})(?:\/act\/([a-z-]+))?$/);
  try {
    if (m) await orderScreen(draw, m[1], m[2]);
    else if (location.hash === "#/new") await newOrder(draw);
    else if (location.hash === "#/certificates") certificates(draw);
    else if (location.hash === "#/station") await station(draw);
    else if (location.hash === "#/admin") admin(draw);
    else if (location.hash === "#/deliveries") await deliveries(draw);
    else if (location.hash === "#/audit") audit(draw);
    else await queue(draw);
  } catch (e) {
    draw("Something went wrong", h("p", { text: refusal(e) }));
  }
}

async function signIn() {
  const res = await fetch("/portal/session", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}" });
  const data = await res.json();
  if (!res.ok) {
    page("Sign-in failed", h("p", { text: `${data.detail || data.title}. Insert your officer card and reload.` }));
    return false;
  }
  csrf = data.csrfToken;
  me = data.me;
  document.getElementById("who").textContent = `Signed in: ${me.personId.slice(0, 8)} (${me.roles.join(", ")})`;
  for (const a of document.querySelectorAll("nav a[data-role]")) a.hidden = !has(a.dataset.role);
  const out = document.getElementById("signout");
  out.hidden = false;
  out.addEventListener("click", async () => {
    await fetch("/portal/session", { method: "DELETE", credentials: "same-origin" });
    page("Signed out", h("p", { text: "Remove your card." }));
  });
  workflows = await api("GET", "/workflows");
  return true;
}

window.addEventListener("hashchange", route);
if (await signIn()) await route();

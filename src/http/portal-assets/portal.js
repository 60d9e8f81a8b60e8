// cardpki RA portal: plain ES module, no build step, no CDN. Every action goes through the RA API
// (/api/v1) with the officer's client certificate; the engine's guards decide, the portal only shows.
// Words come from the catalogues (locales/<lang>.json); people are shown by name, never by id.
import {
  apiClient,
  facts,
  field,
  focusMessage,
  form,
  formatDay,
  formatTime,
  h,
  known,
  language,
  mountLanguageSwitch,
  onLanguageChange,
  page,
  refusal,
  request,
  say,
  serialText,
  setAppName,
  skipLink,
  startLanguage,
  submit,
  t,
  table,
  when,
  word,
} from "./page-kit.js";

let csrf = "";
/** False once the officer signed out: the page makes no call as the officer any more. */
let signedIn = false;
const api = apiClient(
  "/api/v1",
  () => csrf,
  () => signedIn,
);
let me = null;
let workflows = [];
let organisations = [];

/** A message that survives the next screen change (the result of an action on the page it leads to). */
let flash = "";
/** What the People screen found last (kept in memory only: a national ID never goes into the address). */
let found = null;
/** The person a New order starts with (from the People screen). */
let orderFor = null;

const has = (role) => me && me.roles.includes(role);
const actionLabel = (a) => word("action", a);
const stateWords = (s) => word("state", s);
const workflowWords = (id) => word("workflow", id);
const yes = (b) => t(b ? "yes" : "no");

/** A person as an officer reads them: the name, else the short label, else "not shown to you". */
function personName(p, fallbackKey = "person.unnamed") {
  if (!p) return t(fallbackKey);
  return p.name || (p.label ? t("person.labelled", { label: p.label }) : t(fallbackKey));
}
/** Who took a step: the officer's name (or label), the kind of actor otherwise. */
function actorWords(e) {
  if (e.actorName) return e.actorLabel ? `${e.actorName} (${e.actorLabel})` : e.actorName;
  if (e.actorLabel) return t("person.labelled", { label: e.actorLabel });
  return word("actor", e.actorKind || String(e.actor || "").split(":")[0] || "other");
}
const orgName = (id) => (organisations.find((o) => o.id === id) || {}).name;

// ------------------------------------------------------------------ shared pieces

/**
 * The applicant as the officer compares them with the document: name, birth date, national ID (masked), organisation.
 */
function applicantPanel(o, headingKey = "applicant.heading") {
  const a = o.applicant || {};
  return h(
    "section",
    { class: "applicant", "aria-labelledby": "applicant-heading" },
    h("h2", { id: "applicant-heading", text: t(headingKey) }),
    facts(
      [
        [t("person.name"), a.name || personName(a)],
        [t("person.birth-date"), a.birthDate ? formatDay(`${a.birthDate}T12:00:00Z`) : t("person.not-recorded")],
        [t("person.national-id"), a.nationalIdMasked || t("person.not-recorded")],
        [t("person.organisation"), (o.organisation && o.organisation.name) || orgName(o.organisationId) || ""],
      ],
      { id: "applicant" },
    ),
  );
}

/** The organisations the officer may pick (their own first); a select only when there is a choice. */
function organisationPicker(name = "organisationId", selected) {
  const own = me.organisation ? me.organisation.id : me.organisationId;
  const opts = organisations.length
    ? organisations
    : [{ id: own, name: (me.organisation && me.organisation.name) || t("organisation.own"), mine: true }];
  const select = h(
    "select",
    { name, required: true },
    opts.map((o) =>
      h("option", {
        value: o.id,
        text: o.status && o.status !== "active" ? `${o.name} (${word("organisation.status", o.status)})` : o.name,
        ...((selected ? o.id === selected : o.id === own) ? { selected: true } : {}),
      }),
    ),
  );
  return field(t("organisation.pick"), select);
}

/** The steps open to the officer on an order: one link each, apart. */
function nextSteps(o) {
  const acts = o.actions.map((a) => (typeof a === "string" ? a : a.action));
  return acts.length
    ? h(
        "ul",
        { class: "next-steps", "aria-label": t("order.next-steps") },
        acts.map((a) =>
          h("li", {}, h("a", { href: `#/orders/${o.id}/act/${a}`, class: "action", text: actionLabel(a) })),
        ),
      )
    : h("span", { class: "muted", text: t("order.no-step") });
}

// ------------------------------------------------------------------ screens
async function queue(draw) {
  const rows = await api("GET", "/orders");
  const many = new Set(rows.map((o) => o.organisationId)).size > 1;
  const head = [
    t("queue.applicant"),
    t("queue.state"),
    t("queue.card"),
    ...(many ? [t("queue.organisation")] : []),
    t("queue.next"),
  ];
  draw(
    t("queue.title"),
    h("p", { class: "muted", text: t("queue.intro") }),
    rows.length === 0
      ? h("p", { text: t("queue.empty") })
      : table(
          head,
          rows.map((o) =>
            h(
              "tr",
              {},
              h(
                "td",
                {},
                h("a", { href: `#/orders/${o.id}`, text: personName(o.applicant) }),
                o.applicant && o.applicant.birthDate
                  ? h("span", { class: "muted", text: ` ${t("queue.born", { day: o.applicant.birthDate })}` })
                  : null,
              ),
              h("td", { text: stateWords(o.state) }),
              h("td", { text: workflowWords(o.workflow) }),
              many
                ? h("td", { text: (o.organisation && o.organisation.name) || orgName(o.organisationId) || "" })
                : null,
              h("td", {}, nextSteps(o)),
            ),
          ),
          t("queue.caption"),
        ),
  );
}

function docFields(wf) {
  return [
    field(
      t("doc.type"),
      h(
        "select",
        { name: "type", required: true },
        (wf ? wf.acceptedDocuments : ["passport"]).map((d) => h("option", { value: d, text: word("document", d) })),
      ),
    ),
    field(
      t("doc.number"),
      h("input", {
        name: "number",
        required: true,
        autocomplete: "off",
        maxlength: 32,
        pattern: "[A-Za-z0-9 \\-]{4,32}",
        "data-error": "error.doc-number",
      }),
    ),
    field(t("doc.expires"), h("input", { name: "expires", type: "date", required: true })),
    field(t("doc.face"), h("input", { name: "face", type: "checkbox" })),
  ];
}
const docOf = (f) => ({ type: f.get("type"), number: String(f.get("number")).trim(), expires: f.get("expires") });
/** Problem fields of an identification body → the form's controls. */
const DOC_FIELDS = JSON.stringify({
  "document.type": "type",
  "document.number": "number",
  "document.expires": "expires",
  "secondIdentification.document.number": "number",
  "secondIdentification.document.expires": "expires",
  "secondIdentification.document.type": "type",
  faceCompared: "face",
});

function actionForm(order, action, offered) {
  const wf = workflows.find((w) => w.id === order.workflow);
  const done = async (o) => {
    flash = t("action.done", { action: actionLabel(action), state: stateWords(o.state) });
    location.hash = `#/orders/${order.id}`;
  };
  const f = form(actionLabel(action), { "data-fields": DOC_FIELDS }, h("h2", { text: actionLabel(action) }));
  const note = offered ? null : h("p", { class: "muted", text: t("action.not-offered") });
  const send = (fn) => f.addEventListener("submit", (ev) => (ev.preventDefault(), submit(f, fn)));
  if (action === "identify") {
    f.append(h("fieldset", {}, h("legend", { text: t("identify.document") }), ...docFields(wf)));
    if (wf && wf.knowledgeQuestions)
      f.append(
        h(
          "fieldset",
          {},
          h("legend", { text: t("identify.questions") }),
          wf.knowledgeQuestions.questions.map((q) =>
            field(
              known(`question.${q.id}`) ? t(`question.${q.id}`) : q.text,
              h("input", { type: "checkbox", name: `kq-${q.id}` }),
            ),
          ),
        ),
      );
    f.append(h("button", { type: "submit", text: t("identify.submit") }));
    send(async (d) => {
      const kq =
        wf && wf.knowledgeQuestions
          ? Object.fromEntries(wf.knowledgeQuestions.questions.map((q) => [q.id, d.get(`kq-${q.id}`) === "on"]))
          : undefined;
      await done(
        await api("POST", `/orders/${order.id}/actions/identify`, {
          document: docOf(d),
          faceCompared: d.get("face") === "on",
          ...(kq ? { knowledgeAnswers: kq } : {}),
        }),
      );
    });
  } else if (action === "hand-out") {
    f.append(
      h("fieldset", {}, h("legend", { text: t("handout.document") }), ...docFields(wf)),
      h("p", { text: t("handout.tell") }),
      h("button", { type: "submit", text: t("handout.submit") }),
    );
    send(async (d) =>
      done(
        await api("POST", `/orders/${order.id}/actions/hand-out`, {
          secondIdentification: { document: docOf(d), faceCompared: d.get("face") === "on" },
        }),
      ),
    );
  } else if (action === "produce") {
    const status = h("p", { id: "station", text: t("station.checking") });
    const reader = h("select", { name: "reader" }, h("option", { value: "", text: t("station.any-reader") }));
    const steps = h("ol", { id: "steps", "aria-live": "polite" });
    f.append(
      status,
      field(t("station.reader"), reader),
      h("button", { type: "submit", text: t("station.personalise") }),
      steps,
    );
    api("GET", "/card-station/readers")
      .then((rs) => {
        status.textContent = rs.length
          ? rs
              .map((r) => t(r.cardPresent ? "station.reader-card" : "station.reader-empty", { reader: r.name }))
              .join("; ")
          : t("station.no-reader");
        for (const r of rs) reader.append(h("option", { value: r.name, text: r.name }));
      })
      .catch((e) => {
        status.textContent = refusal(e);
        status.className = "error-text";
      });
    send(async (d) => {
      say(t("station.keep-card"));
      const r = await api(
        "POST",
        `/orders/${order.id}/personalise`,
        d.get("reader") ? { reader: d.get("reader") } : {},
      );
      steps.replaceChildren(...r.steps.map((s) => h("li", { text: word("card-step", s) })));
      flash = t(r.keyAttested ? "station.done-attested" : "station.done-unattested", {
        card: r.cardSerial,
        slot: String(r.slot).toUpperCase(),
        commands: r.roundTrips,
      });
      location.hash = `#/orders/${order.id}`;
    });
  } else if (action === "send-by-mail") {
    f.append(
      field(
        t("mail.card-by"),
        h(
          "select",
          { name: "card" },
          ["mail"].map((c) => h("option", { value: c, text: word("channel", c) })),
        ),
      ),
      field(
        t("mail.code-by"),
        h(
          "select",
          { name: "code" },
          ["sms", "email"].map((c) => h("option", { value: c, text: word("channel", c) })),
        ),
      ),
      h("button", { type: "submit", text: t("mail.submit") }),
    );
    send(async (d) =>
      done(
        await api("POST", `/orders/${order.id}/actions/send-by-mail`, {
          cardChannel: d.get("card"),
          activationCodeChannel: d.get("code"),
        }),
      ),
    );
  } else {
    f.append(
      h("p", { text: t(`confirm.${action}`) }),
      h("button", {
        type: "submit",
        class: action === "reject" || action === "production-failed" ? "danger" : undefined,
        text: actionLabel(action),
      }),
    );
    send(async () => done(await api("POST", `/orders/${order.id}/actions/${action}`, {})));
  }
  return [note, f];
}

async function orderScreen(draw, id, action) {
  const [o, timeline] = await Promise.all([api("GET", `/orders/${id}`), api("GET", `/orders/${id}/timeline`)]);
  const offered = o.actions.map((a) => a.action);
  const who = personName(o.applicant);
  const identifying = action === "identify" || action === "hand-out";
  draw(
    action ? t("order.action-title", { action: actionLabel(action), name: who }) : t("order.title", { name: who }),
    identifying ? applicantPanel(o, "applicant.compare") : null,
    facts([
      [t("order.state"), stateWords(o.state), { id: "order-state" }],
      [t("order.reference"), o.reference, { id: "order-reference" }],
      [t("order.card"), workflowWords(o.workflow)],
      [
        t("order.terms"),
        o.termsVersion ? t("order.terms-accepted", { version: o.termsVersion }) : t("order.terms-not-yet"),
      ],
      [t("order.certificate"), o.certificateSerial ? serialText(o.certificateSerial) : "—"],
    ]),
    identifying ? null : applicantPanel(o),
    action
      ? actionForm(o, action, offered.includes(action))
      : [h("h2", { text: t("order.next-steps") }), nextSteps({ ...o, actions: offered })],
    h("h2", { text: t("order.identifications") }),
    o.identifications.length
      ? table(
          [t("ident.by"), t("ident.when"), t("ident.document"), t("ident.face")],
          o.identifications.map((i) =>
            h(
              "tr",
              {},
              h("td", {
                text:
                  i.byName ||
                  (i.byLabel
                    ? t("person.labelled", { label: i.byLabel })
                    : i.byEid
                      ? t("ident.by-eid")
                      : t("person.unnamed")),
              }),
              h("td", {}, when(i.at)),
              h("td", { text: i.byEid ? t("ident.eid") : word("document", i.documentType) }),
              h("td", { text: yes(i.faceCompared) }),
            ),
          ),
        )
      : h("p", { class: "muted", text: t("order.no-identification") }),
    h("h2", { text: t("order.timeline") }),
    table(
      [t("timeline.when"), t("timeline.who"), t("timeline.what"), t("timeline.outcome")],
      timeline.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, when(e.at)),
          h("td", { text: actorWords(e) }),
          h("td", { text: word("audit", e.action) }),
          h("td", { text: word("outcome", e.outcome) }),
        ),
      ),
    ),
  );
}

async function newOrder(draw) {
  const start = orderFor;
  orderFor = null;
  const f = form(
    t("new.title"),
    {},
    field(
      t("new.national-id"),
      h("input", {
        name: "nationalId",
        required: true,
        autocomplete: "off",
        inputmode: "numeric",
        maxlength: 32,
        pattern: "[0-9A-Za-z \\-]{4,32}",
        "data-error": "error.national-id",
        ...(start ? { value: start.nationalId } : {}),
      }),
      t("new.national-id-hint"),
    ),
    organisationPicker("organisationId", start && start.organisationId),
    field(
      t("new.workflow"),
      h(
        "select",
        { name: "workflowId" },
        workflows.map((w) => h("option", { value: w.id, text: workflowWords(w.id) })),
      ),
    ),
    h("button", { type: "submit", text: t("new.submit") }),
  );
  f.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(f, async (d) => {
        const own = me.organisation ? me.organisation.id : me.organisationId;
        const org = d.get("organisationId");
        const o = await api("POST", "/orders", {
          nationalId: String(d.get("nationalId")).trim(),
          workflowId: d.get("workflowId"),
          ...(org && org !== own ? { organisationId: org } : {}),
        });
        flash = t("new.done", {
          name: personName(o.applicant),
          register: o.registerCheck && o.registerCheck.ok ? t("new.register-ok") : t("new.register-unknown"),
        });
        location.hash = `#/orders/${o.id}`;
      })
    ),
  );
  draw(t("new.title"), h("p", { class: "muted", text: t("new.intro") }), f);
}

/** A person found by national ID: who they are and what the officer may do next. */
function personCard(p) {
  const parts = [
    h("h2", { id: "person-heading", text: personName(p) }),
    facts([
      [t("person.birth-date"), p.birthDate ? formatDay(`${p.birthDate}T12:00:00Z`) : t("person.not-recorded")],
      [t("person.national-id"), p.nationalIdMasked || t("person.not-recorded")],
      [t("person.organisation"), p.organisationName || orgName(p.organisationId) || ""],
      [t("person.email"), p.email],
      [t("person.phone"), p.phone],
      [t("person.language"), p.language ? word("lang", p.language) : ""],
    ]),
  ];
  if (has("ra-officer"))
    parts.push(
      h(
        "p",
        {},
        h("a", {
          href: "#/new",
          class: "action",
          onclick: () => void (orderFor = { nationalId: found && found.nationalId, organisationId: p.organisationId }),
          text: t("people.order"),
        }),
      ),
    );
  if (has("ra-admin")) parts.push(appointForm(p));
  return h("section", { class: "person", "aria-labelledby": "person-heading" }, parts);
}

const ROLES = ["ra-officer", "ra-admin", "auditor", "ca-operator"];
function appointForm(p) {
  const f = form(
    t("appoint.title"),
    {},
    h("h3", { text: t("appoint.title") }),
    h(
      "fieldset",
      {},
      h("legend", { text: t("appoint.roles") }),
      ROLES.map((r) => field(word("role", r), h("input", { type: "checkbox", name: `role-${r}` }))),
    ),
    field(
      t("appoint.qualification"),
      h("input", { name: "qualification", maxlength: 128 }),
      t("appoint.qualification-hint"),
    ),
    field(t("appoint.until"), h("input", { name: "qualifiedUntil", type: "date" })),
    h("button", { type: "submit", text: t("appoint.submit") }),
  );
  f.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(
        f,
        async (d) => {
          const roles = ROLES.filter((r) => d.get(`role-${r}`) === "on");
          const r = await api("PUT", `/people/${p.id}/officer`, {
            roles,
            ...(d.get("qualification")
              ? { qualification: d.get("qualification"), qualifiedUntil: d.get("qualifiedUntil") }
              : {}),
          });
          say(t(r && r.status === "pending" ? "appoint.pending" : "appoint.done", { name: personName(p) }));
        },
        (x) => {
          const boxes = ROLES.map((r) => x.querySelector(`[name="role-${r}"]`));
          return boxes.some((b) => b.checked) ? [] : [[boxes[0], t("appoint.pick-role")]];
        },
      )
    ),
  );
  return f;
}

async function people(draw) {
  const out = h("div", { id: "person" });
  const f = form(
    t("people.search"),
    {},
    field(
      t("people.national-id"),
      h("input", {
        name: "nationalId",
        required: true,
        autocomplete: "off",
        inputmode: "numeric",
        maxlength: 32,
        pattern: "[0-9A-Za-z \\-]{4,32}",
        "data-error": "error.national-id",
      }),
      t("new.national-id-hint"),
    ),
    organisationPicker(),
    h("button", { type: "submit", text: t("people.find") }),
  );
  f.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(f, async (d) => {
        out.replaceChildren();
        const nationalId = String(d.get("nationalId")).trim();
        const list = await api(
          "GET",
          `/people?nationalId=${encodeURIComponent(nationalId)}&organisationId=${encodeURIComponent(d.get("organisationId"))}`,
        );
        if (!list.length) {
          found = null;
          say(t("people.none"), "info");
          return;
        }
        found = { nationalId, person: list[0] };
        out.replaceChildren(personCard(list[0]));
      })
    ),
  );
  draw(t("people.title"), h("p", { class: "muted", text: t("people.intro") }), f, out);
  if (found) out.replaceChildren(personCard(found.person));
}

const REASONS = [
  "certificateHold",
  "keyCompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "unspecified",
];
const STATUS = (s) => word("cert-status", s);

function certificates(draw) {
  const out = h("div", { id: "certificate" });
  const search = form(
    t("cert.find"),
    {},
    field(
      t("cert.serial"),
      h("input", {
        name: "serial",
        required: true,
        autocomplete: "off",
        pattern: "[0-9A-Fa-f: ]{2,100}",
        "data-error": "error.serial",
      }),
      t("cert.serial-hint"),
    ),
    h("button", { type: "submit", text: t("cert.find-button") }),
  );
  const show = async (serial) => {
    const c = await api("GET", `/certificates/${serial}`);
    let holder = null;
    try {
      holder = c.holderPersonId ? await api("GET", `/people/${c.holderPersonId}`) : null;
    } catch {
      holder = null; // not entitled to the name: the card's facts only
    }
    out.replaceChildren(
      h("h2", { text: t("cert.card-of", { name: personName(holder) }) }),
      table(
        [t("cert.serial-short"), t("cert.status"), t("cert.valid-until"), t("cert.holder")],
        [
          h(
            "tr",
            {},
            h("td", { class: "serial", text: serialText(c.serial) }),
            h("td", { text: STATUS(c.status) }),
            h("td", {}, when(c.notAfter, true)),
            h("td", { text: personName(holder) }),
          ),
        ],
      ),
      c.status === "revoked" ? h("p", { text: t("cert.revoked-final") }) : revokeForm(c, holder, show),
    );
  };
  search.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(search, async (d) => {
        out.replaceChildren();
        await show(
          String(d.get("serial"))
            .replace(/[^0-9A-Fa-f]/g, "")
            .toLowerCase(),
        );
      })
    ),
  );
  draw(t("cert.title"), search, out, pendingRequests());
}

/**
 * Suspend or revoke: the reason chosen with its meaning; a suspension is done at once (it can be
 * lifted), a revocation (keyCompromise above all) only after a confirmation step that names what
 * cannot be undone.
 */
function revokeForm(c, holder, reshow) {
  const wrap = h("div", { id: "revocation" });
  const choose = form(
    t("revoke.title"),
    { class: "danger" },
    h("h3", { text: t("revoke.title") }),
    h(
      "fieldset",
      {},
      h("legend", { text: t("revoke.reason") }),
      REASONS.map((r, i) =>
        field(
          t(`reason.${r}`),
          h("input", {
            type: "radio",
            name: "reason",
            value: r,
            required: true,
            ...(i === 0 ? { checked: true } : {}),
          }),
          t(`reason.${r}.hint`),
        ),
      ),
    ),
    h("button", { type: "submit", text: t("revoke.next") }),
  );
  const execute = async (reason) => {
    const r = await api("POST", `/certificates/${c.serial}/revoke`, { reason });
    flash = "";
    await reshow(c.serial);
    say(
      r.status === "pending"
        ? t("revoke.held")
        : t(reason === "certificateHold" ? "revoke.suspended" : "revoke.revoked", { reason: t(`reason.${reason}`) }),
    );
  };
  choose.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(choose, async (d) => {
        const reason = String(d.get("reason"));
        if (reason === "certificateHold") return execute(reason);
        // A revocation cannot be undone: a second, explicit step.
        const box = h("input", { type: "checkbox", name: "confirm", required: true });
        const confirm = form(
          t("revoke.confirm-title"),
          { class: "danger", id: "revoke-confirm" },
          h("h3", { text: t("revoke.confirm-title") }),
          h("p", { text: t("revoke.confirm-text", { name: personName(holder), reason: t(`reason.${reason}`) }) }),
          reason === "keyCompromise" ? h("p", { class: "warning", text: t("revoke.confirm-key-compromise") }) : null,
          field(t("revoke.confirm-box"), box),
          h(
            "div",
            { class: "buttons" },
            h("button", { type: "submit", class: "danger", text: t("revoke.confirm-submit") }),
            h("button", {
              type: "button",
              class: "secondary",
              text: t("revoke.back"),
              onclick: () => (wrap.replaceChildren(choose), choose.querySelector("input:checked").focus()),
            }),
          ),
        );
        confirm.addEventListener("submit", (e2) => (e2.preventDefault(), submit(confirm, () => execute(reason))));
        wrap.replaceChildren(confirm);
        confirm.querySelector("h3").tabIndex = -1;
        confirm.querySelector("h3").focus();
      })
    ),
  );
  const parts = [choose];
  if (c.status === "on-hold") {
    const resume = form(
      t("resume.title"),
      {},
      h("h3", { text: t("resume.title") }),
      h("button", { type: "submit", text: t("resume.submit") }),
    );
    resume.addEventListener(
      "submit",
      (ev) => (
        ev.preventDefault(),
        submit(resume, async () => {
          const r = await api("POST", `/certificates/${c.serial}/resume`, {});
          await reshow(c.serial);
          say(r.status === "on-hold" ? t("resume.held") : t("resume.done"));
        })
      ),
    );
    parts.unshift(resume);
  }
  wrap.replaceChildren(...parts);
  return wrap;
}

/** REQ-18: requests of other officers that wait for a second officer. */
function pendingRequests() {
  const box = h("section", { id: "pending", "aria-labelledby": "pending-heading" });
  if (!has("ra-officer") && !has("ra-admin")) return box;
  api("GET", "/revocation-requests")
    .then((list) => {
      if (!list.length) return;
      box.replaceChildren(
        h("h2", { id: "pending-heading", text: t("pending.title") }),
        table(
          [t("pending.when"), t("pending.what"), t("pending.certificate"), ""],
          list.map((r) => {
            const decide = (yesNo) =>
              h("button", {
                type: "button",
                class: yesNo ? undefined : "secondary",
                text: t(yesNo ? "pending.approve" : "pending.refuse"),
                onclick: async (ev) => {
                  ev.target.disabled = true;
                  try {
                    await api("POST", `/revocation-requests/${r.id}/${yesNo ? "approve" : "refuse"}`, {});
                    say(t(yesNo ? "pending.approved" : "pending.refused"));
                    box.replaceChildren();
                    box.append(...pendingRequests().childNodes);
                  } catch (e) {
                    say(refusal(e), "error");
                    focusMessage();
                    ev.target.disabled = false;
                  }
                },
              });
            return h(
              "tr",
              {},
              h("td", {}, when(r.requestedAt)),
              h("td", { text: r.kind === "revoke" ? t(`reason.${r.reason}`) : word("request", r.kind) }),
              h("td", { class: "serial", text: r.serial ? serialText(r.serial) : "—" }),
              h("td", {}, h("div", { class: "buttons" }, decide(true), decide(false))),
            );
          }),
        ),
      );
    })
    .catch(() => undefined);
  return box;
}

async function station(draw) {
  let readers;
  try {
    readers = await api("GET", "/card-station/readers");
  } catch (e) {
    return draw(t("station.title"), h("p", { class: "error-text", id: "station-problem", text: refusal(e) }));
  }
  draw(
    t("station.title"),
    readers.length
      ? table(
          [t("station.reader"), t("station.card")],
          readers.map((r) =>
            h(
              "tr",
              {},
              h("td", { text: r.name }),
              h("td", { text: r.cardPresent ? t("station.inserted") : t("station.empty") }),
            ),
          ),
        )
      : h("p", { text: t("station.no-reader") }),
    h("p", { class: "muted", text: t("station.hint") }),
  );
}

function admin(draw) {
  const f = form(
    t("bind.title"),
    {},
    h("h2", { text: t("bind.title") }),
    organisationPicker(),
    field(
      t("bind.national-id"),
      h("input", {
        name: "nationalId",
        required: true,
        autocomplete: "off",
        maxlength: 32,
        pattern: "[0-9A-Za-z \\-]{4,32}",
        "data-error": "error.national-id",
      }),
      t("new.national-id-hint"),
    ),
    field(t("bind.name"), h("input", { name: "name", required: true, maxlength: 64, autocomplete: "off" })),
    field(t("bind.email"), h("input", { name: "email", type: "email", maxlength: 128, autocomplete: "off" })),
    field(
      t("bind.phone"),
      h("input", {
        name: "phone",
        type: "tel",
        pattern: "\\+[1-9][0-9]{6,14}",
        placeholder: "+46701234567",
        "data-error": "error.phone",
        autocomplete: "off",
      }),
    ),
    field(t("bind.postal"), h("textarea", { name: "postalAddress", rows: 4 })),
    field(
      t("bind.language"),
      h(
        "select",
        { name: "language" },
        h("option", { value: "", text: t("bind.language-default") }),
        ["en", "sv", "da"].map((l) => h("option", { value: l, text: word("lang", l) })),
      ),
    ),
    h("button", { type: "submit", text: t("bind.submit") }),
  );
  f.addEventListener(
    "submit",
    (ev) => (
      ev.preventDefault(),
      submit(f, async (d) => {
        const contact = Object.fromEntries(
          ["email", "phone", "postalAddress", "language"]
            .map((k) => [k, String(d.get(k) || "").trim()])
            .filter(([, v]) => v),
        );
        const nationalId = String(d.get("nationalId")).trim();
        const p = await api("POST", `/organisations/${d.get("organisationId")}/people`, {
          nationalId,
          name: String(d.get("name")).trim(),
          ...contact,
        });
        found = { nationalId, person: { ...p, organisationName: p.organisationName || orgName(p.organisationId) } };
        f.reset();
        say(
          h(
            "p",
            {},
            t("bind.done", { name: p.name, organisation: p.organisationName || orgName(p.organisationId) || "" }),
            " ",
            h("a", { href: "#/people", text: t("bind.see-person") }),
          ),
        );
      })
    ),
  );
  draw(t("admin.title"), f);
}

async function organisationsScreen(draw) {
  const list = await api("GET", "/organisations");
  organisations = list;
  draw(
    t("orgs.title"),
    list.length
      ? table(
          [t("orgs.name"), t("orgs.number"), t("orgs.country"), t("orgs.status")],
          list.map((o) =>
            h(
              "tr",
              {},
              h(
                "td",
                {},
                o.name,
                o.mine ? h("span", { class: "muted", text: ` (${t("orgs.yours")})` }) : null,
                o.serviceOwner ? h("span", { class: "muted", text: ` (${t("orgs.service-owner")})` }) : null,
              ),
              h("td", { text: o.orgNumber || "" }),
              h("td", { text: o.country || "" }),
              h("td", { text: word("organisation.status", o.status) }),
            ),
          ),
        )
      : h("p", { text: t("orgs.none") }),
  );
}

/** REQ-31 evidence: the rules as evidence.ts names them (English) → their words in the catalogues. */
const EVIDENCE_RULES = [
  [/^issued through a card order$/, "rule.card-order"],
  [/^terms accepted by the applicant$/, "rule.terms"],
  [/^authoritative register checked$/, "rule.register"],
  [/^renewal on a valid eID of at least the same level$/, "rule.renewal"],
  [/^(?<n>\d+) identification\(s\) by different officers$/, "rule.identifications"],
  [/^identity documents valid at identification$/, "rule.documents-valid"],
  [/^face compared with the document photo$/, "rule.face"],
  [/^identifying officers qualified at the time$/, "rule.qualified"],
  [/^no officer acted on their own order$/, "rule.not-own"],
  [/^hand-out by a third officer with a second identification$/, "rule.third-officer"],
  [/^three distinct officers \(two identifiers, one hand-out\)$/, "rule.three-officers"],
  [/^separation of duties by the workflow's matrix \(distinct humans\)$/, "rule.separation"],
  [/^issued only after release to production$/, "rule.after-release"],
  [/^key generated on the card \(attested\)$/, "rule.key-attested"],
  [/^key generated on the card$/, "rule.key-on-card"],
  [/^on hold from issuance until the holder's activation$/, "rule.hold"],
  [/^activated by the card after the transport PIN was replaced$/, "rule.activated-by-card"],
  [/^activated within the deadline$/, "rule.activation-deadline"],
  [/^not activated in time → revoked$/, "rule.expired-revoked"],
];
/** The story's steps as evidence.ts words them (English) → the audit event they describe. */
const EVIDENCE_STEPS = {
  "order placed (register checked)": "order.create",
  "renewal ordered on an eID": "order.renew",
  "terms accepted by the applicant": "order.accept-terms",
  "identified in person": "order.identify",
  "identified by a valid eID": "order.identify-by-eid",
  "approved for production": "order.approve",
  "released to production": "order.start-production",
  "certificate issued for the card's key": "order.produce",
  "production failed, certificate revoked": "order.production-failed",
  "card handed out": "order.hand-out",
  "card sent by mail": "order.send-by-mail",
  "card activated by the holder": "order.activate",
  "expired unactivated": "order.expire",
  "serial reserved for the order (production saga)": "order.production.reserve",
  "signing failed, serial burnt, order back in production": "order.production.fail",
  "production did not complete: serial revoked, order back in production": "order.production.compensate",
  "unfinished serial published as revoked": "cert.abandon",
  "card station recorded the transport PIN replaced": "order.transport-pin-replaced",
  "activation challenge given to the card": "order.activation-challenge",
  rejected: "order.reject",
  cancelled: "order.cancel",
  "serial reserved": "cert.reserve",
  "certificate signed and stored": "cert.issue",
  "certificate revoked": "cert.revoke",
  "certificate suspended": "cert.hold",
  "suspension lifted": "cert.resume",
  "card connected for personalisation": "card.personalise.start",
  "key pair generated on the card": "card.key.generate",
  "certificate written to the card": "card.certificate.write",
  "PIN and PUK set": "card.pin.set",
  "personalisation finished": "card.personalise",
  "PIN unblocked by an officer": "card.unblock",
  "holder set their own PIN": "card.pin.change",
  "card retired": "card.retire",
  "card reported lost": "card.lost",
  "card made by the external card bureau": "card.bureau.produce",
};
const ruleWords = (rule) => {
  for (const [re, key] of EVIDENCE_RULES) {
    const m = re.exec(rule);
    if (m) return t(key, m.groups || {});
  }
  return rule;
};
const stepWords = (s) =>
  s.action
    ? word("audit", s.action)
    : EVIDENCE_STEPS[s.step]
      ? word("audit", EVIDENCE_STEPS[s.step])
      : /^[a-z-]+(\.[a-z-]+)+$/.test(s.step)
        ? word("audit", s.step)
        : s.step;
/** An actor that is no person of the directory (`system:expiry`, `operator:ed`, `applicant`) by its kind. */
const actorKindWords = (actor) =>
  /^[a-z]+(:|$)/.test(String(actor)) ? word("actor", String(actor).split(":")[0]) : String(actor);
const REASON_CODES =
  /\b(unspecified|keyCompromise|affiliationChanged|superseded|cessationOfOperation|certificateHold|removeFromCRL)\b/g;

/**
 * An evidence detail (the server's record, in English) as an auditor reads it: digests and serial
 * numbers as fingerprints are printed (upper-case byte pairs), times local with the zone, workflow,
 * state and reason codes in words, the register named without its server location.
 */
function evidenceText(s) {
  return String(s || "")
    .replace(
      /\b(SHA-256|certificate|serial) ([0-9a-f]{8,})(…)?/g,
      (_m, what, hex, more) => `${what} ${serialText(hex)}${more || ""}`,
    )
    .replace(/\bworkflow (loa[0-9a-z-]+)@\d+/g, (_m, id) => workflowWords(id))
    .replace(/\bregister (?:file:|https?:)\S+?: /g, "register: ")
    .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\b/g, (iso) => formatTime(iso))
    .replace(/\bstate ([A-Z_]{4,})\b/g, (_m, st) => stateWords(st))
    .replace(REASON_CODES, (r) => t(`reason.${r}`));
}

/** A person the evidence names (by id) as the reader may see them: name and label, or the label alone. */
function evidencePerson(x, id) {
  const p = x.people && x.people[id];
  return p ? (p.name ? `${p.name} (${p.label})` : p.label) : t("person.unnamed");
}
/**
 * The facts of an evidence clause in the reader's words: people by name or label, times local, internal names worded.
 */
function evidenceParams(x, params) {
  const out = {};
  for (const [k, v] of Object.entries(params || {})) {
    if (k === "people") out[k] = (v || []).map((id) => evidencePerson(x, id)).join(", ");
    else if (k === "person") out[k] = evidencePerson(x, v);
    else if (k === "actor")
      out[k] = /^(officer|holder):[0-9a-f]{32}$/.test(String(v))
        ? evidencePerson(x, String(v).split(":")[1])
        : actorKindWords(v);
    else if (k === "humans")
      out[k] = (v || [])
        .map((tag) => {
          const step = ((x.separation && x.separation.steps) || []).find((st) => st.human === tag);
          return step ? (step.name ? `${step.name} (${step.label})` : step.label) : t("person.unnamed");
        })
        .join(", ");
    else if (k === "at" || /At$/.test(k)) out[k] = formatTime(v);
    else if (k === "state") out[k] = stateWords(v);
    else if (k === "reason") out[k] = t(`reason.${v}`);
    else if (k === "documentType") out[k] = word("document", v);
    else if (k === "status") out[k] = word("register-status", v);
    else if (k === "language") out[k] = word("lang", v);
    else if (k === "outcome") out[k] = word("outcome", v);
    else if (k === "workflow") out[k] = workflowWords(String(v).split("@")[0]);
    else if (k === "a" || k === "b") out[k] = actionLabel(v);
    else if (/^(sha256|serial|cardSerial|attestationSha256|intermediateSha256)$/.test(k)) out[k] = serialText(v);
    else out[k] = String(v);
  }
  return out;
}
/**
 * REQ-31: a verdict's or story step's detail in the reader's language, clause by clause (the English record as printed
 * when a clause is unknown).
 */
function evidenceDetail(x, item) {
  const parts = item.parts || [];
  if (!parts.length) return item.detail ? evidenceText(item.detail) : "";
  if (!parts.every((p) => known(p.code))) return evidenceText(item.detail);
  return parts.map((p) => t(p.code, evidenceParams(x, p.params))).join("; ");
}

function audit(draw) {
  const out = h("div", { id: "evidence" });
  const ev = form(
    t("evidence.title"),
    {},
    h("h2", { text: t("evidence.title") }),
    field(
      t("cert.serial"),
      h("input", {
        name: "serial",
        required: true,
        autocomplete: "off",
        pattern: "[0-9A-Fa-f: ]{2,100}",
        "data-error": "error.serial",
      }),
      t("cert.serial-hint"),
    ),
    h("button", { type: "submit", text: t("evidence.submit") }),
  );
  ev.addEventListener(
    "submit",
    (e) => (
      e.preventDefault(),
      submit(ev, async (f) => {
        const x = await api(
          "GET",
          `/audit/evidence/${String(f.get("serial"))
            .replace(/[^0-9A-Fa-f]/g, "")
            .toLowerCase()}`,
        );
        out.replaceChildren(
          h("h2", { text: t("evidence.result") }),
          h("p", {}, t("evidence.verdict"), " ", h("span", { class: x.verdict, text: word("result", x.verdict) })),
          table(
            [
              t("evidence.rule"),
              t("evidence.requirement"),
              t("evidence.cps"),
              t("evidence.result-col"),
              t("evidence.detail"),
            ],
            x.verdicts.map((v) =>
              h(
                "tr",
                {},
                h("td", { text: v.code && known(v.code) ? t(v.code, v.params || {}) : ruleWords(v.rule) }),
                h("td", { class: "nowrap", text: v.requirement }),
                h("td", { class: "nowrap", text: v.cps }),
                h("td", { class: `${v.result} nowrap`, text: word("result", v.result) }),
                h("td", { text: evidenceDetail(x, v) }),
              ),
            ),
            t("evidence.verdicts"),
          ),
          table(
            [t("timeline.when"), t("evidence.step"), t("timeline.who"), t("evidence.detail")],
            x.story.map((s) =>
              h(
                "tr",
                {},
                h("td", {}, when(s.at)),
                h("td", { text: stepWords(s) }),
                h("td", { text: s.actorName || s.actorLabel || (s.actorId ? s.actor : actorKindWords(s.actor)) }),
                h("td", { text: evidenceDetail(x, s) }),
              ),
            ),
            t("evidence.story"),
          ),
        );
      })
    ),
  );
  const rep = form(
    t("report.title"),
    {},
    h("h2", { text: t("report.title") }),
    field(t("report.from"), h("input", { name: "from", type: "date", required: true })),
    field(t("report.to"), h("input", { name: "to", type: "date", required: true })),
    h("button", { type: "submit", text: t("report.submit") }),
  );
  rep.addEventListener(
    "submit",
    (e) => (
      e.preventDefault(),
      submit(
        rep,
        async (f) => {
          const r = await api("GET", `/audit/report?from=${f.get("from")}&to=${f.get("to")}`);
          // The steps people took (each request to the API is in the audit trail too, by its route: not what a person
          // reads here).
          const rows = new Map();
          for (const a of (r.officerActivity || []).filter((x) => !/^(api|portal)\./.test(x.action))) {
            const who = a.actorName
              ? `${a.actorName} (${a.actorLabel})`
              : a.actorLabel || actorKindWords(a.actorId || a.actor);
            const key = JSON.stringify([who, a.action, a.outcome]); // several ceremonies or operators read alike: one row
            rows.set(key, { who, action: a.action, outcome: a.outcome, n: (rows.get(key)?.n ?? 0) + a.n });
          }
          const activity = [...rows.values()];
          out.replaceChildren(
            h(
              "p",
              {},
              t("report.period", { from: r.period.from.slice(0, 10), to: r.period.to.slice(0, 10) }),
              " ",
              h("span", { class: r.verdict === "conformant" ? "pass" : "fail", text: word("report", r.verdict) }),
              " ",
              t(r.auditTrail.ok ? "report.summary-intact" : "report.summary-broken", {
                issued: r.issued.total,
                violations: r.violations.length,
              }),
            ),
            // Who did what in the period: officers by name (or label), never their ids; others by their kind.
            activity.length
              ? table(
                  [t("timeline.who"), t("report.action"), t("evidence.result-col"), t("report.count")],
                  activity.map((a) =>
                    h(
                      "tr",
                      {},
                      h("td", { class: "report-actor", text: a.who }),
                      h("td", { text: word("audit", a.action) }),
                      h("td", { text: word("outcome", a.outcome) }),
                      h("td", { text: String(a.n) }),
                    ),
                  ),
                  t("report.activity"),
                )
              : null,
          );
        },
        (x) => {
          const from = x.querySelector("[name=from]"),
            to = x.querySelector("[name=to]");
          return from.value && to.value && to.value <= from.value ? [[to, t("report.to-after-from")]] : [];
        },
      )
    ),
  );
  draw(t("audit.title"), ev, rep, out);
}

/** REQ-15: messages the service gave up delivering (never their text), each with a retry. */
async function deliveries(draw) {
  const dead = await api("GET", "/delivery/dead-letters");
  const names = new Map();
  await Promise.all(
    [...new Set(dead.map((d) => d.personId))].map(async (id) => {
      try {
        names.set(id, personName(await api("GET", `/people/${id}`)));
      } catch {
        names.set(id, t("person.unnamed"));
      }
    }),
  );
  const rows = dead.map((d) => {
    const retry = h("button", { type: "button", text: t("deliveries.retry") });
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        await api("POST", `/delivery/dead-letters/${d.id}/retry`, {});
        flash = t("deliveries.queued", { kind: word("message", d.kind), name: names.get(d.personId) });
        await route();
      } catch (e) {
        say(refusal(e), "error");
        focusMessage();
        retry.disabled = false;
      }
    });
    return h(
      "tr",
      {},
      h("td", {}, when(d.createdAt)),
      h("td", { text: word("message", d.kind) }),
      h("td", { text: word("channel", d.channel) }),
      h("td", { text: names.get(d.personId) }),
      h("td", { text: String(d.attempts) }),
      h("td", { text: d.lastError || "" }),
      h("td", {}, retry),
    );
  });
  draw(
    t("deliveries.title"),
    dead.length
      ? table(
          [
            t("deliveries.created"),
            t("deliveries.kind"),
            t("deliveries.channel"),
            t("deliveries.person"),
            t("deliveries.attempts"),
            t("deliveries.error"),
            t("deliveries.action"),
          ],
          rows,
        )
      : h("p", { class: "muted", text: t("deliveries.none") }),
  );
}

// ------------------------------------------------------------------ routing, sign-in and sign-out
let navigation = 0;

/** The form values of the screen (a language change redraws it; what was typed stays). */
function typed() {
  return [...document.querySelectorAll("main input, main select, main textarea")].map((el) => [
    el.name,
    el.type === "checkbox" || el.type === "radio" ? el.checked : el.value,
  ]);
}
function retype(values) {
  const els = [...document.querySelectorAll("main input, main select, main textarea")];
  values.forEach(([name, v], i) => {
    const el = els[i];
    if (!el || el.name !== name) return;
    if (el.type === "checkbox" || el.type === "radio") el.checked = v;
    else el.value = v;
  });
}

async function route() {
  if (!signedIn) return signedOut();
  say(flash);
  flash = "";
  // A screen that finishes loading after the officer moved on is not drawn over the newer one.
  const mine = ++navigation;
  const draw = (...a) => void (mine === navigation && page(...a));
  const m = location.hash.match(/^#\/orders\/([0-9a-f]{32})(?:\/act\/([a-z-]+))?$/);
  try {
    if (m) await orderScreen(draw, m[1], m[2]);
    else if (location.hash === "#/new") await newOrder(draw);
    else if (location.hash === "#/people") await people(draw);
    else if (location.hash === "#/certificates") certificates(draw);
    else if (location.hash === "#/station") await station(draw);
    else if (location.hash === "#/admin") admin(draw);
    else if (location.hash === "#/organisations") await organisationsScreen(draw);
    else if (location.hash === "#/deliveries") await deliveries(draw);
    else if (location.hash === "#/audit") audit(draw);
    else await queue(draw);
  } catch (e) {
    draw(t("error.title"), h("p", { id: "problem", text: refusal(e) }));
  }
}

function whoText() {
  const org = (me.organisation && me.organisation.name) || orgName(me.organisationId);
  const who = me.name
    ? me.label
      ? `${me.name} (${me.label})`
      : me.name
    : me.label
      ? t("person.labelled", { label: me.label })
      : t("who.you");
  const roles = me.roles
    .filter((r) => r !== "service-owner-staff")
    .map((r) => word("role", r))
    .join(", ");
  return [t("who.signed-in", { name: who }), org, roles].filter(Boolean).join(" · ");
}

/** What the page shows without a session: the sign-in's refusal, or the signed-out screen. */
let signInProblem = null;
/** Set when the officer signed out. */
let ended = false;

function signedOut() {
  if (signInProblem)
    return page(
      t("signin.failed"),
      h("p", { id: "problem", text: refusal(signInProblem) }),
      h("p", { text: t("signin.insert-card") }),
    );
  document.getElementById("who").textContent = "";
  document.getElementById("signout").hidden = true;
  document.querySelector("nav").hidden = true;
  say("");
  page(
    t("signout.title"),
    h("p", { text: t("signout.text") }),
    h("ul", {}, h("li", { text: t("signout.remove-card") }), h("li", { text: t("signout.close-browser") })),
    h("p", { class: "muted", text: t("signout.again") }),
    h("button", { type: "button", class: "secondary", text: t("signout.sign-in"), onclick: () => location.reload() }),
  );
}

async function signIn() {
  let data;
  try {
    data = await request("POST", "/portal/session", {});
  } catch (e) {
    signInProblem = e;
    signedOut();
    return false;
  }
  csrf = data.csrfToken;
  signedIn = true;
  me = { ...data.me, ...(await api("GET", "/me")) };
  [workflows, organisations] = await Promise.all([
    api("GET", "/workflows"),
    api("GET", "/organisations").catch(() => []),
  ]);
  document.getElementById("who").textContent = whoText();
  const nav = document.querySelector("nav");
  for (const a of nav.querySelectorAll("a[data-role]")) a.hidden = !a.dataset.role.split(" ").some(has);
  nav.hidden = false;
  const out = document.getElementById("signout");
  out.hidden = false;
  out.addEventListener("click", async () => {
    signedIn = false;
    ended = true;
    csrf = "";
    me = null;
    await fetch("/portal/session", {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "accept-language": language() },
    }).catch(() => undefined);
    signedOut();
  });
  return true;
}

setAppName("app.portal");
await startLanguage("/portal/assets");
mountLanguageSwitch();
skipLink();
onLanguageChange(async () => {
  if (!signedIn || !me) return signInProblem || ended ? signedOut() : undefined; // still signing in: the screen comes in the new words
  document.getElementById("who").textContent = whoText();
  const values = typed();
  await route();
  retype(values);
});
window.addEventListener("hashchange", route);
if (await signIn()) await route();

import { expect } from "chai";
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../support/test-ca.js";
import { catalogue } from "../../src/i18n/catalogue.js";
import { catalogueProblems, placeholders } from "../../src/i18n/catalogue-check.js";
import { LANGUAGES, languageOfCountry, negotiateLanguage } from "../../src/i18n/languages.js";
import { fieldWords, refusalWords } from "../../src/i18n/refusal-words.js";
import { notificationWords } from "../../src/i18n/notification-words.js";
import { ERROR_KINDS } from "../../src/shared/ca-error.js";
import { templateBody } from "../../src/shared/message-template.js";
import { GUARDS } from "../../src/ra/guards.js";
import { ORDER_STATES } from "../../src/policy/workflow.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import { loadRevocationPolicy } from "../../src/policy/revocation-policy.js";
import { nationalIdFacts } from "../../src/ra/national-id.js";
import { personLabel } from "../../src/ra/person-names.js";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}
const SRC = files(join(REPO_ROOT, "src")).map((f) => ({ f, text: readFileSync(f, "utf8") }));
const workflows = [...loadWorkflows(join(REPO_ROOT, "policies", "workflows")).values()];
const revocation = loadRevocationPolicy(join(REPO_ROOT, "policies", "revocation", "revocation.yaml"));
const STATES = [...ORDER_STATES, "PRODUCING"];
const ACTIONS = [...new Set(workflows.flatMap((w) => w.transitions.map((t) => t.action)))];

/**
 * Every refusal code the source can throw: `code: "x"`, the roles policy's and the revocation desk's helpers, and each
 * guard's
 * reasons; read so that any layout of the calls (one line, or one argument a line) gives the same set.
 */
function thrownCodes(): string[] {
  const codes = new Set<string>();
  for (const { text } of SRC) {
    for (const m of text.matchAll(/code: "([a-z][a-z0-9-]*\.[a-z0-9.-]+)"/g)) codes.add(m[1]!);
    for (const m of text.matchAll(/policy,\s*"(roles\.[a-z-]+)"/g)) codes.add(m[1]!);
    for (const m of text.matchAll(/second\([^;]*?,\s*"(revocation\.[a-z-]+)",?\s*\)/g)) codes.add(m[1]!);
    // A code chosen by a condition (`const code = status === 413 ? "request.too-large" : ...`).
    for (const m of text.matchAll(/const code =\s*([^;]+);/g))
      for (const q of m[1]!.matchAll(/[?:]\s*"([a-z][a-z0-9-]*\.[a-z0-9.-]+)"/g)) codes.add(q[1]!);
  }
  const guards = SRC.find((s) => s.f.endsWith("src/ra/guards.ts"))!.text;
  for (const [name, body] of Object.keys(GUARDS).map(
    (g) => [g, guards.slice(guards.indexOf(`"${g}": {`), guards.indexOf("},\n", guards.indexOf(`"${g}": {`)))] as const,
  )) {
    const variants = [...body.matchAll(/why\([^;]*?,\s*"([a-z-]+)"(?:,\s*\{|,?\s*\))/g)].map((m) => m[1]!);
    if (name === "document-accepted" || name === "second-identification") variants.push("none", "type");
    if (variants.length === 0) codes.add(`guard.${name}`);
    for (const v of variants) codes.add(`guard.${name}.${v}`);
  }
  for (const file of ["src/ra/key-origin.ts", "src/ra/activation.ts"]) {
    const text = SRC.find((s) => s.f.endsWith(file))!.text;
    const guard = file.includes("key-origin") ? "key-attested" : "activation-challenge-signed";
    for (const m of text.matchAll(/no\((?:[^()]|\([^()]*\))*?,\s*"([a-z-]+)",?\s*\)/g))
      codes.add(`guard.${guard}.${m[1]}`);
    if (guard === "key-attested") codes.add("guard.key-attested.attestation-rejected"); // no()'s default
  }
  return [...codes].sort();
}

/** A sample for every placeholder a refusal uses (a message with a placeholder missing here fails the test). */
const SAMPLES: Record<string, unknown> = {
  action: "identify",
  earlierAction: "approve",
  state: "TERMS_ACCEPTED",
  roles: ["ra-officer", "ca-operator"],
  role: "ca-operator",
  otherRole: "ra-officer",
  documentType: "driving-licence",
  documentTypes: ["passport", "national-id-card"],
  reason: "keyCompromise",
  reasons: ["certificateHold", "keyCompromise"],
  status: "on-hold",
  registerStatus: "deceased",
  kindOfCaller: "holder",
  nameField: "givenName",
  limit: 64,
  count: 2,
  needed: 2,
  recorded: 1,
  version: "2026-01",
  loa: 3,
  score: 3,
  passScore: 5,
  approvedAt: "2026-01-02T10:00:00.000Z",
  expiredAt: "2026-02-03T11:00:00.000Z",
  days: 30,
  orgNumber: "556000-0001",
  cidr: "10.0.0.1/",
  what: "report",
  from: "order",
  triesLeft: 2,
};
/**
 * What no rendered refusal may contain: internal state names, ids, paths, schema patterns, workflow ids, internal
 * reason or guard names.
 */
const INTERNAL_NAMES = [
  ...revocation.reasons,
  ...Object.keys(GUARDS),
  "ra-officer",
  "ca-operator",
  "ra-admin",
  "service-owner-staff",
  "driving-licence",
  "national-id-card",
  "on-hold",
  "undefined",
  "NaN",
];
const LEAKS: [string, RegExp][] = [
  ["state name", new RegExp(`\\b(${STATES.join("|")})\\b`)],
  ["hex id", /\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b/],
  ["path", /(^|\s)\/[a-z]|\.(json|ts|js|yaml)\b|[a-z]:\\/i],
  ["schema pattern", /\^\[|\]\{|\$\/|\\[sd]/],
  ["workflow id", /loa[23]-card-order/],
  ["placeholder", /[{}]/],
  ["internal name", new RegExp(`\\b(${INTERNAL_NAMES.join("|")})\\b`)],
];

describe("i18n: catalogues in en, sv, da (locales/<lang>/*.json)", () => {
  for (const name of ["refusals", "notifications"] as const)
    it(`ok/${name}: every language has the same keys, each message parses and uses the same placeholders as \
English`, () => {
      expect(catalogueProblems(name)).to.deep.equal([]);
    });

  it("fail/a language that lacks a key or renames a placeholder is caught", () => {
    const dir = mkdtempSync(join(tmpdir(), "cardpki-locales-"));
    cpSync(join(REPO_ROOT, "locales"), dir, { recursive: true });
    const sv = JSON.parse(readFileSync(join(dir, "sv", "refusals.json"), "utf8"));
    delete sv.detail["order.own-order"];
    sv.detail["renewal.loa-too-low"] = "Kortet kräver minst LoA{niva}.";
    writeFileSync(join(dir, "sv", "refusals.json"), JSON.stringify(sv));
    const problems = catalogueProblems("refusals", dir);
    expect(problems).to.include("refusals: sv lacks detail.order.own-order");
    expect(
      problems.some((p) => p.startsWith("refusals: sv detail.renewal.loa-too-low has placeholders {niva}")),
    ).to.equal(true);
  });

  it("ok/every refusal code the engine throws has its own words (and each order state its situation)", () => {
    const c = catalogue("refusals");
    const codes = thrownCodes();
    expect(codes.length).to.be.greaterThan(150);
    const missing = codes.filter((k) => k !== "order.action-not-in-state" && !c.has(`detail.${k}`));
    expect(missing).to.deep.equal([]);
    expect(STATES.filter((s) => !c.has(`situation.${s}`))).to.deep.equal([]);
    for (const kind of ERROR_KINDS)
      expect([c.has(`kind-title.${kind}`), c.has(`kind-detail.${kind}`)], kind).to.deep.equal([true, true]);
  });

  it("ok/the words for states, actions, roles, documents and reasons cover the policies", () => {
    const c = catalogue("refusals");
    const missing = [
      ...STATES.map((s) => `state.${s}`),
      ...ACTIONS.map((a) => `action.${a}`),
      ...["ra-officer", "ra-admin", "auditor", "ca-operator", "service-owner-staff"].map((r) => `role.${r}`),
      ...workflows.flatMap((w) => w.acceptedDocuments.map((d) => `document.${d}`)),
      ...revocation.reasons.map((r) => `reason.${r}`),
    ].filter((k) => !c.has(k));
    expect(missing).to.deep.equal([]);
  });

  it(`ok/every refusal renders in every language with its placeholders filled and no state name, id, path or \
pattern`, () => {
    const c = catalogue("refusals");
    const bad: string[] = [];
    const codes = thrownCodes();
    for (const lang of LANGUAGES) {
      for (const code of codes) {
        const message = `${c.source(lang, `detail.${code}`) ?? ""} ${c.source(lang, `title.${code}`) ?? ""}`;
        const params: Record<string, any> = {};
        for (const p of placeholders(message, lang)) {
          if (!(p in SAMPLES)) bad.push(`${code}: no sample for {${p}}`);
          params[p] = SAMPLES[p];
        }
        const words = refusalWords(lang, { kind: "policy-violation", code, params });
        if (!words.worded && code !== "order.action-not-in-state") bad.push(`${lang} ${code}: no words`);
        for (const [what, re] of LEAKS)
          for (const t of [words.title, words.detail]) if (re.test(t)) bad.push(`${lang} ${code}: ${what} in "${t}"`);
      }
      for (const state of STATES)
        for (const action of ACTIONS) {
          const w = refusalWords(lang, {
            kind: "conflict",
            code: "order.action-not-in-state",
            params: { action, state },
          });
          for (const [what, re] of LEAKS)
            for (const t of [w.title, w.detail])
              if (re.test(t)) bad.push(`${lang} ${action} in ${state}: ${what} in "${t}"`);
        }
      for (const kind of ERROR_KINDS) {
        const w = refusalWords(lang, { kind, code: kind, params: {} });
        for (const [what, re] of LEAKS)
          for (const t of [w.title, w.detail]) if (re.test(t)) bad.push(`${lang} ${kind}: ${what} in "${t}"`);
      }
    }
    expect(bad).to.deep.equal([]);
  });

  it(`ok/the issue's refusals say what a person needs: terms not accepted yet, the national ID's format, no path for a \
deceased person`, () => {
    const en = (code: string, params: Record<string, any>) =>
      refusalWords("en", { kind: "policy-violation", code, params }).detail;
    expect(en("order.action-not-in-state", { action: "identify", state: "REQUESTED" })).to.equal(
      "The applicant has not accepted the terms yet.",
    );
    expect(
      refusalWords("sv", {
        kind: "conflict",
        code: "order.action-not-in-state",
        params: { action: "identify", state: "REQUESTED" },
      }).detail,
    ).to.equal("Den sökande har inte godkänt villkoren än.");
    expect(
      refusalWords("da", {
        kind: "conflict",
        code: "order.action-not-in-state",
        params: { action: "identify", state: "REQUESTED" },
      }).detail,
    ).to.equal("Ansøgeren har ikke accepteret betingelserne endnu.");
    expect(en("register.not-alive", { registerStatus: "deceased" })).to.equal(
      "The population register lists this person as deceased, so no card can be ordered.",
    );
    const [nid] = fieldWords("en", [{ pointer: "/nationalId", keyword: "pattern" }]);
    expect(nid).to.deep.include({ field: "nationalId", pointer: "/nationalId" });
    expect(nid!.detail)
      .to.match(/^A national ID number has 4 to 32 digits or letters/)
      .and.not.match(/\^|\{|\[/);
    expect(refusalWords("sv", { kind: "unavailable", code: "card.reader-service-down", params: {} }).title).to.equal(
      "Kortläsartjänsten körs inte",
    );
  });

  it("ok/schema errors become words per field in each language, never the pattern", () => {
    const faults = [
      { pointer: "/nationalId", keyword: "pattern" },
      { pointer: "/name", keyword: "maxLength", limit: 64 },
      { pointer: "/", keyword: "required", property: "workflowId" },
      { pointer: "/", keyword: "additionalProperties", property: "admin" },
      { pointer: "/document/expires", keyword: "format" },
      { pointer: "/purpose", keyword: "enum" },
      { pointer: "/roles", keyword: "uniqueItems" },
      { pointer: "/x", keyword: "if" },
    ];
    for (const lang of LANGUAGES) {
      const w = fieldWords(lang, faults);
      expect(w.map((x) => x.field)).to.deep.equal([
        "nationalId",
        "name",
        "workflowId",
        "admin",
        "document.expires",
        "purpose",
        "roles",
        "x",
      ]);
      for (const x of w)
        expect(x.detail, `${lang} ${x.field}`)
          .to.be.a("string")
          .and.not.match(/[{}^$\\]|undefined/);
      expect(w[1]!.detail).to.include("64");
    }
    expect(fieldWords("da", faults)[2]!.detail).to.equal("Type bestilling mangler.");
  });

  it(`ok/notifications in the recipient's language; an unknown language reads English; the secret is in every \
language's body`, () => {
    const stored = {
      subject: "Your new card: transport PIN",
      body: templateBody("initial-pin.transport", { cardSerial: "A1B2C3", pin: "482913" }),
    };
    expect(notificationWords("en", stored)).to.deep.equal({
      subject: "Your new card: transport PIN",
      body:
        "Transport PIN for your card A1B2C3: 482913. You replace it with a PIN of " +
        "your own when you activate the card.",
      language: "en",
    });
    expect(notificationWords("sv", stored).body).to.match(/^Transport-PIN för ditt kort A1B2C3: 482913\./);
    expect(notificationWords("da", stored).subject).to.equal("Dit nye kort: transport-PIN");
    expect(notificationWords("de", stored).language).to.equal("en");
    const terms = {
      subject: "s",
      body: templateBody("terms-link", {
        orderId: "o",
        termsVersion: "2026-01",
        token: "TOKEN234",
        link: "https://ra.example/applicant/#order=o&token=TOKEN234",
      }),
    };
    for (const lang of LANGUAGES)
      expect(notificationWords(lang, terms).body, lang)
        .to.include("https://ra.example/applicant/#order=o&token=TOKEN234")
        .and.include("TOKEN234")
        .and.not.match(/[{}]/);
    expect(notificationWords("sv", { subject: "plain", body: "as text" })).to.deep.equal({
      subject: "plain",
      body: "as text",
      language: "sv",
    });
  });

  it("ok/Accept-Language picks en, sv or da by weight; the organisation's country gives the default language", () => {
    const rows: [string | undefined, string][] = [
      [undefined, "en"],
      ["sv-SE,sv;q=0.9,en;q=0.8", "sv"],
      ["da", "da"],
      ["de-DE,de;q=0.9", "en"],
      ["en;q=0.1, sv;q=0.8", "sv"],
      ["nb-NO", "da"],
      ["*", "en"],
      ["fr;q=1, da;q=0", "en"],
    ];
    expect(rows.map(([h]) => negotiateLanguage(h))).to.deep.equal(rows.map(([, l]) => l));
    expect(["SE", "DK", "NO", "dk", undefined].map(languageOfCountry)).to.deep.equal(["sv", "da", "en", "da", "en"]);
  });

  it(`ok/the identify screen's facts from a national ID: Swedish and Danish birth dates, the last four masked; fail/an \
impossible date gives none`, () => {
    const now = new Date("2026-06-01T00:00:00Z");
    expect(nationalIdFacts("197003033456", "SE", now)).to.deep.equal({
      birthDate: "1970-03-03",
      masked: "19700303-****",
    });
    expect(nationalIdFacts("700303-3456", "SE", now)).to.deep.equal({ birthDate: "1970-03-03", masked: "700303-****" });
    // coordination number: day + 60
    expect(nationalIdFacts("197003633456", "SE", now).birthDate).to.equal("1970-03-03");
    expect(nationalIdFacts("0303701234", "DK", now)).to.deep.equal({ birthDate: "1970-03-03", masked: "030370-****" });
    expect(nationalIdFacts("0303104234", "DK", now).birthDate).to.equal("2010-03-03");
    expect(nationalIdFacts("197013333456", "SE", now)).to.deep.equal({ masked: "19701333-****" });
    expect(nationalIdFacts("AB12CD34", "NO", now)).to.deep.equal({ masked: "AB12-****" });
  });

  it("ok/person labels are short, stable, readable and never the id", () => {
    const id = "3dfdd4c1a0b24f6e9c8d7e6f5a4b3c2d";
    expect(personLabel(id))
      .to.equal(personLabel(id))
      .and.match(/^[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}$/);
    expect(id.toUpperCase()).to.not.include(personLabel(id).replace("-", ""));
    const many = new Set(Array.from({ length: 2000 }, (_, i) => personLabel(i.toString(16).padStart(32, "0"))));
    expect(many.size).to.be.greaterThan(1990);
  });
});

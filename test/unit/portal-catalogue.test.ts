import { expect } from "chai";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../support/test-ca.js";

const ASSETS = join(REPO_ROOT, "src", "http", "portal-assets");
const LANGS = ["en", "sv", "da"] as const;
const catalogue = (l: string): Record<string, string> =>
  JSON.parse(readFileSync(join(ASSETS, "locales", `${l}.json`), "utf8"));
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
const pages = readdirSync(ASSETS)
  .filter((f) => /\.(js|html)$/.test(f))
  .map((f) => [f, readFileSync(join(ASSETS, f), "utf8")] as const);

/** The pages' own catalogues (the browser side; the server's refusals and notifications are in locales/ at the top). */
/** Keys whose words every language shares (names, codes, the same word). */
const SHARED_WORDS = new Set([
  "portal.brand",
  "evidence.cps",
  "station.empty",
  "new.register-ok",
  "channel.sms",
  "order.action-title",
  "report.period",
  "error.rule",
  "admin.title",
  "nav.admin",
  "orgs.status",
  "cert.status",
  "holder.status",
  "organisation.pick",
  "person.organisation",
  "queue.organisation",
  "mail.submit",
  "applicant.version",
  "applicant.brand",
  "holder.brand",
  "app.portal",
  "deliveries.kind",
  "person.email",
  "channel.email",
  "people.find",
  "cert.find-button",
]);

describe("http/portal-assets: the pages' catalogues in en, sv and da", () => {
  const cats = Object.fromEntries(LANGS.map((l) => [l, catalogue(l)])) as Record<
    (typeof LANGS)[number],
    Record<string, string>
  >;

  it("ok/the three catalogues have the same keys and, per key, the same placeholders; no value is empty", () => {
    for (const l of ["sv", "da"] as const) {
      expect(Object.keys(cats[l]).sort(), `${l}: keys`).to.deep.equal(Object.keys(cats.en).sort());
      for (const [k, v] of Object.entries(cats.en))
        expect(placeholders(cats[l][k]!), `${l}: placeholders of ${k}`).to.deep.equal(placeholders(v));
    }
    for (const l of LANGS)
      for (const [k, v] of Object.entries(cats[l])) expect(v.trim(), `${l}: ${k}`).to.not.equal("");
  });

  it(`ok/every key the pages name has words: t("…"), tNodes("…"), data-t, data-t-label, data-error and the keys of \
the server-text tables`, () => {
    const used = new Set<string>();
    for (const [, text] of pages) {
      for (const m of text.matchAll(/\bt(?:Nodes)?\("([a-z0-9][a-z0-9.-]*)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/data-t(?:-label)?="([a-z0-9.-]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/"data-error": "([a-z0-9.-]+)"/g)) used.add(m[1]!);
      for (const m of text.matchAll(/, "((?:progress|card\.status|activation\.status|rule)\.[A-Za-z0-9_.-]+)"\]/g))
        used.add(m[1]!);
      for (const m of text.matchAll(/setAppName\("([a-z.]+)"\)/g)) used.add(m[1]!);
    }
    expect(used.size).to.be.greaterThan(200);
    expect(
      [...used].filter((k) => cats.en[k] === undefined),
      "keys without words",
    ).to.deep.equal([]);
  });

  it(`ok/every state, action, workflow, document, control question, role and revocation reason of the policies has \
words (no internal name reaches a reader)`, () => {
    const need: string[] = [];
    for (const f of readdirSync(join(REPO_ROOT, "policies", "workflows")).filter((x) => x.endsWith(".yaml"))) {
      const w = parse(readFileSync(join(REPO_ROOT, "policies", "workflows", f), "utf8"));
      need.push(`workflow.${w.id}`);
      for (const t of w.transitions) {
        need.push(`action.${t.action}`, `state.${t.to}`, ...t.from.map((s: string) => `state.${s}`));
      }
      for (const d of w.acceptedDocuments ?? []) need.push(`document.${d}`);
      for (const q of w.knowledgeQuestions?.questions ?? []) need.push(`question.${q.id}`);
    }
    const roles = parse(readFileSync(join(REPO_ROOT, "policies", "roles.yaml"), "utf8"));
    for (const r of Object.keys(roles.roles)) need.push(`role.${r}`);
    const rev = parse(readFileSync(join(REPO_ROOT, "policies", "revocation", "revocation.yaml"), "utf8"));
    for (const r of rev.reasons) need.push(`reason.${r}`);
    for (const r of rev.requests.officerReasons) need.push(`reason.${r}.hint`);
    for (const r of rev.requests.holderReasons.filter((x: string) => x !== "certificateHold"))
      need.push(`holder.reason.${r}`);
    for (const s of [
      "connected",
      "identified",
      "management-key-set",
      "key-generated",
      "certificate-issued",
      "certificate-written",
      "pin-set",
      "verified",
    ])
      need.push(`card-step.${s}`);
    for (const k of ["terms-link", "activation-code", "initial-pin", "unblock-pin", "notice"])
      need.push(`message.${k}`);
    for (const c of ["sms", "email", "mail"]) need.push(`channel.${c}`);
    expect(
      [...new Set(need)].filter((k) => cats.en[k] === undefined),
      "policy values without words",
    ).to.deep.equal([]);
  });

  it("ok/every audit event the order timeline and the evidence story can show has words", () => {
    const portal = readFileSync(join(ASSETS, "portal.js"), "utf8");
    const steps = /const EVIDENCE_STEPS = \{([\s\S]*?)\};/.exec(portal)![1]!;
    const actions = [...steps.matchAll(/: "([a-z-]+(?:\.[a-z-]+)+)"/g)].map((m) => m[1]!);
    expect(actions.length).to.be.greaterThan(30);
    // Each workflow step is audited as order.<action> (the engine's event for a transition).
    const orderEvents = readdirSync(join(REPO_ROOT, "policies", "workflows"))
      .filter((x) => x.endsWith(".yaml"))
      .flatMap((f) =>
        parse(readFileSync(join(REPO_ROOT, "policies", "workflows", f), "utf8")).transitions.map(
          (t: { action: string }) => `order.${t.action}`,
        ),
      );
    expect(
      [...new Set([...actions, ...orderEvents])].filter((a) => cats.en[`audit.${a}`] === undefined),
      "audit events without words",
    ).to.deep.equal([]);
  });

  it(`ok/the Swedish and Danish words are not the English ones left untranslated (beyond names, codes and words the \
languages share)`, () => {
    const same = (l: "sv" | "da") =>
      Object.keys(cats.en).filter((k) => cats[l][k] === cats.en[k] && !SHARED_WORDS.has(k));
    for (const l of ["sv", "da"] as const) expect(same(l), `${l}: untranslated`).to.deep.equal([]);
  });
});

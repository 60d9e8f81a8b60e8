import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../support/test-ca.js";
import { LANGUAGES } from "../../src/i18n/languages.js";
import { notificationWords } from "../../src/i18n/notification-words.js";
import { templateBody } from "../../src/shared/message-template.js";
import { orderReference } from "../../src/shared/order-reference.js";
import { applicantProgress } from "../../src/ra/applicant-access.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import { ORDER_STATES } from "../../src/policy/workflow.js";
import { buildEvidence } from "../../src/audit/evidence.js";

const ASSETS = join(REPO_ROOT, "src", "http", "portal-assets");
const portal = (l: string): Record<string, string> => JSON.parse(readFileSync(join(ASSETS, "locales", `${l}.json`), "utf8"));
const CATS = Object.fromEntries(LANGUAGES.map((l) => [l, portal(l)])) as Record<string, Record<string, string>>;
const src = (f: string) => readFileSync(join(REPO_ROOT, "src", f), "utf8");
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
const HEX_ID = /\b[0-9a-f]{32}\b/;
const workflows = [...loadWorkflows(join(REPO_ROOT, "policies", "workflows")).values()];

/** Words in every language of the pages' catalogues for `code`, with the placeholders `params` fill. */
function worded(code: string, params: Record<string, unknown> = {}) {
  for (const l of LANGUAGES) {
    const words = CATS[l]![code];
    expect(words, `${l}: no words for ${code}`).to.be.a("string");
    expect(placeholders(words!).filter((p) => params[p] === undefined), `${l} ${code}: placeholders the server does not fill`).to.deep.equal([]);
  }
}

describe("i18n: situations by code, notifications without ids", () => {
  it("ok/every status code the applicant, holder and activation answers carry has words in en, sv and da (the pages match no English sentence)", () => {
    const codes = new Set<string>();
    for (const f of ["ra/applicant-access.ts", "ra/holder-service.ts"])
      for (const m of src(f).matchAll(/"((?:progress|card\.status|activation\.status)\.[A-Za-z0-9_.-]+)"/g)) codes.add(m[1]!);
    expect(codes.size).to.be.greaterThan(25);
    for (const c of codes) worded(c, { n: 2, done: 1, day: "2026-12-01" });
    for (const page of ["applicant.js", "holder.js", "page-kit.js"]) expect(readFileSync(join(ASSETS, page), "utf8"), page).to.not.match(/SERVER_TEXTS|serverText/);
  });

  it("ok/each order state gives the applicant a coded situation with the params its words need; steps by code", () => {
    for (const w of workflows)
      for (const state of [...ORDER_STATES, "PRODUCING" as const]) {
        const p = applicantProgress(w, { id: "o".repeat(32), organisationId: "org", applicantPersonId: "p", state, identifications: [], purpose: "holder", profileId: "x", workflowId: w.id });
        worded(p.statusCode, p.statusParams);
        expect(p.status, `${w.id} ${state}`).to.not.match(/\{|progress\./);
        for (const s of p.steps) worded(s.code);
      }
  });

  it("ok/every evidence rule has a code with words, every story step its audit action", () => {
    const codes = [...src("audit/evidence.ts").matchAll(/add\(\["(rule\.[a-z-]+)"/g)].map((m) => m[1]!);
    expect(codes.length).to.be.greaterThan(15);
    for (const c of codes) worded(c, { n: 2 });
    const e = buildEvidence({
      certificate: { serial: "ab", profile: "p", issuerId: "i", subject: "CN=x", notBefore: 0, notAfter: 1, status: "good", requestedBy: "order:x" },
      order: { id: "o", organisationId: "org", applicantPersonId: "p", workflow: "w", loa: 3, state: "ACTIVE", termsVersion: "2026-01", createdAt: 0, identificationsRequired: 2, activationDeadlineDays: 30, purpose: "holder" },
      identifications: [], officers: new Map(),
      events: [{ seq: 1, id: "e", at: 0, actor: "applicant", action: "order.accept-terms", objectType: "order", objectId: "o", outcome: "success", policy: null, details: { terms: { version: "2026-01", language: "sv", sha256: "ab".repeat(32) } } }],
    });
    expect(e.story.map((s) => s.action)).to.deep.equal(["order.accept-terms"]);
    expect(e.story[0]!.detail).to.include(`terms version 2026-01 in sv, SHA-256 ${"ab".repeat(32)}`);
    expect(e.verdicts.find((v) => v.code === "rule.terms")).to.include({ result: "pass", detail: `terms version 2026-01 in sv, SHA-256 ${"ab".repeat(32)}` });
    expect(e.verdicts.find((v) => v.code === "rule.identifications")!.params).to.deep.equal({ n: 2 });
  });

  it("ok/the terms mail and the activation code name the organisation and what they are for, the order by its short reference; the id only in the link and the API clients' line", () => {
    const orderId = "3e2276f6".repeat(4);
    const ref = orderReference(orderId);
    const terms = { subject: "s", body: templateBody("terms-link", { orderId, termsVersion: "2026-01", token: "TOKEN234TOKEN234", link: `https://ra.example/applicant/#order=${orderId}&token=TOKEN234TOKEN234` }) };
    const code = { subject: "s", body: templateBody("activation-code", { orderId, code: "K7PQ2MZX9A" }) };
    const org = { organisation: "Kund AB" };
    for (const lang of LANGUAGES) {
      const t = notificationWords(lang, terms, org).body;
      expect(t, lang).to.include("Kund AB").and.include(ref).and.include("2026-01").and.not.match(/[{}]/);
      const prose = t.split("\n").filter((l) => !l.includes("https://") && !/API/.test(l));
      expect(prose.join("\n"), `${lang}: prose`).to.not.match(HEX_ID);
      expect(t.split("\n").filter((l) => HEX_ID.test(l)).length, `${lang}: the id in the link and the API line only`).to.equal(2);
      const a = notificationWords(lang, code, org).body;
      expect(a, lang).to.include("Kund AB").and.include("K7PQ2MZX9A").and.include(ref).and.not.match(HEX_ID).and.not.match(/[{}]/);
      // An organisation not known at send time: still a sentence, no placeholder.
      expect(notificationWords(lang, code).body, lang).to.include("K7PQ2MZX9A").and.not.match(/[{}]|none/);
      expect(notificationWords(lang, { subject: "s", body: templateBody("terms-link", { orderId, termsVersion: "2026-01", token: "TOKEN234TOKEN234" }) }).body, lang).to.include("TOKEN234TOKEN234").and.not.match(/[{}]|\bnone\b/);
    }
  });

  it("ok/an order's reference is short, stable, readable aloud and never the id", () => {
    const a = orderReference("a".repeat(32));
    expect(a).to.match(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(orderReference("a".repeat(32))).to.equal(a);
    expect(orderReference("b".repeat(32))).to.not.equal(a);
    const refs = new Set(Array.from({ length: 2000 }, (_, i) => orderReference(i.toString(16).padStart(32, "0"))));
    expect(refs.size).to.equal(2000);
  });
});

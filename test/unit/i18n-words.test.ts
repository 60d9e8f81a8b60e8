import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
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
const portal = (l: string): Record<string, string> =>
  JSON.parse(readFileSync(join(ASSETS, "locales", `${l}.json`), "utf8"));
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
    expect(
      placeholders(words!).filter((p) => params[p] === undefined),
      `${l} ${code}: placeholders the server does not fill`,
    ).to.deep.equal([]);
  }
}

describe("i18n: situations by code, notifications without ids", () => {
  it("ok/the pages' modules parse (a module that does not parse leaves its page blank)", () => {
    for (const f of readdirSync(ASSETS).filter((x) => x.endsWith(".js")))
      execFileSync(process.execPath, ["--check", join(ASSETS, f)], { stdio: "pipe" });
  });

  it(`ok/every status code the applicant, holder and activation answers carry has words in en, sv and da (the pages \
match no English sentence)`, () => {
    const codes = new Set<string>();
    for (const f of ["ra/applicant-access.ts", "ra/holder-service.ts"])
      for (const m of src(f).matchAll(/"((?:progress|card\.status|activation\.status)\.[A-Za-z0-9_.-]+)"/g))
        codes.add(m[1]!);
    expect(codes.size).to.be.greaterThan(25);
    for (const c of codes) worded(c, { n: 2, done: 1, day: "2026-12-01" });
    for (const page of ["applicant.js", "holder.js", "page-kit.js"])
      expect(readFileSync(join(ASSETS, page), "utf8"), page).to.not.match(/SERVER_TEXTS|serverText/);
  });

  it("ok/each order state gives the applicant a coded situation with the params its words need; steps by code", () => {
    for (const w of workflows)
      for (const state of [...ORDER_STATES, "PRODUCING" as const]) {
        const p = applicantProgress(w, {
          id: "o".repeat(32),
          organisationId: "org",
          applicantPersonId: "p",
          state,
          identifications: [],
          purpose: "holder",
          profileId: "x",
          workflowId: w.id,
        });
        worded(p.statusCode, p.statusParams);
        expect(p.status, `${w.id} ${state}`).to.not.match(/\{|progress\./);
        for (const s of p.steps) worded(s.code);
      }
  });

  it("ok/every evidence rule has a code with words, every story step its audit action", () => {
    const codes = [...src("audit/evidence.ts").matchAll(/add\(\s*\["(rule\.[a-z-]+)"/g)].map((m) => m[1]!);
    expect(codes.length).to.be.greaterThan(15);
    for (const c of codes) worded(c, { n: 2 });
    const e = buildEvidence({
      certificate: {
        serial: "ab",
        profile: "p",
        issuerId: "i",
        subject: "CN=x",
        notBefore: 0,
        notAfter: 1,
        status: "good",
        requestedBy: "order:x",
      },
      order: {
        id: "o",
        organisationId: "org",
        applicantPersonId: "p",
        workflow: "w",
        loa: 3,
        state: "ACTIVE",
        termsVersion: "2026-01",
        createdAt: 0,
        identificationsRequired: 2,
        activationDeadlineDays: 30,
        purpose: "holder",
      },
      identifications: [],
      officers: new Map(),
      events: [
        {
          seq: 1,
          id: "e",
          at: 0,
          actor: "applicant",
          action: "order.accept-terms",
          objectType: "order",
          objectId: "o",
          outcome: "success",
          policy: null,
          details: { terms: { version: "2026-01", language: "sv", sha256: "ab".repeat(32) } },
        },
      ],
    });
    expect(e.story.map((s) => s.action)).to.deep.equal(["order.accept-terms"]);
    expect(e.story[0]!.detail).to.include(`terms version 2026-01 in sv, SHA-256 ${"ab".repeat(32)}`);
    expect(e.verdicts.find((v) => v.code === "rule.terms")).to.include({
      result: "pass",
      detail: `terms version 2026-01 in sv, SHA-256 ${"ab".repeat(32)}`,
    });
    expect(e.verdicts.find((v) => v.code === "rule.identifications")!.params).to.deep.equal({ n: 2 });
  });

  it(`ok/every clause of an evidence detail has a code with words in en, sv and da, its placeholders filled by the \
clause's facts`, () => {
    const codes = new Set([...src("audit/evidence.ts").matchAll(/"(ev\.[a-z-]+)"/g)].map((m) => m[1]!));
    expect(codes.size).to.be.greaterThan(50);
    for (const c of codes) for (const l of LANGUAGES) expect(CATS[l]![c], `${l}: ${c}`).to.be.a("string");
    const at = Date.parse("2026-06-01T10:00:00Z");
    const o1 = "1".repeat(32),
      o2 = "2".repeat(32),
      o3 = "3".repeat(32);
    const ev = (
      seq: number,
      action: string,
      actor: string,
      details: Record<string, unknown> = {},
      outcome = "success",
    ) => ({
      seq,
      id: `e${seq}`,
      at: at + seq * 1000,
      actor,
      action,
      objectType: "order",
      objectId: "o",
      outcome,
      policy: null,
      details,
    });
    const e = buildEvidence({
      certificate: {
        serial: "ab12",
        profile: "p",
        issuerId: "i",
        subject: "CN=x",
        notBefore: at,
        notAfter: at + 1e10,
        status: "revoked",
        revocationReason: "keyCompromise",
        requestedBy: "order:o",
      },
      order: {
        id: "o",
        organisationId: "org",
        applicantPersonId: "p",
        workflow: "loa3-card-order",
        loa: 3,
        state: "EXPIRED",
        termsVersion: "2026-01",
        registerOk: true,
        registerStatus: "alive",
        registerSource: "file:/x",
        registerAt: at,
        createdAt: at,
        handedOutAt: at + 9000,
        identificationsRequired: 2,
        activationDeadlineDays: 30,
        purpose: "holder",
      },
      identifications: [
        {
          kind: "identify",
          officerId: o1,
          at: at + 3000,
          documentType: "passport",
          documentExpires: at + 1e10,
          faceCompared: true,
        },
        {
          kind: "identify",
          officerId: o1,
          at: at + 4000,
          documentType: "national-id-card",
          documentExpires: at + 1e10,
          faceCompared: false,
        },
        {
          kind: "hand-out",
          officerId: o2,
          at: at + 9000,
          documentType: "passport",
          documentExpires: at + 1e10,
          faceCompared: true,
        },
      ],
      actors: [
        { action: "identify", personId: o1, humanId: "h1".repeat(16), at: at + 3000 },
        { action: "identify", personId: o1, humanId: "h1".repeat(16), at: at + 4000 },
        { action: "approve", personId: o3, humanId: "h3".repeat(16), at: at + 5000 },
      ],
      separation: [
        ["identify", "identify"],
        ["identify", "approve"],
      ],
      officers: new Map([[o1, { personId: o1, roles: ["ra-officer"] }]]),
      events: [
        ev(1, "order.create", `officer:${o3}`, { register: { status: "alive" } }),
        ev(2, "order.accept-terms", "applicant", { workflow: "loa3-card-order@1" }),
        ev(3, "order.identify", `officer:${o1}`, { documentType: "passport" }, "failure"),
        ev(6, "order.start-production", `officer:${o3}`),
        ev(7, "order.produce", "operator:ed", {
          certificate: "ab12",
          spkiSha256: "ff".repeat(32),
          keyOrigin: { method: "card-station", cardSerial: "C0FFEE" },
        }),
        ev(8, "cert.hold", "system", { cause: "activation" }),
        ev(9, "card.personalise", "operator:ed", {
          verified: "certificate read back; on-card signature verified",
          cardSerial: "C0FFEE",
        }),
        ev(10, "cert.revoke", "system:expiry", { reason: "keyCompromise" }),
      ],
    });
    const parts = [...e.verdicts, ...e.story].flatMap((x) => x.parts);
    expect(parts.length).to.be.greaterThan(15);
    for (const p of parts)
      for (const l of LANGUAGES) {
        const words = CATS[l]![p.code];
        expect(words, `${l}: ${p.code}`).to.be.a("string");
        expect(
          placeholders(words!).filter((k) => (p.params as Record<string, unknown>)[k] === undefined),
          `${l} ${p.code}: placeholders without facts`,
        ).to.deep.equal([]);
      }
    // English detail and clauses agree clause by clause.
    for (const x of [...e.verdicts, ...e.story])
      expect(x.detail.split("; ").length, x.detail).to.be.at.least(x.parts.length);
  });

  it(`ok/the terms mail and the activation code name the organisation and what they are for, the order by its short \
reference; the id only in the link and the API clients' line`, () => {
    const orderId = "3e2276f6".repeat(4);
    const ref = orderReference(orderId);
    const terms = {
      subject: "s",
      body: templateBody("terms-link", {
        orderId,
        termsVersion: "2026-01",
        token: "TOKEN234TOKEN234",
        link: `https://ra.example/applicant/#order=${orderId}&token=TOKEN234TOKEN234`,
      }),
    };
    const code = { subject: "s", body: templateBody("activation-code", { orderId, code: "K7PQ2MZX9A" }) };
    const org = { organisation: "Kund AB" };
    for (const lang of LANGUAGES) {
      const t = notificationWords(lang, terms, org).body;
      expect(t, lang).to.include("Kund AB").and.include(ref).and.include("2026-01").and.not.match(/[{}]/);
      const prose = t.split("\n").filter((l) => !l.includes("https://") && !/API/.test(l));
      expect(prose.join("\n"), `${lang}: prose`).to.not.match(HEX_ID);
      expect(
        t.split("\n").filter((l) => HEX_ID.test(l)).length,
        `${lang}: the id in the link and the API line only`,
      ).to.equal(2);
      const a = notificationWords(lang, code, org).body;
      expect(a, lang)
        .to.include("Kund AB")
        .and.include("K7PQ2MZX9A")
        .and.include(ref)
        .and.not.match(HEX_ID)
        .and.not.match(/[{}]/);
      // An organisation not known at send time: still a sentence, no placeholder.
      expect(notificationWords(lang, code).body, lang)
        .to.include("K7PQ2MZX9A")
        .and.not.match(/[{}]|none/);
      expect(
        notificationWords(lang, {
          subject: "s",
          body: templateBody("terms-link", { orderId, termsVersion: "2026-01", token: "TOKEN234TOKEN234" }),
        }).body,
        lang,
      )
        .to.include("TOKEN234TOKEN234")
        .and.not.match(/[{}]|\bnone\b/);
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

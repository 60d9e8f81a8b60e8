import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTerms, loadTermsTranslations } from "../../src/policy/terms.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import { loadRevocationPolicy } from "../../src/policy/revocation-policy.js";
import { applicantProgress } from "../../src/ra/applicant-access.js";
import { RevocationDesk, type RevocationRequest, type RevocationRequestStore } from "../../src/ra/revocation-desk.js";
import type { DirectoryStore } from "../../src/ra/directory.js";
import type { Actor, OrderStore, OrderView } from "../../src/ra/order.js";
import type { CardCertificates, CertificateStatus } from "../../src/ra/ports.js";
import { FixedClock } from "../../src/shared/clock.js";
import { SeqRandom } from "../../src/shared/random.js";
import { refused } from "../support/refused.js";
import { REPO_ROOT } from "../support/test-ca.js";

const WF = loadWorkflows(join(REPO_ROOT, "policies", "workflows"));
const LOA3 = WF.get("loa3-card-order")!;
const NOW = new Date("2026-06-01T10:00:00Z");
const order = (state: OrderView["state"], extra: Partial<OrderView> = {}): OrderView & { workflowId: string } => ({
  id: "o".repeat(32),
  organisationId: "org1",
  applicantPersonId: "p1",
  state,
  identifications: [],
  purpose: "holder",
  profileId: "loa3-smartcard-auth",
  workflowId: LOA3.id,
  ...extra,
});

describe("ra/applicant and holder self-service (parts)", () => {
  it(`ok/the terms of the current version load from policies/terms; fail/a missing file, a head of another version, no \
head`, () => {
    const t = loadTerms(join(REPO_ROOT, "policies", "terms"), "2026-01");
    expect([t.id, t.version]).to.deep.equal(["terms-of-use", "2026-01"]);
    expect(t.text).to.match(/^# What you agree to/);
    const dir = mkdtempSync(join(tmpdir(), "terms-"));
    expect(() => loadTerms(dir, "2030-01")).to.throw(/missing.*REQ-06/);
    writeFileSync(join(dir, "2030-01.md"), '---\nid: terms-of-use\nversion: "2029-01"\ntitle: T\ncps: []\n---\ntext\n');
    expect(() => loadTerms(dir, "2030-01")).to.throw(/version 2029-01/);
    writeFileSync(join(dir, "2030-02.md"), "just text\n");
    expect(() => loadTerms(dir, "2030-02")).to.throw(/YAML head/);
    expect(() => loadTerms(dir, "../terms")).to.throw(/bad terms version/);
  });

  it(`ok/the terms in Swedish and Danish beside the English original, same id and CPS, each with its file's SHA-256; \
fail/a translation that names another language or other CPS sections`, () => {
    const all = loadTermsTranslations(join(REPO_ROOT, "policies", "terms"), "2026-01");
    expect([...all.keys()]).to.deep.equal(["en", "sv", "da"]);
    for (const [lang, t] of all) {
      expect([t.language, t.version, t.id], lang).to.deep.equal([lang, "2026-01", "terms-of-use"]);
      expect(t.sha256).to.match(/^[0-9a-f]{64}$/);
    }
    expect(new Set([...all.values()].map((t) => t.sha256)).size).to.equal(3);
    expect(all.get("sv")!.text).to.match(/^# Vad du godkänner/);
    expect(all.get("da")!.text).to.match(/^# Hvad du accepterer/);
    const dir = mkdtempSync(join(tmpdir(), "terms-"));
    const head = (extra: string) =>
      `---\nid: terms-of-use\nversion: "2030-01"\ntitle: T\ncps: ["CPS 9.9"]\n${extra}---\ntext\n`;
    writeFileSync(join(dir, "2030-01.md"), head(""));
    expect([...loadTermsTranslations(dir, "2030-01").keys()]).to.deep.equal(["en"]);
    writeFileSync(join(dir, "2030-01.sv.md"), head("language: da\n"));
    expect(() => loadTermsTranslations(dir, "2030-01")).to.throw(/language da, the file name sv/);
    writeFileSync(join(dir, "2030-01.sv.md"), head("language: sv\n").replace("CPS 9.9", "CPS 1.1"));
    expect(() => loadTermsTranslations(dir, "2030-01")).to.throw(/CPS sections differ/);
  });

  it(`ok/the applicant's progress in plain words: the current step, a missing second identification, a closed order; \
no ids or names`, () => {
    const p0 = applicantProgress(LOA3, order("REQUESTED"));
    expect([p0.steps[0], p0.canAcceptTerms, p0.canCancel, p0.closed]).to.deep.equal([
      { code: "progress.step.terms", label: "Accept the terms of use", state: "current" },
      true,
      true,
      false,
    ]);
    const ident = {
      officerId: "officer-a",
      at: NOW,
      document: { type: "passport", numberHash: "h", expires: NOW },
      faceCompared: true,
    };
    const p1 = applicantProgress(LOA3, order("IDENTIFIED", { identifications: [ident], termsVersion: "2026-01" }));
    expect([p1.status, p1.steps[1]!.state, p1.termsAccepted]).to.deep.equal([
      "You have been identified by 1 of 2 officers; one more identification in " +
        "person by a different officer is needed.",
      "current",
      "2026-01",
    ]);
    expect(JSON.stringify(p1)).to.not.include("officer-a");
    const p2 = applicantProgress(
      LOA3,
      order("IDENTIFIED", { identifications: [ident, { ...ident, officerId: "officer-b" }] }),
    );
    expect([p2.steps[2]!.state, p2.canCancel]).to.deep.equal(["current", true]);
    const closed = applicantProgress(LOA3, order("CANCELLED"));
    expect([closed.closed, closed.steps.length, closed.canCancel, closed.canAcceptTerms]).to.deep.equal([
      true,
      0,
      false,
      false,
    ]);
    expect(applicantProgress(LOA3, order("IN_PRODUCTION")).canCancel).to.equal(false);
  });

  it(`fail/a holder cannot resume a card that was never activated (REQ-16) nor someone else's; ok/a suspended active \
card of theirs`, async () => {
    const certs: Record<string, CertificateStatus["status"]> = { c1: "on-hold", c2: "on-hold", c3: "on-hold" };
    const byCert: Record<string, OrderView & { workflowId: string }> = {
      c1: order("HANDED_OUT", { certSerial: "c1" }),
      c2: order("ACTIVE", { certSerial: "c2" }),
      c3: order("ACTIVE", { certSerial: "c3", applicantPersonId: "p2" }),
    };
    const added: RevocationRequest[] = [];
    const requests = {
      countSince: async () => 0,
      add: async (r: RevocationRequest) => void added.push(r),
      alarm: async () => undefined,
    } as unknown as RevocationRequestStore;
    const desk = new RevocationDesk({
      requests,
      orders: { byCertificate: async (s: string) => byCert[s] } as unknown as OrderStore,
      directory: {} as DirectoryStore,
      certs: {
        status: async (s: string) => ({ serial: s, status: certs[s] }),
        resume: async (s: string) => void (certs[s] = "good"),
      } as unknown as CardCertificates,
      policy: loadRevocationPolicy(join(REPO_ROOT, "policies", "revocation", "revocation.yaml")),
      clock: new FixedClock(NOW),
      random: new SeqRandom(5),
    });
    const holder: Actor = { kind: "holder", personId: "p1", roles: [], credentialSerial: "c9", loa: 3 };
    const e = await refused(desk.holderResume(holder, "c1"));
    expect([e.kind, e.details?.requirement]).to.deep.equal(["policy-violation", "REQ-16"]);
    expect((await refused(desk.holderResume(holder, "c3"))).kind).to.equal("not-found");
    expect(
      (await refused(desk.holderResume({ kind: "officer", personId: "p1", roles: ["ra-officer"] }, "c2"))).kind,
    ).to.equal("forbidden");
    await desk.holderResume(holder, "c2");
    expect([certs.c1, certs.c2, certs.c3]).to.deep.equal(["on-hold", "good", "on-hold"]);
    expect(added.map((r) => [r.serial, r.reason, r.channel])).to.deep.equal([["c2", "resume", "holder"]]);
    expect((await refused(desk.holderResume(holder, "c2"))).kind, "no longer suspended").to.equal("conflict");
  });
});

import { expect } from "chai";
import { generateKeyPairSync, sign, verify, createHash } from "node:crypto";
import { GENESIS, chain, entryHash, type AuditEntry, type ChainedEntry } from "../../src/audit/audit-chain.js";
import { verifyChain } from "../../src/audit/chain-verifier.js";
import { checkpointBytes, type Checkpoint } from "../../src/audit/checkpoint.js";
import { buildEvidence, type EvidenceInput } from "../../src/audit/evidence.js";
import { buildReport, reportHtml } from "../../src/audit/report.js";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const spki = createHash("sha256")
  .update(publicKey.export({ type: "spki", format: "der" }))
  .digest("hex");
const checkpointOf = (e: ChainedEntry, entries: number): Checkpoint => {
  const u = {
    seq: e.seq,
    entryHash: e.entryHash,
    entries,
    at: 1_700_000_000_000 + e.seq,
    signer: "test/audit-1",
    signerSpkiSha256: spki,
  };
  return { ...u, signature: sign("sha256", checkpointBytes(u), privateKey).toString("base64") };
};
const verifySignature = (c: Checkpoint) => {
  const { signature, ...u } = c;
  return (
    c.signerSpkiSha256 === spki && verify("sha256", checkpointBytes(u), publicKey, Buffer.from(signature, "base64"))
  );
};
function entries(n: number): ChainedEntry[] {
  const raw: (AuditEntry & { seq: number })[] = Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    id: `e${i + 1}`,
    at: 1_700_000_000_000 + i,
    actor: `officer:p${i % 3}`,
    organisationId: "org1",
    action: "order.identify",
    objectType: "order",
    objectId: `o${i}`,
    outcome: "success",
    policy: "loa3-card-order@3",
    details: JSON.stringify({ documentType: "passport" }),
  }));
  return chain(GENESIS, raw);
}
async function* pagesOf(rows: readonly ChainedEntry[], size = 7) {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}
const run = (rows: readonly ChainedEntry[], cps: Checkpoint[], external?: Checkpoint) =>
  verifyChain({ pages: pagesOf(rows), checkpoints: cps, verifySignature, ...(external ? { external } : {}) });

describe("audit/hash chain and its verifier (REQ-27)", () => {
  const rows = entries(50);
  const cps = [checkpointOf(rows[19]!, 20), checkpointOf(rows[49]!, 50)];

  it("ok/an untouched chain verifies, with its checkpoints and the external one", async () => {
    const r = await run(rows, cps, cps[1]);
    expect([r.ok, r.entries, r.checkpointsVerified, r.head?.seq]).to.deep.equal([true, 50, 2, 50]);
  });

  it("fail/a changed byte names the changed entry", async () => {
    const t = rows.map((e) => (e.seq === 17 ? { ...e, details: e.details!.replace("passport", "passporT") } : e));
    const r = await run(t, cps, cps[1]);
    expect([r.ok, r.problem?.kind, r.problem?.seq]).to.deep.equal([false, "changed", 17]);
    expect(r.problem?.message).to.match(/seq 17 .*changed/);
  });

  it("fail/a deleted entry breaks the link of the next one", async () => {
    const r = await run(
      rows.filter((e) => e.seq !== 30),
      cps,
      cps[1],
    );
    expect([r.problem?.kind, r.problem?.seq]).to.deep.equal(["broken-link", 31]);
  });

  it("fail/two entries swapped (reordered) are detected at the first of them", async () => {
    const t = [...rows];
    [t[10], t[11]] = [
      { ...t[11]!, seq: 11 },
      { ...t[10]!, seq: 12 },
    ];
    const r = await run(t, cps, cps[1]);
    expect([r.problem?.kind, r.problem?.seq]).to.deep.equal(["broken-link", 11]);
  });

  it("fail/an inserted entry (even correctly hashed onto its predecessor) breaks the chain after it", async () => {
    const base = rows[24]!;
    const fake = { ...base, id: "forged", actor: "officer:mallory", prevHash: base.entryHash };
    const forged = { ...fake, entryHash: entryHash(base.entryHash, fake), seq: 25.5 };
    const t = [...rows.slice(0, 25), forged, ...rows.slice(25)];
    const r = await run(t, cps, cps[1]);
    expect([r.problem?.kind, r.problem?.seq]).to.deep.equal(["broken-link", 26]);
  });

  it("fail/a chain rewritten after a forged entry no longer matches the signed checkpoint", async () => {
    const t = chain(
      GENESIS,
      rows.map(({ prevHash: _p, entryHash: _h, ...e }) => (e.seq === 5 ? { ...e, actor: "officer:mallory" } : e)),
    );
    const r = await run(t, cps, cps[1]);
    expect([r.problem?.kind, r.problem?.seq]).to.deep.equal(["checkpoint", 20]);
  });

  it("fail/a cut tail: the database checkpoint covers entries that are gone", async () => {
    const r = await run(rows.slice(0, 45), cps);
    expect(r.problem?.kind).to.equal("truncated");
  });

  it(`fail/a database restored from an old backup (tail and its checkpoints gone): the external checkpoint is \
ahead`, async () => {
    const r = await run(rows.slice(0, 20), [cps[0]!], cps[1]);
    expect([r.ok, r.problem?.kind]).to.deep.equal([false, "rolled-back"]);
    expect(r.problem?.message).to.match(/ends at seq 20 .* covers up to seq 50/);
  });

  it("fail/a checkpoint not signed by the audit key", async () => {
    const forged = { ...cps[1]!, entries: 51 };
    expect((await run(rows, [cps[0]!, forged])).problem?.kind).to.equal("signature");
  });

  it("ok/after retention the chain starts at the anchor and still verifies", async () => {
    const r = await verifyChain({
      pages: pagesOf(rows.slice(20)),
      anchor: { seq: 20, entryHash: rows[19]!.entryHash },
      checkpoints: [cps[1]!],
      external: cps[1]!,
      verifySignature,
    });
    expect([r.ok, r.entries]).to.deep.equal([true, 30]);
  });
});

describe("audit/evidence (REQ-31)", () => {
  const HOUR = 3_600_000;
  const t0 = Date.parse("2026-06-01T08:00:00Z");
  const officers = new Map(
    ["o1", "o2", "o3"].map((id) => [id, { personId: id, roles: ["ra-officer"], qualifiedUntil: t0 + 100 * HOUR }]),
  );
  const base = (over: Partial<EvidenceInput> = {}): EvidenceInput => ({
    certificate: {
      serial: "0a",
      profile: "loa3-smartcard-auth@1",
      issuerId: "ca",
      subject: "CN=x",
      notBefore: t0,
      notAfter: t0 + 1e10,
      status: "issued",
      requestedBy: "officer:op",
    },
    order: {
      id: "ord",
      organisationId: "org",
      applicantPersonId: "holder",
      workflow: "loa3-card-order@3",
      loa: 3,
      state: "ACTIVE",
      termsVersion: "2026-01",
      registerOk: true,
      registerStatus: "alive",
      registerSource: "file:x",
      registerAt: t0,
      createdAt: t0,
      handedOutAt: t0 + 5 * HOUR,
      activatedAt: t0 + 6 * HOUR,
      identificationsRequired: 2,
      activationDeadlineDays: 30,
      purpose: "holder",
    },
    identifications: [
      {
        kind: "identify",
        officerId: "o1",
        at: t0 + HOUR,
        documentType: "passport",
        documentExpires: t0 + 1e10,
        faceCompared: true,
      },
      {
        kind: "identify",
        officerId: "o2",
        at: t0 + 2 * HOUR,
        documentType: "passport",
        documentExpires: t0 + 1e10,
        faceCompared: true,
      },
      {
        kind: "hand-out",
        officerId: "o3",
        at: t0 + 5 * HOUR,
        documentType: "national-id-card",
        documentExpires: t0 + 1e10,
        faceCompared: true,
      },
    ],
    officers,
    events: [
      {
        seq: 1,
        id: "a",
        at: t0 + 3 * HOUR,
        actor: "officer:o1",
        action: "order.start-production",
        objectType: "order",
        objectId: "ord",
        outcome: "success",
        policy: null,
        details: null,
      },
      {
        seq: 2,
        id: "b",
        at: t0 + 4 * HOUR,
        actor: "officer:op",
        action: "order.produce",
        objectType: "order",
        objectId: "ord",
        outcome: "success",
        policy: null,
        details: { certificate: "0a" },
      },
      {
        seq: 3,
        id: "c",
        at: t0 + 4 * HOUR,
        actor: "officer:op",
        action: "cert.hold",
        objectType: "certificate",
        objectId: "0a",
        outcome: "success",
        policy: null,
        details: { reason: "certificateHold", cause: "activation" },
      },
      {
        seq: 4,
        id: "d",
        at: t0 + 6 * HOUR,
        actor: "holder:holder",
        action: "order.activate",
        objectType: "order",
        objectId: "ord",
        outcome: "success",
        policy: null,
        details: {
          activation: {
            challengeSigned: true,
            transportPinReplaced: { at: new Date(t0 + 5.5 * HOUR).toISOString(), recordedBy: "officer:o3" },
          },
        },
      },
    ],
    ...over,
  });

  it("ok/a LoA3 card: three distinct officers, qualified, hand-out separated, activated in time → pass", () => {
    const e = buildEvidence(base());
    expect(e.verdict).to.equal("pass");
    expect(e.verdicts.find((v) => v.rule.startsWith("three distinct officers"))).to.include({
      result: "pass",
      detail: "3 distinct officer(s)",
    });
    expect(e.verdicts.map((v) => v.requirement)).to.include.members([
      "REQ-03",
      "REQ-04",
      "REQ-06",
      "REQ-07",
      "REQ-09",
      "REQ-25",
    ]);
    expect(e.story.map((s) => s.step)).to.deep.equal([
      "released to production",
      "certificate issued for the card's key",
      "certificate suspended",
      "card activated by the holder",
    ]);
    expect(e.verdicts.filter((v) => v.requirement === "REQ-16").map((v) => v.result)).to.deep.equal(["pass", "pass"]);
  });

  it(`fail/a card certificate issued without the activation hold, and a LoA3 activation without the card's signature \
and the station's PIN record, are REQ-16 findings`, () => {
    const e = buildEvidence(
      base({
        events: base()
          .events.filter((x) => x.action !== "cert.hold")
          .map((x) => (x.action === "order.activate" ? { ...x, details: {} } : x)),
      }),
    );
    expect(e.verdict).to.equal("fail");
    expect(e.verdicts.filter((v) => v.result === "fail").map((v) => v.rule)).to.deep.equal([
      "on hold from issuance until the holder's activation",
      "activated by the card after the transport PIN was replaced",
    ]);
  });

  it(`fail/an identifier who also hands out, and a qualification that had lapsed, are findings citing REQ and \
CPS`, () => {
    const e = buildEvidence(
      base({
        identifications: [
          ...base().identifications.slice(0, 2),
          {
            kind: "hand-out",
            officerId: "o2",
            at: t0 + 5 * HOUR,
            documentType: "passport",
            documentExpires: t0 + 1e10,
            faceCompared: true,
          },
        ],
        officers: new Map([...officers, ["o1", { personId: "o1", roles: ["ra-officer"], qualifiedUntil: t0 }]]),
      }),
    );
    expect(e.verdict).to.equal("fail");
    const failed = e.verdicts.filter((v) => v.result === "fail");
    expect(failed.map((v) => v.requirement)).to.include.members(["REQ-04", "REQ-25"]);
    expect(failed.every((v) => /^CPS /.test(v.cps))).to.equal(true);
  });

  const MATRIX = [
    ["identify", "identify"],
    ["identify", "approve"],
    ["approve", "hand-out"],
    ["produce", "hand-out"],
  ] as const;
  const step = (action: string, humanId: string, h: number) => ({
    action,
    personId: `p-${humanId}`,
    humanId,
    at: t0 + h * HOUR,
  });
  const steps = [
    step("request", "h1", 0),
    step("identify", "h1", 1),
    step("identify", "h2", 2),
    step("approve", "h3", 3),
    step("start-production", "h3", 3),
    step("produce", "h4", 4),
    step("hand-out", "h5", 5),
  ];

  it("ok/separation of duties: the workflow's matrix judged on who took which step, shown per pair (REQ-10)", () => {
    const e = buildEvidence(base({ separation: MATRIX, actors: steps }));
    expect(e.separation?.verdict).to.equal("pass");
    expect(e.separation?.pairs.map((p) => p.result)).to.deep.equal(["pass", "pass", "pass", "pass"]);
    expect(e.separation?.steps[1]).to.include({ action: "identify", human: "human:h1" });
    expect(e.verdicts.find((v) => v.requirement === "REQ-10" && v.rule.startsWith("separation"))).to.include({
      result: "pass",
      cps: "CPS 5.2.4",
    });
  });

  it(`fail/separation of duties: the same human (two person records) identified and approved; the same human \
identified twice (REQ-10)`, () => {
    const two = [
      ...steps.slice(0, 3),
      { ...step("approve", "h2", 3), personId: "p-h2-in-another-organisation" },
      ...steps.slice(4),
    ];
    const e = buildEvidence(base({ separation: MATRIX, actors: two }));
    expect([e.verdict, e.separation?.verdict]).to.deep.equal(["fail", "fail"]);
    expect(e.separation?.pairs.find((p) => p.pair[1] === "approve" && p.pair[0] === "identify")).to.include({
      result: "fail",
      detail: "human:h2 took both 'identify' and 'approve'",
    });
    const twice = buildEvidence(
      base({ separation: MATRIX, actors: [steps[0]!, steps[1]!, { ...steps[2]!, humanId: "h1" }] }),
    );
    expect(twice.separation?.pairs[0]).to.include({ result: "fail", detail: "human:h1 took 'identify' twice" });
    expect(buildEvidence(base({ separation: MATRIX, actors: [] })).separation?.verdict).to.equal("not-applicable");
  });

  it("ok/the report counts, lists the findings and renders as HTML with everything escaped", () => {
    const bad = buildEvidence(
      base({
        certificate: { ...base().certificate, serial: "0b" },
        identifications: base().identifications.slice(0, 1),
      }),
    );
    const r = buildReport({
      from: new Date(t0),
      to: new Date(t0 + 86_400_000),
      generatedAt: new Date(t0),
      chain: { ok: true, entries: 2, checkpointsVerified: 1 },
      evidence: [buildEvidence(base()), bad],
      revocations: [{ reason: "keyCompromise", n: 1 }],
      activity: [{ actor: "officer:<script>", action: "order.identify", outcome: "success", n: 2 }],
      crls: [],
      ceremonies: [],
      matrix: [{ req: "REQ-01", title: "t", status: "enforced", controls: [], tests: [] }],
      workflows: [{ workflow: "loa3-card-order@4", loa: 3, separation: [["identify", "approve"]] }],
    });
    expect([r.issued.total, r.verdict, r.violations.length > 0]).to.deep.equal([2, "findings", true]);
    expect(r.separation.workflows[0]!.separation).to.deep.equal([["identify", "approve"]]);
    const html = reportHtml(r);
    expect(html).to.include("Separation of duties (REQ-10)").and.include("[identify, approve]");
    expect(html).to.include("officer:&lt;script&gt;").and.not.include("<script>");
    expect(html).to.match(/^<!DOCTYPE html>/);
  });
});

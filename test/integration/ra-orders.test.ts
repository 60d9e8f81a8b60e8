import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "../../src/store/database.js";
import { KnexOrderStore } from "../../src/store/order.store.js";
import { OrderActions } from "../../src/ra/order-actions.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import type { Actor } from "../../src/ra/order.js";
import { FixedClock } from "../../src/shared/clock.js";
import { cryptoRandom } from "../../src/shared/random.js";
import { CaError } from "../../src/shared/ca-error.js";
import { REPO_ROOT } from "../support/test-ca.js";

/** Orders on a real SQLite database: the engine's decisions, compare-and-set writes, audit in the same transaction. */
describe("ra/order-actions on SQLite", function () {
  this.timeout(60_000);
  let db: Database;
  let store: KnexOrderStore;
  let actions: OrderActions;
  const clock = new FixedClock("2026-06-01T10:00:00Z");
  const officer = (id: string): Actor => ({ kind: "officer", personId: id, roles: ["ra-officer"], organisationId: "org1", qualifiedUntil: new Date("2027-01-01") });
  const doc = { type: "passport", numberHash: "k:abc", expires: new Date("2030-01-01") };

  before(async () => {
    db = await openDatabase(`sqlite:${join(mkdtempSync(join(tmpdir(), "ra-")), "ra.db")}`);
    await db("organisations").insert({ id: "org1", org_number: "5560000001", name: "Org AB", status: "active", created_at: 0, domain_validated_at: 0, registration_certificate: "doc-1" });
    await db("people").insert(["applicant", "o1", "o2", "o3", ...Array.from({ length: 50 }, (_, i) => `p${i}`)].map((id) => ({ id, organisation_id: "org1", national_id_hash: `h-${id}`, name: id, created_at: 0 })));
    store = new KnexOrderStore(db);
    actions = new OrderActions({ orders: store, workflows: loadWorkflows(join(REPO_ROOT, "policies", "workflows")), clock, random: cryptoRandom, currentTermsVersion: "2026-01" });
  });
  after(async () => db?.destroy());

  it("ok/a LoA3 order from request to hand-out; identifications and audit recorded (no national ID or document number in clear)", async () => {
    await store.create({ id: "ord-1", organisationId: "org1", applicantId: "applicant", workflowId: "loa3-card-order", workflowVersion: 1, at: clock.now(), registerOk: true });
    await actions.act("ord-1", "accept-terms", { kind: "applicant", personId: "applicant", roles: [] }, { termsVersion: "2026-01" });
    await actions.act("ord-1", "identify", officer("o1"), { document: doc, faceCompared: true });
    let err: unknown;
    await actions.act("ord-1", "identify", officer("o1"), { document: doc, faceCompared: true }).catch((e) => (err = e));
    expect((err as CaError).details?.guard).to.equal("distinct-identifiers");
    await actions.act("ord-1", "identify", officer("o2"), { document: doc, faceCompared: true });
    await actions.act("ord-1", "approve", officer("o2"), {});
    await actions.act("ord-1", "start-production", officer("o1"), {});
    await actions.act("ord-1", "produced", { kind: "system", roles: [] }, {});
    err = undefined;
    await actions.act("ord-1", "hand-out", officer("o1"), { secondIdentification: { document: doc, faceCompared: true } }).catch((e) => (err = e));
    expect((err as CaError).details?.guard).to.equal("not-an-identifier");
    const done = await actions.act("ord-1", "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
    expect(done.state).to.equal("HANDED_OUT");
    const audit = await db("audit_events").where({ object_type: "order", object_id: "ord-1" }).orderBy("seq");
    expect(audit.map((a: any) => a.action)).to.deep.equal(["order.accept-terms", "order.identify", "order.identify", "order.approve", "order.start-production", "order.produced", "order.hand-out"]);
    const ids = await db("order_identifications").where({ order_id: "ord-1" });
    expect(ids.map((i: any) => `${i.kind}:${i.officer_id}`)).to.deep.equal(["identify:o1", "identify:o2", "hand-out:o3"]);
    expect(JSON.stringify(audit)).to.not.include("abc\"");
  });

  it("ok/50 parallel approve calls by 50 officers: exactly one transition, 49 conflicts", async () => {
    await store.create({ id: "ord-2", organisationId: "org1", applicantId: "applicant", workflowId: "loa3-card-order", workflowVersion: 1, at: clock.now(), registerOk: true });
    await actions.act("ord-2", "accept-terms", { kind: "applicant", personId: "applicant", roles: [] }, { termsVersion: "2026-01" });
    await actions.act("ord-2", "identify", officer("o1"), { document: doc, faceCompared: true });
    await actions.act("ord-2", "identify", officer("o2"), { document: doc, faceCompared: true });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => actions.act("ord-2", "approve", officer(`p${i}`), {})));
    const ok = results.filter((r) => r.status === "fulfilled");
    const conflicts = results.filter((r) => r.status === "rejected" && ((r as PromiseRejectedResult).reason as CaError).kind === "conflict");
    expect(ok).to.have.length(1);
    expect(conflicts).to.have.length(49);
    const row = await db("orders").where({ id: "ord-2" }).first();
    expect(row.state).to.equal("APPROVED");
    expect(Number(row.version)).to.equal(4);
    expect(await db("audit_events").where({ object_id: "ord-2", action: "order.approve" })).to.have.length(1);
  });

  it("fail/an unknown order is not-found; an order of an unknown workflow is a config error", async () => {
    let err: unknown;
    await actions.act("nope", "approve", officer("o1"), {}).catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("not-found");
    await store.create({ id: "ord-3", organisationId: "org1", applicantId: "applicant", workflowId: "gone-workflow", workflowVersion: 1, at: clock.now() });
    err = undefined;
    await actions.act("ord-3", "accept-terms", { kind: "applicant", roles: [] }, {}).catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("config");
  });
});

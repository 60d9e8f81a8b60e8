import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { openDatabase, type Database } from "../../src/store/database.js";
import { KnexOrderStore } from "../../src/store/order.store.js";
import { KnexDirectoryStore } from "../../src/store/directory.store.js";
import { KnexOutboxStore } from "../../src/store/outbox.store.js";
import { FieldCipher } from "../../src/store/field-cipher.js";
import { KnexCertStore } from "../../src/store/cert.store.js";
import { KnexRevocationStore } from "../../src/store/revocation.store.js";
import { CertificateIssuer } from "../../src/ca/certificate-issuer.js";
import { RevocationRegistry } from "../../src/ca/revocation-registry.js";
import { loadRevocationPolicy } from "../../src/policy/revocation-policy.js";
import { OrderService } from "../../src/ra/order-service.js";
import { ExpiryScheduler } from "../../src/ra/expiry-scheduler.js";
import { Onboarding } from "../../src/ra/onboarding.js";
import { RevocationDesk } from "../../src/ra/revocation-desk.js";
import { KnexRevocationRequestStore } from "../../src/store/revocation-request.store.js";
import { KnexRoleGrantStore } from "../../src/store/role-grant.store.js";
import { RoleGrants } from "../../src/ra/role-grants.js";
import { loadRolesPolicy } from "../../src/policy/roles-policy.js";
import type { CardCertificates } from "../../src/ra/ports.js";
import { KeyedHasher } from "../../src/ra/national-id.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import type { Actor } from "../../src/ra/order.js";
import type { PopulationRegister } from "../../src/ra/ports.js";
import { cardCertificates } from "../../src/composition/card-certificates.js";
import { fileDocumentRegister } from "../../src/composition/file-register.js";
import { FixedClock } from "../../src/shared/clock.js";
import { cryptoRandom } from "../../src/shared/random.js";
import { CaError } from "../../src/shared/ca-error.js";
import { sha256Hex } from "../../src/shared/digest.js";
import { PROFILES, REPO_ROOT, softwareAuthority } from "../support/test-ca.js";
import { testKey } from "../support/keys.js";
import { refused } from "../support/refused.js";
import { testDatabases } from "../support/databases.js";


/** The order service on real SQLite and PostgreSQL databases with the real CA pipeline (software CA key): CAS writes, audit, expiry. */
for (const backend of testDatabases())
describe(`ra/order-service on ${backend.name}`, function () {
  this.timeout(60_000);
  let db: Database;
  let orders: KnexOrderStore;
  let service: OrderService;
  let expiry: ExpiryScheduler;
  let certStore: KnexCertStore;
  let directory: KnexDirectoryStore;
  let certs: CardCertificates;
  let policy: ReturnType<typeof loadRevocationPolicy>;
  const clock = new FixedClock("2026-06-01T10:00:00Z");
  const hasher = new KeyedHasher(randomBytes(32));
  const register: PopulationRegister = { source: "test", lookup: async (id) => ({ status: id === "196004044567" ? "deceased" : "alive", name: { fullName: `Person ${id.slice(-4)}`, givenName: "Person", surname: id.slice(-4) } }) };
  const officer = (id: string): Actor => ({ kind: "officer", personId: id, humanId: `human-${id}`, roles: ["ra-officer"], organisationId: "org1", qualifiedUntil: new Date("2027-01-01") });
  const caOp: Actor = { kind: "officer", personId: "op", humanId: "human-op", roles: ["ca-operator"], organisationId: "so", serviceOwnerStaff: true };
  /** REQ-10: the LoA3 matrix wants an approver (who also releases) other than the identifiers o1, o2 and the hand-out officer o3. */
  const approver = officer("p49");
  const doc = { type: "passport", number: "AB123456", expires: new Date("2030-01-01") };
  // REQ-29: the stores seal names and outbox messages; here under a software data key (the HSM-wrapped one is tested in personal-data.test.ts).
  const cipher = new FieldCipher([{ id: "dk1", key: randomBytes(32) }], "dk1", cryptoRandom);
  let outbox: KnexOutboxStore;

  before(async () => {
    db = await openDatabase(await backend.url());
    await db("organisations").insert({ id: "org1", org_number: "5560000001", name: "Org AB", country: "SE", status: "active", created_at: 0, domain_validated_at: 0, registration_certificate: "doc-1" });
    const people = ["applicant", "gone", "o1", "o2", "o3", ...Array.from({ length: 50 }, (_, i) => `p${i}`)];
    await db("people").insert(people.map((id) => ({ id, organisation_id: "org1", national_id_hash: hasher.hash("national-id", id === "gone" ? "196004044567" : id === "applicant" ? "197003033456" : `1990${String(people.indexOf(id)).padStart(8, "0")}`), name: id, created_at: 0 })));
    orders = new KnexOrderStore(db, db, cipher);
    outbox = new KnexOutboxStore(db, cipher);
    certStore = new KnexCertStore(db);
    directory = new KnexDirectoryStore(db, db, cipher);
    policy = loadRevocationPolicy(join(REPO_ROOT, "policies", "revocation", "revocation.yaml"));
    const registry = new RevocationRegistry({ certs: certStore, revocations: new KnexRevocationStore(db), policy, clock, random: cryptoRandom });
    const ca = softwareAuthority();
    certs = cardCertificates({ issuer: new CertificateIssuer({ profiles: PROFILES, store: certStore, clock, random: cryptoRandom }), registry, store: certStore }, () => ca);
    const workflows = loadWorkflows(join(REPO_ROOT, "policies", "workflows"));
    service = new OrderService({ orders, directory, workflows, certs, register, hasher, clock, random: cryptoRandom, currentTermsVersion: "2026-01" });
    expiry = new ExpiryScheduler({ orders, service, certs, workflows, clock });
  });
  after(async () => db?.destroy());

  /** The applicant's token, read from the outbox as the applicant would read their email. */
  const tokenOf = async (orderId: string) => /token: ([A-Z0-9]+)/.exec((await outbox.recent({ limit: 1000 })).find((n) => n.body.includes(orderId))!.body)![1]!;

  async function toApproved(workflowId = "loa3-card-order") {
    const o = await service.create(officer("o1"), { personId: "applicant", workflowId, nationalId: "197003033456" });
    await service.act(o.id, "accept-terms", { kind: "applicant", roles: [] }, { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true });
    await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
    if (workflowId === "loa3-card-order") await service.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
    await service.act(o.id, "approve", workflowId === "loa3-card-order" ? approver : officer("o2"), {});
    return o.id;
  }

  it("ok/a LoA3 order to hand-out; certificate for the card's key; identifications and audit recorded without document or national ID numbers in clear", async () => {
    const id = await toApproved();
    // What an action returns is the order as stored (built from the change, not read back).
    const started = await service.act(id, "start-production", approver, {});
    expect(started).to.deep.equal(await orders.load(id));
    const produced = await service.act(id, "produce", caOp, { publicKey: testKey("P-256").spki });
    expect(produced).to.deep.equal(await orders.load(id));
    expect(produced.state).to.equal("PRODUCED");
    expect((await certStore.get(produced.certSerial!))!.profileId).to.equal("loa3-smartcard-auth");
    expect((await refused(service.act(id, "hand-out", officer("o1"), { secondIdentification: { document: doc, faceCompared: true } }))).details?.guard).to.equal("not-an-identifier");
    const handed = await service.act(id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
    expect(handed.state).to.equal("HANDED_OUT");
    expect(handed).to.deep.equal(await orders.load(id));
    expect(handed.identifications.map((i) => i.officerId)).to.deep.equal(["o1", "o2"]);
    const audit = await db("audit_events").where({ object_type: "order", object_id: id }).orderBy("seq");
    expect(audit.map((a: any) => a.action)).to.deep.equal(["order.create", "order.accept-terms", "order.identify", "order.identify", "order.approve", "order.start-production", "order.produce", "order.hand-out"]);
    const ids = await db("order_identifications").where({ order_id: id });
    expect(ids.map((i: any) => `${i.kind}:${i.officer_id}`)).to.deep.equal(["identify:o1", "identify:o2", "hand-out:o3"]);
    const everything = JSON.stringify([audit, ids, await db("orders").where({ id })]);
    expect(everything).to.not.include("AB123456");
    expect(everything).to.not.include("197003033456");
  });

  it("ok/50 parallel approve calls by 50 officers: exactly one transition, 49 conflicts", async () => {
    const o = await service.create(officer("o1"), { personId: "applicant", workflowId: "loa3-card-order", nationalId: "197003033456" });
    await service.act(o.id, "accept-terms", { kind: "applicant", roles: [] }, { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true });
    await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
    await service.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => service.act(o.id, "approve", officer(`p${i}`), {})));
    expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
    expect(results.filter((r) => r.status === "rejected" && ((r as PromiseRejectedResult).reason as CaError).kind === "conflict")).to.have.length(49);
    const row = await db("orders").where({ id: o.id }).first();
    expect(row.state).to.equal("APPROVED");
    expect(Number(row.version)).to.equal(4);
    expect(await db("audit_events").where({ object_id: o.id, action: "order.approve" })).to.have.length(1);
  });

  it("fail/the register says deceased: no order, the refusal names REQ-07", async () => {
    const e = await refused(service.create(officer("o1"), { personId: "gone", workflowId: "loa3-card-order", nationalId: "196004044567" }));
    expect(e.kind).to.equal("policy-violation");
    expect(e.message).to.match(/deceased.*REQ-07/);
    expect(await db("orders").where({ applicant_id: "gone" })).to.have.length(0);
  });

  it("fail/a national ID that is not the person's; an officer ordering for themself", async () => {
    expect((await refused(service.create(officer("o1"), { personId: "applicant", workflowId: "loa3-card-order", nationalId: "199999999999" }))).message).to.match(/does not match/);
    expect((await refused(service.create(officer("o1"), { personId: "o1", workflowId: "loa3-card-order", nationalId: "199000000002" }))).message).to.match(/themself/);
  });

  it("ok/LoA2 by mail: the activation code goes to the outbox, not to the officer; activation needs the card and the right code", async () => {
    const id = await toApproved("loa2-card-order");
    await service.act(id, "start-production", approver, {});
    const produced = await service.act(id, "produce", caOp, { publicKey: testKey("P-256").spki });
    const handed = await service.act(id, "send-by-mail", officer("o3"), { cardChannel: "mail", activationCodeChannel: "sms" });
    expect(JSON.stringify(handed)).to.not.match(/Activation code/);
    const note = (await outbox.recent({ limit: 1000 })).find((n) => n.body.startsWith(`Activation code for order ${id}`))!;
    // REQ-29: the code is sealed in the row; only the outbox store opens it.
    expect((await db("notifications").where({ id: note.id }).first()).body).to.match(/^enc:v1:dk1:/).and.not.include(note.body.slice(-10));
    expect(note.channel).to.equal("sms");
    const code = /: ([A-Z0-9]+)$/.exec(note.body)![1]!;
    const holder: Actor = { kind: "holder", personId: "applicant", roles: [], credentialSerial: produced.certSerial!, loa: 2 };
    expect((await refused(service.act(id, "activate", holder, { activationCode: "WRONGCODE1" }))).details?.guard).to.equal("activation-code-correct");
    expect((await service.act(id, "activate", holder, { activationCode: code })).state).to.equal("ACTIVE");
    expect((await db("orders").where({ id }).first()).activation_code_hash).to.equal(sha256Hex(code));
  });

  it("ok/expiry: a card not activated within the deadline is revoked (REQ-15); a crash between expiry and revocation is repaired", async () => {
    const id = await toApproved();
    await service.act(id, "start-production", approver, {});
    const { certSerial } = await service.act(id, "produce", caOp, { publicKey: testKey("P-256").spki });
    await service.act(id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
    expect((await expiry.sweep()).expired).to.not.include(id); // not due yet
    clock.advance(31 * 86_400_000);
    try {
      const r = await expiry.sweep();
      expect(r.expired).to.include(id);
      expect((await db("orders").where({ id }).first()).state).to.equal("EXPIRED");
      const cert = await certStore.get(certSerial!);
      expect(cert!.revocationReason).to.equal("cessationOfOperation");
      // Simulate a crash after the state change: the certificate is live again in the table; the next sweep repairs it.
      await db("certificates").where({ serial: certSerial }).update({ revoked_at: null, revocation_reason: null });
      expect((await expiry.sweep()).repaired).to.include(id);
      expect((await certStore.get(certSerial!))!.revocationReason).to.equal("cessationOfOperation");
    } finally {
      clock.advance(-31 * 86_400_000);
    }
  });

  it("ok/two changes of one order in the same commit: the second is decided after the first, as in sequence", async () => {
    const o = await service.create(officer("o1"), { personId: "applicant", workflowId: "loa3-card-order", nationalId: "197003033456" });
    const at = clock.now();
    const audit = (n: string) => ({ id: `${o.id}-${n}`, at, actor: "test", action: "order.test", objectType: "order", objectId: o.id, outcome: "success" as const });
    // Same tick: all three share one transaction. v0→v1 wins, a second v0 loses, v1→v2 then wins.
    const results = await Promise.all([
      orders.apply({ orderId: o.id, expectedVersion: 0, to: "TERMS_ACCEPTED", at, termsVersion: "2026-01" }, audit("a")),
      orders.apply({ orderId: o.id, expectedVersion: 0, to: "CANCELLED", at }, audit("b")),
      orders.apply({ orderId: o.id, expectedVersion: 1, to: "IDENTIFIED", at, identification: { kind: "identify", officerId: "o2", at, document: { type: "passport", numberHash: "h", expires: new Date("2030-01-01") }, faceCompared: true } }, audit("c")),
    ]);
    expect(results).to.deep.equal([true, false, true]);
    const stored = (await orders.load(o.id))!;
    expect([stored.state, stored.version, stored.termsVersion, stored.identifications.length]).to.deep.equal(["IDENTIFIED", 2, "2026-01", 1]);
    expect((await db("audit_events").where({ object_id: o.id, action: "order.test" }).orderBy("seq")).map((a: any) => a.id)).to.deep.equal([`${o.id}-a`, `${o.id}-c`]);
  });

  /** Runs a LoA3 order of `personId` to hand-out and returns the card's serial. */
  async function cardOf(personId: string, nationalId: string): Promise<string> {
    const o = await service.create(officer("o1"), { personId, workflowId: "loa3-card-order", nationalId });
    await service.act(o.id, "accept-terms", { kind: "applicant", roles: [] }, { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true });
    await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
    await service.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
    await service.act(o.id, "approve", approver, {});
    await service.act(o.id, "start-production", approver, {});
    const { certSerial } = await service.act(o.id, "produce", caOp, { publicKey: testKey("P-256").spki });
    await service.act(o.id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
    return certSerial!;
  }
  const nationalIdOf = (i: number) => `1990${String(i + 5).padStart(8, "0")}`; // people p<i> (see before())

  it("ok/unbinding a person revokes their cards, a suspended one too (REQ-21)", async () => {
    const live = await cardOf("p10", nationalIdOf(10));
    const held = await cardOf("p10", nationalIdOf(10));
    await certs.suspend(held, "test");
    const admin: Actor = { kind: "officer", personId: "o3", roles: ["ra-admin"], organisationId: "org1" };
    const desk = new RevocationDesk({ requests: new KnexRevocationRequestStore(db), orders, directory, certs, policy, clock, random: cryptoRandom });
    const grants = new RoleGrants({ directory, grants: new KnexRoleGrantStore(db), policy: loadRolesPolicy(join(REPO_ROOT, "policies", "roles.yaml")), clock, random: cryptoRandom });
    const onboarding = new Onboarding({ directory, hasher, clock, random: cryptoRandom, desk, grants });
    const r = await onboarding.unbindPerson(admin, "p10");
    expect(r).to.have.property("revoked");
    const { revoked } = r as { revoked: string[] };
    expect([...revoked].sort()).to.deep.equal([live, held].sort());
    for (const s of [live, held]) expect((await certStore.get(s))!.revocationReason).to.equal("affiliationChanged");
  });

  it("ok/expiry repair also revokes a card left on hold after its order expired (REQ-15)", async () => {
    const id = await toApproved();
    await service.act(id, "start-production", approver, {});
    const { certSerial } = await service.act(id, "produce", caOp, { publicKey: testKey("P-256").spki });
    await service.act(id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
    clock.advance(31 * 86_400_000);
    try {
      expect((await expiry.sweep()).expired).to.include(id);
      // A crash left the card suspended rather than revoked: the next sweep finishes the job.
      await db("certificates").where({ serial: certSerial }).update({ revocation_reason: "certificateHold" });
      expect((await expiry.sweep()).repaired).to.include(id);
      expect((await certStore.get(certSerial!))!.revocationReason).to.equal("cessationOfOperation");
    } finally {
      clock.advance(-31 * 86_400_000);
    }
  });

  it("ok/mass revocation: beyond the hourly threshold an officer's request waits for a second, different officer of the organisation (REQ-18)", async () => {
    const desk = new RevocationDesk({ requests: new KnexRevocationRequestStore(db), orders, directory, certs, policy: { ...policy, requests: { ...policy.requests, officerPerHour: 2 } }, clock, random: cryptoRandom });
    const cards = [];
    for (let i = 20; i < 24; i++) cards.push(await cardOf(`p${i}`, nationalIdOf(i)));
    const [c1, c2, c3, c4] = cards as [string, string, string, string];
    const first = officer("o1");
    expect((await desk.officerRequest(first, c1, "keyCompromise")).status).to.equal("done");
    expect((await desk.officerRequest(first, c2, "keyCompromise")).status).to.equal("done");
    const held = await desk.officerRequest(first, c3, "keyCompromise");
    expect(held.status).to.equal("pending");
    expect((await certStore.get(c3))!.revocationReason).to.equal(undefined);
    expect(await db("audit_events").where({ action: "revocation.alarm.mass", object_id: c3 })).to.have.length(1);
    // The same officer cannot approve their own request; an officer of another organisation cannot see it.
    expect((await refused(desk.decide(first, held.id, true))).message).to.match(/second, different officer.*REQ-18/);
    expect((await refused(desk.decide({ ...officer("x"), organisationId: "org2" }, held.id, true))).kind).to.equal("forbidden");
    const approved = await desk.decide(officer("o2"), held.id, true);
    expect([approved.status, approved.decidedBy]).to.deep.equal(["approved", "o2"]);
    expect((await certStore.get(c3))!.revocationReason).to.equal("keyCompromise");
    expect((await refused(desk.decide(officer("o3"), held.id, true))).kind).to.equal("conflict");
    // Refused: the card stays good.
    const next = await desk.officerRequest(first, c4, "unspecified");
    expect(next.status).to.equal("pending");
    expect((await desk.decide(officer("o2"), next.id, false)).status).to.equal("refused");
    expect((await certStore.get(c4))!.revocationReason).to.equal(undefined);
  });

  it("fail/REQ-05: a document the lost/stolen register lists is refused at identification and at hand-out; a register that does not answer stops the action", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "docreg-")), "documents.json");
    writeFileSync(file, JSON.stringify({ documents: [{ type: "passport", number: "ST0LEN1", reason: "stolen" }, { type: "national-id-card", number: "L0ST2", reason: "lost" }] }));
    const checked = new OrderService({ orders, directory, workflows: loadWorkflows(join(REPO_ROOT, "policies", "workflows")), certs, register, hasher, clock, random: cryptoRandom, currentTermsVersion: "2026-01", documents: fileDocumentRegister(file) });
    const o = await checked.create(officer("o1"), { personId: "applicant", workflowId: "loa3-card-order", nationalId: "197003033456" });
    await checked.act(o.id, "accept-terms", { kind: "applicant", roles: [] }, { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true });
    const e = await refused(checked.act(o.id, "identify", officer("o1"), { document: { ...doc, number: "st0len-1" }, faceCompared: true }));
    expect([e.kind, e.details?.guard, e.details?.requirement]).to.deep.equal(["policy-violation", "document-not-reported", "REQ-05"]);
    expect((await orders.load(o.id))!.version).to.equal(1); // nothing written
    await checked.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
    await checked.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
    const audit = await db("audit_events").where({ object_id: o.id, action: "order.identify" }).first();
    expect(JSON.parse(audit.details).documentRegister).to.equal(`file:${file}`);
    await checked.act(o.id, "approve", approver, {});
    await checked.act(o.id, "start-production", approver, {});
    await checked.act(o.id, "produce", caOp, { publicKey: testKey("P-256").spki });
    const atHandOut = await refused(checked.act(o.id, "hand-out", officer("o3"), { secondIdentification: { document: { type: "national-id-card", number: "L0ST2", expires: doc.expires }, faceCompared: true } }));
    expect(atHandOut.message).to.match(/hand-out identity document is reported lost/);
    rmSync(file);
    expect((await refused(checked.act(o.id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } }))).kind).to.equal("unavailable");
    expect((await orders.load(o.id))!.state).to.equal("PRODUCED");
  });

  it("ok/REQ-08: a workflow with control questions identifies only when the right answers weigh enough; the audit names which, not the answers", async () => {
    const o = await service.create(officer("o1"), { personId: "applicant", workflowId: "loa2-card-order-kba", nationalId: "197003033456" });
    await service.act(o.id, "accept-terms", { kind: "applicant", roles: [] }, { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true });
    expect((await refused(service.act(o.id, "identify", officer("o1"), { document: doc, knowledgeAnswers: { "birth-place": true, "previous-employer": false } }))).details?.guard).to.equal("knowledge-score");
    expect((await service.act(o.id, "identify", officer("o1"), { document: doc, knowledgeAnswers: { "postal-address": true, "previous-employer": true } })).state).to.equal("IDENTIFIED");
    const audit = await db("audit_events").where({ object_id: o.id, action: "order.identify" }).first();
    expect(JSON.parse(audit.details).knowledgeAnsweredRight).to.deep.equal(["postal-address", "previous-employer"]);
  });
});

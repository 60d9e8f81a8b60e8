import { expect } from "chai";
import { orderReference } from "../../src/shared/order-reference.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { openDatabase, type Database } from "../../src/store/database.js";
import { KnexOrderStore } from "../../src/store/order.store.js";
import { KnexDirectoryStore } from "../../src/store/directory.store.js";
import { KnexDeliveryStore } from "../../src/store/delivery.store.js";
import { DeliveryWorker } from "../../src/delivery/delivery-worker.js";
import { smtpChannel } from "../../src/delivery/smtp-channel.js";
import { smsGatewayChannel } from "../../src/delivery/sms-gateway-channel.js";
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
import { KnexLinkedWrites } from "../../src/store/linked-writes.js";
import { KnexActivationStore } from "../../src/store/activation.store.js";
import { ActivationDesk } from "../../src/ra/activation.js";
import { fileDocumentRegister } from "../../src/composition/file-register.js";
import { FixedClock } from "../../src/shared/clock.js";
import type { Authority } from "../../src/ca/authority.js";
import { ProductionSaga } from "../../src/ra/production-saga.js";
import { cryptoRandom } from "../../src/shared/random.js";
import { CaError } from "../../src/shared/ca-error.js";
import { sha256Hex } from "../../src/shared/digest.js";
import { PROFILES, REPO_ROOT, softwareAuthority } from "../support/test-ca.js";
import { testKey } from "../support/keys.js";
import { refused } from "../support/refused.js";
import { activateWithSoftwareKey } from "../support/activation.js";
import { testDatabases } from "../support/databases.js";
import { keyAttestationVerifier } from "../../src/composition/key-attestation.js";
import type { KeyOriginDeps } from "../../src/ra/key-origin.js";
import type { ProductionCard } from "../../src/ra/ports.js";
import { createMakerRoot, softwareAttestation } from "../support/piv-attestation-maker.js";
import { fixtureMakerRoot, installAttestationRoot } from "../support/attestation-fixture.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";

/**
 * The order service on real SQLite and PostgreSQL databases with the real CA pipeline (software CA key): CAS writes,
 * audit, expiry.
 */
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
    let activation: ActivationDesk;
    let ca: Authority;
    let registryOf: RevocationRegistry;
    let policy: ReturnType<typeof loadRevocationPolicy>;
    const clock = new FixedClock("2026-06-01T10:00:00Z");
    const hasher = new KeyedHasher(randomBytes(32));
    const register: PopulationRegister = {
      source: "test",
      lookup: async (id) => ({
        status: id === "196004044567" ? "deceased" : "alive",
        name: { fullName: `Person ${id.slice(-4)}`, givenName: "Person", surname: id.slice(-4) },
      }),
    };
    const officer = (id: string): Actor => ({
      kind: "officer",
      personId: id,
      humanId: `human-${id}`,
      roles: ["ra-officer"],
      organisationId: "org1",
      qualifiedUntil: new Date("2027-01-01"),
    });
    const caOp: Actor = {
      kind: "officer",
      personId: "op",
      humanId: "human-op",
      roles: ["ca-operator"],
      organisationId: "so",
      serviceOwnerStaff: true,
    };
    /**
     * REQ-10: the LoA3 matrix wants an approver (who also releases) other than the identifiers o1, o2 and the hand-out
     * officer o3.
     */
    const approver = officer("p49");
    const doc = { type: "passport", number: "AB123456", expires: new Date("2030-01-01") };
    // REQ-29: the stores seal names and outbox messages; here under a software data key (the HSM-wrapped one is tested
    // in personal-data.test.ts).
    const cipher = new FieldCipher([{ id: "dk1", key: randomBytes(32) }], "dk1", cryptoRandom);
    // REQ-15: the outbox drained by the real delivery worker, in rounds run by the test, to a real SMTP server and SMS
    // stub.
    let peers: DeliveryPeers;
    let worker: DeliveryWorker;
    /** This test's address book: every person has an e-mail address and a phone number (the people rows carry none). */
    const addressOf = (personId: string, channel: string) =>
      channel === "email"
        ? `${personId}@orders.test`
        : channel === "sms"
          ? `+4670${String(parseInt(sha256Hex(personId).slice(0, 8), 16) % 10_000_000).padStart(7, "0")}`
          : undefined;
    // REQ-14: the card station's record of the card per order, and the maker roots in a CA store of this test.
    const cardsOfOrders = new Map<string, ProductionCard>();
    const caStore = mkdtempSync(join(tmpdir(), "ra-orders-ca-"));
    installAttestationRoot(caStore, fixtureMakerRoot().certDer, "software-test-maker");
    const keyOrigins: KeyOriginDeps = {
      verifier: keyAttestationVerifier(caStore),
      cards: { cardForOrder: async (id) => cardsOfOrders.get(id) },
    };
    let nextCard = 30_000_000;
    /** What the card station does before production: record the card; then the card's attestation of its key. */
    const attested = (
      orderId: string,
      o: { maker?: ReturnType<typeof createMakerRoot>; pinPolicy?: "never" | "once"; privateKey?: KeyObject } = {},
    ) => {
      const serial = nextCard++;
      cardsOfOrders.set(orderId, { cardSerial: String(serial), state: "personalising", managementKeyRecorded: true });
      const a = softwareAttestation(o.maker ?? fixtureMakerRoot(), {
        cardSerial: serial,
        ...(o.pinPolicy ? { pinPolicy: o.pinPolicy } : {}),
        ...(o.privateKey ? { privateKey: o.privateKey } : {}),
      });
      return { attestation: { certificate: a.certificate, intermediate: a.intermediate }, publicKey: a.spki };
    };

    before(async () => {
      db = await openDatabase(await backend.url());
      await db("organisations").insert({
        id: "org1",
        org_number: "5560000001",
        name: "Org AB",
        country: "SE",
        status: "active",
        created_at: 0,
        domain_validated_at: 0,
        registration_certificate: "doc-1",
      });
      const people = ["applicant", "gone", "o1", "o2", "o3", ...Array.from({ length: 50 }, (_, i) => `p${i}`)];
      const hashOf = (id: string) =>
        hasher.hash(
          "national-id",
          id === "gone"
            ? "196004044567"
            : id === "applicant"
              ? "197003033456"
              : `1990${String(people.indexOf(id)).padStart(8, "0")}`,
        );
      // As binding writes them (directory.store.ts): the human is the national ID's keyed hash (REQ-10).
      await db("people").insert(
        people.map((id) => ({
          id,
          organisation_id: "org1",
          national_id_hash: hashOf(id),
          human_id: hashOf(id),
          name: id,
          created_at: 0,
        })),
      );
      orders = new KnexOrderStore(db, db, cipher);
      peers = await startDeliveryPeers();
      worker = new DeliveryWorker({
        queue: new KnexDeliveryStore(db, db, cipher),
        clock,
        random: cryptoRandom,
        policy: { backoffBaseMs: 50, backoffMaxMs: 200 },
        recipients: {
          address: async (personId, channel) => {
            const a = addressOf(personId, channel);
            return a ? { name: personId, address: a } : undefined;
          },
        },
        channels: [
          smtpChannel({
            url: peers.mail.url,
            from: "cardpki test <no-reply@cardpki.test>",
            requireTls: true,
            ca: readFileSync(peers.mail.caFile!, "utf8"),
          }),
          smsGatewayChannel({ url: peers.sms.url, token: async () => peers.sms.token }),
        ],
      });
      peers.pump = () => worker.tick();
      certStore = new KnexCertStore(db);
      directory = new KnexDirectoryStore(db, db, cipher);
      policy = loadRevocationPolicy(join(REPO_ROOT, "policies", "revocation", "revocation.yaml"));
      const registry = new RevocationRegistry({
        certs: certStore,
        revocations: new KnexRevocationStore(db),
        policy,
        clock,
        random: cryptoRandom,
      });
      ca = softwareAuthority();
      registryOf = registry;
      certs = cardCertificates(
        {
          issuer: new CertificateIssuer({ profiles: PROFILES, store: certStore, clock, random: cryptoRandom }),
          registry,
          store: certStore,
          clock,
          random: cryptoRandom,
        },
        () => ca,
        { writes: new KnexLinkedWrites(db, orders), orders },
      );
      const workflows = loadWorkflows(join(REPO_ROOT, "policies", "workflows"));
      activation = new ActivationDesk({
        orders,
        records: new KnexActivationStore(db),
        certs,
        clock,
        random: cryptoRandom,
      });
      service = new OrderService({
        orders,
        directory,
        workflows,
        certs,
        register,
        hasher,
        clock,
        random: cryptoRandom,
        currentTermsVersion: "2026-01",
        activation,
        keyOrigins,
      });
      expiry = new ExpiryScheduler({ orders, service, certs, workflows, clock });
    });
    after(async () => {
      await worker?.close();
      await peers?.stop();
      await db?.destroy();
    });

    /** The applicant's token, from the terms mail the SMTP server received (REQ-06). */
    const tokenOf = (orderId: string) => peers.termsToken(orderId);

    /** Another order service over the same stores (another RA process, or other ports), as `service` is made. */
    const anotherService = (ports: Partial<ConstructorParameters<typeof OrderService>[0]> = {}) =>
      new OrderService({
        orders,
        directory,
        workflows: loadWorkflows(join(REPO_ROOT, "policies", "workflows")),
        certs,
        register,
        hasher,
        clock,
        random: cryptoRandom,
        currentTermsVersion: "2026-01",
        ...ports,
      });

    /** An order for the applicant whose terms the applicant accepted with the token from the terms mail (REQ-06). */
    async function termsAccepted(svc: OrderService, workflowId: string): Promise<string> {
      const o = await svc.create(officer("o1"), { personId: "applicant", workflowId, nationalId: "197003033456" });
      await svc.act(
        o.id,
        "accept-terms",
        { kind: "applicant", roles: [] },
        { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true },
      );
      return o.id;
    }

    async function toApproved(workflowId = "loa3-card-order") {
      const o = { id: await termsAccepted(service, workflowId) };
      await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
      if (workflowId === "loa3-card-order")
        await service.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
      await service.act(o.id, "approve", workflowId === "loa3-card-order" ? approver : officer("o2"), {});
      return o.id;
    }

    it(
      "ok/two RA processes over one database: an action on an order the other process changed " +
        "is decided on the stored order (refused on a remembered one, then allowed; a lost compare-and-set " +
        "judged again), never on the remembered one (REQ-10)",
      async () => {
        // A second service: another process's own remembered orders, the same database.
        const other = anotherService();
        const o = { id: await termsAccepted(service, "loa3-card-order") };
        await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
        // The other process identifies a second time; this one remembers a single identification.
        await other.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
        // identifications-complete fails on what this process remembers, holds on the stored order.
        const approved = await service.act(o.id, "approve", approver, {});
        expect([approved.state, approved.identifications.length]).to.deep.equal(["APPROVED", 2]);
        expect(approved).to.deep.equal(await orders.load(o.id));
        // The other process remembers IDENTIFIED: its approve wins on what it remembers, loses the compare-and-set,
        // and is judged again on the stored order (approved already): refused, nothing written twice.
        const e = await refused(other.act(o.id, "approve", approver, {}));
        expect(e.code).to.equal("order.action-not-in-state");
        const approvals = await db("audit_events").where({ object_id: o.id, action: "order.approve" });
        expect(approvals).to.have.length(1);
        expect((await orders.load(o.id))!.version).to.equal(approved.version);
      },
    );

    it(`ok/a LoA3 order to hand-out; certificate for the card's key; identifications and audit recorded without \
document or national ID numbers in clear`, async () => {
      const id = await toApproved();
      // What an action returns is the order as stored (built from the change, not read back).
      const started = await service.act(id, "start-production", approver, {});
      expect(started).to.deep.equal(await orders.load(id));
      const { issued, ...produced } = await service.act(id, "produce", caOp, attested(id));
      expect(produced).to.deep.equal(await orders.load(id));
      expect(produced.state).to.equal("PRODUCED");
      const rec = (await certStore.get(produced.certSerial!))!;
      expect(rec.profileId).to.equal("loa3-smartcard-auth");
      // The CA's answer carries the certificate (nothing reads it back); it is stored on hold until activation
      // (REQ-16).
      expect(Buffer.from(issued!.der).equals(Buffer.from(rec.der!))).to.equal(true);
      expect([rec.revocationReason, rec.holdCause]).to.deep.equal(["certificateHold", "activation"]);
      expect(
        (
          await refused(
            service.act(id, "hand-out", officer("o1"), { secondIdentification: { document: doc, faceCompared: true } }),
          )
        ).details?.guard,
      ).to.equal("not-an-identifier");
      const handed = await service.act(id, "hand-out", officer("o3"), {
        secondIdentification: { document: doc, faceCompared: true },
      });
      expect(handed.state).to.equal("HANDED_OUT");
      expect(handed).to.deep.equal(await orders.load(id));
      expect(handed.identifications.map((i) => i.officerId)).to.deep.equal(["o1", "o2"]);
      const audit = await db("audit_events").where({ object_type: "order", object_id: id }).orderBy("seq");
      expect(audit.map((a: any) => a.action)).to.deep.equal([
        "order.create",
        "order.accept-terms",
        "order.identify",
        "order.identify",
        "order.approve",
        "order.start-production",
        "order.production.reserve",
        "order.produce",
        "order.hand-out",
      ]);
      const ids = await db("order_identifications").where({ order_id: id });
      expect(ids.map((i: any) => `${i.kind}:${i.officer_id}`)).to.deep.equal([
        "identify:o1",
        "identify:o2",
        "hand-out:o3",
      ]);
      const everything = JSON.stringify([audit, ids, await db("orders").where({ id })]);
      expect(everything).to.not.include("AB123456");
      expect(everything).to.not.include("197003033456");
    });

    it(`fail/REQ-14: production refuses a bare public key (LoA3 and LoA2), another maker's attestation, another \
card's, a key without PIN; nothing is issued; ok/the attestation is in the audit event`, async () => {
      for (const wf of ["loa3-card-order", "loa2-card-order"]) {
        const id = await toApproved(wf);
        await service.act(id, "start-production", approver, {});
        const before = await db("certificates").count({ n: "*" }).first();
        const cases: [string, () => Parameters<OrderService["act"]>[3], RegExp][] = [
          ["bare key", () => ({ publicKey: testKey("P-256").spki }), /bare public key is not certified/],
          ["no key at all", () => ({}), /needs the card's PIV attestation/],
          [
            "another maker",
            () => attested(id, { maker: createMakerRoot(new Date(), "untrusted maker") }),
            /does not chain to a configured card-maker root/,
          ],
          [
            "another card",
            () => {
              const a = attested(id);
              cardsOfOrders.set(id, { cardSerial: "1", state: "personalising", managementKeyRecorded: true });
              return a;
            },
            /the card recorded for this order is 1/,
          ],
          ["no PIN", () => attested(id, { pinPolicy: "never" }), /PIN policy is 'never'/],
          [
            "card-station claim from a caller",
            () => ({ keyOrigin: "card-station" as const, publicKey: testKey("P-256").spki }),
            wf === "loa3-card-order"
              ? /only keys that come with the card's PIV attestation/
              : /only from the card station/,
          ],
        ];
        for (const [name, req, re] of cases) {
          const e = await refused(service.act(id, "produce", caOp, req()));
          expect([e.kind, e.details?.guard, e.details?.requirement], `${wf}: ${name}`).to.deep.equal([
            "policy-violation",
            "key-attested",
            "REQ-14",
          ]);
          expect(e.message, `${wf}: ${name}`).to.match(re);
        }
        expect(await db("certificates").count({ n: "*" }).first()).to.deep.equal(before);
        expect((await orders.load(id))!.state).to.equal("IN_PRODUCTION");
        const req = attested(id);
        const produced = await service.act(id, "produce", caOp, req);
        const cert = await certStore.get(produced.certSerial!);
        expect(
          Buffer.from(new X509Certificate(cert!.der!).publicKey.export({ type: "spki", format: "der" })).equals(
            Buffer.from(req.publicKey),
          ),
        ).to.equal(true);
        const event = await db("audit_events").where({ object_id: id, action: "order.produce" }).first();
        expect(JSON.parse(event!.details!).keyOrigin).to.include({
          method: "piv-attestation",
          cardSerial: cardsOfOrders.get(id)!.cardSerial,
          slot: "9a",
          pinPolicy: "once",
          touchPolicy: "never",
        });
      }
    });

    it("ok/50 parallel approve calls by 50 officers: exactly one transition, 49 conflicts", async () => {
      const o = { id: await termsAccepted(service, "loa3-card-order") };
      await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
      await service.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => service.act(o.id, "approve", officer(`p${i}`), {})),
      );
      expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
      expect(
        results.filter(
          (r) => r.status === "rejected" && ((r as PromiseRejectedResult).reason as CaError).kind === "conflict",
        ),
      ).to.have.length(49);
      const row = await db("orders").where({ id: o.id }).first();
      expect(row!.state).to.equal("APPROVED");
      expect(Number(row!.version)).to.equal(4);
      expect(await db("audit_events").where({ object_id: o.id, action: "order.approve" })).to.have.length(1);
    });

    it("fail/the register says deceased: no order, the refusal names REQ-07", async () => {
      const e = await refused(
        service.create(officer("o1"), { personId: "gone", workflowId: "loa3-card-order", nationalId: "196004044567" }),
      );
      expect(e.kind).to.equal("policy-violation");
      expect(e.message).to.match(/deceased.*REQ-07/);
      expect(await db("orders").where({ applicant_id: "gone" })).to.have.length(0);
    });

    it("fail/a national ID that is not the person's; an officer ordering for themself", async () => {
      expect(
        (
          await refused(
            service.create(officer("o1"), {
              personId: "applicant",
              workflowId: "loa3-card-order",
              nationalId: "199999999999",
            }),
          )
        ).message,
      ).to.match(/does not match/);
      expect(
        (
          await refused(
            service.create(officer("o1"), {
              personId: "o1",
              workflowId: "loa3-card-order",
              nationalId: "199000000002",
            }),
          )
        ).message,
      ).to.match(/themself/);
    });

    it(`ok/LoA2 by mail: the activation code goes to the outbox, not to the officer; activation needs the card and the \
right code`, async () => {
      const id = await toApproved("loa2-card-order");
      await service.act(id, "start-production", approver, {});
      const produced = await service.act(id, "produce", caOp, attested(id));
      const handed = await service.act(id, "send-by-mail", officer("o3"), {
        cardChannel: "mail",
        activationCodeChannel: "sms",
      });
      expect(JSON.stringify(handed)).to.not.match(/Activation code/);
      // the rows as stored before delivery
      const waiting = await db("notifications").where({ kind: "activation-code", state: "pending" });
      // The code as the holder's phone got it: the SMS the gateway stub received, under the notification's id (REQ-15).
      const code = await peers.activationCode(id);
      const sms = peers.sms.messages.find(
        (m) =>
          String(m.body?.text).startsWith("Activation code for your new eID card") &&
          String(m.body?.text).includes(orderReference(id)),
      )!; // this test's recipients name no language: English
      expect(sms.body.to).to.equal(addressOf("applicant", "sms"));
      // REQ-29: the code was sealed in the row; only the outbox store opens it.
      const row = waiting.find((r: any) => r.id === sms.idempotencyKey);
      expect(row!.channel).to.equal("sms");
      expect(row!.body)
        .to.match(/^enc:v1:dk1:/)
        .and.not.include(code);
      const holder: Actor = {
        kind: "holder",
        personId: "applicant",
        roles: [],
        credentialSerial: produced.certSerial!,
        loa: 2,
      };
      expect(
        (await refused(service.act(id, "activate", holder, { activationCode: "WRONGCODE1" }))).details?.guard,
      ).to.equal("activation-code-correct");
      expect((await service.act(id, "activate", holder, { activationCode: code })).state).to.equal("ACTIVE");
      expect((await db("orders").where({ id }).first())!.activation_code_hash).to.equal(sha256Hex(code));
    });

    it(`ok/expiry: a card not activated within the deadline is revoked (REQ-15); a crash between expiry and revocation \
is repaired`, async () => {
      const id = await toApproved();
      await service.act(id, "start-production", approver, {});
      const { certSerial } = await service.act(id, "produce", caOp, attested(id));
      await service.act(id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
      expect((await expiry.sweep()).expired).to.not.include(id); // not due yet
      clock.advance(31 * 86_400_000);
      try {
        const r = await expiry.sweep();
        expect(r.expired).to.include(id);
        expect((await db("orders").where({ id }).first())!.state).to.equal("EXPIRED");
        const cert = await certStore.get(certSerial!);
        expect(cert!.revocationReason).to.equal("cessationOfOperation");
        // Simulate a crash after the state change: the certificate is live again in the table; the next sweep repairs
        // it.
        await db("certificates").where({ serial: certSerial }).update({ revoked_at: null, revocation_reason: null });
        expect((await expiry.sweep()).repaired).to.include(id);
        expect((await certStore.get(certSerial!))!.revocationReason).to.equal("cessationOfOperation");
      } finally {
        clock.advance(-31 * 86_400_000);
      }
    });

    it(`ok/two changes of one order in the same commit: the second is decided after the first, as in \
sequence`, async () => {
      const o = await service.create(officer("o1"), {
        personId: "applicant",
        workflowId: "loa3-card-order",
        nationalId: "197003033456",
      });
      const at = clock.now();
      const audit = (n: string) => ({
        id: `${o.id}-${n}`,
        at,
        actor: "test",
        action: "order.test",
        objectType: "order",
        objectId: o.id,
        outcome: "success" as const,
      });
      // Same tick: all three share one transaction. v0→v1 wins, a second v0 loses, v1→v2 then wins.
      const results = await Promise.all([
        orders.apply(
          { orderId: o.id, expectedVersion: 0, to: "TERMS_ACCEPTED", at, termsVersion: "2026-01" },
          audit("a"),
        ),
        orders.apply({ orderId: o.id, expectedVersion: 0, to: "CANCELLED", at }, audit("b")),
        orders.apply(
          {
            orderId: o.id,
            expectedVersion: 1,
            to: "IDENTIFIED",
            at,
            identification: {
              kind: "identify",
              officerId: "o2",
              at,
              document: { type: "passport", numberHash: "h", expires: new Date("2030-01-01") },
              faceCompared: true,
            },
          },
          audit("c"),
        ),
      ]);
      expect(results).to.deep.equal([true, false, true]);
      const stored = (await orders.load(o.id))!;
      expect([stored.state, stored.version, stored.termsVersion, stored.identifications.length]).to.deep.equal([
        "IDENTIFIED",
        2,
        "2026-01",
        1,
      ]);
      expect(
        (await db("audit_events").where({ object_id: o.id, action: "order.test" }).orderBy("seq")).map(
          (a: any) => a.id,
        ),
      ).to.deep.equal([`${o.id}-a`, `${o.id}-c`]);
    });

    /** Runs a LoA3 order of `personId` to hand-out; returns the order, the card's serial and the card's key. */
    async function handedOutCardOf(personId: string, nationalId: string) {
      const o = await service.create(officer("o1"), { personId, workflowId: "loa3-card-order", nationalId });
      await service.act(
        o.id,
        "accept-terms",
        { kind: "applicant", roles: [] },
        { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true },
      );
      await service.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
      await service.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
      await service.act(o.id, "approve", approver, {});
      await service.act(o.id, "start-production", approver, {});
      const key = testKey("P-256");
      const { certSerial } = await service.act(o.id, "produce", caOp, attested(o.id, { privateKey: key.privateKey }));
      await service.act(o.id, "hand-out", officer("o3"), {
        secondIdentification: { document: doc, faceCompared: true },
      });
      return { orderId: o.id, serial: certSerial!, privateKey: key.privateKey };
    }
    /** A LoA3 card of `personId`, handed out (on hold until activation); returns its serial. */
    const cardOf = async (personId: string, nationalId: string) => (await handedOutCardOf(personId, nationalId)).serial;
    const nationalIdOf = (i: number) => `1990${String(i + 5).padStart(8, "0")}`; // people p<i> (see before())

    /** A LoA3 card of `personId`, handed out and activated; returns its serial. */
    async function activeCardOf(personId: string, nationalId: string): Promise<string> {
      const { orderId, serial, privateKey } = await handedOutCardOf(personId, nationalId);
      await activateWithSoftwareKey(
        { activation, orders: service },
        { orderId, holderId: personId, serial, loa: 3, station: officer("o3"), privateKey },
      );
      return serial;
    }

    it("ok/unbinding a person revokes their cards, a suspended one too (REQ-21)", async () => {
      const live = await cardOf("p10", nationalIdOf(10));
      const held = await cardOf("p10", nationalIdOf(10));
      await certs.suspend(held, "test");
      const admin: Actor = { kind: "officer", personId: "o3", roles: ["ra-admin"], organisationId: "org1" };
      const desk = new RevocationDesk({
        requests: new KnexRevocationRequestStore(db),
        orders,
        directory,
        certs,
        policy,
        clock,
        random: cryptoRandom,
      });
      const grants = new RoleGrants({
        directory,
        grants: new KnexRoleGrantStore(db),
        policy: loadRolesPolicy(join(REPO_ROOT, "policies", "roles.yaml")),
        clock,
        random: cryptoRandom,
      });
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
      const { certSerial } = await service.act(id, "produce", caOp, attested(id));
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

    it(`ok/mass revocation: beyond the hourly threshold an officer's request waits for a second, different officer of \
the organisation (REQ-18)`, async () => {
      const desk = new RevocationDesk({
        requests: new KnexRevocationRequestStore(db),
        orders,
        directory,
        certs,
        policy: { ...policy, requests: { ...policy.requests, officerPerHour: 2 } },
        clock,
        random: cryptoRandom,
      });
      const cards = [];
      for (let i = 20; i < 24; i++) cards.push(await activeCardOf(`p${i}`, nationalIdOf(i)));
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
      expect((await refused(desk.decide({ ...officer("x"), organisationId: "org2" }, held.id, true))).kind).to.equal(
        "forbidden",
      );
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

    it(`fail/REQ-05: a document the lost/stolen register lists is refused at identification and at hand-out; a \
register that does not answer stops the action`, async () => {
      const file = join(mkdtempSync(join(tmpdir(), "docreg-")), "documents.json");
      writeFileSync(
        file,
        JSON.stringify({
          documents: [
            { type: "passport", number: "ST0LEN1", reason: "stolen" },
            { type: "national-id-card", number: "L0ST2", reason: "lost" },
          ],
        }),
      );
      const checked = anotherService({ documents: fileDocumentRegister(file), keyOrigins });
      const o = await checked.create(officer("o1"), {
        personId: "applicant",
        workflowId: "loa3-card-order",
        nationalId: "197003033456",
      });
      await checked.act(
        o.id,
        "accept-terms",
        { kind: "applicant", roles: [] },
        { applicantToken: await tokenOf(o.id), termsVersion: "2026-01", accepted: true },
      );
      const e = await refused(
        checked.act(o.id, "identify", officer("o1"), { document: { ...doc, number: "st0len-1" }, faceCompared: true }),
      );
      expect([e.kind, e.details?.guard, e.details?.requirement]).to.deep.equal([
        "policy-violation",
        "document-not-reported",
        "REQ-05",
      ]);
      expect((await orders.load(o.id))!.version).to.equal(1); // nothing written
      await checked.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
      await checked.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
      const audit = await db("audit_events").where({ object_id: o.id, action: "order.identify" }).first();
      expect(JSON.parse(audit!.details!).documentRegister).to.equal(`file:${file}`);
      await checked.act(o.id, "approve", approver, {});
      await checked.act(o.id, "start-production", approver, {});
      await checked.act(o.id, "produce", caOp, attested(o.id));
      const atHandOut = await refused(
        checked.act(o.id, "hand-out", officer("o3"), {
          secondIdentification: {
            document: { type: "national-id-card", number: "L0ST2", expires: doc.expires },
            faceCompared: true,
          },
        }),
      );
      expect(atHandOut.message).to.match(/hand-out identity document is reported lost/);
      rmSync(file);
      expect(
        (
          await refused(
            checked.act(o.id, "hand-out", officer("o3"), {
              secondIdentification: { document: doc, faceCompared: true },
            }),
          )
        ).kind,
      ).to.equal("unavailable");
      expect((await orders.load(o.id))!.state).to.equal("PRODUCED");
    });

    it(`ok/REQ-08: a workflow with control questions identifies only when the right answers weigh enough; the audit \
names which, not the answers`, async () => {
      const o = { id: await termsAccepted(service, "loa2-card-order-kba") };
      expect(
        (
          await refused(
            service.act(o.id, "identify", officer("o1"), {
              document: doc,
              knowledgeAnswers: { "birth-place": true, "previous-employer": false },
            }),
          )
        ).details?.guard,
      ).to.equal("knowledge-score");
      expect(
        (
          await service.act(o.id, "identify", officer("o1"), {
            document: doc,
            knowledgeAnswers: { "postal-address": true, "previous-employer": true },
          })
        ).state,
      ).to.equal("IDENTIFIED");
      const audit = await db("audit_events").where({ object_id: o.id, action: "order.identify" }).first();
      expect(JSON.parse(audit!.details!).knowledgeAnsweredRight).to.deep.equal(["postal-address", "previous-employer"]);
    });

    /** An order of the applicant up to IN_PRODUCTION. */
    async function inProduction(svc = service, workflowId = "loa3-card-order") {
      const o = { id: await termsAccepted(svc, workflowId) };
      await svc.act(o.id, "identify", officer("o1"), { document: doc, faceCompared: true });
      if (workflowId === "loa3-card-order")
        await svc.act(o.id, "identify", officer("o2"), { document: doc, faceCompared: true });
      await svc.act(o.id, "approve", approver, {}); // REQ-10: neither identifier approves or releases
      await svc.act(o.id, "start-production", approver, {});
      return o.id;
    }

    it(`ok/REQ-16: a produced card is on hold until activation; a suspension on request adds to the hold and lifting \
it leaves the card awaiting activation; only the activation (challenge signed by the card, transport PIN replaced) \
releases it, once`, async () => {
      const id = await inProduction();
      const key = testKey("P-256");
      const { certSerial } = await service.act(id, "produce", caOp, attested(id, { privateKey: key.privateKey }));
      const serial = certSerial!;
      const hold = async () => {
        const r = (await certStore.get(serial))!;
        return [r.revocationReason, r.holdCause];
      };
      expect(await hold()).to.deep.equal(["certificateHold", "activation"]);
      // Nobody but the activation lifts it: an officer's resume is refused naming REQ-16.
      const e = await refused(certs.resume(serial, "officer:o1"));
      expect([e.kind, e.details?.requirement]).to.deep.equal(["policy-violation", "REQ-16"]);
      // A suspension on request adds to it; lifting the request leaves it awaiting activation.
      await certs.suspend(serial, "officer:o1");
      expect(await hold()).to.deep.equal(["certificateHold", "activation+request"]);
      await certs.resume(serial, "officer:o1");
      expect(await hold()).to.deep.equal(["certificateHold", "activation"]);
      await service.act(id, "hand-out", officer("o3"), { secondIdentification: { document: doc, faceCompared: true } });
      const holder: Actor = {
        kind: "holder",
        personId: "applicant",
        roles: [],
        credentialSerial: serial,
        loa: 3,
        credentialOnHold: true,
      };
      expect((await refused(service.act(id, "activate", holder, {}))).details?.guard).to.equal(
        "activation-challenge-signed",
      );
      const c = await activation.challenge(holder, id);
      expect(c.message).to.equal(`cardpki-activation-v1:${id}:${c.challenge}`);
      const wrong = new Uint8Array(sign("sha256", Buffer.from(c.message), testKey("P-256").privateKey));
      expect((await refused(service.act(id, "activate", holder, { challengeSignature: wrong }))).message).to.match(
        /does not verify.*activation-challenge-signed, REQ-16/,
      );
      const right = new Uint8Array(sign(c.hash, Buffer.from(c.message), key.privateKey));
      expect(
        (await refused(service.act(id, "activate", holder, { challengeSignature: right }))).details?.guard,
      ).to.equal("transport-pin-replaced");
      expect(
        (await refused(activation.recordPinReplacement({ ...officer("o3"), roles: ["auditor"] }, id, {}))).kind,
      ).to.equal("forbidden");
      await activation.recordPinReplacement(officer("o3"), id, { cardSerial: "card-1" });
      // The refused attempts did not use the challenge up; the successful one does.
      expect((await service.act(id, "activate", holder, { challengeSignature: right })).state).to.equal("ACTIVE");
      expect(await hold()).to.deep.equal([undefined, undefined]);
      const release = await db("audit_events").where({ object_id: serial, action: "cert.resume" }).first();
      expect(release!.actor).to.equal("holder:applicant");
      const activated = await db("audit_events").where({ object_id: id, action: "order.activate" }).first();
      expect(JSON.parse(activated!.details!).activation).to.deep.include({ challengeSigned: true });
      expect(await db("audit_events").where({ object_id: id, action: "order.transport-pin-replaced" })).to.have.length(
        1,
      );
    });

    /** An order service whose CA key signs through `hook` first (a slow or failing HSM). */
    function serviceWithSigner(hook: () => Promise<void>) {
      const slow: Authority = {
        ...ca,
        signer: {
          keyType: ca.signer.keyType,
          spki: ca.signer.spki,
          algorithmDer: ca.signer.algorithmDer,
          algorithmOid: ca.signer.algorithmOid,
          sign: async (d) => (await hook(), ca.signer.sign(d)),
        },
      };
      const c = cardCertificates(
        {
          issuer: new CertificateIssuer({ profiles: PROFILES, store: certStore, clock, random: cryptoRandom }),
          registry: registryOf,
          store: certStore,
          clock,
          random: cryptoRandom,
        },
        () => slow,
        { writes: new KnexLinkedWrites(db, orders), orders },
      );
      return anotherService({ certs: c, activation, keyOrigins });
    }

    it(`ok/production saga: while the HSM signs the order is PRODUCING with the reserved serial; an HSM failure burns \
the serial and puts the order back in production in one transaction`, async () => {
      let seen: any;
      let fail = false;
      const svc = serviceWithSigner(async () => {
        seen = await db("orders").where({ id: seenId }).first();
        if (fail) throw new Error("CKR_DEVICE_ERROR");
      });
      let seenId = await inProduction(svc);
      const ok = await svc.act(seenId, "produce", caOp, attested(seenId));
      expect([seen.state, seen.cert_serial]).to.deep.equal(["PRODUCING", ok.certSerial]);
      expect((await certStore.get(ok.certSerial!))!.status).to.equal("issued");
      fail = true;
      seenId = await inProduction(svc);
      const e = await refused(svc.act(seenId, "produce", caOp, attested(seenId)));
      expect(e.kind).to.equal("hsm-unavailable");
      const after = (await orders.load(seenId))!;
      expect([after.state, after.certSerial]).to.deep.equal(["IN_PRODUCTION", undefined]);
      expect((await certStore.get(seen.cert_serial))!.status).to.equal("failed");
      expect(await db("audit_events").where({ object_id: seenId, action: "order.production.fail" })).to.have.length(1);
    });

    it(`ok/recovery: a production cut off after the reserve (a crash, or an HSM that hangs) is compensated: the serial \
published as revoked, the order back in production; the late signature is never stored; an orphan card certificate is \
revoked`, async () => {
      let release!: () => void;
      const hung = new Promise<void>((r) => (release = r));
      let signing!: () => void;
      const started = new Promise<void>((r) => (signing = r));
      const svc = serviceWithSigner(async () => {
        signing();
        await hung;
      });
      const id = await inProduction(svc);
      const producing = svc.act(id, "produce", caOp, attested(id));
      await started;
      const serial = (await orders.load(id))!.certSerial!;
      expect((await orders.load(id))!.state).to.equal("PRODUCING");
      // Another process's recovery (what `serve` runs at start, and periodically for stale ones).
      const recovery = new ProductionSaga({
        orders,
        certs,
        workflows: loadWorkflows(join(REPO_ROOT, "policies", "workflows")),
        clock,
        random: cryptoRandom,
      });
      const r = await recovery.recover({ staleMs: 0 });
      expect(r.compensated).to.include(id);
      const rec = (await certStore.get(serial))!;
      expect([rec.status, rec.revocationReason]).to.deep.equal(["unfinished", "unspecified"]);
      expect((await orders.load(id))!.state).to.equal("IN_PRODUCTION");
      release();
      expect((await refused(producing)).kind).to.equal("conflict");
      expect((await certStore.get(serial))!.der).to.equal(undefined); // the late signature was not stored
      const o = (await orders.load(id))!;
      expect([o.state, o.certSerial]).to.deep.equal(["IN_PRODUCTION", undefined]);
      // A card certificate no order names (e.g. written by an older version before a crash) is revoked by the sweep.
      const orphan = await certs.issue({
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: { CN: "Orphan", O: "Org AB", organizationIdentifier: "NTRSE-5560000001", C: "SE" },
        requestedBy: "test",
        validatedEmailDomains: [],
      });
      // too young: an operator step may still link it
      expect((await recovery.recover({ orphanGraceMs: 60_000 })).revoked).to.not.include(orphan.serial);
      expect((await recovery.recover({ orphanGraceMs: -1000 })).revoked).to.include(orphan.serial);
      expect((await certStore.get(orphan.serial))!.revocationReason).to.equal("superseded");
    });

    it(`ok/REQ-15: orders left in production or produced past the workflow's deadline expire, a produced card's \
certificate revoked in the same transaction`, async () => {
      const stuck = await inProduction();
      const made = await inProduction();
      const { certSerial } = await service.act(made, "produce", caOp, attested(made));
      clock.advance(15 * 86_400_000);
      try {
        const first = await expiry.sweep();
        expect(first.expired).to.include(stuck).and.not.include(made); // 14 days in production, not 30 produced
        clock.advance(16 * 86_400_000);
        expect((await expiry.sweep()).expired).to.include(made);
        expect((await orders.load(made))!.state).to.equal("EXPIRED");
        expect((await certStore.get(certSerial!))!.revocationReason).to.equal("cessationOfOperation");
        const ev = await db("audit_events").where({ object_id: made, action: "order.expire" }).first();
        expect(JSON.parse(ev!.details!)).to.deep.include({ revoked: certSerial, reason: "cessationOfOperation" });
      } finally {
        clock.advance(-31 * 86_400_000);
      }
    });
  });

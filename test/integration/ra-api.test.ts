import { expect } from "chai";
import { raRequest } from "../support/ra-client.js";
import { X509Certificate, createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demoBackends, demoEnvReady, run, waitFor, type DemoEnv } from "../support/environment.js";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { answerChecker, type OpenApiDoc } from "../support/openapi-check.js";

interface Cred {
  key: string;
  cert: string;
  serial: string;
  spki: Uint8Array;
}
interface Reply {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

/**
 * The RA API over real HTTPS with real client certificates issued by the demo CA (SoftHSM2):
 * the LoA3 flow end to end, officer cards for a new organisation through service-owner staff
 * (REQ-02), and every separation-of-duty bypass attempt the issue lists.
 */
for (const backend of demoBackends())
  describe(`http/RA API over mTLS (REQ-22, REQ-23) [${backend}]`, function () {
    this.timeout(180_000);
    let svc: Service;
    let peers: DeliveryPeers;
    let demo: DemoEnv;
    let serverCa: string;
    let base: URL;
    const staff: Cred[] = [];
    const D: Record<string, Cred> = {};
    const people: Record<string, { id: string; nationalId: string }> = {};
    let orgId = "";
    const officers: Record<string, Cred> = {};

    /** Every 2xx answer of this suite is checked against the schema the OpenAPI document gives for it. */
    let answers: ReturnType<typeof answerChecker> | undefined;
    const call = async (
      method: string,
      path: string,
      body?: unknown,
      cred?: Cred,
      headers: Record<string, string> = {},
      raw?: string,
    ): Promise<Reply> => {
      const r = await raRequest({ base, ca: serverCa }, method, path, {
        body,
        cred,
        headers,
        ...(raw !== undefined ? { raw } : {}),
      });
      if (path.startsWith("/api/v1/")) answers?.check(method, path, r.status, r.body);
      return r;
    };
    const ok = async (p: Promise<Reply>, status = 200) => {
      const r = await p;
      expect(r.status, JSON.stringify(r.body)).to.equal(status);
      return r.body;
    };
    /** The applicant's token from the terms mail the SMTP server received (REQ-06, REQ-15). */
    const tokenOf = (orderId: string) => peers.termsToken(orderId);
    const doc = { type: "passport", number: "XP998877", expires: "2031-05-01" };
    const act = (id: string, action: string, cred: Cred, body: unknown = {}) =>
      call("POST", `/api/v1/orders/${id}/actions/${action}`, body, cred);
    const credOf = (key: { key: string; spki: Uint8Array }, der: Uint8Array): Cred => {
      const x = new X509Certificate(der);
      return { key: key.key, cert: x.toString(), serial: x.serialNumber.toLowerCase(), spki: key.spki };
    };

    /**
     * REQ-14: a software card for the order (service-level fixture: the card recorded as the card
     * station records it, the key's PIV attestation from the test maker root this suite installed).
     * The virtual card itself is personalised in card-personalisation and the e2e portal test.
     */
    async function attestedKey(orderId: string) {
      const c = await attestedCardFor(svc.parts, svc.ra!.ra, orderId);
      return {
        key: { key: c.privateKey.export({ type: "pkcs8", format: "pem" }) as string, spki: c.spki },
        body: c.body,
        card: c,
      };
    }

    /**
     * A card order through the API up to hand-out, with the given identifiers/hand-out officer; returns the card
     * credential.
     */
    async function cardFlow(o: {
      personKey: string;
      purpose?: "holder" | "officer";
      creator: Cred;
      id1: Cred;
      id2: Cred;
      approver: Cred;
      handOut: Cred;
      producer: Cred;
    }): Promise<{ orderId: string; card: Cred }> {
      const p = people[o.personKey]!;
      const order = await ok(
        call(
          "POST",
          "/api/v1/orders",
          {
            personId: p.id,
            workflowId: "loa3-card-order",
            nationalId: p.nationalId,
            ...(o.purpose ? { purpose: o.purpose } : {}),
          },
          o.creator,
        ),
        201,
      );
      await ok(
        call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, {
          token: await tokenOf(order.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      await ok(act(order.id, "identify", o.id1, { document: doc, faceCompared: true }));
      await ok(act(order.id, "identify", o.id2, { document: doc, faceCompared: true }));
      await ok(act(order.id, "approve", o.approver));
      await ok(act(order.id, "start-production", o.approver));
      const { key, body } = await attestedKey(order.id);
      const produced = await ok(act(order.id, "produce", o.producer, body));
      await ok(
        act(order.id, "hand-out", o.handOut, {
          secondIdentification: { document: { ...doc, type: "national-id-card" }, faceCompared: true },
        }),
      );
      return { orderId: order.id, card: credOf(key, Buffer.from(produced.certificate, "base64")) };
    }

    /**
     * REQ-16 at LoA3 over the API: the card station (an officer) records that the holder replaced
     * the transport PIN; the card, its certificate still on hold, fetches a challenge and signs it
     * (here a software key stands in for the card's 9A key); then activates.
     */
    async function activate(orderId: string, card: Cred, station: Cred): Promise<Reply> {
      await ok(call("POST", `/api/v1/orders/${orderId}/transport-pin-replaced`, { cardSerial: "test-card" }, station));
      const ch = await ok(call("GET", `/api/v1/holder/orders/${orderId}/activation-challenge`, undefined, card));
      const challengeSignature = sign(ch.hash, Buffer.from(ch.message), createPrivateKey(card.key)).toString(
        "base64url",
      );
      return call("POST", `/api/v1/holder/orders/${orderId}/activate`, { challengeSignature }, card);
    }

    before(async function () {
      const d = (demo = await demoEnvReady(this, backend));
      // REQ-14: the software test cards' maker, installed as an operator installs a card maker's root
      trustFixtureMaker(d.caStore);
      peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
      const config = loadConfig({
        ...d.env,
        ...peers.env,
        CARDPKI_PORT: "0",
        CARDPKI_RA_PORT: "0",
        CARDPKI_HOST: "127.0.0.1",
      });
      // The demo register, plus the people of this test (REQ-07).
      const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
      for (let i = 0; i < 12; i++)
        reg.people[`19800101${String(1000 + i)}`] = {
          status: "alive",
          givenName: "Registered",
          surname: `Person ${i}`,
        };
      writeFileSync(config.ra.registerFile, JSON.stringify(reg));
      svc = await startService(config);
      expect(svc.ra, "RA API started").to.not.equal(undefined);
      base = new URL(svc.ra!.url);
      serverCa = readFileSync(config.ra.tlsCert, "utf8");
      // The demo's initial staff group (one bootstrap): ada administers, bo/cy identify, di approves, ed produces, fi
      // hands out.
      for (const id of ["ada", "bo", "cy", "di", "ed", "fi", "gu"]) {
        const cert = readFileSync(join(config.dataDir, "demo-officers", `${id}.crt`), "utf8");
        D[id] = {
          key: readFileSync(join(config.dataDir, "demo-officers", `${id}.key`), "utf8"),
          cert,
          serial: new X509Certificate(cert).serialNumber.toLowerCase(),
          spki: new Uint8Array(),
        };
      }
      staff.push(D.ada!, D.bo!, D.fi!);
      answers = answerChecker((await raRequest({ base, ca: serverCa }, "GET", "/api/openapi.json")).body as OpenApiDoc);
    });
    after(async () => {
      // The sample of real answers checked against the documented schemas (http/openapi.ts).
      if (answers) expect(answers.checked.size, [...answers.checked].join("\n")).to.be.at.least(15);
      await svc?.stop();
      await peers?.stop();
    });

    it(`ok/onboarding (REQ-01), binding (REQ-21), officers' cards for a new organisation through service-owner staff \
under LoA3 (REQ-02), then a holder's LoA3 card (REQ-03/04/16)`, async () => {
      const [s1] = staff as [Cred];
      expect((await ok(call("GET", "/api/v1/me", undefined, s1))).roles).to.include("service-owner-staff");
      const org = await ok(
        call("POST", "/api/v1/organisations", { orgNumber: "5561234567", name: "Kund AB", country: "SE" }, s1),
        201,
      );
      orgId = org.id;
      expect(org.status).to.equal("pending");
      const early = await call(
        "POST",
        `/api/v1/organisations/${orgId}/people`,
        { nationalId: "198001011000", name: "Anna Officer" },
        s1,
      );
      expect(early.status).to.equal(422);
      expect([early.body.code, early.body.requirement]).to.deep.equal(["organisation.not-onboarded", "REQ-01"]);
      expect(early.body.detail).to.match(/not onboarded yet.*registration certificate and domain validation/);
      expect(
        (
          await ok(
            call(
              "POST",
              `/api/v1/organisations/${orgId}/onboarding`,
              {
                registrationCertificate: "bolagsverket 2026-11-20 #4411",
                domain: "kund.example",
                domainValidationMethod: "dns-txt",
              },
              s1,
            ),
          )
        ).status,
      ).to.equal("active");
      const names = [
        "Anna Officer",
        "Bert Officer",
        "Cecilia Officer",
        "Dag Unqualified",
        "Holger Holder",
        "Erik Officer",
      ];
      for (let i = 0; i < names.length; i++) {
        const nationalId = `19800101${1000 + i}`;
        const p = await ok(
          call(
            "POST",
            `/api/v1/organisations/${orgId}/people`,
            { nationalId, name: names[i], email: `p${i}@kund.example` },
            s1,
          ),
          201,
        );
        people[names[i]!.split(" ")[0]!] = { id: p.id, nationalId };
      }
      const until = new Date(Date.now() + 300 * 86_400_000).toISOString().slice(0, 10);
      for (const n of ["Anna", "Bert", "Cecilia", "Erik"])
        await ok(
          call(
            "PUT",
            `/api/v1/people/${people[n]!.id}/officer`,
            { roles: ["ra-officer"], qualification: "RA identity proofing 2026", qualifiedUntil: until },
            s1,
          ),
        );
      await ok(
        call(
          "PUT",
          `/api/v1/people/${people.Dag!.id}/officer`,
          { roles: ["ra-officer"], qualification: "RA identity proofing 2024", qualifiedUntil: "2025-01-01" },
          s1,
        ),
      );
      // REQ-02: the first officers' cards, identified and handed out by the service owner's staff.
      for (const n of ["Anna", "Bert", "Cecilia", "Dag", "Erik"]) {
        const { orderId, card } = await cardFlow({
          personKey: n,
          purpose: "officer",
          creator: D.bo!,
          id1: D.bo!,
          id2: D.cy!,
          approver: D.di!,
          producer: D.ed!,
          handOut: D.fi!,
        });
        const early = await call("GET", "/api/v1/me", undefined, card);
        expect([early.status, early.body.requirement], "not an officer credential before activation").to.deep.equal([
          403,
          "REQ-16",
        ]);
        expect((await ok(activate(orderId, card, D.fi!))).state).to.equal("ACTIVE");
        officers[n] = card;
      }
      const me = await ok(call("GET", "/api/v1/me", undefined, officers.Anna));
      expect(me).to.include({ kind: "officer", organisationId: orgId, personId: people.Anna!.id });
    });

    it(`fail/a smart-card logon order (loa3-card-order-logon) for a holder whose e-mail is outside the validated \
domain: 422 naming the rule (REQ-01); ok/within it the order is placed`, async () => {
      expect(officers.Anna, "depends on the onboarding test").to.not.equal(undefined);
      const [s1] = staff as [Cred];
      const bind = async (nationalId: string, name: string, email: string) =>
        ok(call("POST", `/api/v1/organisations/${orgId}/people`, { nationalId, name, email }, s1), 201);
      const order = (p: { id: string }, nationalId: string) =>
        call(
          "POST",
          "/api/v1/orders",
          { personId: p.id, workflowId: "loa3-card-order-logon", nationalId },
          officers.Anna,
        );
      // The logon name would come from an address in another domain: no order, whatever an officer may want.
      const outside = await bind("198001011099", "Olle Outside", "olle@gmail.example");
      const refused = await order(outside, "198001011099");
      expect(refused.status, JSON.stringify(refused.body)).to.equal(422);
      expect(refused.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(refused.body).to.include({
        code: "logon-name.outside-validated-domain",
        rule: "logon-name-from-validated-email",
        requirement: "REQ-01",
      });
      expect(refused.body.detail).to.match(/validated domain \(kund\.example\)/);
      // In the validated domain: the order is placed (its certificate will carry cy.holder@kund.example).
      const inside = await bind("197003033456", "Cy Holder", "Cy.Holder@kund.example");
      const placed = await order(inside, "197003033456");
      expect(placed.status, JSON.stringify(placed.body)).to.equal(201);
      expect(placed.body).to.include({
        workflow: "loa3-card-order-logon",
        profile: "loa3-smartcard-logon",
        state: "REQUESTED",
      });
    });

    it(`ok/LoA3 for a holder by the organisation's own officers; fail/every separation-of-duty \
bypass`, async function () {
      expect(officers.Dag, "depends on the onboarding test").to.not.equal(undefined);
      const { Anna: a, Bert: b, Cecilia: c, Dag: d, Erik: e } = officers as Record<string, Cred>;
      const [s1, s2] = staff as [Cred, Cred];
      // A second officer card of Anna: same person, different client certificate.
      const { orderId: a2Order, card: a2 } = await cardFlow({
        personKey: "Anna",
        purpose: "officer",
        creator: D.bo!,
        id1: D.bo!,
        id2: D.cy!,
        approver: D.di!,
        producer: D.ed!,
        handOut: D.fi!,
      });
      await ok(activate(a2Order, a2, D.fi!));

      const h = people.Holger!;
      const order = await ok(
        call("POST", "/api/v1/orders", { personId: h.id, workflowId: "loa3-card-order", nationalId: h.nationalId }, a),
        201,
      );
      const wrongToken = await call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, {
        token: "AAAAAAAAAAAAAAAAAAAAAAAA",
        termsVersion: "2026-01",
        accepted: true,
      });
      expect([wrongToken.status, wrongToken.body.guard]).to.deep.equal([422, "applicant-token"]);
      await ok(
        call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, {
          token: await tokenOf(order.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      await ok(act(order.id, "identify", a, { document: doc, faceCompared: true }));
      for (const [who, cred] of [
        ["same officer twice", a],
        ["second client certificate of the same officer", a2],
      ] as const) {
        const r = await act(order.id, "identify", cred, { document: doc, faceCompared: true });
        expect([r.status, r.body.guard], who).to.deep.equal([422, "distinct-identifiers"]);
      }
      const viaHeader = await call(
        "POST",
        `/api/v1/orders/${order.id}/actions/identify`,
        { document: doc, faceCompared: true },
        a,
        {
          "x-officer-id": people.Bert!.id,
          "x-ssl-client-cert": encodeURIComponent(b.cert),
          "x-forwarded-client-cert": `Hash=1;Cert="${encodeURIComponent(b.cert)}"`,
        },
      );
      expect([viaHeader.status, viaHeader.body.guard], "spoofed identity header is ignored").to.deep.equal([
        422,
        "distinct-identifiers",
      ]);
      const expired = await act(order.id, "identify", d, { document: doc, faceCompared: true });
      expect([expired.status, expired.body.guard]).to.deep.equal([422, "officer-qualified"]);
      // REQ-05: a passport the demo lost/stolen register lists as stolen is refused (the number in any spelling).
      const stolen = await act(order.id, "identify", b, {
        document: { ...doc, type: "passport", number: "xx 000-0001" },
        faceCompared: true,
      });
      expect([stolen.status, stolen.body.guard, stolen.body.requirement]).to.deep.equal([
        422,
        "document-not-reported",
        "REQ-05",
      ]);
      expect(
        (
          await act(order.id, "identify", b, {
            document: doc,
            faceCompared: true,
            knowledgeAnswers: { "birth-place": "yes" },
          })
        ).status,
      ).to.equal(400);
      await ok(act(order.id, "identify", b, { document: doc, faceCompared: true }));
      // REQ-10: neither identifier approves or releases (the separation matrix); Erik does both.
      for (const [who, cred] of [
        ["an identifier approves", b],
        ["the other identifier approves", a],
      ] as const) {
        const r = await act(order.id, "approve", cred);
        expect([r.status, r.body.rule], who).to.deep.equal([422, "separation-of-duties"]);
      }
      await ok(act(order.id, "approve", e));
      expect((await act(order.id, "start-production", a)).body.rule, "an identifier releases").to.equal(
        "separation-of-duties",
      );
      await ok(act(order.id, "start-production", e));
      const { key, body, card: software } = await attestedKey(order.id);
      const notCaOperator = await act(order.id, "produce", a, body);
      expect(notCaOperator.status).to.equal(403);
      // REQ-14: a bare public key, a card-station claim over the API, an attestation without its f9 certificate:
      // refused, nothing issued.
      const bare = await act(order.id, "produce", D.ed!, { publicKey: newKey().spkiPem });
      expect([bare.status, bare.body.guard, bare.body.requirement]).to.deep.equal([422, "key-attested", "REQ-14"]);
      expect([bare.body.code, bare.body.detail]).to.deep.equal([
        "guard.key-attested.bare-key",
        "A public key alone is not certified: the card's attestation of the key is needed.",
      ]);
      const claimed = await act(order.id, "produce", D.ed!, { publicKey: newKey().spkiPem, keyOrigin: "card-station" });
      expect([claimed.status, claimed.body.guard]).to.deep.equal([422, "key-attested"]);
      const forged = await act(order.id, "produce", D.ed!, {
        attestation: { certificate: body.attestation.intermediate, intermediate: body.attestation.intermediate },
      });
      expect([forged.status, forged.body.guard]).to.deep.equal([422, "key-attested"]);
      expect(
        (await act(order.id, "produce", D.ed!, { attestation: { certificate: body.attestation.certificate } })).status,
      ).to.equal(400);
      expect((await ok(call("GET", `/api/v1/orders/${order.id}`, undefined, s1))).state).to.equal("IN_PRODUCTION");
      const produced = await ok(
        act(order.id, "produce", D.ed!, { ...body, publicKey: Buffer.from(software.spki).toString("base64") }),
      );
      const second = { secondIdentification: { document: doc, faceCompared: true } };
      for (const [who, cred, guard] of [
        ["an identifier", a, "not-an-identifier"],
        ["the other identifier", b, "not-an-identifier"],
        ["an officer with an expired qualification", d, "officer-qualified"],
      ] as const) {
        const r = await act(order.id, "hand-out", cred, second);
        expect([r.status, r.body.guard], who).to.deep.equal([422, guard]);
      }
      await ok(act(order.id, "hand-out", c, second));
      const card = credOf(key, Buffer.from(produced.certificate, "base64"));
      // REQ-16: until activation the world sees the card as unusable: OCSP (openssl) says revoked/certificateHold ...
      const issuerPem = join(demo.caStore, "demo-issuing", "cert.pem");
      const cardPem = join(demo.dir, `ra-card-${backend}.pem`);
      writeFileSync(cardPem, card.cert);
      const ocsp = async () =>
        (
          await run("openssl", [
            "ocsp",
            "-issuer",
            issuerPem,
            "-cert",
            cardPem,
            "-url",
            `${svc.url}/ocsp`,
            "-CAfile",
            join(demo.caStore, "demo-root", "cert.pem"),
            "-no_nonce",
          ])
        ).out;
      const held = await ocsp();
      expect(held)
        .to.match(/: revoked/)
        .and.match(/Reason: certificateHold/);
      // ... and the held card is accepted for the activation only (contract: credentialOnHold).
      for (const [method, path, body] of [
        ["POST", `/api/v1/holder/cards/${card.serial}/suspend`, {}],
        ["POST", "/api/v1/holder/renewals", { workflowId: "loa3-card-order", nationalId: h.nationalId }],
      ] as const) {
        const r = await call(method, path, body, card);
        expect([r.status, r.body.requirement, r.body.code, r.body.detail], path).to.satisfy(
          ([st, req, code, m]: [number, string, string, string]) =>
            st === 403 &&
            req === "REQ-16" &&
            code === "credential.awaiting-activation" &&
            /for the activation only/.test(m),
        );
      }
      expect(
        (await call("POST", `/api/v1/holder/orders/${order.id}/activate`, {}, a)).status,
        "an officer is not the holder",
      ).to.equal(403);
      const unsigned = await call("POST", `/api/v1/holder/orders/${order.id}/activate`, {}, card);
      expect([unsigned.status, unsigned.body.guard]).to.deep.equal([422, "activation-challenge-signed"]);
      const noStation = await call("POST", `/api/v1/orders/${order.id}/transport-pin-replaced`, {}, card);
      expect(noStation.status, "the holder cannot record the PIN change for the station").to.equal(403);
      const activatedAt = Date.now();
      expect((await ok(activate(order.id, card, c))).state).to.equal("ACTIVE");
      // OCSP good within a second of the activation; the next delta CRL says removeFromCRL.
      let now = "";
      expect(await waitFor(async () => /: good/.test((now = await ocsp())), 1000, 100), now).to.equal(true);
      expect(Date.now() - activatedAt).to.be.lessThan(2000);
      let deltaText = "";
      const removed = await waitFor(
        async () => {
          const res = await fetch(`${svc.url}/crl/demo-issuing-delta.crl`);
          const f = join(demo.dir, `ra-delta-${backend}.crl`);
          writeFileSync(f, new Uint8Array(await res.arrayBuffer()));
          deltaText = (await run("openssl", ["crl", "-inform", "der", "-in", f, "-noout", "-text"])).out;
          return deltaText.includes(card.serial.toUpperCase()) && /Remove From CRL/.test(deltaText);
        },
        5000,
        200,
      );
      expect(removed, deltaText).to.equal(true);
      const actions = (await svc.parts.db("audit_events").where({ object_id: order.id }).orderBy("seq")).map(
        (e: any) => `${e.action}:${e.outcome}`,
      );
      expect(actions).to.deep.equal([
        "order.create:success",
        "applicant.link.refused:failure",
        "order.accept-terms:success",
        "order.identify:success",
        "order.identify:success",
        "order.approve:success",
        "order.start-production:success",
        "order.production.reserve:success",
        "order.produce:success",
        "order.hand-out:success",
        "order.transport-pin-replaced:success",
        "order.activation-challenge:success",
        "order.activate:success",
      ]);

      // Self-service on one's own order; an officer of another organisation.
      const own = await call(
        "POST",
        "/api/v1/orders",
        { personId: people.Anna!.id, workflowId: "loa3-card-order", nationalId: people.Anna!.nationalId },
        b,
      );
      expect(own.status).to.equal(201); // Bert may order for Anna ...
      const self = await act(own.body.id, "identify", a, { document: doc, faceCompared: true });
      expect([self.status, self.body.guard]).to.deep.equal([409, undefined]); // ... terms not accepted yet: state first
      await ok(
        call("POST", `/api/v1/applicant/orders/${own.body.id}/accept-terms`, {
          token: await tokenOf(own.body.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      const selfIdentify = await act(own.body.id, "identify", a2, { document: doc, faceCompared: true });
      expect([selfIdentify.status, selfIdentify.body.guard], "no officer acts on their own order").to.deep.equal([
        422,
        "not-own-order",
      ]);
      expect(
        (
          await call(
            "POST",
            "/api/v1/orders",
            { personId: people.Anna!.id, workflowId: "loa3-card-order", nationalId: people.Anna!.nationalId },
            a,
          )
        ).body,
      ).to.deep.include({
        code: "order.own-order",
        rule: "not-own-order",
        detail: "You cannot order a card for yourself, not even under another organisation.",
      });
      const staffPerson = (await ok(call("GET", "/api/v1/me", undefined, s2))).personId;
      const foreign = await call(
        "POST",
        "/api/v1/orders",
        { personId: staffPerson, workflowId: "loa3-card-order", nationalId: "198001011010" },
        a,
      );
      expect([foreign.status, foreign.body.code, foreign.body.requirement]).to.deep.equal([
        403,
        "scope.other-organisation",
        "REQ-23",
      ]);
      expect(foreign.body.detail).to.match(/belongs to another organisation/);
      expect((await call("GET", `/api/v1/orders/${order.id}`, undefined, a)).status).to.equal(200);
      const s1Org = (await ok(call("GET", "/api/v1/me", undefined, s1))).organisationId;
      expect((await call("GET", `/api/v1/organisations/${s1Org}`, undefined, a)).status).to.equal(403);
      // Roles: a holder on an officer route, an officer on a holder route, ra-officer registering organisations.
      expect((await call("GET", "/api/v1/me", undefined, card)).status).to.equal(403);
      expect((await call("POST", `/api/v1/holder/cards/${card.serial}/suspend`, {}, a)).status).to.equal(403);
      expect(
        (await call("POST", "/api/v1/organisations", { orgNumber: "5569999999", name: "X", country: "SE" }, a)).status,
      ).to.equal(403);

      // Revoked client certificate: Anna's second card is revoked by a colleague → 401 from then on.
      await ok(call("POST", `/api/v1/certificates/${a2.serial}/revoke`, { reason: "keyCompromise" }, b));
      const revoked = await call("GET", "/api/v1/me", undefined, a2);
      expect([revoked.status, revoked.body.code, revoked.body.detail]).to.deep.equal([
        401,
        "credential.not-good",
        "Your certificate is revoked, so it cannot be used to sign in.",
      ]);
      // OCSP agrees (REQ-17): an independent client sees the revocation.
      const a2Pem = join(demo.dir, `ra-a2-${backend}.pem`); // not a fixed /tmp path: other checkouts run this suite too
      writeFileSync(a2Pem, a2.cert);
      let text = "";
      for (let i = 0; i < 20 && !/revoked/.test(text); i++) {
        text = (
          await run("openssl", ["ocsp", "-issuer", issuerPem, "-cert", a2Pem, "-url", `${svc.url}/ocsp`, "-noverify"])
        ).out;
        if (!/revoked/.test(text)) await new Promise((r) => setTimeout(r, 200));
      }
      expect(text).to.match(/: revoked/);

      // Holder self-service: suspend own card (then it no longer authenticates), two officers resume; rate limit
      // (REQ-18).
      const other = await call("POST", `/api/v1/holder/cards/${a.serial}/suspend`, {}, card);
      expect(other.status, "a holder cannot suspend someone else's card").to.equal(404);
      const alarms = async () =>
        (await svc.parts.db("audit_events").where({ action: "revocation.alarm.holder-rate" })).length;
      const alarmsBefore = await alarms(); // other suites share this demo database
      let last: Reply | undefined;
      for (let i = 0; i < 6; i++) {
        last = await call("POST", `/api/v1/holder/cards/${card.serial}/suspend`, {}, card);
        if (last.status !== 200) break;
        expect(
          (
            await call(
              "POST",
              "/api/v1/holder/renewals",
              { workflowId: "loa3-card-order", nationalId: h.nationalId },
              card,
            )
          ).status,
          "a held card does not authenticate",
        ).to.equal(401);
        // REQ-18: a hold the holder asked for is lifted by a second officer, not by one alone.
        const held = await ok(call("POST", `/api/v1/certificates/${card.serial}/resume`, {}, b), 202);
        await ok(call("POST", `/api/v1/revocation-requests/${held.pending.id}/approve`, {}, c));
      }
      expect(last!.status).to.equal(429);
      expect(last!.headers["retry-after"]).to.be.a("string");
      expect(await alarms()).to.equal(alarmsBefore + 1);

      // REQ-11: renewal on this valid LoA3 eID; identify-by-eid replaces the in-person identifications.
      const renewal = await ok(
        call("POST", "/api/v1/holder/renewals", { workflowId: "loa3-card-order", nationalId: h.nationalId }, card),
        201,
      );
      await ok(
        call("POST", `/api/v1/applicant/orders/${renewal.id}/accept-terms`, {
          token: await tokenOf(renewal.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      expect((await ok(call("POST", `/api/v1/holder/orders/${renewal.id}/identify-by-eid`, {}, card))).state).to.equal(
        "IDENTIFIED",
      );
      expect((await ok(act(renewal.id, "approve", a))).state).to.equal("APPROVED");
    });

    it("fail/missing, foreign and spoofed client certificates get 401 problem+json", async () => {
      const none = await call("GET", "/api/v1/me");
      expect([none.status, none.headers["content-type"]]).to.deep.equal([401, "application/problem+json"]);
      const spoof = await call("GET", "/api/v1/me", undefined, undefined, {
        "x-ssl-client-cert": encodeURIComponent(staff[0]!.cert),
        "x-officer-id": "anyone",
        "x-forwarded-for": "127.0.0.1",
      });
      expect(spoof.status).to.equal(401);
      // A certificate from another CA (self-signed, same subject as a staff officer).
      const k = newKey();
      const pemKey = "/tmp/ra-foreign.key";
      writeFileSync(pemKey, k.key);
      const self = await run("openssl", [
        "req",
        "-new",
        "-x509",
        "-key",
        pemKey,
        "-subj",
        "/CN=Ada Admin/O=cardpki demo service owner/C=SE",
        "-days",
        "1",
        "-addext",
        "extendedKeyUsage=clientAuth",
      ]);
      expect(self.status).to.equal(0);
      const foreign = await call("GET", "/api/v1/me", undefined, {
        key: k.key,
        cert: self.stdout,
        serial: "",
        spki: k.spki,
      });
      expect([foreign.status, foreign.body.type]).to.deep.equal([401, "urn:cardpki:problem:unauthorized"]);
    });

    it(`fail/bad input: unknown field, wrong type, malformed JSON, non-JSON, oversized body, bad id → 4xx \
problem+json; nothing changes`, async () => {
      const s1 = staff[0]!;
      const unknown = await call(
        "POST",
        "/api/v1/organisations",
        { orgNumber: "5560000009", name: "X", country: "SE", admin: true },
        s1,
      );
      expect([unknown.status, unknown.body.code, unknown.body.field, unknown.body.errors]).to.deep.equal([
        400,
        "validation.invalid-body",
        "admin",
        [
          {
            field: "admin",
            pointer: "/admin",
            code: "validation.additionalProperties",
            detail: "This request has no field called admin.",
          },
        ],
      ]);
      expect(
        (await call("POST", "/api/v1/organisations", { orgNumber: 5560000009, name: "X", country: "SE" }, s1)).status,
      ).to.equal(400);
      expect((await call("POST", "/api/v1/organisations", undefined, s1, {}, "{not json")).status).to.equal(400);
      expect(
        (await call("POST", "/api/v1/organisations", undefined, s1, { "content-type": "text/plain" }, "orgNumber=1"))
          .status,
      ).to.equal(415);
      expect(
        (
          await call(
            "POST",
            "/api/v1/organisations",
            { orgNumber: "5560000009", name: "x".repeat(40_000), country: "SE" },
            s1,
          )
        ).status,
      ).to.equal(413);
      expect((await call("GET", "/api/v1/orders/not-an-id", undefined, s1)).status).to.equal(400);
      expect(await svc.parts.db("organisations").where({ org_number: "5560000009" })).to.have.length(0);
    });

    it("ok/IP allow-list per organisation (REQ-23); OpenAPI document at /api/openapi.json", async function () {
      const s1 = staff[0]!;
      const me = await ok(call("GET", "/api/v1/me", undefined, s1));
      await ok(
        call("PUT", `/api/v1/organisations/${me.organisationId}/ip-allow-list`, { cidrs: ["10.0.0.0/8"] }, staff[1]),
      );
      const blocked = await call("GET", "/api/v1/me", undefined, s1);
      expect([blocked.status, blocked.body.code, blocked.body.requirement]).to.deep.equal([
        403,
        "scope.ip-not-allowed",
        "REQ-23",
      ]);
      expect(
        (await call("PUT", `/api/v1/organisations/${me.organisationId}/ip-allow-list`, { cidrs: ["not-a-net"] }, s1))
          .status,
      ).to.equal(403);
      await svc.parts
        .db("organisations")
        .where({ id: me.organisationId })
        .update({ ip_allow_list: JSON.stringify(["127.0.0.0/8", "::1/128"]) });
      await ok(call("GET", "/api/v1/me", undefined, s1));
      await svc.parts.db("organisations").where({ id: me.organisationId }).update({ ip_allow_list: null });
      const openapi = await ok(call("GET", "/api/openapi.json"));
      expect(openapi.openapi).to.equal("3.1.0");
      expect(openapi.paths).to.have.property("/api/v1/orders/{id}/actions/{action}");
      expect(
        openapi.paths["/api/v1/organisations"].post.requestBody.content["application/json"].schema.additionalProperties,
      ).to.equal(false);
    });
  });

import { expect } from "chai";
import { raRequest } from "../support/ra-client.js";
import { spawnSync } from "node:child_process";
import { X509Certificate, createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, demoEnv, run, type DemoEnv } from "../support/environment.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { testDatabases } from "../support/databases.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { bootstrapStaffGroup } from "../../src/composition/ra.js";
import type { Role } from "../../src/ra/order.js";
import { FixedClock } from "../../src/shared/clock.js";

interface Cred {
  key: string;
  cert: string;
  serial: string;
}
interface Reply {
  status: number;
  body: any;
}

const DAY = 86_400_000;
const DOMAIN = "subjekt.example";

function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

/** People of this test: national ID, what the register holds, what an ra-admin types at binding. */
const PEOPLE = {
  asa: {
    nationalId: "197001011001",
    register: { status: "alive", givenName: "Åsa", surname: "Öberg-Lind" },
    typed: { name: "Asa Typo", email: "asa@mail.subjekt.example" },
  },
  erik: {
    nationalId: "197001011002",
    register: { status: "alive", givenName: "Erik", surname: "Utanför" },
    typed: { name: "Erik", email: "erik@gmail.example" },
  },
  noname: { nationalId: "197001011003", register: { status: "alive" }, typed: { name: "No Name" } },
  spoof: {
    nationalId: "197001011004",
    register: { status: "alive", givenName: "\u0410nna", surname: "Svensson" },
    typed: { name: "Anna Svensson" },
  },
  ulf: {
    nationalId: "197001011005",
    register: { status: "alive", givenName: "Ulf", surname: "Unbound" },
    typed: { name: "Ulf", email: "ulf@post.example" },
  },
  rut: {
    nationalId: "197001011006",
    register: { status: "alive", givenName: "Rut", surname: "Renew" },
    typed: { name: "Rut", email: "rut@post.example" },
  },
  gun: {
    nationalId: "197001011007",
    register: { status: "alive", givenName: "Gun", surname: "Aged" },
    typed: { name: "Gun", email: "gun@post.example" },
  },
  bo: {
    nationalId: "197001011008",
    register: { status: "alive", givenName: "Bo", surname: "Bidi" },
    typed: { name: "Bo", email: "bo@post.example" },
  },
} as const;
type Who = keyof typeof PEOPLE;

/**
 * Subject data from authoritative sources, over the RA API (real HTTPS, client certificates from
 * the demo CA in SoftHSM2), judged by openssl: the certificate's name is the population register's
 * (REQ-07), an e-mail SAN only within the organisation's validated domain (REQ-01), text lints,
 * production refused for a person unbound after approval (REQ-21) or an approval that aged out,
 * and renewal (REQ-11) only from an activated eID, which the new card supersedes.
 */
for (const backend of testDatabases())
  describe(`http/subject data from authoritative sources (REQ-07, REQ-01, REQ-11) [${backend.name}]`, function () {
    this.timeout(180_000);
    let demo: DemoEnv;
    let svc: Service;
    let peers: DeliveryPeers;
    let serverCa: string;
    let base: URL;
    let own: string;
    const clock = new FixedClock(new Date());
    const staff: Cred[] = [];
    const personId: Partial<Record<Who, string>> = {};
    let orgId = "";
    let bidiOrgId = "";

    const call = (method: string, path: string, body?: unknown, cred?: Cred): Promise<Reply> =>
      raRequest({ base, ca: serverCa }, method, path, { body, cred });
    const ok = async (p: Promise<Reply>, status = 200) => {
      const r = await p;
      expect(r.status, JSON.stringify(r.body)).to.equal(status);
      return r.body;
    };
    const act = (id: string, action: string, cred: Cred, body: unknown = {}) =>
      call("POST", `/api/v1/orders/${id}/actions/${action}`, body, cred);
    /** The applicant's token from the terms mail the SMTP server received (REQ-06, REQ-15). */
    const tokenOf = (orderId: string) => peers.termsToken(orderId);
    const doc = { type: "passport", number: "SD445566", expires: "2034-05-01" };
    const second = { secondIdentification: { document: { ...doc, type: "national-id-card" }, faceCompared: true } };

    /**
     * The one place a card is produced in this file: the ca-operator's produce step for a software
     * card of the test maker with its PIV attestation (REQ-14), recorded for the order as the card
     * station records it (the card station does this with a key generated on the card).
     */
    async function produceCard(orderId: string, producer: Cred): Promise<Reply & { card?: Cred; der?: Uint8Array }> {
      const c = await attestedCardFor(svc.parts, svc.ra!.ra, orderId);
      const r = await act(orderId, "produce", producer, c.body);
      if (r.status !== 200) return r;
      const der = (await svc.parts.store.get(r.body.certificateSerial))!.der!;
      const x = new X509Certificate(der);
      return {
        ...r,
        der,
        card: {
          key: c.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
          cert: x.toString(),
          serial: x.serialNumber.toLowerCase(),
        },
      };
    }

    /**
     * An order through terms, two identifications and approval by staff (service-owner staff serve this organisation).
     */
    async function approvedOrder(who: Who): Promise<string> {
      const [s1, s2, s3] = staff as [Cred, Cred, Cred];
      const o = await ok(
        call(
          "POST",
          "/api/v1/orders",
          { personId: personId[who], workflowId: "loa3-card-order", nationalId: PEOPLE[who].nationalId },
          s1,
        ),
        201,
      );
      await ok(
        call("POST", `/api/v1/applicant/orders/${o.id}/accept-terms`, {
          token: await tokenOf(o.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      await ok(act(o.id, "identify", s1, { document: doc, faceCompared: true }));
      await ok(act(o.id, "identify", s2, { document: doc, faceCompared: true }));
      await ok(act(o.id, "approve", s3));
      return o.id;
    }

    /**
     * REQ-16 at LoA3: the card station (una) records the transport PIN replaced; the card (a software key) signs the
     * RA's challenge.
     */
    async function activate(orderId: string, card: Cred): Promise<Reply> {
      await ok(
        call("POST", `/api/v1/orders/${orderId}/transport-pin-replaced`, { cardSerial: "software-card" }, staff[2]),
      );
      const ch = await ok(call("GET", `/api/v1/holder/orders/${orderId}/activation-challenge`, undefined, card));
      return call(
        "POST",
        `/api/v1/holder/orders/${orderId}/activate`,
        {
          challengeSignature: sign(ch.hash, Buffer.from(ch.message), createPrivateKey(card.key)).toString("base64url"),
        },
        card,
      );
    }

    /**
     * To hand-out: production started by the approver s3, produced by s4, handed out by s5 (REQ-10: the separation
     * matrix).
     */
    async function handedOut(who: Who): Promise<{ orderId: string; card: Cred; der: Uint8Array }> {
      const [, , s3, s4, s5] = staff as [Cred, Cred, Cred, Cred, Cred];
      const orderId = await approvedOrder(who);
      await ok(act(orderId, "start-production", s3));
      const p = await produceCard(orderId, s4);
      expect(p.status, JSON.stringify(p.body)).to.equal(200);
      await ok(act(orderId, "hand-out", s5, second));
      return { orderId, card: p.card!, der: p.der! };
    }

    const pem = (der: Uint8Array, name: string) => {
      const f = join(own, `${name}.pem`);
      writeFileSync(f, new X509Certificate(der).toString());
      return f;
    };
    const openssl = async (args: string[]) => {
      const r = await run("openssl", args);
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout;
    };
    const ocsp = async (der: Uint8Array, name: string) => {
      const out = (
        await run("openssl", [
          "ocsp",
          "-issuer",
          join(demo.caStore, "demo-issuing", "cert.pem"),
          "-cert",
          pem(der, name),
          "-url",
          `${svc.url}/ocsp`,
          "-noverify",
        ])
      ).out;
      if (/: (good|revoked)/.test(out)) return out;
      // No status: what the CA recorded for the serial (cardpki cert show), for the failure message.
      const serial = new X509Certificate(der).serialNumber.toLowerCase();
      const shown = spawnSync(process.execPath, [CLI, "cert", "show", serial], { env: cliEnv, encoding: "utf8" });
      return `${out}[cert show ${serial}] ${shown.stdout}${shown.stderr}`;
    };

    let cliEnv: NodeJS.ProcessEnv = {};
    before(async function () {
      demo = demoEnv(this);
      // Now, as the service starts: the demo's CA and OCSP responder certificates were made after this file was
      // loaded (a clock set at load time could stand before their notBefore, and the responder would then serve no CA).
      clock.set(new Date());
      trustFixtureMaker(demo.caStore); // REQ-14: the software test cards' maker root
      own = mkdtempSync(join(tmpdir(), "subject-it-"));
      const registerFile = join(own, "register.json");
      writeFileSync(
        registerFile,
        JSON.stringify({ people: Object.fromEntries(Object.values(PEOPLE).map((p) => [p.nationalId, p.register])) }),
      );
      // A database, register and outside audit checkpoint of its own (the clock jumps ahead here), on the demo's HSM
      // and CA store.
      peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
      cliEnv = {
        ...demo.env,
        ...peers.env,
        DATABASE_URL: await backend.url(),
        CARDPKI_REGISTER_FILE: registerFile,
        CARDPKI_AUDIT_CHECKPOINT_FILE: join(own, "checkpoint.json"),
        CARDPKI_PORT: "0",
        CARDPKI_RA_PORT: "0",
        CARDPKI_HOST: "127.0.0.1",
      };
      const config = loadConfig(cliEnv);
      svc = await startService(config, { clock });
      base = new URL(svc.ra!.url);
      serverCa = readFileSync(config.ra.tlsCert, "utf8");
      // The one-time bootstrap of this database's service-owner staff group (REQ-02/10). REQ-10, the LoA3 separation
      // matrix:
      // s1, s2 identify; s3 approves and releases; s4 (ca-operator only) produces; s5 hands out.
      const keys = ["sara", "tor", "una", "vic", "wen"].map(() => newKey());
      const until = new Date(clock.now().getTime() + 400 * DAY);
      const roles = (i: number): Role[] =>
        i < 3 ? ["ra-admin", "ra-officer"] : i === 3 ? ["ca-operator"] : ["ra-officer"];
      const group = await bootstrapStaffGroup(svc.parts, svc.ra!.ra, {
        orgNumber: "556000-0000",
        orgName: "subject test service owner",
        country: "SE",
        operator: "subject-test",
        witness: "subject-witness",
        osUser: "test",
        members: ["Sara Staff", "Tor Staff", "Una Staff", "Vic Staff", "Wen Staff"].map((name, i) => ({
          id: ["sara", "tor", "una", "vic", "wen"][i]!,
          name,
          nationalId: `19800202${1000 + i}`,
          roles: roles(i),
          qualification: "test",
          qualifiedUntil: until,
          publicKey: keys[i]!.spki,
        })),
      });
      for (const [i, m] of group.members.entries()) {
        const x = new X509Certificate(m.der);
        staff.push({ key: keys[i]!.key, cert: x.toString(), serial: x.serialNumber.toLowerCase() });
      }
      const s1 = staff[0]!;
      orgId = (
        await ok(
          call("POST", "/api/v1/organisations", { orgNumber: "5567770001", name: "Subjekt AB", country: "SE" }, s1),
          201,
        )
      ).id;
      await ok(
        call(
          "POST",
          `/api/v1/organisations/${orgId}/onboarding`,
          { registrationCertificate: "bolagsverket #1", domain: DOMAIN, domainValidationMethod: "dns-txt" },
          s1,
        ),
      );
      bidiOrgId = (
        await ok(
          call("POST", "/api/v1/organisations", { orgNumber: "5567770002", name: "Evil \u202EBA", country: "SE" }, s1),
          201,
        )
      ).id;
      await ok(
        call(
          "POST",
          `/api/v1/organisations/${bidiOrgId}/onboarding`,
          { registrationCertificate: "bolagsverket #2", domain: "evil.example", domainValidationMethod: "dns-txt" },
          s1,
        ),
      );
      for (const [who, p] of Object.entries(PEOPLE) as [Who, (typeof PEOPLE)[Who]][])
        personId[who] = (
          await ok(
            call(
              "POST",
              `/api/v1/organisations/${who === "bo" ? bidiOrgId : orgId}/people`,
              { nationalId: p.nationalId, ...p.typed },
              s1,
            ),
            201,
          )
        ).id;
    });
    after(async () => {
      await svc?.stop();
      await peers?.stop();
    });

    it(`ok/the certificate's name is the population register's (CN, GN, SN), not the name typed at binding; the e-mail \
in the validated domain is in the SAN`, async () => {
      const { der } = await handedOut("asa");
      const f = pem(der, "asa");
      const subject = await openssl(["x509", "-in", f, "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"]);
      expect(subject)
        .to.include("CN=Åsa Öberg-Lind")
        .and.include("GN=Åsa")
        .and.include("SN=Öberg-Lind")
        .and.include("O=Subjekt AB");
      expect(subject).to.not.include("Typo");
      expect(await openssl(["x509", "-in", f, "-noout", "-ext", "subjectAltName"])).to.include(
        "email:asa@mail.subjekt.example",
      );
    });

    it(`fail/a register answer without a name, or with a mixed-script name: no order, 422 naming REQ-07 and the \
rule`, async () => {
      const s1 = staff[0]!;
      const before = (await svc.parts.db("orders")).length;
      const noName = await call(
        "POST",
        "/api/v1/orders",
        { personId: personId.noname, workflowId: "loa3-card-order", nationalId: PEOPLE.noname.nationalId },
        s1,
      );
      expect([noName.status, noName.body.type]).to.deep.equal([422, "urn:cardpki:problem:policy-violation"]);
      expect([noName.body.code, noName.body.requirement, noName.body.detail]).to.deep.equal([
        "register.no-name",
        "REQ-07",
        "The population register has no name for this person, so no card can be ordered.",
      ]);
      const spoof = await call(
        "POST",
        "/api/v1/orders",
        { personId: personId.spoof, workflowId: "loa3-card-order", nationalId: PEOPLE.spoof.nationalId },
        s1,
      );
      expect(spoof.status).to.equal(422);
      expect([spoof.body.code, spoof.body.requirement, spoof.body.rule]).to.deep.equal([
        "register.name-unusable",
        "REQ-07",
        "mixed-script",
      ]);
      expect(spoof.body.detail).to.equal(
        "The full name in the population register has characters that cannot go into " +
          "a certificate, so no card can be ordered.",
      );
      expect((await svc.parts.db("orders")).length).to.equal(before);
    });

    it(`ok/an e-mail outside the organisation's validated domain: the card is issued without the e-mail SAN \
(authentication profile: omit), and the order's audit says so`, async () => {
      const { orderId, der } = await handedOut("erik");
      const f = pem(der, "erik");
      expect(await openssl(["x509", "-in", f, "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"])).to.include(
        "CN=Erik Utanför",
      );
      expect(await openssl(["x509", "-in", f, "-noout", "-text"])).to.not.include("gmail");
      const produced = await svc.parts
        .db("audit_events")
        .where({ object_id: orderId, action: "order.produce" })
        .first();
      expect(JSON.parse(produced!.details!).emailSan).to.match(/omitted.*validated domains.*REQ-01/);
    });

    it(`fail/a bidi override in the organisation name: production refused by the lint text_no_bidi_controls (422), no \
certificate, the order stays in production`, async () => {
      const s1 = staff[0]!;
      const o = await ok(
        call(
          "POST",
          "/api/v1/orders",
          { personId: personId.bo, workflowId: "loa3-card-order", nationalId: PEOPLE.bo.nationalId },
          s1,
        ),
        201,
      );
      await ok(
        call("POST", `/api/v1/applicant/orders/${o.id}/accept-terms`, {
          token: await tokenOf(o.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      await ok(act(o.id, "identify", s1, { document: doc, faceCompared: true }));
      await ok(act(o.id, "identify", staff[1]!, { document: doc, faceCompared: true }));
      await ok(act(o.id, "approve", staff[2]!));
      await ok(act(o.id, "start-production", staff[2]!));
      const certsBefore = (await svc.parts.db("certificates")).length;
      const r = await produceCard(o.id, staff[3]!);
      expect([r.status, r.body.type]).to.deep.equal([422, "urn:cardpki:problem:lint-failed"]);
      expect([r.body.code, r.body.rule]).to.deep.equal(["certificate.lint-failed", "text_no_bidi_controls"]);
      expect(r.body.detail).to.match(
        /^The certificate could not be made: .* hidden text-direction character\. Nothing was signed/,
      );
      expect((await svc.parts.db("certificates")).length, "nothing reserved or signed").to.equal(certsBefore);
      const after = await ok(call("GET", `/api/v1/orders/${o.id}`, undefined, s1));
      expect([after.state, after.certificateSerial]).to.deep.equal(["IN_PRODUCTION", undefined]);
    });

    it("fail/the person was unbound after approval: production refused naming REQ-21, no certificate", async () => {
      const s1 = staff[0]!;
      const orderId = await approvedOrder("ulf");
      await ok(act(orderId, "start-production", staff[2]!));
      await ok(call("DELETE", `/api/v1/people/${personId.ulf}/binding`, undefined, s1));
      const r = await produceCard(orderId, staff[3]!);
      expect([r.status, r.body.type]).to.deep.equal([422, "urn:cardpki:problem:policy-violation"]);
      expect([r.body.code, r.body.requirement, r.body.detail]).to.deep.equal([
        "production.person-unbound",
        "REQ-21",
        "The applicant's binding to the organisation was removed after approval, so no card is produced.",
      ]);
      expect((await ok(call("GET", `/api/v1/orders/${orderId}`, undefined, s1))).state).to.equal("IN_PRODUCTION");
    });

    it(`fail/renewal from a card that was never activated; ok/a renewal supersedes the eID it stood on when the new \
card is activated (OCSP: revoked, superseded)`, async () => {
      const [, , s3, s4, s5] = staff as [Cred, Cred, Cred, Cred, Cred];
      const first = await handedOut("rut");
      const early = await call(
        "POST",
        "/api/v1/holder/renewals",
        { workflowId: "loa3-card-order", nationalId: PEOPLE.rut.nationalId },
        first.card,
      );
      // Refused either by the renewal rule (422, REQ-11) or at the door: a card on hold until activation is accepted
      // for the activation only (403, REQ-16).
      expect(early.status, JSON.stringify(early.body)).to.be.oneOf([401, 403, 422]);
      expect([early.body.code, early.body.requirement]).to.deep.equal(
        early.status === 422
          ? ["renewal.never-activated", "REQ-11"]
          : early.status === 403
            ? ["credential.awaiting-activation", "REQ-16"]
            : ["credential.not-good", undefined],
      );
      expect((await ok(activate(first.orderId, first.card))).state).to.equal("ACTIVE");
      expect(await ocsp(first.der, "rut-1")).to.match(/: good/);

      const renewal = await ok(
        call(
          "POST",
          "/api/v1/holder/renewals",
          { workflowId: "loa3-card-order", nationalId: PEOPLE.rut.nationalId },
          first.card,
        ),
        201,
      );
      expect(renewal.renewalOf).to.equal(first.card.serial);
      await ok(
        call("POST", `/api/v1/applicant/orders/${renewal.id}/accept-terms`, {
          token: await tokenOf(renewal.id),
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      await ok(call("POST", `/api/v1/holder/orders/${renewal.id}/identify-by-eid`, {}, first.card));
      await ok(act(renewal.id, "approve", s3));
      await ok(act(renewal.id, "start-production", s3));
      const next = await produceCard(renewal.id, s4);
      expect(next.status, JSON.stringify(next.body)).to.equal(200);
      expect(
        await openssl(["x509", "-in", pem(next.der!, "rut-2"), "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"]),
      ).to.include("CN=Rut Renew");
      await ok(act(renewal.id, "hand-out", s5, second));
      expect(await ocsp(first.der, "rut-1"), "the old eID stays good until the new card is activated").to.match(
        /: good/,
      );
      expect((await ok(activate(renewal.id, next.card!))).state).to.equal("ACTIVE");
      let text = "";
      for (let i = 0; i < 20 && !/revoked/.test(text); i++) {
        text = await ocsp(first.der, "rut-1");
        if (!/revoked/.test(text)) await new Promise((r) => setTimeout(r, 200));
      }
      expect(text)
        .to.match(/: revoked/)
        .and.match(/Reason: superseded/);
    });

    it(`fail/an approval older than the workflow's approvalValidDays (LoA3: 30) cannot start production \
(approval-current); fine the day before`, async () => {
      const s1 = staff[2]!; // the approver releases (REQ-10)
      const fresh = await approvedOrder("gun");
      clock.advance(29 * DAY);
      const stillFine = await ok(call("GET", `/api/v1/orders/${fresh}`, undefined, s1));
      expect(stillFine.actions.map((a: { action: string }) => a.action)).to.include("start-production");
      clock.advance(2 * DAY); // the clock only moves forward in this database
      const aged = await ok(call("GET", `/api/v1/orders/${fresh}`, undefined, s1));
      expect(
        aged.actions.map((a: { action: string }) => a.action),
        "an aged approval offers no production",
      ).to.not.include("start-production");
      const r = await act(fresh, "start-production", s1);
      expect([r.status, r.body.guard]).to.deep.equal([422, "approval-current"]);
      expect([r.body.code, r.body.detail]).to.satisfy(
        ([c, d]: [string, string]) =>
          c === "guard.approval-current.aged" &&
          new RegExp(
            /^The approval from \d{4}-\d\d-\d\d \d\d:\d\d UTC is older than 30 days; /.source +
              /the applicant must be identified and the order approved again\.$/.source,
          ).test(d),
      );
    });
  });

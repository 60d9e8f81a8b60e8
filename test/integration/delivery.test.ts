import { expect } from "chai";
import { orderReference } from "../../src/shared/order-reference.js";
import { raRequest } from "../support/ra-client.js";
import { X509Certificate, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoBackends, demoEnvReady, requireTool } from "../support/environment.js";
import { startMailSink, type MailSink } from "../support/mail-sink.js";
import { startSmsStub, type SmsStub } from "../support/sms-stub.js";
import { Delivered } from "../support/delivered.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { openDelivery } from "../../src/composition/delivery.js";
import { smsGatewayChannel } from "../../src/delivery/sms-gateway-channel.js";
import { outboxRow } from "../../src/store/outbox.store.js";
import { WIPED_BODY } from "../../src/store/delivery.store.js";

interface Cred {
  key: string;
  cert: string;
}
interface Reply {
  status: number;
  body: any;
  text: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LINK = /(https:\/\/[^\s/]+)\/applicant\/#order=([0-9a-f]{32})&token=([A-Z0-9]+)/;

/**
 * Delivery of the outbox through real peers (REQ-15): an SMTP server (STARTTLS, AUTH) and an SMS
 * gateway stub started by the test, PDF letters in a spool folder. Tokens and codes are read only
 * from what the peers received; the raw rows are read only for the storage property that a
 * delivered secret is gone from them.
 */
for (const backend of demoBackends())
  describe(`delivery/outbox over SMTP, SMS gateway and print files (REQ-15) [${backend}]`, function () {
    this.timeout(180_000);
    let svc: Service;
    let sink: MailSink;
    let sms: SmsStub;
    let spool: string;
    let serverCa: string;
    let base: URL;
    let staff: Cred;
    const more: Cred[] = [];
    let orderer: Cred;
    let producer: Cred;
    let orgId = "";
    let seq = 0;
    const smtpUser = "cardpki-test";
    const smtpPass = randomBytes(12).toString("hex");

    const call = (method: string, path: string, body?: unknown, cred?: Cred): Promise<Reply> =>
      raRequest({ base, ca: serverCa }, method, path, { body, cred });
    const ok = async (p: Promise<Reply>, status = 200) => {
      const r = await p;
      expect(r.status, r.text).to.equal(status);
      return r.body;
    };
    const metric = async (labels: string): Promise<number> => {
      const text = await (await fetch(`${svc.url}/metrics`)).text();
      const m = new RegExp(`^cardpki_notifications\\{${labels}\\} (\\d+)$`, "m").exec(text);
      return m ? Number(m[1]) : 0;
    };

    /** A person of the test organisation, alive in the register, with the given contact fields. */
    async function person(contact: {
      email?: string;
      phone?: string;
      postalAddress?: string;
    }): Promise<{ id: string; nationalId: string; email?: string; phone?: string }> {
      const nationalId = `1975${String(++seq).padStart(4, "0")}${String(process.pid % 10000).padStart(4, "0")}`;
      const p = await ok(
        call(
          "POST",
          `/api/v1/organisations/${orgId}/people`,
          { nationalId, name: `Dora Delivery ${seq}`, ...contact },
          staff,
        ),
        201,
      );
      return { id: p.id, nationalId, ...contact };
    }
    const termsMail = (to: string, orderId: string) =>
      sink.waitFor((m) => m.envelopeTo.includes(to) && m.text.includes(orderId), 20_000);

    /** A LoA2 order through the API up to PRODUCED, terms accepted with the link from the mail. */
    async function loa2Produced(p: {
      id: string;
      nationalId: string;
      email?: string;
    }): Promise<{ orderId: string; card: Cred }> {
      const order = await ok(
        call(
          "POST",
          "/api/v1/orders",
          { personId: p.id, workflowId: "loa2-card-order", nationalId: p.nationalId },
          orderer,
        ),
        201,
      );
      const [, , linkOrder, token] = LINK.exec((await termsMail(p.email!, order.id)).text)!;
      expect(linkOrder).to.equal(order.id);
      await ok(
        call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, {
          token,
          termsVersion: "2026-01",
          accepted: true,
        }),
      );
      const doc = { type: "passport", number: `DL${seq}777`, expires: "2032-01-01" };
      await ok(
        call("POST", `/api/v1/orders/${order.id}/actions/identify`, { document: doc, faceCompared: true }, more[0]),
      );
      await ok(call("POST", `/api/v1/orders/${order.id}/actions/approve`, {}, more[1]));
      await ok(call("POST", `/api/v1/orders/${order.id}/actions/start-production`, {}, more[0]));
      // REQ-14: a software card of the test maker, recorded for the order as the card station records it.
      const c = await attestedCardFor(svc.parts, svc.ra!.ra, order.id);
      const produced = await ok(call("POST", `/api/v1/orders/${order.id}/actions/produce`, c.body, producer));
      const rec = await svc.parts.store.get(produced.certificateSerial);
      return {
        orderId: order.id,
        card: {
          key: c.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
          cert: new X509Certificate(rec!.der!).toString(),
        },
      };
    }

    before(async function () {
      const d = await demoEnvReady(this, backend);
      trustFixtureMaker(d.caStore); // REQ-14: the software test cards' maker root
      sink = await startMailSink({ tls: true, auth: { user: smtpUser, pass: smtpPass } });
      sms = await startSmsStub();
      const secrets = mkdtempSync(join(tmpdir(), "cardpki-delivery-"));
      spool = join(secrets, "letters");
      writeFileSync(join(secrets, "smtp-password"), smtpPass, { mode: 0o600 });
      writeFileSync(join(secrets, "sms-token"), sms.token, { mode: 0o600 });
      const config = loadConfig({
        ...d.env,
        CARDPKI_PORT: "0",
        CARDPKI_RA_PORT: "0",
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_SMTP_URL: sink.url,
        CARDPKI_SMTP_CA_FILE: sink.caFile,
        CARDPKI_SMTP_FROM: "cardpki test <no-reply@cardpki.test>",
        CARDPKI_SMTP_USER: smtpUser,
        CARDPKI_SMTP_PASSWORD_FILE: join(secrets, "smtp-password"),
        CARDPKI_SMS_URL: sms.url,
        CARDPKI_SMS_TOKEN_FILE: join(secrets, "sms-token"),
        CARDPKI_LETTER_DIR: spool,
        CARDPKI_DELIVERY_POLL_MS: "100",
        CARDPKI_DELIVERY_BACKOFF_SECONDS: "0.25",
        CARDPKI_DELIVERY_MAX_ATTEMPTS: "5",
        CARDPKI_DELIVERY_LEASE_SECONDS: "1",
      });
      const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
      for (let i = 1; i <= 40; i++)
        reg.people[`1975${String(i).padStart(4, "0")}${String(process.pid % 10000).padStart(4, "0")}`] = {
          status: "alive",
          givenName: "Registered",
          surname: `Recipient ${i}`,
        };
      writeFileSync(config.ra.registerFile, JSON.stringify(reg));
      svc = await startService(config);
      base = new URL(svc.ra!.url);
      serverCa = readFileSync(config.ra.tlsCert, "utf8");
      staff = {
        key: readFileSync(join(config.dataDir, "demo-officers", "staff.key"), "utf8"),
        cert: readFileSync(join(config.dataDir, "demo-officers", "staff.crt"), "utf8"),
      };
      // The demo's initial staff group: bo orders, cy identifies, di approves and sends, ed produces; ada (staff)
      // administers.
      const demoCred = (id: string): Cred => ({
        key: readFileSync(join(config.dataDir, "demo-officers", `${id}.key`), "utf8"),
        cert: readFileSync(join(config.dataDir, "demo-officers", `${id}.crt`), "utf8"),
      });
      more.push(demoCred("cy"), demoCred("di"));
      orderer = demoCred("bo");
      producer = demoCred("ed");
      const org = await ok(
        call(
          "POST",
          "/api/v1/organisations",
          { orgNumber: `559${String(Date.now() % 1e7).padStart(7, "0")}`, name: "Leverans AB", country: "SE" },
          staff,
        ),
        201,
      );
      orgId = org.id;
      await ok(
        call(
          "POST",
          `/api/v1/organisations/${orgId}/onboarding`,
          { registrationCertificate: "test", domain: "leverans.example", domainValidationMethod: "dns-txt" },
          staff,
        ),
      );
    });
    after(async () => {
      await svc?.stop();
      await sink?.stop();
      await sms?.stop();
    });

    it(`ok/the terms message arrives over SMTP with STARTTLS and AUTH; its link carries order and token; accepting \
with it works; the secret is wiped from the outbox row`, async () => {
      const p = await person({ email: "dora1@leverans.example" });
      const order = await ok(
        call(
          "POST",
          "/api/v1/orders",
          { personId: p.id, workflowId: "loa3-card-order", nationalId: p.nationalId },
          orderer,
        ),
        201,
      );
      const mail = await termsMail(p.email!, order.id);
      expect(mail.secure, "STARTTLS before the message").to.equal(true);
      expect(mail.user, "authenticated with the password from the owner-only file").to.equal(smtpUser);
      expect(mail.messageId).to.match(/^<[0-9a-f]{32}@cardpki\.test>$/);
      expect(mail.subject, "a Swedish organisation's person reads Swedish unless they chose another language").to.equal(
        "Din kortbeställning: godkänn villkoren",
      );
      const [, origin, linkOrder, token] = LINK.exec(mail.text)!;
      expect(new URL(origin!).port, "the link points at the RA's own port").to.equal(base.port);
      expect(linkOrder).to.equal(order.id);
      expect(mail.text, "the token also as text for API clients").to.include(`token: ${token}`);
      expect(
        (
          await ok(
            call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, {
              token,
              termsVersion: "2026-01",
              accepted: true,
            }),
          )
        ).state,
      ).to.equal("TERMS_ACCEPTED");
      // Storage property (REQ-15, REQ-29): the delivered row keeps its metadata, its body is a sealed marker.
      const id = /^<([0-9a-f]{32})@/.exec(mail.messageId!)![1]!;
      let row: any;
      for (
        let i = 0;
        i < 50 && (row = await svc.parts.db("notifications").where({ id }).first())!.state !== "delivered";
        i++
      )
        await sleep(100);
      expect(row).to.include({ state: "delivered", kind: "terms-link", channel: "email", person_id: p.id });
      expect(Number(row.attempts)).to.equal(1);
      expect(row.body)
        .to.match(/^enc:v1:/)
        .and.not.include(token);
      const [note] = await svc.ra!.ra.outbox.recent({ personId: p.id, limit: 1 });
      expect(note!.body).to.equal(WIPED_BODY);
      expect(sink.messages.filter((m) => m.envelopeTo.includes(p.email!))).to.have.length(1);
    });

    it(`ok/LoA2 by mail: the activation code reaches the SMS gateway with the bearer token and an idempotency key; the \
card activates with it`, async () => {
      const p = await person({ email: "dora2@leverans.example", phone: "+46701110002" });
      const { orderId, card } = await loa2Produced(p);
      expect((await ok(call("POST", `/api/v1/orders/${orderId}/actions/send-by-mail`, {}, more[1]))).state).to.equal(
        "HANDED_OUT",
      );
      const m = await sms.waitFor(
        (r) => r.body?.to === p.phone && String(r.body?.text).includes(orderReference(orderId)),
      );
      expect(m.headers.authorization).to.equal(`Bearer ${sms.token}`);
      expect(m.idempotencyKey).to.match(/^[0-9a-f]{32}$/);
      expect(m.body.reference).to.equal(m.idempotencyKey);
      const code = /: ([A-Z0-9]{10})$/m.exec(m.body.text)![1]!; // the code ends its first line
      const wrong = await call(
        "POST",
        `/api/v1/holder/orders/${orderId}/activate`,
        { activationCode: "WRONGCODE1" },
        card,
      );
      expect(wrong.status).to.equal(422);
      expect(
        (await ok(call("POST", `/api/v1/holder/orders/${orderId}/activate`, { activationCode: code }, card))).state,
      ).to.equal("ACTIVE");
    });

    it(`fail/an SMTP peer that answers 451, then one that is down, loses nothing: retried with backoff and delivered \
exactly once when it is back`, async () => {
      const p = await person({ email: "dora3@leverans.example" });
      sink.fail(2, 451);
      const t0 = Date.now();
      const o1 = await ok(
        call(
          "POST",
          "/api/v1/orders",
          { personId: p.id, workflowId: "loa3-card-order", nationalId: p.nationalId },
          orderer,
        ),
        201,
      );
      await termsMail(p.email!, o1.id);
      expect(Date.now() - t0, "two backoffs (0.25 s, 0.5 s) before the third attempt").to.be.greaterThan(700);
      // The peer goes away; a message made meanwhile waits and arrives once a server listens again.
      const port = sink.port;
      await sink.stop();
      const o2 = await ok(
        call(
          "POST",
          "/api/v1/orders",
          { personId: p.id, workflowId: "loa3-card-order", nationalId: p.nationalId },
          orderer,
        ),
        201,
      );
      await sleep(800);
      const old = sink;
      sink = await startMailSink({ tls: true, auth: { user: smtpUser, pass: smtpPass }, port });
      await termsMail(p.email!, o2.id);
      await sleep(500);
      expect(
        [...old.messages, ...sink.messages]
          .filter((m) => m.envelopeTo.includes(p.email!))
          .map((m) => (m.text.includes(o1.id) ? "o1" : "o2")),
      ).to.deep.equal(["o1", "o2"]);
    });

    it(`fail/an SMS gateway answering 503 until the last attempt: a dead letter in /metrics and the ra-admin API (no \
code in it); retried through the API it is delivered exactly once`, async () => {
      const p = await person({ email: "dora4@leverans.example", phone: "+46701110004" });
      const { orderId } = await loa2Produced(p);
      const deadBefore = await metric(`channel="sms",state="dead"`);
      sms.fail(5, 503);
      await ok(call("POST", `/api/v1/orders/${orderId}/actions/send-by-mail`, {}, more[1]));
      let letters: any[] = [];
      for (
        let i = 0;
        i < 100 &&
        !(letters = await ok(call("GET", "/api/v1/delivery/dead-letters", undefined, staff))).some(
          (l: any) => l.personId === p.id,
        );
        i++
      )
        await sleep(100);
      const dead = letters.find((l) => l.personId === p.id);
      expect(dead).to.include({ channel: "sms", kind: "activation-code", attempts: 5, organisationId: orgId });
      expect(dead.lastError).to.match(/HTTP 503/);
      expect(JSON.stringify(dead)).to.not.match(/Activation code for/);
      expect(sms.requests.filter((r) => r.body?.to === p.phone).map((r) => r.status)).to.deep.equal([
        503, 503, 503, 503, 503,
      ]);
      expect(await metric(`channel="sms",state="dead"`)).to.equal(deadBefore + 1);
      // Only an ra-admin: an unknown id is a 404, a non-id a 400.
      expect((await call("POST", `/api/v1/delivery/dead-letters/${"0".repeat(32)}/retry`, {}, staff)).status).to.equal(
        404,
      );
      expect((await call("POST", "/api/v1/delivery/dead-letters/nope/retry", {}, staff)).status).to.equal(400);
      expect((await ok(call("POST", `/api/v1/delivery/dead-letters/${dead.id}/retry`, {}, staff))).state).to.equal(
        "pending",
      );
      await sms.waitFor((r) => r.body?.to === p.phone && r.idempotencyKey === dead.id);
      await sleep(500);
      expect(sms.messages.filter((r) => r.body?.to === p.phone)).to.have.length(1);
      expect(await metric(`channel="sms",state="dead"`)).to.equal(deadBefore);
      expect(
        (await ok(call("GET", "/api/v1/delivery/dead-letters", undefined, staff))).some((l: any) => l.id === dead.id),
      ).to.equal(false);
    });

    it(`fail/an SMS gateway answering 503, then one that is down, loses nothing: the activation code is retried with \
backoff and delivered exactly once when it is back; the card activates with it`, async () => {
      const p = await person({ email: "dora8@leverans.example", phone: "+46701110008" });
      const codeSms = (orderId: string) =>
        sms.waitFor((r) => r.body?.to === p.phone && String(r.body?.text).includes(orderReference(orderId)), 20_000);
      // Two 503 answers, then the gateway takes it: the third attempt, after two backoffs.
      const first = await loa2Produced(p);
      sms.fail(2, 503);
      const t0 = Date.now();
      await ok(call("POST", `/api/v1/orders/${first.orderId}/actions/send-by-mail`, {}, more[1]));
      const m1 = await codeSms(first.orderId);
      expect(Date.now() - t0, "two backoffs (0.25 s, 0.5 s) before the third attempt").to.be.greaterThan(700);
      expect(sms.requests.filter((r) => r.idempotencyKey === m1.idempotencyKey).map((r) => r.status)).to.deep.equal([
        503, 503, 202,
      ]);
      // The gateway goes away; the code made meanwhile waits and arrives once a gateway listens on the address again.
      const second = await loa2Produced(p);
      const port = sms.port;
      const old = sms;
      await sms.stop();
      await ok(call("POST", `/api/v1/orders/${second.orderId}/actions/send-by-mail`, {}, more[1]));
      await sleep(600);
      sms = await startSmsStub({ token: old.token, port });
      const m2 = await codeSms(second.orderId);
      await sleep(500);
      const accepted = [...old.messages, ...sms.messages].filter((r) => r.body?.to === p.phone);
      expect(
        accepted.map((r) => r.idempotencyKey),
        "each code delivered exactly once",
      ).to.deep.equal([m1.idempotencyKey, m2.idempotencyKey]);
      // What arrived is the code: the cards activate with it.
      for (const [o, m] of [
        [first, m1],
        [second, m2],
      ] as const) {
        const code = /: ([A-Z0-9]{10})$/m.exec(m.body.text)![1]!; // the code ends its first line
        expect(
          (await ok(call("POST", `/api/v1/holder/orders/${o.orderId}/activate`, { activationCode: code }, o.card)))
            .state,
        ).to.equal("ACTIVE");
      }
    });

    it(`fail/a 4xx from the gateway is final at once; a person without a phone number is a dead letter naming \
why`, async () => {
      const p = await person({ email: "dora5@leverans.example", phone: "+46701110005" });
      const { orderId } = await loa2Produced(p);
      sms.fail(1, 400);
      await ok(call("POST", `/api/v1/orders/${orderId}/actions/send-by-mail`, {}, more[1]));
      const q = await person({ email: "dora6@leverans.example" });
      const { orderId: o2 } = await loa2Produced(q);
      await ok(call("POST", `/api/v1/orders/${o2}/actions/send-by-mail`, {}, more[1]));
      let letters: any[] = [];
      for (
        let i = 0;
        i < 100 &&
        !(
          (letters = await ok(call("GET", "/api/v1/delivery/dead-letters", undefined, staff))).some(
            (l: any) => l.personId === p.id,
          ) && letters.some((l: any) => l.personId === q.id)
        );
        i++
      )
        await sleep(100);
      expect(letters.find((l) => l.personId === p.id))
        .to.include({ attempts: 1 })
        .and.to.have.property("lastError")
        .that.matches(/refused.*HTTP 400/);
      expect(letters.find((l) => l.personId === q.id)).to.include({
        attempts: 1,
        lastError: "the person has no phone number on record",
      });
      expect(sms.requests.filter((r) => r.body?.to === p.phone)).to.have.length(1);
    });

    it(`ok/workers racing for the same rows send each once; a worker that died after sending leaves the row to \
another, which sends it under the same idempotency key (the gateway sends it once)`, async () => {
      const p = await person({ phone: "+46701110007" });
      const ra = svc.ra!.ra;
      const ids = Array.from({ length: 20 }, () => randomBytes(16).toString("hex"));
      const rows = ids.map((id) =>
        outboxRow(
          {
            id,
            personId: p.id,
            channel: "sms",
            kind: "notice",
            secret: false,
            subject: "Notice",
            body: `Notice ${id}`,
            at: new Date(),
          },
          ra.cipher,
        ),
      );
      const extra = [
        openDelivery(svc.parts, ra, {
          channels: [smsGatewayChannel({ url: sms.url, token: async () => sms.token })],
        }),
        openDelivery(svc.parts, ra, {
          channels: [smsGatewayChannel({ url: sms.url, token: async () => sms.token })],
        }),
      ];
      await svc.parts.db("notifications").insert(rows);
      await Promise.all([...extra, ...extra].map((x) => x.worker.tick()));
      for (let i = 0; i < 100 && ids.some((id) => !sms.messages.some((m) => m.idempotencyKey === id)); i++)
        await sleep(100);
      expect(
        ids.filter((id) => sms.requests.filter((r) => r.idempotencyKey === id).length !== 1),
        "each sent exactly once, by one of three workers",
      ).to.deep.equal([]);

      // A worker claimed a row, sent it and died before it recorded the outcome: its claim runs out, another worker
      // sends it again under the same key.
      const crashId = randomBytes(16).toString("hex");
      const crashed = outboxRow(
        {
          id: crashId,
          personId: p.id,
          channel: "sms",
          kind: "notice",
          secret: false,
          subject: "Notice",
          body: "After a crash",
          at: new Date(),
        },
        ra.cipher,
      );
      await svc.parts
        .db("notifications")
        .insert({ ...crashed, attempts: 1, claimed_by: "crashed-worker", claimed_until: Date.now() + 1500 });
      await smsGatewayChannel({ url: sms.url, token: async () => sms.token }).send({
        id: crashId,
        kind: "notice",
        to: { name: "Dora", address: p.phone! },
        subject: "Notice",
        body: "After a crash",
        createdAt: new Date(),
      });
      for (
        let i = 0;
        i < 100 && (await svc.parts.db("notifications").where({ id: crashId }).first())!.state !== "delivered";
        i++
      )
        await sleep(100);
      const after = await svc.parts.db("notifications").where({ id: crashId }).first();
      expect(after!.state).to.equal("delivered");
      expect(Number(after!.attempts)).to.equal(2);
      expect(
        sms.requests.filter((r) => r.idempotencyKey === crashId).map((r) => r.duplicate),
        "sent twice, the second under the same key",
      ).to.deep.equal([false, true]);
      expect(sms.messages.filter((r) => r.idempotencyKey === crashId)).to.have.length(1);
    });

    it(`ok/a letter becomes one PDF print file (owner-only) that pdftotext reads: address, text; its PIN is wiped from \
the outbox once written`, async function () {
      requireTool(this, "pdftotext");
      const p = await person({ postalAddress: "Dora Delivery\nStorgatan 7\n111 22 Stockholm\nSWEDEN" });
      const id = randomBytes(16).toString("hex");
      const ra = svc.ra!.ra;
      await svc.parts.db("notifications").insert(
        outboxRow(
          {
            id,
            personId: p.id,
            channel: "mail",
            kind: "unblock-pin",
            secret: true,
            subject: "Your card was unblocked: new PIN",
            body: "New PIN for your card 00c0ffee: 482913.",
            at: new Date(),
          },
          ra.cipher,
        ),
      );
      let files: string[] = [];
      for (
        let i = 0;
        i < 100 &&
        (files = (() => {
          try {
            return readdirSync(spool).filter((f) => f.includes(id));
          } catch {
            return [];
          }
        })()).length === 0;
        i++
      )
        await sleep(100);
      expect(files).to.have.length(1);
      expect(files[0]).to.match(new RegExp(`^\\d{8}T\\d{9}Z-${id}\\.pdf$`));
      const file = join(spool, files[0]!);
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(readFileSync(file).subarray(0, 5).toString("latin1")).to.equal("%PDF-");
      const text = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
      for (const s of [
        "Storgatan 7",
        "111 22 Stockholm",
        "Your card was unblocked: new PIN",
        "New PIN for your card 00c0ffee: 482913.",
      ])
        expect(text).to.include(s);
      // The tests' reader of the peers finds it by the address on the letter (test/support/delivered.ts).
      expect(
        await new Delivered({ letterDir: spool }).pin("Dora Delivery\nStorgatan 7\n111 22 Stockholm", "unblock", 2000),
      ).to.include({ pin: "482913", cardSerial: "00c0ffee" });
      let row: any;
      for (
        let i = 0;
        i < 50 && (row = await svc.parts.db("notifications").where({ id }).first())!.state !== "delivered";
        i++
      )
        await sleep(100);
      expect(row.state).to.equal("delivered");
      expect((await ra.outbox.recent({ personId: p.id, limit: 1 }))[0]!.body).to.equal(WIPED_BODY);
    });

    it(`fail/binding a person with a phone number that is not E.164 or a one-line postal address is a \
400`, async () => {
      for (const bad of [
        { phone: "0701234567" },
        { phone: "+0701234567" },
        { postalAddress: "Storgatan 7" },
        { postalAddress: "a\nb\nc\nd\ne\nf\ng" },
      ]) {
        const r = await call(
          "POST",
          `/api/v1/organisations/${orgId}/people`,
          { nationalId: "197599999999", name: "Bad Contact", ...bad },
          staff,
        );
        expect(r.status, JSON.stringify(bad)).to.equal(400);
        expect(JSON.stringify([r.body.code, r.body.field ?? null]), JSON.stringify(bad)).to.be.oneOf(
          [
            ["validation.invalid-body", "phone"],
            ["validation.invalid-body", "postalAddress"],
            ["person.phone-format", null],
            ["person.postal-address-format", null],
          ].map((x) => JSON.stringify(x)),
        );
        expect(r.body.detail).to.match(/phone number is written in international form|postal address has 2 to 6 lines/);
      }
    });
  });

import { expect } from "chai";
import { request } from "node:https";
import { X509Certificate, generateKeyPairSync, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoBackends, demoEnvReady, requireTool } from "../support/environment.js";
import { startMailSink, type MailSink } from "../support/mail-sink.js";
import { startSmsStub, type SmsStub } from "../support/sms-stub.js";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { bootstrapStaff } from "../../src/composition/ra.js";
import { openDelivery } from "../../src/composition/delivery.js";
import { smsGatewayChannel } from "../../src/delivery/sms-gateway-channel.js";
import { outboxRow } from "../../src/store/outbox.store.js";
import { WIPED_BODY } from "../../src/store/delivery.store.js";

interface Cred { key: string; cert: string }
interface Reply { status: number; body: any; text: string }

const newKey = () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { key: privateKey.export({ type: "pkcs8", format: "pem" }) as string, spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })), spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string };
};
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
  let orgId = "";
  let seq = 0;
  const smtpUser = "cardpki-test";
  const smtpPass = randomBytes(12).toString("hex");

  function call(method: string, path: string, body?: unknown, cred?: Cred): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request({
        host: base.hostname, port: base.port, path, method, ca: serverCa, servername: "localhost", ...(cred ? { key: cred.key, cert: cred.cert } : {}),
        headers: data !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {},
      }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text && /json/.test(String(res.headers["content-type"])) ? JSON.parse(text) : undefined, text }));
      });
      req.on("error", reject);
      req.end(data);
    });
  }
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
  async function person(contact: { email?: string; phone?: string; postalAddress?: string }): Promise<{ id: string; nationalId: string; email?: string; phone?: string }> {
    const nationalId = `1975${String(++seq).padStart(4, "0")}${String(process.pid % 10000).padStart(4, "0")}`;
    const p = await ok(call("POST", `/api/v1/organisations/${orgId}/people`, { nationalId, name: `Dora Delivery ${seq}`, ...contact }, staff), 201);
    return { id: p.id, nationalId, ...contact };
  }
  const termsMail = (to: string, orderId: string) => sink.waitFor((m) => m.envelopeTo.includes(to) && m.text.includes(orderId), 20_000);

  /** A LoA2 order through the API up to PRODUCED, terms accepted with the link from the mail. */
  async function loa2Produced(p: { id: string; nationalId: string; email?: string }): Promise<{ orderId: string; card: Cred }> {
    const order = await ok(call("POST", "/api/v1/orders", { personId: p.id, workflowId: "loa2-card-order", nationalId: p.nationalId }, staff), 201);
    const [, , linkOrder, token] = LINK.exec((await termsMail(p.email!, order.id)).text)!;
    expect(linkOrder).to.equal(order.id);
    await ok(call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, { token, termsVersion: "2026-01", accepted: true }));
    const doc = { type: "passport", number: `DL${seq}777`, expires: "2032-01-01" };
    await ok(call("POST", `/api/v1/orders/${order.id}/actions/identify`, { document: doc, faceCompared: true }, more[0]));
    await ok(call("POST", `/api/v1/orders/${order.id}/actions/approve`, {}, more[1]));
    await ok(call("POST", `/api/v1/orders/${order.id}/actions/start-production`, {}, more[0]));
    const key = newKey();
    const produced = await ok(call("POST", `/api/v1/orders/${order.id}/actions/produce`, { publicKey: key.spkiPem }, staff));
    const rec = await svc.runtime.store.get(produced.certificateSerial);
    return { orderId: order.id, card: { key: key.key, cert: new X509Certificate(rec!.der!).toString() } };
  }

  before(async function () {
    const d = await demoEnvReady(this, backend);
    sink = await startMailSink({ tls: true, auth: { user: smtpUser, pass: smtpPass } });
    sms = await startSmsStub();
    const secrets = mkdtempSync(join(tmpdir(), "cardpki-delivery-"));
    spool = join(secrets, "letters");
    writeFileSync(join(secrets, "smtp-password"), smtpPass, { mode: 0o600 });
    writeFileSync(join(secrets, "sms-token"), sms.token, { mode: 0o600 });
    const config = loadConfig({
      ...d.env, CARDPKI_PORT: "0", CARDPKI_RA_PORT: "0", CARDPKI_HOST: "127.0.0.1",
      CARDPKI_SMTP_URL: sink.url, CARDPKI_SMTP_CA_FILE: sink.caFile, CARDPKI_SMTP_FROM: "cardpki test <no-reply@cardpki.test>",
      CARDPKI_SMTP_USER: smtpUser, CARDPKI_SMTP_PASSWORD_FILE: join(secrets, "smtp-password"),
      CARDPKI_SMS_URL: sms.url, CARDPKI_SMS_TOKEN_FILE: join(secrets, "sms-token"), CARDPKI_LETTER_DIR: spool,
      CARDPKI_DELIVERY_POLL_MS: "100", CARDPKI_DELIVERY_BACKOFF_SECONDS: "0.25", CARDPKI_DELIVERY_MAX_ATTEMPTS: "5", CARDPKI_DELIVERY_LEASE_SECONDS: "1",
    });
    const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
    for (let i = 1; i <= 40; i++) reg.people[`1975${String(i).padStart(4, "0")}${String(process.pid % 10000).padStart(4, "0")}`] = { status: "alive", givenName: "Registered", surname: `Recipient ${i}` };
    writeFileSync(config.ra.registerFile, JSON.stringify(reg));
    svc = await startService(config);
    base = new URL(svc.ra!.url);
    serverCa = readFileSync(config.ra.tlsCert, "utf8");
    staff = { key: readFileSync(join(config.dataDir, "demo-officers", "staff.key"), "utf8"), cert: readFileSync(join(config.dataDir, "demo-officers", "staff.crt"), "utf8") };
    for (const n of [1020, 1021]) {
      const k = newKey();
      const r = await bootstrapStaff(svc.runtime, svc.ra!.ra, {
        orgNumber: "556000-0000", orgName: "x", country: "SE", nationalId: `19800101${n}`, name: `Del Staff ${n}`, roles: ["ra-officer", "ra-admin"],
        qualifiedUntil: new Date(Date.now() + 86_400_000 * 100), publicKey: k.spki, operator: "test",
      });
      more.push({ key: k.key, cert: new X509Certificate(r.der).toString() });
    }
    const org = await ok(call("POST", "/api/v1/organisations", { orgNumber: `559${String(Date.now() % 1e7).padStart(7, "0")}`, name: "Leverans AB", country: "SE" }, staff), 201);
    orgId = org.id;
    await ok(call("POST", `/api/v1/organisations/${orgId}/onboarding`, { registrationCertificate: "test", domain: "leverans.example", domainValidationMethod: "dns-txt" }, staff));
  });
  after(async () => {
    await svc?.stop();
    await sink?.stop();
    await sms?.stop();
  });

  it("ok/the terms message arrives over SMTP with STARTTLS and AUTH; its link carries order and token; accepting with it works; the secret is wiped from the outbox row", async () => {
    const p = await person({ email: "dora1@leverans.example" });
    const order = await ok(call("POST", "/api/v1/orders", { personId: p.id, workflowId: "loa3-card-order", nationalId: p.nationalId }, staff), 201);
    const mail = await termsMail(p.email!, order.id);
    expect(mail.secure, "STARTTLS before the message").to.equal(true);
    expect(mail.user, "authenticated with the password from the owner-only file").to.equal(smtpUser);
    expect(mail.messageId).to.match(/^<[0-9a-f]{32}@cardpki\.test>$/);
    expect(mail.subject).to.match(/accept the terms/);
    const [, origin, linkOrder, token] = LINK.exec(mail.text)!;
    expect(new URL(origin!).port, "the link points at the RA's own port").to.equal(base.port);
    expect(linkOrder).to.equal(order.id);
    expect(mail.text, "the token also as text for API clients").to.include(`token: ${token}`);
    expect((await ok(call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, { token, termsVersion: "2026-01", accepted: true }))).state).to.equal("TERMS_ACCEPTED");
    // Storage property (REQ-15, REQ-29): the delivered row keeps its metadata, its body is a sealed marker.
    const id = /^<([0-9a-f]{32})@/.exec(mail.messageId!)![1]!;
    let row: any;
    for (let i = 0; i < 50 && (row = await svc.runtime.db("notifications").where({ id }).first()).state !== "delivered"; i++) await sleep(100);
    expect(row).to.include({ state: "delivered", kind: "terms-link", channel: "email", person_id: p.id });
    expect(Number(row.attempts)).to.equal(1);
    expect(row.body).to.match(/^enc:v1:/).and.not.include(token);
    const [note] = await svc.ra!.ra.outbox.recent({ personId: p.id, limit: 1 });
    expect(note!.body).to.equal(WIPED_BODY);
    expect(sink.messages.filter((m) => m.envelopeTo.includes(p.email!))).to.have.length(1);
  });

  it("ok/LoA2 by mail: the activation code reaches the SMS gateway with the bearer token and an idempotency key; the card activates with it", async () => {
    const p = await person({ email: "dora2@leverans.example", phone: "+46701110002" });
    const { orderId, card } = await loa2Produced(p);
    expect((await ok(call("POST", `/api/v1/orders/${orderId}/actions/send-by-mail`, {}, more[1]))).state).to.equal("HANDED_OUT");
    const m = await sms.waitFor((r) => r.body?.to === p.phone && String(r.body?.text).includes(orderId));
    expect(m.headers.authorization).to.equal(`Bearer ${sms.token}`);
    expect(m.idempotencyKey).to.match(/^[0-9a-f]{32}$/);
    expect(m.body.reference).to.equal(m.idempotencyKey);
    const code = /: ([A-Z0-9]{10})$/.exec(m.body.text)![1]!;
    const wrong = await call("POST", `/api/v1/holder/orders/${orderId}/activate`, { activationCode: "WRONGCODE1" }, card);
    expect(wrong.status).to.equal(422);
    expect((await ok(call("POST", `/api/v1/holder/orders/${orderId}/activate`, { activationCode: code }, card))).state).to.equal("ACTIVE");
  });

  it("fail/an SMTP peer that answers 451, then one that is down, loses nothing: retried with backoff and delivered exactly once when it is back", async () => {
    const p = await person({ email: "dora3@leverans.example" });
    sink.fail(2, 451);
    const t0 = Date.now();
    const o1 = await ok(call("POST", "/api/v1/orders", { personId: p.id, workflowId: "loa3-card-order", nationalId: p.nationalId }, staff), 201);
    await termsMail(p.email!, o1.id);
    expect(Date.now() - t0, "two backoffs (0.25 s, 0.5 s) before the third attempt").to.be.greaterThan(700);
    // The peer goes away; a message made meanwhile waits and arrives once a server listens again.
    const port = sink.port;
    await sink.stop();
    const o2 = await ok(call("POST", "/api/v1/orders", { personId: p.id, workflowId: "loa3-card-order", nationalId: p.nationalId }, staff), 201);
    await sleep(800);
    const old = sink;
    sink = await startMailSink({ tls: true, auth: { user: smtpUser, pass: smtpPass }, port });
    await termsMail(p.email!, o2.id);
    await sleep(500);
    expect([...old.messages, ...sink.messages].filter((m) => m.envelopeTo.includes(p.email!)).map((m) => m.text.includes(o1.id) ? "o1" : "o2")).to.deep.equal(["o1", "o2"]);
  });

  it("fail/an SMS gateway answering 503 until the last attempt: a dead letter in /metrics and the ra-admin API (no code in it); retried through the API it is delivered exactly once", async () => {
    const p = await person({ email: "dora4@leverans.example", phone: "+46701110004" });
    const { orderId } = await loa2Produced(p);
    const deadBefore = await metric(`channel="sms",state="dead"`);
    sms.fail(5, 503);
    await ok(call("POST", `/api/v1/orders/${orderId}/actions/send-by-mail`, {}, more[1]));
    let letters: any[] = [];
    for (let i = 0; i < 100 && !(letters = (await ok(call("GET", "/api/v1/delivery/dead-letters", undefined, more[0])))).some((l: any) => l.personId === p.id); i++) await sleep(100);
    const dead = letters.find((l) => l.personId === p.id);
    expect(dead).to.include({ channel: "sms", kind: "activation-code", attempts: 5, organisationId: orgId });
    expect(dead.lastError).to.match(/HTTP 503/);
    expect(JSON.stringify(dead)).to.not.match(/Activation code for order/);
    expect(sms.requests.filter((r) => r.body?.to === p.phone).map((r) => r.status)).to.deep.equal([503, 503, 503, 503, 503]);
    expect(await metric(`channel="sms",state="dead"`)).to.equal(deadBefore + 1);
    // Only an ra-admin: an unknown id is a 404, a non-id a 400.
    expect((await call("POST", `/api/v1/delivery/dead-letters/${"0".repeat(32)}/retry`, {}, more[0])).status).to.equal(404);
    expect((await call("POST", "/api/v1/delivery/dead-letters/nope/retry", {}, more[0])).status).to.equal(400);
    expect((await ok(call("POST", `/api/v1/delivery/dead-letters/${dead.id}/retry`, {}, more[0]))).state).to.equal("pending");
    await sms.waitFor((r) => r.body?.to === p.phone && r.idempotencyKey === dead.id);
    await sleep(500);
    expect(sms.messages.filter((r) => r.body?.to === p.phone)).to.have.length(1);
    expect(await metric(`channel="sms",state="dead"`)).to.equal(deadBefore);
    expect((await ok(call("GET", "/api/v1/delivery/dead-letters", undefined, more[0]))).some((l: any) => l.id === dead.id)).to.equal(false);
  });

  it("fail/a 4xx from the gateway is final at once; a person without a phone number is a dead letter naming why", async () => {
    const p = await person({ email: "dora5@leverans.example", phone: "+46701110005" });
    const { orderId } = await loa2Produced(p);
    sms.fail(1, 400);
    await ok(call("POST", `/api/v1/orders/${orderId}/actions/send-by-mail`, {}, more[1]));
    const q = await person({ email: "dora6@leverans.example" });
    const { orderId: o2 } = await loa2Produced(q);
    await ok(call("POST", `/api/v1/orders/${o2}/actions/send-by-mail`, {}, more[1]));
    let letters: any[] = [];
    for (let i = 0; i < 100 && !((letters = await ok(call("GET", "/api/v1/delivery/dead-letters", undefined, staff))).some((l: any) => l.personId === p.id) && letters.some((l: any) => l.personId === q.id)); i++) await sleep(100);
    expect(letters.find((l) => l.personId === p.id)).to.include({ attempts: 1 }).and.to.have.property("lastError").that.matches(/refused.*HTTP 400/);
    expect(letters.find((l) => l.personId === q.id)).to.include({ attempts: 1, lastError: "the person has no phone number on record" });
    expect(sms.requests.filter((r) => r.body?.to === p.phone)).to.have.length(1);
  });

  it("ok/workers racing for the same rows send each once; a worker that died after sending leaves the row to another, which sends it under the same idempotency key (the gateway sends it once)", async () => {
    const p = await person({ phone: "+46701110007" });
    const ra = svc.ra!.ra;
    const ids = Array.from({ length: 20 }, () => randomBytes(16).toString("hex"));
    const rows = ids.map((id) => outboxRow({ id, personId: p.id, channel: "sms", kind: "notice", secret: false, subject: "Notice", body: `Notice ${id}`, at: new Date() }, ra.cipher));
    const extra = [openDelivery(svc.runtime, ra, { channels: [smsGatewayChannel({ url: sms.url, token: async () => sms.token })] }), openDelivery(svc.runtime, ra, { channels: [smsGatewayChannel({ url: sms.url, token: async () => sms.token })] })];
    await svc.runtime.db("notifications").insert(rows);
    await Promise.all([...extra, ...extra].map((x) => x.worker.tick()));
    for (let i = 0; i < 100 && ids.some((id) => !sms.messages.some((m) => m.idempotencyKey === id)); i++) await sleep(100);
    expect(ids.filter((id) => sms.requests.filter((r) => r.idempotencyKey === id).length !== 1), "each sent exactly once, by one of three workers").to.deep.equal([]);

    // A worker claimed a row, sent it and died before it recorded the outcome: its claim runs out, another worker sends it again under the same key.
    const crashId = randomBytes(16).toString("hex");
    const crashed = outboxRow({ id: crashId, personId: p.id, channel: "sms", kind: "notice", secret: false, subject: "Notice", body: "After a crash", at: new Date() }, ra.cipher);
    await svc.runtime.db("notifications").insert({ ...crashed, attempts: 1, claimed_by: "crashed-worker", claimed_until: Date.now() + 1500 });
    await smsGatewayChannel({ url: sms.url, token: async () => sms.token }).send({ id: crashId, kind: "notice", to: { name: "Dora", address: p.phone! }, subject: "Notice", body: "After a crash", createdAt: new Date() });
    for (let i = 0; i < 100 && (await svc.runtime.db("notifications").where({ id: crashId }).first()).state !== "delivered"; i++) await sleep(100);
    const after = await svc.runtime.db("notifications").where({ id: crashId }).first();
    expect(after.state).to.equal("delivered");
    expect(Number(after.attempts)).to.equal(2);
    expect(sms.requests.filter((r) => r.idempotencyKey === crashId).map((r) => r.duplicate), "sent twice, the second under the same key").to.deep.equal([false, true]);
    expect(sms.messages.filter((r) => r.idempotencyKey === crashId)).to.have.length(1);
  });

  it("ok/a letter becomes one PDF print file (owner-only) that pdftotext reads: address, text; its PIN is wiped from the outbox once written", async function () {
    requireTool(this, "pdftotext");
    const p = await person({ postalAddress: "Dora Delivery\nStorgatan 7\n111 22 Stockholm\nSWEDEN" });
    const id = randomBytes(16).toString("hex");
    const ra = svc.ra!.ra;
    await svc.runtime.db("notifications").insert(outboxRow({ id, personId: p.id, channel: "mail", kind: "unblock-pin", secret: true, subject: "Your card was unblocked: new PIN", body: "New PIN for your card 00c0ffee: 482913.", at: new Date() }, ra.cipher));
    let files: string[] = [];
    for (let i = 0; i < 100 && (files = (() => { try { return readdirSync(spool).filter((f) => f.includes(id)); } catch { return []; } })()).length === 0; i++) await sleep(100);
    expect(files).to.have.length(1);
    expect(files[0]).to.match(new RegExp(`^\\d{8}T\\d{9}Z-${id}\\.pdf$`));
    const file = join(spool, files[0]!);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(readFileSync(file).subarray(0, 5).toString("latin1")).to.equal("%PDF-");
    const text = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
    for (const s of ["Storgatan 7", "111 22 Stockholm", "Your card was unblocked: new PIN", "New PIN for your card 00c0ffee: 482913."]) expect(text).to.include(s);
    let row: any;
    for (let i = 0; i < 50 && (row = await svc.runtime.db("notifications").where({ id }).first()).state !== "delivered"; i++) await sleep(100);
    expect(row.state).to.equal("delivered");
    expect((await ra.outbox.recent({ personId: p.id, limit: 1 }))[0]!.body).to.equal(WIPED_BODY);
  });

  it("fail/binding a person with a phone number that is not E.164 or a one-line postal address is a 400", async () => {
    for (const bad of [{ phone: "0701234567" }, { phone: "+0701234567" }, { postalAddress: "Storgatan 7" }, { postalAddress: "a\nb\nc\nd\ne\nf\ng" }]) {
      const r = await call("POST", `/api/v1/organisations/${orgId}/people`, { nationalId: "197599999999", name: "Bad Contact", ...bad }, staff);
      expect(r.status, JSON.stringify(bad)).to.equal(400);
      expect(r.body.detail).to.match(/phone|postalAddress/);
    }
  });
});

import { expect } from "chai";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { loadConfig } from "../../src/composition/config.js";
import type { OperatorCa } from "../../src/composition/operator-role.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { DEMO_OFFICERS } from "../../src/composition/demo-setup.js";
import type { Ra } from "../../src/composition/ra.js";
import { openCards, type Cards } from "../../src/composition/cards.js";
import { demoOrderInProduction, staffActor } from "../../src/composition/demo-orders.js";
import type { Actor } from "../../src/ra/order.js";
import { toPem } from "../../src/asn1/der.js";
import { CaError } from "../../src/shared/ca-error.js";
import { CLI, demoEnv, run, waitFor, type DemoEnv } from "../support/environment.js";
import { VIRTUAL_READER, cardStart, cardStop, freshCard, virtualCard } from "../support/virtual-card.js";
import { trustVirtualCardMaker, virtualCardMakerRootFile } from "../support/attestation-fixture.js";
import { loadOrCreateMakerRoot } from "../support/piv-attestation-maker.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";

const OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const HOLDER_ID = "197003033456"; // alive in the demo register

/**
 * PIV personalisation through the real stack: node pcsclite → pcscd → vpcd → the virtual PIV
 * card; certificates from the SoftHSM2 demo CA; judged by yubico-piv-tool, OpenSC and OpenSSL.
 */
describe("card personalisation on a virtual PIV card through real pcscd (REQ-14, SP 800-73-4)", function () {
  this.timeout(180_000);
  let env: DemoEnv;
  let rt: OperatorCa;
  let ra: Ra;
  let cards: Cards;
  let dir: string;
  let staff: Actor;
  let svc: Service;
  let peers: DeliveryPeers;
  /** The phone number each holder of this test was bound with (the workflows send PINs by SMS, REQ-15). */
  const phoneOf = new Map<string, string>();

  before(async function () {
    env = demoEnv(this);
    virtualCard(this);
    await freshCard();
    // REQ-14: the virtual card's TEST maker root, installed as an operator installs a card maker's root
    trustVirtualCardMaker(env.caStore);
    dir = mkdtempSync(join(tmpdir(), "card-it-"));
    // The RA server runs: the standalone station's CLI commands go through its API as an officer.
    peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
    svc = await startService(
      loadConfig({ ...env.env, ...peers.env, CARDPKI_PORT: "0", CARDPKI_RA_PORT: "0", CARDPKI_HOST: "127.0.0.1" }),
    );
    rt = svc.parts;
    ra = svc.ra!.ra;
    // In process, the station acts as the demo's ca-operator ed (an officer, never a typed name).
    cards = openCards(rt, ra, await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId));
    // the demo's service-owner staff (setup-demo)
    staff = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
  });
  after(async () => {
    await svc?.stop();
    await peers?.stop();
  });
  /** The CLI, asynchronously: the RA server it calls answers from this process. */
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: env.env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "",
        stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  const officerArgs = (id: string) => [
    "--cert",
    join(env.env.CARDPKI_DATA_DIR!, "demo-officers", `${id}.crt`),
    "--key",
    join(env.env.CARDPKI_DATA_DIR!, "demo-officers", `${id}.key`),
    "--ra-url",
    svc.ra!.url,
  ];

  const orderInProduction = async (workflowId = "loa3-card-order") => {
    const phone = `+4670${String(randomBytes(4).readUInt32BE(0) % 10_000_000).padStart(7, "0")}`;
    const r = await demoOrderInProduction(rt, ra, {
      staff,
      workflowId,
      orgNumber: `55${String(randomBytes(4).readUInt32BE(0) % 100_000_000).padStart(8, "0")}`,
      holder: { nationalId: HOLDER_ID, name: "Cy Holder", email: `cy.${phone.slice(1)}@holder.example`, phone },
      termsToken: (id) => peers.termsToken(id),
    });
    phoneOf.set(r.holderId, phone);
    return r;
  };

  async function personalise(orderId: string, onStep?: Parameters<Cards["job"]>[0]) {
    const t = cards.transport();
    try {
      const ch = await t.connect(VIRTUAL_READER);
      try {
        return await cards.job(onStep).run(orderId, ch, "operator:card-it");
      } finally {
        await ch.close();
      }
    } finally {
      t.close();
    }
  }
  /**
   * The holder's next PIN message not read before, as the SMS gateway stub received it (REQ-15: the workflows' PIN
   * channel).
   */
  const lastLetter = async (personId: string) =>
    (
      await peers.next(
        phoneOf.get(personId)!,
        (m) => /PIN for your card|PIN-kod för ditt kort|PIN för ditt kort/.test(m.text),
        `a PIN message to the holder ${personId}`,
      )
    ).text;
  const pinOf = async (personId: string) =>
    /(?:PIN for your card|PIN-kod för ditt kort|PIN för ditt kort) [0-9a-f]+: ([0-9]{6,8})/i.exec(
      await lastLetter(personId),
    )![1]!;
  const tool = (cmd: string, args: string[]) => run(cmd, args);

  let personalised: { orderId: string; holderId: string; certSerial: string };

  it(`ok/full LoA3 personalisation; yubico-piv-tool and pkcs15-tool see the certificate in 9A; an on-card signature \
made through OpenSC's PKCS#11 module verifies with OpenSSL against the issued certificate`, async function () {
    if (!require_("pkcs11-tool") || !require_("yubico-piv-tool")) return this.skip();
    const { orderId, holderId } = await orderInProduction();
    const r = await personalise(orderId);
    personalised = { orderId, holderId, certSerial: r.certSerial };
    expect(r.slot).to.equal("9a");
    const order = (await ra.orderStore.load(orderId))!;
    expect([order.state, order.certSerial]).to.deep.equal(["PRODUCED", r.certSerial]);
    const rec = (await rt.store.get(r.certSerial))!;
    const certPem = join(dir, "card.pem");
    writeFileSync(certPem, toPem("CERTIFICATE", rec.der!));

    const status = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "status"]);
    expect(status.status, status.out).to.equal(0);
    expect(status.out).to.match(/Slot 9a:/);
    expect(status.out).to.include("Cy Holder");
    const p15 = await tool("pkcs15-tool", ["--list-certificates"]);
    expect(p15.status, p15.out).to.equal(0);
    expect(p15.out).to.match(/X\.509 Certificate \[.*PIV AUTH/i);

    // The chain: the certificate read back from the card verifies under the demo root.
    const chain = await tool("openssl", [
      "verify",
      "-CAfile",
      join(env.caStore, "demo-root", "cert.pem"),
      "-untrusted",
      join(env.caStore, "demo-issuing", "cert.pem"),
      certPem,
    ]);
    expect(chain.out).to.include(": OK");

    // REQ-13: the key signs only after the PIN; the signature verifies with the issued certificate.
    const pin = await pinOf(holderId);
    const digest = join(dir, "digest.bin");
    writeFileSync(digest, createHash("sha256").update("signed by the card").digest());
    const sig = join(dir, "sig.der");
    const noPin = await tool("pkcs11-tool", [
      "--module",
      OPENSC_PKCS11,
      "--sign",
      "-m",
      "ECDSA",
      "--id",
      "01",
      "-i",
      digest,
      "-o",
      join(dir, "nopin.der"),
    ]);
    expect(noPin.status).to.not.equal(0);
    const signed = await tool("pkcs11-tool", [
      "--module",
      OPENSC_PKCS11,
      "--login",
      "--pin",
      pin,
      "--sign",
      "-m",
      "ECDSA",
      "--id",
      "01",
      "--signature-format",
      "openssl",
      "-i",
      digest,
      "-o",
      sig,
    ]);
    expect(signed.status, signed.out).to.equal(0);
    const pub = join(dir, "pub.pem");
    writeFileSync(pub, new X509Certificate(readFileSync(certPem)).publicKey.export({ type: "spki", format: "pem" }));
    const v = await tool("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", digest, "-sigfile", sig]);
    expect(v.out).to.match(/Signature Verified Successfully/);

    // The factory management key no longer opens the card; secrets are stored sealed only.
    const factoryKey = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "delete-certificate", "-s", "9a"]);
    expect(factoryKey.status).to.not.equal(0);
    const card = await rt.db("cards").where({ order_id: orderId }).first();
    expect([card!.state, card!.slot, card!.algorithm, card!.pin_state]).to.deep.equal([
      "personalised",
      "9a",
      "P-256",
      "transport",
    ]);
    expect(card!.puk_sealed).to.match(/^v1\./);
    const audit = await rt.db("audit_events").where({ object_type: "card", object_id: card!.id }).orderBy("seq");
    expect(audit.map((a: any) => a.action)).to.deep.equal([
      "card.personalise.start",
      "card.management-key.pending",
      "card.management-key.set",
      "card.key.generate",
      "card.certificate.write",
      "card.pin.set",
      "card.personalise",
    ]);
  });

  it(`ok/REQ-14: yubico-piv-tool -a attest on the personalised card gives an attestation that openssl verify accepts \
against the TEST maker root and the card's f9 certificate (and not against another root); its key is the certified \
one; the audit trail and \`cardpki audit evidence\` record it`, async function () {
    if (!personalised || !require_("yubico-piv-tool")) return this.skip();
    const att = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "attest", "-s", "9a"]);
    expect(att.status, att.out).to.equal(0);
    const f9 = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "read-certificate", "-s", "f9"]);
    expect(f9.status, f9.out).to.equal(0);
    const attPem = join(dir, "attestation.pem"),
      f9Pem = join(dir, "f9.pem");
    writeFileSync(attPem, att.stdout);
    writeFileSync(f9Pem, f9.stdout);
    const ok = await tool("openssl", ["verify", "-CAfile", virtualCardMakerRootFile(), "-untrusted", f9Pem, attPem]);
    expect(ok.out).to.include(`${attPem}: OK`);
    loadOrCreateMakerRoot(join(dir, "other-maker"));
    const other = await tool("openssl", [
      "verify",
      "-CAfile",
      join(dir, "other-maker", "maker-root.pem"),
      "-untrusted",
      f9Pem,
      attPem,
    ]);
    expect(other.status).to.not.equal(0);
    const attested = new X509Certificate(att.stdout);
    expect(attested.subject).to.equal("CN=YubiKey PIV Attestation 9a");
    const issued = new X509Certificate((await rt.store.get(personalised.certSerial))!.der!);
    expect(attested.publicKey.export({ type: "spki", format: "pem" })).to.equal(
      issued.publicKey.export({ type: "spki", format: "pem" }),
    );
    const cardSerial = (await rt.db("cards").where({ order_id: personalised.orderId }).first())!.card_serial;
    const produce = await rt
      .db("audit_events")
      .where({ object_id: personalised.orderId, action: "order.produce" })
      .first();
    const origin = JSON.parse(produce!.details!).keyOrigin;
    expect(origin).to.include({
      method: "piv-attestation",
      cardSerial,
      slot: "9a",
      pinPolicy: "once",
      touchPolicy: "never",
      firmware: "5.2.7",
    });
    expect(origin.root.subject).to.match(/TEST ONLY/);
    const ev = await cli(["audit", "evidence", "--serial", personalised.certSerial]);
    expect(ev.status, ev.stderr).to.equal(0);
    const e = JSON.parse(ev.stdout);
    expect(e.keyOrigin).to.include({
      method: "piv-attestation",
      cardSerial,
      intermediateSha256: createHash("sha256").update(new X509Certificate(f9.stdout).raw).digest("hex"),
    });
    expect(e.verdicts.find((v: any) => v.requirement === "REQ-14")).to.include({
      rule: "key generated on the card (attested)",
      result: "pass",
    });
  });

  it(`ok/a wrong PIN counts down and blocks (yubico-piv-tool); the officer unblocks with the sealed PUK and the new \
PIN signs again`, async function () {
    if (!personalised) return this.skip();
    for (const left of ["2 tries left", "1 tries left"]) {
      const r = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "verify-pin", "-P", "000000"]);
      expect(r.out).to.include(left);
    }
    const blocked = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "verify-pin", "-P", "000000"]);
    expect(blocked.out).to.match(/blocked/i);
    const t = cards.transport();
    try {
      const ch = await t.connect(VIRTUAL_READER);
      try {
        expect((await cards.lifecycle.unblock(ch, "operator:card-it", "sms")).triesBefore).to.equal(0);
      } finally {
        await ch.close();
      }
    } finally {
      t.close();
    }
    // Swedish: the holder's organisation is Swedish
    const pin = /Ny PIN-kod för ditt kort [0-9a-f]+: ([0-9]{6})/.exec(await lastLetter(personalised.holderId))![1]!;
    const ok = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "verify-pin", "-P", pin]);
    expect(ok.status, ok.out).to.equal(0);
    const audit = await rt.db("audit_events").where({ action: "card.unblock" });
    expect(audit).to.have.length.greaterThan(0);
  });

  it(`ok/CLI: card list-readers and card status show the reader, the card and our record; card retire zeroises and \
revokes`, async function () {
    if (!personalised) return this.skip();
    const readers = await cli(["card", "list-readers"]);
    expect(readers.status, readers.stderr).to.equal(0);
    expect(JSON.parse(readers.stdout)).to.deep.include.members([
      {
        name: VIRTUAL_READER,
        cardPresent: true,
        atr: JSON.parse(readers.stdout).find((r: any) => r.name === VIRTUAL_READER).atr,
      },
    ]);
    const st = await cli(["card", "status", "--reader", VIRTUAL_READER]);
    expect(st.status, st.stderr).to.equal(0);
    const s = JSON.parse(st.stdout);
    expect([s.record.state, s.certificates[0].slot]).to.deep.equal(["personalised", "9a"]);
    expect(s.certificates[0].serial.replace(/^0+/, "")).to.equal(personalised.certSerial.replace(/^0+/, ""));
    expect(JSON.stringify(s)).to.not.match(/sealed/i);
    const retired = await cli([
      "card",
      "retire",
      "--reader",
      VIRTUAL_READER,
      "--reason",
      "cessationOfOperation",
      "--operator",
      "carol",
      ...officerArgs("bo"),
    ]);
    expect(retired.status, retired.stderr).to.equal(0);
    expect((await rt.store.get(personalised.certSerial))!.revocationReason).to.equal("cessationOfOperation");
    const after = await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "status"]);
    expect(after.out).to.not.match(/Slot 9a:/);
    const bad = await cli(["card", "personalise"]);
    expect([bad.status, bad.stderr]).to.satisfy(([c, e]: [number, string]) => c === 2 && /--order is required/.test(e));
  });

  it(`fail/the card is pulled mid-job (emulator stopped after issuance): a clear error, the certificate revoked, the \
order back in production; a new card finishes the order`, async () => {
    const { orderId } = await orderInProduction();
    let issued: string | undefined;
    let err: unknown;
    try {
      await personalise(orderId, async (step) => {
        if (step !== "certificate-issued") return;
        issued = (await ra.orderStore.load(orderId))!.certSerial;
        await cardStop();
      });
    } catch (e) {
      err = e;
    } finally {
      await cardStart();
    }
    expect(err).to.be.instanceOf(CaError);
    expect((err as CaError).kind).to.equal("unavailable");
    expect((err as CaError).message).to.match(/removed|gone|did not answer/);
    expect((err as CaError).message).to.match(/revoked, the order is back in production/);
    const order = (await ra.orderStore.load(orderId))!;
    expect([order.state, order.certSerial]).to.deep.equal(["IN_PRODUCTION", undefined]);
    expect((await rt.store.get(issued!))!.revocationReason).to.equal("superseded");
    expect((await rt.db("cards").where({ order_id: orderId }).first())!.state).to.equal("failed");
    const again = await personalise(orderId);
    expect(again.certSerial).to.not.equal(issued);
    expect((await ra.orderStore.load(orderId))!.state).to.equal("PRODUCED");
  });

  it(`ok/activation at the card station (REQ-16): \`cardpki card activate\` replaces the transport PIN on the virtual \
card, the station records it, the card (TLS with its held certificate through OpenSC) signs the RA's challenge; \
openssl ocsp says certificateHold before and good after`, async function () {
    if (!require_("pkcs11-tool")) return this.skip();
    // a card of its own (the earlier tests' cards are someone's)
    await freshCard(0x600000 + (randomBytes(2).readUInt16BE(0) % 0xffff));
    const { orderId, holderId, officers } = await orderInProduction();
    const r = await personalise(orderId);
    const transportPin = await pinOf(holderId);
    await ra.orders.act(orderId, "hand-out", officers[2]!, {
      secondIdentification: {
        document: { type: "passport", number: "HO123456", expires: new Date("2035-01-01") },
        faceCompared: true,
      },
    });
    const config = svc.parts.config;
    {
      const certPem = join(dir, "activate-card.pem");
      writeFileSync(certPem, toPem("CERTIFICATE", (await rt.store.get(r.certSerial))!.der!));
      const ocsp = async () =>
        (
          await tool("openssl", [
            "ocsp",
            "-issuer",
            join(env.caStore, "demo-issuing", "cert.pem"),
            "-CAfile",
            join(env.caStore, "demo-root", "cert.pem"),
            "-cert",
            certPem,
            "-url",
            `${svc.url}/ocsp`,
            "-no_nonce",
          ])
        ).out;
      expect(await ocsp())
        .to.match(/: revoked/)
        .and.match(/Reason: certificateHold/);
      const pins = { transport: join(dir, "transport.pin"), fresh: join(dir, "new.pin") };
      writeFileSync(pins.transport, transportPin, { mode: 0o600 });
      writeFileSync(pins.fresh, "739184", { mode: 0o600 });
      const officerDir = join(config.dataDir, "demo-officers");
      const out = await tool(process.execPath, [
        CLI,
        "card",
        "activate",
        "--order",
        orderId,
        "--ra",
        svc.ra!.url,
        "--ra-ca",
        config.ra.tlsCert,
        "--reader",
        VIRTUAL_READER,
        "--station-cert",
        join(officerDir, "ed.crt"),
        "--station-key",
        join(officerDir, "ed.key"),
        "--transport-pin-file",
        pins.transport,
        "--new-pin-file",
        pins.fresh,
      ]); // ed: the demo's ca-operator at the station
      expect(out.status, out.out).to.equal(0);
      expect(JSON.parse(out.stdout)).to.deep.include({ orderId, state: "ACTIVE", certificateSerial: r.certSerial });
      let now = "";
      expect(await waitFor(async () => /: good/.test((now = await ocsp())), 2000, 100), now).to.equal(true);
      // The card now refuses the transport PIN; the new one works (judged by yubico-piv-tool when present).
      if (require_("yubico-piv-tool")) {
        expect(
          (await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "verify-pin", "-P", transportPin])).out,
        ).to.match(/tries left|wrong|failed/i);
        expect(
          (await tool("yubico-piv-tool", ["-r", VIRTUAL_READER, "-a", "verify-pin", "-P", "739184"])).status,
        ).to.equal(0);
      }
      const trail = (
        await rt.db("audit_events").where({ object_type: "order", object_id: orderId }).orderBy("seq")
      ).map((a: any) => a.action);
      expect(trail.slice(-3)).to.deep.equal([
        "order.transport-pin-replaced",
        "order.activation-challenge",
        "order.activate",
      ]);
    }
  });

  it(`ok/CLI: card personalise goes through the RA API as the station's officer (ed's client certificate): the order \
produced, the call audited as ed`, async () => {
    await freshCard(0x20000000 + (Date.now() % 0x0fffffff));
    const { orderId } = await orderInProduction();
    // Not a ca-operator: bo's certificate is refused by the RA at produce (REQ-24); the order stays in production.
    const bo = await cli([
      "card",
      "personalise",
      "--order",
      orderId,
      "--reader",
      VIRTUAL_READER,
      "--operator",
      "carol",
      ...officerArgs("bo"),
    ]);
    expect([bo.status, bo.stderr]).to.satisfy(([c, e]: [number, string]) => c === 1 && /403/.test(e));
    expect((await ra.orderStore.load(orderId))!.state).to.equal("IN_PRODUCTION");
    const r = await cli([
      "card",
      "personalise",
      "--order",
      orderId,
      "--reader",
      VIRTUAL_READER,
      "--operator",
      "carol",
      ...officerArgs("ed"),
    ]);
    expect(r.status, r.stderr).to.equal(0);
    const o = (await ra.orderStore.load(orderId))!;
    expect(o.state).to.equal("PRODUCED");
    expect(JSON.parse(r.stdout).certSerial).to.equal(o.certSerial);
    const ed = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId);
    const produced = await rt.db("audit_events").where({ action: "order.produce", object_id: orderId }).first();
    expect(produced!.actor).to.equal(`officer:${ed.personId}`);
    const call = await rt
      .db("audit_events")
      .where({
        action: "api.post /orders/:id/actions/:action",
        object_id: `/api/v1/orders/${orderId}/actions/produce`,
        outcome: "success",
      })
      .first();
    expect(call!.actor).to.equal(`officer:${ed.personId}`);
    const ledger = await rt
      .db("audit_events")
      .where({ action: "card.personalise", object_type: "card" })
      .orderBy("seq", "desc")
      .first();
    expect(ledger!.actor).to.match(/^operator:carol@os:/);
  });

  it(`ok/the transport sees the card pulled and inserted (reader events), and closes without leaving the process \
hanging`, async () => {
    const t = cards.transport();
    const seen: boolean[] = [];
    try {
      const stop = t.watch((readers) =>
        seen.push(readers.find((r) => r.name === VIRTUAL_READER)?.cardPresent ?? false),
      );
      expect((await t.list()).map((r) => r.name)).to.include(VIRTUAL_READER);
      await cardStop();
      await cardStart();
      await new Promise((r) => setTimeout(r, 300));
      stop();
    } finally {
      t.close();
    }
    expect(seen).to.include(false);
    expect(seen.at(-1)).to.equal(true);
  });

  it(`fail/REQ-14: a card whose attestation chains to a maker root nobody installed: production refused \
(key-attested), no certificate, the order stays in production`, async () => {
    await freshCard(0x20000000 + (Date.now() % 0x0fffffff), { makerDir: join(dir, "rogue-maker") });
    const { orderId } = await orderInProduction();
    const before = (await rt.db("certificates").count({ n: "*" }).first()) as { n: number };
    const e = await personalise(orderId).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(CaError);
    expect([(e as CaError).kind, (e as CaError).details?.guard]).to.deep.equal(["policy-violation", "key-attested"]);
    expect((e as Error).message).to.match(/does not chain to a configured card-maker root.*REQ-14/);
    expect((await rt.db("certificates").count({ n: "*" }).first()) as { n: number }).to.deep.equal(before);
    expect((await ra.orderStore.load(orderId))!.state).to.equal("IN_PRODUCTION");
    expect((await rt.db("cards").where({ order_id: orderId }).first())!.state).to.equal("failed");
  });

  it(`ok/REQ-14 LoA2: a card without attestation is produced on the card station's own word (the evidence says not \
attested); fail/the same kind of card for a LoA3 order is refused`, async () => {
    await freshCard(0x30000000 + (Date.now() % 0x0fffffff), { noAttestation: true });
    const loa3 = await orderInProduction();
    const refusedE = await personalise(loa3.orderId).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((refusedE as CaError).details?.guard).to.equal("key-attested");
    expect((refusedE as Error).message).to.match(/only keys that come with the card's PIV attestation/);
    expect((await ra.orderStore.load(loa3.orderId))!.state).to.equal("IN_PRODUCTION");
    const loa2 = await orderInProduction("loa2-card-order");
    const r = await personalise(loa2.orderId);
    expect(r.keyAttested).to.equal(false);
    const produce = await rt.db("audit_events").where({ object_id: loa2.orderId, action: "order.produce" }).first();
    expect(JSON.parse(produce!.details!).keyOrigin).to.include({
      method: "card-station",
      attested: false,
      cardSerial: r.cardSerial,
    });
    const ev = JSON.parse((await cli(["audit", "evidence", "--serial", r.certSerial])).stdout);
    expect(ev.verdicts.find((v: any) => v.requirement === "REQ-14")).to.include({ result: "pass" });
    expect(ev.verdicts.find((v: any) => v.requirement === "REQ-14").detail).to.match(
      /no attestation: key generated by the card station/,
    );
    await freshCard();
  });
});

function require_(tool: string): boolean {
  const ok = spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
  if (!ok && process.env.CI === "true") throw new Error(`${tool} is required under CI`);
  return ok;
}

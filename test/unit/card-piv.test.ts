import { parseTemplateBody } from "../../src/shared/message-template.js";
import { expect } from "chai";
import { createPublicKey, verify, createHash, X509Certificate } from "node:crypto";
import { Iso7816, extendedLengthFromAtr, type CardChannel } from "../../src/card/iso7816.js";
import { PivCard } from "../../src/card/piv-card.js";
import { statusError } from "../../src/card/status-words.js";
import { PersonalisationJob, randomDigits, type JobStep } from "../../src/card/personalisation-job.js";
import { CardLifecycle } from "../../src/card/card-lifecycle.js";
import { CardActivation } from "../../src/card/card-activation.js";
import { activationHash, activationMessage } from "../../src/ra/activation.js";
import type {
  CardAuditEvent,
  CardKey,
  CardLedger,
  CardPolicy,
  CardProduction,
  CardRecord,
  HolderLetter,
} from "../../src/card/ports.js";
import { aesGcmSealer } from "../../src/composition/card-sealer.js";
import { CertificateIssuer } from "../../src/ca/certificate-issuer.js";
import { FixedClock, systemClock } from "../../src/shared/clock.js";
import { cryptoRandom, SeqRandom } from "../../src/shared/random.js";
import { CaError } from "../../src/shared/ca-error.js";
import { fromHex } from "../../src/asn1/der.js";
import { PivEmulator, DEFAULT_MANAGEMENT_KEY_HEX } from "../support/piv-emulator.js";
import { MemoryCertStore } from "../support/fakes.js";
import { PROFILES, softwareAuthority } from "../support/test-ca.js";
import { refused } from "../support/refused.js";
import { createMakerRoot, type Signer } from "../support/piv-attestation-maker.js";
import { verifyPivAttestation } from "../../src/card/piv-attestation.js";

/** The emulator as a channel, in process (no PC/SC): the same driver code the real stack runs. */
function emulatorChannel(emu: PivEmulator, log?: Uint8Array[]): CardChannel {
  return {
    reader: "in-process",
    atr: emu.atr,
    transmit: async (apdu) => (log?.push(apdu), emu.processApdu(apdu)),
    close: async () => undefined,
  };
}
const FACTORY = {
  pin: "123456",
  puk: "12345678",
  managementKey: fromHex(DEFAULT_MANAGEMENT_KEY_HEX),
  managementKeyAlgorithm: "3DES" as const,
};

describe("card/iso7816 (ISO/IEC 7816-4 transmission)", () => {
  const scripted = (answers: string[], sent: string[]): CardChannel => ({
    reader: "script",
    atr: new Uint8Array(0),
    close: async () => undefined,
    transmit: async (apdu) => (
      sent.push(Buffer.from(apdu).toString("hex")),
      Uint8Array.from(Buffer.from(answers.shift()!, "hex"))
    ),
  });
  it("ok/long data goes in chained short APDUs (CLA b5), 61xx is collected with GET RESPONSE", async () => {
    const sent: string[] = [];
    const link = new Iso7816(scripted(["9000", "9000", "aabb6102", "ccdd9000"], sent), false);
    const r = await link.send({ cla: 0x00, ins: 0xdb, p1: 0x3f, p2: 0xff, data: new Uint8Array(600) });
    expect(r).to.deep.equal({ data: Buffer.from("aabbccdd", "hex"), sw: 0x9000 });
    expect(sent.map((s) => s.slice(0, 10))).to.deep.equal(["10db3fffff", "10db3fffff", "00db3fff5a", "00c0000002"]);
    expect(link.roundTrips).to.equal(4);
  });
  it("ok/6Cxx: the command is repeated with the Le the card asked for", async () => {
    const sent: string[] = [];
    const r = await new Iso7816(scripted(["6c08", "01020304050607089000"], sent), false).send({
      cla: 0x00,
      ins: 0xcb,
      p1: 0x3f,
      p2: 0xff,
      data: Uint8Array.of(0x5c, 0x01, 0x7e),
    });
    expect(sent).to.deep.equal(["00cb3fff035c017e00", "00cb3fff035c017e08"]);
    expect(r.data).to.have.length(8);
  });
  it("ok/extended length when the ATR's card capabilities say so (YubiKey 5), not for the emulator's ATR", async () => {
    expect(extendedLengthFromAtr(fromHex("3bfd1300008131fe158073c021c057597562694b657940"))).to.equal(true);
    expect(extendedLengthFromAtr(new PivEmulator().atr)).to.equal(false);
    const sent: string[] = [];
    await new Iso7816(scripted(["9000"], sent), true).send({
      cla: 0x00,
      ins: 0xdb,
      p1: 0x3f,
      p2: 0xff,
      data: new Uint8Array(300),
      le: false,
    });
    expect(sent[0]!.slice(0, 14)).to.equal("00db3fff00012c");
  });
  it("ok/status words become clear errors with the tries left", () => {
    expect([statusError(0x63c2, "VERIFY").kind, statusError(0x63c2, "VERIFY").details?.triesLeft]).to.deep.equal([
      "unauthorized",
      2,
    ]);
    expect(statusError(0x6983, "VERIFY").message).to.match(/blocked.*PUK/);
    expect(statusError(0x6a82, "GET DATA").kind).to.equal("not-found");
    expect(statusError(0x6f00, "X").message).to.match(/SW 6F00/);
  });
});

describe("card/piv-card (NIST SP 800-73-4) against the emulator", () => {
  it(`ok/select, serial, management key 3DES then AES-256, keys P-256/P-384/RSA-2048 generated on the card that sign \
under the PIN`, async () => {
    const emu = new PivEmulator({ serial: 4242 });
    const piv = new PivCard(new Iso7816(emulatorChannel(emu), false), cryptoRandom);
    await piv.select();
    expect(await piv.serial()).to.equal("4242");
    expect((await refused(piv.authenticate(new Uint8Array(24), "3DES"))).kind).to.equal("unauthorized");
    await piv.select();
    await piv.authenticate(FACTORY.managementKey, "3DES");
    const aes = cryptoRandom.bytes(32);
    await piv.setManagementKey(aes, "AES-256");
    await piv.select();
    await piv.authenticate(aes, "AES-256");
    await piv.verifyPin("123456");
    for (const [alg, slot, hash] of [
      ["P-256", "9a", "sha256"],
      ["P-384", "9d", "sha384"],
    ] as const) {
      const spki = await piv.generateKey(slot, alg);
      const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
      const msg = cryptoRandom.bytes(40);
      const sig = await piv.sign(slot, alg, createHash(hash).update(msg).digest());
      expect(verify(hash, msg, key, sig), alg).to.equal(true);
    }
    const rsa = createPublicKey({
      key: Buffer.from(await piv.generateKey("9c", "RSA-2048")),
      format: "der",
      type: "spki",
    });
    expect(rsa.asymmetricKeyDetails?.modulusLength).to.equal(2048);
  });
  it(`fail/a wrong PIN counts down and blocks; the PUK unblocks with a new PIN; ok/a 1,900-byte certificate object \
round-trips by chaining`, async () => {
    const emu = new PivEmulator();
    const piv = new PivCard(new Iso7816(emulatorChannel(emu), false), cryptoRandom);
    await piv.select();
    expect(await piv.pinTriesLeft()).to.equal(3);
    for (const left of [2, 1]) expect((await refused(piv.verifyPin("000000"))).details?.triesLeft).to.equal(left);
    expect((await refused(piv.verifyPin("000000"))).kind).to.equal("forbidden");
    expect((await refused(piv.verifyPin("123456"))).kind).to.equal("forbidden");
    await piv.unblockPin("12345678", "654321");
    await piv.verifyPin("654321");
    expect((await refused(piv.verifyPin("12345"))).kind).to.equal("invalid-input");
    await piv.authenticate(FACTORY.managementKey, "3DES");
    const blob = Uint8Array.from({ length: 1900 }, (_, i) => i & 0xff);
    await piv.putCertificate("9a", blob);
    expect(Buffer.from((await piv.readCertificate("9a"))!)).to.deep.equal(Buffer.from(blob));
  });
});

/** In-memory ledger: the same port the SQLite store implements. */
class MemoryLedger implements CardLedger {
  cards = new Map<string, CardRecord>();
  events: CardAuditEvent[] = [];
  letters: HolderLetter[] = [];
  async byCardSerial(s: string) {
    return [...this.cards.values()].reverse().find((c) => c.cardSerial === s);
  }
  async byOrder(o: string) {
    return [...this.cards.values()].find((c) => c.orderId === o);
  }
  async save(c: CardRecord, e: CardAuditEvent, l?: HolderLetter) {
    this.cards.set(c.id, c);
    this.events.push(e);
    if (l) this.letters.push(l);
  }
}

describe("card/personalisation-job against the emulator (software CA)", () => {
  const clock = new FixedClock("2026-06-01T10:00:00Z");
  const policy: CardPolicy = {
    slot: "9a",
    algorithm: "P-256",
    managementKey: "AES-256",
    pin: "transport",
    pinLength: 6,
    pukLength: 8,
    pinChannel: "sms",
  };
  function setup(state = "IN_PRODUCTION", maker?: Signer) {
    const store = new MemoryCertStore();
    const issuer = new CertificateIssuer({ profiles: PROFILES, store, clock, random: cryptoRandom });
    const ca = softwareAuthority();
    const orders = new Map([
      ["o1", { state, cert: undefined as string | undefined }],
      ["o2", { state: "IN_PRODUCTION", cert: undefined as string | undefined }],
    ]);
    const revoked: string[] = [];
    const produced: CardKey[] = [];
    const production: CardProduction = {
      async order(id) {
        if (orders.get(id)?.state !== "IN_PRODUCTION")
          throw new CaError("conflict", `order ${id} is not in production`);
        return { orderId: id, holderPersonId: "holder-1", loa: 3, policy };
      },
      async produce(id, key) {
        produced.push(key);
        const c = await issuer.issue(ca, {
          profileId: "loa3-smartcard-auth",
          publicKey: key.spki,
          subject: {
            CN: "Cy Holder",
            O: "Org AB",
            organizationIdentifier: "NTRSE-5560000001",
            C: "SE",
            serialNumber: "holder-1",
          },
          requestedBy: "test",
          allowedKinds: ["end-entity"],
        });
        orders.set(id, { state: "PRODUCED", cert: c.serial });
        return { serial: c.serial, der: c.der };
      },
      async undo(id, serial) {
        revoked.push(serial);
        orders.set(id, { state: "IN_PRODUCTION", cert: undefined });
      },
      async revoke(serial) {
        revoked.push(serial);
      },
    };
    const ledger = new MemoryLedger();
    const sealer = aesGcmSealer(cryptoRandom.bytes(32), cryptoRandom);
    const emu = new PivEmulator({ serial: 777, ...(maker ? { attestationMaker: maker } : {}) });
    const job = (onStep?: (s: JobStep) => void) =>
      new PersonalisationJob({
        production,
        ledger,
        sealer,
        factory: FACTORY,
        clock,
        random: cryptoRandom,
        ...(onStep ? { onStep } : {}),
      });
    return { emu, ledger, sealer, production, orders, revoked, job, produced };
  }

  it(`ok/on-card key, certificate, CHUID, fresh management key and PUK sealed, transport PIN sent apart; every step \
audited`, async () => {
    const { emu, ledger, orders, job } = setup();
    const r = await job().run("o1", emulatorChannel(emu), "operator:test");
    expect([r.cardSerial, r.slot, r.pinState, orders.get("o1")!.state]).to.deep.equal([
      "777",
      "9a",
      "transport",
      "PRODUCED",
    ]);
    const card = ledger.cards.get(r.cardId)!;
    expect(card.state).to.equal("personalised");
    expect(card.managementKeySealed).to.match(/^v1\./);
    expect(JSON.stringify(card)).to.not.include(emu.state.mgmKey).and.not.include(emu.state.puk);
    expect(emu.state.mgmKey).to.not.equal(DEFAULT_MANAGEMENT_KEY_HEX);
    const letter = ledger.letters[0]!;
    expect([letter.personId, letter.channel]).to.deep.equal(["holder-1", "sms"]);
    expect(letter.body).to.include(emu.state.pin);
    expect(ledger.events.map((e) => e.action)).to.deep.equal([
      "card.personalise.start",
      "card.management-key.pending",
      "card.management-key.set",
      "card.key.generate",
      "card.certificate.write",
      "card.pin.set",
      "card.personalise",
    ]);
    expect(
      new X509Certificate(Buffer.from(emu.state.objects["5fc105"]!, "hex").subarray(4)).serialNumber.toLowerCase(),
    ).to.include(r.certSerial.replace(/^0+/, ""));
  });

  it(`ok/REQ-14: a card with attestation: the job hands production the key with the card's attestation and f9 \
certificate, which chain to the maker root; without attestation only the key and the card`, async () => {
    const maker = createMakerRoot();
    const withAtt = setup("IN_PRODUCTION", maker);
    await withAtt.job().run("o1", emulatorChannel(withAtt.emu), "operator:test");
    const key = withAtt.produced[0]!;
    const a = verifyPivAttestation(key.attestation!, [maker.certDer], systemClock.now());
    expect([a.cardSerial, a.slot, key.cardSerial, Buffer.from(a.spki).equals(Buffer.from(key.spki))]).to.deep.equal([
      "777",
      "9a",
      "777",
      true,
    ]);
    const gen = withAtt.ledger.events.find((e) => e.action === "card.key.generate")!;
    expect(gen.details!.attestation).to.deep.equal({
      certificateSha256: a.certificateSha256,
      intermediateSha256: a.intermediateSha256,
    });
    const without = setup();
    await without.job().run("o1", emulatorChannel(without.emu), "operator:test");
    expect(without.produced[0]!.attestation).to.equal(undefined);
    expect(without.produced[0]!.cardSerial).to.equal("777");
  });

  it(`fail/the card goes away after issuance: the certificate is revoked, the order is back in production, the card \
record says why; a retry succeeds`, async () => {
    const { emu, ledger, orders, revoked, job } = setup();
    let pulled = false;
    const channel = emulatorChannel(emu);
    const flaky: CardChannel = {
      ...channel,
      transmit: async (a) => {
        if (pulled) throw new CaError("unavailable", "the card was removed");
        return channel.transmit(a);
      },
    };
    const e = await refused(
      job((s) => void (s === "certificate-issued" && (pulled = true))).run("o1", flaky, "operator:test"),
    );
    expect(e.kind).to.equal("unavailable");
    expect(e.message).to.match(/revoked, the order is back in production/);
    expect(orders.get("o1")!.state).to.equal("IN_PRODUCTION");
    expect(revoked).to.have.length(1);
    expect([...ledger.cards.values()][0]!.state).to.equal("failed");
    emu.powerReset();
    const again = await job().run("o1", emulatorChannel(emu), "operator:test");
    expect(again.certSerial).to.not.equal(revoked[0]);
  });

  it("fail/an order not in production: nothing is written to the card", async () => {
    const { emu, job } = setup("APPROVED");
    const before = JSON.stringify(emu.state);
    expect((await refused(job().run("o1", emulatorChannel(emu), "operator:test"))).kind).to.equal("conflict");
    expect(JSON.stringify(emu.state)).to.equal(before);
  });

  it(`ok/lifecycle: officer unblock with the sealed PUK, holder's own PIN, retirement zeroises and \
revokes`, async () => {
    const { emu, ledger, sealer, production, revoked, job } = setup();
    const r = await job().run("o1", emulatorChannel(emu), "operator:test");
    const life = new CardLifecycle({ ledger, sealer, production, clock, random: new SeqRandom(3) });
    const piv = new PivCard(new Iso7816(emulatorChannel(emu), false), cryptoRandom);
    await piv.select();
    for (let i = 0; i < 3; i++) await piv.verifyPin("000000").catch(() => undefined);
    expect(await piv.pinTriesLeft()).to.equal(0);
    await life.unblock(emulatorChannel(emu), "operator:officer", "sms");
    const letter = parseTemplateBody(ledger.letters.at(-1)!.body)!; // written in the holder's language when sent
    expect(letter.key).to.equal("unblock-pin");
    const newPin = letter.params.pin!;
    expect(newPin).to.match(/^[0-9]{6}$/);
    await life.changePin(emulatorChannel(emu), "holder", newPin, "24681357");
    expect(emu.state.pin).to.equal("24681357");
    expect(ledger.cards.get(r.cardId)!.pinState).to.equal("holder-set");
    expect((await life.status(emulatorChannel(emu))).certificates.map((c) => c.slot)).to.deep.equal(["9a"]);
    await life.retire(emulatorChannel(emu), "operator:test", "cessationOfOperation");
    expect(revoked).to.include(r.certSerial);
    expect([emu.state.mgmKey, emu.state.pin, emu.state.objects["5fc105"]]).to.deep.equal([
      DEFAULT_MANAGEMENT_KEY_HEX,
      "123456",
      undefined,
    ]);
    expect(ledger.cards.get(r.cardId)!.state).to.equal("retired");
    expect(ledger.cards.get(r.cardId)!.pukSealed).to.equal(undefined);
  });

  it(`ok/renewal on the same card: a new key and certificate for the same holder, the old certificate revoked; the PIN \
reset with the sealed PUK`, async () => {
    const { emu, ledger, revoked, job } = setup();
    const first = await job().run("o1", emulatorChannel(emu), "operator:test");
    const key1 = emu.state.keys["9a"]!.jwk.x;
    const second = await job().run("o2", emulatorChannel(emu), "operator:test");
    expect(second.cardId).to.equal(first.cardId);
    expect(second.certSerial).to.not.equal(first.certSerial);
    expect(emu.state.keys["9a"]!.jwk.x).to.not.equal(key1);
    expect(revoked).to.deep.equal([first.certSerial]);
    expect(ledger.letters).to.have.length(2);
    expect(ledger.letters[1]!.body).to.include(emu.state.pin);
  });

  it(`fail/a card reported lost: its certificate is revoked (keyCompromise) and the card is never personalised \
again`, async () => {
    const { emu, ledger, production, revoked, job } = setup();
    const r = await job().run("o1", emulatorChannel(emu), "operator:test");
    const life = new CardLifecycle({
      ledger,
      sealer: aesGcmSealer(cryptoRandom.bytes(32), cryptoRandom),
      production,
      clock,
      random: cryptoRandom,
    });
    expect((await life.reportLost("o1", "operator:desk")).revoked).to.equal(r.certSerial);
    expect(revoked).to.deep.equal([r.certSerial]);
    expect(ledger.cards.get(r.cardId)!.state).to.equal("lost");
    expect((await refused(job().run("o2", emulatorChannel(emu), "operator:test"))).kind).to.equal("forbidden");
    expect((await refused(life.reportLost("o1", "operator:desk"))).kind).to.equal("not-found");
  });

  it("ok/random digits are uniform-ish and the right length", () => {
    const d = randomDigits(cryptoRandom, 6000);
    expect(d).to.match(/^[0-9]{6000}$/);
    for (const digit of "0123456789") expect(d.split(digit).length - 1).to.be.within(450, 750);
  });

  it("fail/a sealed secret opens only with its key and its context (card and field)", () => {
    const s = aesGcmSealer(cryptoRandom.bytes(32), cryptoRandom);
    const sealed = s.seal(Buffer.from("12345678"), "card1:puk");
    expect(Buffer.from(s.open(sealed, "card1:puk")).toString()).to.equal("12345678");
    expect(() => s.open(sealed, "card2:puk")).to.throw(CaError);
    expect(() => aesGcmSealer(cryptoRandom.bytes(32), cryptoRandom).open(sealed, "card1:puk")).to.throw(CaError);
  });
});

describe("card/card-activation (REQ-16) against the emulator", () => {
  it(`ok/activation on the card: CHANGE REFERENCE DATA replaces the transport PIN (the card refuses it afterwards), \
then the 9A key signs the RA's challenge only under the new PIN; the signature verifies with the \
certificate`, async () => {
    const emu = new PivEmulator({ serial: 5151 });
    const ch = emulatorChannel(emu);
    const piv = await PivCard.open(ch, cryptoRandom);
    await piv.authenticate(FACTORY.managementKey, "3DES");
    const spki = await piv.generateKey("9a", "P-256");
    const issuer = new CertificateIssuer({
      profiles: PROFILES,
      store: new MemoryCertStore(),
      clock: new FixedClock("2026-06-01T10:00:00Z"),
      random: cryptoRandom,
    });
    const cert = await issuer.issue(softwareAuthority(), {
      profileId: "loa3-smartcard-auth",
      publicKey: spki,
      subject: { CN: "Ada Holder", O: "Org AB", organizationIdentifier: "NTRSE-5560000001", C: "SE" },
      requestedBy: "test",
      allowedKinds: ["end-entity"],
    });
    await piv.putCertificate("9a", cert.der);
    const transport = FACTORY.pin; // the card left production with this transport PIN
    const card = await CardActivation.open(ch, cryptoRandom);
    expect(card.cardSerial).to.equal("5151");
    expect(Buffer.from(await card.certificate()).equals(Buffer.from(cert.der))).to.equal(true);
    expect((await refused(card.replaceTransportPin(transport, transport))).message).to.match(/differ/);
    await card.replaceTransportPin(transport, "470815");
    expect(
      (await refused(PivCard.open(ch, cryptoRandom).then((p) => p.verifyPin(transport)))).kind,
      "the transport PIN no longer opens the card",
    ).to.equal("unauthorized");
    const message = activationMessage("0123456789abcdef0123456789abcdef", "c2FtcGxlLWNoYWxsZW5nZQ");
    expect((await refused(card.signChallenge(message, "sha256", transport))).kind).to.equal("unauthorized");
    const sig = await card.signChallenge(message, activationHash(cert.der), "470815");
    expect(verify("sha256", message, new X509Certificate(cert.der).publicKey, sig)).to.equal(true);
  });
});

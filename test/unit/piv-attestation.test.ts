import { expect } from "chai";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { Iso7816, type CardChannel } from "../../src/card/iso7816.js";
import { PivCard } from "../../src/card/piv-card.js";
import { attestationFields, verifyPivAttestation } from "../../src/card/piv-attestation.js";
import { parseCertificate, reencode } from "../../src/asn1/parse.js";
import { keyOrigin } from "../../src/ra/key-origin.js";
import type { AttestedKey, KeyAttestationVerifier, ProductionCard } from "../../src/ra/ports.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import { cryptoRandom } from "../../src/shared/random.js";
import { CaError } from "../../src/shared/ca-error.js";
import { fromHex } from "../../src/asn1/der.js";
import { PivEmulator, DEFAULT_MANAGEMENT_KEY_HEX } from "../support/piv-emulator.js";
import { createMakerRoot, manufactureAttestationKey, softwareAttestation } from "../support/piv-attestation-maker.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { systemClock } from "../../src/shared/clock.js";

const channel = (emu: PivEmulator): CardChannel => ({
  reader: "in-process",
  atr: emu.atr,
  transmit: async (a) => emu.processApdu(a),
  close: async () => undefined,
});
const NOW = systemClock.now();
const maker = createMakerRoot();
const otherMaker = createMakerRoot(NOW, "some other card maker");

async function cardWithKey(emu: PivEmulator): Promise<{ piv: PivCard; spki: Uint8Array }> {
  const piv = new PivCard(new Iso7816(channel(emu), false), cryptoRandom);
  await piv.select();
  await piv.authenticate(fromHex(DEFAULT_MANAGEMENT_KEY_HEX), "3DES");
  return { piv, spki: await piv.generateKey("9a", "P-256") };
}

const refusedWith = (f: () => unknown, re: RegExp) => {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(CaError);
    expect((e as CaError).kind).to.equal("policy-violation");
    expect((e as Error).message).to.match(re);
    return;
  }
  throw new Error("expected a refusal");
};

describe("card/piv-attestation (YubiKey PIV attestation, REQ-14)", () => {
  it(`ok/the emulator attests a key generated on it (INS F9); the chain to the maker root holds and names slot, \
serial, firmware, PIN and touch policy`, async () => {
    const emu = new PivEmulator({ serial: 4242, attestationMaker: maker });
    const { piv, spki } = await cardWithKey(emu);
    const certificate = (await piv.attest("9a"))!;
    const intermediate = (await piv.attestationCertificate())!;
    const a = verifyPivAttestation({ certificate, intermediate }, [otherMaker.certDer, maker.certDer], NOW);
    expect([a.slot, a.cardSerial, a.firmware, a.pinPolicy, a.touchPolicy, a.formFactor]).to.deep.equal([
      "9a",
      "4242",
      "5.2.7",
      "once",
      "never",
      1,
    ]);
    expect(Buffer.from(a.spki).equals(Buffer.from(spki))).to.equal(true);
    expect(a.anchor.subject).to.match(/TEST ONLY/);
  });

  it(`fail/another maker's root, a swapped f9 certificate, an expired chain, an imported key; a card without \
attestation has none`, async () => {
    const emu = new PivEmulator({ serial: 4243, attestationMaker: maker });
    const { piv } = await cardWithKey(emu);
    const certificate = (await piv.attest("9a"))!;
    const intermediate = (await piv.attestationCertificate())!;
    refusedWith(
      () => verifyPivAttestation({ certificate, intermediate }, [otherMaker.certDer], NOW),
      /does not chain to a configured card-maker root/,
    );
    refusedWith(() => verifyPivAttestation({ certificate, intermediate }, [], NOW), /no attestation roots/);
    // The f9 certificate of another card of the same maker: chains, but did not sign this attestation.
    refusedWith(
      () =>
        verifyPivAttestation(
          { certificate, intermediate: manufactureAttestationKey(maker, 4243).certDer },
          [maker.certDer],
          NOW,
        ),
      /not signed by the card's attestation key/,
    );
    refusedWith(
      () =>
        verifyPivAttestation(
          { certificate, intermediate },
          [maker.certDer],
          new Date(NOW.getTime() + 40 * 365 * 86_400_000),
        ),
      /not valid now/,
    );
    refusedWith(
      () => verifyPivAttestation({ certificate: intermediate, intermediate }, [maker.certDer], NOW),
      /not signed by the card's attestation key/,
    );
    // YubiKey: a key imported into a slot is not attested.
    const imported = new PivEmulator({ serial: 4244, attestationMaker: maker });
    const p2 = new PivCard(new Iso7816(channel(imported), false), cryptoRandom);
    await p2.select();
    await p2.authenticate(fromHex(DEFAULT_MANAGEMENT_KEY_HEX), "3DES");
    const d = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }).d!;
    const tlv = Buffer.concat([Buffer.from([0x06, 32]), Buffer.from(d, "base64url")]);
    expect(imported.processApdu(Buffer.concat([Buffer.from([0x00, 0xfe, 0x11, 0x9c, tlv.length]), tlv]))).to.deep.equal(
      Uint8Array.of(0x90, 0x00),
    );
    const e = await p2.attest("9c").then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as Error).message).to.match(/not generated on the card/);
    const plain = new PivEmulator({ serial: 4245 });
    const p3 = await cardWithKey(plain);
    expect(await p3.piv.attest("9a")).to.equal(undefined);
    expect(await p3.piv.attestationCertificate()).to.equal(undefined);
  });

  it("ok/the f9 key and certificate survive a PIV reset; an attestation after the reset still chains", async () => {
    const emu = new PivEmulator({ serial: 4246, attestationMaker: maker });
    const before = emu.state.objects["5fff01"];
    const { piv } = await cardWithKey(emu);
    await piv.blockPinAndPuk();
    await piv.reset();
    expect(emu.state.objects["5fff01"]).to.equal(before);
    const again = await cardWithKey(emu);
    expect(
      verifyPivAttestation(
        { certificate: (await again.piv.attest("9a"))!, intermediate: (await again.piv.attestationCertificate())! },
        [maker.certDer],
        NOW,
      ).cardSerial,
    ).to.equal("4246");
  });
  it(
    "ok/the DER walk reads the same fields as the @peculiar ASN.1 library and OpenSSL " +
      "(emulator and software cards, RSA and EC)",
    async () => {
      const hex = (b: Uint8Array | ArrayBuffer) =>
        Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
      const library = (der: Uint8Array) => {
        const c = parseCertificate(der, "attestation certificate");
        const tbs = c.tbsCertificate;
        const x = new X509Certificate(der);
        return {
          tbs: hex(reencode(tbs)),
          signatureAlgorithm: c.signatureAlgorithm.algorithm,
          signature: hex(c.signatureValue),
          issuer: hex(reencode(tbs.issuer)),
          subject: hex(reencode(tbs.subject)),
          commonName: /^CN=(.*)$/m.exec(x.subject)?.[1],
          subjectText: x.subject.split("\n").filter(Boolean).join(", "),
          issuerText: x.issuer.split("\n").filter(Boolean).join(", "),
          notBefore: new Date(x.validFrom).toISOString(),
          notAfter: new Date(x.validTo).toISOString(),
          spki: hex(reencode(tbs.subjectPublicKeyInfo)),
          extensions: (tbs.extensions ?? []).map((e) => [e.extnID, hex(e.extnValue.buffer)]),
        };
      };
      const walk = (der: Uint8Array) => {
        const f = attestationFields(der);
        return {
          tbs: hex(f.tbs),
          signatureAlgorithm: f.signatureAlgorithm,
          signature: hex(f.signature),
          issuer: hex(f.issuer),
          subject: hex(f.subject),
          commonName: f.commonName,
          subjectText: f.subjectText,
          issuerText: f.issuerText,
          notBefore: f.notBefore.toISOString(),
          notAfter: f.notAfter.toISOString(),
          spki: hex(f.spki),
          extensions: [...f.extensions].map(([k, v]) => [k, hex(v)]),
        };
      };
      const emu = new PivEmulator({ serial: 4247, attestationMaker: maker });
      const { piv } = await cardWithKey(emu);
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
      const ders = [
        (await piv.attest("9a"))!,
        (await piv.attestationCertificate())!,
        softwareAttestation(maker, { cardSerial: 4248, slot: 0x9c, pinPolicy: "always" }).certificate,
        softwareAttestation(maker, { cardSerial: 4249, privateKey: rsa }).certificate,
        maker.certDer,
      ];
      for (const der of ders) expect(walk(der)).to.deep.equal(library(der));
      for (const cut of [1, 10, 200]) {
        const bad = ders[0]!.subarray(0, ders[0]!.length - cut);
        refusedWith(() => attestationFields(bad), /fields cannot be read/);
      }
    },
  );

  it("fail/a slot certificate altered after signing is refused, as OpenSSL refuses its signature", async () => {
    const emu = new PivEmulator({ serial: 4250, attestationMaker: maker });
    const { piv } = await cardWithKey(emu);
    const certificate = (await piv.attest("9a"))!;
    const intermediate = (await piv.attestationCertificate())!;
    const f9 = new X509Certificate(intermediate);
    const f = attestationFields(certificate);
    // One octet of the signed part (inside the key), then one of the signature.
    const at = [certificate.length - f.signature.length - 40, certificate.length - 5];
    for (const i of at) {
      const bad = Uint8Array.from(certificate);
      bad[i] = bad[i]! ^ 0x01;
      expect(new X509Certificate(bad).verify(f9.publicKey)).to.equal(false);
      refusedWith(
        () => verifyPivAttestation({ certificate: bad, intermediate }, [maker.certDer], NOW),
        /not signed by the card's attestation key|fields cannot be read/,
      );
    }
  });
});

describe("ra/key-origin: the rules production applies to a key (REQ-14)", () => {
  const wf = loadWorkflows(join(REPO_ROOT, "policies", "workflows"));
  const LOA3 = wf.get("loa3-card-order")!,
    LOA2 = wf.get("loa2-card-order")!;
  const att = softwareAttestation(maker, { cardSerial: 5001 });
  const facts = (over: Partial<AttestedKey> = {}): AttestedKey => ({
    slot: "9a",
    cardSerial: "5001",
    pinPolicy: "once",
    touchPolicy: "never",
    firmware: "5.2.7",
    spki: att.spki,
    certificateSha256: "a",
    intermediateSha256: "b",
    intermediateSubject: "f9",
    root: { set: "piv-card-makers", subject: "maker", sha256: "c" },
    ...over,
  });
  const verifier = (f: AttestedKey | Error): KeyAttestationVerifier => ({
    verify: async () => {
      if (f instanceof Error) throw f;
      return f;
    },
  });
  const cards = (c?: Partial<ProductionCard>) => ({
    cardForOrder: async () =>
      c === undefined ? undefined : { cardSerial: "5001", state: "personalising", managementKeyRecorded: true, ...c },
  });
  const attestation = { certificate: att.certificate, intermediate: att.intermediate };

  it(`ok/an attested key of the card recorded for the order is certified; the evidence names card, slot, policies and \
the certificates' fingerprints`, async () => {
    const v = await keyOrigin(
      { verifier: verifier(facts()), cards: cards({}) },
      LOA3,
      "o1",
      { attestation, publicKey: att.spki },
      NOW,
    );
    expect(v.ok).to.equal(true);
    if (!v.ok) return;
    expect(Buffer.from(v.spki).equals(Buffer.from(att.spki))).to.equal(true);
    expect(v.evidence).to.include({
      method: "piv-attestation",
      cardSerial: "5001",
      slot: "9a",
      pinPolicy: "once",
      touchPolicy: "never",
      attestationSha256: "a",
      intermediateSha256: "b",
    });
  });

  const refusals: [string, Parameters<typeof keyOrigin>[0], typeof LOA3, Parameters<typeof keyOrigin>[3], RegExp][] = [
    [
      "a bare public key at LoA3",
      { verifier: verifier(facts()), cards: cards({}) },
      LOA3,
      { publicKey: att.spki },
      /bare public key is not certified/,
    ],
    [
      "a bare public key at LoA2",
      { verifier: verifier(facts()), cards: cards({}) },
      LOA2,
      { publicKey: att.spki },
      /bare public key is not certified/,
    ],
    ["nothing at all", { verifier: verifier(facts()), cards: cards({}) }, LOA3, {}, /needs the card's PIV attestation/],
    [
      "a chain the verifier refuses",
      { verifier: verifier(new CaError("policy-violation", "PIV attestation: does not chain")), cards: cards({}) },
      LOA3,
      { attestation },
      /does not chain/,
    ],
    [
      "another key than the attested one",
      { verifier: verifier(facts()), cards: cards({}) },
      LOA3,
      { attestation, publicKey: softwareAttestation(maker, { cardSerial: 1 }).spki },
      /not the key the attestation vouches for/,
    ],
    [
      "another slot",
      { verifier: verifier(facts({ slot: "9c" })), cards: cards({}) },
      LOA3,
      { attestation },
      /slot 9c.*slot 9a/,
    ],
    [
      "a key without PIN",
      { verifier: verifier(facts({ pinPolicy: "never" })), cards: cards({}) },
      LOA3,
      { attestation },
      /PIN policy is 'never'/,
    ],
    [
      "another card than the one recorded",
      { verifier: verifier(facts({ cardSerial: "6000" })), cards: cards({}) },
      LOA3,
      { attestation },
      /from card 6000, but the card recorded for this order is 5001/,
    ],
    [
      "no card recorded for the order",
      { verifier: verifier(facts()), cards: cards() },
      LOA3,
      { attestation },
      /no card is recorded for this order/,
    ],
    [
      "a card no longer being personalised",
      { verifier: verifier(facts()), cards: cards({ state: "failed" }) },
      LOA3,
      { attestation },
      /is failed/,
    ],
    ["no verifier configured", {}, LOA3, { attestation }, /no attestation verifier/],
    [
      "card-station keys at LoA3",
      { cards: cards({}) },
      LOA3,
      { keyOrigin: "card-station", publicKey: att.spki, cardStation: { cardSerial: "5001" } },
      /only keys that come with the card's PIV attestation/,
    ],
    [
      "keyOrigin card-station claimed over the API",
      { cards: cards({}) },
      LOA2,
      { keyOrigin: "card-station", publicKey: att.spki },
      /only from the card station/,
    ],
    [
      "card-station fallback for another card",
      { cards: cards({}) },
      LOA2,
      { keyOrigin: "card-station", publicKey: att.spki, cardStation: { cardSerial: "7" } },
      /from card 7/,
    ],
    [
      "card-station fallback without the recorded management key",
      { cards: cards({ managementKeyRecorded: false }) },
      LOA2,
      { keyOrigin: "card-station", publicKey: att.spki, cardStation: { cardSerial: "5001" } },
      /recorded per-card management key/,
    ],
  ];
  for (const [name, deps, w, req, re] of refusals)
    it(`fail/${name} is refused`, async () => {
      const v = await keyOrigin(deps, w, "o1", req, NOW);
      expect(v.ok).to.equal(false);
      if (!v.ok) expect(v.reason).to.match(re);
    });

  it(`ok/LoA2 card-station fallback: the station's own key on the card it recorded, opened with its recorded \
management key; the evidence says it was not attested`, async () => {
    const v = await keyOrigin(
      { cards: cards({}) },
      LOA2,
      "o1",
      { keyOrigin: "card-station", publicKey: att.spki, cardStation: { cardSerial: "5001" } },
      NOW,
    );
    expect(v.ok && v.evidence).to.include({ method: "card-station", attested: false, cardSerial: "5001" });
  });
});

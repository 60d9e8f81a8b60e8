import { expect } from "chai";
import { generateKeyPairSync } from "node:crypto";
import { parseSubjectKey } from "../../src/ca/public-key.js";
import { keyIdentifier, spkiKeyType } from "../../src/ca/spki.js";
import { CaError } from "../../src/shared/ca-error.js";
import { testKey } from "../support/keys.js";

const spkiOf = (k: ReturnType<typeof generateKeyPairSync>["publicKey"]) =>
  new Uint8Array(k.export({ type: "spki", format: "der" }));

describe("ca/public-key (RFC 5480, RFC 3279)", () => {
  it("ok/P-256, P-384, RSA-2048/3072 are recognised by both readers", () => {
    for (const kt of ["P-256", "P-384", "RSA-2048", "RSA-3072"] as const) {
      const k = testKey(kt);
      expect(parseSubjectKey(k.spki).keyType).to.equal(kt);
      expect(spkiKeyType(k.spki)).to.equal(kt);
      expect(keyIdentifier(k.spki)).to.have.length(20);
    }
  });

  it("fail/an EC point that is not on the curve", () => {
    const spki = Uint8Array.from(testKey("P-256").spki);
    spki[spki.length - 1] ^= 0x01; // y no longer matches x
    expect(() => parseSubjectKey(spki)).to.throw(CaError, /not a point on its curve/);
  });

  it("fail/a compressed EC point, P-521, RSA-1024, RSA e=3, Ed25519, trailing bytes", () => {
    const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
    const compressed = new Uint8Array(p256.export({ type: "spki", format: "der" }));
    const ecdh = compressed; // re-encode as compressed by hand: 0x03/0x02 || X
    const x = ecdh.subarray(ecdh.length - 64, ecdh.length - 32);
    const head = Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex");
    const comp = new Uint8Array(Buffer.concat([head, Buffer.of(0x02), x]));
    expect(() => parseSubjectKey(comp)).to.throw(CaError, /uncompressed/);
    expect(() => parseSubjectKey(spkiOf(generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey))).to.throw(
      CaError,
      /curve/,
    );
    expect(() => parseSubjectKey(spkiOf(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey))).to.throw(
      CaError,
      /1024 bits/,
    );
    expect(() =>
      parseSubjectKey(spkiOf(generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }).publicKey)),
    ).to.throw(CaError, /65537/);
    expect(() => parseSubjectKey(spkiOf(generateKeyPairSync("ed25519").publicKey))).to.throw(CaError, /not supported/);
    expect(() => parseSubjectKey(new Uint8Array([...testKey("P-256").spki, 0]))).to.throw(
      CaError,
      /SubjectPublicKeyInfo/,
    );
  });
});

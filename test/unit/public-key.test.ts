import { expect } from "chai";
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { parseSubjectKey } from "../../src/ca/public-key.js";
import { keyIdentifier, spkiKeyType } from "../../src/ca/spki.js";
import { CaError } from "../../src/shared/ca-error.js";
import { publicKeyObject } from "../../src/shared/public-key-object.js";
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

describe("shared/public-key-object: SPKI to KeyObject", () => {
  const der = (k: KeyObject) => new Uint8Array(k.export({ type: "spki", format: "der" }));
  const keys: [string, KeyObject][] = [
    ["P-256", generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey],
    ["P-384", generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey],
    ["RSA-2048", generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey],
    ["RSA-3072", generateKeyPairSync("rsa", { modulusLength: 3072 }).publicKey],
    ["P-521 (OpenSSL's import)", generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey],
    ["Ed25519 (OpenSSL's import)", generateKeyPairSync("ed25519").publicKey],
    ["RSA e=3 (OpenSSL's import)", generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }).publicKey],
  ];
  for (const [name, k] of keys)
    it(`ok/${name}: the same key as OpenSSL's DER import, exported back to the same bytes`, () => {
      const spki = der(k);
      const got = publicKeyObject(spki);
      expect(got.equals(createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }))).to.equal(true);
      expect(Buffer.from(der(got)).equals(Buffer.from(spki))).to.equal(true);
    });

  it("ok/a signature made by the card's private key verifies with the imported key (P-256, RSA)", () => {
    for (const [type, opts] of [
      ["ec", { namedCurve: "P-256" }],
      ["rsa", { modulusLength: 2048 }],
    ] as const) {
      const { publicKey, privateKey } = generateKeyPairSync(type as "ec", opts as { namedCurve: string });
      const sig = sign("sha256", Buffer.from("challenge"), privateKey);
      expect(verify("sha256", Buffer.from("challenge"), publicKeyObject(der(publicKey)), sig)).to.equal(true);
    }
  });

  it("fail/an EC point off the curve, a truncated key and a non-minimal RSA modulus are refused as by OpenSSL", () => {
    const p256 = der(keys[0]![1]);
    const off = Uint8Array.from(p256);
    off[off.length - 1] ^= 0x01; // y no longer on the curve
    expect(() => publicKeyObject(off)).to.throw();
    expect(() => createPublicKey({ key: Buffer.from(off), format: "der", type: "spki" })).to.throw();
    expect(() => publicKeyObject(p256.subarray(0, 60))).to.throw();
    // A modulus whose first octet after the leading zero is zero is not minimal DER: judged by OpenSSL's import.
    const rsa = Uint8Array.from(der(keys[2]![1]));
    rsa[33] = 0x00;
    const openssl = (() => {
      try {
        return createPublicKey({ key: Buffer.from(rsa), format: "der", type: "spki" });
      } catch {
        return undefined;
      }
    })();
    if (openssl) expect(publicKeyObject(rsa).equals(openssl)).to.equal(true);
    else expect(() => publicKeyObject(rsa)).to.throw();
  });
});

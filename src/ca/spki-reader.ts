import { createHash } from "node:crypto";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { ECParameters } from "@peculiar/asn1-ecc";
import { RSAPublicKey } from "@peculiar/asn1-rsa";
import { isLibraryDer, parseDer } from "../asn1/parse.js";
import { OID, type KeyType } from "../asn1/oids.js";
import { CaError } from "../shared/ca-error.js";

/** A SubjectPublicKeyInfo as the @peculiar ASN.1 library reads it (RFC 5280 4.1.2.7). */
export interface SpkiView {
  readonly algorithm: string;
  /** EC: the named curve of the ECParameters (RFC 5480 2.1.1.1). */
  readonly curve: string | undefined;
  /** The subjectPublicKey BIT STRING value (an EC point, or the RSAPublicKey DER). */
  readonly bits: Uint8Array;
  /** RSA (RFC 3279 2.3.1): modulus and exponent as unsigned big-endian octets. */
  readonly rsa: { readonly modulus: Uint8Array; readonly exponent: Uint8Array } | undefined;
}

const bad = (m: string) => new CaError("invalid-input", `public key: ${m}`);
const unsigned = (b: ArrayBuffer) => {
  const u = new Uint8Array(b);
  let i = 0;
  while (i < u.length - 1 && u[i] === 0) i++;
  return u.subarray(i);
};

/** Reads untrusted SPKI DER with the library: DER only (the bytes go into a certificate as they are). */
export function readSpki(der: Uint8Array): SpkiView {
  const spki = parseDer(der, SubjectPublicKeyInfo, "SubjectPublicKeyInfo");
  if (!isLibraryDer(der, spki)) throw bad("not DER (X.690 10), or a subjectPublicKey with unused bits");
  return viewOf(spki);
}

export function viewOf(spki: SubjectPublicKeyInfo): SpkiView {
  const algorithm = spki.algorithm.algorithm;
  const bits = new Uint8Array(spki.subjectPublicKey);
  let curve: string | undefined;
  let rsa: SpkiView["rsa"];
  if (algorithm === OID.ecPublicKey) {
    const p = spki.algorithm.parameters;
    if (!p) throw bad("EC key without ECParameters (RFC 5480 2.1.1)");
    curve = parseDer(new Uint8Array(p), ECParameters, "ECParameters").namedCurve;
    if (curve === undefined) throw bad("EC key without a named curve (RFC 5480 2.1.1: namedCurve only)");
  } else if (algorithm === OID.rsaEncryption) {
    let k: RSAPublicKey;
    try {
      k = parseDer(bits, RSAPublicKey, "RSAPublicKey");
    } catch {
      throw bad("RSA public key is not an RSAPublicKey SEQUENCE (RFC 3279 2.3.1)");
    }
    if ((new Uint8Array(k.modulus)[0]! & 0x80) !== 0) throw bad("RSA modulus is negative");
    rsa = { modulus: unsigned(k.modulus), exponent: unsigned(k.publicExponent) };
  }
  return { algorithm, curve, bits, rsa };
}

/** Key type from the library's view (RFC 5480 2.1.1, RFC 3279 2.3.1); undefined when unsupported. */
export function keyTypeOf(v: SpkiView): KeyType | undefined {
  if (v.algorithm === OID.ecPublicKey) {
    if (v.curve === OID.secp256r1 && v.bits.length === 65 && v.bits[0] === 4) return "P-256";
    if (v.curve === OID.secp384r1 && v.bits.length === 97 && v.bits[0] === 4) return "P-384";
    return undefined;
  }
  if (v.rsa)
    return ({ 2048: "RSA-2048", 3072: "RSA-3072", 4096: "RSA-4096" } as Record<number, KeyType>)[
      modulusBits(v.rsa.modulus)
    ];
  return undefined;
}

export function modulusBits(n: Uint8Array): number {
  return n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
}

/** RFC 5280 4.2.1.2 method (1), from the library's view: SHA-1 of the subjectPublicKey value. */
export function keyIdentifierOf(v: SpkiView): Uint8Array {
  return new Uint8Array(createHash("sha1").update(v.bits).digest());
}

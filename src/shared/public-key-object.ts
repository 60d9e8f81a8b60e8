import { createPublicKey, type KeyObject } from "node:crypto";

/**
 * A node KeyObject for a DER SubjectPublicKeyInfo. The common card keys (EC P-256 and P-384 with an
 * uncompressed point, RFC 5480; RSA 2048/3072/4096 with exponent 65537, RFC 3279 2.3.1) have one DER
 * encoding each: when the bytes are exactly that encoding, the key is imported from its numbers (JWK),
 * which skips OpenSSL 3's decoder search (measured here: EC 158 → 83 µs, RSA 136 → 6 µs; the EC import
 * still checks the point is on the curve). Anything else goes to OpenSSL's DER import as it is.
 * Throws as createPublicKey does.
 */
export function publicKeyObject(spki: Uint8Array): KeyObject {
  const jwk = ecJwk(spki) ?? rsaJwk(spki);
  return jwk
    ? createPublicKey({ key: jwk, format: "jwk" })
    : createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
}

const hex = (h: string) => Buffer.from(h, "hex");
const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");
// SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING (0 unused bits) }: everything before the point.
const EC_PREFIX = [
  { crv: "P-256", size: 32, prefix: hex("3059301306072a8648ce3d020106082a8648ce3d030107034200") },
  { crv: "P-384", size: 48, prefix: hex("3076301006072a8648ce3d020106052b81040022036200") },
] as const;

function ecJwk(spki: Uint8Array): { kty: "EC"; crv: string; x: string; y: string } | undefined {
  for (const { crv, size, prefix } of EC_PREFIX) {
    const p = prefix.length;
    if (spki.length !== p + 1 + 2 * size || spki[p] !== 0x04 || !prefix.equals(spki.subarray(0, p))) continue;
    return { kty: "EC", crv, x: b64u(spki.subarray(p + 1, p + 1 + size)), y: b64u(spki.subarray(p + 1 + size)) };
  }
  return undefined;
}

/** The DER of an RSA SPKI with a k-octet modulus (top bit set: a leading zero octet) and exponent 65537. */
function rsaPrefix(k: number): Buffer {
  const len = (n: number) => [0x82, n >> 8, n & 0xff];
  return Buffer.from([
    ...[0x30, ...len(k + 34)],
    ...hex("300d06092a864886f70d0101010500"), // rsaEncryption, NULL parameters
    ...[0x03, ...len(k + 15), 0x00],
    ...[0x30, ...len(k + 10)],
    ...[0x02, ...len(k + 1), 0x00],
  ]);
}
const RSA_PREFIX = [256, 384, 512].map((k) => ({ k, prefix: rsaPrefix(k) }));
const E65537 = hex("0203010001");

function rsaJwk(spki: Uint8Array): { kty: "RSA"; n: string; e: string } | undefined {
  for (const { k, prefix } of RSA_PREFIX) {
    const p = prefix.length;
    if (spki.length !== p + k + E65537.length || !prefix.equals(spki.subarray(0, p))) continue;
    if ((spki[p]! & 0x80) === 0 || !E65537.equals(spki.subarray(p + k))) return undefined; // DER: no leading zero then
    return { kty: "RSA", n: b64u(spki.subarray(p, p + k)), e: "AQAB" };
  }
  return undefined;
}

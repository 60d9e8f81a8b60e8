import { createHash } from "node:crypto";
import { childrenOf, content, decodeOid, readTlv } from "../asn1/der-reader.js";
import { OID, type KeyType } from "../asn1/oids.js";
import { CaError } from "../shared/ca-error.js";

/** Algorithm, curve and the subjectPublicKey BIT STRING value (without the unused-bits octet). */
export function spkiParts(spki: Uint8Array): { algorithm: string; parameters: string | undefined; bits: Uint8Array } {
  const top = readTlv(spki, 0);
  if (top.tag !== 0x30 || top.end !== spki.length) throw new CaError("invalid-input", "SPKI is not one DER SEQUENCE");
  const [alg, key] = childrenOf(spki, top);
  if (!alg || !key || alg.tag !== 0x30 || key.tag !== 0x03) throw new CaError("invalid-input", "SPKI: bad structure");
  const algParts = childrenOf(spki, alg);
  const algorithm = decodeOid(content(spki, algParts[0]!));
  const parameters = algParts[1]?.tag === 0x06 ? decodeOid(content(spki, algParts[1])) : undefined;
  const bs = content(spki, key);
  if (bs[0] !== 0) throw new CaError("invalid-input", "SPKI: subjectPublicKey has unused bits");
  return { algorithm, parameters, bits: bs.subarray(1) };
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(spkiParts(spki).bits).digest());
}

/** Key type read from the SPKI structure alone (RFC 5480 2.1.1, RFC 3279 2.3.1). */
export function spkiKeyType(spki: Uint8Array): KeyType | undefined {
  const k = spkiParts(spki);
  if (k.algorithm === OID.ecPublicKey) {
    if (k.parameters === OID.secp256r1 && k.bits.length === 65 && k.bits[0] === 4) return "P-256";
    if (k.parameters === OID.secp384r1 && k.bits.length === 97 && k.bits[0] === 4) return "P-384";
    return undefined;
  }
  if (k.algorithm === OID.rsaEncryption) {
    const seq = readTlv(k.bits, 0);
    const n = childrenOf(k.bits, seq)[0]!;
    const mod = content(k.bits, n);
    let i = 0;
    while (i < mod.length && mod[i] === 0) i++;
    const bits = (mod.length - i) * 8 - Math.clz32(mod[i]!) + 24;
    return ({ 2048: "RSA-2048", 3072: "RSA-3072", 4096: "RSA-4096" } as Record<number, KeyType>)[bits];
  }
  return undefined;
}

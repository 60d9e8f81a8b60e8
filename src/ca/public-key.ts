import { ECDH, createPublicKey, type KeyObject } from "node:crypto";
import { OID, type KeyType } from "../asn1/oids.js";
import { CaError } from "../shared/ca-error.js";
import { modulusBits, readSpki, type SpkiView } from "./spki-reader.js";

export interface SubjectKey {
  readonly spki: Uint8Array;
  readonly keyType: KeyType;
}

const CURVES: Record<string, { keyType: KeyType; name: string; size: number }> = {
  [OID.secp256r1]: { keyType: "P-256", name: "prime256v1", size: 65 },
  [OID.secp384r1]: { keyType: "P-384", name: "secp384r1", size: 97 },
};

/**
 * Parses (with the @peculiar ASN.1 library) and checks a SubjectPublicKeyInfo: supported algorithm and named curve,
 * uncompressed
 * point on the curve (RFC 5480 2.2), RSA size and exponent 65537 (RFC 3279 2.3.1).
 */
export function parseSubjectKey(spki: Uint8Array): SubjectKey {
  let parts: SpkiView;
  try {
    parts = readSpki(spki);
  } catch (e) {
    throw new CaError("invalid-input", `public key is not a DER SubjectPublicKeyInfo: ${(e as Error).message}`);
  }
  if (parts.algorithm === OID.ecPublicKey) {
    const curve = parts.curve ? CURVES[parts.curve] : undefined;
    if (!curve) throw new CaError("invalid-input", `EC curve ${parts.curve ?? "(none)"} not supported (P-256, P-384)`);
    if (parts.bits.length !== curve.size || parts.bits[0] !== 0x04)
      throw new CaError("invalid-input", `EC point must be uncompressed (RFC 5480 2.2)`);
    try {
      ECDH.convertKey(parts.bits, curve.name); // throws unless the point is on the curve
    } catch {
      throw new CaError("invalid-input", "EC public key is not a point on its curve");
    }
    return { spki, keyType: curve.keyType };
  }
  if (parts.algorithm === OID.rsaEncryption && parts.rsa) {
    if (Buffer.from(parts.rsa.exponent).toString("hex") !== "010001")
      throw new CaError("invalid-input", "RSA public exponent must be 65537");
    const bits = modulusBits(parts.rsa.modulus);
    if (bits === 2048 || bits === 3072 || bits === 4096) return { spki, keyType: `RSA-${bits}` as KeyType };
    throw new CaError("invalid-input", `RSA modulus of ${bits} bits not supported (2048, 3072, 4096)`);
  }
  throw new CaError("invalid-input", `public key algorithm ${parts.algorithm} not supported`);
}

/** A node KeyObject for signature checks (CSR proof of possession). */
export function toKeyObject(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new CaError("invalid-input", `public key rejected: ${(e as Error).message}`);
  }
}

import { createPublicKey, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { OID, type KeyType } from "../asn1/oids.js";
import { CaError } from "../shared/ca-error.js";
import { toArrayBuffer } from "../asn1/der.js";

export interface SubjectKey {
  readonly spki: Uint8Array;
  readonly keyType: KeyType;
  readonly keyObject: KeyObject;
}

/**
 * Parses and checks a SubjectPublicKeyInfo: supported algorithm, named curve, RSA size
 * and exponent, point on curve (node's import validates it). RFC 5480 2, RFC 3279 2.3.1.
 */
export function parseSubjectKey(spki: Uint8Array): SubjectKey {
  let info: SubjectPublicKeyInfo;
  try {
    info = AsnConvert.parse(toArrayBuffer(spki), SubjectPublicKeyInfo);
  } catch (e) {
    throw new CaError("invalid-input", `public key is not a DER SubjectPublicKeyInfo: ${(e as Error).message}`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (e) {
    throw new CaError("invalid-input", `public key rejected: ${(e as Error).message}`);
  }
  const alg = info.algorithm.algorithm;
  if (alg === OID.ecPublicKey) {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return { spki, keyType: "P-256", keyObject };
    if (curve === "secp384r1") return { spki, keyType: "P-384", keyObject };
    throw new CaError("invalid-input", `EC curve ${curve ?? "unknown"} not supported (P-256, P-384)`);
  }
  if (alg === OID.rsaEncryption) {
    const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
    const e = keyObject.asymmetricKeyDetails?.publicExponent;
    if (e !== 65537n) throw new CaError("invalid-input", `RSA public exponent must be 65537`);
    if (bits === 2048 || bits === 3072 || bits === 4096) return { spki, keyType: `RSA-${bits}` as KeyType, keyObject };
    throw new CaError("invalid-input", `RSA modulus of ${bits} bits not supported (2048, 3072, 4096)`);
  }
  throw new CaError("invalid-input", `public key algorithm ${alg} not supported`);
}

import { createHash } from "node:crypto";
import type { KeyType } from "../shared/key-type.js";

export interface SignatureAlgorithm {
  readonly oid: string;
  /** AlgorithmIdentifier DER. */
  readonly der: Uint8Array;
  readonly hash: "sha256" | "sha384";
}

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

// RFC 5758 3.2: ecdsa-with-SHA256/384, parameters absent.
const ECDSA_SHA256: SignatureAlgorithm = {
  oid: "1.2.840.10045.4.3.2",
  der: hex("300a06082a8648ce3d040302"),
  hash: "sha256",
};
const ECDSA_SHA384: SignatureAlgorithm = {
  oid: "1.2.840.10045.4.3.3",
  der: hex("300a06082a8648ce3d040303"),
  hash: "sha384",
};
// RFC 4055 5: sha256WithRSAEncryption with NULL parameters.
const RSA_SHA256: SignatureAlgorithm = {
  oid: "1.2.840.113549.1.1.11",
  der: hex("300d06092a864886f70d01010b0500"),
  hash: "sha256",
};

/** The signature algorithm a CA key of this type uses. */
export function signatureAlgorithmFor(keyType: KeyType): SignatureAlgorithm {
  if (keyType === "P-256") return ECDSA_SHA256;
  if (keyType === "P-384") return ECDSA_SHA384;
  return RSA_SHA256;
}

// RFC 8017 9.2 note 1: DigestInfo prefixes.
const DIGEST_INFO_PREFIX: Record<string, Uint8Array> = {
  sha256: hex("3031300d060960864801650304020105000420"),
  sha384: hex("3041300d060960864801650304020205000430"),
};

/** Bytes handed to CKM_RSA_PKCS: DigestInfo(hash(data)). */
export function rsaDigestInfo(hash: "sha256" | "sha384", data: Uint8Array): Uint8Array {
  const d = createHash(hash).update(data).digest();
  return new Uint8Array(Buffer.concat([DIGEST_INFO_PREFIX[hash]!, d]));
}

/** X.509 wants Ecdsa-Sig-Value; PKCS#11 CKM_ECDSA gives r||s (RFC 3279 2.2.3). */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const t = b.subarray(i);
    const body = (t[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), t]) : Buffer.from(t);
    return Buffer.concat([Buffer.of(0x02, body.length), body]);
  };
  const half = raw.length / 2;
  const seq = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  const len = seq.length < 0x80 ? Buffer.of(seq.length) : Buffer.of(0x81, seq.length);
  return new Uint8Array(Buffer.concat([Buffer.of(0x30), len, seq]));
}

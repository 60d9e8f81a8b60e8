import { X509Certificate, createHash, verify, type KeyObject } from "node:crypto";
import { publicKeyObject } from "../shared/public-key-object.js";
import { CaError } from "../shared/ca-error.js";
import { childrenOf, content, readTlv } from "../asn1/der-reader.js";
import { certificateFields, type CertificateFields } from "../asn1/certificate-fields.js";
import { OID } from "../asn1/oids.js";

/**
 * PIV key attestation in the YubiKey format (Yubico "PIV attestation", OID arc 1.3.6.1.4.1.41482.3):
 * the card's attestation key (slot f9) signs an X.509 certificate for a key generated on the card,
 * subject "YubiKey PIV Attestation <slot>", with the card serial, firmware, PIN/touch policy and
 * form factor as extensions; the f9 certificate chains to the card maker's attestation root.
 * This module parses and checks the chain only; which roots and policies count is policy data
 * (the workflow's `attestation` block), applied by the RA.
 */
export const PIV_ATTESTATION_OID = {
  firmware: "1.3.6.1.4.1.41482.3.3",
  serial: "1.3.6.1.4.1.41482.3.7",
  policy: "1.3.6.1.4.1.41482.3.8",
  formFactor: "1.3.6.1.4.1.41482.3.9",
} as const;

export type PivPinPolicy = "never" | "once" | "always" | "match-once" | "match-always";
export type PivTouchPolicy = "never" | "always" | "cached";
const PIN_POLICY: Record<number, PivPinPolicy> = {
  1: "never",
  2: "once",
  3: "always",
  4: "match-once",
  5: "match-always",
};
const TOUCH_POLICY: Record<number, PivTouchPolicy> = { 1: "never", 2: "always", 3: "cached" };

export interface PivAttestationInput {
  /** DER of the slot's attestation certificate (INS F9). */
  readonly certificate: Uint8Array;
  /** DER of the card's attestation certificate (slot f9, object 5FFF01). */
  readonly intermediate: Uint8Array;
}

/** What a verified attestation says (only returned when the chain holds). */
export interface VerifiedPivAttestation {
  readonly slot: string;
  /** The card serial from extension .3.7, in decimal (as PivCard.cardSerial() reports it). */
  readonly cardSerial: string;
  readonly firmware?: string;
  readonly pinPolicy: PivPinPolicy;
  readonly touchPolicy: PivTouchPolicy;
  readonly formFactor?: number;
  /** The attested key (DER SubjectPublicKeyInfo). */
  readonly spki: Uint8Array;
  readonly certificateSha256: string;
  readonly intermediateSha256: string;
  readonly intermediateSubject: string;
  /** The trust anchor the f9 certificate chains to. */
  readonly anchor: { readonly subject: string; readonly sha256: string };
}

const refuse = (m: string) => new CaError("policy-violation", `PIV attestation: ${m}`);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const oneLine = (s: string) => s.split("\n").filter(Boolean).join(", ");

/** A card maker's root as the checks use it: its fields, key, text and fingerprint. */
interface Anchor {
  readonly fields: CertificateFields;
  readonly key: KeyObject;
  readonly subject: string;
  readonly sha256: string;
}

/**
 * Trust anchors are the same few certificates for every production: parsed once per DER object,
 * by OpenSSL as well (an anchor it cannot read is no anchor).
 */
const anchorCache = new WeakMap<Uint8Array, Anchor>();
function parsedAnchor(der: Uint8Array): Anchor {
  let a = anchorCache.get(der);
  if (!a) {
    const x = new X509Certificate(der);
    a = { fields: certificateFields(der), key: x.publicKey, subject: oneLine(x.subject), sha256: sha256(der) };
    anchorCache.set(der, a);
  }
  return a;
}

/** The fields of an attestation certificate that the checks read. */
export type AttestationFields = CertificateFields;

/** RFC 5280 4.1: an attestation certificate's fields (asn1/certificate-fields.ts); a refusal if they do not parse. */
export function attestationFields(der: Uint8Array): AttestationFields {
  try {
    return certificateFields(der);
  } catch (e) {
    throw refuse(`the attestation certificate's fields cannot be read (${(e as Error).message})`);
  }
}

/** RFC 5758 3.2, RFC 4055 5: the signature algorithms an attestation may use, by the hash they sign. */
const SIGNATURE_HASH: Readonly<Record<string, string>> = {
  [OID.ecdsaWithSHA256]: "sha256",
  [OID.ecdsaWithSHA384]: "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  [OID.sha256WithRSAEncryption]: "sha256",
  [OID.sha384WithRSAEncryption]: "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

/** The certificate's signature, verified with the issuer's key (the algorithm must fit the key's type). */
function signedBy(f: AttestationFields, key: KeyObject): boolean {
  const hash = SIGNATURE_HASH[f.signatureAlgorithm];
  const ec = f.signatureAlgorithm.startsWith("1.2.840.10045.4.");
  if (!hash || (ec ? key.asymmetricKeyType !== "ec" : key.asymmetricKeyType !== "rsa")) return false;
  try {
    return verify(hash, f.tbs, key, f.signature);
  } catch {
    return false;
  }
}

/** RFC 5280 4.2.1.3: a key usage extension, where present, allows certificate signing (bit 5, keyCertSign). */
function maySignCertificates(f: AttestationFields): boolean {
  const ku = f.extensions.get(OID.extKeyUsage);
  if (!ku) return true;
  try {
    const t = readTlv(ku, 0);
    const bits = content(ku, t);
    return t.tag === 0x03 && bits.length >= 2 && (bits[1]! & 0x04) !== 0;
  } catch {
    return false;
  }
}

/** RFC 5280 4.2.1.1, 4.2.1.2: where the child names its issuer's key identifier and the issuer has one, they match. */
function keyIdentifiersMatch(child: CertificateFields, issuer: CertificateFields): boolean {
  const akid = child.extensions.get(OID.extAuthorityKeyIdentifier);
  const skid = issuer.extensions.get(OID.extSubjectKeyIdentifier);
  if (!akid || !skid) return true;
  try {
    const seq = readTlv(akid, 0);
    const id = childrenOf(akid, seq).find((t) => t.tag === 0x80); // [0] keyIdentifier
    if (!id) return true;
    const s = readTlv(skid, 0);
    return s.tag === 0x04 && Buffer.compare(content(akid, id), content(skid, s)) === 0;
  } catch {
    return false;
  }
}

/**
 * RFC 5280 6.1.3 (a)(1), (a)(2), (a)(4): `child` is signed by `issuerKey`, names `issuer`'s subject
 * as its issuer, and the issuer may sign certificates; OpenSSL's X509_check_issued plus the
 * signature, checked on the DER walk.
 */
function issuedBy(child: CertificateFields, issuer: CertificateFields, issuerKey: KeyObject): boolean {
  return (
    Buffer.compare(child.issuer, issuer.subject) === 0 &&
    maySignCertificates(issuer) &&
    keyIdentifiersMatch(child, issuer) &&
    signedBy(child, issuerKey)
  );
}

function validAt(f: CertificateFields, now: Date, what: string): void {
  if (now < f.notBefore || now > f.notAfter)
    throw refuse(`the ${what} is not valid now (${f.notBefore.toISOString()} to ${f.notAfter.toISOString()})`);
}

/** X.690 8.3: a DER INTEGER (the whole TLV) as a non-negative decimal string. */
function integerValue(tlvBytes: Uint8Array): string {
  let c: Uint8Array;
  try {
    const t = readTlv(tlvBytes, 0);
    if (t.tag !== 0x02 || t.end !== tlvBytes.length) throw new Error("not one INTEGER");
    c = content(tlvBytes, t);
  } catch {
    throw refuse("the card serial extension is not an INTEGER");
  }
  if (c.length === 0 || (c[0]! & 0x80) !== 0) throw refuse("the card serial is not a positive integer");
  if (c.length > 1 && c[0] === 0 && (c[1]! & 0x80) === 0) throw refuse("the card serial is not minimally encoded");
  return BigInt(`0x${Buffer.from(c).toString("hex")}`).toString(10);
}

/**
 * Verifies an attestation: the f9 certificate is issued (and signed) by one of `anchors`, the slot
 * certificate by the f9 key, all valid at `now`; returns what it attests. Any failure is a
 * `policy-violation` naming what did not hold.
 */
export function verifyPivAttestation(
  input: PivAttestationInput,
  anchors: readonly Uint8Array[],
  now: Date,
): VerifiedPivAttestation {
  const fields = attestationFields(input.certificate);
  const f9 = attestationFields(input.intermediate);
  if (anchors.length === 0) throw refuse("no attestation roots are installed for this workflow");
  const anchor = anchors.map(parsedAnchor).find((a) => issuedBy(f9, a.fields, a.key));
  if (!anchor)
    throw refuse(
      `the card's attestation certificate (${f9.subjectText}, issued by ` +
        `${f9.issuerText}) does not chain to a configured card-maker root`,
    );
  // The f9 key is imported only once its certificate chained to the maker's root.
  let f9Key: KeyObject;
  try {
    f9Key = publicKeyObject(f9.spki);
  } catch (e) {
    throw refuse(`the card's attestation key cannot be read (${(e as Error).message})`);
  }
  if (!issuedBy(fields, f9, f9Key))
    throw refuse("the attestation certificate is not signed by the card's attestation key (f9)");
  validAt(anchor.fields, now, "card-maker root");
  validAt(f9, now, "card's attestation certificate");
  validAt(fields, now, "attestation certificate");
  const slot = /^YubiKey PIV Attestation ([0-9a-f]{2})$/i.exec(fields.commonName ?? "")?.[1]?.toLowerCase();
  if (!slot) throw refuse(`the attestation certificate's subject CN '${fields.commonName ?? ""}' names no PIV slot`);
  const ext = fields.extensions;
  const serialExt = ext.get(PIV_ATTESTATION_OID.serial);
  if (!serialExt) throw refuse("the attestation names no card serial (1.3.6.1.4.1.41482.3.7)");
  const policy = ext.get(PIV_ATTESTATION_OID.policy);
  if (!policy || policy.length !== 2)
    throw refuse("the attestation has no PIN and touch policy (1.3.6.1.4.1.41482.3.8)");
  const pinPolicy = PIN_POLICY[policy[0]!],
    touchPolicy = TOUCH_POLICY[policy[1]!];
  if (!pinPolicy || !touchPolicy)
    throw refuse(`unknown PIN/touch policy octets ${Buffer.from(policy).toString("hex")}`);
  const fw = ext.get(PIV_ATTESTATION_OID.firmware);
  const ff = ext.get(PIV_ATTESTATION_OID.formFactor);
  return {
    slot,
    cardSerial: integerValue(serialExt),
    pinPolicy,
    touchPolicy,
    ...(fw && fw.length === 3 ? { firmware: Array.from(fw).join(".") } : {}),
    ...(ff && ff.length === 1 ? { formFactor: ff[0]! } : {}),
    spki: fields.spki,
    certificateSha256: sha256(input.certificate),
    intermediateSha256: sha256(input.intermediate),
    intermediateSubject: f9.subjectText,
    anchor: { subject: anchor.subject, sha256: anchor.sha256 },
  };
}

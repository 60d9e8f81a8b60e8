import { X509Certificate, createHash } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import { AsnIntegerArrayBufferConverter, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } from "@peculiar/asn1-schema";
import { parseDer } from "../asn1/parse.js";
import { childrenOf, content, decodeOid, readTlv, whole } from "../asn1/der-reader.js";

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

/** Trust anchors are the same few certificates for every production: parsed once per DER object. */
const anchorCache = new WeakMap<Uint8Array, X509Certificate>();
function parsedAnchor(der: Uint8Array): X509Certificate {
  let x = anchorCache.get(der);
  if (!x) anchorCache.set(der, (x = new X509Certificate(der)));
  return x;
}

/** The fields of an attestation certificate that the checks read: its SPKI (DER) and its extensions. */
export interface AttestationFields {
  readonly spki: Uint8Array;
  /** RFC 5280 4.1: OID → extnValue octets. */
  readonly extensions: ReadonlyMap<string, Uint8Array>;
}

/**
 * RFC 5280 4.1: the SPKI and extensions of an attestation certificate, read by walking its DER.
 * Called only after OpenSSL has parsed the certificate and its signature verified up the card
 * maker's chain, so the bytes are the maker's. A DER walk, not the @peculiar library, because the
 * library's parse was 7 % of the RA benchmark's CPU (one per production); the unit test compares
 * the two on every fixture.
 */
export function attestationFields(der: Uint8Array): AttestationFields {
  try {
    const tbs = readTlv(der, readTlv(der, 0).contentStart);
    const fields = childrenOf(der, tbs);
    const at = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
    const spki = fields[at + 5];
    if (tbs.tag !== 0x30 || !spki || spki.tag !== 0x30) throw new Error("no subjectPublicKeyInfo");
    const extensions = new Map<string, Uint8Array>();
    const wrapper = fields.slice(at + 6).find((f) => f.tag === 0xa3); // [3] EXPLICIT Extensions
    if (wrapper) {
      const [list] = childrenOf(der, wrapper);
      for (const e of list ? childrenOf(der, list) : []) {
        const parts = childrenOf(der, e);
        const oid = parts[0],
          value = parts[parts.length - 1];
        if (e.tag !== 0x30 || oid?.tag !== 0x06 || value?.tag !== 0x04) throw new Error("malformed extension");
        extensions.set(decodeOid(content(der, oid)), content(der, value).slice());
      }
    }
    return { spki: whole(der, spki).slice(), extensions };
  } catch (e) {
    throw refuse(`the attestation certificate's fields cannot be read (${(e as Error).message})`);
  }
}

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (e) {
    throw refuse(`the ${what} is not an X.509 certificate (${(e as Error).message})`);
  }
}

function validAt(x: X509Certificate, now: Date, what: string): void {
  if (now < new Date(x.validFrom) || now > new Date(x.validTo))
    throw refuse(`the ${what} is not valid now (${x.validFrom} to ${x.validTo})`);
}

/** A DER INTEGER (the whole TLV) as a non-negative decimal string. */
function integerValue(tlvBytes: Uint8Array): string {
  let c: Uint8Array;
  try {
    c = new Uint8Array(parseDer(tlvBytes, IntegerValue, "card serial").value);
  } catch {
    throw refuse("the card serial extension is not an INTEGER");
  }
  if (c.length === 0 || (c[0]! & 0x80) !== 0) throw refuse("the card serial is not a positive integer");
  return BigInt(`0x${Buffer.from(c).toString("hex")}`).toString(10);
}

/** INTEGER as its content octets (the card serial extension's value). */
@AsnType({ type: AsnTypeTypes.Choice })
class IntegerValue {
  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter }) value = new ArrayBuffer(0);
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
  const att = parse(input.certificate, "attestation certificate");
  const f9 = parse(input.intermediate, "attestation intermediate (f9) certificate");
  if (anchors.length === 0) throw refuse("no attestation roots are installed for this workflow");
  let anchor: X509Certificate | undefined;
  for (const der of anchors) {
    const a = parsedAnchor(der);
    if (f9.checkIssued(a) && f9.verify(a.publicKey)) {
      anchor = a;
      break;
    }
  }
  if (!anchor)
    throw refuse(
      `the card's attestation certificate (${oneLine(f9.subject)}, issued by ` +
        `${oneLine(f9.issuer)}) does not chain to a configured card-maker root`,
    );
  if (!att.checkIssued(f9) || !att.verify(f9.publicKey))
    throw refuse("the attestation certificate is not signed by the card's attestation key (f9)");
  validAt(anchor, now, "card-maker root");
  validAt(f9, now, "card's attestation certificate");
  validAt(att, now, "attestation certificate");
  const slot = /^CN=YubiKey PIV Attestation ([0-9a-f]{2})$/im.exec(att.subject)?.[1]?.toLowerCase();
  if (!slot) throw refuse(`the attestation certificate's subject '${oneLine(att.subject)}' names no PIV slot`);
  const fields = attestationFields(input.certificate);
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
    intermediateSubject: oneLine(f9.subject),
    anchor: { subject: oneLine(anchor.subject), sha256: sha256(new Uint8Array(anchor.raw)) },
  };
}

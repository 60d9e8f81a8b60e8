import { TBSCertificate, type AttributeValue, type Name, type Time } from "@peculiar/asn1-x509";
import { isLibraryDer, parseDer, reencode } from "../../asn1/parse.js";
import { CaError } from "../../shared/ca-error.js";
import { viewOf, type SpkiView } from "../spki-reader.js";

export interface AttributeView {
  readonly oid: string;
  /** Universal tag of the string (0x0c UTF8String, 0x13 PrintableString, ...). */
  readonly tag: number;
  readonly value: string;
}

export interface ExtensionView {
  readonly oid: string;
  readonly critical: boolean;
  /** Content of extnValue (the DER of the extension's own value). */
  readonly value: Uint8Array;
}

export interface TimeView {
  readonly tag: number;
  readonly date: Date;
}

/**
 * A TBSCertificate as read back from the DER that would be signed (RFC 5280 4.1): what the lints
 * look at, independent of the hand-written encoder that built it.
 */
export interface TbsView {
  readonly version: number;
  readonly serial: Uint8Array;
  readonly signatureDer: Uint8Array;
  readonly signatureOid: string;
  readonly signatureHasParameters: boolean;
  readonly issuerDer: Uint8Array;
  readonly notBefore: TimeView;
  readonly notAfter: TimeView;
  readonly subjectDer: Uint8Array;
  readonly subject: readonly (readonly AttributeView[])[];
  readonly spkiDer: Uint8Array;
  readonly spki: SpkiView;
  readonly extensions: readonly ExtensionView[];
}

const bad = (m: string) => new CaError("invalid-input", `TBS: ${m}`);

/** The string and its universal tag, from the library's AttributeValue CHOICE. */
function attributeString(v: AttributeValue): { tag: number; value: string } {
  if (v.utf8String !== undefined) return { tag: 0x0c, value: v.utf8String };
  if (v.printableString !== undefined) return { tag: 0x13, value: v.printableString };
  if (v.ia5String !== undefined) return { tag: 0x16, value: v.ia5String };
  if (v.teletexString !== undefined) return { tag: 0x14, value: v.teletexString };
  if (v.bmpString !== undefined) return { tag: 0x1e, value: v.bmpString };
  if (v.universalString !== undefined) return { tag: 0x1c, value: v.universalString };
  const tag = v.anyValue ? new Uint8Array(v.anyValue)[0] : undefined;
  throw bad(`attribute value tag 0x${(tag ?? 0).toString(16)} is not a string`);
}

export function readName(name: Name): AttributeView[][] {
  return name.map((rdn) => rdn.map((atv) => ({ oid: atv.type, ...attributeString(atv.value) })));
}

function timeOf(t: Time): TimeView {
  if (t.utcTime) return { tag: 0x17, date: t.utcTime };
  if (t.generalTime) return { tag: 0x18, date: t.generalTime };
  throw bad("empty Time");
}

/**
 * The library's view of a TBS. The lints run on readTbsViewFast (fast-tbs-view.ts); this one is
 * the reference it is tested against, and what tools and tests use.
 */
export function readTbsView(der: Uint8Array): TbsView {
  try {
    return libraryView(der);
  } catch (e) {
    throw e instanceof CaError ? e : bad((e as Error).message);
  }
}

function libraryView(der: Uint8Array): TbsView {
  const tbs = parseDer(der, TBSCertificate, "TBSCertificate");
  // Every field below is the library's own encoding; equal to the input only if the input is DER.
  if (!isLibraryDer(der, tbs))
    throw bad("not DER: the library's re-encoding differs from the bytes to be signed (X.690 10)");
  if (tbs.issuerUniqueID || tbs.subjectUniqueID) throw bad("unique identifiers are not used (RFC 5280 4.1.2.8)");
  return {
    version: tbs.version + 1,
    serial: new Uint8Array(tbs.serialNumber),
    signatureDer: reencode(tbs.signature),
    signatureOid: tbs.signature.algorithm,
    signatureHasParameters: tbs.signature.parameters !== undefined,
    issuerDer: reencode(tbs.issuer),
    notBefore: timeOf(tbs.validity.notBefore),
    notAfter: timeOf(tbs.validity.notAfter),
    subjectDer: reencode(tbs.subject),
    subject: readName(tbs.subject),
    spkiDer: reencode(tbs.subjectPublicKeyInfo),
    spki: viewOf(tbs.subjectPublicKeyInfo),
    extensions: (tbs.extensions ?? []).map((e) => ({
      oid: e.extnID,
      critical: e.critical,
      value: new Uint8Array(e.extnValue.buffer),
    })),
  };
}

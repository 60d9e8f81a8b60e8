import { AsnConvert } from "@peculiar/asn1-schema";
import { Name } from "@peculiar/asn1-x509";
import { SUBJECT_ATTRIBUTE_OIDS, SUBJECT_ATTRIBUTE_ORDER, OID } from "./oids.js";
import { concat, derTlv, toArrayBuffer } from "./der.js";
import { encodeOid } from "./der-reader.js";

export type SubjectAttributes = Readonly<Partial<Record<(typeof SUBJECT_ATTRIBUTE_ORDER)[number], string>>>;

/** X.520: countryName and serialNumber are PrintableString; the rest UTF8String (RFC 5280 4.1.2.6). */
const PRINTABLE = new Set<string>([OID.countryName, OID.serialNumber]);
const ATTR_OID_DER: Record<string, Uint8Array> = Object.fromEntries(
  Object.entries(SUBJECT_ATTRIBUTE_OIDS).map(([k, v]) => [k, encodeOid(v)]),
);
const utf8 = new TextEncoder();

/** Name DER: one attribute per RDN, in a fixed order (most general first). */
export function encodeName(attrs: SubjectAttributes): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const key of SUBJECT_ATTRIBUTE_ORDER) {
    const v = attrs[key];
    if (v === undefined) continue;
    const tag = PRINTABLE.has(SUBJECT_ATTRIBUTE_OIDS[key]!) ? 0x13 : 0x0c;
    rdns.push(derTlv(0x31, derTlv(0x30, concat(ATTR_OID_DER[key]!, derTlv(tag, utf8.encode(v))))));
  }
  return derTlv(0x30, concat(...rdns));
}

export function parseName(der: Uint8Array): Name {
  return AsnConvert.parse(toArrayBuffer(der), Name);
}

const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(SUBJECT_ATTRIBUTE_OIDS).map(([k, v]) => [v, k]),
);

/** RFC 4514-style string, most specific first (for display and search only, never for comparison). */
export function nameToString(name: Name): string {
  const parts: string[] = [];
  for (const rdn of name) {
    for (const atv of rdn) {
      const k = SHORT[atv.type] ?? atv.type;
      const v = atv.value.toString().replace(/([,+"\\<>;=])/g, "\\$1");
      parts.push(`${k}=${v}`);
    }
  }
  return parts.reverse().join(", ");
}

/** The same string form as nameToString, from the attributes before encoding. */
export function subjectToString(attrs: SubjectAttributes): string {
  const parts: string[] = [];
  for (const key of SUBJECT_ATTRIBUTE_ORDER) {
    const v = attrs[key];
    if (v !== undefined) parts.push(`${key}=${v.replace(/([,+"\\<>;=])/g, "\\$1")}`);
  }
  return parts.reverse().join(", ");
}

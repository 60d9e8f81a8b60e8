import { AsnConvert } from "@peculiar/asn1-schema";
import { Name } from "@peculiar/asn1-x509";
import { nameAttributes } from "../../asn1/name.js";
import { OID } from "../../asn1/oids.js";
import { toArrayBuffer, toHex } from "../../asn1/der.js";
import type { Lint } from "./lint.js";

/** X.520 upper bounds (RFC 5280 Appendix A). */
const UPPER_BOUND: Record<string, number> = { CN: 64, O: 64, OU: 64, serialNumber: 64, C: 2, GN: 16384, SN: 16384 };
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export const nameLints: Lint[] = [
  {
    id: "issuer_matches_ca_subject",
    citation: "RFC 5280 4.1.2.4 / 6.1.3 (name chaining, byte for byte)",
    check: ({ tbs, issuer, selfSigned }) => {
      const got = new Uint8Array(AsnConvert.serialize(tbs.issuer));
      const want = selfSigned ? new Uint8Array(AsnConvert.serialize(tbs.subject)) : issuer.nameDer;
      return toHex(got) === toHex(want) ? undefined : "tbs.issuer differs from the CA's subject";
    },
  },
  {
    id: "subject_attributes_per_profile",
    citation: "CPS 3.1.1 / CPS 7.1.4 (profile subject rules)",
    check: ({ tbs, profile }) => {
      const attrs = nameAttributes(tbs.subject);
      for (const k of Object.keys(attrs)) {
        const rule = profile.subject[k];
        if (!rule) return `subject attribute ${k} not allowed by profile ${profile.id}`;
        if (attrs[k]!.length > 1) return `subject attribute ${k} repeated`;
      }
      for (const [k, rule] of Object.entries(profile.subject)) {
        const v = attrs[k]?.[0];
        if (v === undefined) {
          if (rule.presence === "required") return `subject attribute ${k} required by profile ${profile.id}`;
          continue;
        }
        if (v.length === 0) return `subject attribute ${k} empty`;
        if (rule.maxLength !== undefined && v.length > rule.maxLength) return `subject ${k} longer than ${rule.maxLength}`;
        if (rule.pattern !== undefined && !new RegExp(`^(?:${rule.pattern})$`, "u").test(v)) return `subject ${k} does not match the profile pattern`;
        if (rule.allowed !== undefined && !rule.allowed.includes(v)) return `subject ${k} not in the profile's allowed list`;
      }
      return undefined;
    },
  },
  {
    id: "subject_upper_bounds",
    citation: "RFC 5280 Appendix A (ub-common-name etc.)",
    check: ({ tbs }) => {
      const attrs = nameAttributes(tbs.subject);
      for (const [k, vs] of Object.entries(attrs)) {
        const ub = UPPER_BOUND[k];
        if (ub !== undefined && vs.some((v) => [...v].length > ub)) return `subject ${k} exceeds upper bound ${ub}`;
      }
      return undefined;
    },
  },
  {
    id: "subject_string_types",
    citation: "RFC 5280 4.1.2.6 / X.520: countryName and serialNumber are PrintableString",
    check: ({ tbs }) => {
      for (const rdn of tbs.subject)
        for (const atv of rdn) {
          if (atv.type === OID.countryName || atv.type === OID.serialNumber) {
            const v = atv.value.printableString;
            if (v === undefined) return `${atv.type} must be PrintableString`;
            if (!PRINTABLE_RE.test(v)) return `${atv.type} has characters outside PrintableString`;
          } else if (atv.value.utf8String === undefined && atv.value.printableString === undefined) {
            return `${atv.type} must be UTF8String or PrintableString (RFC 5280 4.1.2.6)`;
          }
        }
      return undefined;
    },
  },
  {
    id: "subject_not_empty",
    citation: "RFC 5280 4.1.2.6",
    check: ({ tbs }) => (tbs.subject.length === 0 ? "empty subject (profiles require a CN)" : undefined),
  },
];

export function parseNameDer(der: Uint8Array): Name {
  return AsnConvert.parse(toArrayBuffer(der), Name);
}

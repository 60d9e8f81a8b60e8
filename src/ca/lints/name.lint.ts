import { OID, SUBJECT_ATTRIBUTE_OIDS } from "../../asn1/oids.js";
import { toHex } from "../../asn1/der.js";
import { compiledPattern } from "../../policy/patterns.js";
import type { Lint } from "./lint.js";

/** X.520 upper bounds (RFC 5280 Appendix A). */
const UPPER_BOUND: Record<string, number> = { CN: 64, O: 64, OU: 64, serialNumber: 64, C: 2, GN: 16384, SN: 16384 };
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(SUBJECT_ATTRIBUTE_OIDS).map(([k, v]) => [v, k]),
);

export const nameLints: Lint[] = [
  {
    id: "issuer_matches_ca_subject",
    citation: "RFC 5280 4.1.2.4 / 6.1.3 (name chaining, byte for byte)",
    check: ({ tbs, issuer, selfSigned }) => {
      const want = selfSigned ? tbs.subjectDer : issuer.nameDer;
      return toHex(tbs.issuerDer) === toHex(want) ? undefined : "tbs.issuer differs from the CA's subject";
    },
  },
  {
    id: "subject_attributes_per_profile",
    citation: "CPS 3.1.1 / CPS 7.1.4 (profile subject rules)",
    check: ({ tbs, profile }) => {
      const attrs: Record<string, string[]> = {};
      for (const rdn of tbs.subject) {
        if (rdn.length !== 1) return "multi-valued RDN";
        const k = SHORT[rdn[0]!.oid];
        if (!k || !profile.subject[k])
          return `subject attribute ${k ?? rdn[0]!.oid} not allowed by profile ${profile.id}`;
        (attrs[k] ??= []).push(rdn[0]!.value);
      }
      for (const [k, rule] of Object.entries(profile.subject)) {
        const vs = attrs[k];
        if (vs === undefined) {
          if (rule.presence === "required") return `subject attribute ${k} required by profile ${profile.id}`;
          continue;
        }
        if (vs.length > 1) return `subject attribute ${k} repeated`;
        const v = vs[0]!;
        if (v.length === 0) return `subject attribute ${k} empty`;
        if (rule.maxLength !== undefined && v.length > rule.maxLength)
          return `subject ${k} longer than ${rule.maxLength}`;
        if (rule.pattern !== undefined && !compiledPattern(rule.pattern).test(v))
          return `subject ${k} does not match the profile pattern`;
        if (rule.allowed !== undefined && !rule.allowed.includes(v))
          return `subject ${k} not in the profile's allowed list`;
      }
      return undefined;
    },
  },
  {
    id: "subject_upper_bounds",
    citation: "RFC 5280 Appendix A (ub-common-name etc.)",
    check: ({ tbs }) => {
      for (const rdn of tbs.subject)
        for (const a of rdn) {
          const ub = UPPER_BOUND[SHORT[a.oid] ?? ""];
          if (ub !== undefined && [...a.value].length > ub) return `subject ${SHORT[a.oid]} exceeds upper bound ${ub}`;
        }
      return undefined;
    },
  },
  {
    id: "subject_string_types",
    citation: "RFC 5280 4.1.2.6 / X.520: countryName and serialNumber are PrintableString, others UTF8String",
    check: ({ tbs }) => {
      for (const rdn of tbs.subject)
        for (const a of rdn) {
          if (a.oid === OID.countryName || a.oid === OID.serialNumber) {
            if (a.tag !== 0x13) return `${SHORT[a.oid]} must be PrintableString`;
            if (!PRINTABLE_RE.test(a.value)) return `${SHORT[a.oid]} has characters outside PrintableString`;
          } else if (a.tag !== 0x0c && a.tag !== 0x13) {
            return `${SHORT[a.oid] ?? a.oid} must be UTF8String or PrintableString`;
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

import { OID, SUBJECT_ATTRIBUTE_OIDS } from "../../asn1/oids.js";
import { AttributeValue, SubjectAlternativeName } from "@peculiar/asn1-x509";
import { parseDer } from "../../asn1/parse.js";
import { decodeKrb5PrincipalName } from "../../asn1/krb5-principal-name.js";
import { bidiControl, controlCharacter, mixedScripts } from "../../shared/unicode-text.js";
import { readExtension } from "./extension-reader.js";
import type { Lint } from "./lint.js";
import type { TbsView } from "./tbs-view.js";

const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(SUBJECT_ATTRIBUTE_OIDS).map(([k, v]) => [v, k]),
);

/**
 * Every string a person reads in the certificate: each subject attribute value and each SAN
 * (rfc822Name, dNSName, URI, the string of an otherName such as the UPN), as the library reads them.
 */
export function certificateStrings(tbs: TbsView): { where: string; value: string }[] {
  const out: { where: string; value: string }[] = [];
  for (const rdn of tbs.subject)
    for (const a of rdn) out.push({ where: `subject ${SHORT[a.oid] ?? a.oid}`, value: a.value });
  const san = readExtension(tbs, OID.extSubjectAltName, SubjectAlternativeName);
  for (const gn of san ? [...san.value] : []) {
    if (gn.rfc822Name !== undefined) out.push({ where: "SAN email", value: gn.rfc822Name });
    else if (gn.dNSName !== undefined) out.push({ where: "SAN dns", value: gn.dNSName });
    else if (gn.uniformResourceIdentifier !== undefined)
      out.push({ where: "SAN uri", value: gn.uniformResourceIdentifier });
    else if (gn.otherName?.typeId === OID.pkinitSan) {
      let k: string | undefined;
      try {
        k = decodeKrb5PrincipalName(new Uint8Array(gn.otherName.value));
      } catch {
        k = undefined; // san_per_profile names the defect
      }
      if (k !== undefined) out.push({ where: "SAN otherName id-pkinit-san", value: k });
    } else if (gn.otherName) {
      let v: AttributeValue | undefined;
      try {
        v = parseDer(new Uint8Array(gn.otherName.value), AttributeValue, "otherName value");
      } catch {
        v = undefined; // not a string: nothing a person reads
      }
      const str = v?.utf8String ?? v?.ia5String ?? v?.printableString;
      if (str !== undefined)
        out.push({
          where: `SAN otherName ${gn.otherName.typeId === OID.upn ? "UPN" : gn.otherName.typeId}`,
          value: str,
        });
    }
  }
  return out;
}

const firstProblem = (tbs: TbsView, rule: (s: string) => string | undefined): string | undefined => {
  for (const s of certificateStrings(tbs)) {
    const p = rule(s.value);
    if (p) return `${s.where} ${JSON.stringify(s.value)}: ${p}`;
  }
  return undefined;
};

/** One rule per lint: no control characters, no bidi formatting, no mixed scripts, in every subject and SAN string. */
export const textLints: Lint[] = [
  {
    id: "text_no_control_characters",
    citation:
      "RFC 5280 4.1.2.6 / RFC 4518 2.2 (controls are not part of a name) / CA/B BR " +
      "7.1.4.2 / UTS #39 3.1 (invisible characters)",
    check: ({ tbs }) => firstProblem(tbs, controlCharacter),
  },
  {
    id: "text_no_bidi_controls",
    citation: "UAX #9 2.1-2.6 (explicit directional formatting) / UTS #39 3.1 / CVE-2021-42574",
    check: ({ tbs }) => firstProblem(tbs, bidiControl),
  },
  {
    id: "text_single_script",
    citation: "UTS #39 5.1-5.2 mixed-script (Highly Restrictive) / CA/B BR 7.1.4.2 (no misleading subject information)",
    check: ({ tbs }) => firstProblem(tbs, mixedScripts),
  },
];

import { OID, SUBJECT_ATTRIBUTE_OIDS } from "../../asn1/oids.js";
import { childrenOf, content, decodeOid, readTlv } from "../../asn1/der-reader.js";
import { bidiControl, controlCharacter, mixedScripts } from "../../shared/unicode-text.js";
import { findExtensions } from "./extension-reader.js";
import type { Lint } from "./lint.js";
import type { TbsView } from "./tbs-view.js";

const SHORT: Record<string, string> = Object.fromEntries(Object.entries(SUBJECT_ATTRIBUTE_OIDS).map(([k, v]) => [v, k]));
const SAN_KIND: Record<number, string> = { 0x81: "email", 0x82: "dns", 0x86: "uri" };

/**
 * Every string a person reads in the certificate: each subject attribute value and each SAN
 * (rfc822Name, dNSName, URI, the UTF8String of an otherName such as the UPN), read from the TBS DER.
 */
export function certificateStrings(tbs: TbsView): { where: string; value: string }[] {
  const out: { where: string; value: string }[] = [];
  for (const rdn of tbs.subject) for (const a of rdn) out.push({ where: `subject ${SHORT[a.oid] ?? a.oid}`, value: a.value });
  for (const ext of findExtensions(tbs, OID.extSubjectAltName)) {
    const buf = ext.value;
    const seq = readTlv(buf, 0);
    for (const gn of childrenOf(buf, seq)) {
      if (SAN_KIND[gn.tag]) out.push({ where: `SAN ${SAN_KIND[gn.tag]}`, value: Buffer.from(content(buf, gn)).toString("latin1") });
      else if (gn.tag === 0xa0) {
        const [type, explicit] = childrenOf(buf, gn);
        const inner = explicit ? childrenOf(buf, explicit)[0] : undefined;
        if (type && inner && (inner.tag === 0x0c || inner.tag === 0x16 || inner.tag === 0x13))
          out.push({ where: `SAN otherName ${decodeOid(content(buf, type)) === OID.upn ? "UPN" : decodeOid(content(buf, type))}`, value: Buffer.from(content(buf, inner)).toString(inner.tag === 0x0c ? "utf8" : "latin1") });
      }
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
    citation: "RFC 5280 4.1.2.6 / RFC 4518 2.2 (controls are not part of a name) / CA/B BR 7.1.4.2 / UTS #39 3.1 (invisible characters)",
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

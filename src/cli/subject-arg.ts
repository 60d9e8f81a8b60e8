import { CaError } from "../shared/ca-error.js";
import { SUBJECT_ATTRIBUTE_ORDER } from "../asn1/oids.js";
import type { SubjectAttributes } from "../asn1/name.js";

/** Parses "CN=Alice Example,O=Org AB,organizationIdentifier=NTRSE-5560000000,C=SE" (backslash escapes ","). */
export function parseSubjectArg(s: string): SubjectAttributes {
  const out: Record<string, string> = {};
  const parts = s
    .split(/(?<!\\),/)
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of parts) {
    const i = p.indexOf("=");
    if (i <= 0) throw new CaError("invalid-input", `subject part '${p}' is not KEY=VALUE`);
    const k = p.slice(0, i).trim();
    const v = p
      .slice(i + 1)
      .trim()
      .replace(/\\,/g, ",");
    if (!(SUBJECT_ATTRIBUTE_ORDER as readonly string[]).includes(k))
      throw new CaError(
        "invalid-input",
        `unknown subject attribute '${k}' (known: ${SUBJECT_ATTRIBUTE_ORDER.join(", ")})`,
      );
    if (k in out) throw new CaError("invalid-input", `subject attribute '${k}' given twice`);
    out[k] = v;
  }
  if (Object.keys(out).length === 0) throw new CaError("invalid-input", "empty subject");
  return out;
}

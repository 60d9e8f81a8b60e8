import { createHmac } from "node:crypto";
import { CaError } from "../shared/ca-error.js";

/**
 * Keyed hash for national ID and document numbers (REQ-28): the same number gives the same
 * value for lookups, but without the key the value cannot be reversed by trying all numbers.
 */
export class KeyedHasher {
  constructor(private readonly key: Uint8Array) {
    if (key.length < 32) throw new CaError("config", "the keyed-hash key must have at least 32 bytes");
  }

  hash(kind: "national-id" | "document", value: string): string {
    const v = value.replace(/[\s-]/g, "").toUpperCase();
    if (!/^[0-9A-Z]{4,32}$/.test(v))
      throw new CaError("invalid-input", `the ${kind} number must be 4 to 32 letters or digits`, undefined, {
        code: "validation.number-format",
        params: { what: kind },
      });
    return createHmac("sha256", this.key).update(`${kind}:${v}`).digest("hex");
  }
}

/** A calendar date YYYY-MM-DD, or undefined when it is not one. */
function isoDate(y: number, m: number, d: number): string | undefined {
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return undefined;
  return t.toISOString().slice(0, 10);
}

/**
 * What the identify screen shows of a national ID number, taken at binding while the number is
 * in clear (only its keyed hash is kept, REQ-28): the birth date where the country's format says it
 * (Swedish personnummer YYYYMMDDNNNN or YYMMDD-NNNN, coordination numbers day+60; Danish CPR
 * DDMMYY-SSSS with its century digit) and the number with its last four characters masked.
 */
export function nationalIdFacts(
  nationalId: string,
  country: string | undefined,
  now: Date,
): { birthDate?: string; masked: string } {
  const v = nationalId.replace(/[\s-]/g, "").toUpperCase();
  const masked = v.length > 4 ? `${v.slice(0, -4)}-****` : "****";
  let birthDate: string | undefined;
  if (/^\d+$/.test(v)) {
    const c = (country ?? "").toUpperCase();
    if (c === "SE" && (v.length === 12 || v.length === 10)) {
      let y = Number(v.length === 12 ? v.slice(0, 4) : v.slice(0, 2));
      const rest = v.length === 12 ? v.slice(4) : v.slice(2);
      if (v.length === 10) {
        const full = 2000 + y;
        // a + separator (100 years or older) is not kept: the younger reading
        y = full > now.getUTCFullYear() ? 1900 + y : full;
      }
      const m = Number(rest.slice(0, 2)),
        d = Number(rest.slice(2, 4));
      birthDate = isoDate(y, m, d > 60 ? d - 60 : d);
    } else if (c === "DK" && v.length === 10) {
      const d = Number(v.slice(0, 2)),
        m = Number(v.slice(2, 4)),
        yy = Number(v.slice(4, 6)),
        s = Number(v[6]);
      const century = s <= 3 ? 1900 : s === 4 || s === 9 ? (yy <= 36 ? 2000 : 1900) : yy <= 57 ? 2000 : 1800;
      birthDate = isoDate(century + yy, m, d);
    }
  }
  return { ...(birthDate ? { birthDate } : {}), masked };
}

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
    if (!/^[0-9A-Z]{4,32}$/.test(v)) throw new CaError("invalid-input", `the ${kind} number must be 4 to 32 letters or digits`, undefined, { code: "validation.number-format", params: { what: kind } });
    return createHmac("sha256", this.key).update(`${kind}:${v}`).digest("hex");
  }
}

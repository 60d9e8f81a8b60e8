import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";

/** Reading the audit trail (REQ-27, REQ-31): how long a report period may be. */
export interface AuditAccessPolicy {
  readonly id: string;
  readonly version: number;
  readonly cps: readonly string[];
  readonly report: { readonly maxPeriodDays: number };
}

const validate = new Ajv({ allErrors: true, strict: true }).compile({
  type: "object",
  additionalProperties: false,
  required: ["id", "version", "cps", "report"],
  properties: {
    id: { const: "audit-access" },
    version: { type: "integer", minimum: 1 },
    cps: { type: "array", items: { type: "string" } },
    report: {
      type: "object",
      additionalProperties: false,
      required: ["maxPeriodDays"],
      properties: { maxPeriodDays: { type: "integer", minimum: 1, maximum: 3660 } },
    },
  },
});

export function loadAuditAccessPolicy(path: string): AuditAccessPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `${path}: ${(e as Error).message}`);
  }
  if (!validate(doc))
    throw new CaError(
      "config",
      `${path}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`,
    );
  return doc as AuditAccessPolicy;
}

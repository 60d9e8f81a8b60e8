import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { Closed, type Frozen } from "../shared/schema-types.js";

/** Reading the audit trail (REQ-27, REQ-31): how long a report period may be. */
export const AUDIT_ACCESS_POLICY_SCHEMA = Closed({
  id: Type.Unsafe<"audit-access">({ const: "audit-access" }),
  version: Type.Integer({ minimum: 1 }),
  cps: Type.Array(Type.String()),
  report: Closed({ maxPeriodDays: Type.Integer({ minimum: 1, maximum: 3660 }) }),
});
export type AuditAccessPolicy = Frozen<Static<typeof AUDIT_ACCESS_POLICY_SCHEMA>>;

const validate = new Ajv({ allErrors: true, strict: true }).compile(AUDIT_ACCESS_POLICY_SCHEMA);

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

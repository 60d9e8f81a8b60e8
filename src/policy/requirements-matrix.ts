import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";

export interface RequirementRow {
  readonly req: string;
  readonly title: string;
  readonly status: "enforced" | "partial" | "organisational" | "not-yet";
  readonly controls: readonly { readonly path: string; readonly symbol: string }[];
  readonly tests: readonly { readonly path: string; readonly name: string }[];
  readonly note?: string;
}

const REF = {
  type: "object",
  additionalProperties: false,
  required: ["path"],
  properties: { path: { type: "string" }, symbol: { type: "string" }, name: { type: "string" } },
};
const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["id", "version", "cps", "requirements"],
  properties: {
    id: { const: "requirements-matrix" },
    version: { type: "integer", minimum: 1 },
    cps: { type: "array", items: { type: "string" } },
    requirements: {
      type: "array",
      minItems: 33,
      maxItems: 33,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["req", "title", "status", "controls", "tests"],
        properties: {
          req: { type: "string", pattern: "^REQ-[0-9]{2}$" },
          title: { type: "string" },
          status: { enum: ["enforced", "partial", "organisational", "not-yet"] },
          controls: { type: "array", items: REF },
          tests: { type: "array", items: REF },
          note: { type: "string" },
        },
      },
    },
  },
} as const;
const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);

/** policies/requirements-matrix.yaml: for each REQ the control that enforces it and the test that proves it. */
export function loadRequirementsMatrix(file: string): RequirementRow[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `requirements matrix ${file}: ${(e as Error).message}`);
  }
  if (!validate(doc))
    throw new CaError(
      "config",
      `requirements matrix ${file}: ${(validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join("; ")}`,
    );
  const rows = (doc as { requirements: RequirementRow[] }).requirements;
  rows.forEach((r, i) => {
    if (r.req !== `REQ-${String(i + 1).padStart(2, "0")}`)
      throw new CaError(
        "config",
        `requirements matrix ${file}: entry ${i + 1} is ${r.req}, expected REQ-${String(i + 1).padStart(2, "0")}`,
      );
  });
  return rows;
}

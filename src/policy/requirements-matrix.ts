import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, Enum, type Frozen } from "../shared/schema-types.js";

/** The code that enforces a requirement: a file and a symbol in it. */
const CONTROL = Closed({ path: Type.String(), symbol: Type.String() });
/** The test that proves it: a test file and a test title in it. */
const TEST = Closed({ path: Type.String(), name: Type.String() });
const REQUIREMENT_ROW = Closed({
  req: Type.String({ pattern: "^REQ-[0-9]{2}$" }),
  title: Type.String(),
  status: Enum(["enforced", "partial", "organisational", "not-yet"] as const),
  controls: Type.Array(CONTROL),
  tests: Type.Array(TEST),
  note: Type.Optional(Type.String()),
});
/** One REQ: the controls that enforce it (path, symbol) and the tests that prove it (path, name). */
export type RequirementRow = Frozen<Static<typeof REQUIREMENT_ROW>>;

export const REQUIREMENTS_MATRIX_SCHEMA = Closed({
  id: Type.Unsafe<"requirements-matrix">({ const: "requirements-matrix" }),
  version: Type.Integer({ minimum: 1 }),
  cps: Type.Array(Type.String()),
  requirements: Type.Array(REQUIREMENT_ROW, { minItems: 33, maxItems: 33 }),
});
const validate = new Ajv({ allErrors: true, strict: false }).compile(REQUIREMENTS_MATRIX_SCHEMA);

/** policies/requirements-matrix.yaml: for each REQ the control that enforces it and the test that proves it. */
export function loadRequirementsMatrix(file: string): RequirementRow[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `requirements matrix ${file}: ${(e as Error).message}`);
  }
  if (!validate(doc)) throw new CaError("config", `requirements matrix ${file}: ${schemaErrorText(validate.errors)}`);
  const rows = (doc as Static<typeof REQUIREMENTS_MATRIX_SCHEMA>).requirements;
  rows.forEach((r, i) => {
    if (r.req !== `REQ-${String(i + 1).padStart(2, "0")}`)
      throw new CaError(
        "config",
        `requirements matrix ${file}: entry ${i + 1} is ${r.req}, expected REQ-${String(i + 1).padStart(2, "0")}`,
      );
  });
  return rows;
}

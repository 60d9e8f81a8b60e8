import { expect } from "chai";
import { WORKFLOW_SCHEMA } from "../../src/policy/workflow.js";
import { CEREMONY_SCRIPT_SCHEMA } from "../../src/ceremony/ceremony-script.js";
import { ROLES_POLICY_SCHEMA } from "../../src/policy/roles-policy.js";
import { REVOCATION_POLICY_SCHEMA } from "../../src/policy/revocation-policy.js";
import { PROFILE_SCHEMA } from "../../src/policy/profile.schema.js";
import { REQUIREMENTS_MATRIX_SCHEMA } from "../../src/policy/requirements-matrix.js";
import { AUDIT_ACCESS_POLICY_SCHEMA } from "../../src/policy/audit-access-policy.js";
import { TERMS_HEAD_SCHEMA } from "../../src/policy/terms.js";
import { STAFF_FILE_SCHEMA } from "../../src/composition/staff-bootstrap.js";

const SCHEMAS = {
  workflow: WORKFLOW_SCHEMA,
  ceremony: CEREMONY_SCRIPT_SCHEMA,
  roles: ROLES_POLICY_SCHEMA,
  revocation: REVOCATION_POLICY_SCHEMA,
  profile: PROFILE_SCHEMA,
  "requirements-matrix": REQUIREMENTS_MATRIX_SCHEMA,
  "audit-access": AUDIT_ACCESS_POLICY_SCHEMA,
  "terms head": TERMS_HEAD_SCHEMA,
  "staff file": STAFF_FILE_SCHEMA,
};

/** Every object schema inside `s` (by JSON path) that does not refuse unknown keys, and every union. */
function openObjects(s: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(s)) s.forEach((x, i) => openObjects(x, `${at}/${i}`, out));
  else if (s && typeof s === "object") {
    const o = s as Record<string, unknown>;
    if (o.type === "object" && o.additionalProperties !== false) out.push(at);
    if ("anyOf" in o || "oneOf" in o) out.push(`${at} (union)`);
    for (const [k, v] of Object.entries(o)) openObjects(v, `${at}/${k}`, out);
  }
  return out;
}

describe("policy and ceremony file schemas (TypeBox, compiled by ajv)", () => {
  for (const [name, schema] of Object.entries(SCHEMAS))
    it(`ok/${name}: every object refuses unknown keys and every choice is a plain enum (refusals name them)`, () => {
      expect(openObjects(JSON.parse(JSON.stringify(schema)), "", [])).to.deep.equal([]);
    });
});

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { schemaErrorText } from "../shared/schema-errors.js";

/** The RA and CA staff roles (a closed set: the route table and the workflows name these). */
export const ROLE_NAMES = ["ra-officer", "ra-admin", "auditor", "ca-operator", "service-owner-staff"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/**
 * Roles that reach the CA, the audit or every organisation: granted only by service-owner staff, with a second staff
 * officer's approval (REQ-24).
 */
const GUARDED: readonly RoleName[] = ["ca-operator", "auditor", "service-owner-staff"];

export interface RoleRule {
  /** The granting officer must hold one of these (a customer's ra-admin acts in their own organisation only). */
  readonly grantedBy: readonly RoleName[];
  /** second-staff-officer: the grant waits until another service-owner staff human approves it. */
  readonly approval: "none" | "second-staff-officer";
  /** service-owner: only people of the service owner's organisation may hold it. */
  readonly organisation?: "service-owner";
}

/** policies/roles.yaml, checked (REQ-24). */
export interface RolesPolicy {
  readonly id: string;
  readonly version: number;
  readonly cps: readonly string[];
  readonly roles: Readonly<Record<RoleName, RoleRule>>;
  readonly incompatible: readonly (readonly [RoleName, RoleName])[];
}

const ROLE = { enum: ROLE_NAMES };
const RULE = {
  type: "object",
  additionalProperties: false,
  required: ["grantedBy", "approval"],
  properties: {
    grantedBy: { type: "array", minItems: 1, uniqueItems: true, items: ROLE },
    approval: { enum: ["none", "second-staff-officer"] },
    organisation: { enum: ["service-owner"] },
  },
};
const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["id", "version", "cps", "roles", "incompatible"],
  properties: {
    id: { const: "roles" },
    version: { type: "integer", minimum: 1 },
    cps: { type: "array", minItems: 1, items: { type: "string" } },
    roles: {
      type: "object",
      additionalProperties: false,
      required: [...ROLE_NAMES],
      properties: Object.fromEntries(ROLE_NAMES.map((r) => [r, RULE])),
    },
    incompatible: { type: "array", maxItems: 32, items: { type: "array", minItems: 2, maxItems: 2, items: ROLE } },
  },
} as const;
const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);

export function parseRolesPolicy(doc: unknown, source: string): RolesPolicy {
  const fail = (m: string): never => {
    throw new CaError("config", `roles policy ${source}: ${m}`);
  };
  if (!validate(doc)) fail(schemaErrorText(validate.errors));
  const p = doc as unknown as RolesPolicy;
  for (const r of GUARDED) {
    const rule = p.roles[r];
    if (rule.grantedBy.some((g) => g !== "service-owner-staff"))
      fail(`${r} may be granted by service-owner staff only (REQ-24)`);
    if (rule.approval !== "second-staff-officer")
      fail(`${r} needs a second staff officer's approval (approval: second-staff-officer, REQ-24)`);
  }
  const seen = new Set<string>();
  for (const [a, b] of p.incompatible) {
    if (a === b) fail(`incompatible [${a}, ${b}] names one role twice`);
    const k = [a, b].sort().join("|");
    if (seen.has(k)) fail(`incompatible lists [${a}, ${b}] twice`);
    seen.add(k);
  }
  if (!incompatible(p, "ca-operator", "ra-officer"))
    fail("ca-operator and ra-officer must be incompatible: one human would identify and produce (REQ-10)");
  return Object.freeze(p);
}

export function loadRolesPolicy(path: string): RolesPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `roles policy ${path}: ${(e as Error).message}`);
  }
  return parseRolesPolicy(doc, path);
}

export function incompatible(p: RolesPolicy, a: string, b: string): boolean {
  return p.incompatible.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

/** The first incompatible pair within a set of roles, if any. */
export function incompatiblePair(p: RolesPolicy, roles: readonly string[]): readonly [string, string] | undefined {
  for (const [a, b] of p.incompatible) if (roles.includes(a) && roles.includes(b)) return [a, b];
  return undefined;
}

import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, Enum, type Frozen } from "../shared/schema-types.js";

/** The RA and CA staff roles (a closed set: the route table and the workflows name these). */
export const ROLE_NAMES = ["ra-officer", "ra-admin", "auditor", "ca-operator", "service-owner-staff"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/**
 * Roles that reach the CA, the audit or every organisation: granted only by service-owner staff, with a second staff
 * officer's approval (REQ-24).
 */
const GUARDED: readonly RoleName[] = ["ca-operator", "auditor", "service-owner-staff"];

const ROLE = Enum(ROLE_NAMES);
const ROLE_RULE = Closed({
  // The granting officer must hold one of these (a customer's ra-admin acts in their own organisation only).
  grantedBy: Type.Array(ROLE, { minItems: 1, uniqueItems: true }),
  // second-staff-officer: the grant waits until another service-owner staff human approves it.
  approval: Enum(["none", "second-staff-officer"] as const),
  // service-owner: only people of the service owner's organisation may hold it.
  organisation: Type.Optional(Enum(["service-owner"] as const)),
});
export type RoleRule = Frozen<Static<typeof ROLE_RULE>>;

/** policies/roles.yaml (REQ-24). */
export const ROLES_POLICY_SCHEMA = Closed({
  id: Type.Unsafe<"roles">({ const: "roles" }),
  version: Type.Integer({ minimum: 1 }),
  cps: Type.Array(Type.String(), { minItems: 1 }),
  roles: Closed(Object.fromEntries(ROLE_NAMES.map((r) => [r, ROLE_RULE])) as Record<RoleName, typeof ROLE_RULE>),
  // A pair as a two-item array (`items` one schema, not a tuple: the refusal words stay those of minItems/maxItems).
  incompatible: Type.Array(Type.Unsafe<readonly [RoleName, RoleName]>(Type.Array(ROLE, { minItems: 2, maxItems: 2 })), {
    maxItems: 32,
  }),
});
/** policies/roles.yaml, checked (REQ-24). */
export type RolesPolicy = Frozen<Static<typeof ROLES_POLICY_SCHEMA>>;
const validate = new Ajv({ allErrors: true, strict: true }).compile(ROLES_POLICY_SCHEMA);

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

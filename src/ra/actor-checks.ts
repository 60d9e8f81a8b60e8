import { CaError } from "../shared/ca-error.js";
import type { Actor, Role } from "./order.js";

/** REQ-24: least privilege; every RA entry point names the roles it needs. */
export function requireRole(actor: Actor, roles: readonly Role[], what: string): void {
  if (actor.kind !== "officer")
    throw new CaError("forbidden", `${what} is for officers`, undefined, { code: "access.officers-only" });
  if (!roles.some((r) => actor.roles.includes(r)))
    throw new CaError("forbidden", `${what} needs the role ${roles.join(" or ")} (REQ-24)`, undefined, {
      code: "access.needs-role",
      params: { roles },
    });
}

/** REQ-23: officers act within their own organisation; service-owner staff serve every organisation (REQ-02). */
export function requireScope(actor: Actor, organisationId: string): void {
  if (actor.organisationId !== organisationId && !actor.serviceOwnerStaff)
    throw new CaError("forbidden", "the officer belongs to another organisation (REQ-23)", undefined, {
      code: "scope.other-organisation",
    });
}

export function actorId(actor: Actor): string {
  return actor.personId ? `${actor.kind}:${actor.personId}` : actor.kind;
}

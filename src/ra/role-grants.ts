import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { AuditEvent } from "../ca/ports.js";
import { incompatiblePair, ROLE_NAMES, type RolesPolicy } from "../policy/roles-policy.js";
import type { DirectoryStore, Officer, Organisation, Person } from "./directory.js";
import type { Actor, Role } from "./order.js";
import { actorId, requireRole, requireScope } from "./actor-checks.js";
import { humanIdOf, isHuman } from "./human.js";

/** A role grant waiting for a second service-owner staff officer (REQ-24). */
export interface RoleGrant {
  readonly id: string;
  readonly personId: string;
  readonly organisationId: string;
  /** The officer's roles once approved. */
  readonly roles: readonly Role[];
  readonly qualification?: string;
  readonly qualifiedUntil?: Date;
  readonly requestedBy: string;
  readonly requestedByHuman: string;
  readonly requestedAt: Date;
  readonly status: "pending" | "approved" | "refused";
  readonly decidedBy?: string;
  readonly decidedAt?: Date;
}

/** Store port for pending role grants; an approval saves the officer in the same transaction. */
export interface RoleGrantStore {
  add(g: RoleGrant, audit: AuditEvent): Promise<void>;
  get(id: string): Promise<RoleGrant | undefined>;
  pending(limit: number): Promise<RoleGrant[]>;
  /** Compare-and-set from pending; false when decided meanwhile. With `officer`, the officer record is written too. */
  decide(
    id: string,
    status: "approved" | "refused",
    by: string,
    at: Date,
    audit: AuditEvent,
    officer?: Officer,
  ): Promise<boolean>;
}

/** A refusal of the roles policy: names the rule (e.g. `grant:ca-operator`, `incompatible:ca-operator+ra-officer`). */
const refuse = (
  kind: "forbidden" | "policy-violation",
  rule: string,
  m: string,
  policy: RolesPolicy,
  code: string,
  params?: Record<string, string | readonly string[]>,
) =>
  new CaError(
    kind,
    `${m} (${rule}, ${policy.id}@${policy.version}, REQ-24)`,
    { rule, requirement: "REQ-24" },
    { code, ...(params ? { params } : {}) },
  );

/**
 * Appointing officers by the roles policy (REQ-24, REQ-10): who may grant which role, a second
 * service-owner staff officer (another human) for the guarded roles, no roles for oneself (as any
 * of one's bindings), and no incompatible roles for one human across all their organisations.
 */
export class RoleGrants {
  constructor(
    private readonly deps: {
      directory: DirectoryStore;
      grants: RoleGrantStore;
      policy: RolesPolicy;
      clock: Clock;
      random: Random;
    },
  ) {}

  private audit(
    actor: Actor,
    action: string,
    objectId: string,
    details: Record<string, unknown>,
    organisationId: string,
  ): AuditEvent {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor: actorId(actor),
      action,
      objectType: "person",
      objectId,
      outcome: "success",
      organisationId,
      details,
    };
  }

  private async target(
    actor: Actor,
    personId: string,
  ): Promise<{ person: Person; organisation: Organisation; humanId: string }> {
    const bound = await this.deps.directory.personWithOrganisation(personId);
    if (!bound || bound.person.unboundAt)
      throw new CaError("not-found", `no bound person ${personId}`, undefined, { code: "person.not-found" });
    requireScope(actor, bound.person.organisationId);
    if (bound.organisation.status !== "active")
      throw new CaError(
        "policy-violation",
        `organisation ${bound.organisation.orgNumber} is not onboarded (REQ-01)`,
        undefined,
        { code: "organisation.not-onboarded" },
      );
    return { ...bound, humanId: humanIdOf(bound.person.nationalIdHash) };
  }

  private notSelf(actor: Actor, person: Person, humanId: string): void {
    const { policy } = this.deps;
    if (actor.personId === person.id || isHuman(actor, humanId))
      throw refuse(
        "forbidden",
        "self-appointment",
        "no one grants roles to themself, under any of their bindings (REQ-10)",
        policy,
        "roles.self-appointment",
      );
  }

  /** The roles one human would hold over all their organisations: none of the policy's incompatible pairs. */
  private async compatible(personId: string, humanId: string, roles: readonly Role[]): Promise<void> {
    const { directory, policy } = this.deps;
    const others = (await directory.officersOfHuman(humanId))
      .filter((o) => o.officer.personId !== personId)
      .flatMap((o) => o.officer.roles);
    const all = [...new Set([...roles, ...others])];
    const pair = incompatiblePair(policy, all);
    if (pair) {
      const where =
        others.some((r) => pair.includes(r)) && !pair.every((r) => roles.includes(r as Role))
          ? " (together with the roles this human holds in another organisation)"
          : "";
      throw refuse(
        "policy-violation",
        `incompatible:${pair[0]}+${pair[1]}`,
        `one human may not hold both ${pair[0]} and ${pair[1]}${where}`,
        policy,
        "roles.incompatible",
        { role: pair[0], otherRole: pair[1] },
      );
    }
  }

  /** May this actor grant (or take away) `role` for a person of `org`? */
  private mayGrant(actor: Actor, role: Role, org: Organisation): void {
    const { policy } = this.deps;
    const rule = policy.roles[role];
    const holds = rule.grantedBy.some(
      (g) => actor.roles.includes(g) && (g !== "service-owner-staff" || actor.serviceOwnerStaff === true),
    );
    if (!holds)
      throw refuse(
        "forbidden",
        `grant:${role}`,
        `${role} is granted only by ${rule.grantedBy.join(" or ")}` +
          (rule.approval === "second-staff-officer" ? " with a second staff officer's approval" : ""),
        policy,
        "roles.grant-not-allowed",
        { role, roles: rule.grantedBy },
      );
    if (rule.organisation === "service-owner" && !org.serviceOwner)
      throw refuse(
        "forbidden",
        `grant:${role}`,
        `${role} is held only by people of the service owner's organisation`,
        policy,
        "roles.service-owner-only",
        { role },
      );
  }

  /**
   * Sets an officer's roles and qualification: at once when every changed role may be granted by
   * this actor alone, else as a pending grant that another service-owner staff human approves.
   */
  async appoint(
    actor: Actor,
    personId: string,
    input: { roles: readonly Role[]; qualification?: string; qualifiedUntil?: Date },
  ): Promise<Officer | RoleGrant> {
    const { directory, grants, policy, clock, random } = this.deps;
    requireRole(actor, ["ra-admin", "service-owner-staff"], "appointing an officer");
    for (const r of input.roles)
      if (!(ROLE_NAMES as readonly string[]).includes(r))
        throw new CaError("invalid-input", `unknown role '${r}'`, undefined, {
          code: "roles.unknown",
          params: { role: r },
        });
    if (input.roles.length === 0)
      throw new CaError("invalid-input", "an officer needs at least one role", undefined, { code: "roles.none" });
    if ((input.qualification === undefined) !== (input.qualifiedUntil === undefined))
      throw new CaError("invalid-input", "qualification and qualifiedUntil go together (REQ-25)", undefined, {
        code: "roles.qualification-and-date",
      });
    const { person, organisation, humanId } = await this.target(actor, personId);
    this.notSelf(actor, person, humanId);
    const current = (await directory.officer(personId))?.roles ?? [];
    const roles = [...new Set(input.roles)];
    const added = roles.filter((r) => !current.includes(r));
    const removed = current.filter((r) => !roles.includes(r));
    for (const r of [...added, ...removed]) this.mayGrant(actor, r, organisation);
    await this.compatible(personId, humanId, roles);
    const officer: Officer = {
      personId,
      roles,
      serviceOwnerStaff: roles.includes("service-owner-staff"),
      ...(input.qualification ? { qualification: input.qualification, qualifiedUntil: input.qualifiedUntil! } : {}),
    };
    const guarded = added.filter((r) => policy.roles[r].approval === "second-staff-officer");
    if (guarded.length === 0) {
      await directory.saveOfficer(
        officer,
        actor.personId!,
        this.audit(
          actor,
          "officer.appoint",
          personId,
          {
            roles,
            qualification: officer.qualification,
            qualifiedUntil: officer.qualifiedUntil?.toISOString(),
            policy: `${policy.id}@${policy.version}`,
          },
          organisation.id,
        ),
      );
      return officer;
    }
    const g: RoleGrant = {
      id: newId(random),
      personId,
      organisationId: organisation.id,
      roles,
      requestedBy: actor.personId!,
      requestedByHuman: actor.humanId ?? `person:${actor.personId}`,
      requestedAt: clock.now(),
      status: "pending",
      ...(input.qualification ? { qualification: input.qualification, qualifiedUntil: input.qualifiedUntil! } : {}),
    };
    await grants.add(
      g,
      this.audit(
        actor,
        "officer.grant.pending",
        personId,
        {
          grant: g.id,
          roles,
          needs: `a second service-owner staff officer for ${guarded.join(", ")} (REQ-24)`,
          policy: `${policy.id}@${policy.version}`,
        },
        organisation.id,
      ),
    );
    return g;
  }

  /** Another service-owner staff human approves (or refuses) a pending grant; the rules are checked again. */
  async decide(actor: Actor, id: string, approve: boolean): Promise<RoleGrant> {
    const { grants, policy, clock } = this.deps;
    if (actor.kind !== "officer" || !actor.serviceOwnerStaff || !actor.roles.includes("service-owner-staff"))
      throw refuse(
        "forbidden",
        "second-staff-officer",
        "a pending role grant is decided by service-owner staff",
        policy,
        "roles.staff-decide",
      );
    const g = await grants.get(id);
    if (!g) throw new CaError("not-found", `no role grant ${id}`, undefined, { code: "roles.grant-not-found" });
    if (g.status !== "pending")
      throw new CaError("conflict", `role grant ${id} is ${g.status}`, undefined, {
        code: "roles.grant-decided",
        params: { status: g.status },
      });
    if (g.requestedBy === actor.personId || actor.humanId === g.requestedByHuman)
      throw refuse(
        "policy-violation",
        "second-staff-officer",
        "a second staff officer (another human) must approve",
        policy,
        "roles.second-staff-officer",
      );
    const { person, organisation, humanId } = await this.target(actor, g.personId);
    this.notSelf(actor, person, humanId);
    const now = clock.now();
    let officer: Officer | undefined;
    if (approve) {
      await this.compatible(g.personId, humanId, g.roles);
      officer = {
        personId: g.personId,
        roles: g.roles,
        serviceOwnerStaff: g.roles.includes("service-owner-staff"),
        ...(g.qualification ? { qualification: g.qualification, qualifiedUntil: g.qualifiedUntil! } : {}),
      };
    }
    const ok = await grants.decide(
      id,
      approve ? "approved" : "refused",
      actor.personId!,
      now,
      this.audit(
        actor,
        approve ? "officer.appoint" : "officer.grant.refuse",
        g.personId,
        {
          grant: id,
          roles: g.roles,
          requestedBy: g.requestedBy,
          approvedBy: approve ? actor.personId : undefined,
          policy: `${policy.id}@${policy.version}`,
        },
        organisation.id,
      ),
      officer,
    );
    if (!ok)
      throw new CaError("conflict", `role grant ${id} was decided meanwhile`, undefined, {
        code: "roles.grant-decided-meanwhile",
      });
    return { ...g, status: approve ? "approved" : "refused", decidedBy: actor.personId!, decidedAt: now };
  }

  async pending(actor: Actor): Promise<RoleGrant[]> {
    requireRole(actor, ["service-owner-staff"], "listing pending role grants");
    return this.deps.grants.pending(200);
  }
}

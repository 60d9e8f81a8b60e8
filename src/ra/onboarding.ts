import { CaError } from "../shared/ca-error.js";
import { parseCidrs } from "../shared/cidr.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { AuditEvent } from "../ca/ports.js";
import type { DirectoryStore, Officer, Organisation, Person } from "./directory.js";
import { nationalIdFacts, type KeyedHasher } from "./national-id.js";
import type { Actor, Role } from "./order.js";
import { actorId, requireRole, requireScope } from "./actor-checks.js";
import type { RoleGrant, RoleGrants } from "./role-grants.js";
import type { RevocationDesk, RevocationRequest } from "./revocation-desk.js";
import { contactFields } from "./contact.js";

/**
 * Onboarding of organisations, people and officers (REQ-01, REQ-02, REQ-21, REQ-23..25). Every
 * change carries its audit event into the store's transaction.
 */
export class Onboarding {
  constructor(
    private readonly deps: {
      directory: DirectoryStore;
      hasher: KeyedHasher;
      clock: Clock;
      random: Random;
      grants: RoleGrants;
      desk: RevocationDesk;
    },
  ) {}

  private audit(
    actor: Actor,
    action: string,
    objectType: string,
    objectId: string,
    details?: Record<string, unknown>,
  ): AuditEvent {
    const { clock, random } = this.deps;
    return {
      id: newId(random),
      at: clock.now(),
      actor: actorId(actor),
      action,
      objectType,
      objectId,
      outcome: "success",
      ...(details ? { details } : {}),
    };
  }

  async organisation(actor: Actor, id: string): Promise<Organisation> {
    requireScope(actor, id);
    const o = await this.deps.directory.organisation(id);
    if (!o) throw new CaError("not-found", `no organisation ${id}`, undefined, { code: "organisation.not-found" });
    return o;
  }

  /** REQ-01: the service owner's staff register a customer organisation; it stays pending until onboarded. */
  async registerOrganisation(
    actor: Actor,
    input: { orgNumber: string; name: string; country: string; registrationCertificate?: string },
  ): Promise<Organisation> {
    requireRole(actor, ["service-owner-staff"], "registering an organisation");
    if (await this.deps.directory.organisationByNumber(input.orgNumber))
      throw new CaError("conflict", `organisation number ${input.orgNumber} is registered already`, undefined, {
        code: "organisation.number-taken",
        params: { orgNumber: input.orgNumber },
      });
    const o: Organisation = {
      id: newId(this.deps.random),
      orgNumber: input.orgNumber,
      name: input.name,
      country: input.country,
      status: "pending",
      serviceOwner: false,
      ...(input.registrationCertificate ? { registrationCertificate: input.registrationCertificate } : {}),
    };
    await this.deps.directory.createOrganisation(
      o,
      this.deps.clock.now(),
      this.audit(actor, "org.register", "organisation", o.id, { orgNumber: o.orgNumber }),
    );
    return o;
  }

  /** REQ-01: registration certificate on file and domain validation done → active. */
  async recordOnboardingEvidence(
    actor: Actor,
    id: string,
    input: { registrationCertificate?: string; domain?: string; domainValidationMethod?: string },
  ): Promise<Organisation> {
    requireRole(actor, ["service-owner-staff"], "recording onboarding evidence");
    const o = await this.organisation(actor, id);
    if (o.status === "ceased")
      throw new CaError("conflict", `organisation ${id} has ceased`, undefined, { code: "organisation.ceased" });
    if ((input.domain === undefined) !== (input.domainValidationMethod === undefined))
      throw new CaError("invalid-input", "domain and domainValidationMethod go together", undefined, {
        code: "organisation.domain-and-method",
      });
    const now = this.deps.clock.now();
    const regCert = input.registrationCertificate ?? o.registrationCertificate;
    const domainDone = input.domain !== undefined || o.domainValidatedAt !== undefined;
    const status = regCert && domainDone ? "active" : o.status;
    await this.deps.directory.updateOrganisation(
      id,
      {
        ...(input.registrationCertificate ? { registrationCertificate: input.registrationCertificate } : {}),
        ...(input.domain
          ? { domain: input.domain, domainValidatedAt: now, domainValidationMethod: input.domainValidationMethod! }
          : {}),
        status,
      },
      this.audit(actor, "org.onboarding-evidence", "organisation", id, {
        registrationCertificate: input.registrationCertificate,
        domain: input.domain,
        method: input.domainValidationMethod,
        status,
      }),
    );
    return (await this.deps.directory.organisation(id))!;
  }

  /** REQ-23: optional IP allow-list, set by the organisation's RA admin or the service owner's staff. */
  async setIpAllowList(actor: Actor, id: string, cidrs: readonly string[] | null): Promise<void> {
    requireRole(actor, ["ra-admin", "service-owner-staff"], "setting the IP allow-list");
    await this.organisation(actor, id);
    if (cidrs) parseCidrs(cidrs);
    await this.deps.directory.updateOrganisation(
      id,
      { ipAllowList: cidrs ?? [] },
      this.audit(actor, "org.ip-allow-list", "organisation", id, { cidrs }),
    );
  }

  /** REQ-21: an administrator the organisation authorised binds a natural person to it. */
  async bindPerson(
    actor: Actor,
    organisationId: string,
    input: {
      nationalId: string;
      name: string;
      email?: string;
      phone?: string;
      postalAddress?: string;
      language?: string;
    },
  ): Promise<Person> {
    requireRole(actor, ["ra-admin", "service-owner-staff"], "binding a person to an organisation");
    const org = await this.organisation(actor, organisationId);
    if (org.status !== "active")
      throw new CaError(
        "policy-violation",
        `organisation ${org.orgNumber} is not onboarded (registration certificate and domain validation, REQ-01)`,
        undefined,
        { code: "organisation.not-onboarded" },
      );
    const nationalIdHash = this.deps.hasher.hash("national-id", input.nationalId);
    if (await this.deps.directory.personByNationalId(organisationId, nationalIdHash))
      throw new CaError("conflict", "this person is bound to the organisation already", undefined, {
        code: "person.bound-already",
      });
    // What the identify screen compares the document against (sealed); the number itself stays a keyed hash (REQ-28).
    const facts = nationalIdFacts(input.nationalId, org.country, this.deps.clock.now());
    const p: Person = {
      id: newId(this.deps.random),
      organisationId,
      nationalIdHash,
      name: input.name,
      ...(input.email ? { email: input.email } : {}),
      ...contactFields(input),
      boundBy: actor.personId!,
      ...(input.language ? { language: input.language } : {}),
      nationalIdMasked: facts.masked,
      ...(facts.birthDate ? { birthDate: facts.birthDate } : {}),
    };
    await this.deps.directory.createPerson(
      p,
      this.deps.clock.now(),
      this.audit(actor, "person.bind", "person", p.id, { organisationId }),
    );
    return p;
  }

  /**
   * REQ-21: removing the binding ends business use: every live certificate of the person is
   * revoked. REQ-18: it counts towards the mass-revocation thresholds (the revocation desk decides;
   * beyond them the unbinding waits for a second officer).
   */
  async unbindPerson(actor: Actor, personId: string): Promise<{ revoked: string[] } | { pending: RevocationRequest }> {
    return this.deps.desk.unbind(actor, personId);
  }

  /**
   * REQ-24/25: roles and the identity-proofing qualification of an officer, by the roles policy (policies/roles.yaml).
   */
  async appointOfficer(
    actor: Actor,
    personId: string,
    input: { roles: readonly Role[]; qualification?: string; qualifiedUntil?: Date },
  ): Promise<Officer | RoleGrant> {
    return this.deps.grants.appoint(actor, personId, input);
  }
}

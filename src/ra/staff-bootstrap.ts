import { createPublicKey } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { AuditEvent } from "../ca/ports.js";
import type { Workflow } from "../policy/workflow.js";
import type { Role } from "./order.js";
import type { DirectoryStore, Organisation } from "./directory.js";
import type { KeyedHasher } from "./national-id.js";
import type { CardCertificates } from "./ports.js";
import { validatedDomains } from "./subject-builder.js";

/** What the staff bootstrap needs of the RA (the directory, the keyed hash, the CA port) and of the audit trail. */
export interface StaffBootstrapDeps {
  readonly directory: Pick<
    DirectoryStore,
    | "organisationByNumber"
    | "createOrganisation"
    | "personByNationalId"
    | "createPerson"
    | "saveOfficer"
    | "addCredential"
  > & {
    serviceOwners(): Promise<Organisation[]>;
    activeServiceOwnerStaff(): Promise<number>;
  };
  readonly hasher: KeyedHasher;
  readonly certs: Pick<CardCertificates, "issue">;
  readonly workflows: ReadonlyMap<string, Workflow>;
  readonly clock: Clock;
  readonly random: Random;
  /** Records the ceremony's own audit event. */
  audit(e: AuditEvent): Promise<void>;
}

/** One member of the service owner's initial staff group. */
export interface StaffMember {
  /** A short handle (file names, the transcript): a-z0-9, e.g. "ada". */
  readonly id: string;
  readonly name: string;
  readonly nationalId: string;
  readonly email?: string;
  /** Roles besides service-owner-staff (which every member gets). */
  readonly roles: readonly Role[];
  /** REQ-25: the identity-proofing qualification and its end. */
  readonly qualification?: string;
  readonly qualifiedUntil?: Date;
  /** SubjectPublicKeyInfo DER of the key generated on the member's card. */
  readonly publicKey: Uint8Array;
}

export interface StaffGroupInput {
  readonly orgNumber: string;
  readonly orgName: string;
  readonly country: string;
  readonly members: readonly StaffMember[];
  /** The CA operator running the step and the witness watching it (validated names), and the OS account. */
  readonly operator: string;
  readonly witness: string;
  readonly osUser: string;
}

export interface StaffGroupResult {
  readonly organisationId: string;
  readonly members: readonly {
    readonly id: string;
    readonly personId: string;
    readonly roles: readonly Role[];
    readonly serial: string;
    readonly der: Uint8Array;
  }[];
}

export const STAFF_ROLES: readonly Role[] = ["ra-officer", "ra-admin", "auditor", "ca-operator"];

/** What the strictest workflow needs of the staff who serve officer orders (REQ-02, REQ-10). */
export interface StaffGroupNeeds {
  /**
   * Distinct humans: the identifiers, the approver (who also starts production), the producer and the hand-out officer.
   */
  readonly humans: number;
  /** Qualified ra-officers among them: the identifiers, the approver and the hand-out officer (REQ-25). */
  readonly qualifiedRaOfficers: number;
  /** ca-operators among them who take no ra-officer step (the producer). */
  readonly caOperators: number;
  /** The workflow these numbers come from. */
  readonly workflow: string;
}

/**
 * The initial group must be able to serve the strictest workflow that takes officer orders on its
 * own, with every step by a different human: `identifications` identifiers, an approver, a
 * producer (ca-operator) and a hand-out officer (LoA3: 2 + 1 + 1 + 1 = 5 people).
 */
export function requiredStaffGroup(workflows: ReadonlyMap<string, Workflow>): StaffGroupNeeds {
  let best: StaffGroupNeeds = { humans: 0, qualifiedRaOfficers: 0, caOperators: 0, workflow: "none" };
  for (const w of workflows.values()) {
    if (!w.officerCards) continue;
    const needs = {
      humans: w.identifications + 3,
      qualifiedRaOfficers: w.identifications + 2,
      caOperators: 1,
      workflow: `${w.id}@${w.version}`,
    };
    if (needs.humans > best.humans) best = needs;
  }
  if (best.humans === 0)
    throw new CaError(
      "config",
      "no workflow takes officer orders (officerCards: true): the staff group " +
        "could never serve the first officers (REQ-02)",
    );
  return best;
}

const refuse = (rule: string, message: string) =>
  new CaError("conflict", `${message} (rule ${rule}, REQ-24)`, { rule, requirement: "REQ-24" });

/** Checks a group against the needs before anything is written. */
export function checkStaffGroup(members: readonly StaffMember[], needs: StaffGroupNeeds, now: Date): void {
  const bad = (m: string) =>
    new CaError("invalid-input", `staff group: ${m}`, { rule: "staff-group-complete", requirement: "REQ-10" });
  const ids = new Set<string>(),
    nids = new Set<string>(),
    keys = new Set<string>();
  for (const m of members) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(m.id))
      throw bad(`member id '${m.id}' must be 1-32 of a-z 0-9 -, starting with a letter`);
    if (ids.has(m.id)) throw bad(`member id '${m.id}' appears twice`);
    if (nids.has(m.nationalId)) throw bad(`two members share a national ID (one human, one identity): ${m.id}`);
    const k = Buffer.from(m.publicKey).toString("base64");
    if (keys.has(k)) throw bad(`two members share a public key: ${m.id}`);
    ids.add(m.id);
    nids.add(m.nationalId);
    keys.add(k);
    if (m.roles.length === 0) throw bad(`${m.id} has no role (${STAFF_ROLES.join(", ")})`);
    for (const r of m.roles)
      if (!STAFF_ROLES.includes(r)) throw bad(`${m.id}: unknown role '${r}' (${STAFF_ROLES.join(", ")})`);
    try {
      createPublicKey({ key: Buffer.from(m.publicKey), format: "der", type: "spki" });
    } catch (e) {
      throw bad(`${m.id}: the public key is not a SubjectPublicKeyInfo (${(e as Error).message})`);
    }
  }
  const qualified = members.filter((m) => m.roles.includes("ra-officer") && m.qualifiedUntil && m.qualifiedUntil > now);
  const producers = members.filter((m) => m.roles.includes("ca-operator") && !m.roles.includes("ra-officer"));
  const short: string[] = [];
  if (members.length < needs.humans) short.push(`${needs.humans} distinct people (got ${members.length})`);
  if (qualified.length < needs.qualifiedRaOfficers)
    short.push(`${needs.qualifiedRaOfficers} ra-officers with a current qualification (got ${qualified.length})`);
  if (producers.length < needs.caOperators)
    short.push(`${needs.caOperators} ca-operator(s) without ra-officer (got ${producers.length})`);
  if (short.length)
    throw bad(
      `${needs.workflow} needs ${short.join(", ")} to serve officer orders with every step by a different person`,
    );
}

/**
 * The one-time bootstrap of the service owner's staff (a ceremony-like step on the CA host,
 * with operator and witness): the service owner's organisation, the whole initial staff group and
 * an ra-officer certificate for the key on each member's card. Refused once the service owner has
 * active staff (every later staff officer comes through a LoA3 officer order served by them,
 * REQ-02) and for any other organisation number than the service owner's. Nothing is written
 * before every check has passed.
 */
export async function bootstrapStaffGroup(ra: StaffBootstrapDeps, input: StaffGroupInput): Promise<StaffGroupResult> {
  const { clock, random } = ra;
  const now = clock.now();
  const actor = `operator:${input.operator}@os:${input.osUser}`;
  const owners = await ra.directory.serviceOwners();
  const other = owners.find((o) => o.orgNumber !== input.orgNumber);
  if (other)
    throw refuse(
      "bootstrap-once",
      `the service owner is organisation ${other.orgNumber}; a staff bootstrap for ${input.orgNumber} is refused`,
    );
  if ((await ra.directory.activeServiceOwnerStaff()) > 0)
    throw refuse(
      "bootstrap-once",
      "the service owner has active staff already: the bootstrap runs once; " +
        "further staff officers come through a LoA3 officer order served by the " +
        "existing staff",
    );
  let org = await ra.directory.organisationByNumber(input.orgNumber);
  if (org && !org.serviceOwner)
    throw refuse("bootstrap-once", `organisation ${input.orgNumber} exists and is not the service owner's`);
  const needs = requiredStaffGroup(ra.workflows);
  checkStaffGroup(input.members, needs, now);
  const audit = (action: string, objectType: string, objectId: string, details?: Record<string, unknown>) => ({
    id: newId(random),
    at: clock.now(),
    actor,
    action,
    objectType,
    objectId,
    outcome: "success" as const,
    ...(details ? { details } : {}),
  });
  const ceremony = { operator: input.operator, witness: input.witness, osUser: input.osUser };
  if (!org) {
    org = {
      id: newId(random),
      orgNumber: input.orgNumber,
      name: input.orgName,
      country: input.country,
      status: "active",
      serviceOwner: true,
      registrationCertificate: "service owner (bootstrap)",
    };
    await ra.directory.createOrganisation(
      org,
      now,
      audit("org.bootstrap", "organisation", org.id, { orgNumber: org.orgNumber, ...ceremony }),
    );
  }
  const made: { id: string; personId: string; roles: Role[]; serial: string; der: Uint8Array }[] = [];
  for (const m of input.members) {
    const nationalIdHash = ra.hasher.hash("national-id", m.nationalId);
    let person = await ra.directory.personByNationalId(org.id, nationalIdHash);
    if (!person) {
      person = {
        id: newId(random),
        organisationId: org.id,
        nationalIdHash,
        name: m.name,
        ...(m.email ? { email: m.email } : {}),
        boundBy: actor,
      };
      await ra.directory.createPerson(
        person,
        now,
        audit("person.bind", "person", person.id, { organisationId: org.id, bootstrap: true, ...ceremony }),
      );
    }
    const roles: Role[] = [...new Set<Role>(["service-owner-staff", ...m.roles])];
    await ra.directory.saveOfficer(
      {
        personId: person.id,
        roles,
        serviceOwnerStaff: true,
        ...(m.qualifiedUntil
          ? { qualification: m.qualification ?? "bootstrap", qualifiedUntil: m.qualifiedUntil }
          : {}),
      },
      actor,
      audit("officer.appoint", "person", person.id, { roles, bootstrap: true, ...ceremony }),
    );
    const cert = await ra.certs.issue({
      profileId: "ra-officer",
      publicKey: m.publicKey,
      requestedBy: actor,
      subject: {
        CN: m.name,
        O: org.name,
        organizationIdentifier: `NTR${org.country}-${org.orgNumber}`,
        C: org.country,
        serialNumber: person.id,
      },
      ...(m.email ? { email: m.email } : {}),
      validatedEmailDomains: validatedDomains(org), // REQ-01
    });
    await ra.directory.addCredential(
      cert.serial,
      person.id,
      now,
      audit("officer.credential", "person", person.id, { serial: cert.serial, bootstrap: true, ...ceremony }),
    );
    made.push({ id: m.id, personId: person.id, roles, serial: cert.serial, der: cert.der });
  }
  // The ceremony record: who ran it, who watched, what the group is and what it had to cover.
  await ra.audit(
    audit("staff.bootstrap", "organisation", org.id, {
      ...ceremony,
      needs,
      members: made.map((m) => ({ id: m.id, personId: m.personId, roles: m.roles, serial: m.serial })),
    }),
  );
  return { organisationId: org.id, members: made };
}

import { existsSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { loadWorkflows, type Workflow } from "../policy/workflow.js";
import { KeyedHasher } from "../ra/national-id.js";
import { Onboarding } from "../ra/onboarding.js";
import { OrderService } from "../ra/order-service.js";
import { validatedDomains } from "../ra/subject-builder.js";
import { RevocationDesk } from "../ra/revocation-desk.js";
import { RoleGrants } from "../ra/role-grants.js";
import { loadRolesPolicy, type RolesPolicy } from "../policy/roles-policy.js";
import { KnexRoleGrantStore } from "../store/role-grant.store.js";
import { ExpiryScheduler } from "../ra/expiry-scheduler.js";
import { CredentialResolver } from "../ra/credential-resolver.js";
import type { CardCertificates, DocumentRegister, PopulationRegister } from "../ra/ports.js";
import type { Role } from "../ra/order.js";
import { KnexOrderStore } from "../store/order.store.js";
import { KnexDirectoryStore } from "../store/directory.store.js";
import { KnexRevocationRequestStore } from "../store/revocation-request.store.js";
import { KnexOutboxStore } from "../store/outbox.store.js";
import type { FieldCipher } from "../store/field-cipher.js";
import { fieldCipher } from "./data-keys.js";
import { cardCertificates } from "./card-certificates.js";
import { ownerOnlyKey } from "./key-file.js";
import { fileDocumentRegister, fileRegister } from "./file-register.js";
import type { Runtime } from "./runtime.js";

export type { Role } from "../ra/order.js";

export interface Ra {
  readonly workflows: ReadonlyMap<string, Workflow>;
  readonly orderStore: KnexOrderStore;
  readonly directory: KnexDirectoryStore;
  /** Messages sent through another channel (terms tokens, activation codes, PINs), decrypted. */
  readonly outbox: KnexOutboxStore;
  /** REQ-29: seals personal data at rest (data keys unwrapped by the HSM once). */
  readonly cipher: FieldCipher;
  readonly certs: CardCertificates;
  readonly hasher: KeyedHasher;
  readonly onboarding: Onboarding;
  readonly orders: OrderService;
  readonly desk: RevocationDesk;
  /** REQ-24: the roles policy and pending role grants. */
  readonly roles: RolesPolicy;
  readonly grants: RoleGrants;
  readonly expiry: ExpiryScheduler;
  readonly resolver: CredentialResolver;
}

/** REQ-28: the keyed-hash key; made (32 random bytes, owner-only) on first use. */
export function hashKey(rt: Runtime): Uint8Array {
  return ownerOnlyKey(rt.config.ra.hashKeyFile, rt.random, { what: "keyed-hash key", exact: false });
}

/** Wires the RA over the runtime's database and CA (the only place that picks the RA's backends). */
export async function openRa(rt: Runtime, opts: { register?: PopulationRegister; documents?: DocumentRegister; certs?: CardCertificates; publicUrl?: () => string } = {}): Promise<Ra> {
  const workflows = loadWorkflows(join(rt.config.policyDir, "workflows"));
  for (const w of workflows.values()) for (const p of w.profiles) if (!rt.profiles.has(p)) throw new CaError("config", `workflow ${w.id} names profile '${p}', which is not loaded`);
  // REQ-29: people's names and emails and the outbox are sealed at rest; no RA without the data keys.
  const cipher = await fieldCipher(rt);
  const orderStore = new KnexOrderStore(rt.db, rt.readDb, cipher);
  const directory = new KnexDirectoryStore(rt.db, rt.readDb, cipher);
  const certs = opts.certs ?? cardCertificates(rt, () => rt.authority(rt.config.issuingCas[0] ?? ""));
  const hasher = new KeyedHasher(hashKey(rt));
  const register = opts.register ?? fileRegister(rt.config.ra.registerFile);
  // REQ-05 "where a register is available": a configured register must answer (fail closed); the default file only if present.
  const { documentRegisterFile, documentRegisterConfigured } = rt.config.ra;
  const documents = opts.documents ?? (documentRegisterConfigured || existsSync(documentRegisterFile) ? fileDocumentRegister(documentRegisterFile) : undefined);
  const { clock, random } = rt;
  const orders = new OrderService({ orders: orderStore, directory, workflows, certs, register, hasher, clock, random, currentTermsVersion: rt.config.ra.termsVersion, ...(documents ? { documents } : {}),
    publicUrl: opts.publicUrl ?? (() => rt.config.ra.publicUrl) });
  // REQ-24: who grants which role, second approvals, incompatible roles (policies/roles.yaml).
  const roles = loadRolesPolicy(join(rt.config.policyDir, "roles.yaml"));
  const grants = new RoleGrants({ directory, grants: new KnexRoleGrantStore(rt.db), policy: roles, clock, random });
  const desk = new RevocationDesk({ requests: new KnexRevocationRequestStore(rt.db), orders: orderStore, directory, certs, policy: rt.revocationPolicy, clock, random });
  return {
    workflows, orderStore, directory, certs, hasher, orders, cipher, outbox: new KnexOutboxStore(rt.readDb, cipher), roles, grants, desk,
    onboarding: new Onboarding({ directory, hasher, clock, random, grants, desk }),
    expiry: new ExpiryScheduler({ orders: orderStore, service: orders, certs, workflows, clock }),
    resolver: new CredentialResolver({ certs, directory, orders: orderStore, workflows, clock }),
  };
}

/**
 * The first officer of the service owner (a CA operator step on the CA host, audited): the
 * service owner's organisation, the person, their roles, and an ra-officer certificate for the
 * public key from their card. Every later officer gets their card through the RA (REQ-02).
 */
export async function bootstrapStaff(rt: Runtime, ra: Ra, input: {
  orgNumber: string; orgName: string; country: string; nationalId: string; name: string; email?: string; roles: readonly Role[]; qualifiedUntil?: Date; publicKey: Uint8Array; operator: string;
}): Promise<{ organisationId: string; personId: string; serial: string; der: Uint8Array }> {
  const { clock, random } = rt;
  const now = clock.now();
  const audit = (action: string, objectType: string, objectId: string, details?: Record<string, unknown>) =>
    ({ id: newId(random), at: clock.now(), actor: `operator:${input.operator}`, action, objectType, objectId, outcome: "success" as const, ...(details ? { details } : {}) });
  let org = await ra.directory.organisationByNumber(input.orgNumber);
  if (org && !org.serviceOwner) throw new CaError("conflict", `organisation ${input.orgNumber} exists and is not the service owner's`);
  if (!org) {
    org = { id: newId(random), orgNumber: input.orgNumber, name: input.orgName, country: input.country, status: "active", serviceOwner: true, registrationCertificate: "service owner (bootstrap)" };
    await ra.directory.createOrganisation(org, now, audit("org.bootstrap", "organisation", org.id, { orgNumber: org.orgNumber }));
  }
  const nationalIdHash = ra.hasher.hash("national-id", input.nationalId);
  let person = await ra.directory.personByNationalId(org.id, nationalIdHash);
  if (!person) {
    person = { id: newId(random), organisationId: org.id, nationalIdHash, name: input.name, ...(input.email ? { email: input.email } : {}), boundBy: `operator:${input.operator}` };
    await ra.directory.createPerson(person, now, audit("person.bind", "person", person.id, { organisationId: org.id, bootstrap: true }));
  }
  const roles: Role[] = [...new Set<Role>(["service-owner-staff", ...input.roles])];
  await ra.directory.saveOfficer({ personId: person.id, roles, serviceOwnerStaff: true, ...(input.qualifiedUntil ? { qualification: "bootstrap", qualifiedUntil: input.qualifiedUntil } : {}) }, `operator:${input.operator}`,
    audit("officer.appoint", "person", person.id, { roles, bootstrap: true }));
  const cert = await ra.certs.issue({
    profileId: "ra-officer", publicKey: input.publicKey, requestedBy: `operator:${input.operator}`,
    subject: { CN: input.name, O: org.name, organizationIdentifier: `NTR${org.country}-${org.orgNumber}`, C: org.country, serialNumber: person.id },
    ...(input.email ? { email: input.email } : {}), validatedEmailDomains: validatedDomains(org), // REQ-01
  });
  await ra.directory.addCredential(cert.serial, person.id, now, audit("officer.credential", "person", person.id, { serial: cert.serial, bootstrap: true }));
  const rec = await rt.store.get(cert.serial);
  return { organisationId: org.id, personId: person.id, serial: cert.serial, der: rec!.der! };
}

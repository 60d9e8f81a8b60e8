import { existsSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { loadWorkflows, type Workflow } from "../policy/workflow.js";
import { KeyedHasher } from "../ra/national-id.js";
import { Onboarding } from "../ra/onboarding.js";
import { OrderService } from "../ra/order-service.js";
import { RecentOrders } from "../ra/recent-orders.js";
import { RevocationDesk } from "../ra/revocation-desk.js";
import { RoleGrants } from "../ra/role-grants.js";
import { loadRolesPolicy, type RolesPolicy } from "../policy/roles-policy.js";
import { KnexRoleGrantStore } from "../store/role-grant.store.js";
import { ExpiryScheduler } from "../ra/expiry-scheduler.js";
import { CredentialResolver } from "../ra/credential-resolver.js";
import { ActivationDesk } from "../ra/activation.js";
import type { ProductionSaga } from "../ra/production-saga.js";
import { KnexActivationStore } from "../store/activation.store.js";
import { KnexLinkedWrites } from "../store/linked-writes.js";
import type { CardCertificates, DocumentRegister, PopulationRegister } from "../ra/ports.js";
import { KnexOrderStore } from "../store/order.store.js";
import { KnexDirectoryStore } from "../store/directory.store.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { PersonNames } from "../ra/person-names.js";
import { KnexRevocationRequestStore } from "../store/revocation-request.store.js";
import { KnexOutboxStore } from "../store/outbox.store.js";
import type { FieldCipher } from "../store/field-cipher.js";
import { fieldCipher } from "./data-keys.js";
import { cardCertificates } from "./card-certificates.js";
import { ownerOnlyKey } from "./key-file.js";
import { fileDocumentRegister, fileRegister } from "./file-register.js";
import type { Parts } from "./parts.js";
import { KnexCardStore } from "../store/card.store.js";
import type { KeyOriginDeps } from "../ra/key-origin.js";
import { keyOriginDeps } from "./key-attestation.js";

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
  /** REQ-27: names for entitled readers, each read audited as personal-data access. */
  readonly names: PersonNames;
  /** REQ-16: activation challenges and the card station's record of the transport PIN change. */
  readonly activation: ActivationDesk;
  /** Production as one crash-safe saga; its recovery runs at start and periodically. */
  readonly saga: ProductionSaga;
}

/** REQ-28: the keyed-hash key; made (32 random bytes, owner-only) on first use. */
export function hashKey(rt: Parts<"config" | "random">): Uint8Array {
  return ownerOnlyKey(rt.config.ra.hashKeyFile, rt.random, { what: "keyed-hash key", exact: false });
}

/** Wires the RA over the database and CA parts it is handed (the only place that picks the RA's backends). */
/** What the RA uses: the records, the data-key token and the issuance pipeline with its issuing CAs. */
export type RaParts = Parts<
  | "config"
  | "clock"
  | "random"
  | "db"
  | "readDb"
  | "profiles"
  | "store"
  | "registry"
  | "revocationPolicy"
  | "keystore"
  | "issuer"
  | "authority"
>;

export async function openRa(
  rt: RaParts,
  opts: {
    register?: PopulationRegister;
    documents?: DocumentRegister;
    certs?: CardCertificates;
    publicUrl?: () => string;
    keyOrigins?: KeyOriginDeps;
  } = {},
): Promise<Ra> {
  const workflows = loadWorkflows(join(rt.config.policyDir, "workflows"));
  for (const w of workflows.values())
    for (const p of w.profiles)
      if (!rt.profiles.has(p))
        throw new CaError("config", `workflow ${w.id} names profile '${p}', which is not loaded`);
  // REQ-29: people's names and emails and the outbox are sealed at rest; no RA without the data keys.
  const cipher = await fieldCipher(rt);
  const orderStore = new KnexOrderStore(rt.db, rt.readDb, cipher);
  const directory = new KnexDirectoryStore(rt.db, rt.readDb, cipher);
  // Each record of a card certificate is written with its order's change (the production saga).
  const certs =
    opts.certs ??
    cardCertificates(rt, () => rt.authority(rt.config.issuingCas[0] ?? ""), {
      writes: new KnexLinkedWrites(rt.db, orderStore),
      orders: orderStore,
    });
  const hasher = new KeyedHasher(hashKey(rt));
  const register = opts.register ?? fileRegister(rt.config.ra.registerFile);
  // REQ-05 "where a register is available": a configured register must answer (fail closed); the default file only if
  // present.
  const { documentRegisterFile, documentRegisterConfigured } = rt.config.ra;
  const documents =
    opts.documents ??
    (documentRegisterConfigured || existsSync(documentRegisterFile)
      ? fileDocumentRegister(documentRegisterFile)
      : undefined);
  const { clock, random } = rt;
  // The orders acted on last, shared by the order service and the activation desk (each action is compare-and-set).
  const recent = new RecentOrders();
  const activation = new ActivationDesk({
    orders: orderStore,
    recent,
    records: new KnexActivationStore(rt.db, rt.readDb),
    certs,
    clock,
    random,
  });
  // REQ-14: attestation roots from the CA store, the card the station recorded from the card ledger.
  const keyOrigins =
    opts.keyOrigins ?? keyOriginDeps(rt.config.caStoreDir, new KnexCardStore(rt.db, rt.readDb, cipher));
  const orders = new OrderService({
    orders: orderStore,
    directory,
    workflows,
    certs,
    register,
    hasher,
    clock,
    random,
    currentTermsVersion: rt.config.ra.termsVersion,
    keyOrigins,
    activation,
    recent,
    ...(documents ? { documents } : {}),
    publicUrl: opts.publicUrl ?? (() => rt.config.ra.publicUrl),
    profiles: rt.profiles,
  });
  // REQ-24: who grants which role, second approvals, incompatible roles (policies/roles.yaml).
  const roles = loadRolesPolicy(join(rt.config.policyDir, "roles.yaml"));
  const grants = new RoleGrants({ directory, grants: new KnexRoleGrantStore(rt.db), policy: roles, clock, random });
  const desk = new RevocationDesk({
    requests: new KnexRevocationRequestStore(rt.db),
    orders: orderStore,
    directory,
    certs,
    policy: rt.revocationPolicy,
    clock,
    random,
  });
  return {
    workflows,
    orderStore,
    directory,
    certs,
    hasher,
    orders,
    cipher,
    outbox: new KnexOutboxStore(rt.readDb, cipher),
    activation,
    saga: orders.saga,
    roles,
    grants,
    desk,
    onboarding: new Onboarding({ directory, hasher, clock, random, grants, desk }),
    expiry: new ExpiryScheduler({ orders: orderStore, service: orders, certs, workflows, clock }),
    resolver: new CredentialResolver({ certs, directory, orders: orderStore, workflows, clock }),
    names: new PersonNames({ directory, clock, random, audit: (e) => recordAuditEvent(rt.db, e) }),
  };
}

export { bootstrapStaffGroup, readStaffFile, requiredStaffGroup, type StaffMember } from "./staff-bootstrap.js";

import { templateBody } from "../shared/message-template.js";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { sha256Hex } from "../shared/digest.js";
import type { Workflow } from "../policy/workflow.js";
import { availableActions, decide, transitionFrom } from "./workflow-engine.js";
import type { DirectoryStore } from "./directory.js";
import type { KeyedHasher } from "./national-id.js";
import {
  orderAfter,
  type ActionInput,
  type Actor,
  type Channel,
  type Notification,
  type OrderActor,
  type OrderChange,
  type OrderStore,
  type OrderView,
} from "./order.js";
import type {
  CardCertificateRequest,
  CardCertificates,
  DocumentRegister,
  PopulationRegister,
  RegisteredName,
} from "./ports.js";
import { actorId, requireRole, requireScope } from "./actor-checks.js";
import { keyOrigin, type KeyOriginDeps, type KeyOriginRequest } from "./key-origin.js";
import { certificateSubject, registeredNameFrom, validatedDomains } from "./subject-builder.js";
import { logonNames } from "./logon-name.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import type { Organisation, Person } from "./directory.js";
import { requireActivatedEid, supersedeRenewedEid } from "./renewal.js";
import { ProductionSaga, type IssuedCard } from "./production-saga.js";
import type { ActivationDesk } from "./activation.js";
import { humanIdOf, isHuman } from "./human.js";
import { onOrder, RecentOrders, type RememberedOrder } from "./recent-orders.js";

/** REQ-10: the step an actor took, by human, for the order's separation matrix. */
const stepBy = (actor: Actor, action: string, at: Date): OrderActor | undefined =>
  actor.personId && actor.humanId ? { action, personId: actor.personId, humanId: actor.humanId, at } : undefined;

/** An identity document as the officer typed it; the number is kept only as a keyed hash (REQ-28). */
export interface DocumentInput {
  readonly type: string;
  readonly number: string;
  readonly expires: Date;
}

/**
 * What a caller brings to an action (the form an officer, applicant or holder filled in); at production, where the key
 * comes from (REQ-14).
 */
export interface ActionRequest extends KeyOriginRequest {
  readonly document?: DocumentInput;
  readonly faceCompared?: boolean;
  readonly termsVersion?: string;
  /**
   * REQ-06: which text of that version the applicant accepted (its language and SHA-256), recorded in the audit event.
   */
  readonly termsText?: { readonly language: string; readonly sha256: string };
  readonly accepted?: boolean;
  readonly secondIdentification?: { readonly document: DocumentInput; readonly faceCompared: boolean };
  readonly activationCodeChannel?: Channel;
  readonly cardChannel?: Channel;
  readonly applicantToken?: string;
  /**
   * REQ-06: the hash of the token an applicant session was opened with (the session proves the token; it keeps only the
   * hash).
   */
  readonly applicantTokenHash?: string;
  readonly activationCode?: string;
  /** REQ-08: control question id → answered right. */
  readonly knowledgeAnswers?: Readonly<Record<string, boolean>>;
  /** REQ-16: the card's signature over the RA's activation challenge. */
  readonly challengeSignature?: Uint8Array;
}

const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/**
 * The terms message (REQ-06): the applicant's link, with the token in the URL fragment (never sent
 * in a request line or logged), and the token itself for API clients.
 */
export function termsTemplate(
  publicUrl: string | undefined,
  orderId: string,
  termsVersion: string,
  token: string,
): string {
  const link = publicUrl ? `${publicUrl.replace(/\/$/, "")}/applicant/#order=${orderId}&token=${token}` : undefined;
  return templateBody("terms-link", { orderId, termsVersion, token, ...(link ? { link } : {}) });
}

/** The terms message in English as text (the template's English words). */
export function termsMessage(
  publicUrl: string | undefined,
  orderId: string,
  termsVersion: string,
  token: string,
): string {
  const link = publicUrl ? `${publicUrl.replace(/\/$/, "")}/applicant/#order=${orderId}&token=${token}` : undefined;
  return [
    `Order ${orderId}. To accept the terms of use (version ${termsVersion})${link ? ", open this link:" : ""}`,
    ...(link ? [link, ""] : []),
    `API clients: use this token: ${token}`,
  ].join("\n");
}

/**
 * Card orders: creation with the register check (REQ-07), renewal on an existing eID (REQ-11),
 * and every action decided by the workflow's guards, written compare-and-set with its audit
 * event (REQ-10, REQ-27). The CA is reached only through the CardCertificates port.
 */
export class OrderService {
  constructor(
    private readonly deps: {
      orders: OrderStore;
      directory: DirectoryStore;
      workflows: ReadonlyMap<string, Workflow>;
      certs: CardCertificates;
      register: PopulationRegister;
      hasher: KeyedHasher;
      clock: Clock;
      random: Random;
      currentTermsVersion: string;
      /** REQ-05: the lost/stolen document register, where one is available. */
      documents?: DocumentRegister;
      /**
       * REQ-16: activation challenges and the card station's PIN records (needed by workflows whose activation checks
       * them).
       */
      activation?: ActivationDesk;
      /** The certificate effects of transitions (made here when not given). */
      saga?: ProductionSaga;
      /**
       * REQ-14: the attestation verifier and the card ledger; without them no key is certified (key-attested refuses).
       */
      keyOrigins?: KeyOriginDeps;
      /** The RA's public base URL for the applicant's link (`<url>/applicant/#order=…&token=…`). */
      publicUrl?: () => string;
      /** The orders acted on last (shared with the activation desk); each action still writes compare-and-set. */
      recent?: RecentOrders;
      /** The certificate profiles: the logon names a workflow's profile asks for (src/ra/logon-name.ts). */
      profiles?: ReadonlyMap<string, CertificateProfile>;
    },
  ) {
    this.recent = deps.recent ?? new RecentOrders();
    this.saga =
      deps.saga ??
      new ProductionSaga({
        orders: deps.orders,
        certs: deps.certs,
        workflows: deps.workflows,
        clock: deps.clock,
        random: deps.random,
      });
  }

  /** Production, release and revocation of the orders' certificates, and their recovery. */
  readonly saga: ProductionSaga;

  private readonly recent: RecentOrders;

  workflow(id: string): Workflow {
    const w = this.deps.workflows.get(id);
    if (!w)
      throw new CaError(
        "not-found",
        `no workflow '${id}' (have: ${[...this.deps.workflows.keys()].join(", ")})`,
        undefined,
        { code: "order.unknown-workflow" },
      );
    return w;
  }

  private token(bytes: number): string {
    const b = this.deps.random.bytes(bytes);
    return Array.from(b, (x) => CODE_ALPHABET[x % 32]).join("");
  }

  /**
   * REQ-07: the register must know the person and not mark them deceased, missing or incapacitated; its name is the
   * certificate's.
   */
  private async registerCheck(
    nationalId: string,
  ): Promise<{ ok: boolean; status: string; source: string; name: RegisteredName }> {
    const { register } = this.deps;
    let r;
    try {
      r = await register.lookup(nationalId);
    } catch (e) {
      throw new CaError(
        "unavailable",
        `the authoritative register (${register.source}) did not answer: ${(e as Error).message}`,
        undefined,
        { code: "register.unavailable" },
      );
    }
    if (r.status !== "alive")
      throw new CaError(
        "policy-violation",
        `the authoritative register (${register.source}) answers '${r.status}' for this person; no card order (REQ-07)`,
        { registerStatus: r.status },
        { code: "register.not-alive", params: { registerStatus: r.status } },
      );
    return { ok: true, status: r.status, source: register.source, name: registeredNameFrom(r, register.source) };
  }

  /** An officer orders a card for a person bound to their organisation (REQ-01, REQ-02, REQ-07, REQ-21). */
  async create(
    actor: Actor,
    input: { personId: string; workflowId: string; nationalId: string; purpose?: "holder" | "officer" },
  ): Promise<OrderView> {
    requireRole(actor, ["ra-officer"], "ordering a card");
    const w = this.workflow(input.workflowId);
    const purpose = input.purpose ?? "holder";
    if (purpose === "officer" && !w.officerCards)
      throw new CaError(
        "policy-violation",
        `officer cards are ordered under LoA3 rules (REQ-02); ${w.id} does not allow them`,
        undefined,
        { code: "order.officer-card-not-allowed" },
      );
    const bound = await this.deps.directory.personWithOrganisation(input.personId);
    if (!bound || bound.person.unboundAt)
      throw new CaError("not-found", `no person ${input.personId} bound to an organisation`, undefined, {
        code: "person.not-found",
      });
    const { person, organisation: org } = bound;
    requireScope(actor, person.organisationId);
    if (actor.personId === person.id || isHuman(actor, humanIdOf(person.nationalIdHash)))
      throw new CaError(
        "policy-violation",
        "no officer orders a card for themself, under any of their bindings (not-own-order, REQ-10)",
        { rule: "not-own-order", requirement: "REQ-10" },
        { code: "order.own-order" },
      );
    if (org.status !== "active")
      throw new CaError(
        "policy-violation",
        `organisation ${org.orgNumber} is not onboarded (registration certificate and domain validation, REQ-01)`,
        undefined,
        { code: "organisation.not-onboarded" },
      );
    if (this.deps.hasher.hash("national-id", input.nationalId) !== person.nationalIdHash)
      throw new CaError("policy-violation", "the national ID number does not match the person's record", undefined, {
        code: "person.national-id-mismatch",
      });
    this.requireLogonNames(purpose === "officer" ? "ra-officer" : w.profiles[0]!, person, org);
    const register = await this.registerCheck(input.nationalId);
    return this.open(actor, {
      personId: person.id,
      applicantHumanId: humanIdOf(person.nationalIdHash),
      organisationId: org.id,
      email: person.email,
      workflow: w,
      purpose,
      register,
    });
  }

  /** REQ-11: the holder orders a new card on the strength of a valid eID of at least the same level. */
  async renew(actor: Actor, input: { workflowId: string; nationalId: string }): Promise<OrderView> {
    if (actor.kind !== "holder" || !actor.credentialSerial || !actor.personId)
      throw new CaError("forbidden", "a renewal is requested with a valid eID", undefined, {
        code: "renewal.eid-needed",
      });
    const w = this.workflow(input.workflowId);
    if ((actor.loa ?? 0) < w.loa)
      throw new CaError(
        "policy-violation",
        `a LoA${w.loa} card needs an eID of at least LoA${w.loa} (REQ-11)`,
        undefined,
        { code: "renewal.loa-too-low", params: { loa: w.loa } },
      );
    const bound = await this.deps.directory.personWithOrganisation(actor.personId);
    if (!bound || bound.person.unboundAt)
      throw new CaError("forbidden", "the eID holder is no longer bound to an organisation (REQ-21)", undefined, {
        code: "credential.holder-unbound",
      });
    const { person, organisation: org } = bound;
    if (this.deps.hasher.hash("national-id", input.nationalId) !== person.nationalIdHash)
      throw new CaError("policy-violation", "the national ID number does not match the eID holder", undefined, {
        code: "person.national-id-mismatch",
      });
    if (org.status !== "active")
      throw new CaError("policy-violation", `organisation ${org.orgNumber} is not active (REQ-01)`, undefined, {
        code: "organisation.not-onboarded",
      });
    this.requireLogonNames(w.profiles[0]!, person, org);
    await requireActivatedEid(this.deps.orders, actor.credentialSerial, person.id); // REQ-11, REQ-16
    // REQ-11: at LoA3 the identity data is re-verified against the register (we do it at every level).
    const register = await this.registerCheck(input.nationalId);
    return this.open(actor, {
      personId: person.id,
      applicantHumanId: humanIdOf(person.nationalIdHash),
      organisationId: org.id,
      email: person.email,
      workflow: w,
      purpose: "holder",
      register,
      renewalOf: actor.credentialSerial,
    });
  }

  private profileFor(id: string): { profile?: CertificateProfile } {
    const profile = this.deps.profiles?.get(id);
    return profile ? { profile } : {};
  }

  /**
   * REQ-01: a profile with logon names (UPN, id-pkinit-san from the validated e-mail) is ordered only for a holder
   * whose record yields them; production derives them again from the record then.
   */
  private requireLogonNames(profileId: string, person: Person, org: Organisation): void {
    const { profile } = this.profileFor(profileId);
    if (profile) logonNames(profile, person, validatedDomains(org));
  }

  private async open(
    actor: Actor,
    o: {
      personId: string;
      applicantHumanId: string;
      organisationId: string;
      email: string | undefined;
      workflow: Workflow;
      purpose: "holder" | "officer";
      register: { ok: boolean; status: string; source: string; name: RegisteredName };
      renewalOf?: string;
    },
  ): Promise<OrderView> {
    const { clock, random } = this.deps;
    const { name: registeredName, ...register } = o.register;
    const now = clock.now();
    const id = newId(random);
    const token = this.token(24);
    // REQ-06: the applicant accepts the terms with a token sent to them, never through the officer.
    const notification: Notification = {
      id: newId(random),
      personId: o.personId,
      channel: o.workflow.delivery.terms,
      kind: "terms-link",
      secret: true,
      at: now,
      subject: "Your card order: accept the terms",
      // Written in the applicant's language when sent.
      body: termsTemplate(this.deps.publicUrl?.(), id, this.deps.currentTermsVersion, token),
    };
    await this.deps.orders.create(
      {
        id,
        organisationId: o.organisationId,
        applicantId: o.personId,
        workflowId: o.workflow.id,
        workflowVersion: o.workflow.version,
        purpose: o.purpose,
        profileId: o.purpose === "officer" ? "ra-officer" : o.workflow.profiles[0]!,
        at: now,
        register,
        registeredName,
        applicantTokenHash: sha256Hex(token),
        ...(o.renewalOf ? { renewalOf: o.renewalOf } : {}),
        ...((r) => (r ? { requestedBy: r } : {}))(stepBy(actor, "request", now)),
      },
      {
        id: newId(random),
        at: now,
        actor: actorId(actor),
        action: o.renewalOf ? "order.renew" : "order.create",
        objectType: "order",
        objectId: id,
        outcome: "success",
        organisationId: o.organisationId,
        policy: `${o.workflow.id}@${o.workflow.version}`,
        details: {
          workflow: `${o.workflow.id}@${o.workflow.version}`,
          purpose: o.purpose,
          register,
          renewalOf: o.renewalOf,
          applicant: o.personId,
        },
      },
      notification,
    );
    // The order as just committed (what load would read back: version 0, no identification yet, the requester as its
    // one actor).
    const requestedBy = stepBy(actor, "request", now);
    const created: OrderView & { version: number; workflowId: string } = {
      id,
      organisationId: o.organisationId,
      applicantPersonId: o.personId,
      ...(o.applicantHumanId ? { applicantHumanId: o.applicantHumanId } : {}),
      actors: requestedBy ? [requestedBy] : [],
      state: "REQUESTED",
      version: 0,
      workflowId: o.workflow.id,
      purpose: o.purpose,
      profileId: o.purpose === "officer" ? "ra-officer" : o.workflow.profiles[0]!,
      identifications: [],
      registerCheck: { ok: register.ok, at: now },
      ...(o.renewalOf ? { renewalOf: o.renewalOf } : {}),
      applicantTokenHash: sha256Hex(token),
      stateSince: now,
    };
    this.recent.put(created);
    return created;
  }

  /** Reads an order: officers within their scope, the applicant's holder eID for their own orders. */
  async view(actor: Actor, orderId: string): Promise<OrderView & { version: number; workflowId: string }> {
    const o = await this.deps.orders.load(orderId);
    if (!o) throw new CaError("not-found", `no order ${orderId}`, undefined, { code: "order.not-found" });
    if (actor.kind === "officer") requireScope(actor, o.organisationId);
    else if (actor.personId !== o.applicantPersonId)
      throw new CaError("not-found", `no order ${orderId}`, undefined, { code: "order.not-found" });
    return o;
  }

  /** What this officer may do on an order now (the portal shows only these; the engine still decides). */
  actionsFor(
    actor: Actor,
    order: OrderView & { workflowId: string },
  ): { action: string; to: string; needs: string[] }[] {
    const w = this.deps.workflows.get(order.workflowId);
    return w ? availableActions(w, order, actor, this.deps.clock.now()) : [];
  }

  /** The officer's work queue: open orders in their scope, those waiting for their action first. */
  async queue(actor: Actor): Promise<
    {
      order: OrderView & { version: number; workflowId: string };
      actions: { action: string; to: string; needs: string[] }[];
    }[]
  > {
    requireRole(actor, ["ra-officer", "ca-operator", "ra-admin"], "the work queue");
    const orders = await this.deps.orders.listOpen(actor.serviceOwnerStaff ? undefined : actor.organisationId, 200);
    const rows = orders.map((order) => ({ order, actions: this.actionsFor(actor, order) }));
    return [...rows.filter((r) => r.actions.length > 0), ...rows.filter((r) => r.actions.length === 0)];
  }

  /** A bound person of the officer's organisation, found by national ID (the number is only hashed, REQ-28). */
  async personByNationalId(actor: Actor, nationalId: string, organisationId = actor.organisationId): Promise<string> {
    if (!organisationId)
      throw new CaError("forbidden", "no organisation", undefined, { code: "scope.no-organisation" });
    requireScope(actor, organisationId);
    const p = await this.deps.directory.personByNationalId(
      organisationId,
      this.deps.hasher.hash("national-id", nationalId),
    );
    if (!p)
      throw new CaError(
        "not-found",
        "no person with this national ID number is bound to this organisation (an ra-admin binds people first, REQ-21)",
        undefined,
        { code: "person.not-bound-here" },
      );
    return p.id;
  }

  /** The workflows as the portal's forms need them. */
  workflowSummaries(): {
    id: string;
    version: number;
    loa: number;
    identifications: number;
    acceptedDocuments: readonly string[];
    knowledgeQuestions?: unknown;
    pin: string;
  }[] {
    return [...this.deps.workflows.values()].map((w) => ({
      id: w.id,
      version: w.version,
      loa: w.loa,
      identifications: w.identifications,
      acceptedDocuments: w.acceptedDocuments,
      pin: w.card.pin,
      ...(w.knowledgeQuestions ? { knowledgeQuestions: w.knowledgeQuestions } : {}),
    }));
  }

  private toInput(r: ActionRequest): ActionInput {
    const { hasher } = this.deps;
    const doc = (d: DocumentInput) => ({
      type: d.type,
      numberHash: hasher.hash("document", d.number),
      expires: d.expires,
    });
    return {
      ...(r.document ? { document: doc(r.document) } : {}),
      ...(r.faceCompared !== undefined ? { faceCompared: r.faceCompared } : {}),
      ...(r.termsVersion !== undefined ? { termsVersion: r.termsVersion } : {}),
      ...(r.accepted !== undefined ? { accepted: r.accepted } : {}),
      ...(r.secondIdentification
        ? {
            secondIdentification: {
              document: doc(r.secondIdentification.document),
              faceCompared: r.secondIdentification.faceCompared,
            },
          }
        : {}),
      ...(r.activationCodeChannel ? { activationCodeChannel: r.activationCodeChannel } : {}),
      ...(r.cardChannel ? { cardChannel: r.cardChannel } : {}),
      ...(r.applicantToken !== undefined
        ? { applicantTokenHash: sha256Hex(r.applicantToken) }
        : r.applicantTokenHash !== undefined
          ? { applicantTokenHash: r.applicantTokenHash }
          : {}),
      ...(r.activationCode !== undefined ? { activationCodeHash: sha256Hex(r.activationCode.toUpperCase()) } : {}),
      ...(r.publicKey ? { publicKey: r.publicKey } : {}),
      ...(r.knowledgeAnswers ? { knowledgeAnswers: r.knowledgeAnswers } : {}),
    };
  }

  /** REQ-05: asks the lost/stolen register about every document the action brings (numbers in clear go only there). */
  private async documentRegisterCheck(r: ActionRequest): Promise<ActionInput["documentRegister"]> {
    const register = this.deps.documents;
    if (!register) return undefined;
    const docs: [string, DocumentInput][] = [];
    if (r.document) docs.push(["identity document", r.document]);
    if (r.secondIdentification) docs.push(["hand-out identity document", r.secondIdentification.document]);
    const reported: { document: string; reason: string }[] = [];
    for (const [what, d] of docs) {
      let answer;
      try {
        answer = await register.lookup({ type: d.type, number: d.number });
      } catch (e) {
        throw new CaError(
          "unavailable",
          `the document register (${register.source}) did not answer: ${(e as Error).message}`,
          undefined,
          { code: "document-register.unavailable" },
        );
      }
      if (answer.reported) reported.push({ document: what, reason: answer.reason });
    }
    return { source: register.source, reported };
  }

  /**
   * The certificate production asks the CA for (REQ-14): the key the card proved it generated
   * (key-attested held) and the subject from the register's answer, the e-mail only within a
   * validated domain, a person still bound (REQ-07, REQ-01, REQ-21).
   */
  private async certificateRequest(
    order: OrderView,
    actor: Actor,
    input: ActionInput,
  ): Promise<CardCertificateRequest> {
    if (!input.keyOrigin?.ok)
      throw new CaError(
        "policy-violation",
        "production without a proven key origin (key-attested, REQ-14)",
        { guard: "key-attested", requirement: "REQ-14" },
        { code: "guard.key-attested.attestation-required" },
      );
    const { orders, directory } = this.deps;
    return {
      profileId: order.profileId,
      publicKey: input.keyOrigin.spki,
      requestedBy: actorId(actor),
      ...(await certificateSubject({ orders, directory, ...this.profileFor(order.profileId) }, order)),
    };
  }

  /**
   * One action on one order: load, decide by the workflow's guards, build the change (an
   * activation code at hand-out...), then write it compare-and-set with its audit event and the
   * certificate effects the transition declares (production saga: issue on hold, release,
   * revoke; src/ra/production-saga.ts). Of concurrent attempts exactly one wins.
   */
  async act(
    orderId: string,
    action: string,
    actor: Actor,
    request: ActionRequest,
  ): Promise<OrderView & { version: number; issued?: IssuedCard }> {
    return onOrder(
      this.recent,
      orderId,
      (id) => this.deps.orders.load(id),
      (order, attempt) => this.actOn(order, orderId, action, actor, request, attempt),
    );
  }

  private async actOn(
    order: RememberedOrder | undefined,
    orderId: string,
    action: string,
    actor: Actor,
    request: ActionRequest,
    attempt: { wrote: boolean; lost: boolean },
  ): Promise<OrderView & { version: number; issued?: IssuedCard }> {
    const { clock, random, currentTermsVersion, certs } = this.deps;
    if (!order) throw new CaError("not-found", `no order ${orderId}`, undefined, { code: "order.not-found" });
    if (actor.kind === "holder" && actor.personId !== order.applicantPersonId)
      throw new CaError("not-found", `no order ${orderId}`, undefined, { code: "order.not-found" });
    const workflow = this.deps.workflows.get(order.workflowId);
    if (!workflow)
      throw new CaError(
        "config",
        `order ${orderId} follows workflow '${order.workflowId}', which is not loaded`,
        undefined,
        { code: "order.workflow-missing" },
      );
    const next = transitionFrom(workflow, order.state, action);
    const documentRegister = next?.guards.includes("document-not-reported")
      ? await this.documentRegisterCheck(request)
      : undefined;
    // REQ-14: where the key comes from, judged before the guards (key-attested reads the verdict).
    const origin = next?.guards.includes("key-attested")
      ? await keyOrigin(this.deps.keyOrigins ?? {}, workflow, orderId, request, clock.now())
      : undefined;
    // REQ-16: what the card proved (challenge signature) and what the card station recorded (PIN replaced).
    let activation: Awaited<ReturnType<ActivationDesk["facts"]>> | undefined;
    if (
      next &&
      (next.guards.includes("activation-challenge-signed") || next.guards.includes("transport-pin-replaced"))
    ) {
      if (!this.deps.activation)
        throw new CaError(
          "config",
          `workflow ${workflow.id} checks activation challenges, but no activation records are wired`,
        );
      activation = await this.deps.activation.facts(order, actor, request.challengeSignature);
    }
    const input: ActionInput = {
      ...this.toInput(request),
      ...(documentRegister ? { documentRegister } : {}),
      ...(origin ? { keyOrigin: origin } : {}),
      ...(activation ? { activation } : {}),
      // REQ-15: how the card travels is the transition's; the activation code goes by the workflow's channel unless the
      // officer chose another.
      ...(next?.card ? { cardChannel: next.card } : {}),
      ...(next?.to === "HANDED_OUT"
        ? { activationCodeChannel: request.activationCodeChannel ?? workflow.delivery.activationCode }
        : {}),
    };
    const now = clock.now();
    const d = decide(workflow, order, action, actor, input, now, currentTermsVersion);
    const change: { -readonly [K in keyof OrderChange]: OrderChange[K] } = {
      orderId,
      expectedVersion: order.version,
      to: d.to,
      at: now,
    };
    if (d.to !== order.state) change.stateSince = now; // REQ-15: the new state's deadline runs from here
    const notifications: Notification[] = [];

    if (action === "accept-terms") change.termsVersion = input.termsVersion!;
    if (action === "identify" && input.document)
      change.identification = {
        kind: "identify",
        officerId: actor.personId!,
        ...(actor.humanId ? { humanId: actor.humanId } : {}),
        at: now,
        document: input.document,
        faceCompared: input.faceCompared === true,
      };
    if (d.transition.guards.includes("existing-eid-valid")) {
      // REQ-11: the eID must still be good at the CA, not only at the TLS layer.
      const st = await certs.status(actor.credentialSerial!);
      if (!st || st.status !== "good" || st.notAfter <= now)
        throw new CaError("policy-violation", "the eID presented is not valid (REQ-11)", undefined, {
          code: "renewal.eid-not-valid",
        });
      change.identification = {
        kind: "eid",
        byEid: true,
        officerId: actor.personId!,
        ...(actor.humanId ? { humanId: actor.humanId } : {}),
        at: now,
        document: { type: "eid", numberHash: st.serial, expires: st.notAfter },
        faceCompared: false,
      };
    }
    if (d.to === "APPROVED") change.approvedAt = now;
    if (d.to === "HANDED_OUT") {
      change.handedOutAt = now;
      if (input.secondIdentification)
        change.identification = {
          kind: "hand-out",
          officerId: actor.personId!,
          ...(actor.humanId ? { humanId: actor.humanId } : {}),
          at: now,
          document: input.secondIdentification.document,
          faceCompared: input.secondIdentification.faceCompared,
        };
      if (workflow.transitions.some((t) => t.to === "ACTIVE" && t.guards.includes("activation-code-correct"))) {
        // REQ-15: the activation code travels by another channel than the card.
        if (input.activationCodeChannel === "in-person")
          throw new CaError("invalid-input", "the activation code is sent by email, sms or mail (REQ-15)", undefined, {
            code: "delivery.code-not-in-person",
          });
        const code = this.token(10);
        change.activationCodeHash = sha256Hex(code);
        notifications.push({
          id: newId(random),
          personId: order.applicantPersonId,
          channel: input.activationCodeChannel ?? workflow.delivery.activationCode,
          kind: "activation-code",
          secret: true,
          at: now,
          subject: "Your card's activation code",
          body: templateBody("activation-code", { orderId, code }),
        });
      }
    }
    if (d.to === "ACTIVE") {
      change.activatedAt = now;
      if (order.purpose === "officer")
        change.officerCredential = { serial: order.certSerial!, personId: order.applicantPersonId };
    }
    if (notifications.length) change.notifications = notifications;
    // REQ-16: a challenge is used once: by the activation whose compare-and-set wins, in its transaction.
    if (activation?.challenge) change.usesActivationChallenge = activation.challenge;
    // REQ-10: who took this step, by human, recorded with the change.
    const step = stepBy(actor, action, now);
    if (step) change.actor = step;
    const audit = {
      id: newId(random),
      at: now,
      actor: actorId(actor),
      action: `order.${action}`,
      objectType: "order",
      objectId: orderId,
      outcome: "success" as const,
      organisationId: order.organisationId,
      policy: `${workflow.id}@${workflow.version}`,
      details: {
        from: order.state,
        to: d.to,
        workflow: `${workflow.id}@${workflow.version}`,
        guards: d.transition.guards,
        documentType: input.document?.type,
        ...(d.transition.effects?.length ? { effects: d.transition.effects } : {}),
        ...(input.documentRegister ? { documentRegister: input.documentRegister.source } : {}),
        ...(action === "accept-terms" && request.termsText
          ? { terms: { version: input.termsVersion, ...request.termsText } }
          : {}),
        ...(d.transition.guards.includes("knowledge-score")
          ? {
              knowledgeAnsweredRight: Object.keys(input.knowledgeAnswers ?? {}).filter(
                (k) => input.knowledgeAnswers![k],
              ),
            }
          : {}),
        ...(actor.credentialSerial ? { credential: actor.credentialSerial } : {}),
        ...(d.transition.effects?.includes("issue-certificate-on-hold") && input.keyOrigin?.ok
          ? { keyOrigin: input.keyOrigin.evidence }
          : {}),
        ...(activation?.challengeSigned
          ? {
              activation: {
                challengeSigned: true,
                transportPinReplaced: activation.pinReplaced
                  ? { at: activation.pinReplaced.at.toISOString(), recordedBy: activation.pinReplaced.recordedBy }
                  : undefined,
              },
            }
          : {}),
      },
    };
    attempt.wrote = true;
    const r = await this.saga.apply({
      order,
      workflow,
      transition: d.transition,
      actor,
      change,
      audit,
      certificateRequest: () => this.certificateRequest(order, actor, input),
    });
    if (!r.ok) {
      attempt.lost = r.effects !== true; // lost before anything was written: decided again on the stored order
      throw new CaError("conflict", `order ${orderId} changed while '${action}' ran; read it again`, undefined, {
        code: "order.changed-meanwhile",
      });
    }
    const after = orderAfter(order, r.change);
    this.recent.put(after);
    // REQ-11: the new card replaces the eID it was ordered with
    if (d.to === "ACTIVE") await supersedeRenewedEid(certs, order);
    return { ...after, ...(r.issued ? { issued: r.issued } : {}) };
  }
}

import type { AuditEvent } from "../ca/ports.js";

/** The audit event the RA writes (the CA port's shape), for modules that see the CA only through the RA. */
export type { AuditEvent };
import type { OrderState } from "../policy/workflow.js";
import type { RegisteredName } from "./ports.js";

export type Role = "ra-officer" | "ra-admin" | "auditor" | "ca-operator" | "service-owner-staff";

/** Who acts: identity only ever from a verified client certificate (REQ-22), resolved by the caller. */
export interface Actor {
  readonly kind: "officer" | "applicant" | "holder" | "system";
  /** Serial of the client certificate the actor authenticated with (officer card or holder eID). */
  readonly credentialSerial?: string;
  /** Holder: the LoA of the eID presented (REQ-11). */
  readonly loa?: number;
  /** Holder: the card certificate is on hold until the card is activated; only activation is open to it (REQ-16). */
  readonly credentialOnHold?: boolean;
  /** The person record behind the actor (officer or holder) in one organisation. */
  readonly personId?: string;
  /**
   * The human behind the actor: the keyed hash of the national ID (REQ-28), the same in every
   * organisation. Every self and distinctness rule compares this, never person records (REQ-10).
   */
  readonly humanId?: string;
  readonly roles: readonly Role[];
  readonly organisationId?: string;
  /** REQ-25: identity-proofing qualification valid until (absent = none). */
  readonly qualifiedUntil?: Date;
  /** REQ-02: service-owner staff serve the first officers of a new organisation. */
  readonly serviceOwnerStaff?: boolean;
}

export interface IdentityDocument {
  readonly type: string;
  /** Stored only as a keyed hash (REQ-28); the engine needs only the fact it was recorded. */
  readonly numberHash: string;
  readonly expires: Date;
}

export interface Identification {
  /** The officer who identified, or for a renewal the holder's person id (kind "eid"). */
  readonly officerId: string;
  /** The human who identified (REQ-10: distinct identifiers are distinct humans). */
  readonly humanId?: string;
  /** REQ-11: an identification on the strength of a valid eID counts for all in-person ones. */
  readonly byEid?: boolean;
  readonly at: Date;
  readonly document: IdentityDocument;
  readonly faceCompared: boolean;
}

/** Who took one step of an order (REQ-10): the separation matrix is judged from these. */
export interface OrderActor {
  /** A workflow action, or "request" for the order's creation. */
  readonly action: string;
  readonly personId: string;
  readonly humanId: string;
  readonly at: Date;
}

/** What the engine needs to know about an order to decide a transition. */
export interface OrderView {
  readonly id: string;
  readonly organisationId: string;
  readonly applicantPersonId: string;
  /** The applicant as a human (keyed hash of the national ID), for not-own-order across organisations. */
  readonly applicantHumanId?: string;
  /** Which human took which step so far, oldest first (REQ-10). */
  readonly actors?: readonly OrderActor[];
  readonly state: OrderState;
  readonly identifications: readonly Identification[];
  readonly termsVersion?: string;
  readonly registerCheck?: { readonly ok: boolean; readonly at: Date };
  readonly handedOutAt?: Date;
  /** When the order was approved; the approval ages out after the workflow's approvalValidDays. */
  readonly approvedAt?: Date;
  readonly purpose: "holder" | "officer";
  readonly profileId: string;
  readonly certSerial?: string;
  /** REQ-11: the eID serial this renewal/replacement order stands on. */
  readonly renewalOf?: string;
  readonly applicantTokenHash?: string;
  readonly activationCodeHash?: string;
  /** When the order entered its current state (REQ-15: the state's deadline runs from here). */
  readonly stateSince?: Date;
}

export type Channel = "mail" | "in-person" | "sms" | "email";

/** Facts an action brings (form fields the officer filled in). */
export interface ActionInput {
  readonly document?: IdentityDocument;
  readonly faceCompared?: boolean;
  readonly termsVersion?: string;
  /** REQ-04: the recipient's second identification at hand-out. */
  readonly secondIdentification?: { readonly document: IdentityDocument; readonly faceCompared: boolean };
  /** REQ-15: the activation code went through another channel than the card. */
  readonly activationCodeChannel?: Channel;
  readonly cardChannel?: Channel;
  /** REQ-06: the applicant ticked acceptance (never pre-ticked). */
  readonly accepted?: boolean;
  /** sha256 of the token/code the caller presented; the guards compare hashes only. */
  readonly applicantTokenHash?: string;
  readonly activationCodeHash?: string;
  /** REQ-14: SPKI DER of the key generated on the card (as the caller sent it; certified only through keyOrigin). */
  readonly publicKey?: Uint8Array;
  /**
   * REQ-14: what the order service established about the key's origin (PIV attestation, or the
   * LoA2 card-station fallback); set by the service (never by the caller) for actions with the
   * key-attested guard. `spki` is the key that gets certified; `evidence` goes to the audit trail.
   */
  readonly keyOrigin?:
    | { readonly ok: true; readonly spki: Uint8Array; readonly evidence: Readonly<Record<string, unknown>> }
    | { readonly ok: false; readonly reason: string; readonly variant?: string };
  /** REQ-08: control question id → answered right (recorded by the officer). */
  readonly knowledgeAnswers?: Readonly<Record<string, boolean>>;
  /**
   * REQ-05: what the lost/stolen document register said of the documents of this action; set by
   * the order service (never by the caller), absent when no register is available.
   */
  readonly documentRegister?: {
    readonly source: string;
    readonly reported: readonly { readonly document: string; readonly reason: string }[];
  };
  /**
   * REQ-16: what the activation proved; set by the order service (never by the caller) from the
   * card's signature over the RA's challenge and the card station's record of the PIN change.
   */
  readonly activation?: ActivationFacts;
}

/** REQ-16: the facts an activation brings, established by the RA (src/ra/activation.ts). */
export interface ActivationFacts {
  /** The card's key (the order's certificate) signed the RA's fresh, unused challenge for this order. */
  readonly challengeSigned: boolean;
  /** Why not, when it did not. */
  readonly refusal?: string;
  /** Which reason (refusal code `guard.activation-challenge-signed.<variant>`). */
  readonly variant?: string;
  /** The card station recorded that the holder replaced the transport PIN on this card (when, by whom). */
  readonly pinReplaced?: { readonly at: Date; readonly recordedBy: string };
}

/** An order change the store applies only if the order is still at `expectedVersion`. */
export interface OrderChange {
  readonly orderId: string;
  readonly expectedVersion: number;
  readonly to: OrderView["state"];
  readonly at: Date;
  readonly termsVersion?: string;
  readonly handedOutAt?: Date;
  readonly approvedAt?: Date;
  readonly identification?: Identification & { readonly kind: "identify" | "hand-out" | "eid" };
  /** null: the order no longer has a certificate (production failed, the certificate was revoked). */
  readonly certSerial?: string | null;
  readonly activationCodeHash?: string;
  readonly activatedAt?: Date;
  /** Set when the state changes (REQ-15 deadlines). */
  readonly stateSince?: Date;
  /** REQ-16: the activation challenge this change used (marked used with it). */
  readonly usesActivationChallenge?: string;
  /** Officer cards: on activation the certificate becomes the officer's credential (REQ-02, REQ-22). */
  readonly officerCredential?: { readonly serial: string; readonly personId: string };
  /** Messages for the applicant sent through another channel, written with the change (REQ-15). */
  readonly notifications?: readonly Notification[];
  /** Who took this step (REQ-10), recorded with the change. */
  readonly actor?: OrderActor;
}

/** The order as `change` leaves it: what the store holds once the compare-and-set succeeded. */
export function orderAfter<O extends OrderView & { readonly version: number }>(o: O, c: OrderChange): O {
  const id = c.identification;
  const { certSerial: _old, ...withoutCert } = o;
  const base = (c.certSerial === null ? withoutCert : o) as O;
  return {
    ...base,
    state: c.to,
    version: c.expectedVersion + 1,
    ...(typeof c.certSerial === "string" ? { certSerial: c.certSerial } : {}),
    ...(id && id.kind !== "hand-out"
      ? {
          identifications: [
            ...o.identifications,
            {
              officerId: id.officerId,
              ...(id.humanId ? { humanId: id.humanId } : {}),
              at: id.at,
              document: id.document,
              faceCompared: id.faceCompared,
              ...(id.kind === "eid" ? { byEid: true } : {}),
            },
          ],
        }
      : {}),
    ...(c.actor ? { actors: [...(o.actors ?? []), c.actor] } : {}),
    ...(c.termsVersion !== undefined ? { termsVersion: c.termsVersion } : {}),
    ...(c.handedOutAt !== undefined ? { handedOutAt: c.handedOutAt } : {}),
    ...(c.approvedAt !== undefined ? { approvedAt: c.approvedAt } : {}),
    ...(c.activationCodeHash !== undefined ? { activationCodeHash: c.activationCodeHash } : {}),
    ...(c.stateSince !== undefined ? { stateSince: c.stateSince } : {}),
  };
}

/** What a notification carries; all but `notice` are secrets, wiped from the outbox once delivered (REQ-15). */
export type NotificationKind = "terms-link" | "activation-code" | "initial-pin" | "unblock-pin" | "notice";

/** A message to a person through a channel other than the card (email, SMS, letter): the outbox. */
export interface Notification {
  readonly id: string;
  readonly personId: string;
  readonly channel: Channel;
  readonly kind: NotificationKind;
  /** A token, code or PIN: the text is removed from the outbox once delivered. */
  readonly secret: boolean;
  readonly subject: string;
  readonly body: string;
  readonly at: Date;
}

export interface NewOrder {
  readonly id: string;
  readonly organisationId: string;
  readonly applicantId: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  readonly purpose: "holder" | "officer";
  readonly profileId: string;
  readonly at: Date;
  readonly register: { readonly ok: boolean; readonly status: string; readonly source: string };
  readonly renewalOf?: string;
  readonly applicantTokenHash: string;
  /**
   * REQ-07: the name the register answered, recorded with the order (sealed at rest, REQ-29); the certificate's name.
   */
  readonly registeredName: RegisteredName;
  /** Who requested the order (REQ-10: recorded as the step "request"). */
  readonly requestedBy?: OrderActor;
}

/** The RA's store port (implemented in store/): orders with optimistic locking, audit in the same transaction. */
export interface OrderStore {
  load(orderId: string): Promise<(OrderView & { readonly version: number; readonly workflowId: string }) | undefined>;
  /** False when another change won the race (the version moved on). */
  apply(change: OrderChange, audit: AuditEvent): Promise<boolean>;
  create(order: NewOrder, audit: AuditEvent, notification: Notification): Promise<void>;
  /** Orders in HANDED_OUT whose hand-out lies before `before` (candidates for expiry). */
  handedOutBefore(workflowId: string, before: Date, limit: number): Promise<string[]>;
  /** Orders in `state` since before `before` (REQ-15 deadlines; the production saga's recovery), oldest first. */
  inStateSince(state: OrderState, before: Date, limit: number, workflowId?: string): Promise<string[]>;
  /**
   * Card certificates (of these profiles) that are good or on hold while no order in
   * PRODUCING/PRODUCED/HANDED_OUT/ACTIVE names them and no officer holds them as credential.
   */
  orphanCertificates(
    profiles: readonly string[],
    window: { createdAfter?: Date; createdBefore: Date },
    limit: number,
  ): Promise<{ serial: string; orderId?: string; orderState?: OrderState; workflowId?: string }[]>;
  /** Orders that expired while their certificate is still good or only on hold: repair list. */
  expiredWithLiveCertificate(limit: number): Promise<{ orderId: string; serial: string; workflowId: string }[]>;
  /** Certificates of a person (cards and officer credentials) that are good or on hold (REQ-21 unbinding). */
  liveCertificatesOf(personId: string): Promise<string[]>;
  /** Orders not yet finished (before ACTIVE/REJECTED/CANCELLED/EXPIRED), of one organisation or all, newest first. */
  listOpen(
    organisationId: string | undefined,
    limit: number,
  ): Promise<(OrderView & { readonly version: number; readonly workflowId: string })[]>;
  /**
   * REQ-07: the registered name recorded when the order was created (undefined for orders from before it was recorded).
   */
  registeredName(orderId: string): Promise<RegisteredName | undefined>;
  /** The order a card certificate was issued for. */
  byCertificate(serial: string): Promise<(OrderView & { readonly workflowId: string }) | undefined>;
}

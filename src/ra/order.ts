import type { AuditEvent } from "../ca/ports.js";
import type { OrderState } from "../policy/workflow.js";

export type Role = "ra-officer" | "ra-admin" | "auditor" | "ca-operator" | "service-owner-staff";

/** Who acts: identity only ever from a verified client certificate (REQ-22), resolved by the caller. */
export interface Actor {
  readonly kind: "officer" | "applicant" | "holder" | "system";
  /** The person behind the actor (officer or applicant), for not-own-order. */
  readonly personId?: string;
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
  readonly officerId: string;
  readonly at: Date;
  readonly document: IdentityDocument;
  readonly faceCompared: boolean;
}

/** What the engine needs to know about an order to decide a transition. */
export interface OrderView {
  readonly id: string;
  readonly organisationId: string;
  readonly applicantPersonId: string;
  readonly state: OrderState;
  readonly identifications: readonly Identification[];
  readonly termsVersion?: string;
  readonly registerCheck?: { readonly ok: boolean; readonly at: Date };
  readonly handedOutAt?: Date;
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
}

/** An order change the store applies only if the order is still at `expectedVersion`. */
export interface OrderChange {
  readonly orderId: string;
  readonly expectedVersion: number;
  readonly to: OrderView["state"];
  readonly at: Date;
  readonly termsVersion?: string;
  readonly handedOutAt?: Date;
  readonly identification?: Identification & { readonly kind: "identify" | "hand-out" };
}

/** The RA's store port (implemented in store/): orders with optimistic locking, audit in the same transaction. */
export interface OrderStore {
  load(orderId: string): Promise<(OrderView & { readonly version: number; readonly workflowId: string }) | undefined>;
  /** False when another change won the race (the version moved on). */
  apply(change: OrderChange, audit: AuditEvent): Promise<boolean>;
}

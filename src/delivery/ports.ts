/**
 * Delivery of the outbox (REQ-15): the ports the worker needs. Concrete channels (SMTP, SMS
 * gateway, print file), the queue (the database) and the recipients (the RA's directory) are
 * wired in composition/.
 */

/** The channels a message can travel by; `in-person` is never a delivery channel. */
export type DeliveryChannelName = "email" | "sms" | "mail";
export const DELIVERY_CHANNELS: readonly DeliveryChannelName[] = ["email", "sms", "mail"];

export type NotificationKind = "terms-link" | "activation-code" | "initial-pin" | "unblock-pin" | "notice";

/**
 * pending (never tried) → delivered | retrying (tried, tried again at nextAttemptAt) | dead (given up: an officer may
 * retry it).
 */
export type DeliveryState = "pending" | "retrying" | "delivered" | "dead";

/** A row the worker claimed: it alone sends it until the claim's lease runs out. */
export interface ClaimedNotification {
  readonly id: string;
  readonly personId: string;
  readonly channel: DeliveryChannelName;
  readonly kind: NotificationKind;
  readonly secret: boolean;
  readonly subject: string;
  readonly body: string;
  readonly createdAt: Date;
  /** Including this one. */
  readonly attempts: number;
}

/** Where a message goes: resolved at send time from the person record (REQ-29: sealed there). */
export interface Recipient {
  readonly name: string;
  /** E-mail address, E.164 phone number or postal address (lines separated by \n), by channel. */
  readonly address: string;
  /** The language the message is written in (en, sv, da; else English). */
  readonly language?: string;
  /** The name of the recipient's organisation (the messages say who ordered the card). */
  readonly organisation?: string;
}

/** What a channel sends. `id` is the idempotency key (SMTP Message-ID, the gateway's Idempotency-Key). */
export interface OutgoingMessage {
  readonly id: string;
  readonly kind: NotificationKind;
  readonly to: Recipient;
  readonly subject: string;
  readonly body: string;
  readonly createdAt: Date;
  /** The language subject and body are written in (a letter's fixed lines follow it). */
  readonly language?: string;
}

/** A channel's refusal. `permanent`: trying again cannot help (a 4xx from the gateway, a rejected address). */
export class DeliveryFailure extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = "DeliveryFailure";
  }
}

export interface DeliveryChannel {
  readonly name: DeliveryChannelName;
  /** Where it delivers, for logs and health (no credentials). */
  readonly description: string;
  /** Resolves once the peer accepted the message; throws DeliveryFailure (anything else counts as transient). */
  send(m: OutgoingMessage): Promise<void>;
  close?(): Promise<void>;
}

export interface Recipients {
  /** Undefined when the person has no address for this channel (or is unknown). */
  address(personId: string, channel: DeliveryChannelName): Promise<Recipient | undefined>;
}

export type DeliveryOutcome =
  | { readonly kind: "delivered"; readonly at: Date }
  | { readonly kind: "retry"; readonly at: Date; readonly nextAttemptAt: Date; readonly error: string }
  | { readonly kind: "dead"; readonly at: Date; readonly error: string };

/** The outbox as a work queue (store port). */
export interface DeliveryQueue {
  /**
   * Claims up to `limit` rows due at `now` on the given channels (pending or retrying, next attempt
   * due, no live claim) for `lease` ms under `worker`, counting the attempt. Two workers never get the same row.
   */
  claim(o: {
    readonly now: Date;
    readonly channels: readonly DeliveryChannelName[];
    readonly limit: number;
    readonly leaseMs: number;
    readonly worker: string;
  }): Promise<ClaimedNotification[]>;
  /**
   * Records the outcome if `worker` still holds the claim (false otherwise: another worker took it
   * over after the lease ran out). Delivered secrets lose their text (REQ-15). `auditId`: the audit event's id.
   */
  record(n: ClaimedNotification, worker: string, outcome: DeliveryOutcome, auditId: string): Promise<boolean>;
}

import type { KeyAlgorithm, ManagementKeyAlgorithm, Slot } from "./piv-card.js";

/** How a card is personalised, from the LoA workflow's `card` block (policy data, REQ-13..16). */
export interface CardPolicy {
  readonly slot: Slot;
  readonly algorithm: KeyAlgorithm;
  readonly managementKey: ManagementKeyAlgorithm;
  /**
   * random: the holder's PIN, sent through another channel (LoA2); transport: a PIN the holder replaces at activation
   * (LoA3).
   */
  readonly pin: "random" | "transport";
  readonly pinLength: number;
  readonly pukLength: number;
  readonly pinChannel: "mail" | "sms" | "email";
}

/**
 * What the card comes with from the vendor (SP 800-73-4 leaves them to the issuer; PIV tokens ship with well-known
 * ones).
 */
export interface FactoryCredentials {
  readonly pin: string;
  readonly puk: string;
  readonly managementKey: Uint8Array;
  readonly managementKeyAlgorithm: ManagementKeyAlgorithm;
}

/**
 * A key the card writer generated on a card: its SPKI, the card, and the card's PIV attestation (DER) when the card has
 * one (REQ-14).
 */
export interface CardKey {
  readonly spki: Uint8Array;
  readonly cardSerial: string;
  readonly attestation?: { readonly certificate: Uint8Array; readonly intermediate: Uint8Array };
}

/** An order in production, as the card writer needs it. */
export interface ProductionOrder {
  readonly orderId: string;
  readonly holderPersonId: string;
  readonly loa: number;
  readonly policy: CardPolicy;
  /** For a renewal on the same card: the certificate the new one replaces. */
  readonly replaces?: string;
}

/** The card writer's port to the RA and CA (implemented in composition/). */
export interface CardProduction {
  /** The order, which must be in production; refused otherwise. */
  order(orderId: string): Promise<ProductionOrder>;
  /**
   * REQ-14: the certificate for the key generated on the card, with the card's attestation where it has one; moves the
   * order to PRODUCED.
   */
  produce(orderId: string, key: CardKey): Promise<{ serial: string; der: Uint8Array }>;
  /** A job that failed after issuance: revoke the certificate, the order goes back to production. */
  undo(orderId: string, serial: string, why: string): Promise<void>;
  /** Revoke a certificate the card no longer carries (renewal, retirement). */
  revoke(serial: string, reason: string): Promise<void>;
}

export type CardState = "personalising" | "personalised" | "failed" | "retired" | "lost";

export interface CardRecord {
  readonly id: string;
  readonly cardSerial: string;
  readonly atr: string;
  readonly orderId: string;
  readonly holderPersonId: string;
  readonly state: CardState;
  readonly slot?: Slot;
  readonly algorithm?: KeyAlgorithm;
  readonly certSerial?: string;
  readonly managementKeyAlgorithm?: ManagementKeyAlgorithm;
  /** Sealed (encrypted) management keys: the one on the card, and one being set (crash between the two). */
  readonly managementKeySealed?: string;
  readonly managementKeyNextSealed?: string;
  readonly pukSealed?: string;
  readonly pinState?: "transport" | "delivered" | "holder-set" | "reset";
  readonly roundTrips?: number;
  readonly error?: string;
}

export interface CardAuditEvent {
  readonly id: string;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly objectType: "card";
  readonly objectId: string;
  readonly outcome: "success" | "failure";
  readonly details?: Record<string, unknown>;
}

/** A PIN or code for the holder through a channel other than the card (REQ-15). */
export interface HolderLetter {
  readonly id: string;
  readonly personId: string;
  readonly channel: "mail" | "sms" | "email";
  readonly kind: "initial-pin" | "unblock-pin";
  /** Always: a PIN is wiped from the outbox once delivered (REQ-15). */
  readonly secret: true;
  readonly subject: string;
  readonly body: string;
  readonly at: Date;
}

/** The record of every card written (store port); each change with its audit event. */
export interface CardLedger {
  byCardSerial(cardSerial: string): Promise<CardRecord | undefined>;
  byOrder(orderId: string): Promise<CardRecord | undefined>;
  save(card: CardRecord, audit: CardAuditEvent, letter?: HolderLetter): Promise<void>;
}

/**
 * Encrypts card secrets at rest (management key, PUK): never stored in clear. `context` binds a value to its card and
 * field.
 */
export interface SecretSealer {
  seal(plain: Uint8Array, context: string): string;
  open(sealed: string, context: string): Uint8Array;
}

import type { LogonNames } from "./logon-name.js";
import type { AuditEvent, OrderChange } from "./order.js";

/** An order change the CA writes in the same transaction as its own record (the production saga, REQ-14/16). */
export interface LinkedOrderChange {
  readonly change: OrderChange;
  readonly audit: AuditEvent;
}

/**
 * The order's side of each step of a card certificate's record, written in the same
 * transaction: serial reserved (order → PRODUCING with the serial), certificate stored (order →
 * PRODUCED), signing failed (order back to IN_PRODUCTION).
 */
export interface ProductionLink {
  reserved(serial: string): LinkedOrderChange;
  /** `facts.emailSanOmitted`: the CA left the e-mail out (outside the validated domains, REQ-01). */
  issued(serial: string, facts?: { readonly emailSanOmitted?: boolean }): LinkedOrderChange;
  failed(serial: string): LinkedOrderChange;
}

export interface CardCertificateRequest {
  readonly profileId: string;
  readonly publicKey: Uint8Array;
  readonly subject: {
    readonly CN: string;
    readonly GN?: string;
    readonly SN?: string;
    readonly O: string;
    readonly organizationIdentifier: string;
    readonly C: string;
    readonly serialNumber?: string;
  };
  readonly email?: string;
  /** REQ-01: the domains the subject's organisation validated; the profile omits or refuses an e-mail outside them. */
  readonly validatedEmailDomains?: readonly string[];
  /**
   * UPN / id-pkinit-san the profile asks for, from the holder's e-mail in the validated domain
   * (src/ra/logon-name.ts).
   */
  readonly logonNames?: LogonNames;
  readonly requestedBy: string;
  /** REQ-16: the certificate is stored already on hold (certificateHold, cause activation). */
  readonly onHoldUntilActivation?: boolean;
}

/** What the RA needs from the CA: a narrow port (design.md), implemented in composition/. */
export interface CardCertificates {
  /**
   * Issues a certificate for a public key generated on the card (REQ-14) from the order's profile;
   * with `link`, each record of the serial is written together with the order's change. Returns
   * the DER: nothing reads the certificate back from the store.
   */
  issue(
    req: CardCertificateRequest,
    link?: ProductionLink,
  ): Promise<{
    readonly serial: string;
    readonly notAfter: Date;
    readonly der: Uint8Array;
    readonly omittedEmails?: readonly string[];
  }>;
  /**
   * Revokes; a certificate already revoked for good is left as it is (idempotent repair). With
   * `link` the order's change goes in the same transaction (also when there was nothing to revoke);
   * false when the order had changed (nothing written).
   */
  revoke(serial: string, reason: string, actor: string, link?: LinkedOrderChange): Promise<boolean>;
  suspend(serial: string, actor: string): Promise<void>;
  resume(serial: string, actor: string): Promise<void>;
  /**
   * REQ-16: lifts the hold the certificate was issued with, with the order's activation; false when the order had
   * changed.
   */
  release(serial: string, actor: string, link: LinkedOrderChange): Promise<boolean>;
  /**
   * Compensation of a production that did not complete: a serial still reserved (perhaps signed)
   * is published as revoked, an issued one revoked (superseded), with the order's change; false
   * when the order had changed.
   */
  abandon(serial: string, actor: string, link: LinkedOrderChange | undefined): Promise<boolean>;
  /** What the CA knows of a certificate it issued; undefined for a serial it never issued. */
  status(serial: string): Promise<CertificateStatus | undefined>;
}

export interface CertificateStatus {
  readonly serial: string;
  readonly issuerId: string;
  readonly profileId: string;
  readonly status: "good" | "revoked" | "on-hold";
  /** Why it is on hold (REQ-16: "activation" = issued on hold and not yet activated). */
  readonly holdCause?: "activation" | "request" | "activation+request";
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly der: Uint8Array | undefined;
  /** The certified key (DER SubjectPublicKeyInfo), read from `der` by the CA side. */
  readonly spki: Uint8Array | undefined;
}

export type RegisterStatus = "alive" | "deceased" | "missing" | "incapacitated" | "not-found";

/** REQ-07: the person's name as the authoritative register holds it; the certificate's name comes from here. */
export interface RegisteredName {
  /** The whole name as registered (the certificate's CN). */
  readonly fullName: string;
  readonly givenName?: string;
  readonly surname?: string;
}

/** REQ-07: the authoritative population register, an external system behind an adapter. */
export interface PopulationRegister {
  readonly source: string;
  lookup(nationalId: string): Promise<{ readonly status: RegisterStatus; readonly name?: RegisteredName }>;
}

/** REQ-05: a register of identity documents reported lost or stolen (police, passport authority), behind an adapter. */
export interface DocumentRegister {
  readonly source: string;
  lookup(document: {
    readonly type: string;
    readonly number: string;
  }): Promise<{ readonly reported: false } | { readonly reported: true; readonly reason: string }>;
}

/**
 * REQ-14: a PIV attestation as the card gave it (DER): the slot's attestation certificate and the card's f9
 * certificate.
 */
export interface KeyAttestation {
  readonly certificate: Uint8Array;
  readonly intermediate: Uint8Array;
}

/** What a PIV attestation proves once its chain to a configured card-maker root held. */
export interface AttestedKey {
  readonly slot: string;
  readonly cardSerial: string;
  readonly pinPolicy: string;
  readonly touchPolicy: string;
  readonly firmware?: string;
  readonly formFactor?: number;
  readonly spki: Uint8Array;
  readonly certificateSha256: string;
  readonly intermediateSha256: string;
  readonly intermediateSubject: string;
  readonly root: { readonly set: string; readonly subject: string; readonly sha256: string };
}

/**
 * REQ-14: checks an attestation's chain against the workflow's root sets (an adapter over the PIV attestation format).
 */
export interface KeyAttestationVerifier {
  /** The attested facts; throws `policy-violation` naming what did not hold. */
  verify(attestation: KeyAttestation, rootSets: readonly string[], now: Date): Promise<AttestedKey>;
}

/** The card the card station recorded for an order (the card ledger), as production needs it. */
export interface ProductionCard {
  readonly cardSerial: string;
  readonly state: string;
  /** The station set a fresh per-card management key and recorded it (sealed) before generating the key. */
  readonly managementKeyRecorded: boolean;
}

export interface ProductionCards {
  cardForOrder(orderId: string): Promise<ProductionCard | undefined>;
}

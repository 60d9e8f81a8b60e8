import type { KeyType } from "../asn1/oids.js";

/** A private key that signs, wherever it lives (HSM in production, software in unit tests). */
export interface KeySigner {
  readonly keyType: KeyType;
  /** SubjectPublicKeyInfo DER of the signing key. */
  readonly spki: Uint8Array;
  /** AlgorithmIdentifier DER put in tbs.signature and signatureAlgorithm (RFC 5280 4.1.1.2). */
  readonly algorithmDer: Uint8Array;
  readonly algorithmOid: string;
  /** Signs data; returns the X.509 signatureValue bytes (DER Ecdsa-Sig-Value for ECDSA). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** One audit fact, written by the store in the same transaction as the change (design: no audit, no change). */
export interface AuditEvent {
  readonly id: string;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly outcome: "success" | "failure";
  readonly details?: Record<string, unknown>;
}

export interface Reservation {
  readonly serial: string; // lower-case hex, minimal
  readonly issuerId: string;
  readonly profileId: string;
  readonly profileVersion: number;
  readonly subjectDn: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly tbs: Uint8Array;
  readonly requestedBy: string;
}

export type CertStatus = "reserved" | "issued" | "failed" | "unfinished";

export interface CertRecord {
  readonly serial: string;
  readonly issuerId: string;
  readonly profileId: string;
  readonly profileVersion: number;
  readonly status: CertStatus;
  readonly subjectDn: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly der: Uint8Array | undefined;
  readonly revokedAt: Date | undefined;
  readonly revocationReason: string | undefined;
  readonly createdAt: Date;
}

/** Durable record of every serial, written before and after signing (design: record serial + TBS before signing). */
export interface CertStore {
  /** Records serial + TBS; rejects a serial seen before with CaError "conflict". */
  reserve(r: Reservation, audit: AuditEvent): Promise<void>;
  /** Stores the signed certificate: only after this is it returned to anyone. */
  complete(serial: string, der: Uint8Array, audit: AuditEvent): Promise<void>;
  /** Signing failed with no signature produced: the serial stays burnt, never reused. */
  fail(serial: string, audit: AuditEvent): Promise<void>;
  get(serial: string): Promise<CertRecord | undefined>;
  /**
   * After a crash: every serial still "reserved" may have been signed, so it becomes
   * "unfinished" and is published as revoked (design: signed but not stored → revoked).
   */
  recoverUnfinished(at: Date, audit: (serial: string) => AuditEvent): Promise<string[]>;
  /** Every revoked serial of an issuer (for its CRL), oldest first. */
  listRevoked(issuerId: string): Promise<{ serial: string; revokedAt: Date; reason: string | undefined }[]>;
}

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
  /** The organisation the action concerns (REQ-27). */
  readonly organisationId?: string;
  /** The policy it was taken under: profile, workflow or ceremony id@version (REQ-31). */
  readonly policy?: string;
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

/**
 * Why a certificate is on hold (certificateHold on OCSP and CRL either way): placed at issuance
 * until the holder activates the card (REQ-16), placed on request (holder, officer, operator),
 * or both (a card suspended on request before it was activated: lifting the request leaves it
 * awaiting activation).
 */
export type HoldCause = "activation" | "request" | "activation+request";

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
  /** Set while on hold (undefined for holds recorded before causes were: treated as "request"). */
  readonly holdCause?: HoldCause | undefined;
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

export type RevocationKind = "revoke" | "hold" | "resume" | "unfinished";

export interface RevocationEvent {
  readonly seq: number;
  readonly issuerId: string;
  readonly serial: string;
  readonly kind: RevocationKind;
  readonly reason: string | undefined;
  readonly at: Date;
  readonly invalidityDate: Date | undefined;
}

/** A change of revocation state, applied only if the certificate is still in the state the caller saw. */
export interface RevocationChange {
  readonly serial: string;
  readonly issuerId: string;
  readonly kind: Exclude<RevocationKind, "unfinished">;
  /** New state: revokedAt/reason undefined for resume. */
  readonly revokedAt: Date | undefined;
  readonly reason: string | undefined;
  readonly invalidityDate: Date | undefined;
  readonly at: Date;
  readonly actor: string;
  /** Optimistic lock: the reason the caller read (undefined = not revoked). */
  readonly expectedReason: string | undefined;
  /** New hold cause (null/undefined when not on hold afterwards). */
  readonly holdCause?: HoldCause | null;
  /** Optimistic lock on the cause too, when the caller read one (a change of cause keeps the reason). */
  readonly expectedHoldCause?: HoldCause | null;
}

export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: string | undefined;
  readonly invalidityDate: Date | undefined;
}

export interface StoredCrl {
  readonly issuerId: string;
  readonly number: bigint;
  readonly kind: "full" | "delta";
  readonly baseNumber: bigint | undefined;
  readonly lastEventSeq: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly entries: number;
  readonly der: Uint8Array;
}

/** Revocation state, events and CRLs (RFC 5280 5, RFC 6960). */
export interface RevocationStore {
  /** Applies the change with its audit event in one transaction; false if the state changed meanwhile. */
  apply(change: RevocationChange, audit: AuditEvent): Promise<boolean>;
  eventsSince(seq: number, issuerId?: string): Promise<RevocationEvent[]>;
  lastEventSeq(): Promise<number>;
  /** Revoked or on-hold serials of an issuer whose certificate expired after `expiredAfter`, streamed in batches. */
  revokedEntries(issuerId: string, expiredAfter: Date): AsyncIterable<readonly RevokedEntry[]>;
  /** Durably draws the issuer's next CRL number (RFC 5280 5.2.3: strictly increasing; gaps allowed). */
  nextCrlNumber(issuerId: string): Promise<bigint>;
  saveCrl(crl: StoredCrl, audit: AuditEvent): Promise<void>;
  latestCrl(issuerId: string, kind: "full" | "delta"): Promise<StoredCrl | undefined>;
  /** Light status of one serial for OCSP (no certificate bytes). */
  statusOf(serial: string): Promise<SerialStatus | undefined>;
  /** Statuses of an issuer's certificates still valid after `notExpiredAfter`, streamed (OCSP pre-signing). */
  statuses(issuerId: string, notExpiredAfter: Date): AsyncIterable<SerialStatus>;
}

export interface SerialStatus {
  readonly serial: string;
  readonly issuerId: string;
  readonly status: CertStatus;
  readonly revokedAt: Date | undefined;
  readonly reason: string | undefined;
}

/** A serial's reservation as recorded before signing (the CA signer checks a TBS against it). */
export interface ReservationRecord {
  readonly serial: string;
  readonly issuerId: string;
  readonly profileId: string;
  readonly profileVersion: number;
  readonly status: CertStatus;
  readonly tbs: Uint8Array;
}

export interface ReservationReader {
  reservation(serial: string): Promise<ReservationRecord | undefined>;
}

/** One pre-produced OCSP response (RFC 5019 2.1.1: SHA-1 CertID, no nonce) of one certificate. */
export interface StoredOcspResponse {
  readonly issuerId: string;
  readonly serial: string;
  readonly status: "good" | "revoked" | "unknown";
  readonly revokedAt: Date | undefined;
  readonly reason: string | undefined;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** When the sweep re-signs it (before nextUpdate, spread over time). */
  readonly refreshAt: Date;
  readonly der: Uint8Array;
}

/** A certificate's state as the OCSP producer signs it (with its expiry: expired ones are not re-signed). */
export interface OcspSubject extends SerialStatus {
  readonly notAfter: Date;
}

/**
 * Pre-produced OCSP responses outside the heap: the CA signer role writes them, public replicas
 * only read them (design: signing proportional to change, not to population).
 */
export interface OcspResponseStore {
  get(issuerId: string, serial: string): Promise<StoredOcspResponse | undefined>;
  /** Inserts or replaces, in bounded multi-row statements. */
  put(rows: readonly StoredOcspResponse[]): Promise<void>;
  remove(issuerId: string, serials: readonly string[]): Promise<void>;
  /** Rows whose refreshAt has come, oldest first, at most `limit` (indexed: never a scan of the population). */
  due(now: Date, limit: number): Promise<{ issuerId: string; serial: string }[]>;
  /**
   * One page of `limit` certificates of an issuer by serial after `after`: those valid after
   * `notExpiredAfter` without a stored response, and the cursor of the next page (undefined: done).
   */
  missing(
    issuerId: string,
    notExpiredAfter: Date,
    after: string,
    limit: number,
  ): Promise<{ subjects: OcspSubject[]; next: string | undefined }>;
  /** Current state of these serials (unknown serials are absent). */
  subjects(serials: readonly string[]): Promise<OcspSubject[]>;
}

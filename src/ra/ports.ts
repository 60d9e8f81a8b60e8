/** What the RA needs from the CA: a narrow port (design.md), implemented in composition/. */
export interface CardCertificates {
  /** Issues a certificate for a public key generated on the card (REQ-14) from the order's profile. */
  issue(req: {
    readonly profileId: string;
    readonly publicKey: Uint8Array;
    readonly subject: { readonly CN: string; readonly GN?: string; readonly SN?: string; readonly O: string; readonly organizationIdentifier: string; readonly C: string; readonly serialNumber?: string };
    readonly email?: string;
    /** REQ-01: the domains the subject's organisation validated; the profile omits or refuses an e-mail outside them. */
    readonly validatedEmailDomains?: readonly string[];
    readonly requestedBy: string;
  }): Promise<{ readonly serial: string; readonly notAfter: Date; readonly omittedEmails?: readonly string[] }>;
  /** Revokes; a certificate already revoked for good is left as it is (idempotent repair). */
  revoke(serial: string, reason: string, actor: string): Promise<void>;
  suspend(serial: string, actor: string): Promise<void>;
  resume(serial: string, actor: string): Promise<void>;
  /** What the CA knows of a certificate it issued; undefined for a serial it never issued. */
  status(serial: string): Promise<CertificateStatus | undefined>;
}

export interface CertificateStatus {
  readonly serial: string;
  readonly issuerId: string;
  readonly profileId: string;
  readonly status: "good" | "revoked" | "on-hold";
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly der: Uint8Array | undefined;
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
  lookup(document: { readonly type: string; readonly number: string }): Promise<{ readonly reported: false } | { readonly reported: true; readonly reason: string }>;
}

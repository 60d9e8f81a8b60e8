import type { AuditEvent } from "../ca/ports.js";
import type { Role } from "./order.js";

export interface Organisation {
  readonly id: string;
  readonly orgNumber: string;
  readonly name: string;
  readonly country: string;
  readonly registrationCertificate?: string;
  readonly domain?: string;
  readonly domainValidatedAt?: Date;
  readonly status: "pending" | "active" | "ceased";
  /** REQ-23: optional CIDR allow-list for RA API calls made on behalf of this organisation. */
  readonly ipAllowList?: readonly string[];
  /** The service owner's own organisation (its staff serve new organisations, REQ-02). */
  readonly serviceOwner: boolean;
}

export interface Person {
  readonly id: string;
  readonly organisationId: string;
  /** Keyed hash of the national ID number; the number itself is never stored (REQ-28). */
  readonly nationalIdHash: string;
  readonly name: string;
  readonly email?: string;
  /** E.164 (+46701234567): where SMS go (REQ-15). */
  readonly phone?: string;
  /** Lines separated by \n: where letters go (REQ-15). */
  readonly postalAddress?: string;
  readonly boundBy?: string;
  readonly unboundAt?: Date;
  /** The language notifications are written in (en, sv, da); absent: the organisation's country decides. */
  readonly language?: string;
  /** YYYY-MM-DD, from the national ID number at binding where its format says it (sealed, REQ-29). */
  readonly birthDate?: string;
  /**
   * The national ID number with its last four characters masked (19700303-****), for the identify screen (sealed,
   * REQ-29).
   */
  readonly nationalIdMasked?: string;
}

export interface Officer {
  readonly personId: string;
  readonly roles: readonly Role[];
  readonly qualification?: string;
  readonly qualifiedUntil?: Date;
  readonly serviceOwnerStaff: boolean;
}

/** The RA's directory of organisations, people, officers and officer credentials (store port). */
export interface DirectoryStore {
  organisation(id: string): Promise<Organisation | undefined>;
  organisationByNumber(orgNumber: string): Promise<Organisation | undefined>;
  /** Every organisation (the pickers of service-owner staff). */
  organisations(): Promise<Organisation[]>;
  /** Several people at once (names for a list: applicants, the officers who took an order's steps). */
  people(ids: readonly string[]): Promise<Person[]>;
  createOrganisation(o: Organisation, at: Date, audit: AuditEvent): Promise<void>;
  updateOrganisation(
    id: string,
    patch: Partial<
      Pick<Organisation, "registrationCertificate" | "domain" | "domainValidatedAt" | "status" | "ipAllowList">
    > & { domainValidationMethod?: string },
    audit: AuditEvent,
  ): Promise<void>;
  person(id: string): Promise<Person | undefined>;
  /** A person with the organisation they are bound to (one read). */
  personWithOrganisation(id: string): Promise<{ person: Person; organisation: Organisation } | undefined>;
  personByNationalId(organisationId: string, nationalIdHash: string): Promise<Person | undefined>;
  createPerson(p: Person, at: Date, audit: AuditEvent): Promise<void>;
  unbindPerson(id: string, by: string, at: Date, audit: AuditEvent): Promise<void>;
  officer(personId: string): Promise<Officer | undefined>;
  /**
   * REQ-10, REQ-24: the officer records of one human (keyed hash of the national ID) in every organisation they are
   * bound to.
   */
  officersOfHuman(humanId: string): Promise<{ officer: Officer; organisationId: string }[]>;
  saveOfficer(o: Officer, appointedBy: string, audit: AuditEvent): Promise<void>;
  /** The person an officer credential (client certificate serial) belongs to (REQ-22). */
  credentialOwner(serial: string): Promise<string | undefined>;
  addCredential(serial: string, personId: string, at: Date, audit: AuditEvent): Promise<void>;
}

import type { KeyType } from "../asn1/oids.js";

export type Presence = "required" | "optional";

export interface AttributeRule {
  readonly presence: Presence;
  /** ECMAScript regular expression the whole value must match. */
  readonly pattern?: string;
  /** Closed list of accepted values. */
  readonly allowed?: readonly string[];
  readonly maxLength?: number;
}

/**
 * REQ-01: where `outsideValidatedDomain` is set, an e-mail SAN goes into the certificate only
 * within a domain the subject's organisation validated (the domain or a subdomain of it); an
 * address outside is left out (`omit`) or refuses issuance (`refuse`).
 */
export interface EmailRule extends AttributeRule {
  readonly outsideValidatedDomain?: "omit" | "refuse";
}

/**
 * A Kerberos or Windows logon name in the SAN (UPN otherName, id-pkinit-san). `from: validated-email`: the RA writes
 * it from the holder's e-mail address when that is in the organisation's validated domain (REQ-01), lower-case:
 * UPN `local@domain`, principal `local@DOMAIN` (the domain in upper case, RFC 4120 6.1 domain-style realm); never
 * a name an officer types.
 */
export interface LogonNameRule extends AttributeRule {
  readonly from?: "validated-email";
}

/** A certificate profile, loaded from `policies/profiles/*.yaml` and frozen. */
export interface CertificateProfile {
  readonly id: string;
  readonly version: number;
  readonly description: string;
  /** CP/CPS sections the profile implements. */
  readonly cps: readonly string[];
  /** Who may request it: end-entity (RA), infrastructure (operator CLI), ca (ceremony only). */
  readonly kind: "end-entity" | "infrastructure" | "ca";
  readonly loa?: 2 | 3;
  readonly keyTypes: readonly KeyType[];
  readonly validity: { readonly days: number; readonly backdateSeconds: number };
  /** Whether a PKCS#10 request may carry the public key. */
  readonly csr: "allowed" | "forbidden";
  readonly subject: Readonly<Record<string, AttributeRule>>;
  /** `krb5Principal`: otherName id-pkinit-san, a KRB5PrincipalName (RFC 4556 3.2.2), e.g. krbtgt/REALM@REALM. */
  readonly subjectAltName: {
    readonly email?: EmailRule;
    readonly upn?: LogonNameRule;
    readonly krb5Principal?: LogonNameRule;
  };
  readonly basicConstraints: { readonly ca: boolean; readonly pathLen?: number };
  readonly keyUsage: readonly string[];
  readonly extendedKeyUsage: readonly string[];
  readonly certificatePolicies: readonly string[];
  readonly authorityInfoAccess: { readonly ocsp: boolean; readonly caIssuers: boolean };
  readonly crlDistributionPoint: boolean;
  readonly ocspNoCheck: boolean;
}

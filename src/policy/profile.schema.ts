import { Type } from "@sinclair/typebox";
import { KEY_TYPES } from "../shared/key-type.js";
import { Closed, Enum } from "../shared/schema-types.js";

/** JSON Schema for `policies/profiles/*.yaml` (TypeBox; the types in certificate-profile.ts derive from it). */
const ATTRIBUTE_RULE = {
  presence: Enum(["required", "optional"] as const),
  // ECMAScript regular expression the whole value must match.
  pattern: Type.Optional(Type.String({ minLength: 1 })),
  // Closed list of accepted values.
  allowed: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
};
export const ATTRIBUTE_RULE_SCHEMA = Closed(ATTRIBUTE_RULE);

/**
 * REQ-01: an e-mail SAN only within a domain the subject's organisation validated (the domain or a subdomain of it).
 * Where the rule is set, an address outside those domains is left out of the certificate (omit) or stops
 * issuance (refuse).
 */
export const EMAIL_RULE_SCHEMA = Closed({
  ...ATTRIBUTE_RULE,
  outsideValidatedDomain: Type.Optional(Enum(["omit", "refuse"] as const)),
});

/**
 * A Kerberos or Windows logon name in the SAN (UPN otherName, id-pkinit-san). `from: validated-email`: the RA writes
 * it from the holder's e-mail address when that is in the organisation's validated domain (REQ-01), lower-case:
 * UPN `local@domain`, principal `local@DOMAIN` (the domain in upper case, RFC 4120 6.1 domain-style realm); never
 * a name an officer types.
 */
export const LOGON_NAME_RULE_SCHEMA = Closed({ ...ATTRIBUTE_RULE, from: Type.Optional(Enum(["validated-email"])) });

const rule = Type.Optional(ATTRIBUTE_RULE_SCHEMA);

export const PROFILE_SCHEMA = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{1,62}$" }),
    version: Type.Integer({ minimum: 1 }),
    description: Type.String({ minLength: 1 }),
    // CP/CPS sections the profile implements.
    cps: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    // Who may request it: end-entity (RA), infrastructure (operator CLI), ca (ceremony only).
    kind: Enum(["end-entity", "infrastructure", "ca"] as const),
    loa: Type.Optional(Enum([2, 3] as const)),
    keyTypes: Type.Array(Enum(KEY_TYPES), { minItems: 1, uniqueItems: true }),
    validity: Closed({
      days: Type.Integer({ minimum: 1, maximum: 9125 }),
      backdateSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400 })),
    }),
    // Whether a PKCS#10 request may carry the public key.
    csr: Type.Optional(Enum(["allowed", "forbidden"] as const)),
    subject: Closed(
      { CN: rule, serialNumber: rule, GN: rule, SN: rule, O: rule, OU: rule, organizationIdentifier: rule, C: rule },
      { minProperties: 1 },
    ),
    // `krb5Principal`: otherName id-pkinit-san, a KRB5PrincipalName (RFC 4556 3.2.2), e.g. krbtgt/REALM@REALM.
    subjectAltName: Type.Optional(
      Closed({
        email: Type.Optional(EMAIL_RULE_SCHEMA),
        upn: Type.Optional(LOGON_NAME_RULE_SCHEMA),
        krb5Principal: Type.Optional(LOGON_NAME_RULE_SCHEMA),
      }),
    ),
    basicConstraints: Closed({ ca: Type.Boolean(), pathLen: Type.Optional(Type.Integer({ minimum: 0, maximum: 8 })) }),
    keyUsage: Type.Array(
      Enum([
        "digitalSignature",
        "nonRepudiation",
        "keyEncipherment",
        "dataEncipherment",
        "keyAgreement",
        "keyCertSign",
        "cRLSign",
      ] as const),
      { minItems: 1, uniqueItems: true },
    ),
    extendedKeyUsage: Type.Optional(
      Type.Array(
        Enum(["serverAuth", "clientAuth", "emailProtection", "ocspSigning", "smartcardLogon", "pkinitKdc"] as const),
        { uniqueItems: true },
      ),
    ),
    certificatePolicies: Type.Array(Type.String({ pattern: "^[0-2](\\.(0|[1-9][0-9]*))+$" }), { uniqueItems: true }),
    authorityInfoAccess: Type.Optional(Closed({ ocsp: Type.Boolean(), caIssuers: Type.Boolean() })),
    crlDistributionPoint: Type.Optional(Type.Boolean()),
    ocspNoCheck: Type.Optional(Type.Boolean()),
  },
  { $id: "cardpki:certificate-profile", additionalProperties: false },
);

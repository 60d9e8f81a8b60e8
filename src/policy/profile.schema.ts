/** JSON Schema for `policies/profiles/*.yaml`: unknown keys are rejected everywhere. */
const attributeRule = {
  type: "object",
  additionalProperties: false,
  required: ["presence"],
  properties: {
    presence: { enum: ["required", "optional"] },
    pattern: { type: "string", minLength: 1 },
    allowed: { type: "array", items: { type: "string" }, minItems: 1 },
    maxLength: { type: "integer", minimum: 1, maximum: 1024 },
  },
} as const;

/**
 * REQ-01: an e-mail SAN only within a domain the subject's organisation validated. Where the rule
 * is set, an address outside those domains is left out of the certificate (omit) or stops
 * issuance (refuse).
 */
const emailRule = {
  ...attributeRule,
  properties: { ...attributeRule.properties, outsideValidatedDomain: { enum: ["omit", "refuse"] } },
} as const;

/** A logon name (UPN, id-pkinit-san): `from` names where the RA takes it (src/policy/certificate-profile.ts). */
const logonNameRule = {
  ...attributeRule,
  properties: { ...attributeRule.properties, from: { enum: ["validated-email"] } },
} as const;

export const PROFILE_SCHEMA = {
  $id: "cardpki:certificate-profile",
  type: "object",
  additionalProperties: false,
  required: [
    "id",
    "version",
    "description",
    "cps",
    "kind",
    "keyTypes",
    "validity",
    "subject",
    "basicConstraints",
    "keyUsage",
    "certificatePolicies",
  ],
  properties: {
    id: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{1,62}$" },
    version: { type: "integer", minimum: 1 },
    description: { type: "string", minLength: 1 },
    cps: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
    kind: { enum: ["end-entity", "infrastructure", "ca"] },
    loa: { enum: [2, 3] },
    keyTypes: {
      type: "array",
      items: { enum: ["P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096"] },
      minItems: 1,
      uniqueItems: true,
    },
    validity: {
      type: "object",
      additionalProperties: false,
      required: ["days"],
      properties: {
        days: { type: "integer", minimum: 1, maximum: 9125 },
        backdateSeconds: { type: "integer", minimum: 0, maximum: 86400 },
      },
    },
    csr: { enum: ["allowed", "forbidden"] },
    subject: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      properties: {
        CN: attributeRule,
        serialNumber: attributeRule,
        GN: attributeRule,
        SN: attributeRule,
        O: attributeRule,
        OU: attributeRule,
        organizationIdentifier: attributeRule,
        C: attributeRule,
      },
    },
    subjectAltName: {
      type: "object",
      additionalProperties: false,
      properties: { email: emailRule, upn: logonNameRule, krb5Principal: logonNameRule },
    },
    basicConstraints: {
      type: "object",
      additionalProperties: false,
      required: ["ca"],
      properties: { ca: { type: "boolean" }, pathLen: { type: "integer", minimum: 0, maximum: 8 } },
    },
    keyUsage: {
      type: "array",
      minItems: 1,
      uniqueItems: true,
      items: {
        enum: [
          "digitalSignature",
          "nonRepudiation",
          "keyEncipherment",
          "dataEncipherment",
          "keyAgreement",
          "keyCertSign",
          "cRLSign",
        ],
      },
    },
    extendedKeyUsage: {
      type: "array",
      uniqueItems: true,
      items: { enum: ["serverAuth", "clientAuth", "emailProtection", "ocspSigning", "smartcardLogon", "pkinitKdc"] },
    },
    certificatePolicies: {
      type: "array",
      uniqueItems: true,
      items: { type: "string", pattern: "^[0-2](\\.(0|[1-9][0-9]*))+$" },
    },
    authorityInfoAccess: {
      type: "object",
      additionalProperties: false,
      required: ["ocsp", "caIssuers"],
      properties: { ocsp: { type: "boolean" }, caIssuers: { type: "boolean" } },
    },
    crlDistributionPoint: { type: "boolean" },
    ocspNoCheck: { type: "boolean" },
  },
} as const;

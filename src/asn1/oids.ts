/** Object identifiers used by cardpki, each with the document that assigns it. */
export const OID = {
  // RFC 5280 4.1.2.4 / X.520 attribute types
  commonName: "2.5.4.3",
  serialNumber: "2.5.4.5",
  countryName: "2.5.4.6",
  organizationName: "2.5.4.10",
  organizationalUnitName: "2.5.4.11",
  givenName: "2.5.4.42",
  surname: "2.5.4.4",
  organizationIdentifier: "2.5.4.97", // X.520 (2012), ETSI EN 319 412-1 5.1.4
  // RFC 5280 4.2.1.12
  ekuServerAuth: "1.3.6.1.5.5.7.3.1",
  ekuClientAuth: "1.3.6.1.5.5.7.3.2",
  ekuEmailProtection: "1.3.6.1.5.5.7.3.4",
  ekuOcspSigning: "1.3.6.1.5.5.7.3.9",
  ekuSmartcardLogon: "1.3.6.1.4.1.311.20.2.2", // Microsoft smart card logon
  upn: "1.3.6.1.4.1.311.20.2.3", // Microsoft UPN otherName
  // RFC 4556 3.2.2: the KDC's certificate (EKU id-pkinit-KPKdc, otherName id-pkinit-san KRB5PrincipalName)
  ekuPkinitKdc: "1.3.6.1.5.2.3.5",
  pkinitSan: "1.3.6.1.5.2.2",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5", // RFC 6960 4.2.2.2.1
  adOcsp: "1.3.6.1.5.5.7.48.1",
  adCaIssuers: "1.3.6.1.5.5.7.48.2",
  anyPolicy: "2.5.29.32.0",
  // RFC 5280 4.2 extensions
  extSubjectKeyIdentifier: "2.5.29.14",
  extKeyUsage: "2.5.29.15",
  extSubjectAltName: "2.5.29.17",
  extBasicConstraints: "2.5.29.19",
  extCrlDistributionPoints: "2.5.29.31",
  extCertificatePolicies: "2.5.29.32",
  extAuthorityKeyIdentifier: "2.5.29.35",
  extExtKeyUsage: "2.5.29.37",
  extAuthorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  // Algorithms: RFC 5480, RFC 5758, RFC 4055
  ecPublicKey: "1.2.840.10045.2.1",
  secp256r1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
} as const;

/** Named extended key usages a profile may list (policy data uses the names). */
export const EKU_BY_NAME: Readonly<Record<string, string>> = {
  serverAuth: OID.ekuServerAuth,
  clientAuth: OID.ekuClientAuth,
  emailProtection: OID.ekuEmailProtection,
  ocspSigning: OID.ekuOcspSigning,
  smartcardLogon: OID.ekuSmartcardLogon,
  pkinitKdc: OID.ekuPkinitKdc,
};

/** Subject attributes a profile may allow, by their short names in policy data. */
export const SUBJECT_ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: OID.commonName,
  serialNumber: OID.serialNumber,
  GN: OID.givenName,
  SN: OID.surname,
  O: OID.organizationName,
  OU: OID.organizationalUnitName,
  organizationIdentifier: OID.organizationIdentifier,
  C: OID.countryName,
};

/** Order of RDNs in a subject DN (most general first). */
export const SUBJECT_ATTRIBUTE_ORDER = [
  "C",
  "O",
  "organizationIdentifier",
  "OU",
  "SN",
  "GN",
  "serialNumber",
  "CN",
] as const;

/** RFC 5280 4.2.1.3 bit positions. */
export const KEY_USAGE_BITS: Readonly<Record<string, number>> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

export { KEY_TYPES, type KeyType } from "../shared/key-type.js";

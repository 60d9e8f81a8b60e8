import { createHash } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AccessDescription, AlgorithmIdentifier, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
  CertificatePolicies, CRLDistributionPoints, DistributionPoint, DistributionPointName, ExtendedKeyUsage, Extension,
  Extensions, GeneralName, KeyIdentifier, KeyUsage, Name, OtherName, PolicyInformation, SubjectAlternativeName,
  SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from "@peculiar/asn1-x509";
import { EKU_BY_NAME, KEY_USAGE_BITS, OID } from "../asn1/oids.js";
import { derTlv, fromHex, toArrayBuffer } from "../asn1/der.js";
import { buildName, type SubjectAttributes } from "../asn1/name.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import type { Authority } from "./authority.js";

export interface SubjectAltNames {
  readonly email?: readonly string[];
  readonly upn?: readonly string[];
}

export interface TbsInput {
  readonly profile: CertificateProfile;
  readonly issuer: Authority;
  readonly subject: SubjectAttributes;
  readonly san: SubjectAltNames;
  readonly spki: Uint8Array;
  readonly serial: string;
  readonly now: Date;
  /** Self-signed root: the issuer name is the subject name. */
  readonly selfSigned?: boolean;
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const info = AsnConvert.parse(toArrayBuffer(spki), SubjectPublicKeyInfo);
  return new Uint8Array(createHash("sha1").update(new Uint8Array(info.subjectPublicKey)).digest());
}

function ext(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function x509Time(d: Date): { utcTime?: Date; generalTime?: Date } {
  return d.getUTCFullYear() < 2050 ? { utcTime: d } : { generalTime: d };
}

/**
 * Builds the TBSCertificate ONLY from the profile, the issuer and verified attributes:
 * nothing is copied from a CSR (issue 2: no blind copying). Validity is second-aligned.
 */
export function buildTbs(input: TbsInput): { tbs: TBSCertificate; der: Uint8Array; subjectName: Name } {
  const { profile, issuer } = input;
  const nowSec = Math.floor(input.now.getTime() / 1000) * 1000;
  const notBefore = new Date(nowSec - profile.validity.backdateSeconds * 1000);
  let notAfter = new Date(notBefore.getTime() + profile.validity.days * 86_400_000 - 1000);
  // CPS 6.3.2: a certificate never outlives its issuer; clamp to the issuer's end.
  if (!input.selfSigned && notAfter > issuer.notAfter) notAfter = new Date(issuer.notAfter.getTime());

  const subjectName = buildName(input.subject);
  const issuerName = input.selfSigned ? subjectName : AsnConvert.parse(toArrayBuffer(issuer.nameDer), Name);
  const algorithm = AsnConvert.parse(toArrayBuffer(issuer.signer.algorithmDer), AlgorithmIdentifier);
  const spkiInfo = AsnConvert.parse(toArrayBuffer(input.spki), SubjectPublicKeyInfo);
  const ski = keyIdentifier(input.spki);

  const exts: Extension[] = [];
  // RFC 5280 4.2.1.9: critical in CA certificates; we mark it critical in all.
  exts.push(ext(OID.extBasicConstraints, true, new BasicConstraints(profile.basicConstraints.ca
    ? { cA: true, ...(profile.basicConstraints.pathLen !== undefined ? { pathLenConstraint: profile.basicConstraints.pathLen } : {}) }
    : {})));
  // RFC 5280 4.2.1.3: SHOULD be critical.
  let kuBits = 0;
  for (const u of profile.keyUsage) kuBits |= 1 << KEY_USAGE_BITS[u]!;
  exts.push(ext(OID.extKeyUsage, true, new KeyUsage(kuBits)));
  if (profile.extendedKeyUsage.length > 0)
    exts.push(ext(OID.extExtKeyUsage, false, new ExtendedKeyUsage(profile.extendedKeyUsage.map((n) => EKU_BY_NAME[n]!))));
  exts.push(ext(OID.extSubjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(ski))));
  // RFC 5280 4.2.1.1: AKI in all but self-signed roots, where it MAY appear (we include it, = SKI).
  const aki = input.selfSigned ? ski : issuer.ski;
  exts.push(ext(OID.extAuthorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(aki)) })));
  const names: GeneralName[] = [];
  for (const e of input.san.email ?? []) names.push(new GeneralName({ rfc822Name: e }));
  for (const u of input.san.upn ?? [])
    names.push(new GeneralName({ otherName: new OtherName({ typeId: OID.upn, value: toArrayBuffer(derTlv(0x0c, new TextEncoder().encode(u))) }) }));
  // RFC 5280 4.2.1.6: critical when the subject is empty.
  if (names.length > 0) exts.push(ext(OID.extSubjectAltName, subjectName.length === 0, new SubjectAlternativeName(names)));
  if (profile.certificatePolicies.length > 0)
    exts.push(ext(OID.extCertificatePolicies, false, new CertificatePolicies(profile.certificatePolicies.map((p) => new PolicyInformation({ policyIdentifier: p })))));
  const aia: AccessDescription[] = [];
  if (profile.authorityInfoAccess.ocsp && issuer.urls.ocsp)
    aia.push(new AccessDescription({ accessMethod: OID.adOcsp, accessLocation: new GeneralName({ uniformResourceIdentifier: issuer.urls.ocsp }) }));
  if (profile.authorityInfoAccess.caIssuers && issuer.urls.caIssuers)
    aia.push(new AccessDescription({ accessMethod: OID.adCaIssuers, accessLocation: new GeneralName({ uniformResourceIdentifier: issuer.urls.caIssuers }) }));
  if (aia.length > 0) exts.push(ext(OID.extAuthorityInfoAccess, false, new AuthorityInfoAccessSyntax(aia)));
  if (profile.crlDistributionPoint && issuer.urls.crl)
    exts.push(ext(OID.extCrlDistributionPoints, false, new CRLDistributionPoints([
      new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: issuer.urls.crl })] }) }),
    ])));
  // RFC 6960 4.2.2.2.1: id-pkix-ocsp-nocheck, value NULL.
  if (profile.ocspNoCheck)
    exts.push(new Extension({ extnID: OID.ocspNoCheck, critical: false, extnValue: new OctetString(Uint8Array.of(0x05, 0x00)) }));

  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(fromHex(input.serial)),
    signature: algorithm,
    issuer: issuerName,
    validity: new Validity(),
    subject: subjectName,
    subjectPublicKeyInfo: spkiInfo,
    extensions: new Extensions(exts),
  });
  tbs.validity.notBefore = Object.assign(tbs.validity.notBefore, { utcTime: undefined, generalTime: undefined }, x509Time(notBefore));
  tbs.validity.notAfter = Object.assign(tbs.validity.notAfter, { utcTime: undefined, generalTime: undefined }, x509Time(notAfter));
  return { tbs, der: new Uint8Array(AsnConvert.serialize(tbs)), subjectName };
}

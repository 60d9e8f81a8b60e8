import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CertificatePolicies,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  PolicyInformation,
} from "@peculiar/asn1-x509";
import { EKU_BY_NAME, KEY_USAGE_BITS, OID } from "../asn1/oids.js";
import { concat, derTlv, fromHex, toArrayBuffer } from "../asn1/der.js";
import { encodeOid, encodeTime } from "../asn1/der-reader.js";
import { encodeName, type SubjectAttributes } from "../asn1/name.js";
import { encodeKrb5PrincipalName } from "../asn1/krb5-principal-name.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import type { Authority } from "./authority.js";
import { keyIdentifier } from "./spki.js";
import { cdpUrlFor } from "./crl-shards.js";

export { keyIdentifier };

export interface SubjectAltNames {
  readonly email?: readonly string[];
  readonly upn?: readonly string[];
  /** id-pkinit-san otherNames (RFC 4556 3.2.2), text form `name/instance@REALM`. */
  readonly krb5Principal?: readonly string[];
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
  /** Shorter validity than the profile's maximum (ceremonies). */
  readonly validityDays?: number;
}

export interface BuiltTbs {
  readonly der: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const utf8 = new TextEncoder();

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 4.1). */
function extensionDer(oid: string, critical: boolean, valueDer: Uint8Array): Uint8Array {
  return derTlv(
    0x30,
    concat(encodeOid(oid), critical ? Uint8Array.of(0x01, 0x01, 0xff) : new Uint8Array(0), derTlv(0x04, valueDer)),
  );
}

const ser = (v: unknown) => new Uint8Array(AsnConvert.serialize(v));

/** The extensions that depend only on profile and issuer: encoded once per pair. */
interface ConstantExtensions {
  readonly beforeSki: Uint8Array; // basicConstraints, keyUsage, EKU
  readonly afterSan: Uint8Array; // policies, AIA
  readonly cdp: Uint8Array | undefined; // CDP (undefined: per serial, the CA's CRL is sharded)
  readonly tail: Uint8Array; // ocsp-nocheck
  readonly aki: Uint8Array | undefined; // absent when self-signed (depends on the subject key then)
}

const constantCache = new WeakMap<CertificateProfile, Map<string, ConstantExtensions>>();

function constantExtensions(profile: CertificateProfile, issuer: Authority, selfSigned: boolean): ConstantExtensions {
  const key =
    `${issuer.id}|${Buffer.from(issuer.ski).toString("hex")}|${issuer.urls.ocsp}|${issuer.urls.caIssuers}|` +
    `${issuer.urls.crl}|${issuer.crlSharding?.count}|${selfSigned}`;
  let perProfile = constantCache.get(profile);
  if (!perProfile) constantCache.set(profile, (perProfile = new Map()));
  const hit = perProfile.get(key);
  if (hit) return hit;
  const before: Uint8Array[] = [];
  // RFC 5280 4.2.1.9: critical in CA certificates; we mark it critical in all.
  const bc = profile.basicConstraints.ca
    ? new BasicConstraints({
        cA: true,
        ...(profile.basicConstraints.pathLen !== undefined
          ? { pathLenConstraint: profile.basicConstraints.pathLen }
          : {}),
      })
    : new BasicConstraints({});
  before.push(extensionDer(OID.extBasicConstraints, true, ser(bc)));
  // RFC 5280 4.2.1.3: SHOULD be critical.
  let kuBits = 0;
  for (const u of profile.keyUsage) kuBits |= 1 << KEY_USAGE_BITS[u]!;
  before.push(extensionDer(OID.extKeyUsage, true, ser(new KeyUsage(kuBits))));
  if (profile.extendedKeyUsage.length > 0)
    before.push(
      extensionDer(
        OID.extExtKeyUsage,
        false,
        ser(new ExtendedKeyUsage(profile.extendedKeyUsage.map((n) => EKU_BY_NAME[n]!))),
      ),
    );
  const after: Uint8Array[] = [];
  if (profile.certificatePolicies.length > 0)
    after.push(
      extensionDer(
        OID.extCertificatePolicies,
        false,
        ser(
          new CertificatePolicies(
            profile.certificatePolicies.map((p) => new PolicyInformation({ policyIdentifier: p })),
          ),
        ),
      ),
    );
  const aia: AccessDescription[] = [];
  if (profile.authorityInfoAccess.ocsp && issuer.urls.ocsp)
    aia.push(
      new AccessDescription({
        accessMethod: OID.adOcsp,
        accessLocation: new GeneralName({ uniformResourceIdentifier: issuer.urls.ocsp }),
      }),
    );
  if (profile.authorityInfoAccess.caIssuers && issuer.urls.caIssuers)
    aia.push(
      new AccessDescription({
        accessMethod: OID.adCaIssuers,
        accessLocation: new GeneralName({ uniformResourceIdentifier: issuer.urls.caIssuers }),
      }),
    );
  if (aia.length > 0)
    after.push(extensionDer(OID.extAuthorityInfoAccess, false, ser(new AuthorityInfoAccessSyntax(aia))));
  const cdp =
    profile.crlDistributionPoint && issuer.urls.crl && !issuer.crlSharding ? cdpExtension(issuer.urls.crl) : undefined;
  // RFC 6960 4.2.2.2.1: id-pkix-ocsp-nocheck, value NULL.
  const tail = profile.ocspNoCheck
    ? extensionDer(OID.ocspNoCheck, false, Uint8Array.of(0x05, 0x00))
    : new Uint8Array(0);
  const c: ConstantExtensions = {
    beforeSki: concat(...before),
    afterSan: concat(...after),
    cdp,
    tail,
    aki: selfSigned ? undefined : akiExtension(issuer.ski),
  };
  perProfile.set(key, c);
  return c;
}

/** RFC 5280 4.2.1.13: one DistributionPoint with one URI (the CA's CRL, or the serial's shard, RFC 5280 5.2.5). */
function cdpExtension(url: string): Uint8Array {
  return extensionDer(
    OID.extCrlDistributionPoints,
    false,
    ser(
      new CRLDistributionPoints([
        new DistributionPoint({
          distributionPoint: new DistributionPointName({
            fullName: [new GeneralName({ uniformResourceIdentifier: url })],
          }),
        }),
      ]),
    ),
  );
}

// RFC 5280 4.2.1.1: AKI in all but self-signed roots, where it MAY appear (we include it, = SKI).
function akiExtension(ski: Uint8Array): Uint8Array {
  return extensionDer(
    OID.extAuthorityKeyIdentifier,
    false,
    ser(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(ski)) })),
  );
}

/** GeneralNames with rfc822Name [1], UPN and id-pkinit-san otherNames [0] (RFC 5280 4.2.1.6, RFC 4556 3.2.2). */
function sanValue(san: SubjectAltNames): Uint8Array | undefined {
  const names: Uint8Array[] = [];
  for (const e of san.email ?? []) names.push(derTlv(0x81, utf8.encode(e)));
  for (const u of san.upn ?? [])
    names.push(derTlv(0xa0, concat(encodeOid(OID.upn), derTlv(0xa0, derTlv(0x0c, utf8.encode(u))))));
  for (const k of san.krb5Principal ?? [])
    names.push(derTlv(0xa0, concat(encodeOid(OID.pkinitSan), derTlv(0xa0, encodeKrb5PrincipalName(k)))));
  return names.length > 0 ? derTlv(0x30, concat(...names)) : undefined;
}

const VERSION_3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);

/**
 * Builds the TBSCertificate ONLY from the profile, the issuer and verified attributes:
 * nothing is copied from a CSR (CA/B BR 7.1.4.2: only verified subject information, no blind copying). Validity is
 * second-aligned.
 * Encoded directly as DER; the lints read it back with an independent reader.
 */
export function buildTbs(input: TbsInput): BuiltTbs {
  const { profile, issuer } = input;
  const selfSigned = input.selfSigned ?? false;
  const nowSec = Math.floor(input.now.getTime() / 1000) * 1000;
  const notBefore = new Date(nowSec - profile.validity.backdateSeconds * 1000);
  const days = Math.min(input.validityDays ?? profile.validity.days, profile.validity.days);
  let notAfter = new Date(notBefore.getTime() + days * 86_400_000 - 1000);
  // CPS 6.3.2: a certificate never outlives its issuer; clamp to the issuer's end.
  if (!selfSigned && notAfter > issuer.notAfter)
    notAfter = new Date(Math.floor(issuer.notAfter.getTime() / 1000) * 1000);

  const subjectDer = encodeName(input.subject);
  const ski = keyIdentifier(input.spki);
  const c = constantExtensions(profile, issuer, selfSigned);
  const san = sanValue(input.san);
  const exts = concat(
    c.beforeSki,
    extensionDer(OID.extSubjectKeyIdentifier, false, derTlv(0x04, ski)),
    c.aki ?? akiExtension(ski),
    // RFC 5280 4.2.1.6: critical when the subject is empty.
    san ? extensionDer(OID.extSubjectAltName, Object.keys(input.subject).length === 0, san) : new Uint8Array(0),
    c.afterSan,
    c.cdp ??
      (profile.crlDistributionPoint && issuer.urls.crl
        ? cdpExtension(cdpUrlFor(issuer.urls.crl, input.serial, issuer.crlSharding))
        : new Uint8Array(0)),
    c.tail,
  );
  const der = derTlv(
    0x30,
    concat(
      VERSION_3,
      derTlv(0x02, fromHex(input.serial)),
      issuer.signer.algorithmDer,
      selfSigned ? subjectDer : issuer.nameDer,
      derTlv(0x30, concat(encodeTime(notBefore), encodeTime(notAfter))),
      subjectDer,
      input.spki,
      derTlv(0xa3, derTlv(0x30, exts)),
    ),
  );
  return { der, subjectDer, notBefore, notAfter };
}

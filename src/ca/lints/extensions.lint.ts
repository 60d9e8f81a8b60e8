import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CertificatePolicies,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  KeyUsage,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from "@peculiar/asn1-x509";
import { EKU_BY_NAME, KEY_USAGE_BITS, OID } from "../../asn1/oids.js";
import { toHex } from "../../asn1/der.js";
import { compiledPattern } from "../../policy/patterns.js";
import { decodeKrb5PrincipalName } from "../../asn1/krb5-principal-name.js";
import { keyIdentifierOf } from "../spki-reader.js";
import { emailWithinDomains } from "../../shared/email-domain.js";
import { findExtensions, readExtension } from "./extension-reader.js";
import { content, readTlv } from "../../asn1/der-reader.js";
import type { Lint } from "./lint.js";
import { cdpUrlFor } from "../crl-shards.js";

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();
const uriOk = (u: string | undefined) => u !== undefined && /^https?:\/\/[^\s]+$/.test(u);
const KNOWN = new Set<string>([
  OID.extBasicConstraints,
  OID.extKeyUsage,
  OID.extExtKeyUsage,
  OID.extSubjectKeyIdentifier,
  OID.extAuthorityKeyIdentifier,
  OID.extSubjectAltName,
  OID.extCertificatePolicies,
  OID.extAuthorityInfoAccess,
  OID.extCrlDistributionPoints,
  OID.ocspNoCheck,
]);

export const extensionLints: Lint[] = [
  {
    id: "extensions_unique_and_known",
    citation: "RFC 5280 4.2: a certificate MUST NOT include more than one instance of an extension",
    check: ({ tbs }) => {
      const seen = new Set<string>();
      for (const e of tbs.extensions) {
        if (seen.has(e.oid)) return `extension ${e.oid} repeated`;
        if (!KNOWN.has(e.oid)) return `extension ${e.oid} is not one cardpki profiles produce`;
        seen.add(e.oid);
      }
      return undefined;
    },
  },
  {
    id: "basic_constraints_per_profile",
    citation: "RFC 5280 4.2.1.9",
    check: ({ tbs, profile }) => {
      const bc = readExtension(tbs, OID.extBasicConstraints, BasicConstraints);
      if (!bc) return "basicConstraints missing";
      if (profile.basicConstraints.ca && !bc.ext.critical)
        return "basicConstraints MUST be critical in CA certificates";
      if (bc.value.cA !== profile.basicConstraints.ca)
        return `cA=${bc.value.cA} but profile says ${profile.basicConstraints.ca}`;
      if (bc.value.pathLenConstraint !== profile.basicConstraints.pathLen)
        return "pathLenConstraint differs from the profile";
      return undefined;
    },
  },
  {
    id: "key_usage_per_profile",
    citation: "RFC 5280 4.2.1.3 (present, critical, bits as profiled)",
    check: ({ tbs, profile }) => {
      const ku = readExtension(tbs, OID.extKeyUsage, KeyUsage);
      if (!ku) return "keyUsage missing";
      if (!ku.ext.critical) return "keyUsage not critical";
      let want = 0;
      for (const u of profile.keyUsage) want |= 1 << KEY_USAGE_BITS[u]!;
      return ku.value.toNumber() === want ? undefined : `keyUsage bits ${ku.value.toNumber()} != profile ${want}`;
    },
  },
  {
    id: "eku_per_profile",
    citation: "RFC 5280 4.2.1.12; CPS 7.1.2",
    check: ({ tbs, profile }) => {
      const eku = readExtension(tbs, OID.extExtKeyUsage, ExtendedKeyUsage);
      const want = profile.extendedKeyUsage.map((n) => EKU_BY_NAME[n]!);
      const got = eku ? [...eku.value] : [];
      return sameSet(got, want) ? undefined : `EKU [${got}] != profile [${want}]`;
    },
  },
  {
    id: "ski_present_and_derived",
    citation: "RFC 5280 4.2.1.2 (method 1)",
    check: ({ tbs }) => {
      if (findExtensions(tbs, OID.extSubjectKeyIdentifier).length === 0) return "subjectKeyIdentifier missing";
      let ski;
      try {
        ski = readExtension(tbs, OID.extSubjectKeyIdentifier, SubjectKeyIdentifier)!;
      } catch {
        return "subjectKeyIdentifier is not an OCTET STRING";
      }
      if (ski.ext.critical) return "subjectKeyIdentifier MUST NOT be critical";
      return toHex(new Uint8Array(ski.value.buffer)) === toHex(keyIdentifierOf(tbs.spki))
        ? undefined
        : "subjectKeyIdentifier is not the key's SHA-1 identifier";
    },
  },
  {
    id: "aki_matches_issuer",
    citation: "RFC 5280 4.2.1.1",
    check: ({ tbs, issuer, selfSigned }) => {
      const aki = readExtension(tbs, OID.extAuthorityKeyIdentifier, AuthorityKeyIdentifier);
      if (!aki) return "authorityKeyIdentifier missing";
      if (aki.ext.critical) return "authorityKeyIdentifier MUST NOT be critical";
      const id = aki.value.keyIdentifier ? toHex(new Uint8Array(aki.value.keyIdentifier.buffer)) : "";
      const want = selfSigned ? toHex(keyIdentifierOf(tbs.spki)) : toHex(issuer.ski);
      return id === want ? undefined : "authorityKeyIdentifier differs from the issuer's key identifier";
    },
  },
  {
    id: "san_per_profile",
    citation: "RFC 5280 4.2.1.6; CPS 3.1.1 (profile SAN rules)",
    check: ({ tbs, profile }) => {
      const san = readExtension(tbs, OID.extSubjectAltName, SubjectAlternativeName);
      const emails: string[] = [];
      const upns: string[] = [];
      const krb5: string[] = [];
      for (const gn of san ? [...san.value] : []) {
        if (gn.rfc822Name !== undefined) emails.push(gn.rfc822Name);
        else if (gn.otherName?.typeId === OID.upn) upns.push("upn");
        else if (gn.otherName?.typeId === OID.pkinitSan) {
          try {
            krb5.push(decodeKrb5PrincipalName(new Uint8Array(gn.otherName.value)));
          } catch (e) {
            return `SAN id-pkinit-san is not a KRB5PrincipalName (RFC 4556 3.2.2): ${(e as Error).message}`;
          }
        } else return "SAN has a name type the profiles do not allow";
      }
      const rules = profile.subjectAltName;
      if (emails.length > 0 && !rules.email) return "SAN email not allowed by profile";
      if (upns.length > 0 && !rules.upn) return "SAN UPN not allowed by profile";
      if (krb5.length > 0 && !rules.krb5Principal) return "SAN id-pkinit-san not allowed by profile";
      if (rules.email?.presence === "required" && emails.length === 0) return "SAN email required by profile";
      if (rules.upn?.presence === "required" && upns.length === 0) return "SAN UPN required by profile";
      if (rules.krb5Principal?.presence === "required" && krb5.length === 0)
        return "SAN id-pkinit-san required by profile";
      for (const k of krb5)
        if (rules.krb5Principal?.pattern !== undefined && !compiledPattern(rules.krb5Principal.pattern).test(k))
          return "SAN id-pkinit-san does not match the profile pattern";
      for (const e of emails) {
        // RFC 5280 4.2.1.6: rfc822Name is an addr-spec (IA5, no display name).
        if (!/^[\x21-\x7e]+@[\x21-\x7e]+$/.test(e)) return `SAN email ${JSON.stringify(e)} is not an addr-spec`;
        if (rules.email?.pattern !== undefined && !compiledPattern(rules.email.pattern).test(e))
          return "SAN email does not match the profile pattern";
      }
      if (san && tbs.subject.length === 0 && !san.ext.critical) return "SAN must be critical when the subject is empty";
      return undefined;
    },
  },
  {
    id: "san_email_within_validated_domain",
    citation: "REQ-01 / CA/B S/MIME BR 3.2.2 (mailbox authority through the validated domain) / RFC 5280 4.2.1.6",
    check: ({ tbs, profile, validatedEmailDomains }) => {
      if (!profile.subjectAltName.email?.outsideValidatedDomain) return undefined;
      const san = readExtension(tbs, OID.extSubjectAltName, SubjectAlternativeName);
      for (const gn of san ? [...san.value] : [])
        if (gn.rfc822Name !== undefined && !emailWithinDomains(gn.rfc822Name, validatedEmailDomains ?? []))
          return (
            `SAN email ${JSON.stringify(gn.rfc822Name)} is outside the organisation's ` +
            `validated domains (${(validatedEmailDomains ?? []).join(", ") || "none"})`
          );
      return undefined;
    },
  },
  {
    id: "san_logon_name_within_validated_domain",
    citation: "REQ-01 / RFC 4556 3.2.2 (id-pkinit-san) / MS UPN otherName 1.3.6.1.4.1.311.20.2.3",
    check: ({ tbs, profile, validatedEmailDomains }) => {
      // `from: validated-email`: the UPN suffix is a validated domain, the realm that domain in upper case.
      const rules = profile.subjectAltName;
      const domains = (validatedEmailDomains ?? []).map((d) => d.toLowerCase().replace(/\.$/, ""));
      const san = readExtension(tbs, OID.extSubjectAltName, SubjectAlternativeName);
      for (const gn of san ? [...san.value] : []) {
        const value = gn.otherName ? new Uint8Array(gn.otherName.value) : undefined;
        if (value && gn.otherName?.typeId === OID.upn && rules.upn?.from === "validated-email") {
          const t = readTlv(value, 0);
          const upn = t.tag === 0x0c ? Buffer.from(content(value, t)).toString("utf8") : "";
          const at = upn.lastIndexOf("@");
          if (at < 1 || !domains.includes(upn.slice(at + 1)))
            return `SAN UPN ${JSON.stringify(upn)} is not in the validated domains (${domains.join(", ") || "none"})`;
        }
        if (value && gn.otherName?.typeId === OID.pkinitSan && rules.krb5Principal?.from === "validated-email") {
          const name = decodeKrb5PrincipalName(value);
          const at = name.lastIndexOf("@");
          if (name.slice(0, at).includes("/") || !domains.map((d) => d.toUpperCase()).includes(name.slice(at + 1)))
            return `SAN id-pkinit-san ${name} is not a user of a validated domain's realm (${domains.join(", ")})`;
        }
      }
      return undefined;
    },
  },
  {
    id: "certificate_policies_per_profile",
    citation: "RFC 5280 4.2.1.4; CPS 7.1.6 (policy OID per LoA)",
    check: ({ tbs, profile }) => {
      const cp = readExtension(tbs, OID.extCertificatePolicies, CertificatePolicies);
      const got = cp ? [...cp.value].map((p) => p.policyIdentifier) : [];
      return sameSet(got, profile.certificatePolicies)
        ? undefined
        : `certificatePolicies [${got}] != profile [${profile.certificatePolicies}]`;
    },
  },
  {
    id: "aia_per_profile",
    citation: "RFC 5280 4.2.2.1; RFC 6960 (OCSP URL)",
    check: ({ tbs, profile, issuer }) => {
      const aia = readExtension(tbs, OID.extAuthorityInfoAccess, AuthorityInfoAccessSyntax);
      const ocsp = aia ? [...aia.value].filter((a) => a.accessMethod === OID.adOcsp) : [];
      const ca = aia ? [...aia.value].filter((a) => a.accessMethod === OID.adCaIssuers) : [];
      if (aia?.ext.critical) return "AIA MUST NOT be critical";
      if (profile.authorityInfoAccess.ocsp && issuer.urls.ocsp && ocsp.length !== 1) return "AIA OCSP URL missing";
      if (!profile.authorityInfoAccess.ocsp && ocsp.length > 0) return "AIA OCSP not in profile";
      if (profile.authorityInfoAccess.caIssuers && issuer.urls.caIssuers && ca.length !== 1)
        return "AIA caIssuers URL missing";
      if (!profile.authorityInfoAccess.caIssuers && ca.length > 0) return "AIA caIssuers not in profile";
      for (const a of [...ocsp, ...ca])
        if (!uriOk(a.accessLocation.uniformResourceIdentifier)) return "AIA location is not an http(s) URI";
      return undefined;
    },
  },
  {
    id: "crldp_per_profile",
    citation: "RFC 5280 4.2.1.13",
    check: ({ tbs, profile, issuer }) => {
      const dp = readExtension(tbs, OID.extCrlDistributionPoints, CRLDistributionPoints);
      if (!profile.crlDistributionPoint) return dp ? "CRL distribution point not in profile" : undefined;
      if (!issuer.urls.crl) return undefined;
      if (!dp) return "CRL distribution point missing";
      const uris = [...dp.value]
        .flatMap((p) => p.distributionPoint?.fullName ?? [])
        .map((g) => g.uniformResourceIdentifier);
      if (uris.length !== 1 || !uriOk(uris[0])) return "CRL distribution point must be one http(s) URI";
      // RFC 5280 5.2.5: the CDP names the CRL whose IDP covers this serial (its shard when sharded).
      const want = cdpUrlFor(issuer.urls.crl, toHex(tbs.serial), issuer.crlSharding);
      return uris[0] === want ? undefined : `CRL distribution point ${uris[0]} is not this serial's CRL ${want}`;
    },
  },
  {
    id: "ocsp_nocheck_only_for_responders",
    citation: "RFC 6960 4.2.2.2.1",
    check: ({ tbs, profile }) => {
      const has = findExtensions(tbs, OID.ocspNoCheck).length > 0;
      if (has !== profile.ocspNoCheck) return `id-pkix-ocsp-nocheck ${has ? "present" : "absent"} against profile`;
      if (has && !profile.extendedKeyUsage.includes("ocspSigning"))
        return "id-pkix-ocsp-nocheck without OCSPSigning EKU";
      return undefined;
    },
  },
  {
    id: "end_entity_not_ca",
    citation: "RFC 5280 4.2.1.9 / 4.2.1.3: keyCertSign only with cA",
    check: ({ tbs }) => {
      const bc = readExtension(tbs, OID.extBasicConstraints, BasicConstraints);
      const ku = readExtension(tbs, OID.extKeyUsage, KeyUsage);
      const certSign = ku ? (ku.value.toNumber() & (1 << KEY_USAGE_BITS.keyCertSign!)) !== 0 : false;
      return certSign && !bc?.value.cA ? "keyCertSign set without cA" : undefined;
    },
  },
];

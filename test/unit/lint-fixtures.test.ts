import "reflect-metadata";
import { expect } from "chai";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AttributeTypeAndValue,
  AttributeValue,
  Extension,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  TBSCertificate,
  Time,
  Version,
} from "@peculiar/asn1-x509";
import { newSerial } from "../../src/ca/certificate-issuer.js";
import { ALL_LINTS, runLints, type LintContext } from "../../src/ca/lints/index.js";
import { buildTbs, type SubjectAltNames } from "../../src/ca/tbs-builder.js";
import { encodeName } from "../../src/asn1/name.js";
import { OID } from "../../src/asn1/oids.js";
import type { Authority } from "../../src/ca/authority.js";
import type { CertificateProfile } from "../../src/policy/certificate-profile.js";
import { SeqRandom } from "../../src/shared/random.js";
import { testKey } from "../support/keys.js";
import { ORG_SUBJECT, PROFILES, softwareAuthority } from "../support/test-ca.js";

/**
 * Every lint of ALL_LINTS (the rules run before any signature) is shown to fire: one fixture per lint, a
 * TBS or a context that breaks exactly the rule it cites. The TBS is built by the writer, then changed
 * through the independent library classes (@peculiar/asn1-x509), so the fixture is not the writer's view.
 */
const NOW = new Date("2026-06-01T12:00:00Z");
const PROFILE = PROFILES.get("loa3-smartcard-auth")!;
const CA = softwareAuthority();
const DOMAINS = ["example.se"];

type Ctx = Omit<LintContext, "tbs">;
interface Built {
  subject?: Record<string, string>;
  san?: SubjectAltNames;
  profile?: CertificateProfile;
}

function base({ subject = ORG_SUBJECT, san = { email: ["ada@example.se"] }, profile = PROFILE }: Built = {}): Ctx {
  const tbsDer = buildTbs({
    profile,
    issuer: CA,
    subject: subject as typeof ORG_SUBJECT,
    san,
    spki: testKey("P-256").spki,
    serial: newSerial(9, new SeqRandom()),
    now: NOW,
  }).der;
  return { tbsDer, profile, issuer: CA, selfSigned: false, validatedEmailDomains: DOMAINS };
}

/** The TBS changed through the library: parse, edit, serialize (DER). */
function edited(change: (t: TBSCertificate) => void, from: Built = {}): Ctx {
  const ctx = base(from);
  const tbs = AsnConvert.parse(ctx.tbsDer, TBSCertificate);
  change(tbs);
  return { ...ctx, tbsDer: new Uint8Array(AsnConvert.serialize(tbs)) };
}
const withoutExtension = (oid: string) =>
  edited((t) => void (t.extensions = t.extensions!.filter((e) => e.extnID !== oid) as typeof t.extensions));
const extension = (t: TBSCertificate, oid: string) => t.extensions!.find((e) => e.extnID === oid)!;
const profile = (change: Partial<CertificateProfile>): Ctx => ({ ...base(), profile: { ...PROFILE, ...change } });
const issuer = (change: Partial<Authority>): Ctx => ({ ...base(), issuer: { ...CA, ...change } });
const attribute = (oid: string, value: AttributeValue) =>
  new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value })]);

/** lint id -> a fixture that makes it fire. */
const FIXTURES: Record<string, () => Ctx> = {
  serial_positive_max_20_octets: () => edited((t) => void (t.serialNumber = new Uint8Array(21).fill(0x11).buffer)),
  serial_at_least_64_random_bits: () =>
    edited((t) => void (t.serialNumber = Uint8Array.of(0x01, 0x02, 0x03, 0x04).buffer)),
  version_3: () => edited((t) => void (t.version = Version.v2)),
  validity_ordered: () =>
    edited((t) => void (t.validity.notAfter = new Time({ utcTime: new Date(NOW.getTime() - 86_400_000) }))),
  validity_time_encoding: () =>
    edited((t) => void (t.validity.notBefore = new Time({ generalTime: new Date(t.validity.notBefore.getTime()) }))),
  validity_within_profile: () => profile({ validity: { ...PROFILE.validity, days: 30 } }),
  validity_within_issuer: () => issuer({ notAfter: new Date("2026-12-31T00:00:00Z") }),
  issuer_matches_ca_subject: () =>
    issuer({ nameDer: encodeName({ CN: "Some Other CA", O: "cardpki tests", C: "SE" }) }),
  subject_attributes_per_profile: () =>
    // A locality: not in the profile.
    edited((t) => void t.subject.push(attribute("2.5.4.7", new AttributeValue({ utf8String: "Lund" })))),
  subject_upper_bounds: () =>
    edited((t) => void t.subject.push(attribute(OID.commonName, new AttributeValue({ utf8String: "A".repeat(65) })))),
  subject_string_types: () =>
    edited((t) => {
      const c = t.subject.find((rdn) => rdn[0]!.type === OID.countryName)!;
      c[0]!.value = new AttributeValue({ utf8String: "SE" });
    }),
  subject_not_empty: () => edited((t) => void (t.subject = new Name([]))),
  subject_key_type_allowed: () => profile({ keyTypes: ["RSA-3072"] }),
  signature_algorithm_matches_ca_key: () => issuer({ signer: softwareAuthority("P-384").signer }),
  extensions_unique_and_known: () =>
    edited(
      (t) =>
        void t.extensions!.push(
          new Extension({
            extnID: "1.2.3.4.5",
            critical: false,
            extnValue: new OctetString(Uint8Array.of(0x05, 0x00)),
          }),
        ),
    ),
  basic_constraints_per_profile: () => withoutExtension(OID.extBasicConstraints),
  key_usage_per_profile: () => edited((t) => void (extension(t, OID.extKeyUsage).critical = false)),
  eku_per_profile: () => withoutExtension(OID.extExtKeyUsage),
  ski_present_and_derived: () => withoutExtension(OID.extSubjectKeyIdentifier),
  aki_matches_issuer: () => withoutExtension(OID.extAuthorityKeyIdentifier),
  san_per_profile: () => profile({ subjectAltName: {} }),
  san_email_within_validated_domain: () => ({ ...base(), validatedEmailDomains: ["kund.example"] }),
  // A logon name outside the validated domain, in a profile that takes it from the validated e-mail.
  san_logon_name_within_validated_domain: () =>
    base({
      profile: PROFILES.get("loa3-smartcard-logon")!,
      san: { email: ["ada@example.se"], upn: ["ada@example.se"], krb5Principal: ["ada@ELSEWHERE.SE"] },
    }),
  certificate_policies_per_profile: () => withoutExtension(OID.extCertificatePolicies),
  aia_per_profile: () => withoutExtension(OID.extAuthorityInfoAccess),
  crldp_per_profile: () => withoutExtension(OID.extCrlDistributionPoints),
  ocsp_nocheck_only_for_responders: () =>
    edited(
      (t) =>
        void t.extensions!.push(
          new Extension({
            extnID: OID.ocspNoCheck,
            critical: false,
            extnValue: new OctetString(Uint8Array.of(0x05, 0x00)),
          }),
        ),
    ),
  end_entity_not_ca: () =>
    edited((t) => {
      const ku = extension(t, OID.extKeyUsage);
      ku.extnValue = new OctetString(
        AsnConvert.serialize(new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign)),
      );
    }),
  text_no_control_characters: () => base({ subject: { ...ORG_SUBJECT, CN: "Ada\u0000 Andersson" } }),
  text_no_bidi_controls: () => base({ subject: { ...ORG_SUBJECT, CN: "Ada \u202Enosredna" } }),
  // Cyrillic A in a Latin name.
  text_single_script: () => base({ subject: { ...ORG_SUBJECT, CN: "\u0410da Andersson" } }),
};

describe("ca/lints: a fixture that makes each lint of ALL_LINTS fire", () => {
  it("ok/the unchanged fixture passes every lint", () => {
    expect(runLints(ALL_LINTS, base())).to.deep.equal([]);
  });

  it("fail/every lint in ALL_LINTS has a fixture (and every fixture names a lint)", () => {
    const ids = ALL_LINTS.map((l) => l.id);
    expect(
      ids.filter((id) => !(id in FIXTURES)),
      "lints without a firing fixture",
    ).to.deep.equal([]);
    expect(
      Object.keys(FIXTURES).filter((id) => !ids.includes(id)),
      "fixtures of no lint",
    ).to.deep.equal([]);
  });

  for (const lint of ALL_LINTS) {
    it(`fail/${lint.id} (${lint.citation}) fires on its fixture`, () => {
      const fixture = FIXTURES[lint.id];
      expect(fixture, `no fixture for ${lint.id}`).to.be.a("function");
      const findings = runLints(ALL_LINTS, fixture!());
      expect(findings.map((f) => f.id)).to.include(lint.id);
      expect(findings.find((f) => f.id === lint.id)!.message).to.not.match(/could not read the TBS/);
    });
  }
});

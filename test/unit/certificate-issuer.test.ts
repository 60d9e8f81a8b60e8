import { expect } from "chai";
import { X509Certificate, createPublicKey } from "node:crypto";
import { OctetString } from "@peculiar/asn1-schema";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, TBSCertificate, Extension } from "@peculiar/asn1-x509";
import { CertificateIssuer, newSerial } from "../../src/ca/certificate-issuer.js";
import { ALL_LINTS, runLints } from "../../src/ca/lints/index.js";
import { buildTbs } from "../../src/ca/tbs-builder.js";
import { CaError } from "../../src/shared/ca-error.js";
import { FixedClock } from "../../src/shared/clock.js";
import { SeqRandom } from "../../src/shared/random.js";
import { encodeName, parseName } from "../../src/asn1/name.js";
import { toArrayBuffer } from "../../src/asn1/der.js";
import { MemoryCertStore } from "../support/fakes.js";
import { makeCsr, testKey } from "../support/keys.js";
import { ORG_SUBJECT, PROFILES, softwareAuthority } from "../support/test-ca.js";
import type { SoftwareSigner } from "../../src/hsm/software-signer.js";

const NOW = new Date("2026-06-01T12:00:00Z");

function setup() {
  const store = new MemoryCertStore();
  const clock = new FixedClock(NOW);
  const issuer = new CertificateIssuer({ profiles: PROFILES, store, clock, random: new SeqRandom(7) });
  const ca = softwareAuthority();
  return { store, clock, issuer, ca, signer: ca.signer as SoftwareSigner };
}

const EE = ["end-entity"] as const;

describe("ca/certificate-issuer", () => {
  for (const profileId of ["loa2-smartcard-auth", "loa3-smartcard-auth", "loa3-smartcard-sign"]) {
    for (const kt of ["P-256", "RSA-2048"] as const) {
      it(`ok/${profileId} with ${kt}: TBS from profile, lints pass, signed, stored, verifies`, async () => {
        const { issuer, ca, store } = setup();
        const key = testKey(kt);
        const out = await issuer.issue(ca, {
          profileId,
          publicKey: key.spki,
          subject: ORG_SUBJECT,
          san: { email: ["alice@example.se"] },
          requestedBy: "officer:1",
          allowedKinds: EE,
          validatedEmailDomains: ["example.se"],
        });
        const x = new X509Certificate(Buffer.from(out.der));
        expect(x.verify(createPublicKey({ key: Buffer.from(ca.signer.spki), format: "der", type: "spki" }))).to.equal(
          true,
        );
        expect(x.serialNumber.toLowerCase()).to.equal(out.serial);
        expect(x.subject).to.include("CN=Alice Andersson");
        expect(x.subject).to.include("organizationIdentifier=NTRSE-5560000001");
        expect(new Date(x.validFrom).toISOString()).to.equal("2026-06-01T11:59:00.000Z");
        expect(store.rows.get(out.serial)!.status).to.equal("issued");
        expect(store.audit.map((a) => a.action)).to.deep.equal(["cert.reserve", "cert.issue"]);
      });
    }
  }

  it("ok/serial is prefix octet + 128 random bits, positive and minimal", () => {
    const s = newSerial(2, new SeqRandom(3));
    expect(s).to.match(/^02[0-9a-f]{32}$/);
    expect(() => newSerial(0, new SeqRandom())).to.throw(CaError);
    expect(() => newSerial(128, new SeqRandom())).to.throw(CaError);
  });

  it("ok/validity is clamped to the issuer's notAfter", async () => {
    const { issuer, store } = setup();
    const ca = softwareAuthority("P-256", new Date("2027-01-01T00:00:00Z"));
    const out = await issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      publicKey: testKey("P-256").spki,
      subject: ORG_SUBJECT,
      requestedBy: "o",
      allowedKinds: EE,
    });
    expect(out.notAfter.toISOString()).to.equal("2027-01-01T00:00:00.000Z");
    expect(store.rows.size).to.equal(1);
  });

  it("ok/CSR: only the key is used, the CSR's subject is ignored", async () => {
    const { issuer, ca } = setup();
    const key = testKey("P-256");
    const out = await issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      csr: makeCsr(key, "Mallory Admin"),
      subject: ORG_SUBJECT,
      requestedBy: "o",
      allowedKinds: EE,
    });
    const x = new X509Certificate(Buffer.from(out.der));
    expect(x.subject).to.not.include("Mallory");
    expect(Buffer.from(x.publicKey.export({ type: "spki", format: "der" })).equals(Buffer.from(key.spki))).to.equal(
      true,
    );
  });

  it("ok/a serial collision burns the serial and draws another", async () => {
    const { issuer, ca, store } = setup();
    store.failNextReserveWithConflict = 1;
    const out = await issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      publicKey: testKey("P-256").spki,
      subject: ORG_SUBJECT,
      requestedBy: "o",
      allowedKinds: EE,
    });
    expect(store.rows.get(out.serial)!.status).to.equal("issued");
  });

  const refusals: [
    string,
    (k: ReturnType<typeof testKey>) => Parameters<CertificateIssuer["issue"]>[1],
    string,
    RegExp,
  ][] = [
    [
      "CSR whose signature is by another key (no proof of possession)",
      (k) => ({
        profileId: "loa3-smartcard-auth",
        csr: makeCsr(k, "x", testKey("P-256").privateKey),
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "invalid-input",
      /proof of possession/,
    ],
    [
      "garbage CSR",
      () => ({
        profileId: "loa3-smartcard-auth",
        csr: new Uint8Array([0x30, 0x03, 1, 2, 3]),
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "invalid-input",
      /PKCS#10/,
    ],
    [
      "CSR on a profile that forbids it",
      (k) => ({
        profileId: "issuing-ca",
        csr: makeCsr(k),
        subject: { CN: "x", O: "y", C: "SE" },
        requestedBy: "o",
        allowedKinds: ["ca"],
      }),
      "policy-violation",
      /PKCS#10/,
    ],
    [
      "key type outside the profile",
      () => ({
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("RSA-4096").spki,
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "policy-violation",
      /RSA-4096/,
    ],
    [
      "subject attribute the profile does not allow",
      (k) => ({
        profileId: "loa3-smartcard-auth",
        publicKey: k.spki,
        subject: { ...ORG_SUBJECT, OU: "Sales" },
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "policy-violation",
      /OU/,
    ],
    [
      "missing required subject attribute",
      (k) => ({
        profileId: "loa3-smartcard-auth",
        publicKey: k.spki,
        subject: { CN: "A", C: "SE" },
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "policy-violation",
      /required/,
    ],
    [
      "organisation number in the wrong format",
      (k) => ({
        profileId: "loa3-smartcard-auth",
        publicKey: k.spki,
        subject: { ...ORG_SUBJECT, organizationIdentifier: "5560000001" },
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "policy-violation",
      /organizationIdentifier/,
    ],
    [
      "UPN on the signature profile",
      (k) => ({
        profileId: "loa3-smartcard-sign",
        publicKey: k.spki,
        subject: ORG_SUBJECT,
        san: { upn: ["a@b"] },
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "policy-violation",
      /UPN|upn/,
    ],
    [
      "end-entity profile through the operator channel",
      (k) => ({
        profileId: "loa3-smartcard-auth",
        publicKey: k.spki,
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: ["infrastructure"],
      }),
      "forbidden",
      /channel/,
    ],
    [
      "unknown profile",
      (k) => ({ profileId: "nope", publicKey: k.spki, subject: ORG_SUBJECT, requestedBy: "o", allowedKinds: EE }),
      "not-found",
      /nope/,
    ],
    [
      "both key and CSR",
      (k) => ({
        profileId: "loa3-smartcard-auth",
        publicKey: k.spki,
        csr: makeCsr(k),
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "invalid-input",
      /exactly one/,
    ],
    [
      "public key that is not SPKI",
      () => ({
        profileId: "loa3-smartcard-auth",
        publicKey: new Uint8Array([1, 2, 3]),
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      }),
      "invalid-input",
      /SubjectPublicKeyInfo/,
    ],
  ];
  for (const [name, req, kind, re] of refusals) {
    it(`fail/${name}: clear error, no HSM call, nothing recorded`, async () => {
      const { issuer, ca, store, signer } = setup();
      let err: unknown;
      try {
        await issuer.issue(ca, req(testKey("P-256")));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(CaError);
      expect((err as CaError).kind).to.equal(kind);
      expect((err as CaError).message).to.match(re);
      expect(signer.calls).to.equal(0);
      expect(store.rows.size).to.equal(0);
    });
  }

  it("fail/a failing lint means nothing is signed and nothing is recorded", async () => {
    const { store, clock } = setup();
    const ca = softwareAuthority();
    const failing = { id: "always_fails", citation: "test", check: () => "boom" };
    const issuer = new CertificateIssuer({
      profiles: PROFILES,
      store,
      clock,
      random: new SeqRandom(),
      lints: [...ALL_LINTS, failing],
    });
    let err: unknown;
    await issuer
      .issue(ca, {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      })
      .catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("lint-failed");
    expect((err as CaError).message).to.include("always_fails");
    expect((ca.signer as SoftwareSigner).calls).to.equal(0);
    expect(store.rows.size).to.equal(0);
  });

  it("fail/an HSM error burns the serial as failed, never reused", async () => {
    const { issuer, store } = setup();
    const ca = softwareAuthority();
    (ca.signer as any).sign = async () => {
      throw new Error("CKR_DEVICE_ERROR");
    };
    let err: unknown;
    await issuer
      .issue(ca, {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      })
      .catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("hsm-unavailable");
    expect([...store.rows.values()].map((r) => r.status)).to.deep.equal(["failed"]);
  });

  it("fail/a signature that does not verify with the CA key is never returned", async () => {
    const { issuer, store } = setup();
    const ca = softwareAuthority();
    const other = softwareAuthority().signer;
    (ca.signer as any).sign = (d: Uint8Array) => other.sign(d);
    let err: unknown;
    await issuer
      .issue(ca, {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "o",
        allowedKinds: EE,
      })
      .catch((e) => (err = e));
    expect((err as CaError).message).to.match(/does not verify/);
    expect([...store.rows.values()].map((r) => r.status)).to.deep.equal(["failed"]);
  });
});

describe("ca/lints", () => {
  const ca = softwareAuthority();
  const profile = PROFILES.get("loa3-smartcard-auth")!;
  const good = () =>
    AsnConvert.parse(
      toArrayBuffer(
        buildTbs({
          profile,
          issuer: ca,
          subject: ORG_SUBJECT,
          san: { email: ["a@example.se"] },
          spki: testKey("P-256").spki,
          serial: newSerial(9, new SeqRandom()),
          now: NOW,
        }).der,
      ),
      TBSCertificate,
    );
  const lint = (tbs: TBSCertificate, p = profile) =>
    runLints(ALL_LINTS, {
      tbsDer: new Uint8Array(AsnConvert.serialize(tbs)),
      profile: p,
      issuer: ca,
      selfSigned: false,
      validatedEmailDomains: ["example.se"],
    }).map((f) => f.id);

  it("ok/a TBS built from each profile passes every lint", () => {
    for (const p of PROFILES.values()) {
      if (p.kind === "ca") continue;
      const subject = Object.fromEntries(Object.entries(ORG_SUBJECT).filter(([k]) => p.subject[k]));
      const { der } = buildTbs({
        profile: p,
        issuer: ca,
        subject,
        san:
          p.subjectAltName.krb5Principal?.from === "validated-email"
            ? { upn: ["ada@example.se"], krb5Principal: ["ada@EXAMPLE.SE"] } // from the validated e-mail (REQ-01)
            : p.subjectAltName.krb5Principal
              ? { krb5Principal: ["krbtgt/EXAMPLE.ORG@EXAMPLE.ORG"] }
              : {},
        spki: testKey("P-256").spki,
        serial: newSerial(9, new SeqRandom()),
        now: NOW,
      });
      expect(lint(AsnConvert.parse(toArrayBuffer(der), TBSCertificate), p), p.id).to.deep.equal([]);
    }
  });

  const mutations: [string, (t: TBSCertificate) => void][] = [
    ["serial_positive_max_20_octets", (t) => (t.serialNumber = toArrayBuffer(new Uint8Array([0x80, 1, 2])))],
    ["serial_at_least_64_random_bits", (t) => (t.serialNumber = toArrayBuffer(new Uint8Array([1, 2, 3, 4])))],
    ["validity_within_profile", (t) => (t.validity.notAfter.utcTime = new Date("2035-01-01T00:00:00Z"))],
    [
      "validity_within_issuer",
      (t) => {
        t.validity.notAfter.utcTime = undefined;
        t.validity.notAfter.generalTime = new Date("2037-01-01T00:00:00Z");
      },
    ],
    ["validity_ordered", (t) => (t.validity.notAfter.utcTime = new Date("2020-01-01T00:00:00Z"))],
    ["issuer_matches_ca_subject", (t) => (t.issuer = parseName(encodeName({ CN: "Someone Else" })))],
    ["subject_attributes_per_profile", (t) => (t.subject = parseName(encodeName({ ...ORG_SUBJECT, OU: "x" })))],
    ["extensions_unique_and_known", (t) => t.extensions!.push(t.extensions![0]!)],
    [
      "key_usage_per_profile",
      (t) => {
        const e = t.extensions!.find((x) => x.extnID === "2.5.29.15")!;
        e.critical = false;
      },
    ],
    [
      "eku_per_profile",
      (t) => {
        t.extensions = t.extensions!.filter((x) => x.extnID !== "2.5.29.37") as any;
      },
    ],
    [
      "aki_matches_issuer",
      (t) => {
        t.extensions = t.extensions!.filter((x) => x.extnID !== "2.5.29.35") as any;
      },
    ],
    [
      "certificate_policies_per_profile",
      (t) => {
        t.extensions = t.extensions!.filter((x) => x.extnID !== "2.5.29.32") as any;
      },
    ],
    [
      "crldp_per_profile",
      (t) => {
        t.extensions = t.extensions!.filter((x) => x.extnID !== "2.5.29.31") as any;
      },
    ],
    [
      "aia_per_profile",
      (t) => {
        t.extensions = t.extensions!.filter((x) => x.extnID !== "1.3.6.1.5.5.7.1.1") as any;
      },
    ],
    [
      "ocsp_nocheck_only_for_responders",
      (t) =>
        t.extensions!.push(
          new Extension({
            extnID: "1.3.6.1.5.5.7.48.1.5",
            critical: false,
            extnValue: new OctetString(Uint8Array.of(5, 0)),
          }),
        ),
    ],
    ["signature_algorithm_matches_ca_key", (t) => (t.signature.algorithm = "1.2.840.10045.4.3.3")],
  ];
  for (const [id, mutate] of mutations) {
    it(`fail/${id} catches its defect`, () => {
      const t = good();
      mutate(t);
      expect(lint(t)).to.include(id);
    });
  }

  it("ok/the hand-built DER is canonical: an independent ASN.1 library re-encodes it byte for byte", () => {
    for (const p of PROFILES.values()) {
      if (p.kind === "ca") continue;
      const subject = Object.fromEntries(Object.entries(ORG_SUBJECT).filter(([k]) => p.subject[k]));
      const san = {
        ...(p.subjectAltName.upn ? { email: ["a@example.se"], upn: ["a@corp.example"] } : {}),
        ...(p.subjectAltName.krb5Principal ? { krb5Principal: ["krbtgt/EXAMPLE.ORG@EXAMPLE.ORG"] } : {}),
      };
      const { der } = buildTbs({
        profile: p,
        issuer: ca,
        subject,
        san,
        spki: testKey("P-384").spki,
        serial: newSerial(9, new SeqRandom()),
        now: NOW,
      });
      const again = new Uint8Array(AsnConvert.serialize(AsnConvert.parse(toArrayBuffer(der), TBSCertificate)));
      expect(Buffer.from(again).equals(Buffer.from(der)), p.id).to.equal(true);
    }
  });

  it("ok/the certificate openssl would parse: Certificate = tbs + alg + signature", async () => {
    const { issuer } = setup();
    const out = await issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      publicKey: testKey("P-256").spki,
      subject: ORG_SUBJECT,
      requestedBy: "o",
      allowedKinds: EE,
    });
    const cert = AsnConvert.parse(toArrayBuffer(out.der), Certificate);
    expect(cert.signatureAlgorithm.algorithm).to.equal("1.2.840.10045.4.3.2");
  });
});

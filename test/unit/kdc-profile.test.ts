import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateIssuer } from "../../src/ca/certificate-issuer.js";
import { buildTbs } from "../../src/ca/tbs-builder.js";
import { runLints, ALL_LINTS } from "../../src/ca/lints/index.js";
import {
  decodeKrb5PrincipalName,
  encodeKrb5PrincipalName,
  parseKrb5Principal,
} from "../../src/asn1/krb5-principal-name.js";
import { toPem } from "../../src/asn1/der.js";
import { CaError } from "../../src/shared/ca-error.js";
import { FixedClock } from "../../src/shared/clock.js";
import { SeqRandom } from "../../src/shared/random.js";
import { MemoryCertStore } from "../support/fakes.js";
import { testKey } from "../support/keys.js";
import { PROFILES, softwareAuthority } from "../support/test-ca.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const OPS = ["infrastructure"] as const;
const issuer = () =>
  new CertificateIssuer({
    profiles: PROFILES,
    store: new MemoryCertStore(),
    clock: new FixedClock(NOW),
    random: new SeqRandom(5),
  });

describe("kdc profile: PKINIT KDC certificate (RFC 4556 3.2.2)", () => {
  it("ok/KRB5PrincipalName: the DER of RFC 4556 3.2.2 (realm, NT-SRV-INST, components), read back the same", () => {
    const der = encodeKrb5PrincipalName("krbtgt/EXAMPLE.ORG@EXAMPLE.ORG");
    // SEQUENCE { [0] GeneralString realm, [1] SEQUENCE { [0] INTEGER 2, [1] SEQUENCE { GeneralString... } } }
    expect(Buffer.from(der).toString("hex")).to.equal(
      "3031a00d1b0b4558414d504c452e4f5247a120301ea003020102a11730151b066b72627467741b0b4558414d504c452e4f5247",
    );
    expect(decodeKrb5PrincipalName(der)).to.equal("krbtgt/EXAMPLE.ORG@EXAMPLE.ORG");
    expect(decodeKrb5PrincipalName(encodeKrb5PrincipalName("cy@EXAMPLE.ORG"))).to.equal("cy@EXAMPLE.ORG");
  });

  for (const bad of ["krbtgt/EXAMPLE.ORG", "@EXAMPLE.ORG", "a//b@R", "a\\/b@R", "å@R", "a b@R", "a@"])
    it(`fail/'${bad}' is not a principal's text form`, () => {
      expect(() => parseKrb5Principal(bad)).to.throw(CaError, /Kerberos principal/);
    });

  it(`ok/issued through the operator channel: EKU id-pkinit-KPKdc, SAN id-pkinit-san, lints pass; openssl parses the \
otherName`, async () => {
    const ca = softwareAuthority();
    const out = await issuer().issue(ca, {
      profileId: "kdc",
      publicKey: testKey("P-256").spki,
      subject: { CN: "kdc.example.org", O: "Example AB", C: "SE" },
      san: { krb5Principal: ["krbtgt/EXAMPLE.ORG@EXAMPLE.ORG"] },
      requestedBy: "operator:ed",
      allowedKinds: OPS,
    });
    const x = new X509Certificate(Buffer.from(out.der));
    expect(x.keyUsage).to.deep.equal(["1.3.6.1.5.2.3.5"]);
    const dir = mkdtempSync(join(tmpdir(), "kdc-"));
    writeFileSync(join(dir, "kdc.pem"), toPem("CERTIFICATE", out.der));
    const asn1 = (args: string[]) => {
      const r = spawnSync("openssl", ["asn1parse", "-in", join(dir, "kdc.pem"), "-i", ...args], { encoding: "utf8" });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout;
    };
    // The SAN extension's OCTET STRING, parsed on its own (openssl's x509 -text prints otherNames it does not know as
    // "<unsupported>").
    const sanAt = /Subject Alternative Name\n\s*(\d+):d=\d+\s+hl=\d+.*OCTET STRING/.exec(asn1([]))?.[1];
    expect(sanAt, "SAN extension").to.be.a("string");
    const p = { stdout: asn1(["-strparse", sanAt!]) };
    expect(p.stdout).to.match(/OBJECT\s+:1\.3\.6\.1\.5\.2\.2/);
    // realm, then name-type 2 (NT-SRV-INST) and the two components (openssl does not print GeneralString contents).
    expect((p.stdout.match(/GENERALSTRING/g) ?? []).length).to.equal(3);
    expect(p.stdout).to.match(/INTEGER\s+:02/);
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ["no KDC principal", {}, /krb5Principal is required/],
    ["another realm's TGS", { krb5Principal: ["krbtgt/OTHER.ORG@EXAMPLE.ORG"] }, /does not match/],
    ["a user principal", { krb5Principal: ["cy@EXAMPLE.ORG"] }, /does not match/],
    ["a UPN (not in the profile)", { krb5Principal: ["krbtgt/A@A"], upn: ["kdc@a"] }, /SAN upn not allowed/],
  ];
  for (const [name, san, re] of refusals)
    it(`fail/${name} is refused before signing`, async () => {
      try {
        await issuer().issue(softwareAuthority(), {
          profileId: "kdc",
          publicKey: testKey("P-256").spki,
          subject: { CN: "kdc.example.org" },
          san,
          requestedBy: "operator:ed",
          allowedKinds: OPS,
        });
        expect.fail("issued");
      } catch (e) {
        expect(CaError.is(e, "policy-violation"), String(e)).to.equal(true);
        expect((e as Error).message).to.match(re);
      }
    });

  it(`fail/the lint reads the SAN back: a pkinit SAN on a card profile, and a KDC certificate without one, are \
findings`, () => {
    const ca = softwareAuthority();
    const lint = (profileId: string, san: Record<string, string[]>) => {
      const profile = PROFILES.get(profileId)!;
      const tbs = buildTbs({
        profile,
        issuer: ca,
        subject: { CN: "kdc.example.org" },
        san,
        spki: testKey("P-256").spki,
        serial: "0a0102030405060708",
        now: NOW,
      });
      return runLints(ALL_LINTS, { tbsDer: tbs.der, profile, issuer: ca, selfSigned: false })
        .filter((f) => f.id === "san_per_profile")
        .map((f) => f.message);
    };
    expect(lint("kdc", { krb5Principal: ["krbtgt/EXAMPLE.ORG@EXAMPLE.ORG"] })).to.deep.equal([]);
    expect(lint("kdc", {})).to.deep.equal(["SAN id-pkinit-san required by profile"]);
    expect(lint("kdc", { krb5Principal: ["krbtgt/A.ORG@B.ORG"] })).to.deep.equal([
      "SAN id-pkinit-san does not match the profile pattern",
    ]);
    expect(lint("ocsp-signer", { krb5Principal: ["krbtgt/A@A"] })).to.deep.equal([
      "SAN id-pkinit-san not allowed by profile",
    ]);
  });
});

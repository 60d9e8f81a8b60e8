import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateIssuer } from "../../src/ca/certificate-issuer.js";
import { FixedClock } from "../../src/shared/clock.js";
import { SeqRandom } from "../../src/shared/random.js";
import { LOGON_NAME_RULE, logonNames } from "../../src/ra/logon-name.js";
import { loadWorkflows } from "../../src/policy/workflow.js";
import { sanAsOpenSslReads } from "../support/openssl-san.js";
import { MemoryCertStore } from "../support/fakes.js";
import { testKey } from "../support/keys.js";
import { refusal, refused } from "../support/refused.js";
import { ORG_SUBJECT, PROFILES, REPO_ROOT, softwareAuthority } from "../support/test-ca.js";

const LOGON = PROFILES.get("loa3-smartcard-logon")!;

describe(`ra/logon-name: the holder's UPN and Kerberos principal from the e-mail in the validated domain \
(REQ-01)`, () => {
  it("ok/the profile says which names: UPN local@domain, id-pkinit-san local@DOMAIN, lower-case local part", () => {
    expect(LOGON.subjectAltName.upn).to.include({ presence: "required", from: "validated-email" });
    expect(LOGON.subjectAltName.krb5Principal).to.include({ presence: "required", from: "validated-email" });
    expect(logonNames(LOGON, { email: "Cy.Holder@Kund.Example" }, ["kund.example"])).to.deep.equal({
      upn: ["cy.holder@kund.example"],
      krb5Principal: ["cy.holder@KUND.EXAMPLE"],
    });
    // Only the names the profile takes from the validated e-mail.
    const upnOnly = { ...LOGON, subjectAltName: { upn: LOGON.subjectAltName.upn! } };
    expect(logonNames(upnOnly, { email: "cy@kund.example" }, ["kund.example"])).to.deep.equal({
      upn: ["cy@kund.example"],
    });
  });

  it(`ok/a profile without a logon-name source asks for none (the card authentication profile: the RA sets no \
UPN)`, () => {
    const auth = PROFILES.get("loa3-smartcard-auth")!;
    expect(auth.subjectAltName.upn?.from).to.equal(undefined);
    expect(logonNames(auth, { email: "cy@kund.example" }, ["kund.example"])).to.deep.equal({});
  });

  it(`fail/no e-mail, another domain, a subdomain, no validated domain, a local part no principal can hold: refused \
naming the rule`, () => {
    const cases: [{ email?: string }, string[], string][] = [
      [{}, ["kund.example"], "logon-name.no-email"],
      [{ email: "cy@gmail.example" }, ["kund.example"], "logon-name.outside-validated-domain"],
      [{ email: "cy@mail.kund.example" }, ["kund.example"], "logon-name.outside-validated-domain"],
      [{ email: "cy@kund.example" }, [], "logon-name.no-validated-domain"],
      [{ email: "cy/admin@kund.example" }, ["kund.example"], "logon-name.unusable-local-part"],
      [{ email: "cy..h@kund.example" }, ["kund.example"], "logon-name.unusable-local-part"],
      [{ email: '"cy h"@kund.example' }, ["kund.example"], "logon-name.unusable-local-part"],
    ];
    for (const [holder, domains, code] of cases) {
      const e = refusal(() => logonNames(LOGON, holder, domains));
      expect([e.kind, e.code], JSON.stringify(holder)).to.deep.equal(["policy-violation", code]);
      expect(e.details).to.include({ rule: LOGON_NAME_RULE, requirement: "REQ-01" });
      expect(e.message).to.include(LOGON_NAME_RULE);
    }
  });

  it("ok/the shipped logon workflow makes RSA-2048 cards with the logon profile", () => {
    const w = loadWorkflows(join(REPO_ROOT, "policies", "workflows")).get("loa3-card-order-logon")!;
    expect(w.profiles).to.deep.equal(["loa3-smartcard-logon"]);
    expect(w.card.algorithm).to.equal("RSA-2048");
    expect(w.loa).to.equal(3);
  });
});

describe("ca/certificate-issuer: logon names in the certificate, judged by OpenSSL", () => {
  const issue = (san: { upn?: string[]; krb5Principal?: string[] }, domains: string[]) => {
    const store = new MemoryCertStore();
    const issuer = new CertificateIssuer({
      profiles: PROFILES,
      store,
      clock: new FixedClock(new Date("2026-06-01T12:00:00Z")),
      random: new SeqRandom(5),
    });
    const ca = softwareAuthority();
    const p = issuer.issue(ca, {
      profileId: "loa3-smartcard-logon",
      publicKey: testKey("P-256").spki,
      subject: ORG_SUBJECT,
      san,
      requestedBy: "o",
      allowedKinds: ["end-entity"],
      validatedEmailDomains: domains,
    });
    return { p, store, signer: ca.signer as unknown as { calls: number } };
  };

  it("ok/UPN otherName and id-pkinit-san KRB5PrincipalName as OpenSSL reads them", async () => {
    const out = await issue({ upn: ["cy@kund.example"], krb5Principal: ["cy@KUND.EXAMPLE"] }, ["kund.example"]).p;
    const dir = mkdtempSync(join(tmpdir(), "logon-name-"));
    const file = join(dir, "c.der");
    writeFileSync(file, out.der);
    const san = await sanAsOpenSslReads(file, "DER");
    expect(san.text).to.include("othername: UPN::cy@kund.example");
    expect(san.text).to.include("othername: 1.3.6.1.5.2.2::"); // named, its value not printed by OpenSSL 3.0
    expect(san.der).to.deep.equal([
      "OBJECT :Microsoft User Principal Name",
      "UTF8STRING :cy@kund.example",
      "OBJECT :1.3.6.1.5.2.2",
      "GENERALSTRING :KUND.EXAMPLE", // realm
      "INTEGER :01", // NT-PRINCIPAL (RFC 4120 6.2)
      "GENERALSTRING :cy", // the one name component
    ]);
  });

  it(`fail/a logon name outside the validated domain (or the realm of another) is not signed: \
lint-failed`, async () => {
    const cases: [{ upn: string[]; krb5Principal: string[] }, string, RegExp][] = [
      [{ upn: ["cy@other.example"], krb5Principal: ["cy@KUND.EXAMPLE"] }, "lint-failed", /UPN .* validated domains/],
      [{ upn: ["cy@kund.example"], krb5Principal: ["cy@OTHER.EXAMPLE"] }, "lint-failed", /validated domain's realm/],
      [
        { upn: ["cy@kund.example"], krb5Principal: ["krbtgt/KUND.EXAMPLE@KUND.EXAMPLE"] },
        "policy-violation",
        /does not match/,
      ],
    ];
    for (const [san, kind, why] of cases) {
      const { p, store } = issue(san, ["kund.example"]);
      const e = await refused(p);
      expect([e.kind, e.message], JSON.stringify(san)).to.satisfy(
        ([k, m]: [string, string]) => k === kind && why.test(m + JSON.stringify(e.details)),
      );
      expect(store.rows.size).to.equal(0);
    }
  });
});

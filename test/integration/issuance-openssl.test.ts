import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa, type Opened, type OperatorCa } from "../../src/composition/operator-role.js";
import { toPem } from "../../src/asn1/der.js";
import { demoEnv, openssl, writeTemp, type DemoEnv } from "../support/environment.js";
import { makeCsr, testKey } from "../support/keys.js";
import { ORG_SUBJECT } from "../support/test-ca.js";

/** Judged by independent tools: OpenSSL (and GnuTLS certtool) verify what the HSM-backed CA issues. */
describe("CA issuance on SoftHSM2, judged by OpenSSL", function () {
  this.timeout(180_000);
  let env: DemoEnv;
  let rt: Opened<OperatorCa>;
  let dir: string;
  let rootPem: string;
  let chainPem: string;
  before(async function () {
    env = demoEnv(this);
    rt = await openOperatorCa(loadConfig());
    dir = mkdtempSync(join(tmpdir(), "issued-"));
    rootPem = join(env.caStore, "demo-root", "cert.pem");
    chainPem = join(env.caStore, "demo-issuing", "cert.pem");
  });
  after(async () => rt?.close());

  it("ok/the ceremony-made chain verifies: issuing CA under the root", () => {
    const r = openssl(["verify", "-x509_strict", "-CAfile", rootPem, chainPem]);
    expect(r.out).to.include(": OK");
    const text = openssl(["x509", "-in", chainPem, "-noout", "-text"]).out;
    expect(text).to.match(/CA:TRUE, pathlen:0/);
    expect(text).to.include("URI:http://pki.test:8080/crl/demo-root.crl");
  });

  const cases: [string, "end-entity" | "infrastructure", "P-256" | "P-384" | "RSA-2048" | "RSA-3072", string[]][] = [
    [
      "loa2-smartcard-auth",
      "end-entity",
      "P-256",
      ["TLS Web Client Authentication", "Microsoft Smartcard Login", "E-mail Protection", "Policy: 2.999.1.1.2"],
    ],
    [
      "loa3-smartcard-auth",
      "end-entity",
      "P-384",
      ["TLS Web Client Authentication", "Microsoft Smartcard Login", "Policy: 2.999.1.1.3", "Digital Signature"],
    ],
    ["loa3-smartcard-sign", "end-entity", "RSA-2048", ["Non Repudiation", "E-mail Protection", "Policy: 2.999.1.2.3"]],
    ["ra-officer", "infrastructure", "RSA-3072", ["TLS Web Client Authentication", "Policy: 2.999.1.3.1"]],
    ["ocsp-signer", "infrastructure", "P-256", ["OCSP Signing", "OCSP No Check"]],
  ];
  for (const [profileId, kind, kt, expected] of cases) {
    it(`ok/${profileId} (${kt}) verifies with openssl verify -x509_strict and certtool, and shows its \
profile`, async () => {
      const key = testKey(kt);
      const subject =
        profileId === "ocsp-signer" ? { CN: "Demo OCSP Responder", O: "cardpki demo", C: "SE" } : ORG_SUBJECT;
      const san = profileId.includes("auth")
        ? { email: ["alice@example.se"], upn: ["alice@example.se"] }
        : profileId === "loa3-smartcard-sign"
          ? { email: ["alice@example.se"] }
          : {};
      const out = await rt.issuer.issue(rt.authority("demo-issuing"), {
        profileId,
        csr: makeCsr(key),
        subject,
        san,
        requestedBy: "test",
        allowedKinds: [kind],
        validatedEmailDomains: ["example.se"], // REQ-01
      });
      const pem = writeTemp(dir, `${profileId}.pem`, toPem("CERTIFICATE", out.der));
      const v = openssl(["verify", "-x509_strict", "-CAfile", rootPem, "-untrusted", chainPem, pem]);
      expect(v.out, v.out).to.include(": OK");
      const text = openssl(["x509", "-in", pem, "-noout", "-text"]).out;
      for (const e of expected) expect(text, text).to.include(e);
      if (profileId === "ocsp-signer") expect(text).to.not.include("OCSP - URI");
      else expect(text).to.include("OCSP - URI:http://pki.test:8080/ocsp");
      expect(text).to.include("CA Issuers - URI:http://pki.test:8080/ca/demo-issuing.cer");
      if (profileId !== "ocsp-signer") expect(text).to.include("URI:http://pki.test:8080/crl/demo-issuing.crl");
      if (profileId === "loa3-smartcard-auth")
        expect(text).to.match(/othername: UPN::alice@example\.se|othername:\s*UPN/);
      const rec = await rt.store.get(out.serial);
      expect(rec!.status).to.equal("issued");
      expect(Buffer.from(rec!.der!).equals(Buffer.from(out.der))).to.equal(true);
      // GnuTLS as a second, independent judge.
      if (spawnSync("sh", ["-c", "command -v certtool"]).status === 0) {
        const bundle = writeTemp(
          dir,
          `${profileId}-bundle.pem`,
          readFileSync(pem, "utf8") + readFileSync(chainPem, "utf8"),
        );
        const g = spawnSync(
          "certtool",
          ["--verify", "--verify-profile", "medium", "--load-ca-certificate", rootPem, "--infile", bundle],
          { encoding: "utf8" },
        );
        expect(g.stdout + g.stderr, g.stdout + g.stderr).to.match(/Chain verification output: Verified/);
      } else if (process.env.CI === "true") throw new Error("certtool required under CI");
    });
  }

  it("fail/an end-entity profile cannot be asked for through the operator channel", async () => {
    let err: any;
    await rt.issuer
      .issue(rt.authority("demo-issuing"), {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "t",
        allowedKinds: ["infrastructure"],
      })
      .catch((e) => (err = e));
    expect(err.kind).to.equal("forbidden");
  });
});

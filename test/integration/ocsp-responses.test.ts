import { expect } from "chai";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig, type Config } from "../../src/composition/config.js";
import { startService, type RoleService, type Service } from "../../src/composition/serve.js";
import { toPem } from "../../src/asn1/der.js";
import { demoBackends, demoEnvReady, run, waitFor, writeTemp, type DemoEnv } from "../support/environment.js";
import { testKey } from "../support/keys.js";
import { ORG_SUBJECT, REPO_ROOT } from "../support/test-ca.js";

/** OCSP responder signatures a process reports on /metrics (cardpki_hsm_signatures_total, key ocsp:*). */
async function ocspSignatures(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^cardpki_hsm_signatures_total\{key="ocsp:[^"]*"\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** cardpki_certificates{status="issued"} on /metrics. */
async function issuedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^cardpki_certificates\{status="issued"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** A copy of the policies with the OCSP part of the revocation policy changed. */
function policyDir(change: (yaml: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "ocsp-policy-"));
  cpSync(join(REPO_ROOT, "policies"), dir, { recursive: true });
  const file = join(dir, "revocation", "revocation.yaml");
  writeFileSync(file, change(readFileSync(file, "utf8")));
  return dir;
}

/**
 * Pre-produced OCSP responses, nonce policy and signing budgets (RFC 5019, RFC 6960, RFC 8954),
 * judged by `openssl ocsp`: the writer signs when a certificate is issued or changes status,
 * public replicas answer from the response store without signing, and a client can make only
 * as many signatures on demand as its budget allows.
 */
for (const backend of demoBackends())
  describe(`ocsp: pre-produced responses, nonce policy, budgets (REQ-17) [${backend}]`, function () {
    this.timeout(180_000);
    let env: DemoEnv;
    let config: Config;
    let writer: Service;
    /** nonce: ignore, unknownSerial: unauthorized. */
    let quiet: RoleService;
    /** nonce: echo, a budget of two signatures on demand and no refill. */
    let strict: RoleService;
    let dir: string;
    let root: string;
    let issuing: string;
    const certs: Record<string, { pem: string; serial: string }> = {};
    let issuedBefore = 0;

    const ocsp = (url: string, args: string[]) =>
      run("openssl", ["ocsp", "-issuer", issuing, "-CAfile", root, "-url", `${url}/ocsp`, ...args]);
    const issue = async (name: string) => {
      const out = await writer.parts.issuer.issue(writer.parts.authority("demo-issuing"), {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "test",
        allowedKinds: ["end-entity"],
      });
      certs[name] = { pem: writeTemp(dir, `${name}.pem`, toPem("CERTIFICATE", out.der)), serial: out.serial };
    };

    before(async function () {
      env = await demoEnvReady(this, backend);
      config = { ...loadConfig(env.env), host: "127.0.0.1", port: 0, ra: { ...loadConfig(env.env).ra, port: 0 } };
      writer = await startService(config, { eventPollMs: 100, crlTickMs: 300, ocspSweepMs: 100 });
      dir = mkdtempSync(join(tmpdir(), "ocsp-responses-"));
      root = join(env.caStore, "demo-root", "cert.pem");
      issuing = join(env.caStore, "demo-issuing", "cert.pem");
      quiet = await startService(
        {
          ...config,
          policyDir: policyDir((y) =>
            y
              .replace(/nonce: echo/, "nonce: ignore")
              .replace(/unknownSerial: unknown-signed/, "unknownSerial: unauthorized"),
          ),
        },
        { role: "public", eventPollMs: 100 },
      );
      strict = await startService(
        {
          ...config,
          policyDir: policyDir((y) =>
            y
              .replace(/perClientPerSecond: \d+/, "perClientPerSecond: 0")
              .replace(/perClientBurst: \d+/, "perClientBurst: 2"),
          ),
        },
        { role: "public", eventPollMs: 100 },
      );
      const before = await ocspSignatures(writer.url);
      issuedBefore = await issuedCount(writer.url);
      for (const n of ["alice", "bob"]) await issue(n);
      // The writer pre-produces each new certificate's response (off the issuance path).
      expect(await waitFor(async () => (await ocspSignatures(writer.url)) >= before + 2, 10_000)).to.equal(true);
    });
    after(async () => {
      await strict?.stop();
      await quiet?.stop();
      await writer?.stop();
    });

    it(`ok/a replica answers from the writer's pre-produced responses and signs nothing: good, then revoked within \
seconds (openssl ocsp -no_nonce)`, async () => {
      const r = await ocsp(quiet.url, ["-no_nonce", "-cert", certs.alice!.pem]);
      expect(r.out).to.include("Response verify OK");
      expect(r.out).to.match(/alice\.pem: good/);
      const w = await ocspSignatures(writer.url);
      await writer.parts.registry.revoke({ serial: certs.bob!.serial, reason: "keyCompromise", actor: "test" });
      // The writer re-signs on the status change (REQ-17) ...
      expect(await waitFor(async () => (await ocspSignatures(writer.url)) > w, 5000)).to.equal(true);
      // ... and the replica shows it from the store.
      let out = "";
      expect(
        await waitFor(
          async () =>
            /bob\.pem: revoked/.test((out = (await ocsp(quiet.url, ["-no_nonce", "-cert", certs.bob!.pem])).out)),
          5000,
        ),
        out,
      ).to.equal(true);
      expect(out).to.include("Reason: keyCompromise");
      expect(out).to.include("Response verify OK");
      expect(await ocspSignatures(quiet.url)).to.equal(0);
    });

    it(`ok//metrics counts certificates without a scan (kept by triggers) and the count follows issuance, on writer \
and replica alike`, async () => {
      expect(await issuedCount(writer.url)).to.equal(issuedBefore + 2);
      expect(await issuedCount(quiet.url)).to.equal(issuedBefore + 2);
    });

    it(`ok/nonce: ignore answers a request with a nonce with the pre-produced response (RFC 8954 2.1): openssl warns \
of no nonce, verifies, no signature`, async () => {
      const r = await ocsp(quiet.url, ["-cert", certs.alice!.pem]);
      expect(r.out).to.include("WARNING: no nonce in response");
      expect(r.out).to.include("Response verify OK");
      expect(r.out).to.match(/alice\.pem: good/);
      expect(await ocspSignatures(quiet.url)).to.equal(0);
    });

    it(`ok/unknownSerial: unauthorized answers a never-issued serial with the unsigned unauthorized (RFC 5019 2.2.3), \
never good`, async () => {
      const r = await ocsp(quiet.url, ["-no_nonce", "-serial", "0x01" + randomBytes(16).toString("hex")]);
      expect(r.out).to.match(/Responder Error: unauthorized \(6\)/);
      expect(await ocspSignatures(quiet.url)).to.equal(0);
    });

    it(`ok/nonce: echo signs for a nonce while the client's budget lasts; then the pre-produced response without \
nonce; a miss over budget is tryLater`, async () => {
      const s0 = await ocspSignatures(strict.url);
      for (let i = 0; i < 2; i++) {
        const r = await ocsp(strict.url, ["-cert", certs.alice!.pem]);
        expect(r.out).to.include("Response verify OK");
        expect(r.out).to.not.include("WARNING: no nonce");
        expect(r.out).to.match(/alice\.pem: good/);
      }
      const over = await ocsp(strict.url, ["-cert", certs.alice!.pem]);
      expect(over.out).to.include("WARNING: no nonce in response");
      expect(over.out).to.include("Response verify OK");
      expect(over.out).to.match(/alice\.pem: good/);
      const unknown = await ocsp(strict.url, ["-no_nonce", "-serial", "0x01" + randomBytes(16).toString("hex")]);
      expect(unknown.out).to.match(/Responder Error: trylater \(3\)/);
      expect(await ocspSignatures(strict.url)).to.equal(s0 + 2);
    });

    it("fail/a foreign issuer is unauthorized on every replica, whatever the policy", async () => {
      for (const url of [quiet.url, strict.url]) {
        const r = await run("openssl", [
          "ocsp",
          "-issuer",
          root,
          "-cert",
          issuing,
          "-url",
          `${url}/ocsp`,
          "-CAfile",
          root,
          "-no_nonce",
        ]);
        expect(r.out).to.match(/Responder Error: unauthorized \(6\)/);
      }
    });
  });

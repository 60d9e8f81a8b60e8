import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { toPem } from "../../src/asn1/der.js";
import { CLI, demoBackends, demoEnvReady, run, waitFor, writeTemp, type DemoEnv } from "../support/environment.js";
import { seedOrganisation } from "../support/seed-organisation.js";

const COUNT = 5000;

/**
 * Mass revocation (REQ-19: an organisation ceases) from outside: the CLI as a subprocess, killed
 * with SIGKILL mid-way and resumed; OCSP judged by `openssl ocsp`, the CRL by `openssl crl`.
 */
for (const backend of demoBackends())
  describe(`mass revocation: an organisation ceases, one resumable job (REQ-19) [${backend}]`, function () {
    this.timeout(300_000);
    let env: DemoEnv;
    let svc: Service;
    let dir: string;
    let seeded: { orgNumber: string; serials: string[] };
    let jobId = "";
    const officer = (name: string) => join(env.env.CARDPKI_DATA_DIR!, "demo-officers", name);
    const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: env.env, encoding: "utf8" });
    const lines = (out: string) =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);

    before(async function () {
      env = await demoEnvReady(this, backend);
      svc = await startService(
        { ...loadConfig({ ...env.env, CARDPKI_RA_PORT: "0" }), host: "127.0.0.1", port: 0 },
        { eventPollMs: 100, crlTickMs: 300 },
      );
      dir = mkdtempSync(join(tmpdir(), "mass-revocation-"));
      seeded = await seedOrganisation(svc.parts.db, { count: COUNT, issuerId: "demo-issuing" });
    });
    after(async () => svc?.stop());

    it(`fail/an ra-officer who is not ra-admin or ca-operator may not start it: refused, naming REQ-19, nothing \
revoked`, () => {
      const r = cli(["revoke", "org", seeded.orgNumber, "--cert", officer("bo.crt"), "--key", officer("bo.key")]);
      expect(r.status).to.not.equal(0);
      expect(r.stderr).to.match(/REQ-19/);
      expect(r.stderr).to.match(/ra-admin or ca-operator/);
      const s = lines(cli(["revoke", "job-status"]).stdout).filter((j) => j.organisation === seeded.orgNumber);
      expect(s).to.deep.equal([]);
    });

    it("fail/a certificate without its key is refused", () => {
      const r = cli(["revoke", "org", seeded.orgNumber, "--cert", officer("ada.crt"), "--key", officer("bo.key")]);
      expect(r.status).to.not.equal(0);
      expect(r.stderr).to.match(/key does not belong/);
    });

    it(`ok/started through the CLI, killed with SIGKILL mid-way, resumed: every serial revoked once, progress visible, \
audit chain intact`, async () => {
      const child = spawn(
        process.execPath,
        [
          CLI,
          "revoke",
          "org",
          seeded.orgNumber,
          "--reason",
          "cessationOfOperation",
          "--cert",
          officer("ada.crt"),
          "--key",
          officer("ada.key"),
          "--batch-size",
          "100",
        ],
        { env: env.env, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const killed = new Promise<void>((resolve) => {
        child.stdout.on("data", (d) => {
          out += d;
          const progressed = lines(out).some((l) => Number(l.done) > 0 && Number(l.done) < COUNT);
          if (progressed && child.exitCode === null && !child.killed) child.kill("SIGKILL");
        });
        child.on("exit", () => resolve());
      });
      await killed;
      expect(child.signalCode, err).to.equal("SIGKILL");
      const first = lines(out)[0]!;
      jobId = String(first.job);
      expect(first.total).to.equal(COUNT);
      const mid = lines(cli(["revoke", "job-status", jobId]).stdout)[0]!;
      expect(mid.status).to.equal("running");
      expect(Number(mid.done)).to.be.greaterThan(0).and.lessThan(COUNT);
      expect(mid.operatorCertificate).to.match(/^[0-9a-f]+$/);

      // A second start for the same organisation is refused while the job runs: resume it.
      const again = cli(["revoke", "org", seeded.orgNumber, "--cert", officer("ada.crt"), "--key", officer("ada.key")]);
      expect(again.status).to.not.equal(0);
      expect(again.stderr).to.match(/still running/);

      const resumed = cli(["revoke", "resume", jobId, "--cert", officer("ada.crt"), "--key", officer("ada.key")]);
      expect(resumed.status, resumed.stderr).to.equal(0);
      const last = lines(resumed.stdout).pop()!;
      expect(last).to.include({ status: "done", done: COUNT, total: COUNT, revoked: COUNT, skipped: 0 });
      const status = lines(cli(["revoke", "job-status", jobId]).stdout)[0]!;
      expect(status).to.include({ status: "done", done: COUNT, revoked: COUNT });
      const verify = cli(["audit", "verify"]);
      expect(verify.status, verify.stdout + verify.stderr).to.equal(0);
    });

    it(`ok/openssl ocsp says revoked (cessationOfOperation) for a sample within 60 s; the full CRL lists every serial \
once within afterRevocationSeconds`, async () => {
      expect(jobId).to.not.equal("");
      const issuing = join(env.caStore, "demo-issuing", "cert.pem");
      const root = join(env.caStore, "demo-root", "cert.pem");
      const sample = [0, 1, 777, 2500, COUNT - 1].map((i) => seeded.serials[i]!);
      for (const serial of sample) {
        let o = "";
        const seen = await waitFor(
          async () => {
            const r = await run("openssl", [
              "ocsp",
              "-issuer",
              issuing,
              "-CAfile",
              root,
              "-no_nonce",
              "-url",
              `${svc.url}/ocsp`,
              "-serial",
              "0x" + serial,
            ]);
            o = r.out;
            return /: revoked/.test(o);
          },
          60_000,
          500,
        );
        expect(seen, o).to.equal(true);
        expect(o).to.match(/Reason: cessationOfOperation/);
        expect(o).to.include("Response verify OK");
      }
      const limitMs = (svc.parts.revocationPolicy.crl.afterRevocationSeconds + 10) * 1000;
      let listed = new Set<string>();
      let count = 0;
      const want = new Set(seeded.serials.map((s) => s.toUpperCase()));
      const complete = await waitFor(
        async () => {
          const res = await fetch(`${svc.url}/crl/demo-issuing.crl`);
          const pem = writeTemp(dir, "full.crl.pem", toPem("X509 CRL", new Uint8Array(await res.arrayBuffer())));
          const text = (await run("openssl", ["crl", "-in", pem, "-noout", "-text", "-CAfile", issuing])).out;
          if (!text.includes("verify OK")) return false;
          const serials = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)]
            .map((m) => m[1]!)
            .filter((s) => want.has(s));
          listed = new Set(serials);
          count = serials.length;
          return listed.size === COUNT;
        },
        limitMs,
        2000,
      );
      expect(complete, `${listed.size} of ${COUNT} on the full CRL`).to.equal(true);
      expect(count).to.equal(COUNT); // each once
    });
  });

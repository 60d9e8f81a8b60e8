import { expect } from "chai";
import { spawn } from "node:child_process";
import { X509Certificate, createPublicKey } from "node:crypto";
import { join } from "node:path";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa } from "../../src/composition/operator-role.js";
import { openDatabase } from "../../src/store/database.js";
import { demoBackends, demoEnvReady } from "../support/environment.js";
import { REPO_ROOT } from "../support/test-ca.js";

const LOOP = join(REPO_ROOT, "dist", "test", "support", "issue-loop.js");

/** Design: a crash between sign and store never yields a duplicate serial or an unrecorded valid certificate. */
for (const backend of demoBackends())
  describe(`crash: kill -9 during issuance [${backend}]`, function () {
    this.timeout(300_000);

    it(`ok/after 6 kills: no serial repeats, every stored certificate verifies, unfinished serials are \
revoked`, async function () {
      const env = await demoEnvReady(this, backend);
      const returned: string[] = [];
      for (let round = 0; round < 6; round++) {
        const child = spawn(process.execPath, [LOOP], { env: env.env, stdio: ["ignore", "pipe", "pipe"] });
        let buf = "";
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        // Killed once the loop is issuing (10 returned), then at a random moment within the next 400 ms: kills land
        // mid-issuance however slow the machine is.
        const issuing = new Promise<void>((resolve, reject) => {
          child.stdout.on("data", (d: Buffer) => {
            buf += d.toString();
            if (buf.includes("READY") && (buf.match(/^ISSUED /gm)?.length ?? 0) >= 10) resolve();
          });
          child.once("exit", (code) => reject(new Error(`issue loop exited early (${code}): ${stderr}`)));
        });
        await issuing;
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
        for (const line of buf.split("\n")) if (line.startsWith("ISSUED ")) returned.push(line.slice(7));
      }
      expect(returned.length, "the loop issued nothing").to.be.greaterThan(50);
      expect(new Set(returned).size).to.equal(returned.length);

      // The next start of the CA recovers what the last kill left reserved.
      const rt = await openOperatorCa(loadConfig(env.env), { recover: true });
      const caKey = createPublicKey({
        key: Buffer.from(rt.authority("demo-issuing").signer.spki),
        format: "der",
        type: "spki",
      });
      await rt.close();
      const db = await openDatabase(env.databaseUrl);
      try {
        const rows = await db("certificates").where({ requested_by: "crash-test" });
        const serials = rows.map((r: any) => r.serial);
        expect(new Set(serials).size).to.equal(serials.length);
        expect(rows.filter((r: any) => r.status === "reserved")).to.have.length(0);
        const issued = rows.filter((r: any) => r.status === "issued");
        for (const s of returned)
          expect(
            issued.some((r: any) => r.serial === s),
            `returned ${s} not stored`,
          ).to.equal(true);
        for (const r of issued) {
          const x = new X509Certificate(r.der!);
          expect(x.verify(caKey), r.serial).to.equal(true);
          expect(x.serialNumber.toLowerCase()).to.equal(r.serial);
        }
        for (const r of rows.filter((r: any) => r.status === "unfinished"))
          expect(r.revoked_at, r.serial).to.not.equal(null);
        const recovered = await db("audit_events").where({ action: "cert.recover-unfinished" });
        expect(recovered.length).to.equal(rows.filter((r: any) => r.status === "unfinished").length);
        console.log(
          `      ${returned.length} returned, ${issued.length} stored, ` +
            `${rows.length - issued.length} unfinished/failed over 6 kills`,
        );
      } finally {
        await db.destroy();
      }
    });
  });

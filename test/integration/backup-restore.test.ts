import { expect } from "chai";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { CLI, demoBackends, demoEnvReady, requireTool, type DemoEnv } from "../support/environment.js";
import { shellDatabase } from "../support/shell-database.js";

/**
 * REQ-30 on the real demo (SQLite: VACUUM INTO; PostgreSQL: pg_dump -Fc / pg_restore; SoftHSM2):
 * an encrypted online backup, work after it, a restore of the older backup; the CA then refuses to sign (serials and
 * CRL numbers must not go back) until
 * the operator reconciles, after which CRL numbers continue above every number used before.
 */
for (const backend of demoBackends())
  describe(`backup and restore (REQ-30) [${backend}]`, function () {
    this.timeout(180_000);
    let env: DemoEnv;
    let dir: string;
    let own: NodeJS.ProcessEnv;

    before(async function () {
      env = await demoEnvReady(this, backend);
      if (backend === "sqlite") requireTool(this, "sqlite3");
      dir = mkdtempSync(join(tmpdir(), "backup-it-"));
      const live = shellDatabase(env.databaseUrl, dir).copy("live");
      own = {
        DATABASE_URL: live.url,
        CARDPKI_AUDIT_CHECKPOINT_FILE: join(dir, "checkpoint.json"),
        CARDPKI_BACKUP_KEY: join(dir, "backup.key"),
      };
    });
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [CLI, ...args], { env: { ...env.env, ...own }, encoding: "utf8" });
    const crlNumber = () => {
      const r = cli(["crl", "generate", "--ca", "demo-issuing", "--operator", "backup-test"]);
      return { status: r.status, number: r.status === 0 ? Number(JSON.parse(r.stdout).number) : NaN, stderr: r.stderr };
    };

    it(`ok/backup is encrypted; fail/after restoring it the CA signs nothing until 'audit reconcile'; ok/then CRL \
numbers continue above the highest used`, () => {
      expect(cli(["audit", "checkpoint"]).status).to.equal(0);
      const backup = join(dir, "b1.cardpki-backup");
      const b = cli(["backup", "--out", backup, "--operator", "carol"]);
      expect(b.status, b.stderr).to.equal(0);
      const bytes = readFileSync(backup);
      expect(bytes.includes(Buffer.from(backend === "sqlite" ? "SQLite format 3" : "PGDMP"))).to.equal(false);
      expect(bytes.includes(Buffer.from("demo-issuing"))).to.equal(false);
      expect(cli(["backup", "--out", backup]).status).to.equal(1); // refuses to overwrite

      // Work after the backup, covered by a checkpoint kept outside the database.
      const n1 = crlNumber().number;
      const n2 = crlNumber().number;
      expect(n2).to.be.greaterThan(n1);
      expect(cli(["audit", "checkpoint"]).status).to.equal(0);

      // A wrong key, or a changed byte, is refused.
      const tampered = join(dir, "tampered");
      writeFileSync(
        tampered,
        Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from([bytes[bytes.length - 1]! ^ 1])]),
      );
      expect(cli(["restore", "--from", tampered, "--yes"]).stderr).to.match(/does not decrypt/);
      expect(cli(["restore", "--from", backup]).status).to.equal(2); // needs --yes

      const r = cli(["restore", "--from", backup, "--yes"]);
      expect(r.status, r.stderr).to.equal(0);
      const refused = crlNumber();
      expect(refused.status).to.equal(1);
      expect(refused.stderr).to.match(/behind .* audit checkpoint kept outside it.*audit reconcile/);
      const v = cli(["audit", "verify"]);
      expect([v.status, JSON.parse(v.stdout).problem.kind]).to.deep.equal([1, "rolled-back"]);

      const rec = cli(["audit", "reconcile", "--operator", "carol"]);
      expect(rec.status, rec.stderr).to.equal(0);
      expect(JSON.parse(rec.stdout).gap).to.match(/behind/);
      const n3 = crlNumber();
      expect(n3.status, n3.stderr).to.equal(0);
      expect(n3.number).to.be.greaterThan(n2); // RFC 5280 5.2.3: never back
      expect(cli(["audit", "verify"]).status).to.equal(0);
    });
  });

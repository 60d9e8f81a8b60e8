import { expect } from "chai";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa } from "../../src/composition/operator-role.js";
import { auditSigner } from "../../src/composition/audit.js";
import { checkpointBytes } from "../../src/audit/checkpoint.js";
import { entryHash } from "../../src/audit/audit-chain.js";
import { chainedEntry } from "../../src/store/audit.store.js";
import { CLI, demoEnvReady, requireTool, type DemoEnv } from "../support/environment.js";
import { shellDatabase, type ShellDatabase } from "../support/shell-database.js";
import { makeTsaFiles, startTestTsa, type TestTsa } from "../support/tsa.js";

/**
 * REQ-27 against the host operator: every audit checkpoint is also timestamped by an RFC 3161 TSA
 * outside the host (here `openssl ts -reply` behind a local HTTP responder), and `cardpki audit
 * verify` checks every token against the TSA's certificate and the checkpoint. An operator who
 * edits audit_events, re-chains and re-signs the checkpoints with the online key (through the
 * project's own code and the HSM keystore, as an attacker on the host would) is caught.
 */
describe("audit checkpoints timestamped by an RFC 3161 TSA (REQ-27)", function () {
  this.timeout(180_000);
  let env: DemoEnv;
  let tsa: TestTsa;
  let dir: string;
  let demoDb: ShellDatabase;

  before(async function () {
    env = await demoEnvReady(this, "sqlite");
    requireTool(this, "sqlite3");
    requireTool(this, "openssl");
    tsa = await startTestTsa();
    dir = mkdtempSync(join(tmpdir(), "audit-tsa-"));
    demoDb = shellDatabase(env.databaseUrl, dir);
  });
  after(async () => tsa?.close());

  /** The CLI as a subprocess, asynchronously: the test TSA answers from this process's event loop. */
  const cli = (args: string[], extra: NodeJS.ProcessEnv) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...env.env, ...extra },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "",
        stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  function isolated(name: string) {
    const db = demoDb.copy(name);
    // The shared demo database may carry checkpoints from services other test files ran on it: start unchecked.
    db.sql("DELETE FROM audit_timestamps; DELETE FROM audit_checkpoints;");
    const file = join(dir, `${name}.checkpoint.json`);
    const base = { DATABASE_URL: db.url, CARDPKI_AUDIT_CHECKPOINT_FILE: file };
    return {
      db,
      file,
      env: { ...base, CARDPKI_AUDIT_TSA_URL: tsa.url, CARDPKI_AUDIT_TSA_CERT: tsa.certFile },
      withoutTsa: base,
    };
  }
  /** Audited work between checkpoints (a CRL), so there are several checkpoints to stamp. */
  const work = async (e: NodeJS.ProcessEnv) =>
    expect((await cli(["crl", "generate", "--ca", "demo-issuing", "--operator", "tsa-test"], e)).status).to.equal(0);

  it(`ok/each checkpoint carries a TSA token that verify checks; fail/a TSA outage leaves the checkpoint waiting, the \
next run stamps it`, async () => {
    const t = isolated("stamped");
    const before = tsa.answered;
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0);
    await work(t.env);
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0);
    expect(tsa.answered - before).to.equal(2);
    // the token also goes outside the database
    expect(JSON.parse(readFileSync(t.file, "utf8")).timestamp.token).to.match(/^[A-Za-z0-9+/=]{100,}$/);
    const ok = await cli(["audit", "verify"], t.env);
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    expect(JSON.parse(ok.stdout)).to.deep.include({ ok: true, checkpointsVerified: 2, timestampsVerified: 2 });
    // The TSA is down: the checkpoint is signed all the same, without a token, and verify still passes (the latest may
    // wait).
    tsa.down = true;
    await work(t.env);
    const down = await cli(["audit", "checkpoint"], t.env);
    expect(down.status, down.stderr).to.equal(0);
    expect(down.stderr).to.match(/not timestamped/);
    expect(JSON.parse((await cli(["audit", "verify"], t.env)).stdout)).to.deep.include({
      ok: true,
      checkpointsVerified: 3,
      timestampsVerified: 2,
    });
    tsa.down = false;
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0); // re-signed now and stamped
    expect(JSON.parse((await cli(["audit", "verify"], t.env)).stdout)).to.deep.include({
      ok: true,
      checkpointsVerified: 3,
      timestampsVerified: 3,
    });
  });

  it(`fail/an operator edits audit_events, re-chains and re-signs with the online key: verify without the TSA passes, \
with it exits 1 naming the timestamp mismatch`, async () => {
    const t = isolated("rewritten");
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0);
    await work(t.env);
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0);
    await work(t.env);
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0);
    expect((await cli(["audit", "verify"], t.env)).status).to.equal(0);
    const first = Number(t.db.sql("SELECT min(seq) FROM audit_checkpoints"));
    const target = first + 1; // an entry after the first checkpoint (whose token stays valid), under the later two

    // The attacker on the host: edit an entry, re-chain everything after it, re-sign every checkpoint
    // (same seq and time, new hash) with the HSM audit key, rewrite the checkpoint file outside the database.
    t.db.sql(`UPDATE audit_events SET actor = 'officer:someone-else' WHERE seq = ${target}`);
    const rt = await openOperatorCa(loadConfig({ ...env.env, ...t.withoutTsa }), {});
    try {
      const rows = (await rt.db("audit_events").where("seq", ">=", target).orderBy("seq")).map(chainedEntry);
      let prev =
        (await rt.db("audit_events").where("seq", "<", target).orderBy("seq", "desc").first())?.entry_hash ??
        "0".repeat(64);
      for (const e of rows) {
        const h = entryHash(prev, e);
        await rt.db("audit_events").where({ seq: e.seq }).update({ prev_hash: prev, entry_hash: h });
        prev = h;
      }
      const signer = await auditSigner(rt);
      let last;
      for (const c of await rt.db("audit_checkpoints").orderBy("seq")) {
        const h = (await rt.db("audit_events").where({ seq: c.seq }).first())!.entry_hash!;
        const unsigned = {
          seq: Number(c.seq),
          entryHash: h,
          entries: Number(c.entries),
          at: Number(c.at),
          signer: c.signer,
          signerSpkiSha256: c.signer_spki_sha256,
        };
        const signature = Buffer.from(await signer.sign(checkpointBytes(unsigned))).toString("base64");
        await rt.db("audit_checkpoints").where({ seq: c.seq }).update({ entry_hash: h, signature });
        last = { ...unsigned, signature };
      }
      writeFileSync(t.file, JSON.stringify({ ...JSON.parse(readFileSync(t.file, "utf8")), ...last }, null, 2));
    } finally {
      await rt.close();
    }
    // Hash chain, signatures and the outside file agree with each other again: only the TSA's tokens tell.
    const blind = await cli(["audit", "verify"], t.withoutTsa);
    expect(blind.status, `the rewrite is consistent without the TSA: ${blind.stdout}`).to.equal(0);
    const r = await cli(["audit", "verify"], t.env);
    expect(r.status, r.stdout).to.equal(1);
    const res = JSON.parse(r.stdout);
    expect(res.problem.kind).to.equal("timestamp");
    expect(res.problem.message).to.match(/timestamp mismatch: .*not what the TSA timestamped/);
    expect(r.stderr).to.match(/NOT intact.*timestamp mismatch/);

    // Removing the tokens of the rewritten checkpoints does not help either.
    t.db.sql(`DELETE FROM audit_timestamps WHERE seq > ${first}`);
    const gone = await cli(["audit", "verify"], t.env);
    expect(gone.status).to.equal(1);
    expect(JSON.parse(gone.stdout).problem.message).to.match(
      /no time-stamp token although earlier checkpoints have one/,
    );
  });

  it("fail/tokens from another TSA than the configured one are refused", async () => {
    const t = isolated("foreign-tsa");
    expect((await cli(["audit", "checkpoint"], t.env)).status).to.equal(0);
    const other = makeTsaFiles("another TSA");
    const r = await cli(["audit", "verify"], { ...t.env, CARDPKI_AUDIT_TSA_CERT: other.certFile });
    expect(r.status).to.equal(1);
    expect(JSON.parse(r.stdout).problem.message).to.match(/not signed by the configured TSA/);
    const bad = await cli(["audit", "verify"], {
      ...t.env,
      CARDPKI_AUDIT_TSA_CERT: join(env.caStore, "demo-root", "cert.pem"),
    });
    // not a TSA certificate at all
    expect([bad.status, bad.stderr]).to.satisfy(([c, e]: [number, string]) => c !== 0 && /timeStamping/.test(e));
  });
});

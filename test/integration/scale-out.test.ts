import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadConfig, type Config } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { openCaRecords } from "../../src/composition/ca-records.js";
import { openKeystores } from "../../src/composition/keystores.js";
import { openPublicRole } from "../../src/composition/public-role.js";
import { openDatabase, sqliteFile } from "../../src/store/database.js";
import { KnexPortalSessionStore } from "../../src/store/portal-session.store.js";
import { PortalSessions } from "../../src/http/portal.routes.js";
import { toPem } from "../../src/asn1/der.js";
import { CaError } from "../../src/shared/ca-error.js";
import { CLI, demoEnv, run, waitFor, writeTemp, type DemoEnv } from "../support/environment.js";
import { testDatabases } from "../support/databases.js";
import { testKey } from "../support/keys.js";
import { ORG_SUBJECT } from "../support/test-ca.js";

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

const healthy = (url: string) =>
  fetch(`${url}/healthz`).then(
    (r) => r.status === 200,
    () => false,
  );

/** `cardpki serve` in a child process, with its stderr (JSON log lines) collected. */
function serveChild(
  env: NodeJS.ProcessEnv,
  args: string[],
): { child: ChildProcess; lines: () => string[]; exited: Promise<number> } {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number>((r) => child.once("exit", (code) => r(code ?? -1)));
  return { child, lines: () => err.split("\n").filter(Boolean), exited };
}

/** REQ-33: stateless public replicas, a single elected writer, graceful drain. */
describe("scale-out: public replicas, writer lease, drain (REQ-33)", function () {
  this.timeout(180_000);
  let env: DemoEnv;
  let dir: string;
  let config: Config;

  before(function () {
    env = demoEnv(this);
    dir = mkdtempSync(join(tmpdir(), "scale-out-"));
    config = { ...loadConfig(), host: "127.0.0.1", port: 0, ra: { ...loadConfig().ra, port: 0 } };
  });

  describe("a public replica beside the writer (SQLite)", () => {
    let writer: Service;
    let replica: ReturnType<typeof serveChild>;
    let replicaUrl: string;
    let issuing: string;
    let root: string;

    before(async () => {
      writer = await startService(config, { eventPollMs: 100, crlTickMs: 300 });
      const port = await freePort();
      replicaUrl = `http://127.0.0.1:${port}`;
      replica = serveChild(
        {
          ...env.env,
          CARDPKI_PORT: String(port),
          CARDPKI_HOST: "127.0.0.1",
          CARDPKI_RA_PORT: "0",
          CARDPKI_LOG_FORMAT: "json",
          CARDPKI_DRAIN_SECONDS: "2",
        },
        ["--role", "public"],
      );
      expect(await waitFor(() => healthy(replicaUrl), 30_000), replica.lines().join("\n")).to.equal(true);
      issuing = join(env.caStore, "demo-issuing", "cert.pem");
      root = join(env.caStore, "demo-root", "cert.pem");
    });
    after(async () => {
      replica?.child.kill("SIGKILL");
      await writer?.stop();
    });

    it(`ok/the replica answers OCSP for a certificate the writer issued, and shows its revocation within seconds \
(openssl ocsp)`, async () => {
      const out = await writer.parts.issuer.issue(writer.parts.authority("demo-issuing"), {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "test",
        allowedKinds: ["end-entity"],
      });
      const pem = writeTemp(dir, "replica.pem", toPem("CERTIFICATE", out.der));
      const ask = () =>
        run("openssl", ["ocsp", "-issuer", issuing, "-CAfile", root, "-url", `${replicaUrl}/ocsp`, "-cert", pem]);
      const first = await ask();
      expect(first.out).to.include("Response verify OK");
      expect(first.out).to.match(/replica\.pem: good/);
      await writer.parts.registry.revoke({ serial: out.serial, reason: "keyCompromise", actor: "test" });
      // REQ-17: the replica polls the shared revocation events, like the writer.
      expect(await waitFor(async () => /replica\.pem: revoked/.test((await ask()).out), 5000)).to.equal(true);
    });

    it("ok/the replica serves the writer's newest CRL, byte for byte, and offers no RA API", async () => {
      await writer.parts.crls.tick(writer.parts.authority("demo-issuing"));
      const latest = await writer.parts.revocations.latestCrl("demo-issuing", "full");
      const got = new Uint8Array(await (await fetch(`${replicaUrl}/crl/demo-issuing.crl`)).arrayBuffer());
      expect(Buffer.from(got).equals(Buffer.from(latest!.der))).to.equal(true);
      const api = await fetch(`${replicaUrl}/api/v1/orders`);
      expect(api.status).to.equal(404);
      expect(api.headers.get("content-type")).to.match(/problem\+json/);
    });

    it(`ok/the replica's health has no CA key check, and its logs are JSON lines (time, level, component, \
msg)`, async () => {
      const body = (await (await fetch(`${replicaUrl}/healthz`)).json()) as { checks: Record<string, string> };
      expect(Object.keys(body.checks)).to.have.members(["lifecycle", "database", "crl:demo-issuing", "ocsp"]);
      const metrics = await (await fetch(`${replicaUrl}/metrics`)).text();
      expect(metrics).to.match(/^cardpki_crl_age_seconds\{ca="demo-issuing"\} \d/m);
      expect(metrics).to.not.match(/cardpki_hsm_up/);
      const logs = replica.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logs.length).to.be.greaterThan(0);
      for (const l of logs) expect(l).to.include.keys("time", "level", "component", "msg");
      expect(logs.some((l) => l.msg === "serving" && l.role === "public")).to.equal(true);
    });

    it("ok/SIGTERM drains: /healthz 503 while OCSP still answers with Connection: close, then exit 0", async () => {
      replica.child.kill("SIGTERM");
      expect(
        await waitFor(
          async () =>
            (await fetch(`${replicaUrl}/healthz`).then(
              (r) => r.status,
              () => 0,
            )) === 503,
          1500,
        ),
      ).to.equal(true);
      const h = (await (await fetch(`${replicaUrl}/healthz`)).json()) as { checks: Record<string, string> };
      expect(h.checks.lifecycle).to.equal("draining");
      const answer = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const r = request(
          `${replicaUrl}/ocsp`,
          { method: "POST", headers: { "content-type": "application/ocsp-request", connection: "keep-alive" } },
          (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          },
        );
        r.on("error", reject);
        r.end(Buffer.from([0x30, 0x00])); // malformed: still answered (RFC 6960 2.3 malformedRequest)
      });
      expect(answer.status).to.equal(200);
      expect(answer.connection).to.equal("close");
      expect(await replica.exited).to.equal(0);
      expect(replica.lines().some((l) => JSON.parse(l).msg === "draining")).to.equal(true);
    });
  });

  it("fail/the public role builds no issuer, holds no CA key and cannot write the database", async () => {
    const rec = await openCaRecords(config, { readOnly: true });
    const keystores = openKeystores(config);
    try {
      const pub = await openPublicRole(rec, keystores);
      expect(pub).to.not.have.property("issuer");
      expect(pub).to.not.have.property("crls");
      const err = await pub.authorities
        .get("demo-issuing")!
        .signer.sign(Uint8Array.of(0))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(CaError.is(err, "forbidden"), String(err)).to.equal(true);
      const write = await rec
        .db("crl_counters")
        .insert({ issuer_id: "x", last_number: 1 })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(write?.message).to.match(/readonly|read-only/i);
    } finally {
      await keystores.close();
      await rec.close();
    }
  });

  it(`ok/SQLite: a second writer waits as standby and takes over when the first stops; a stale lock file of a dead \
process is taken over`, async () => {
    const first = await startService(config);
    let second: Service | undefined;
    try {
      const pending = startService(config, { leaseRetryMs: 100 }).then((s) => (second = s));
      await new Promise((r) => setTimeout(r, 600));
      expect(second, "the standby must not start while the lease is held").to.equal(undefined);
      await first.stop();
      await pending;
      expect(await healthy(second!.url)).to.equal(true);
    } finally {
      await second?.stop();
    }
    const lockFile = `${sqliteFile(config.databaseUrl)}.writer.lock`;
    expect(existsSync(lockFile)).to.equal(false);
    // A writer killed with SIGKILL leaves its file behind: pid 2^22+1 is not running here.
    writeFileSync(
      lockFile,
      JSON.stringify({ host: (await import("node:os")).hostname(), pid: 4_194_305, token: "dead" }),
    );
    const third = await startService(config);
    await third.stop();
  });

  for (const db of testDatabases()) {
    it(`ok/portal sessions live in the database (${db.name}): a session opened on one writer is valid on its \
successor; only hashes are stored; it expires`, async () => {
      const url = await db.url();
      const [a, b] = [await openDatabase(url), await openDatabase(url)];
      try {
        let now = 1_000_000;
        const first = new PortalSessions(new KnexPortalSessionStore(a), 15 * 60_000, 8 * 3_600_000, () => now);
        const { id, csrf } = await first.open("0a1b2c");
        const rows = await a("portal_sessions").select();
        expect(rows).to.have.length(1);
        expect(JSON.stringify(rows)).to.not.include(id).and.to.not.include(csrf);
        // The standby takes over (another process, another connection): the officer stays signed in.
        const second = new PortalSessions(new KnexPortalSessionStore(b), 15 * 60_000, 8 * 3_600_000, () => now);
        now += 10 * 60_000;
        const live = await second.use(id);
        expect(live?.credential).to.equal("0a1b2c");
        expect(live?.csrfMatches(csrf)).to.equal(true);
        expect(Number((await b("portal_sessions").first())!.last_seen)).to.equal(now);
        now += 16 * 60_000;
        expect(await first.use(id)).to.equal(undefined);
        expect(await a("portal_sessions").select()).to.have.length(0);
      } finally {
        await a.destroy();
        await b.destroy();
      }
    });
  }

  for (const db of testDatabases().filter((d) => d.name === "postgres")) {
    it(`ok/PostgreSQL: the advisory-lock lease elects one writer; when its lock connection dies it stops signing and \
the standby takes over`, async () => {
      // A new database: its own audit checkpoint file (the demo's would mark it as restored behind).
      const pgConfig: Config = {
        ...config,
        databaseUrl: await db.url(),
        audit: { ...config.audit, checkpointFile: join(dir, "pg-checkpoint.json") },
      };
      let lost: Error | undefined;
      const first = await startService(pgConfig, { leaseCheckMs: 200, onLeaseLost: (e) => (lost = e) });
      let second: Service | undefined;
      try {
        const ca = () => first.parts.authority("demo-issuing");
        const req = {
          profileId: "loa3-smartcard-auth",
          publicKey: testKey("P-256").spki,
          subject: ORG_SUBJECT,
          requestedBy: "test",
          allowedKinds: ["end-entity" as const],
        };
        await first.parts.issuer.issue(ca(), req);
        const pending = startService(pgConfig, { leaseRetryMs: 100, leaseCheckMs: 200 }).then((s) => (second = s));
        await new Promise((r) => setTimeout(r, 600));
        expect(second).to.equal(undefined);
        // The database loses the writer's session (failover, network split, admin kill).
        const admin = new pg.Client({ connectionString: pgConfig.databaseUrl });
        await admin.connect();
        try {
          const r = await admin.query(
            "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE " +
              "application_name = 'cardpki-writer-lock' AND datname = current_database()",
          );
          expect(r.rows.map((x) => x.ok)).to.deep.equal([true]);
        } finally {
          await admin.end();
        }
        expect(await waitFor(() => lost !== undefined, 5000)).to.equal(true);
        const refused = await first.parts.issuer.issue(ca(), req).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(CaError.is(refused, "unavailable"), String(refused)).to.equal(true);
        expect(
          ((await (await fetch(`${first.url}/healthz`)).json()) as { checks: Record<string, string> }).checks[
            "writer-lease"
          ],
        ).to.match(/writer lock lost/);
        await pending;
        const issued = await second!.parts.issuer.issue(second!.parts.authority("demo-issuing"), req);
        expect(issued.serial).to.match(/^[0-9a-f]+$/);
        // A public role on PostgreSQL reads in read-only sessions (it may point at a hot standby).
        const rt = await openCaRecords(pgConfig, { readOnly: true });
        try {
          expect(await rt.revocations.statusOf(issued.serial)).to.include({ status: "issued" });
          const write = await rt
            .db("crl_counters")
            .insert({ issuer_id: "x", last_number: 1 })
            .then(
              () => undefined,
              (e: Error) => e,
            );
          expect(write?.message).to.match(/read-only transaction/);
        } finally {
          await rt.close();
        }
      } finally {
        await first.stop();
        await second?.stop();
      }
    });
  }
});

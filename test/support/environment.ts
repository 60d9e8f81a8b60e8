import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { REPO_ROOT } from "./test-ca.js";
import { testDatabases } from "./databases.js";
import { createPostgresDatabase } from "./shell-database.js";
import { pkcs11LibraryHolders, pkcs11LibraryInUse } from "../../src/hsm/pkcs11-keystore.js";

const SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so";

/** Integration helpers may skip locally when a tool is missing, but must fail under CI=true. */
export function requireTool(ctx: Mocha.Context, tool: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
  if (found) return;
  if (process.env.CI === "true") throw new Error(`${tool} is required under CI=true (./scripts/test installs it)`);
  ctx.skip();
}

export const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");

export type DemoBackend = "sqlite" | "postgres";

/**
 * The databases the demo-based integration tests run on: SQLite always, PostgreSQL when
 * CARDPKI_TEST_PG_URL is set (./scripts/test starts one; required under CI=true, as in testDatabases()).
 */
export function demoBackends(): DemoBackend[] {
  return testDatabases().map((d) => d.name);
}

export interface DemoEnv {
  readonly backend: DemoBackend;
  /**
   * The demo's database (also DATABASE_URL in `env`): the SQLite file in the data folder, or its own PostgreSQL
   * database.
   */
  readonly databaseUrl: string;
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly softhsmConf: string;
  readonly caStore: string;
  /** A spare token for keystore tests, with its PIN. */
  readonly spareToken: { label: string; pin: string };
}

const demos = new Map<DemoBackend, DemoEnv>();

/**
 * One embedded default per backend and test run, made the way ./scripts/run makes it: the CLI's
 * setup-demo (SoftHSM2 tokens + root and issuing CA ceremonies + the database), in a temp dir;
 * for PostgreSQL, setup-demo with DATABASE_URL naming a fresh database on the test server.
 *
 * Each demo has its own tokens (same labels, other keys), so the call also points this process
 * at that demo's token directory (SOFTHSM2_CONF) and folders: SoftHSM2 reads SOFTHSM2_CONF at
 * C_Initialize, and the keystores finalize the library when the last one closes, so a suite must
 * close its services (after hooks) before the next suite switches to the other demo. DATABASE_URL
 * is never put into this process's environment (child processes of other suites would inherit
 * it): tests pass `env` (or loadConfig(env)) explicitly.
 */
export function demoEnv(ctx: Mocha.Context, backend: DemoBackend = "sqlite"): DemoEnv {
  requireTool(ctx, "softhsm2-util");
  requireTool(ctx, "openssl");
  if (backend === "postgres") for (const t of ["psql", "pg_dump", "pg_restore"]) requireTool(ctx, t);
  let demo = demos.get(backend);
  if (!demo) demos.set(backend, (demo = makeDemo(backend)));
  if (process.env.SOFTHSM2_CONF !== demo.softhsmConf && pkcs11LibraryInUse(SOFTHSM))
    throw new Error(
      `switching to the ${backend} demo's tokens, but a PKCS#11 keystore of the ` +
        `suite before is still open (close services and keystores in after hooks): ` +
        `${pkcs11LibraryHolders().join("; ")}`,
    );
  // Every in-process PKCS#11 user in this suite sees this demo's token directory.
  for (const [k, v] of Object.entries({
    CARDPKI_DATA_DIR: demo.env.CARDPKI_DATA_DIR,
    CARDPKI_CA_STORE: demo.caStore,
    CARDPKI_BASE_URL: demo.env.CARDPKI_BASE_URL,
    SOFTHSM2_CONF: demo.softhsmConf,
  }))
    process.env[k] = v;
  return demo;
}

/**
 * demoEnv() for a suite that may switch demos: first waits (up to 10 s) until the suite before has
 * let the PKCS#11 library go; a keystore closing a moment after its after hook is not a leak.
 */
export async function demoEnvReady(ctx: Mocha.Context, backend: DemoBackend = "sqlite"): Promise<DemoEnv> {
  const target = demos.get(backend)?.softhsmConf;
  const end = Date.now() + 10_000;
  while (
    (target === undefined || process.env.SOFTHSM2_CONF !== target) &&
    pkcs11LibraryInUse(SOFTHSM) &&
    Date.now() < end
  )
    await new Promise((r) => setTimeout(r, 100));
  return demoEnv(ctx, backend);
}

function makeDemo(backend: DemoBackend): DemoEnv {
  const dir = mkdtempSync(join(tmpdir(), `cardpki-it-${backend === "sqlite" ? "" : "pg-"}`));
  const pgUrl = process.env.CARDPKI_TEST_PG_URL;
  if (backend === "postgres" && !pgUrl) throw new Error("the postgres demo needs CARDPKI_TEST_PG_URL");
  const databaseUrl =
    backend === "sqlite" ? `sqlite:${join(dir, "data", "cardpki.db")}` : createPostgresDatabase(pgUrl!);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CARDPKI_DATA_DIR: join(dir, "data"),
    CARDPKI_CA_STORE: join(dir, "ca-store"),
    CARDPKI_BASE_URL: "http://pki.test:8080",
    DATABASE_URL: databaseUrl,
  };
  delete env.SOFTHSM2_CONF;
  delete env.CARDPKI_CONFIG;
  execFileSync(process.execPath, [CLI, "setup-demo"], { env, stdio: ["ignore", "ignore", "pipe"] });
  const softhsmConf = join(dir, "data", "softhsm", "softhsm2.conf");
  if (!existsSync(softhsmConf)) throw new Error("setup-demo wrote no SoftHSM2 config");
  const spareToken = { label: "it-spare", pin: randomBytes(6).toString("hex") };
  execFileSync(
    "softhsm2-util",
    ["--init-token", "--free", "--label", spareToken.label, "--pin", spareToken.pin, "--so-pin", "87654321"],
    {
      env: { ...env, SOFTHSM2_CONF: softhsmConf },
      stdio: "ignore",
    },
  );
  return {
    backend,
    databaseUrl,
    dir,
    env: { ...env, SOFTHSM2_CONF: softhsmConf },
    softhsmConf,
    caStore: join(dir, "ca-store"),
    spareToken,
  };
}

/** Polls until `what` holds (true) or `ms` passed (false). */
export async function waitFor(what: () => boolean | Promise<boolean>, ms: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

export function writeTemp(dir: string, name: string, data: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

export function openssl(args: string[], input?: string | Uint8Array): { status: number; out: string } {
  const r = spawnSync("openssl", args, { input, encoding: "buffer" });
  return { status: r.status ?? -1, out: (r.stdout?.toString() ?? "") + (r.stderr?.toString() ?? "") };
}

/** Like openssl(), without blocking the event loop: for servers running in this process. */
export function run(
  cmd: string,
  args: string[],
  input?: string | Uint8Array,
): Promise<{ status: number; out: string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, out: stdout + stderr, stdout, stderr }));
    child.stdin.on("error", () => undefined); // the tool may exit before reading its input
    child.stdin.end(input ?? "");
  });
}

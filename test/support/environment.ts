import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { REPO_ROOT } from "./test-ca.js";

/** Integration helpers may skip locally when a tool is missing, but must fail under CI=true. */
export function requireTool(ctx: Mocha.Context, tool: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
  if (found) return;
  if (process.env.CI === "true") throw new Error(`${tool} is required under CI=true (./scripts/test installs it)`);
  ctx.skip();
}

export const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");

export interface DemoEnv {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly softhsmConf: string;
  readonly caStore: string;
  /** A spare token for keystore tests, with its PIN. */
  readonly spareToken: { label: string; pin: string };
}

let demo: DemoEnv | undefined;

/**
 * One embedded default per test run, made the way ./scripts/run makes it: the CLI's
 * setup-demo (SoftHSM2 tokens + root and issuing CA ceremonies + SQLite), in a temp dir.
 */
export function demoEnv(ctx: Mocha.Context): DemoEnv {
  requireTool(ctx, "softhsm2-util");
  requireTool(ctx, "openssl");
  if (demo) return demo;
  const dir = mkdtempSync(join(tmpdir(), "cardpki-it-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CARDPKI_DATA_DIR: join(dir, "data"),
    CARDPKI_CA_STORE: join(dir, "ca-store"),
    CARDPKI_BASE_URL: "http://pki.test:8080",
  };
  delete env.SOFTHSM2_CONF;
  delete env.CARDPKI_CONFIG;
  execFileSync(process.execPath, [CLI, "setup-demo"], { env, stdio: ["ignore", "ignore", "pipe"] });
  const softhsmConf = join(dir, "data", "softhsm", "softhsm2.conf");
  if (!existsSync(softhsmConf)) throw new Error("setup-demo wrote no SoftHSM2 config");
  const spareToken = { label: "it-spare", pin: randomBytes(6).toString("hex") };
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", spareToken.label, "--pin", spareToken.pin, "--so-pin", "87654321"], {
    env: { ...env, SOFTHSM2_CONF: softhsmConf }, stdio: "ignore",
  });
  // Every in-process PKCS#11 user in this run sees the same token directory.
  for (const [k, v] of Object.entries({ CARDPKI_DATA_DIR: env.CARDPKI_DATA_DIR, CARDPKI_CA_STORE: env.CARDPKI_CA_STORE, CARDPKI_BASE_URL: env.CARDPKI_BASE_URL, SOFTHSM2_CONF: softhsmConf }))
    process.env[k] = v;
  demo = { dir, env: { ...env, SOFTHSM2_CONF: softhsmConf }, softhsmConf, caStore: join(dir, "ca-store"), spareToken };
  return demo;
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
export function run(cmd: string, args: string[], input?: string | Uint8Array): Promise<{ status: number; out: string; stdout: string; stderr: string }> {
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

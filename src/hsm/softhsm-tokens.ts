import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";

/** Writes a SoftHSM2 config whose token directory lives under `dir`; returns its path. */
export function writeSoftHsmConfig(dir: string): string {
  const tokens = join(dir, "tokens");
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    { mode: 0o600 },
  );
  return conf;
}

/** Initialises a fresh SoftHSM2 token (development and tests; production HSMs are set up by their vendor tools). */
export function initSoftHsmToken(conf: string, label: string, pin: string, soPin: string): void {
  try {
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new CaError(
      "hsm-unavailable",
      `softhsm2-util --init-token ${label}: ${err.stderr?.toString().trim() || err.message}`,
    );
  }
}

/** The folder of a SoftHSM2 token (named by a UUID; its token.object holds the label). */
export function softHsmTokenDir(conf: string, label: string): string {
  const text = readFileSync(conf, "utf8");
  const m = /^\s*directories\.tokendir\s*=\s*(.+?)\s*$/m.exec(text);
  if (!m) throw new CaError("config", `${conf} has no directories.tokendir`);
  const root = m[1]!;
  const padded = Buffer.from(label.padEnd(32, " "), "utf8");
  for (const d of readdirSync(root)) {
    const obj = join(root, d, "token.object");
    if (existsSync(obj) && readFileSync(obj).includes(padded)) return join(root, d);
  }
  throw new CaError("not-found", `no SoftHSM2 token folder for '${label}' under ${root}`);
}

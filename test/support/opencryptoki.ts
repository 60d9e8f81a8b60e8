// openCryptoki (Debian `opencryptoki`) as a second PKCS#11 implementation: its slot daemon pkcsslotd, started
// and stopped by the test run, and its software token (slot 3, libpkcs11_sw.so) initialised with pkcsconf.
// openCryptoki keeps one slot daemon and one token directory per machine (/var/lib/opencryptoki/swtok):
// a run that starts the daemon resets the software token to its factory state (its directory emptied while no
// daemon runs) and initialises it with a fresh label and PINs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const OPENCRYPTOKI_LIB = "/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0";
const SW_SLOT = "3";
const PID_FILE = "/var/run/pkcsslotd.pid";
const SW_TOKEN_DIR = "/var/lib/opencryptoki/swtok";
const DEFAULT_SO_PIN = "87654321"; // openCryptoki's factory SO PIN

export interface OcToken {
  readonly library: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** Stops pkcsslotd when this run started it. */
  stop(): void;
  /** Kills pkcsslotd and starts it again with the token as it is (an HSM service restart under a running client). */
  restartDaemon(): void;
}

function running(): number | undefined {
  if (!existsSync(PID_FILE)) return undefined;
  const pid = Number(readFileSync(PID_FILE, "utf8").trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function pkcsconf(args: string[], input = ""): string {
  const r = spawnSync("pkcsconf", args, { input, encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`pkcsconf ${args.filter((a) => !/^[0-9]{4,8}$/.test(a)).join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * pkcsslotd running (started here when it is not) and the software token freshly initialised: label, SO PIN and
 * user PIN of this run (PINs 4..8 characters, openCryptoki's software token limit). Skips locally when
 * openCryptoki is missing; fails under CI=true.
 */
export function openCryptokiToken(ctx: Mocha.Context): OcToken {
  const missing = ["pkcsslotd", "pkcsconf"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length > 0 || !existsSync(OPENCRYPTOKI_LIB)) {
    if (process.env.CI === "true")
      throw new Error(`openCryptoki is required under CI=true (missing: ${missing.join(" ") || OPENCRYPTOKI_LIB})`);
    ctx.skip();
  }
  let started: number | undefined;
  if (running() === undefined) {
    for (const d of ["/var/lock/opencryptoki", "/var/log/opencryptoki"]) mkdirSync(d, { recursive: true });
    // Factory state: openCryptoki refuses to set the SO PIN back to the factory one, so a token is reset by
    // emptying its directory (while no slot daemon runs), not by C_InitToken with a PIN an earlier run chose.
    // The TOK_OBJ folder must stay: openCryptoki 3.8 does not recreate it, and token objects then silently
    // live in memory only (gone after a logout).
    const objects = join(SW_TOKEN_DIR, "TOK_OBJ");
    if (existsSync(SW_TOKEN_DIR))
      for (const e of readdirSync(SW_TOKEN_DIR))
        if (e !== "TOK_OBJ") rmSync(join(SW_TOKEN_DIR, e), { recursive: true, force: true });
    mkdirSync(objects, { recursive: true });
    for (const e of readdirSync(objects)) rmSync(join(objects, e), { recursive: true, force: true });
    const r = spawnSync("pkcsslotd", [], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pkcsslotd: ${r.stdout}${r.stderr}`);
    started = running();
    if (started === undefined) throw new Error("pkcsslotd did not start");
  }
  const kill = () => {
    try {
      // pkcsslotd forks into the background: its pid file names the daemon once it runs.
      const pid = running() ?? started;
      if (pid === undefined) return;
      process.kill(pid, "SIGTERM");
      // Gone before the next run starts one (bounded).
      const end = Date.now() + 5_000;
      while (Date.now() < end) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    } catch {
      /* gone already */
    }
  };
  const stop = () => {
    if (started !== undefined) kill();
  };
  const restartDaemon = () => {
    kill();
    const r = spawnSync("pkcsslotd", [], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pkcsslotd: ${r.stdout}${r.stderr}`);
    started = running();
    if (started === undefined) throw new Error("pkcsslotd did not start again");
  };
  // C_InitToken with the factory SO PIN (a new label: the token's objects are gone), then C_InitPIN.
  const label = `it-ock-${randomBytes(3).toString("hex")}`;
  const soPin = DEFAULT_SO_PIN;
  const pin = String(10_000_000 + (randomBytes(3).readUIntBE(0, 3) % 89_999_999)).slice(0, 8);
  try {
    pkcsconf(["-I", "-c", SW_SLOT, "-S", soPin], `${label}\n`);
    pkcsconf(["-u", "-c", SW_SLOT, "-S", soPin, "-n", pin]);
  } catch (e) {
    stop();
    throw e;
  }
  return {
    library: OPENCRYPTOKI_LIB,
    label,
    pin,
    soPin,
    stop,
    restartDaemon,
  };
}

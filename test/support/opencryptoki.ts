// openCryptoki (Debian `opencryptoki`) as a second PKCS#11 implementation: its slot daemon pkcsslotd, started
// and stopped by the test run, and its software token (slot 3, libpkcs11_sw.so) initialised with pkcsconf.
// openCryptoki keeps one slot daemon and one token directory per machine (/var/lib/opencryptoki/swtok):
// a run holds the machine-wide lock /tmp/cardpki-opencryptoki.lock (flock, like the virtual card's) from set-up to
// stop, stops any pkcsslotd an earlier run left behind, resets the software token to its factory state (its
// directory emptied while no daemon runs) and initialises it with a fresh label and PINs; stop (or the process's
// exit) stops the daemon it started and releases the lock.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const OPENCRYPTOKI_LIB = "/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0";
const SW_SLOT = "3";
const PID_FILE = "/var/run/pkcsslotd.pid";
const SW_TOKEN_DIR = "/var/lib/opencryptoki/swtok";
const DEFAULT_SO_PIN = "87654321"; // openCryptoki's factory SO PIN
/** One software token per machine: one test run at a time uses it (two checkouts, two helpers). */
export const OPENCRYPTOKI_LOCK = "/tmp/cardpki-opencryptoki.lock";
const LOCK_WAIT_MS = 15 * 60_000;

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * The machine-wide lock, held by a `flock` child of this process until `release()` or this process ends (the child
 * waits on its stdin, which closes with the process). Waits (synchronously: set-up code) until it is ours.
 */
function acquireLock(): { release(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ock-lock-"));
  const marker = join(dir, "held");
  const child: ChildProcess = spawn(
    "flock",
    ["-w", String(LOCK_WAIT_MS / 1000), OPENCRYPTOKI_LOCK, "sh", "-c", `: > '${marker}'; exec cat >/dev/null`],
    { stdio: ["pipe", "ignore", "ignore"] },
  );
  child.unref();
  const end = Date.now() + LOCK_WAIT_MS + 5_000;
  while (!existsSync(marker)) {
    if (child.exitCode !== null || Date.now() > end) {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`openCryptoki: ${OPENCRYPTOKI_LOCK} not acquired (another test run holds the software token)`);
    }
    sleep(100);
  }
  rmSync(dir, { recursive: true, force: true });
  let held = true;
  return {
    release: () => {
      if (!held) return;
      held = false;
      child.stdin?.end();
      child.kill();
    },
  };
}

export interface OcToken {
  readonly library: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** Stops the slot daemon (every pkcsslotd: under the lock all are this run's) and releases the lock. */
  stop(): void;
  /** Kills pkcsslotd and starts it again with the token as it is (an HSM service restart under a running client). */
  restartDaemon(): void;
}

/** Every pkcsslotd on the machine (from /proc: its pid file names only the last one started). */
function daemons(): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc"))
    if (/^[0-9]+$/.test(e))
      try {
        if (readFileSync(`/proc/${e}/comm`, "utf8").trim() === "pkcsslotd") out.push(Number(e));
      } catch {
        /* gone meanwhile */
      }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops every pkcsslotd: SIGTERM, and SIGKILL for one still there after 10 s (it takes seconds to go, longer with
 * clients attached); returns once all are gone (bounded).
 */
function stopDaemons(): void {
  const pids = daemons();
  for (const pid of pids) process.kill(pid, "SIGTERM");
  for (const [signal, ms] of [
    ["SIGKILL", 10_000],
    [undefined, 2_000],
  ] as const) {
    const end = Date.now() + ms;
    while (pids.some(alive) && Date.now() < end) sleep(50);
    if (signal) for (const pid of pids.filter(alive)) process.kill(pid, signal);
  }
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
 * The machine-wide lock, then pkcsslotd started here (one left by an earlier run stopped first) and the software
 * token freshly initialised: label, SO PIN and user PIN of this run (PINs 4..8 characters, openCryptoki's software
 * token limit). Skips locally when openCryptoki is missing; fails under CI=true.
 */
export function openCryptokiToken(ctx: Mocha.Context): OcToken {
  const missing = ["pkcsslotd", "pkcsconf"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length > 0 || !existsSync(OPENCRYPTOKI_LIB)) {
    if (process.env.CI === "true")
      throw new Error(`openCryptoki is required under CI=true (missing: ${missing.join(" ") || OPENCRYPTOKI_LIB})`);
    ctx.skip();
  }
  const lock = acquireLock();
  // Under the lock no other run uses the token: a slot daemon running now was left behind by one that died.
  stopDaemons();
  {
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
    if (r.status !== 0 || running() === undefined) {
      lock.release();
      throw new Error(`pkcsslotd did not start: ${r.stdout}${r.stderr}`);
    }
  }
  // Under the lock every slot daemon is this run's (the one it started, and one a restart left stopping).
  const kill = () => stopDaemons();
  const stop = () => {
    kill();
    lock.release();
    process.off("exit", stop);
  };
  process.on("exit", stop); // a run that never called stop leaves no daemon behind
  const restartDaemon = () => {
    kill();
    const r = spawnSync("pkcsslotd", [], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pkcsslotd: ${r.stdout}${r.stderr}`);
    if (running() === undefined) throw new Error("pkcsslotd did not start again");
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

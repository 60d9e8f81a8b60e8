import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./test-ca.js";
import { run } from "./environment.js";

export const VIRTUAL_READER = "Virtual PCD 00 00";
const SCRIPT = join(REPO_ROOT, "scripts", "lib", "virtual-card.sh");

/**
 * The real PC/SC stack with the virtual PIV card (pcscd + vpcd + our emulator), started by
 * ./scripts/test; started here when missing. Skips locally when it cannot run; fails under CI=true.
 */
export function virtualCard(ctx: Mocha.Context): void {
  if (spawnSync(SCRIPT, ["status"], { stdio: "ignore" }).status === 0) return;
  const r = spawnSync(SCRIPT, ["start"], { encoding: "utf8" });
  if (r.status === 0) return;
  const why = `virtual card stack not available: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`;
  if (process.env.CI === "true") throw new Error(why);
  ctx.skip();
}

/** Pull the card out of the reader (stop the emulator) or put a fresh one in. */
export async function cardStop(): Promise<void> {
  const r = await run(SCRIPT, ["card-stop"]);
  if (r.status !== 0) throw new Error(`card-stop: ${r.out}`);
}
/**
 * What kind of card to insert: its serial; its attestation made by another (test) maker root in `makerDir`, or none.
 */
export interface CardKind {
  readonly makerDir?: string;
  readonly noAttestation?: boolean;
}
export async function cardStart(serial?: number, kind: CardKind = {}): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...(serial === undefined ? {} : { CARDPKI_VCARD_SERIAL: String(serial) }),
    ...(kind.makerDir ? { CARDPKI_VCARD_MAKER_DIR: kind.makerDir } : {}),
    ...(kind.noAttestation ? { CARDPKI_VCARD_NO_ATTESTATION: "1" } : {}),
  };
  const r = await runWith(env, SCRIPT, ["card-start"]);
  if (r.status !== 0) throw new Error(`card-start: ${r.out}`);
}

/**
 * Take out whatever card is in the reader and insert a fresh one (factory PIN, PUK and management key), optionally with
 * its own serial and kind.
 */
export async function freshCard(serial?: number, kind: CardKind = {}): Promise<void> {
  await cardStop();
  await cardStart(serial, kind);
}

function runWith(env: NodeJS.ProcessEnv, cmd: string, args: string[]): Promise<{ status: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, out }));
  });
}

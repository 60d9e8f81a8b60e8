import { spawnSync } from "node:child_process";
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
export async function cardStart(): Promise<void> {
  const r = await run(SCRIPT, ["card-start"]);
  if (r.status !== 0) throw new Error(`card-start: ${r.out}`);
}

/** Take out whatever card is in the reader and insert a fresh one (factory PIN, PUK and management key). */
export async function freshCard(): Promise<void> {
  await cardStop();
  await cardStart();
}

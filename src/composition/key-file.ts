import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";

/**
 * A secret key kept in an owner-only file as hex: 32 random bytes made on first use, mode 0600
 * enforced on every read (the keyed-hash key, the card key-encryption key, the backup key).
 */
export function ownerOnlyKey(file: string, random: Random, check: { what: string; exact: boolean }): Uint8Array {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(random.bytes(32)).toString("hex"), { mode: 0o600, flag: "wx" });
  }
  chmodSync(file, 0o600);
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  if (check.exact ? key.length !== 32 : key.length < 32)
    throw new CaError("config", `${file}: the ${check.what} must be 64 hex digits${check.exact ? "" : " or more"}`);
  return key;
}

import type { Random } from "./random.js";

/** 128-bit random id as lower-case hex; used for request and entry ids. */
export function newId(random: Random): string {
  return Buffer.from(random.bytes(16)).toString("hex");
}

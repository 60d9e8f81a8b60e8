import type { Random } from "./random.js";

/** 128-bit random id as lower-case hex; used for request and entry ids. */
export function newId(random: Random): string {
  return Buffer.from(random.bytes(16)).toString("hex");
}

/** A random (version 4) UUID, RFC 9562 5.4: for incident ids a person reads out. */
export function newUuid(random: Random): string {
  const b = Buffer.from(random.bytes(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

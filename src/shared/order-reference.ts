import { createHash } from "node:crypto";

/** Crockford's base32 without I, L, O, U: read aloud over the phone and typed without confusion. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A short reference for a card order that a person can read out to the service desk (`7KQ2-F9MX`):
 * eight characters from a hash of the order's id, shown on the officer's order screen and in the
 * applicant's and holder's messages instead of the id itself, which it never is and does not reveal.
 */
export function orderReference(orderId: string): string {
  const h = createHash("sha256").update(`cardpki-order-reference:${orderId}`).digest();
  let bits = 0n;
  for (let i = 0; i < 5; i++) bits = (bits << 8n) | BigInt(h[i]!);
  let out = "";
  for (let i = 0; i < 8; i++) out += ALPHABET[Number((bits >> BigInt(5 * i)) & 31n)];
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

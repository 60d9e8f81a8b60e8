import { randomBytes, randomFillSync } from "node:crypto";

/** Randomness is injected: CSPRNG in production, deterministic in unit tests. */
export interface Random {
  bytes(n: number): Uint8Array;
}

const POOL = 8192;
let pool = new Uint8Array(0);
let used = 0;

/**
 * The CSPRNG, drawn from a pool refilled 8 KiB at a time (as Node's randomUUID does): ids, tokens
 * and serials cost a copy, not a call into OpenSSL each. Every refill is a fresh buffer, so bytes
 * handed out are never reused.
 */
export const cryptoRandom: Random = {
  bytes: (n) => {
    if (n > 512) return new Uint8Array(randomBytes(n));
    if (used + n > pool.length) {
      pool = randomFillSync(new Uint8Array(POOL));
      used = 0;
    }
    used += n;
    return pool.slice(used - n, used);
  },
};

/** Deterministic bytes from a counter; for unit tests only, never for serials in production. */
export class SeqRandom implements Random {
  private counter = 0;
  constructor(private readonly seed = 1) {}
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.seed * 131 + this.counter++ * 97 + i * 31) & 0xff;
    return out;
  }
}

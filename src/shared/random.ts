import { randomBytes } from "node:crypto";

/** Randomness is injected: CSPRNG in production, deterministic in unit tests. */
export interface Random {
  bytes(n: number): Uint8Array;
}

export const cryptoRandom: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

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

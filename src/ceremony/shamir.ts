import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";

// Shamir's secret sharing over GF(2^8) (AES field, x^8+x^4+x^3+x+1), byte by byte.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0); // multiply by the generator 3
    x &= 0xff;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255]!;
}
const mul = (a: number, b: number) => (a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!);
const div = (a: number, b: number) => (a === 0 ? 0 : EXP[LOG[a]! + 255 - LOG[b]!]!);

export interface Share {
  /** x coordinate, 1..255. */
  readonly x: number;
  /** One y per secret byte. */
  readonly y: Uint8Array;
}

/** Splits secret into n shares, any m of which rebuild it (m-1 reveal nothing). */
export function split(secret: Uint8Array, n: number, m: number, random: Random): Share[] {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 2 || n < m || n > 255)
    throw new CaError("invalid-input", `need 2 <= quorum (${m}) <= shares (${n}) <= 255`);
  const shares = Array.from({ length: n }, (_, i) => ({ x: i + 1, y: new Uint8Array(secret.length) }));
  for (let b = 0; b < secret.length; b++) {
    const coeffs = Uint8Array.of(secret[b]!, ...random.bytes(m - 1));
    for (const s of shares) {
      // Horner: c0 + x(c1 + x(c2 + ...))
      let acc = 0;
      for (let k = m - 1; k >= 0; k--) acc = mul(acc, s.x) ^ coeffs[k]!;
      s.y[b] = acc;
    }
  }
  return shares;
}

/** Lagrange interpolation at x = 0. */
export function combine(shares: readonly Share[]): Uint8Array {
  if (shares.length === 0) throw new CaError("invalid-input", "no shares");
  const xs = shares.map((s) => s.x);
  if (new Set(xs).size !== xs.length) throw new CaError("invalid-input", "the same share was given twice");
  const len = shares[0]!.y.length;
  if (shares.some((s) => s.y.length !== len || s.x < 1 || s.x > 255)) throw new CaError("invalid-input", "shares of different secrets");
  const out = new Uint8Array(len);
  for (let i = 0; i < shares.length; i++) {
    let li = 1;
    for (let j = 0; j < shares.length; j++) if (i !== j) li = mul(li, div(xs[j]!, xs[j]! ^ xs[i]!));
    for (let b = 0; b < len; b++) out[b] ^= mul(shares[i]!.y[b]!, li);
  }
  return out;
}

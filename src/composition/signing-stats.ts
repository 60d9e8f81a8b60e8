import type { KeySigner } from "../ca/ports.js";

/** Signatures and HSM failures per key since start (for /metrics). */
export interface SigningStats {
  readonly ok: Map<string, number>;
  readonly failed: Map<string, number>;
}

export const newSigningStats = (): SigningStats => ({ ok: new Map(), failed: new Map() });

/** Counts each key's signatures and HSM failures (metrics: cardpki_hsm_signatures_total, cardpki_hsm_errors_total). */
export function counted(signer: KeySigner, key: string, stats: SigningStats): KeySigner {
  const bump = (m: Map<string, number>) => m.set(key, (m.get(key) ?? 0) + 1);
  for (const m of [stats.ok, stats.failed]) if (!m.has(key)) m.set(key, 0); // every key has its series from the start
  return {
    keyType: signer.keyType,
    spki: signer.spki,
    algorithmDer: signer.algorithmDer,
    algorithmOid: signer.algorithmOid,
    sign: (data) =>
      signer.sign(data).then(
        (sig) => {
          bump(stats.ok);
          return sig;
        },
        (e: unknown) => {
          bump(stats.failed);
          throw e;
        },
      ),
  };
}

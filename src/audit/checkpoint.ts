/** A signed statement of the chain's head: entries up to `seq` hash to `entryHash` (REQ-27). */
export interface Checkpoint {
  readonly seq: number;
  readonly entryHash: string;
  /** Entries in the chain up to and including `seq` (after the retention anchor). */
  readonly entries: number;
  /** UTC milliseconds. */
  readonly at: number;
  /** Who signed: the audit signer's certificate (ca-store path) and its SPKI SHA-256. */
  readonly signer: string;
  readonly signerSpkiSha256: string;
  /** Base64 DER ECDSA signature over `checkpointBytes`. */
  readonly signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, "signature">;

/** What is signed: the checkpoint fields in a fixed order. */
export function checkpointBytes(c: UnsignedCheckpoint): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify(["cardpki-audit-checkpoint-v1", c.seq, c.entryHash, c.entries, c.at, c.signer, c.signerSpkiSha256]),
  );
}

/** The HSM audit key (port): signs checkpoint bytes; verification needs only its public key. */
export interface CheckpointSigner {
  readonly name: string;
  readonly spkiSha256: string;
  sign(data: Uint8Array): Promise<Uint8Array>;
  verify(data: Uint8Array, signature: Uint8Array): boolean;
}

import { GENESIS, entryHash, type ChainedEntry } from "./audit-chain.js";
import type { Checkpoint } from "./checkpoint.js";

export type Problem =
  | "changed" // an entry's content does not match its own hash
  | "broken-link" // an entry does not follow the one before it: inserted, deleted or reordered entries
  | "checkpoint" // a signed checkpoint does not match the chain
  | "signature" // a checkpoint's signature is not the audit key's
  | "truncated" // entries a checkpoint covers are missing (cut tail)
  | "rolled-back" // the database is behind the checkpoint kept outside it (restored from an old backup)
  | "timestamp"; // a checkpoint's RFC 3161 token does not match it, is not the TSA's, or is missing

export interface VerifyResult {
  readonly ok: boolean;
  readonly entries: number;
  readonly head?: { readonly seq: number; readonly entryHash: string };
  readonly checkpointsVerified: number;
  /** Checkpoints whose RFC 3161 token verified against the TSA certificate. */
  readonly timestampsVerified?: number;
  readonly externalCheckpoint?: { readonly seq: number; readonly at: string };
  readonly problem?: { readonly kind: Problem; readonly seq?: number; readonly id?: string; readonly message: string };
}

export interface VerifyInput {
  /** The entries in seq order, page by page (constant memory for millions of entries). */
  readonly pages: AsyncIterable<readonly ChainedEntry[]>;
  /** Where the chain starts after an audited retention deletion. */
  readonly anchor?: { readonly seq: number; readonly entryHash: string };
  readonly checkpoints: readonly Checkpoint[];
  /** The latest checkpoint as also written outside the database. */
  readonly external?: Checkpoint;
  readonly verifySignature: (c: Checkpoint) => boolean;
  /**
   * REQ-27: checks a checkpoint's RFC 3161 token (undefined: the checkpoint has none); returns a
   * problem message, or undefined when it verifies. Without it, timestamps are not checked.
   */
  readonly verifyTimestamp?: (c: Checkpoint) => Promise<{ has: boolean; problem?: string }>;
}

/**
 * Walks the hash chain (REQ-27): every entry must hash to its stored hash and link to the entry
 * before it; every checkpoint must be signed by the audit key and match the chain at its seq; the
 * external checkpoint must not be ahead of the database. Stops at the first bad entry and names it.
 */
export async function verifyChain(input: VerifyInput): Promise<VerifyResult> {
  const bySeq = new Map(input.checkpoints.map((c) => [c.seq, c]));
  const external = input.external;
  let prev = input.anchor?.entryHash ?? GENESIS;
  let prevSeq = input.anchor?.seq ?? 0;
  let entries = 0;
  let verified = 0;
  let externalSeen = false;
  const matched = new Set<number>();
  const fail = (kind: Problem, message: string, at?: { seq: number; id: string }): VerifyResult => ({
    ok: false,
    entries,
    checkpointsVerified: verified,
    ...(prevSeq ? { head: { seq: prevSeq, entryHash: prev } } : {}),
    problem: { kind, message, ...(at ? { seq: at.seq, id: at.id } : {}) },
  });
  for (const c of [...input.checkpoints, ...(external ? [external] : [])])
    if (!input.verifySignature(c))
      return fail(
        "signature",
        `checkpoint at seq ${c.seq} (${new Date(c.at).toISOString()}) is not signed by the audit key`,
      );
  let stamped = 0;
  if (input.verifyTimestamp) {
    // Every checkpoint from the first timestamped one on must carry a token that verifies; only the latest may still
    // wait for its token.
    const ordered = [...input.checkpoints].sort((a, b) => a.seq - b.seq);
    let since = false;
    for (let i = 0; i < ordered.length; i++) {
      const c = ordered[i]!;
      const t = await input.verifyTimestamp(c);
      if (t.problem)
        return fail("timestamp", `checkpoint at seq ${c.seq} (${new Date(c.at).toISOString()}): ${t.problem}`);
      if (t.has) {
        since = true;
        stamped++;
      } else if (since && i < ordered.length - 1) {
        return fail(
          "timestamp",
          `checkpoint at seq ${c.seq} (${new Date(c.at).toISOString()}) has no ` +
            `time-stamp token although earlier checkpoints have one: tokens were removed`,
        );
      }
    }
  }
  for await (const page of input.pages) {
    for (const e of page) {
      if (entryHash(e.prevHash, e) !== e.entryHash)
        return fail("changed", `entry seq ${e.seq} (id ${e.id}) was changed after it was written`, e);
      if (e.prevHash !== prev)
        return fail(
          "broken-link",
          `entry seq ${e.seq} (id ${e.id}) does not follow seq ${prevSeq}: entries were deleted, inserted or reordered`,
          e,
        );
      entries++;
      prev = e.entryHash;
      prevSeq = e.seq;
      const c = bySeq.get(e.seq);
      if (c) {
        if (c.entryHash !== e.entryHash)
          return fail(
            "checkpoint",
            `the chain at seq ${e.seq} differs from the signed checkpoint of ${new Date(c.at).toISOString()}`,
            e,
          );
        verified++;
        matched.add(e.seq);
      }
      if (external && external.seq === e.seq) {
        if (external.entryHash !== e.entryHash)
          return fail(
            "checkpoint",
            `the chain at seq ${e.seq} differs from the checkpoint kept outside the database`,
            e,
          );
        externalSeen = true;
      }
    }
  }
  const missing = input.checkpoints.filter((c) => c.seq > prevSeq).sort((a, b) => a.seq - b.seq)[0];
  if (missing)
    return fail(
      "truncated",
      `the chain ends at seq ${prevSeq} but a signed checkpoint covers up to seq ` +
        `${missing.seq}: entries were cut from the end`,
    );
  const atAnchor =
    external && input.anchor && external.seq === input.anchor.seq && external.entryHash === input.anchor.entryHash;
  if (external && !externalSeen && !atAnchor) {
    if (external.seq > prevSeq)
      return fail(
        "rolled-back",
        `the database ends at seq ${prevSeq} but the checkpoint kept outside it ` +
          `(${new Date(external.at).toISOString()}) covers up to seq ${external.seq}: ` +
          `restored from an old backup, or the tail was cut`,
      );
    return fail(
      "checkpoint",
      `the checkpoint kept outside the database names seq ${external.seq}, which is not in the chain`,
    );
  }
  for (const c of input.checkpoints)
    if (c.seq > (input.anchor?.seq ?? 0) && !matched.has(c.seq))
      return fail("checkpoint", `the signed checkpoint at seq ${c.seq} names an entry that is not in the chain`);
  return {
    ok: true,
    entries,
    checkpointsVerified: verified,
    ...(input.verifyTimestamp ? { timestampsVerified: stamped } : {}),
    ...(prevSeq ? { head: { seq: prevSeq, entryHash: prev } } : {}),
    ...(external ? { externalCheckpoint: { seq: external.seq, at: new Date(external.at).toISOString() } } : {}),
  };
}

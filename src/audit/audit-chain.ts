import { createHash } from "node:crypto";

/** The chain's start: the previous hash of the first entry ever written (or after a retention anchor). */
export const GENESIS = "0".repeat(64);

/**
 * One audit entry as it is hashed and stored (REQ-27: unique id, UTC time, actor, organisation, object, action,
 * outcome, policy).
 */
export interface AuditEntry {
  readonly id: string;
  /** UTC, milliseconds since the epoch. */
  readonly at: number;
  readonly actor: string;
  readonly organisationId: string | null;
  readonly action: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly outcome: string;
  /** Policy id@version the action was taken under (workflow, profile), when there is one. */
  readonly policy: string | null;
  /** JSON text; data-minimised (REQ-28: keyed hashes only). */
  readonly details: string | null;
}

export interface ChainedEntry extends AuditEntry {
  readonly seq: number;
  readonly prevHash: string;
  readonly entryHash: string;
}

/** The bytes an entry's hash commits to: every field, in a fixed order, as a JSON array. */
export function canonicalEntry(e: AuditEntry): string {
  return JSON.stringify([
    e.id,
    e.at,
    e.actor,
    e.organisationId,
    e.action,
    e.objectType,
    e.objectId,
    e.outcome,
    e.policy,
    e.details,
  ]);
}

/** entryHash = SHA-256(prevHash ‖ LF ‖ canonical entry): each entry commits to the one before it. */
export function entryHash(prevHash: string, e: AuditEntry): string {
  return createHash("sha256").update(prevHash).update("\n").update(canonicalEntry(e)).digest("hex");
}

/** Hashes a run of new entries onto `head`; returns them with their links, in order. */
export function chain<E extends AuditEntry>(
  head: string,
  entries: readonly E[],
): (E & { prevHash: string; entryHash: string })[] {
  let prev = head;
  return entries.map((e) => {
    const h = entryHash(prev, e);
    const out = { ...e, prevHash: prev, entryHash: h };
    prev = h;
    return out;
  });
}

import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import { GENESIS, chain, type AuditEntry, type ChainedEntry } from "../audit/audit-chain.js";
import type { Checkpoint } from "../audit/checkpoint.js";
import { INSERT_CHUNK, insertChunked, isPostgres, isSqlite } from "./database.js";
import type { AuditAnchorRow, AuditCheckpointRow, AuditEventRow, AuditTimestampRow } from "./rows.js";

/** Advisory lock key of the audit chain's head ("cardpki-audit" as a number). */
const AUDIT_CHAIN_LOCK = 0x6361_7564;

export function auditEntry(e: AuditEvent): AuditEntry {
  return {
    id: e.id,
    at: e.at.getTime(),
    actor: e.actor,
    organisationId: e.organisationId ?? null,
    action: e.action,
    objectType: e.objectType,
    objectId: e.objectId,
    outcome: e.outcome,
    policy: e.policy ?? null,
    details: e.details ? JSON.stringify(e.details) : null,
  };
}

const row = (e: AuditEntry & { prevHash: string; entryHash: string }) => ({
  id: e.id,
  at: e.at,
  actor: e.actor,
  organisation_id: e.organisationId,
  action: e.action,
  object_type: e.objectType,
  object_id: e.objectId,
  outcome: e.outcome,
  policy: e.policy,
  details: e.details,
  prev_hash: e.prevHash,
  entry_hash: e.entryHash,
});

export function chainedEntry(r: AuditEventRow): ChainedEntry {
  return {
    seq: Number(r.seq),
    id: r.id,
    at: Number(r.at),
    actor: r.actor,
    organisationId: r.organisation_id ?? null,
    action: r.action,
    objectType: r.object_type,
    objectId: r.object_id,
    outcome: r.outcome,
    policy: r.policy ?? null,
    details: r.details ?? null,
    // Nullable columns (added to the chain's table later), written with every entry since.
    prevHash: r.prev_hash as string,
    entryHash: r.entry_hash as string,
  };
}

/** The hash the next entry links to: the last entry's, else the retention anchor's, else genesis. */
async function chainHead(trx: Knex.Transaction | Knex): Promise<string> {
  const last = await trx("audit_events").orderBy("seq", "desc").first("entry_hash");
  if (last) return last.entry_hash as string;
  const anchor = await trx("audit_anchor").where({ id: 1 }).first("entry_hash");
  return (anchor?.entry_hash as string | undefined) ?? GENESIS;
}

/**
 * Appends audit events inside the caller's transaction (design: no audit, no change), each
 * hash-linked to the one before it (REQ-27). The head is read inside the transaction, after the
 * change it records took the write lock, so concurrent writers (another process) cannot fork the chain.
 */
export async function appendAuditEvents(trx: Knex.Transaction, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  // PostgreSQL runs transactions side by side: one chain append at a time, across processes too (held to commit).
  if (isPostgres(trx)) await trx.raw("select pg_advisory_xact_lock(?)", [AUDIT_CHAIN_LOCK]);
  const file = sqliteFile(trx);
  const cached = file ? heads.get(file) : undefined;
  const entries = events.map(auditEntry);
  if (file && cached && entries.length <= INSERT_CHUNK) {
    // SQLite: link to the head this process wrote last, inserted only if it still is the head (saves a round trip).
    const linked = chain(cached, entries).map(row);
    if (await insertIfHead(trx, cached, linked)) {
      heads.set(file, linked[linked.length - 1]!.entry_hash);
      return;
    }
  }
  const linked = chain(await chainHead(trx), entries).map(row);
  await insertChunked(trx, "audit_events", linked);
  if (file) heads.set(file, linked[linked.length - 1]!.entry_hash);
}

/** SQLite: the hash this process appended last, per database file (a hint: insertIfHead checks it). */
const heads = new Map<string, string>();
const sqliteFile = (trx: Knex.Transaction): string | undefined => {
  const c = (trx as { client?: { config?: { connection?: { filename?: string } } } }).client?.config;
  return isSqlite(trx) && c?.connection?.filename ? c.connection.filename : undefined;
};
const COLUMNS = [
  "id",
  "at",
  "actor",
  "organisation_id",
  "action",
  "object_type",
  "object_id",
  "outcome",
  "policy",
  "details",
  "prev_hash",
  "entry_hash",
] as const;

/**
 * One statement: the rows go in only if the chain's head is still `head` (another process may
 * have appended since). SQLite reads the head before inserting any row (the SELECT reads the
 * table it inserts into, so its result is taken first).
 */
async function insertIfHead(
  trx: Knex.Transaction,
  head: string,
  rows: readonly ReturnType<typeof row>[],
): Promise<boolean> {
  const values = rows.map(() => `(${COLUMNS.map(() => "?").join(", ")})`).join(", ");
  const bindings = rows.flatMap((r) => COLUMNS.map((c) => r[c] ?? null));
  const res = await trx.raw(
    `INSERT INTO audit_events (${COLUMNS.join(", ")}) SELECT * FROM (VALUES ` +
      `${values}) WHERE (SELECT entry_hash FROM audit_events ORDER BY seq DESC ` +
      `LIMIT 1) = ? RETURNING seq`,
    [...bindings, head],
  );
  return Array.isArray(res) && res.length === rows.length;
}

/** Writes one audit event inside the caller's transaction (design: no audit, no change). */
export async function insertAuditEvent(trx: Knex.Transaction, e: AuditEvent): Promise<void> {
  await appendAuditEvents(trx, [e]);
}

const checkpointOf = (r: AuditCheckpointRow): Checkpoint => ({
  seq: Number(r.seq),
  entryHash: r.entry_hash,
  entries: Number(r.entries),
  at: Number(r.at),
  signer: r.signer,
  signerSpkiSha256: r.signer_spki_sha256,
  signature: r.signature,
});

/** Reading the chain, its checkpoints and the retention anchor; writing checkpoints and retention. */
export class KnexAuditStore {
  constructor(
    private readonly db: Knex,
    private readonly reader: Knex = db,
  ) {}

  /** Entries in seq order, a page at a time (keyset pagination: constant memory). */
  async *pages(
    pageSize = 5000,
    from?: { afterSeq?: number; fromAt?: number; toAt?: number },
  ): AsyncIterable<ChainedEntry[]> {
    let after = from?.afterSeq ?? 0;
    for (;;) {
      let q = this.reader<AuditEventRow>("audit_events").where("seq", ">", after);
      if (from?.fromAt !== undefined) q = q.andWhere("at", ">=", from.fromAt);
      if (from?.toAt !== undefined) q = q.andWhere("at", "<", from.toAt);
      const rows = await q.orderBy("seq").limit(pageSize);
      if (rows.length === 0) return;
      yield rows.map(chainedEntry);
      after = Number(rows[rows.length - 1].seq);
    }
  }

  /** Entries after `afterSeq` matching the filter, oldest first (the `audit events` command). */
  async find(f: {
    afterSeq?: number;
    actionPrefix?: string;
    outcome?: string;
    objectId?: string;
    limit: number;
  }): Promise<ChainedEntry[]> {
    const q = this.reader<AuditEventRow>("audit_events").where("seq", ">", f.afterSeq ?? 0);
    if (f.actionPrefix) q.andWhere("action", "like", `${f.actionPrefix.replace(/[%_\\]/g, "")}%`);
    if (f.outcome) q.andWhere("outcome", f.outcome);
    if (f.objectId) q.andWhere("object_id", f.objectId);
    return (await q.orderBy("seq").limit(f.limit)).map(chainedEntry);
  }

  /** How many entries each action starting with `prefix` has (e.g. "revocation.alarm." for /metrics, REQ-18). */
  async countActions(prefix: string): Promise<Record<string, number>> {
    const rows = await this.reader<AuditEventRow>("audit_events")
      .where("action", "like", `${prefix.replace(/[%_\\]/g, "")}%`)
      .groupBy("action")
      .select("action")
      .count({ n: "*" });
    return Object.fromEntries(rows.map((r) => [r.action, Number(r.n)]));
  }

  /** The entries about one object (an order's timeline), oldest first. */
  async forObject(objectType: string, objectId: string, limit = 500): Promise<ChainedEntry[]> {
    return (
      await this.reader<AuditEventRow>("audit_events")
        .where({ object_type: objectType, object_id: objectId })
        .orderBy("seq")
        .limit(limit)
    ).map(chainedEntry);
  }

  async entryHashAt(seq: number): Promise<string | undefined> {
    const r = await this.reader<AuditEventRow>("audit_events").where({ seq }).first("entry_hash");
    return r?.entry_hash as string | undefined;
  }

  async head(): Promise<{ seq: number; entryHash: string; entries: number } | undefined> {
    const last = await this.reader<AuditEventRow>("audit_events").orderBy("seq", "desc").first("seq", "entry_hash");
    if (!last) return undefined;
    const n = await this.reader<AuditEventRow>("audit_events").count({ n: "*" }).first();
    return { seq: Number(last.seq), entryHash: last.entry_hash as string, entries: Number(n?.n ?? 0) };
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return (await this.reader<AuditCheckpointRow>("audit_checkpoints").orderBy("seq")).map(checkpointOf);
  }

  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    const r = await this.reader<AuditCheckpointRow>("audit_checkpoints").orderBy("seq", "desc").first();
    return r ? checkpointOf(r) : undefined;
  }

  async addCheckpoint(c: Checkpoint): Promise<void> {
    await this.db("audit_checkpoints")
      .insert({
        seq: c.seq,
        entry_hash: c.entryHash,
        entries: c.entries,
        at: c.at,
        signer: c.signer,
        signer_spki_sha256: c.signerSpkiSha256,
        signature: c.signature,
      })
      .onConflict("seq")
      .ignore();
  }

  /**
   * A checkpoint re-made for the same head (its timestamp could not be had when it was signed):
   * replaced in place, with any token of the old one removed.
   */
  async replaceCheckpoint(c: Checkpoint): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("audit_timestamps").where({ seq: c.seq }).delete();
      await trx("audit_checkpoints").where({ seq: c.seq }).update({
        entry_hash: c.entryHash,
        entries: c.entries,
        at: c.at,
        signer: c.signer,
        signer_spki_sha256: c.signerSpkiSha256,
        signature: c.signature,
      });
    });
  }

  /** REQ-27: the RFC 3161 token of a checkpoint. */
  async addTimestamp(t: {
    seq: number;
    token: string;
    genTime: number;
    tsa: string;
    checkpointAt: number;
  }): Promise<void> {
    await this.db("audit_timestamps")
      .insert({ seq: t.seq, token: t.token, gen_time: t.genTime, tsa: t.tsa, checkpoint_at: t.checkpointAt })
      .onConflict("seq")
      .merge();
  }

  async timestamps(): Promise<Map<number, { token: string; genTime: number; tsa: string }>> {
    const rows = await this.reader<AuditTimestampRow>("audit_timestamps").orderBy("seq");
    return new Map(rows.map((r) => [Number(r.seq), { token: r.token, genTime: Number(r.gen_time), tsa: r.tsa }]));
  }

  async anchor(): Promise<{ seq: number; entryHash: string; removedBefore: number } | undefined> {
    const r = await this.reader<AuditAnchorRow>("audit_anchor").where({ id: 1 }).first();
    return r ? { seq: Number(r.seq), entryHash: r.entry_hash, removedBefore: Number(r.removed_before) } : undefined;
  }

  /**
   * Retention (REQ-28): removes the entries older than `before` up to the last checkpoint that
   * covers them, and moves the anchor there, so the rest of the chain still verifies; the removal
   * itself is an audit event in the same transaction.
   */
  async removeBefore(
    before: number,
    audit: (removed: { count: number; throughSeq: number }) => AuditEvent,
  ): Promise<{ count: number; throughSeq: number } | undefined> {
    return this.db.transaction(async (trx) => {
      const cp = await trx("audit_checkpoints")
        .whereIn("seq", trx("audit_events").where("at", "<", before).select("seq"))
        .orderBy("seq", "desc")
        .first();
      if (!cp) return undefined; // nothing old enough that a checkpoint covers
      const through = Number(cp.seq);
      const n = await trx("audit_events").where("seq", "<=", through).count({ n: "*" }).first();
      const count = Number(n?.n ?? 0);
      const removal = audit({ count, throughSeq: through }); // its `at` (the injected clock) dates the anchor too
      await trx("audit_anchor")
        .insert({ id: 1, seq: through, entry_hash: cp.entry_hash, removed_before: before, at: removal.at.getTime() })
        .onConflict("id")
        .merge();
      await trx("audit_events").where("seq", "<=", through).delete();
      await trx("audit_checkpoints").where("seq", "<", through).delete();
      await trx("audit_timestamps").where("seq", "<", through).delete();
      await appendAuditEvents(trx, [removal]);
      return { count, throughSeq: through };
    });
  }
}

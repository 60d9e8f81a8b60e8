import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import { appendAuditEvents } from "./audit.store.js";
import { sqliteWriterThreadFor } from "./sqlite-writer-thread.js";

/** Takes the audit events of the changes a batch made; they are written in the same transaction. */
export type AuditSink = (e: AuditEvent) => void;

/**
 * How one kind of operation is written: a whole batch inside the caller's transaction, one result
 * per operation, in order; the audit events of what it changed go to `audit`.
 */
export type BatchWrite<Op, R> = ((trx: Knex.Transaction, ops: readonly Op[], audit: AuditSink) => Promise<R[]>) & {
  /** Locks the batch's transaction must take before any write of any kind (e.g. the revocation event log's). */
  readonly locksFirst?: (trx: Knex.Transaction) => Promise<void>;
  /** Set by namedWrite: the SQLite writer thread runs this write by its name. */
  readonly writeName?: string;
};

const registry = new Map<string, BatchWrite<unknown, unknown>>();

/**
 * A module-level write under a stable name, so the SQLite writer thread (sqlite-writer-thread.ts)
 * can run it: its ops and results must be plain data (structured clone), and it may not close over
 * process state (seal personal data before the op joins the queue). Unnamed writes run in process.
 */
export function namedWrite<Op, R>(
  name: string,
  write: (trx: Knex.Transaction, ops: readonly Op[], audit: AuditSink) => Promise<R[]>,
  locksFirst?: (trx: Knex.Transaction) => Promise<void>,
): BatchWrite<Op, R> {
  if (registry.has(name)) throw new Error(`a write named '${name}' exists already`);
  const w = Object.assign(write, { writeName: name, ...(locksFirst ? { locksFirst } : {}) });
  registry.set(name, w as BatchWrite<unknown, unknown>);
  return w;
}

/** The write registered under `name` (the writer thread imports the stores that register them). */
export function registeredWrite(name: string): BatchWrite<unknown, unknown> {
  const w = registry.get(name);
  if (!w) throw new Error(`no write named '${name}' is registered`);
  return w;
}

/** One operation's outcome in a runner's answer: its result, or the error its own transaction ended with. */
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Runs named writes somewhere else (the SQLite writer thread), with runTransaction's contract per
 * operation: writes handed over while a transaction is being written share the next one there, and
 * a shared transaction that fails is retried per operation, so each gets its own outcome.
 */
export interface TransactionRunner {
  run(batch: readonly { readonly name: string; readonly op: unknown }[]): Promise<{
    readonly outcomes: readonly Outcome[];
    /** Transactions this answer accounts for (0 when another answer of the same transaction counted it). */
    readonly commits: number;
  }>;
  close(): Promise<void>;
}

/**
 * One transaction of a batch: each kind of operation as one batch, kinds in the order they first
 * arrived, then the audit events of the whole transaction, in order (REQ-27: no change without its
 * audit event). One result per operation.
 */
export async function runTransaction(
  db: Knex,
  batch: readonly { readonly write: BatchWrite<unknown, unknown>; readonly op: unknown }[],
  ownConnection = false,
): Promise<unknown[]> {
  const kinds = new Map<BatchWrite<unknown, unknown>, number[]>();
  batch.forEach((e, i) => {
    const k = kinds.get(e.write);
    if (k) k.push(i);
    else kinds.set(e.write, [i]);
  });
  const body = async (trx: Knex.Transaction): Promise<unknown[]> => {
    // Lock order: these first, then rows, then the audit chain (appendAuditEvents, last).
    for (const write of kinds.keys()) if (write.locksFirst) await write.locksFirst(trx);
    const out = new Array<unknown>(batch.length);
    const audits: AuditEvent[] = [];
    const sink: AuditSink = (e) => void audits.push(e);
    for (const [write, idx] of kinds) {
      const results = await write(
        trx,
        idx.map((i) => batch[i]!.op),
        sink,
      );
      idx.forEach((i, j) => (out[i] = results[j]));
    }
    await appendAuditEvents(trx, audits); // hash-chained, last: after the changes took the write lock
    return out;
  };
  return ownConnection ? onOwnConnection(db, body) : db.transaction(body);
}

/**
 * The transaction on a handle whose one connection nothing else uses meanwhile (the SQLite writer
 * thread's): BEGIN IMMEDIATE, the writes on the handle itself, COMMIT, or ROLLBACK on any error.
 * The same statements as knex's transaction without its per-transaction client (measured: about a
 * third of an empty transaction's CPU and one event-loop turn per statement).
 */
async function onOwnConnection(db: Knex, body: (trx: Knex.Transaction) => Promise<unknown[]>): Promise<unknown[]> {
  await db.raw("BEGIN IMMEDIATE");
  let out: unknown[];
  try {
    out = await body(db as Knex.Transaction);
    await db.raw("COMMIT");
  } catch (e) {
    // SQLite may have rolled back already (e.g. SQLITE_FULL): then ROLLBACK says so, and the first error stands.
    await db.raw("ROLLBACK").catch(() => undefined);
    throw e;
  }
  return out;
}

/**
 * The writer thread's transaction for everything handed over since its last one: one shared
 * transaction; if it fails, each operation in its own, so one bad write never fails its
 * neighbours and each gets its own error.
 */
export async function runGroup(
  db: Knex,
  batch: readonly { readonly write: BatchWrite<unknown, unknown>; readonly op: unknown }[],
  ownConnection = false,
): Promise<{ outcomes: Outcome[]; commits: number }> {
  try {
    const values = await runTransaction(db, batch, ownConnection);
    return { outcomes: values.map((value) => ({ ok: true, value })), commits: 1 };
  } catch (error) {
    if (batch.length === 1) return { outcomes: [{ ok: false, error }], commits: 1 };
  }
  const outcomes: Outcome[] = [];
  for (const e of batch)
    outcomes.push(
      await runTransaction(db, [e], ownConnection).then(
        ([value]) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    );
  return { outcomes, commits: 1 + batch.length };
}

interface Entry {
  readonly write: BatchWrite<unknown, unknown>;
  readonly op: unknown;
  readonly resolve: (r: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Group commit for a whole database: every durable write of every store waits in one queue and
 * the operations that arrive while a transaction is being written share the next one, so N writes
 * cost one commit, not N (SQLite has one writer; a commit is an fsync). Within a transaction each
 * kind of operation is written as one batch, kinds in the order they first arrived, and the audit
 * events of the whole transaction go in last, in order (REQ-27: no change without its audit event). If a shared
 * transaction fails, each operation is retried in its own transaction so that one bad write never
 * fails its neighbours and each gets its own error.
 */
export class CommitQueue {
  private queue: Entry[] = [];
  private flushing = false;
  /** Named writes waiting for this turn's hand-over to the runner; hand-overs not yet answered. */
  private handOver: Entry[] = [];
  private handing = false;
  private remote = 0;
  /** Transactions committed (or attempted) so far. */
  commits = 0;

  /** `runner`: where the named writes run (the SQLite writer thread); the others, and all without one, on `db`. */
  constructor(
    private readonly db: Knex,
    private readonly maxBatch = 256,
    private readonly runner?: TransactionRunner,
  ) {}

  run<Op, R>(write: BatchWrite<Op, R>, op: Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const e: Entry = {
        write: write as BatchWrite<unknown, unknown>,
        op,
        resolve: resolve as (r: unknown) => void,
        reject,
      };
      if (this.runner && write.writeName !== undefined) {
        // Handed over once per turn of the loop; the writer thread does the grouping (no round trip
        // through this thread between its transactions).
        this.handOver.push(e);
        if (!this.handing) {
          this.handing = true;
          setImmediate(() => this.handOverNow());
        }
        return;
      }
      this.queue.push(e);
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private handOverNow(): void {
    this.handing = false;
    const batch = this.handOver.splice(0);
    if (batch.length === 0) return;
    this.remote++;
    this.runner!.run(batch.map((e) => ({ name: e.write.writeName!, op: e.op })))
      .then(
        ({ outcomes, commits }) => {
          this.commits += commits;
          settle(batch, outcomes);
        },
        (err: unknown) => batch.forEach((e) => e.reject(err)),
      )
      .finally(() => this.remote--);
  }

  /** Waits for the transaction in progress, then stops the runner (the writer thread). */
  async close(): Promise<void> {
    while (this.flushing || this.handing || this.remote > 0) await new Promise((r) => setImmediate(r));
    await this.runner?.close();
  }

  /** On this thread (no writer thread, or writes without a name): a group at a time, as the writer thread does. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.commits++; // counted as it starts
      const { outcomes, commits } = await runGroup(this.db, batch);
      this.commits += commits - 1;
      // The next group starts (loop) before the callers of this one continue: their next writes join the one after.
      settle(batch, outcomes);
    }
    this.flushing = false;
  }
}

function settle(batch: readonly Entry[], outcomes: readonly Outcome[]): void {
  batch.forEach((e, i) => {
    const o = outcomes[i]!;
    if (o.ok) e.resolve(o.value);
    else e.reject(o.error);
  });
}

const queues = new WeakMap<Knex, CommitQueue>();

/** The one commit queue of a database handle, shared by every store written through it. */
export function commitQueueOf(db: Knex): CommitQueue {
  let q = queues.get(db);
  if (!q) {
    const runner = sqliteWriterThreadFor(db); // SQLite files: transactions in the writer thread
    const queue = new CommitQueue(db, 256, runner);
    queues.set(db, (q = queue));
    if (runner) {
      // Destroying the handle also stops its writer thread (after the transaction under way): a thread
      // left to be torn down at process exit would take its SQLite connection down uncleanly.
      const destroy = db.destroy.bind(db);
      Object.defineProperty(db, "destroy", {
        configurable: true,
        value: async (callback?: (...args: unknown[]) => void) => {
          await queue.close();
          return destroy(callback as never);
        },
      });
    }
  }
  return q;
}

/** An audit event on its own (alarms, refusals, API requests): through the queue, chained like every other. */
const auditOnly = namedWrite<AuditEvent, void>("audit-only", async (_trx, events, audit) => {
  for (const e of events) audit(e);
  return events.map(() => undefined);
});

export function recordAuditEvent(db: Knex, e: AuditEvent): Promise<void> {
  return commitQueueOf(db).run(auditOnly, e);
}

/** Closes a database handle: the transaction in progress finishes, the writer thread stops, then the pool. */
export async function closeDatabase(db: Knex): Promise<void> {
  await queues.get(db)?.close(); // the queue stays: a write after close is refused, not run by a new thread
  await db.destroy();
}

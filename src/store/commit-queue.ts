import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import { appendAuditEvents } from "./audit.store.js";

/** Takes the audit events of the changes a batch made; they are written in the same transaction. */
export type AuditSink = (e: AuditEvent) => void;

/**
 * How one kind of operation is written: a whole batch inside the caller's transaction, one result
 * per operation, in order; the audit events of what it changed go to `audit`.
 */
export type BatchWrite<Op, R> = ((trx: Knex.Transaction, ops: readonly Op[], audit: AuditSink) => Promise<R[]>) & {
  /** Locks the batch's transaction must take before any write of any kind (e.g. the revocation event log's). */
  readonly locksFirst?: (trx: Knex.Transaction) => Promise<void>;
};


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
  /** Transactions committed (or attempted) so far. */
  commits = 0;

  constructor(private readonly db: Knex, private readonly maxBatch = 256) {}

  run<Op, R>(write: BatchWrite<Op, R>, op: Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ write: write as BatchWrite<unknown, unknown>, op, resolve: resolve as (r: unknown) => void, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async transaction(batch: readonly Entry[]): Promise<unknown[]> {
    this.commits++;
    const kinds = new Map<BatchWrite<unknown, unknown>, number[]>();
    batch.forEach((e, i) => {
      const k = kinds.get(e.write);
      if (k) k.push(i);
      else kinds.set(e.write, [i]);
    });
    return this.db.transaction(async (trx) => {
      // Lock order: these first, then rows, then the audit chain (appendAuditEvents, last).
      for (const write of kinds.keys()) if (write.locksFirst) await write.locksFirst(trx);
      const out = new Array<unknown>(batch.length);
      const audits: AuditEvent[] = [];
      const sink: AuditSink = (e) => void audits.push(e);
      for (const [write, idx] of kinds) {
        const results = await write(trx, idx.map((i) => batch[i]!.op), sink);
        idx.forEach((i, j) => (out[i] = results[j]));
      }
      await appendAuditEvents(trx, audits); // hash-chained, last: after the changes took the write lock
      return out;
    });
  }

  private async flush(): Promise<void> {
    let batch = this.queue.splice(0, this.maxBatch);
    let running: Promise<unknown[]> | undefined = this.transaction(batch);
    while (running) {
      let results: unknown[] | undefined;
      try {
        results = await running;
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
      }
      running = undefined;
      if (results) {
        // The next transaction starts before the callers of this one continue: the writer is not
        // left idle while their code runs (their next writes join the transaction after).
        const done = batch;
        if (this.queue.length > 0) {
          batch = this.queue.splice(0, this.maxBatch);
          running = this.transaction(batch);
          running.catch(() => undefined); // judged when awaited above
        }
        done.forEach((p, i) => p.resolve(results![i]));
      } else {
        if (batch.length > 1)
          for (const p of batch) {
            try {
              p.resolve((await this.transaction([p]))[0]);
            } catch (e) {
              p.reject(e);
            }
          }
        if (this.queue.length > 0) {
          batch = this.queue.splice(0, this.maxBatch);
          running = this.transaction(batch);
        }
      }
    }
    this.flushing = false;
  }
}

const queues = new WeakMap<Knex, CommitQueue>();

/** The one commit queue of a database handle, shared by every store written through it. */
export function commitQueueOf(db: Knex): CommitQueue {
  let q = queues.get(db);
  if (!q) queues.set(db, (q = new CommitQueue(db)));
  return q;
}

/** An audit event on its own (alarms, refusals, API requests): through the queue, chained like every other. */
const auditOnly: BatchWrite<AuditEvent, void> = async (_trx, events, audit) => {
  for (const e of events) audit(e);
  return events.map(() => undefined);
};

export function recordAuditEvent(db: Knex, e: AuditEvent): Promise<void> {
  return commitQueueOf(db).run(auditOnly, e);
}

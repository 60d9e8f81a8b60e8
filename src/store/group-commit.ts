import type { Knex } from "knex";

interface Pending<Op> {
  op: Op;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: writes that arrive while a transaction is being written share the next one,
 * and `apply` turns a whole batch into a few multi-row statements, so N durable records cost
 * one commit, not N. If a shared transaction fails, each op is retried in its own transaction
 * so that one bad write never fails its neighbours and each gets its own error.
 */
export class GroupCommitter<Op> {
  private queue: Pending<Op>[] = [];
  private flushing = false;
  batches = 0;

  constructor(
    private readonly db: Knex,
    private readonly apply: (trx: Knex.Transaction, ops: readonly Op[]) => Promise<void>,
    private readonly maxBatch = 256,
  ) {}

  run(op: Op): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.batches++;
      let ok = false;
      try {
        await this.db.transaction((trx) => this.apply(trx, batch.map((p) => p.op)));
        ok = true;
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
      }
      if (ok) for (const p of batch) p.resolve();
      else if (batch.length > 1)
        for (const p of batch) {
          try {
            await this.db.transaction((trx) => this.apply(trx, [p.op]));
            p.resolve();
          } catch (e) {
            p.reject(e);
          }
        }
    }
    this.flushing = false;
  }
}

/**
 * Like GroupCommitter for operations that each return a result (a compare-and-set that may find
 * the row moved on): concurrent operations share one transaction, each runs its own statements
 * in it. If the shared transaction fails, each operation is retried alone.
 */
export class SharedTransactions<Op, R> {
  private queue: { op: Op; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly db: Knex,
    private readonly one: (trx: Knex.Transaction, op: Op) => Promise<R>,
    private readonly maxBatch = 128,
  ) {}

  run(op: Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let results: R[] | undefined;
      try {
        results = await this.db.transaction(async (trx) => {
          const out: R[] = [];
          for (const p of batch) out.push(await this.one(trx, p.op));
          return out;
        });
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
      }
      if (results) batch.forEach((p, i) => p.resolve(results![i]!));
      else if (batch.length > 1)
        for (const p of batch) {
          try {
            p.resolve(await this.db.transaction((trx) => this.one(trx, p.op)));
          } catch (e) {
            p.reject(e);
          }
        }
    }
    this.flushing = false;
  }
}

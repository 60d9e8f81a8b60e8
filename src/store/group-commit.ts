import type { Knex } from "knex";

/**
 * Operations that arrive while a transaction is being written share the next one, so N durable
 * writes cost one commit, not N. `write` runs a whole batch inside one transaction and returns
 * one result per operation. If a shared transaction fails, each operation is retried in its own
 * transaction so that one bad write never fails its neighbours and each gets its own error.
 */
class SharedCommit<Op, R> {
  private queue: { op: Op; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  batches = 0;

  constructor(
    private readonly db: Knex,
    private readonly write: (trx: Knex.Transaction, ops: readonly Op[]) => Promise<R[]>,
    private readonly maxBatch: number,
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
      this.batches++;
      let results: R[] | undefined;
      try {
        results = await this.db.transaction((trx) => this.write(trx, batch.map((p) => p.op)));
      } catch (e) {
        if (batch.length === 1) batch[0]!.reject(e);
      }
      if (results) batch.forEach((p, i) => p.resolve(results![i]!));
      else if (batch.length > 1)
        for (const p of batch) {
          try {
            p.resolve((await this.db.transaction((trx) => this.write(trx, [p.op])))[0]!);
          } catch (e) {
            p.reject(e);
          }
        }
    }
    this.flushing = false;
  }
}

/** Group commit for writes that return nothing: `apply` turns a whole batch into a few multi-row statements. */
export class GroupCommitter<Op> extends SharedCommit<Op, void> {
  constructor(db: Knex, apply: (trx: Knex.Transaction, ops: readonly Op[]) => Promise<void>, maxBatch = 256) {
    super(db, async (trx, ops) => {
      await apply(trx, ops);
      return ops.map(() => undefined);
    }, maxBatch);
  }
}

/**
 * Group commit for operations that each return a result (a compare-and-set that may find the row
 * moved on): each runs its own statements inside the shared transaction.
 */
export class SharedTransactions<Op, R> extends SharedCommit<Op, R> {
  constructor(db: Knex, one: (trx: Knex.Transaction, op: Op) => Promise<R>, maxBatch = 128) {
    super(db, async (trx, ops) => {
      const out: R[] = [];
      for (const op of ops) out.push(await one(trx, op));
      return out;
    }, maxBatch);
  }
}

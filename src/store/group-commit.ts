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

import type { Knex } from "knex";

interface Item {
  work: (trx: Knex.Transaction) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: concurrent writes that arrive while a transaction is on disk share the next
 * one, so N durable records cost one fsync, not N. If a shared transaction fails, each item
 * is retried in its own transaction so one bad write never fails its neighbours.
 */
export class GroupCommitter {
  private queue: Item[] = [];
  private flushing = false;
  batches = 0;

  constructor(private readonly db: Knex, private readonly maxBatch = 128) {}

  run<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
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
      if (batch.length === 1) {
        await this.single(batch[0]!);
        continue;
      }
      let results: unknown[] | undefined;
      try {
        results = await this.db.transaction(async (trx) => {
          const out: unknown[] = [];
          for (const item of batch) out.push(await item.work(trx));
          return out;
        });
      } catch {
        results = undefined;
      }
      if (results) batch.forEach((item, i) => item.resolve(results![i]));
      else for (const item of batch) await this.single(item);
    }
    this.flushing = false;
  }

  private async single(item: Item): Promise<void> {
    try {
      item.resolve(await this.db.transaction((trx) => item.work(trx)));
    } catch (e) {
      item.reject(e);
    }
  }
}

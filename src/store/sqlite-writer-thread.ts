import { Worker } from "node:worker_threads";
import type { Knex } from "knex";
import { CaError, type ErrorKind } from "../shared/ca-error.js";
import type { Outcome, TransactionRunner } from "./commit-queue.js";
import { isSqlite } from "./database.js";

/**
 * SQLite's one writer, in a thread of its own. On the event loop every statement of a transaction
 * (BEGIN, the batch's writes, the audit append, COMMIT) waits for a turn of the loop, behind
 * whatever else the process is doing; measured under the RA benchmark a writer statement took
 * about 1.7 ms that way and a transaction about 13 ms, which bounded the whole RA. Here the
 * commit queue hands whole transactions of named writes (commit-queue.ts namedWrite) to a worker
 * with its own connection, which groups and runs them back to back; the main thread keeps the read pool and
 * a writer connection for the few writes that are not named. Both writer connections begin with
 * BEGIN IMMEDIATE and wait for each other (busy_timeout), so neither fails on a stale snapshot.
 */
export class SqliteWriterThread implements TransactionRunner {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: Answer) => void; reject: (e: unknown) => void }>();
  private next = 1;
  private closed = false;

  constructor(private readonly filename: string) {}

  run(batch: readonly { readonly name: string; readonly op: unknown }[]): Promise<Answer> {
    if (this.closed) return Promise.reject(new CaError("unavailable", "the database is closed"));
    const w = this.started();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref(); // a transaction in flight keeps the process alive; an idle writer does not
      try {
        w.postMessage({ id, batch });
      } catch (e) {
        this.pending.delete(id);
        this.idle();
        reject(
          new CaError("invalid-input", `a write could not be handed to the writer thread: ${(e as Error).message}`),
        );
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    await new Promise<void>((resolve) => {
      w.once("exit", () => resolve());
      w.postMessage({ close: true });
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL("./sqlite-writer.worker.js", import.meta.url), {
      workerData: { filename: this.filename },
    });
    w.unref();
    type Wire = { ok: true; value: unknown } | { ok: false; error: SerializedError };
    w.on("message", (m: { id: number; outcomes: Wire[]; commits: number }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.idle();
      p.resolve({
        commits: m.commits,
        outcomes: m.outcomes.map((o) => (o.ok ? o : { ok: false, error: revive(o.error) })),
      });
    });
    const fail = (e: unknown) => {
      if (this.worker === w) this.worker = undefined;
      const err = new CaError("unavailable", `the database writer thread stopped: ${(e as Error)?.message ?? e}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    return (this.worker = w);
  }

  private idle(): void {
    if (this.pending.size === 0) this.worker?.unref();
  }
}

/** The writer thread's answer to one hand-over. */
type Answer = { readonly outcomes: readonly Outcome[]; readonly commits: number };

/** An error as it crosses the thread boundary: enough to rebuild what the stores and callers test for. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly errno?: number;
  readonly kind?: ErrorKind;
  readonly details?: unknown;
  readonly caCode?: string;
  readonly params?: unknown;
}

/** Error classes a named write may throw, rebuilt by name on the main thread (registered by their modules). */
const errorClasses = new Map<string, new (message: string) => Error>();
export function crossThreadError(c: new (message: string) => Error): void {
  errorClasses.set(c.name, c);
}

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & { code?: unknown; errno?: unknown };
  const base = { name: err?.constructor?.name ?? "Error", message: String(err?.message ?? e) };
  if (CaError.is(e))
    return {
      ...base,
      name: "CaError",
      kind: e.kind,
      details: e.details,
      ...(e.coded ? { caCode: e.code } : {}),
      params: e.params,
    };
  return {
    ...base,
    ...(typeof err?.code === "string" ? { code: err.code } : {}),
    ...(typeof err?.errno === "number" ? { errno: err.errno } : {}),
  };
}

function revive(s: SerializedError): Error {
  if (s.name === "CaError")
    return new CaError(s.kind!, s.message, s.details as Record<string, unknown> | undefined, {
      ...(s.caCode ? { code: s.caCode } : {}),
      params: (s.params ?? {}) as never,
    });
  const C = errorClasses.get(s.name);
  const e = C ? new C(s.message) : new Error(s.message);
  if (!C) Object.assign(e, { name: s.name });
  return Object.assign(
    e,
    s.code !== undefined ? { code: s.code } : {},
    s.errno !== undefined ? { errno: s.errno } : {},
  );
}

/** The writer thread for a SQLite file's writer handle (undefined: in-memory, a replica, or not SQLite). */
export function sqliteWriterThreadFor(db: Knex): TransactionRunner | undefined {
  if (!isSqlite(db)) return undefined;
  const c = (db as { client?: { config?: { connection?: { filename?: string; immediateTransactions?: boolean } } } })
    .client?.config?.connection;
  if (!c?.filename || c.filename === ":memory:" || !c.immediateTransactions) return undefined;
  return new SqliteWriterThread(c.filename);
}

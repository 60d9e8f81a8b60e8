import { parentPort, workerData } from "node:worker_threads";
import { registeredWrite, runGroup, type Outcome } from "./commit-queue.js";
import { holdConnection, sqliteKnex } from "./database.js";
import { serializeError } from "./sqlite-writer-thread.js";
// The stores whose writes are named (commit-queue.ts namedWrite): importing them registers the writes.
import "./order.store.js";
import "./cert.store.js";
import "./linked-writes.js";
import "./activation.store.js";
import "./card.store.js";
import "./delivery.store.js";
import "./bureau.store.js";

/**
 * The SQLite writer thread (sqlite-writer-thread.ts): one connection. Everything handed over while
 * a transaction is being written goes into the next one, which starts as soon as that one
 * committed (group commit here, without a round trip through the main thread), up to MAX_OPS.
 */
const MAX_OPS = 256;
const { filename } = workerData as { filename: string };
const db = sqliteKnex(filename, "writer");
const held = holdConnection(db); // this thread is the connection's only user
held.catch(() => undefined); // its error is each group's (drain)
const port = parentPort!;
type Message = { id: number; batch: { name: string; op: unknown }[] };
const waiting: Message[] = [];
let busy = false;
let closing = false;

const wire = (o: Outcome) => (o.ok ? o : { ok: false, error: serializeError(o.error) });

function answer(m: Message, outcomes: readonly Outcome[], commits: number): void {
  try {
    port.postMessage({ id: m.id, outcomes: outcomes.map(wire), commits });
  } catch (e) {
    const error = new Error(`a write's result cannot cross threads (committed): ${(e as Error).message}`);
    port.postMessage({ id: m.id, outcomes: outcomes.map(() => wire({ ok: false, error })), commits });
  }
}

async function drain(): Promise<void> {
  while (waiting.length > 0) {
    const group: Message[] = [waiting.shift()!];
    let ops = group[0]!.batch.length;
    while (waiting.length > 0 && ops + waiting[0]!.batch.length <= MAX_OPS) {
      ops += waiting[0]!.batch.length;
      group.push(waiting.shift()!);
    }
    let outcomes: Outcome[];
    let commits = 0;
    try {
      const entries = group.flatMap((m) => m.batch.map((b) => ({ write: registeredWrite(b.name), op: b.op })));
      await held; // a connection that cannot be opened fails each group, as a failed write would
      ({ outcomes, commits } = await runGroup(db, entries, true)); // this thread's one connection
    } catch (error) {
      outcomes = group.flatMap((m) => m.batch.map(() => ({ ok: false as const, error })));
    }
    let k = 0;
    for (const m of group) {
      answer(m, outcomes.slice(k, k + m.batch.length), k === 0 ? commits : 0);
      k += m.batch.length;
    }
  }
  busy = false;
  if (closing) await shutDown();
}

async function shutDown(): Promise<void> {
  await (
    await held.catch(() => async () => undefined)
  )();
  await db.destroy();
  port.close();
}

port.on("message", (m: Message | { close: true }) => {
  if ("close" in m) {
    closing = true;
    if (!busy) void shutDown();
    return;
  }
  waiting.push(m);
  if (!busy) {
    busy = true;
    setImmediate(() => void drain());
  }
});

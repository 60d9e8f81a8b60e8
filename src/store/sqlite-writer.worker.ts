import { parentPort, workerData } from "node:worker_threads";
import { registeredWrite, runTransaction } from "./commit-queue.js";
import { sqliteKnex } from "./database.js";
import { serializeError } from "./sqlite-writer-thread.js";
// The stores whose writes are named (commit-queue.ts namedWrite): importing them registers the writes.
import "./order.store.js";
import "./cert.store.js";
import "./linked-writes.js";
import "./activation.store.js";
import "./card.store.js";
import "./delivery.store.js";
import "./bureau.store.js";

/** The SQLite writer thread (sqlite-writer-thread.ts): one connection, whole transactions, in arrival order. */
const { filename } = workerData as { filename: string };
const db = sqliteKnex(filename, "writer");
const port = parentPort!;
let chain: Promise<void> = Promise.resolve();

port.on("message", (m: { id: number; batch: { name: string; op: unknown }[] } | { close: true }) => {
  chain = chain.then(async () => {
    if ("close" in m) {
      await db.destroy();
      port.close();
      return;
    }
    try {
      const results = await runTransaction(
        db,
        m.batch.map((b) => ({ write: registeredWrite(b.name), op: b.op })),
      );
      try {
        port.postMessage({ id: m.id, results });
      } catch (e) {
        port.postMessage({
          id: m.id,
          error: serializeError(
            new Error(`a write's result cannot cross threads (committed): ${(e as Error).message}`),
          ),
        });
      }
    } catch (e) {
      port.postMessage({ id: m.id, error: serializeError(e) });
    }
  });
});

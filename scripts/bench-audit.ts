// Audit trail benchmark (REQ-27, REQ-31): append throughput through the commit queue (hash-chained,
// target ≥ 5,000 entries/s on SQLite) beside the same rows written unchained; and verifying a
// chain of 1M entries beside only reading them.
import { join } from "node:path";
import type { Knex } from "knex";
import type { OperatorCa } from "../src/composition/operator-role.js";
import { openDatabase } from "../src/store/database.js";
import { commitQueueOf, recordAuditEvent, type BatchWrite } from "../src/store/commit-queue.js";
import { KnexAuditStore } from "../src/store/audit.store.js";
import { GENESIS, chain } from "../src/audit/audit-chain.js";
import { verifyChain } from "../src/audit/chain-verifier.js";
import type { AuditEvent } from "../src/ca/ports.js";
import { systemClock } from "../src/shared/clock.js";
import { newId } from "../src/shared/ids.js";
import { cryptoRandom } from "../src/shared/random.js";

type Measure = (
  concurrency: number,
  seconds: number,
  op: (w: number) => Promise<unknown>,
) => Promise<{ ops: number; seconds: number; perSecond: number; latencyMs: Record<string, number> }>;

export async function benchAudit(
  rt: OperatorCa,
  dir: string,
  measure: Measure,
  seconds: number,
  verifyEntries: number,
) {
  let n = 0;
  const event = (): AuditEvent => ({
    id: `${process.pid}-${n++}-${newId(cryptoRandom)}`,
    at: systemClock.now(),
    actor: "officer:bench",
    action: "api.get /orders/:id",
    objectType: "api",
    objectId: `/api/v1/orders/${n}`,
    outcome: "success",
    organisationId: "org-bench",
    details: { status: 200, ip: "10.0.0.1", ms: 3 },
  });
  // Peer: the same rows through the same commit queue, into a table without the chain.
  await rt.db.schema.createTable("bench_audit_plain", (t) => {
    t.increments("seq").primary();
    t.string("id", 64).notNullable().unique();
    t.bigInteger("at").notNullable();
    for (const c of ["actor", "organisation_id", "action", "object_type", "object_id", "outcome"]) t.string(c, 128);
    t.text("details");
  });
  const plain: BatchWrite<AuditEvent, void> = async (trx: Knex.Transaction, ops) => {
    for (let i = 0; i < ops.length; i += 200)
      await trx("bench_audit_plain").insert(
        ops.slice(i, i + 200).map((e) => ({
          id: e.id,
          at: e.at.getTime(),
          actor: e.actor,
          organisation_id: e.organisationId,
          action: e.action,
          object_type: e.objectType,
          object_id: e.objectId,
          outcome: e.outcome,
          details: JSON.stringify(e.details),
        })),
      );
    return ops.map(() => undefined);
  };
  const q = commitQueueOf(rt.db);
  const unchained = await measure(64, Math.min(seconds, 5), () => q.run(plain, event()));
  const chained = await measure(64, seconds, () => recordAuditEvent(rt.db, event()));

  // Verify: a fresh database with `verifyEntries` chained entries.
  const db = await openDatabase(`sqlite:${join(dir, "audit-verify.db")}`);
  try {
    let prev = GENESIS;
    const t0 = performance.now();
    for (let i = 0; i < verifyEntries; i += 20_000) {
      const batch = chain(
        prev,
        Array.from({ length: Math.min(20_000, verifyEntries - i) }, (_, k) => ({
          id: `v${i + k}`,
          at: 1_790_000_000_000 + i + k,
          actor: "officer:bench",
          organisationId: "org-bench",
          action: "order.identify",
          objectType: "order",
          objectId: `o${i + k}`,
          outcome: "success",
          policy: "loa3-card-order@3",
          details: JSON.stringify({ documentType: "passport", guards: ["officer-qualified", "distinct-identifiers"] }),
        })),
      );
      prev = batch[batch.length - 1]!.entryHash;
      await db.transaction(async (trx) => {
        for (let k = 0; k < batch.length; k += 500)
          await trx("audit_events").insert(
            batch.slice(k, k + 500).map((e) => ({
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
            })),
          );
      });
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    const store = new KnexAuditStore(db);
    let s = performance.now();
    let read = 0;
    for await (const page of store.pages()) read += page.length;
    const readSeconds = (performance.now() - s) / 1000;
    s = performance.now();
    const v = await verifyChain({ pages: store.pages(), checkpoints: [], verifySignature: () => true });
    const verifySeconds = (performance.now() - s) / 1000;
    return {
      benchmark:
        "audit append (hash-chained, through the commit queue, 64 concurrent " +
        "writers, SQLite WAL synchronous=FULL) and verify",
      append: {
        chained,
        unchainedSameQueue: unchained,
        ratioToUnchained: Number((chained.perSecond / unchained.perSecond).toFixed(3)),
        target: { entriesPerSecond: 5000, met: chained.perSecond >= 5000 },
      },
      verify: {
        entries: v.entries,
        ok: v.ok,
        seconds: Number(verifySeconds.toFixed(2)),
        entriesPerSecond: Math.round(v.entries / verifySeconds),
        readOnlySeconds: Number(readSeconds.toFixed(2)),
        rowsRead: read,
        ratioToReadOnly: Number((readSeconds / verifySeconds).toFixed(3)),
        loadSeconds: Number(loadSeconds.toFixed(1)),
      },
    };
  } finally {
    await db.destroy();
  }
}

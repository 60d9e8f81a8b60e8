import type { Knex } from "knex";
import type { AuditEvent, Reservation, RevocationChange } from "../ca/ports.js";
import type { OrderChange } from "../ra/order.js";
import { commitQueueOf, namedWrite, type AuditSink, type CommitQueue } from "./commit-queue.js";
import type { CertOp } from "./cert.store.js";
import { abandonReservedIn, applyCertOps } from "./cert.store.js";
import { writeOrderBatch, type KnexOrderStore, type OrderOp } from "./order.store.js";
import { crossThreadError } from "./sqlite-writer-thread.js";
import { applyRevocationsIn, lockRevocationEvents } from "./revocation.store.js";

/** An order change (compare-and-set on its version) with its audit event. */
export interface LinkedOrder {
  readonly change: OrderChange;
  readonly audit: AuditEvent;
}

/** The order moved on, or the certificate was not in the state this write expected: nothing was written. */
export class LinkedConflict extends Error {}
crossThreadError(LinkedConflict);

/** One linked write: the order's change (first, its messages sealed), then the certificate's records it goes with. */
interface LinkedOp {
  readonly order?: OrderOp;
  readonly cert?: CertOp;
  readonly revocation?: { readonly change: RevocationChange; readonly audit: AuditEvent };
  readonly abandon?: { readonly serial: string; readonly at: Date; readonly actor: string; readonly audit: AuditEvent };
}

/** When an op's order change loses its compare-and-set, nothing of that op is written and it answers false. */
async function writeLinkedBatch(trx: Knex.Transaction, ops: readonly LinkedOp[], audit: AuditSink): Promise<boolean[]> {
  const withOrder = ops.map((o, i) => [o, i] as const).filter(([o]) => o.order);
  const won = await writeOrderBatch(
    trx,
    withOrder.map(([o]) => o.order!),
    audit,
  );
  const ok = ops.map((o) => !o.order);
  withOrder.forEach(([, i], j) => (ok[i] = won[j] === true));
  const winners = ops.filter((_, i) => ok[i]);
  const certOps = winners.flatMap((o) => (o.cert ? [o.cert] : []));
  if (certOps.length) await applyCertOps(trx, certOps);
  // The winners' revocation changes (holds at issuance, releases at activation) in one compare-and-set.
  const revocations = winners.flatMap((o) => (o.revocation ? [o.revocation.change] : []));
  const applied = await applyRevocationsIn(trx, revocations);
  const lost = revocations.find((_, i) => !applied[i]);
  if (lost) throw new LinkedConflict(`certificate ${lost.serial} changed while this request ran`);
  for (const o of winners) {
    if (o.cert) audit(o.cert.audit);
    if (o.revocation) audit(o.revocation.audit);
    if (o.abandon) {
      if (!(await abandonReservedIn(trx, o.abandon.serial, o.abandon.at, o.abandon.actor)))
        throw new LinkedConflict(`serial ${o.abandon.serial} is no longer reserved`);
      audit(o.abandon.audit);
    }
  }
  return ok;
}

/** The linked writes through the commit queue (named: the SQLite writer thread runs them). */
const linkedWrite = namedWrite<LinkedOp, boolean>("linked", writeLinkedBatch, lockRevocationEvents);

/**
 * The production saga's writes (REQ-14/16, design: record serial before signing, store before
 * returning): each step of a card certificate's record and the order it belongs to change in ONE
 * transaction, so a crash leaves either both or neither. Reserve + order to PRODUCING; certificate
 * stored, on hold, + order to PRODUCED; a revocation (or release of the activation hold) + the
 * order's transition. They share the database's commit queue (group commit; a batch's order
 * changes are one compare-and-set, its certificate records multi-row writes) and take the
 * revocation event log's lock before any row (lock order of revocation.store.ts).
 */
export class KnexLinkedWrites {
  private readonly queue: CommitQueue;

  constructor(
    db: Knex,
    private readonly orders: KnexOrderStore,
  ) {
    this.queue = commitQueueOf(db);
  }

  private run(op: Omit<LinkedOp, "order"> & { readonly order?: LinkedOrder }): Promise<boolean> {
    // REQ-29: the order's messages are sealed here, before the op leaves this thread.
    const { order, ...rest } = op;
    return this.queue.run(linkedWrite, {
      ...rest,
      ...(order ? { order: this.orders.changeOp(order.change, order.audit) } : {}),
    });
  }

  /** Records serial + TBS and moves the order (to PRODUCING, naming the serial); false: the order changed. */
  reserve(r: Reservation, certAudit: AuditEvent, order: LinkedOrder): Promise<boolean> {
    return this.run({ order, cert: { kind: "reserve", r, audit: certAudit } });
  }

  /** Stores the signed certificate, on hold when `hold` is given, and moves the order; false: the order changed. */
  complete(
    serial: string,
    der: Uint8Array,
    certAudit: AuditEvent,
    hold: { change: RevocationChange; audit: AuditEvent } | undefined,
    order: LinkedOrder,
  ): Promise<boolean> {
    return this.run({
      order,
      cert: { kind: "issued", serial, der, audit: certAudit },
      ...(hold ? { revocation: hold } : {}),
    });
  }

  /** Signing failed (no signature exists): the serial is burnt and the order moves back. */
  fail(serial: string, certAudit: AuditEvent, order: LinkedOrder | undefined): Promise<boolean> {
    return this.run({ ...(order ? { order } : {}), cert: { kind: "failed", serial, audit: certAudit } });
  }

  /** A reserved serial given up (it may have been signed): published as revoked, with the order's change. */
  abandon(
    serial: string,
    at: Date,
    actor: string,
    certAudit: AuditEvent,
    order: LinkedOrder | undefined,
  ): Promise<boolean> {
    return this.run({ ...(order ? { order } : {}), abandon: { serial, at, actor, audit: certAudit } });
  }

  /**
   * A revocation change (revoke, hold, release) with the order's change; false: the order changed; LinkedConflict: the
   * certificate did.
   */
  revocation(change: RevocationChange, changeAudit: AuditEvent, order: LinkedOrder | undefined): Promise<boolean> {
    return this.run({ ...(order ? { order } : {}), revocation: { change, audit: changeAudit } });
  }
}

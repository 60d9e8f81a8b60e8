import type { Knex } from "knex";
import type { AuditEvent, Reservation, RevocationChange } from "../ca/ports.js";
import type { OrderChange } from "../ra/order.js";
import { commitQueueOf, type AuditSink, type BatchWrite, type CommitQueue } from "./commit-queue.js";
import type { KnexCertStore } from "./cert.store.js";
import { abandonReservedIn } from "./cert.store.js";
import type { KnexOrderStore } from "./order.store.js";
import { applyRevocationIn, lockRevocationEvents } from "./revocation.store.js";

/** An order change (compare-and-set on its version) with its audit event. */
export interface LinkedOrder {
  readonly change: OrderChange;
  readonly audit: AuditEvent;
}

/** The order moved on, or the certificate was not in the state this write expected: nothing was written. */
export class LinkedConflict extends Error {}

type LinkedOp = (trx: Knex.Transaction, audit: AuditSink) => Promise<boolean>;

/**
 * The production saga's writes (REQ-14/16, design: record serial before signing, store before
 * returning): each step of a card certificate's record and the order it belongs to change in ONE
 * transaction, so a crash leaves either both or neither. Reserve + order to PRODUCING; certificate
 * stored, on hold, + order to PRODUCED; a revocation (or release of the activation hold) + the
 * order's transition. They share the database's commit queue (group commit) and take the
 * revocation event log's lock before any row (lock order of revocation.store.ts).
 */
export class KnexLinkedWrites {
  private readonly queue: CommitQueue;
  private readonly write: BatchWrite<LinkedOp, boolean>;

  constructor(db: Knex, private readonly orders: KnexOrderStore, private readonly certs: KnexCertStore) {
    this.queue = commitQueueOf(db);
    const write = async (trx: Knex.Transaction, ops: readonly LinkedOp[], audit: AuditSink) => {
      const out: boolean[] = [];
      for (const op of ops) out.push(await op(trx, audit));
      return out;
    };
    this.write = Object.assign(write, { locksFirst: lockRevocationEvents });
  }

  /** The order's compare-and-set first: when it loses, nothing is written and the op answers false. */
  private async order(trx: Knex.Transaction, o: LinkedOrder | undefined, audit: AuditSink): Promise<boolean> {
    if (!o) return true;
    const [won] = await this.orders.writeIn(trx, [this.orders.changeOp(o.change, o.audit)], audit);
    return won === true;
  }

  private run(op: LinkedOp): Promise<boolean> {
    return this.queue.run(this.write, op);
  }

  /** Records serial + TBS and moves the order (to PRODUCING, naming the serial); false: the order changed. */
  reserve(r: Reservation, certAudit: AuditEvent, order: LinkedOrder): Promise<boolean> {
    return this.run(async (trx, audit) => {
      if (!(await this.order(trx, order, audit))) return false;
      await this.certs.writeIn(trx, [{ kind: "reserve", r, audit: certAudit }]);
      audit(certAudit);
      return true;
    });
  }

  /** Stores the signed certificate, on hold when `hold` is given, and moves the order; false: the order changed. */
  complete(serial: string, der: Uint8Array, certAudit: AuditEvent, hold: { change: RevocationChange; audit: AuditEvent } | undefined, order: LinkedOrder): Promise<boolean> {
    return this.run(async (trx, audit) => {
      if (!(await this.order(trx, order, audit))) return false;
      await this.certs.writeIn(trx, [{ kind: "issued", serial, der, audit: certAudit }]);
      audit(certAudit);
      if (hold) {
        if (!(await applyRevocationIn(trx, hold.change))) throw new LinkedConflict(`certificate ${serial} changed while it was stored`);
        audit(hold.audit);
      }
      return true;
    });
  }

  /** Signing failed (no signature exists): the serial is burnt and the order moves back. */
  fail(serial: string, certAudit: AuditEvent, order: LinkedOrder | undefined): Promise<boolean> {
    return this.run(async (trx, audit) => {
      if (!(await this.order(trx, order, audit))) return false;
      await this.certs.writeIn(trx, [{ kind: "failed", serial, audit: certAudit }]);
      audit(certAudit);
      return true;
    });
  }

  /** A reserved serial given up (it may have been signed): published as revoked, with the order's change. */
  abandon(serial: string, at: Date, actor: string, certAudit: AuditEvent, order: LinkedOrder | undefined): Promise<boolean> {
    return this.run(async (trx, audit) => {
      if (!(await this.order(trx, order, audit))) return false;
      if (!(await abandonReservedIn(trx, serial, at, actor))) throw new LinkedConflict(`serial ${serial} is no longer reserved`);
      audit(certAudit);
      return true;
    });
  }

  /** A revocation change (revoke, hold, release) with the order's change; false: the order changed; LinkedConflict: the certificate did. */
  revocation(change: RevocationChange, changeAudit: AuditEvent, order: LinkedOrder | undefined): Promise<boolean> {
    return this.run(async (trx, audit) => {
      if (!(await this.order(trx, order, audit))) return false;
      if (!(await applyRevocationIn(trx, change))) throw new LinkedConflict(`certificate ${change.serial} changed while this request ran`);
      audit(changeAudit);
      return true;
    });
  }
}

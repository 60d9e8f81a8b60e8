import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { ActivationChallenge, ActivationRecords, PinReplacement } from "../ra/activation.js";
import { commitQueueOf, type BatchWrite, type CommitQueue } from "./commit-queue.js";

type Op =
  | { readonly kind: "challenge"; readonly c: ActivationChallenge; readonly audit: AuditEvent }
  | { readonly kind: "pin"; readonly r: PinReplacement; readonly audit: AuditEvent };

const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));

/** REQ-16: activation challenges (one per order, replaced by a new one) and the card station's PIN records, with their audit events. */
export class KnexActivationStore implements ActivationRecords {
  private readonly queue: CommitQueue;
  private readonly write: BatchWrite<Op, void> = async (trx, ops, audit) => {
    for (const o of ops) {
      if (o.kind === "challenge") {
        await trx("activation_challenges").insert({
          order_id: o.c.orderId, cert_serial: o.c.certSerial, challenge: o.c.challenge, issued_at: o.c.issuedAt.getTime(), expires_at: o.c.expiresAt.getTime(), used_at: null,
        }).onConflict("order_id").merge();
      } else {
        await trx("transport_pin_replacements").insert({ order_id: o.r.orderId, cert_serial: o.r.certSerial, card_serial: o.r.cardSerial ?? null, at: o.r.at.getTime(), recorded_by: o.r.recordedBy });
      }
      audit(o.audit);
    }
    return ops.map(() => undefined);
  };

  constructor(private readonly db: Knex) {
    this.queue = commitQueueOf(db);
  }

  putChallenge(c: ActivationChallenge, audit: AuditEvent): Promise<void> {
    return this.queue.run(this.write, { kind: "challenge", c, audit });
  }

  async challenge(orderId: string): Promise<ActivationChallenge | undefined> {
    const r = await this.db("activation_challenges").where({ order_id: orderId }).first();
    if (!r) return undefined;
    return {
      orderId: r.order_id, certSerial: r.cert_serial, challenge: r.challenge, issuedAt: new Date(Number(r.issued_at)), expiresAt: new Date(Number(r.expires_at)),
      ...(r.used_at != null ? { usedAt: date(r.used_at)! } : {}),
    };
  }

  async useChallenge(orderId: string, challenge: string, at: Date): Promise<boolean> {
    const n = await this.db("activation_challenges").where({ order_id: orderId, challenge }).whereNull("used_at").update({ used_at: at.getTime() });
    return n === 1;
  }

  addPinReplacement(r: PinReplacement, audit: AuditEvent): Promise<void> {
    return this.queue.run(this.write, { kind: "pin", r, audit });
  }

  async pinReplacement(orderId: string, certSerial: string): Promise<PinReplacement | undefined> {
    const r = await this.db("transport_pin_replacements").where({ order_id: orderId, cert_serial: certSerial }).orderBy("seq", "desc").first();
    if (!r) return undefined;
    return { orderId: r.order_id, certSerial: r.cert_serial, ...(r.card_serial ? { cardSerial: r.card_serial } : {}), at: new Date(Number(r.at)), recordedBy: r.recorded_by };
  }
}

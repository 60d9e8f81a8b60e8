import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { ActivationChallenge, ActivationRecords, PinReplacement } from "../ra/activation.js";
import { INSERT_CHUNK, insertChunked } from "./database.js";
import { commitQueueOf, namedWrite, type CommitQueue } from "./commit-queue.js";
import type { ActivationChallengeRow, TransportPinReplacementRow } from "./rows.js";

type Op =
  | { readonly kind: "challenge"; readonly c: ActivationChallenge; readonly audit: AuditEvent }
  | { readonly kind: "pin"; readonly r: PinReplacement; readonly audit: AuditEvent };

const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));

/**
 * A batch in two multi-row statements: the challenges (upserted on the order, a later one of the
 * same order replacing an earlier one, as in sequence) and the PIN records, in op order.
 */
const activationWrite = namedWrite<Op, void>("activation", async (trx, ops, audit) => {
  const challenges = new Map<string, Record<string, unknown>>();
  for (const o of ops)
    if (o.kind === "challenge") {
      challenges.delete(o.c.orderId); // keep the latest, in its place
      challenges.set(o.c.orderId, {
        order_id: o.c.orderId,
        cert_serial: o.c.certSerial,
        challenge: o.c.challenge,
        issued_at: o.c.issuedAt.getTime(),
        expires_at: o.c.expiresAt.getTime(),
        used_at: null,
      });
    }
  const rows = [...challenges.values()];
  for (let i = 0; i < rows.length; i += INSERT_CHUNK)
    await trx<ActivationChallengeRow>("activation_challenges")
      .insert(rows.slice(i, i + INSERT_CHUNK))
      .onConflict("order_id")
      .merge(["cert_serial", "challenge", "issued_at", "expires_at", "used_at"]);
  await insertChunked(
    trx,
    "transport_pin_replacements",
    ops.flatMap((o) =>
      o.kind === "pin"
        ? [
            {
              order_id: o.r.orderId,
              cert_serial: o.r.certSerial,
              card_serial: o.r.cardSerial ?? null,
              at: o.r.at.getTime(),
              recorded_by: o.r.recordedBy,
            },
          ]
        : [],
    ),
  );
  for (const o of ops) audit(o.audit);
  return ops.map(() => undefined);
});

/**
 * REQ-16: activation challenges (one per order, replaced by a new one; the activation's own
 * order change marks it used, see order.store.ts) and the card station's PIN records, with their audit events.
 */
export class KnexActivationStore implements ActivationRecords {
  private readonly queue: CommitQueue;
  /** `reader` may be a separate read pool (SQLite WAL readers do not wait for the writer). */
  constructor(
    db: Knex,
    private readonly reader: Knex = db,
  ) {
    this.queue = commitQueueOf(db);
  }

  async putChallenge(c: ActivationChallenge, audit: AuditEvent): Promise<void> {
    await this.queue.run(activationWrite, { kind: "challenge", c, audit });
  }

  async challenge(orderId: string): Promise<ActivationChallenge | undefined> {
    const r = await this.reader<ActivationChallengeRow>("activation_challenges").where({ order_id: orderId }).first();
    if (!r) return undefined;
    return {
      orderId: r.order_id,
      certSerial: r.cert_serial,
      challenge: r.challenge,
      issuedAt: new Date(Number(r.issued_at)),
      expiresAt: new Date(Number(r.expires_at)),
      ...(r.used_at != null ? { usedAt: date(r.used_at)! } : {}),
    };
  }

  async addPinReplacement(r: PinReplacement, audit: AuditEvent): Promise<void> {
    await this.queue.run(activationWrite, { kind: "pin", r, audit });
  }

  async pinReplacement(orderId: string, certSerial: string): Promise<PinReplacement | undefined> {
    const r = await this.reader<TransportPinReplacementRow>("transport_pin_replacements")
      .where({ order_id: orderId, cert_serial: certSerial })
      .orderBy("seq", "desc")
      .first();
    if (!r) return undefined;
    return {
      orderId: r.order_id,
      certSerial: r.cert_serial,
      ...(r.card_serial ? { cardSerial: r.card_serial } : {}),
      at: new Date(Number(r.at)),
      recordedBy: r.recorded_by,
    };
  }
}

import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { ActivationChallenge, ActivationRecords, PinReplacement } from "../ra/activation.js";
import { INSERT_CHUNK, insertChunked } from "./database.js";
import { commitQueueOf, namedWrite, type CommitQueue } from "./commit-queue.js";
import type { ActivationChallengeRow, DbBigInt, TransportPinReplacementRow } from "./rows.js";

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

  async addPinReplacement(r: PinReplacement, audit: AuditEvent): Promise<void> {
    await this.queue.run(activationWrite, { kind: "pin", r, audit });
  }

  async forActivation(
    orderId: string,
    certSerial: string,
  ): Promise<{ challenge: ActivationChallenge | undefined; pin: PinReplacement | undefined }> {
    // One row: the challenge (if any) beside the latest PIN record (if any), each by its index.
    const res: unknown = await this.reader.raw(
      `SELECT c.cert_serial, c.challenge, c.issued_at, c.expires_at, c.used_at, p.cert_serial AS p_cert_serial, ` +
        `p.card_serial AS p_card_serial, p.at AS p_at, p.recorded_by AS p_recorded_by ` +
        `FROM (SELECT 1 AS one) AS one ` +
        `LEFT JOIN activation_challenges AS c ON c.order_id = ? ` +
        `LEFT JOIN transport_pin_replacements AS p ON p.seq = ` +
        `(SELECT max(seq) FROM transport_pin_replacements WHERE order_id = ? AND cert_serial = ?)`,
      [orderId, orderId, certSerial],
    );
    type Row = Partial<Omit<ActivationChallengeRow, "order_id">> & {
      p_cert_serial?: string | null;
      p_card_serial?: string | null;
      p_at?: DbBigInt | null;
      p_recorded_by?: string | null;
    };
    const r = (Array.isArray(res) ? res : (res as { rows: unknown[] }).rows)[0] as Row | undefined; // SQLite; pg
    return {
      challenge:
        r?.challenge != null ? toChallenge({ ...(r as ActivationChallengeRow), order_id: orderId }) : undefined,
      pin:
        r?.p_cert_serial != null
          ? toPin({
              order_id: orderId,
              cert_serial: r.p_cert_serial,
              card_serial: r.p_card_serial ?? null,
              at: r.p_at!,
              recorded_by: r.p_recorded_by!,
            })
          : undefined,
    };
  }
}

const toChallenge = (r: ActivationChallengeRow): ActivationChallenge => ({
  orderId: r.order_id,
  certSerial: r.cert_serial,
  challenge: r.challenge,
  issuedAt: new Date(Number(r.issued_at)),
  expiresAt: new Date(Number(r.expires_at)),
  ...(r.used_at != null ? { usedAt: date(r.used_at)! } : {}),
});

const toPin = (
  r: Pick<TransportPinReplacementRow, "order_id" | "cert_serial" | "card_serial" | "at" | "recorded_by">,
): PinReplacement => ({
  orderId: r.order_id,
  certSerial: r.cert_serial,
  ...(r.card_serial ? { cardSerial: r.card_serial } : {}),
  at: new Date(Number(r.at)),
  recordedBy: r.recorded_by,
});

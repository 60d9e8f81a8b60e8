import type { Knex } from "knex";
import type {
  BureauBatch,
  BureauCard,
  BureauCardState,
  BureauStore,
  BureauWrite,
  LedgerCardOnRecord,
} from "../ra/bureau/bureau-ports.js";
import { insertChunked } from "./database.js";
import { commitQueueOf, namedWrite, type CommitQueue } from "./commit-queue.js";
import { CaError } from "../shared/ca-error.js";
import type { BureauCardRow } from "./rows.js";

const ms = (d: Date | undefined) => (d ? d.getTime() : null);
const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));

const cardRow = (c: BureauCard) => ({
  order_id: c.orderId,
  batch_id: c.batchId,
  line: c.line,
  state: c.state,
  state_at: c.stateAt.getTime(),
  card_serial: c.cardSerial ?? null,
  cert_serial: c.certSerial ?? null,
  carrier: c.carrier ?? null,
  tracking_id: c.trackingId ?? null,
  shipped_at: ms(c.shippedAt),
  alarm_at: ms(c.alarmAt),
});

const cardOf = (r: BureauCardRow): BureauCard => ({
  orderId: String(r.order_id),
  batchId: String(r.batch_id),
  line: Number(r.line),
  state: r.state as BureauCardState,
  stateAt: new Date(Number(r.state_at)),
  ...(r.card_serial ? { cardSerial: String(r.card_serial) } : {}),
  ...(r.cert_serial ? { certSerial: String(r.cert_serial) } : {}),
  ...(r.carrier ? { carrier: String(r.carrier) } : {}),
  ...(r.tracking_id ? { trackingId: String(r.tracking_id) } : {}),
  ...(r.shipped_at != null ? { shippedAt: date(r.shipped_at)! } : {}),
  ...(r.alarm_at != null ? { alarmAt: date(r.alarm_at)! } : {}),
});

/**
 * Each write whole, with its audit events, in one transaction. An answer already taken (same id or
 * digest) writes nothing of that write and reports `replayed` (no throw: other writes of the batch go on).
 */
const bureauWrite = namedWrite<BureauWrite, "ok" | "replayed">("bureau", async (trx, ops, audit) => {
  const out: ("ok" | "replayed")[] = [];
  for (const w of ops) {
    if (w.answer) {
      const seen = await trx("bureau_answers").where({ id: w.answer.id }).orWhere({ sha256: w.answer.sha256 }).first();
      if (seen) {
        out.push("replayed");
        continue;
      }
      await trx("bureau_answers").insert({
        id: w.answer.id,
        batch_id: w.answer.batchId,
        sha256: w.answer.sha256,
        at: w.answer.at.getTime(),
      });
    }
    if (w.releaseAnswer) await trx("bureau_answers").where({ id: w.releaseAnswer }).delete();
    if (w.batch)
      await trx("bureau_batches").insert({
        id: w.batch.id,
        created_at: w.batch.createdAt.getTime(),
        created_by: w.batch.createdBy,
        sha256: w.batch.sha256,
        cards: w.batch.cards,
      });
    if (w.cards?.length) {
      if (w.batch) await insertChunked(trx, "bureau_cards", w.cards.map(cardRow));
      else
        for (const c of w.cards) {
          const { order_id, ...rest } = cardRow(c);
          await trx("bureau_cards").where({ order_id }).update(rest);
        }
    }
    if (w.ledger?.length) {
      // The card ledger (cards), as the card station writes it: one row per card made.
      const rows = w.ledger.map((c) => ({
        id: c.id,
        card_serial: c.cardSerial,
        atr: "",
        order_id: c.orderId,
        holder_person_id: c.holderPersonId,
        state: "personalised",
        slot: c.slot,
        algorithm: c.algorithm,
        cert_serial: c.certSerial,
        pin_state: c.pinState,
        created_at: c.at.getTime(),
        updated_at: c.at.getTime(),
      }));
      await insertChunked(trx, "cards", rows);
    }
    for (const e of w.audit) audit(e);
    out.push("ok");
  }
  return out;
});

/** Tracking of the cards an external card bureau makes (store port of src/ra/bureau/). */
export class KnexBureauStore implements BureauStore {
  private readonly queue: CommitQueue;
  constructor(
    db: Knex,
    private readonly reader: Knex = db,
  ) {
    this.queue = commitQueueOf(db);
  }

  async write(w: BureauWrite): Promise<void> {
    const r = await this.queue.run(bureauWrite, w);
    if (r === "replayed")
      throw new CaError(
        "conflict",
        `answer ${w.answer?.id} was taken in already (same answer id or same file)`,
        undefined,
        {
          code: "bureau.answer-replayed",
        },
      );
  }

  async batch(id: string): Promise<BureauBatch | undefined> {
    const r = await this.reader("bureau_batches").where({ id }).first();
    return r
      ? {
          id: r.id,
          createdAt: new Date(Number(r.created_at)),
          createdBy: r.created_by,
          sha256: r.sha256,
          cards: r.cards,
        }
      : undefined;
  }

  async cardsOfBatch(batchId: string): Promise<BureauCard[]> {
    return (await this.reader("bureau_cards").where({ batch_id: batchId }).orderBy("line")).map(cardOf);
  }

  async card(orderId: string): Promise<BureauCard | undefined> {
    const r = await this.reader("bureau_cards").where({ order_id: orderId }).first();
    return r ? cardOf(r) : undefined;
  }

  async answerSeen(id: string, sha256: string): Promise<boolean> {
    return !!(await this.reader("bureau_answers").where({ id }).orWhere({ sha256 }).first());
  }

  async ledgerCard(cardSerial: string): Promise<LedgerCardOnRecord | undefined> {
    const r = await this.reader("cards").where({ card_serial: cardSerial }).orderBy("updated_at", "desc").first();
    return r ? { orderId: r.order_id, holderPersonId: r.holder_person_id, state: r.state } : undefined;
  }

  /** Bureau cards per tracking state: one GROUP BY over the (state, shipped_at) index. */
  async countByState(): Promise<Record<string, number>> {
    const rows = (await this.reader("bureau_cards").groupBy("state").select("state").count({ n: "*" })) as {
      state: string;
      n: number | string;
    }[];
    return Object.fromEntries(rows.map((r) => [String(r.state), Number(r.n)]));
  }

  async overdue(before: Date, limit: number): Promise<BureauCard[]> {
    return (
      await this.reader("bureau_cards")
        .where({ state: "shipped" })
        .whereNull("alarm_at")
        .where("shipped_at", "<", before.getTime())
        .orderBy("shipped_at")
        .limit(limit)
    ).map(cardOf);
  }
}

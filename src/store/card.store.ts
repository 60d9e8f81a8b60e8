import type { Knex } from "knex";
import type { CardAuditEvent, CardLedger, CardRecord, HolderLetter } from "../card/ports.js";
import { INSERT_CHUNK, insertChunked } from "./database.js";
import { commitQueueOf, namedWrite, type CommitQueue } from "./commit-queue.js";
import type { FieldCipher } from "./field-cipher.js";
import { outboxRow } from "./outbox.store.js";
import type { CardRow } from "./rows.js";

/** `letter`: the outbox row, sealed before the op joins the queue (REQ-29). */
type Op = { readonly card: CardRecord; readonly audit: CardAuditEvent; readonly letter?: Record<string, unknown> };

const row = (c: CardRecord, at: Date) => ({
  id: c.id,
  card_serial: c.cardSerial,
  atr: c.atr,
  order_id: c.orderId,
  holder_person_id: c.holderPersonId,
  state: c.state,
  slot: c.slot ?? null,
  algorithm: c.algorithm ?? null,
  cert_serial: c.certSerial ?? null,
  management_key_algorithm: c.managementKeyAlgorithm ?? null,
  management_key_sealed: c.managementKeySealed ?? null,
  management_key_next_sealed: c.managementKeyNextSealed ?? null,
  puk_sealed: c.pukSealed ?? null,
  pin_state: c.pinState ?? null,
  round_trips: c.roundTrips ?? null,
  error: c.error ?? null,
  created_at: at.getTime(),
  updated_at: at.getTime(),
});

const opt = <K extends string, V>(k: K, v: V | null | undefined) => (v == null ? {} : ({ [k]: v } as { [P in K]: V }));

function record(r: CardRow): CardRecord {
  return {
    id: r.id,
    cardSerial: r.card_serial,
    atr: r.atr,
    orderId: r.order_id,
    holderPersonId: r.holder_person_id,
    state: r.state as CardRecord["state"],
    ...opt("slot", r.slot),
    ...opt("algorithm", r.algorithm),
    ...opt("certSerial", r.cert_serial),
    ...opt("managementKeyAlgorithm", r.management_key_algorithm),
    ...opt("managementKeySealed", r.management_key_sealed),
    ...opt("managementKeyNextSealed", r.management_key_next_sealed),
    ...opt("pukSealed", r.puk_sealed),
    ...opt("pinState", r.pin_state),
    ...opt("roundTrips", r.round_trips == null ? null : Number(r.round_trips)),
    ...opt("error", r.error),
  };
}

/**
 * A batch in two multi-row statements: the cards upserted on their id (a later save of the same
 * card in the batch wins, its created_at the first's, as in sequence) and the letters.
 */
const cardWrite = namedWrite<Op, void>("cards", async (trx, ops, audit) => {
  const cards = new Map<string, Record<string, unknown>>();
  for (const { card, audit: e } of ops) {
    const r = row(card, e.at);
    const before = cards.get(card.id);
    cards.delete(card.id);
    cards.set(card.id, before ? { ...r, created_at: before.created_at } : r);
  }
  const rows = [...cards.values()];
  const update = (Object.keys(rows[0] ?? {}) as (keyof CardRow)[]).filter((k) => k !== "created_at");
  for (let i = 0; i < rows.length; i += INSERT_CHUNK)
    await trx("cards")
      .insert(rows.slice(i, i + INSERT_CHUNK))
      .onConflict("id")
      .merge(update);
  await insertChunked(
    trx,
    "notifications",
    ops.flatMap((o) => (o.letter ? [o.letter] : [])),
  );
  for (const o of ops) audit(o.audit);
  return ops.map(() => undefined);
});

/**
 * The card ledger over knex: each save is an upsert of the card with its audit event (and a letter to the holder) in
 * one transaction.
 */
export class KnexCardStore implements CardLedger {
  private readonly queue: CommitQueue;
  constructor(
    db: Knex,
    private readonly reader: Knex,
    private readonly cipher: FieldCipher,
  ) {
    this.queue = commitQueueOf(db);
  }

  async byCardSerial(cardSerial: string): Promise<CardRecord | undefined> {
    const r = await this.reader<CardRow>("cards")
      .where({ card_serial: cardSerial })
      .orderBy("updated_at", "desc")
      .first();
    return r ? record(r) : undefined;
  }

  async byOrder(orderId: string): Promise<CardRecord | undefined> {
    const r = await this.reader<CardRow>("cards").where({ order_id: orderId }).orderBy("updated_at", "desc").first();
    return r ? record(r) : undefined;
  }

  async save(card: CardRecord, audit: CardAuditEvent, letter?: HolderLetter): Promise<void> {
    // REQ-29: the letter carries an initial PIN: sealed at rest like every outbox message.
    await this.queue.run(cardWrite, { card, audit, ...(letter ? { letter: outboxRow(letter, this.cipher) } : {}) });
  }
}

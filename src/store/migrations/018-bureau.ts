import type { Knex } from "knex";

/**
 * Card production by an external card bureau (CPS 4.4.1): the batches sent, each card's way
 * (sent, acknowledged, produced, shipped with the carrier's tracking id, received at hand-out) and
 * the answer files taken in (an answer id or file digest is taken once: replay).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("bureau_batches", (t) => {
    t.string("id", 80).primary();
    t.bigInteger("created_at").notNullable();
    t.string("created_by", 200).notNullable();
    t.string("sha256", 64).notNullable();
    t.integer("cards").notNullable();
  });
  await db.schema.createTable("bureau_cards", (t) => {
    t.string("order_id", 80).primary();
    t.string("batch_id", 80).notNullable().references("id").inTable("bureau_batches");
    t.integer("line").notNullable();
    t.string("state", 16).notNullable();
    t.bigInteger("state_at").notNullable();
    t.string("card_serial", 20);
    t.string("cert_serial", 64);
    t.string("carrier", 80);
    t.string("tracking_id", 64);
    t.bigInteger("shipped_at");
    t.bigInteger("alarm_at");
    t.index(["batch_id"]);
    t.index(["state", "shipped_at"]);
  });
  await db.schema.createTable("bureau_answers", (t) => {
    t.string("id", 80).primary();
    t.string("batch_id", 80).notNullable();
    t.string("sha256", 64).notNullable().unique();
    t.bigInteger("at").notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("bureau_answers");
  await db.schema.dropTable("bureau_cards");
  await db.schema.dropTable("bureau_batches");
}

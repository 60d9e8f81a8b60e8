import type { Knex } from "knex";

/**
 * Cards (REQ-14, REQ-16): every PIV card we personalise, its order and holder (REQ-12), what was written
 * (slot, algorithm, certificate) and its secrets sealed at rest (management key, PUK): never in clear.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("cards", (t) => {
    t.string("id", 64).primary();
    t.string("card_serial", 64).notNullable();
    t.string("atr", 200).notNullable();
    t.string("order_id", 64).notNullable();
    t.string("holder_person_id", 64).notNullable();
    t.string("state", 16).notNullable(); // personalising | personalised | failed | retired
    t.string("slot", 2);
    t.string("algorithm", 16);
    t.string("cert_serial", 64);
    t.string("management_key_algorithm", 8);
    t.text("management_key_sealed");
    t.text("management_key_next_sealed");
    t.text("puk_sealed");
    t.string("pin_state", 16);
    t.integer("round_trips");
    t.text("error");
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.index(["card_serial"]);
    t.index(["order_id"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("cards");
}

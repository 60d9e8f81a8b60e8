import type { Knex } from "knex";

/**
 * Certificates on hold until activation and the production saga (REQ-15, REQ-16):
 * - certificates.hold_cause: why a certificate is on hold (activation | request | activation+request);
 * - orders.state_since: when the order entered its state (the workflow's deadlines run from it);
 * - activation_challenges: the RA's fresh challenge per order that the card signs at activation;
 * - transport_pin_replacements: the card station's record that the holder replaced the transport PIN.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("certificates", (t) => {
    t.string("hold_cause", 24);
    t.index(["created_at"]); // the production sweep looks at recent certificates
  });
  await db.schema.alterTable("orders", (t) => {
    t.bigInteger("state_since");
  });
  await db("orders").update({ state_since: db.raw("coalesce(handed_out_at, updated_at)") });
  await db.schema.alterTable("orders", (t) => {
    t.index(["state", "state_since"]);
  });
  await db.schema.createTable("activation_challenges", (t) => {
    t.string("order_id", 64).primary().references("orders.id");
    t.string("cert_serial", 64).notNullable();
    t.string("challenge", 64).notNullable(); // a public nonce, single use
    t.bigInteger("issued_at").notNullable();
    t.bigInteger("expires_at").notNullable();
    t.bigInteger("used_at");
  });
  await db.schema.createTable("transport_pin_replacements", (t) => {
    t.increments("seq").primary();
    t.string("order_id", 64).notNullable().references("orders.id");
    t.string("cert_serial", 64).notNullable();
    t.string("card_serial", 64);
    t.bigInteger("at").notNullable();
    t.string("recorded_by", 128).notNullable();
    t.index(["order_id"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("transport_pin_replacements");
  await db.schema.dropTable("activation_challenges");
  await db.schema.alterTable("orders", (t) => {
    t.dropIndex(["state", "state_since"]);
    t.dropColumn("state_since");
  });
  await db.schema.alterTable("certificates", (t) => {
    t.dropIndex(["created_at"]);
    t.dropColumn("hold_cause");
  });
}

import type { Knex } from "knex";

/**
 * Delivery of the outbox (REQ-15): each notification has a kind, a secret flag, a delivery state
 * (pending → delivered | retrying | dead), its attempts, when it is tried next, the last error (never
 * the message text) and a claim (worker and lease) so two workers never send the same row at once.
 * People get a phone number (E.164) and a postal address, sealed like names and emails (REQ-29).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("notifications", (t) => {
    t.string("kind", 24).notNullable().defaultTo("notice");
    t.boolean("secret").notNullable().defaultTo(false);
    t.string("state", 16).notNullable().defaultTo("pending");
    t.integer("attempts").notNullable().defaultTo(0);
    t.bigInteger("next_attempt_at").notNullable().defaultTo(0);
    t.string("last_error", 512);
    t.string("claimed_by", 64);
    t.bigInteger("claimed_until");
    t.bigInteger("updated_at");
    t.index(["state", "next_attempt_at"]);
  });
  // Rows written before delivery existed may carry a token, code or PIN: wiped once delivered.
  await db("notifications").update({ secret: true });
  await db.schema.alterTable("people", (t) => {
    t.text("phone");
    t.text("postal_address");
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable("people", (t) => {
    t.dropColumn("phone");
    t.dropColumn("postal_address");
  });
  await db.schema.alterTable("notifications", (t) => {
    t.dropIndex(["state", "next_attempt_at"]);
    for (const c of [
      "kind",
      "secret",
      "state",
      "attempts",
      "next_attempt_at",
      "last_error",
      "claimed_by",
      "claimed_until",
      "updated_at",
    ])
      t.dropColumn(c);
  });
}

import type { Knex } from "knex";

/**
 * Applicant and holder self-service: used applicant link tokens (single use, REQ-06), applicant
 * sessions, refused link attempts (rate limits, REQ-18), and the kind of a portal session (officer
 * or holder). Only hashes of tokens, session ids and CSRF tokens.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("applicant_link_uses", (t) => {
    t.string("token_hash", 64).primary(); // SHA-256 of the link token: a second use conflicts here
    t.string("order_id", 32).notNullable();
    t.bigInteger("used_at").notNullable();
  });
  await db.schema.createTable("applicant_sessions", (t) => {
    t.string("id_hash", 64).primary(); // SHA-256 of the cookie value
    t.string("csrf_hash", 64).notNullable();
    t.string("order_id", 32).notNullable();
    t.string("token_hash", 64).notNullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("expires_at").notNullable();
    t.index(["expires_at"]);
  });
  await db.schema.createTable("applicant_link_refusals", (t) => {
    t.increments("seq").primary();
    t.string("order_id", 32).notNullable();
    t.string("ip", 64).notNullable();
    t.bigInteger("at").notNullable();
    t.string("reason", 32).notNullable();
    t.index(["order_id", "at"]);
    t.index(["ip", "at"]);
  });
  await db.schema.alterTable("portal_sessions", (t) => {
    t.string("kind", 16).notNullable().defaultTo("officer");
  });
  await db.schema.alterTable("orders", (t) => t.index(["applicant_id"], "orders_applicant_idx")); // a holder's cards
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable("orders", (t) => t.dropIndex(["applicant_id"], "orders_applicant_idx"));
  await db.schema.alterTable("portal_sessions", (t) => t.dropColumn("kind"));
  await db.schema.dropTable("applicant_link_refusals");
  await db.schema.dropTable("applicant_sessions");
  await db.schema.dropTable("applicant_link_uses");
}

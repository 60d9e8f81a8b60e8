import type { Knex } from "knex";

/** Revocation events (for delta CRLs and OCSP invalidation) and issued CRLs with their numbers. */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("certificates", (t) => {
    t.bigInteger("invalidity_date");
    t.index(["issuer_id", "revoked_at"]);
  });
  await db.schema.createTable("revocation_events", (t) => {
    t.increments("seq").primary();
    t.string("issuer_id", 64).notNullable();
    t.string("serial", 64).notNullable();
    t.string("kind", 16).notNullable(); // revoke | hold | resume | unfinished
    t.string("reason", 32);
    t.bigInteger("at").notNullable();
    t.bigInteger("invalidity_date");
    t.string("actor", 256).notNullable();
    t.index(["issuer_id", "seq"]);
  });
  await db.schema.createTable("crl_counters", (t) => {
    t.string("issuer_id", 64).primary();
    t.bigInteger("last_number").notNullable();
  });
  await db.schema.createTable("crls", (t) => {
    t.string("issuer_id", 64).notNullable();
    t.bigInteger("number").notNullable(); // RFC 5280 5.2.3: strictly increasing per issuer, full and delta alike
    t.string("kind", 8).notNullable(); // full | delta
    t.bigInteger("base_number"); // delta: the full CRL it builds on
    t.integer("last_event_seq").notNullable(); // revocation_events covered
    t.bigInteger("this_update").notNullable();
    t.bigInteger("next_update").notNullable();
    t.integer("entries").notNullable();
    t.binary("der").notNullable();
    t.primary(["issuer_id", "number"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("crls");
  await db.schema.dropTable("crl_counters");
  await db.schema.dropTable("revocation_events");
  await db.schema.alterTable("certificates", (t) => {
    t.dropIndex(["issuer_id", "revoked_at"]);
    t.dropColumn("invalidity_date");
  });
}

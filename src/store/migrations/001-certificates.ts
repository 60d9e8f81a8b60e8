import type { Knex } from "knex";

/** Certificates (every serial ever drawn, design: never reused) and the audit events written with them. */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("certificates", (t) => {
    t.string("serial", 64).primary(); // lower-case hex; unique across all issuers
    t.string("issuer_id", 64).notNullable();
    t.string("profile_id", 64).notNullable();
    t.integer("profile_version").notNullable();
    t.string("status", 16).notNullable(); // reserved | issued | failed | unfinished
    t.string("subject_dn", 1024).notNullable();
    t.bigInteger("not_before").notNullable(); // ms since epoch, UTC
    t.bigInteger("not_after").notNullable();
    t.binary("tbs").notNullable();
    t.binary("der");
    t.string("requested_by", 256).notNullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.bigInteger("revoked_at");
    t.string("revocation_reason", 32);
    t.index(["issuer_id", "status"]);
  });
  await db.schema.createTable("audit_events", (t) => {
    t.increments("seq").primary();
    t.string("id", 64).notNullable().unique();
    t.bigInteger("at").notNullable();
    t.string("actor", 256).notNullable();
    t.string("action", 64).notNullable();
    t.string("object_type", 32).notNullable();
    t.string("object_id", 128).notNullable();
    t.string("outcome", 16).notNullable();
    t.text("details");
    t.index(["object_type", "object_id"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("audit_events");
  await db.schema.dropTable("certificates");
}

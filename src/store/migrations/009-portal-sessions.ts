import type { Knex } from "knex";

/**
 * Officers' portal sessions in the database (REQ-33): the writer and its standby share them, so
 * a failover or a restart does not sign officers out. Only hashes of the session id and CSRF token.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("portal_sessions", (t) => {
    t.string("id_hash", 64).primary(); // SHA-256 of the cookie value
    t.string("csrf_hash", 64).notNullable();
    t.string("credential", 64).notNullable(); // serial of the client certificate it is bound to
    t.bigInteger("created_at").notNullable();
    t.bigInteger("last_seen").notNullable();
    t.index(["last_seen"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("portal_sessions");
}

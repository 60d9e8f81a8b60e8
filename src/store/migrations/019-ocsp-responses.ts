import type { Knex } from "knex";

/**
 * Pre-produced OCSP responses (RFC 5019 2.1.1: SHA-1 CertID, no nonce), one per (issuer, serial),
 * written by the CA signer role and read by every public replica. `refresh_at` spreads re-signing
 * over time (the sweep takes the rows whose time has come, oldest first).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("ocsp_responses", (t) => {
    t.string("issuer_id", 64).notNullable();
    t.string("serial", 64).notNullable();
    t.string("status", 16).notNullable(); // good | revoked | unknown
    t.bigInteger("revoked_at");
    t.string("reason", 32);
    t.bigInteger("this_update").notNullable(); // ms since epoch, UTC
    t.bigInteger("next_update").notNullable();
    t.bigInteger("refresh_at").notNullable();
    t.binary("der").notNullable();
    t.primary(["issuer_id", "serial"]);
    t.index(["refresh_at"], "ocsp_responses_refresh_at");
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("ocsp_responses");
}

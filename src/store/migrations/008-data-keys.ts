import type { Knex } from "knex";

/**
 * REQ-29: personal data encrypted at rest. The data-encryption keys live here only wrapped
 * (AES-256-GCM in the HSM under a non-extractable key), so a backup carries them and only the HSM
 * opens them. The encrypted fields grow (prefix, IV, tag, base64url): on PostgreSQL the people and
 * outbox columns become text (SQLite does not enforce lengths).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("data_keys", (t) => {
    t.string("id", 64).primary();
    t.text("wrapped").notNullable(); // base64url(iv | ciphertext | tag) from the HSM
    t.string("algorithm", 32).notNullable(); // how it is wrapped: AES-256-GCM
    t.string("wrapping_key", 512).notNullable(); // RFC 7512 URI of the HSM key (no PIN)
    t.bigInteger("created_at").notNullable();
  });
  if (db.client.config.client === "pg") {
    await db.raw("ALTER TABLE people ALTER COLUMN name TYPE text, ALTER COLUMN email TYPE text");
    await db.raw("ALTER TABLE notifications ALTER COLUMN subject TYPE text");
  }
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("data_keys");
}

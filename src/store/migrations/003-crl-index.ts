import type { Knex } from "knex";

/** CRL pages walk the revoked serials of one issuer in serial order (partial index: SQLite and PostgreSQL). */
export async function up(db: Knex): Promise<void> {
  await db.raw(
    "CREATE INDEX certificates_revoked_by_serial ON certificates (issuer_id, serial) WHERE revoked_at IS NOT NULL",
  );
}

export async function down(db: Knex): Promise<void> {
  await db.raw("DROP INDEX certificates_revoked_by_serial");
}

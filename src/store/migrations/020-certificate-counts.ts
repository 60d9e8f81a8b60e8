import type { Knex } from "knex";
import { isPostgres } from "../database.js";

/**
 * Certificate counts per (status, profile), kept by triggers as rows change, so /metrics reads a
 * few dozen rows instead of scanning the population. 16 shards per key (the serial's last hex
 * digit) keep concurrent writers off one hot row (PostgreSQL).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("certificate_counts", (t) => {
    t.string("status", 16).notNullable();
    t.string("profile_id", 64).notNullable();
    t.string("shard", 1).notNullable();
    t.bigInteger("n").notNullable();
    t.primary(["status", "profile_id", "shard"]);
  });
  await db.raw(
    `INSERT INTO certificate_counts (status, profile_id, shard, n)
     SELECT status, profile_id, substr(serial, length(serial), 1), count(*) FROM certificates
     GROUP BY status, profile_id, substr(serial, length(serial), 1)`,
  );
  if (isPostgres(db)) {
    // Statement-level triggers with transition tables: one aggregate per statement, not per row.
    await db.raw(`
      CREATE FUNCTION certificate_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
          INSERT INTO certificate_counts (status, profile_id, shard, n)
            SELECT status, profile_id, right(serial, 1), count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (status, profile_id, shard) DO UPDATE SET n = certificate_counts.n + excluded.n;
        END IF;
        IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN
          UPDATE certificate_counts c SET n = c.n - o.k
            FROM (SELECT status, profile_id, right(serial, 1) AS shard, count(*) AS k FROM old_rows GROUP BY 1, 2, 3) o
            WHERE c.status = o.status AND c.profile_id = o.profile_id AND c.shard = o.shard;
        END IF;
        RETURN NULL;
      END $$`);
    await db.raw(`CREATE TRIGGER certificate_counts_insert AFTER INSERT ON certificates
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION certificate_counts_add()`);
    await db.raw(`CREATE TRIGGER certificate_counts_update AFTER UPDATE ON certificates
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION certificate_counts_add()`);
    await db.raw(`CREATE TRIGGER certificate_counts_delete AFTER DELETE ON certificates
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION certificate_counts_add()`);
    return;
  }
  const add = (row: "NEW" | "OLD", delta: 1 | -1) =>
    `INSERT INTO certificate_counts (status, profile_id, shard, n)
       VALUES (${row}.status, ${row}.profile_id, substr(${row}.serial, length(${row}.serial), 1), ${delta})
       ON CONFLICT (status, profile_id, shard) DO UPDATE SET n = n + (${delta});`;
  await db.raw(`CREATE TRIGGER certificate_counts_insert AFTER INSERT ON certificates BEGIN ${add("NEW", 1)} END`);
  await db.raw(`CREATE TRIGGER certificate_counts_update AFTER UPDATE OF status, profile_id ON certificates
    WHEN OLD.status IS NOT NEW.status OR OLD.profile_id IS NOT NEW.profile_id
    BEGIN ${add("OLD", -1)} ${add("NEW", 1)} END`);
  await db.raw(`CREATE TRIGGER certificate_counts_delete AFTER DELETE ON certificates BEGIN ${add("OLD", -1)} END`);
}

export async function down(db: Knex): Promise<void> {
  for (const t of ["insert", "update", "delete"])
    await db.raw(`DROP TRIGGER IF EXISTS certificate_counts_${t}${isPostgres(db) ? " ON certificates" : ""}`);
  if (isPostgres(db)) await db.raw("DROP FUNCTION IF EXISTS certificate_counts_add()");
  await db.schema.dropTable("certificate_counts");
}

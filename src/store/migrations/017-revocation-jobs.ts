import type { Knex } from "knex";

/**
 * Mass revocation jobs (REQ-19: an organisation ceases): the job, the serials it selected at its
 * start (in order) and which of them are done, so a job killed mid-way continues where it stopped
 * and revokes nothing twice.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("revocation_jobs", (t) => {
    t.string("id", 64).primary();
    t.string("kind", 16).notNullable(); // organisation
    t.string("target", 128).notNullable(); // the organisation number
    t.string("organisation_id", 64);
    t.string("reason", 32).notNullable();
    t.string("actor", 256).notNullable();
    t.string("operator_serial", 64).notNullable(); // the operator's certificate
    t.string("status", 16).notNullable(); // running | done
    t.integer("total").notNullable();
    t.integer("done").notNullable();
    t.integer("revoked").notNullable();
    t.integer("skipped").notNullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.bigInteger("finished_at");
    t.index(["target", "status"]);
  });
  await db.schema.createTable("revocation_job_items", (t) => {
    t.string("job_id", 64).notNullable().references("revocation_jobs.id");
    t.integer("seq").notNullable();
    t.string("serial", 64).notNullable();
    t.string("state", 8).notNullable(); // pending | revoked | skipped
    t.primary(["job_id", "seq"]);
    t.index(["job_id", "state", "seq"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("revocation_job_items");
  await db.schema.dropTable("revocation_jobs");
}

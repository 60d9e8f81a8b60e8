import type { Knex } from "knex";

/**
 * REQ-27: RFC 3161 time-stamp tokens of audit checkpoints, from a TSA outside the host. One per
 * checkpoint (a checkpoint re-made for a retry gets a new one); the token is DER, base64.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("audit_timestamps", (t) => {
    t.bigInteger("seq").primary(); // the checkpoint's seq
    t.text("token").notNullable();
    t.bigInteger("gen_time").notNullable();
    t.string("tsa", 512).notNullable();
    t.bigInteger("checkpoint_at").notNullable(); // the `at` of the checkpoint it stamps
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("audit_timestamps");
}

import type { Knex } from "knex";

/**
 * Subject data from authoritative sources: the name the population register answered when the
 * order was created (REQ-07; sealed to its row, REQ-29), and when the order was approved (the
 * approval ages out after the workflow's approvalValidDays).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("orders", (t) => {
    t.text("registered_name"); // enc:v1 sealed JSON {fullName, givenName?, surname?}
    t.bigInteger("approved_at");
  });
  // Orders approved before this column existed: the approval's time from the audit trail (a migration sees the
  // schema of its time, not the row types of src/store/rows.ts).
  await db<Record<string, unknown>>("orders")
    .whereNull("approved_at")
    .whereIn("state", ["APPROVED", "IN_PRODUCTION", "PRODUCED", "HANDED_OUT", "ACTIVE", "EXPIRED"])
    .update({
      approved_at: db("audit_events")
        .max("at")
        .where("action", "order.approve")
        .andWhere("object_type", "order")
        .andWhere("object_id", db.ref("orders.id")),
    });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable("orders", (t) => {
    t.dropColumn("registered_name");
    t.dropColumn("approved_at");
  });
}

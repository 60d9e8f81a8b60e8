import type { Knex } from "knex";

/**
 * What people read about a person (REQ-27, REQ-29): the language notifications are written in
 * (en, sv, da; null: the organisation's country decides) and, for the identify screen, the birth
 * date and the national ID number with its last digits masked, both sealed like the name. The
 * number itself stays a keyed hash (REQ-28); people bound before this have neither.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("people", (t) => {
    t.string("language", 8);
    t.text("birth_date");
    t.text("national_id_masked");
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable("people", (t) => {
    t.dropColumn("language");
    t.dropColumn("birth_date");
    t.dropColumn("national_id_masked");
  });
}

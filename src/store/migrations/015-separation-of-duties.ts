import type { Knex } from "knex";

/** The keyed hash of the national ID without the suffix a re-bound person's old record carries ("<hash>:<id>"). */
const human = (nationalIdHash: string) => nationalIdHash.split(":")[0]!;

/**
 * Separation of duties (REQ-10, REQ-24): one human, one identity across organisations (the keyed
 * hash of the national ID, REQ-28), who did which step of an order, second-officer role grants,
 * and revocation requests counted per human and per organisation (REQ-18).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("people", (t) => {
    t.string("human_id", 128);
    t.index(["human_id"]);
  });
  for (const p of await db("people").select("id", "national_id_hash"))
    await db("people")
      .where({ id: p.id })
      .update({ human_id: human(p.national_id_hash) });
  await db.schema.alterTable("order_identifications", (t) => {
    t.string("human_id", 128);
  });
  for (const p of await db("people").select("id", "human_id"))
    await db("order_identifications").where({ officer_id: p.id }).update({ human_id: p.human_id });
  await db.schema.createTable("order_actors", (t) => {
    t.increments("seq").primary();
    t.string("order_id", 64).notNullable().references("orders.id");
    t.string("action", 48).notNullable(); // a workflow action, or "request" for the order's creation
    t.string("person_id", 64).notNullable();
    t.string("human_id", 128).notNullable();
    t.bigInteger("at").notNullable();
    t.index(["order_id"]);
  });
  await db.schema.alterTable("revocation_requests", (t) => {
    t.string("kind", 16).notNullable().defaultTo("revoke"); // revoke | resume | unbind
    t.string("requested_by_human", 128);
    t.string("person_id", 64); // unbind: the person whose binding goes
    t.index(["requested_by_human", "requested_at"]);
    t.index(["organisation_id", "requested_at"]);
  });
  for (const p of await db("people").select("id", "human_id"))
    await db("revocation_requests").where({ requested_by: p.id }).update({ requested_by_human: p.human_id });
  await db.schema.createTable("role_grants", (t) => {
    t.string("id", 64).primary();
    t.string("person_id", 64).notNullable().references("people.id");
    t.string("organisation_id", 64).notNullable();
    t.text("roles").notNullable(); // JSON array: the officer's roles once approved
    t.string("qualification", 128);
    t.bigInteger("qualified_until");
    t.string("requested_by", 64).notNullable();
    t.string("requested_by_human", 128).notNullable();
    t.bigInteger("requested_at").notNullable();
    t.string("status", 16).notNullable(); // pending | approved | refused
    t.string("decided_by", 64);
    t.bigInteger("decided_at");
    t.index(["status", "requested_at"]);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("role_grants");
  await db.schema.dropTable("order_actors");
  await db.schema.alterTable("revocation_requests", (t) => {
    t.dropIndex(["requested_by_human", "requested_at"]);
    t.dropIndex(["organisation_id", "requested_at"]);
    t.dropColumns("kind", "requested_by_human", "person_id");
  });
  await db.schema.alterTable("order_identifications", (t) => t.dropColumn("human_id"));
  await db.schema.alterTable("people", (t) => {
    t.dropIndex(["human_id"]);
    t.dropColumn("human_id");
  });
}

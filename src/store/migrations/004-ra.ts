import type { Knex } from "knex";

/** RA: organisations, people, officers, card orders and their identifications (REQ-03, REQ-21). */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("organisations", (t) => {
    t.string("id", 64).primary();
    t.string("org_number", 64).notNullable().unique();
    t.string("name", 256).notNullable();
    t.string("registration_certificate", 256); // reference to the document on file (REQ-01)
    t.bigInteger("domain_validated_at");
    t.string("status", 16).notNullable(); // pending | active | ceased
    t.bigInteger("created_at").notNullable();
  });
  await db.schema.createTable("people", (t) => {
    t.string("id", 64).primary();
    t.string("organisation_id", 64).notNullable().references("organisations.id");
    t.string("national_id_hash", 128).notNullable(); // keyed hash only (REQ-28)
    t.string("name", 256).notNullable();
    t.string("email", 256);
    t.bigInteger("created_at").notNullable();
    t.unique(["organisation_id", "national_id_hash"]);
  });
  await db.schema.createTable("officers", (t) => {
    t.string("person_id", 64).primary().references("people.id");
    t.text("roles").notNullable(); // JSON array
    t.bigInteger("qualified_until"); // REQ-25
    t.boolean("service_owner_staff").notNullable().defaultTo(false);
  });
  await db.schema.createTable("orders", (t) => {
    t.string("id", 64).primary();
    t.string("organisation_id", 64).notNullable().references("organisations.id");
    t.string("applicant_id", 64).notNullable().references("people.id");
    t.string("workflow_id", 64).notNullable();
    t.integer("workflow_version").notNullable();
    t.string("state", 24).notNullable();
    t.integer("version").notNullable(); // optimistic lock
    t.string("terms_version", 32);
    t.boolean("register_ok");
    t.bigInteger("register_at");
    t.bigInteger("handed_out_at");
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.index(["organisation_id", "state"]);
  });
  await db.schema.createTable("order_identifications", (t) => {
    t.increments("seq").primary();
    t.string("order_id", 64).notNullable().references("orders.id");
    t.string("officer_id", 64).notNullable();
    t.string("kind", 16).notNullable(); // identify | hand-out
    t.bigInteger("at").notNullable();
    t.string("document_type", 40).notNullable();
    t.string("document_number_hash", 128).notNullable(); // keyed hash only (REQ-28)
    t.bigInteger("document_expires").notNullable();
    t.boolean("face_compared").notNullable();
    t.index(["order_id"]);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const t of ["order_identifications", "orders", "officers", "people", "organisations"])
    await db.schema.dropTable(t);
}

import type { Knex } from "knex";

/**
 * RA credentials: onboarding evidence and IP allow-lists (REQ-01, REQ-23), who bound a
 * person (REQ-21), card certificates of orders, officer credentials (REQ-22), the outbox for
 * messages through a separate channel (REQ-15) and revocation requests (REQ-17/18).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("organisations", (t) => {
    t.string("country", 2).notNullable().defaultTo("SE");
    t.string("domain", 253);
    t.string("domain_validation_method", 64);
    t.text("ip_allow_list"); // JSON array of CIDRs; null = any address
    t.boolean("service_owner").notNullable().defaultTo(false);
  });
  await db.schema.alterTable("people", (t) => {
    t.string("bound_by", 64);
    t.bigInteger("bound_at");
    t.string("unbound_by", 64);
    t.bigInteger("unbound_at");
  });
  await db.schema.alterTable("officers", (t) => {
    t.string("appointed_by", 64);
    t.string("qualification", 128); // course or exam that qualifies for identity proofing (REQ-25)
  });
  await db.schema.alterTable("orders", (t) => {
    t.string("purpose", 16).notNullable().defaultTo("holder");
    t.string("profile_id", 64);
    t.string("cert_serial", 64);
    t.string("renewal_of", 64);
    t.string("applicant_token_hash", 64);
    t.string("activation_code_hash", 64);
    t.bigInteger("activated_at");
    t.string("register_status", 32);
    t.string("register_source", 64);
    t.index(["cert_serial"]);
    t.index(["state", "handed_out_at"]);
    t.index(["applicant_id"]);
  });
  await db.schema.createTable("officer_credentials", (t) => {
    t.string("serial", 64).primary();
    t.string("person_id", 64).notNullable().references("people.id");
    t.bigInteger("created_at").notNullable();
    t.index(["person_id"]);
  });
  await db.schema.createTable("notifications", (t) => {
    t.string("id", 64).primary();
    t.string("person_id", 64).notNullable();
    t.string("channel", 16).notNullable();
    t.string("subject", 256).notNullable();
    t.text("body").notNullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("sent_at");
    t.index(["person_id", "created_at"]);
  });
  await db.schema.createTable("revocation_requests", (t) => {
    t.string("id", 64).primary();
    t.string("serial", 64).notNullable();
    t.string("reason", 32).notNullable();
    t.string("organisation_id", 64).notNullable();
    t.string("channel", 16).notNullable(); // holder | officer
    t.string("requested_by", 64).notNullable();
    t.bigInteger("requested_at").notNullable();
    t.string("status", 16).notNullable(); // done | pending | approved | refused
    t.string("decided_by", 64);
    t.bigInteger("decided_at");
    t.index(["requested_by", "requested_at"]);
    t.index(["organisation_id", "status"]);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const t of ["revocation_requests", "notifications", "officer_credentials"]) await db.schema.dropTable(t);
}

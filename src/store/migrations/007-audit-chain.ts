import type { Knex } from "knex";
import { GENESIS, chain, type AuditEntry } from "../../audit/audit-chain.js";

/**
 * The tamper-evident audit trail (REQ-27/28/31): organisation and policy on every entry,
 * each entry hash-linked to the one before it (existing entries are chained here, in seq order),
 * signed checkpoints, and the anchor an audited retention deletion leaves behind.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("audit_events", (t) => {
    t.string("organisation_id", 64);
    t.string("policy", 80);
    t.string("prev_hash", 64);
    t.string("entry_hash", 64);
    t.index(["at"]);
  });
  let prev = GENESIS;
  let after = 0;
  for (;;) {
    const rows = await db("audit_events").where("seq", ">", after).orderBy("seq").limit(1000);
    if (rows.length === 0) break;
    const entries: (AuditEntry & { seq: number })[] = rows.map((r) => ({
      seq: Number(r.seq),
      id: r.id,
      at: Number(r.at),
      actor: r.actor,
      organisationId: null,
      action: r.action,
      objectType: r.object_type,
      objectId: r.object_id,
      outcome: r.outcome,
      policy: null,
      details: r.details ?? null,
    }));
    for (const e of chain(prev, entries)) {
      await db("audit_events").where({ seq: e.seq }).update({ prev_hash: e.prevHash, entry_hash: e.entryHash });
      prev = e.entryHash;
    }
    after = entries[entries.length - 1]!.seq;
  }
  await db.schema.createTable("audit_checkpoints", (t) => {
    t.integer("seq").primary(); // the audit entry it covers up to
    t.string("entry_hash", 64).notNullable();
    t.integer("entries").notNullable();
    t.bigInteger("at").notNullable();
    t.string("signer", 200).notNullable();
    t.string("signer_spki_sha256", 64).notNullable();
    t.text("signature").notNullable();
  });
  await db.schema.createTable("audit_anchor", (t) => {
    t.integer("id").primary(); // always 1
    t.integer("seq").notNullable(); // the last entry removed by retention
    t.string("entry_hash", 64).notNullable(); // its hash: the next entry's prev_hash
    t.bigInteger("removed_before").notNullable(); // entries older than this were removed
    t.bigInteger("at").notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable("audit_anchor");
  await db.schema.dropTable("audit_checkpoints");
  await db.schema.alterTable("audit_events", (t) => {
    t.dropIndex(["at"]);
    t.dropColumn("organisation_id");
    t.dropColumn("policy");
    t.dropColumn("prev_hash");
    t.dropColumn("entry_hash");
  });
}

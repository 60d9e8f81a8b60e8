import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";

export function auditRow(e: AuditEvent): Record<string, unknown> {
  return {
    id: e.id,
    at: e.at.getTime(),
    actor: e.actor,
    action: e.action,
    object_type: e.objectType,
    object_id: e.objectId,
    outcome: e.outcome,
    details: e.details ? JSON.stringify(e.details) : null,
  };
}

/** Writes one audit event inside the caller's transaction (design: no audit, no change). */
export async function insertAuditEvent(trx: Knex.Transaction | Knex, e: AuditEvent): Promise<void> {
  await trx("audit_events").insert(auditRow(e));
}

export async function auditEventsFor(db: Knex, objectType: string, objectId: string): Promise<AuditEvent[]> {
  const rows = await db("audit_events").where({ object_type: objectType, object_id: objectId }).orderBy("seq");
  return rows.map((r: any) => ({
    id: r.id, at: new Date(Number(r.at)), actor: r.actor, action: r.action, objectType: r.object_type,
    objectId: r.object_id, outcome: r.outcome, details: r.details ? JSON.parse(r.details) : undefined,
  }));
}

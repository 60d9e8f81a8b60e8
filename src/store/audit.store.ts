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


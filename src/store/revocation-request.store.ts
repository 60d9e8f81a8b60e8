import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { RevocationRequest, RevocationRequestStore } from "../ra/revocation-desk.js";
import { insertAuditEvent } from "./audit.store.js";
import { recordAuditEvent } from "./commit-queue.js";

const row = (r: any): RevocationRequest => ({
  id: r.id, serial: r.serial, reason: r.reason, organisationId: r.organisation_id, channel: r.channel, requestedBy: r.requested_by,
  requestedAt: new Date(Number(r.requested_at)), status: r.status,
  ...(r.decided_by ? { decidedBy: r.decided_by, decidedAt: new Date(Number(r.decided_at)) } : {}),
});

export class KnexRevocationRequestStore implements RevocationRequestStore {
  constructor(private readonly db: Knex) {}

  async countSince(requestedBy: string, channel: RevocationRequest["channel"], since: Date) {
    const r = await this.db("revocation_requests").where({ requested_by: requestedBy, channel }).andWhere("requested_at", ">=", since.getTime()).count({ n: "*" }).first();
    return Number(r?.n ?? 0);
  }

  async add(r: RevocationRequest, audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      await trx("revocation_requests").insert({
        id: r.id, serial: r.serial, reason: r.reason, organisation_id: r.organisationId, channel: r.channel, requested_by: r.requestedBy,
        requested_at: r.requestedAt.getTime(), status: r.status,
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async get(id: string) {
    const r = await this.db("revocation_requests").where({ id }).first();
    return r ? row(r) : undefined;
  }

  async decide(id: string, status: "approved" | "refused", by: string, at: Date, audit: AuditEvent) {
    return this.db.transaction(async (trx) => {
      const n = await trx("revocation_requests").where({ id, status: "pending" }).update({ status, decided_by: by, decided_at: at.getTime() });
      if (n !== 1) return false;
      await insertAuditEvent(trx, audit);
      return true;
    });
  }

  async pending(organisationId: string | undefined, limit: number) {
    const q = this.db("revocation_requests").where({ status: "pending" }).orderBy("requested_at").limit(limit);
    if (organisationId) q.andWhere({ organisation_id: organisationId });
    return (await q).map(row);
  }

  async alarm(audit: AuditEvent) {
    await recordAuditEvent(this.db, audit);
  }
}

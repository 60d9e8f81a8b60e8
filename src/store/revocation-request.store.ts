import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { RevocationRequest, RevocationRequestStore } from "../ra/revocation-desk.js";
import { insertAuditEvent } from "./audit.store.js";
import { recordAuditEvent } from "./commit-queue.js";
import type { RevocationRequestRow } from "./rows.js";

const row = (r: RevocationRequestRow): RevocationRequest => ({
  id: r.id,
  kind: (r.kind ?? "revoke") as RevocationRequest["kind"],
  serial: r.serial,
  reason: r.reason,
  organisationId: r.organisation_id,
  channel: r.channel as RevocationRequest["channel"],
  requestedBy: r.requested_by,
  ...(r.requested_by_human ? { requestedByHuman: r.requested_by_human } : {}),
  ...(r.person_id ? { personId: r.person_id } : {}),
  requestedAt: new Date(Number(r.requested_at)),
  status: r.status as RevocationRequest["status"],
  ...(r.decided_by ? { decidedBy: r.decided_by, decidedAt: new Date(Number(r.decided_at)) } : {}),
});

const insertRow = (r: RevocationRequest) => ({
  id: r.id,
  kind: r.kind,
  serial: r.serial,
  reason: r.reason,
  organisation_id: r.organisationId,
  channel: r.channel as RevocationRequest["channel"],
  requested_by: r.requestedBy,
  requested_by_human: r.requestedByHuman ?? null,
  person_id: r.personId ?? null,
  requested_at: r.requestedAt.getTime(),
  status: r.status as RevocationRequest["status"],
});

export class KnexRevocationRequestStore implements RevocationRequestStore {
  constructor(private readonly db: Knex) {}

  /**
   * REQ-18: officers' revocations and unbindings count (their resumes do not), done or waiting alike; every holder
   * request counts.
   */
  async countSince(
    who: { readonly human: string } | { readonly organisationId: string },
    channel: RevocationRequest["channel"],
    since: Date,
  ) {
    const q = this.db<RevocationRequestRow>("revocation_requests")
      .where({ channel })
      .andWhere("requested_at", ">=", since.getTime());
    // a holder's daily limit counts their resumes too
    if (channel === "officer") q.whereIn("kind", ["revoke", "unbind"]);
    if ("human" in who) q.andWhere("requested_by_human", who.human);
    else q.andWhere("organisation_id", who.organisationId);
    const r = await q.count({ n: "*" }).first();
    return Number(r?.n ?? 0);
  }

  async add(r: RevocationRequest, audit: AuditEvent) {
    await this.addAll([r], audit);
  }

  async addAll(rs: readonly RevocationRequest[], audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      if (rs.length) await trx<RevocationRequestRow>("revocation_requests").insert(rs.map(insertRow));
      await insertAuditEvent(trx, audit);
    });
  }

  async get(id: string) {
    const r = await this.db<RevocationRequestRow>("revocation_requests").where({ id }).first();
    return r ? row(r) : undefined;
  }

  async lastHold(serial: string) {
    const r = await this.db<RevocationRequestRow>("revocation_requests")
      .where({ serial, kind: "revoke", reason: "certificateHold" })
      .whereIn("status", ["done", "approved"])
      .orderBy("requested_at", "desc")
      .first();
    return r ? row(r) : undefined;
  }

  async decide(id: string, status: "approved" | "refused", by: string, at: Date, audit: AuditEvent) {
    return this.db.transaction(async (trx) => {
      const n = await trx<RevocationRequestRow>("revocation_requests")
        .where({ id, status: "pending" })
        .update({ status, decided_by: by, decided_at: at.getTime() });
      if (n !== 1) return false;
      await insertAuditEvent(trx, audit);
      return true;
    });
  }

  async pending(organisationId: string | undefined, limit: number) {
    const q = this.db<RevocationRequestRow>("revocation_requests")
      .where({ status: "pending" })
      .orderBy("requested_at")
      .limit(limit);
    if (organisationId) q.andWhere({ organisation_id: organisationId });
    return (await q).map(row);
  }

  async alarm(audit: AuditEvent) {
    await recordAuditEvent(this.db, audit);
  }
}

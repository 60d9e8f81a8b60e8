import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { Officer } from "../ra/directory.js";
import type { Role } from "../ra/order.js";
import type { RoleGrant, RoleGrantStore } from "../ra/role-grants.js";
import { insertAuditEvent } from "./audit.store.js";
import type { OfficerRow, RoleGrantRow } from "./rows.js";

const grant = (r: RoleGrantRow): RoleGrant => ({
  id: r.id,
  personId: r.person_id,
  organisationId: r.organisation_id,
  roles: JSON.parse(r.roles) as Role[],
  requestedBy: r.requested_by,
  requestedByHuman: r.requested_by_human,
  requestedAt: new Date(Number(r.requested_at)),
  status: r.status as RoleGrant["status"],
  ...(r.qualification ? { qualification: r.qualification } : {}),
  ...(r.qualified_until != null ? { qualifiedUntil: new Date(Number(r.qualified_until)) } : {}),
  ...(r.decided_by ? { decidedBy: r.decided_by, decidedAt: new Date(Number(r.decided_at)) } : {}),
});

/** Pending role grants (REQ-24) over knex; an approval writes the officer in the same transaction. */
export class KnexRoleGrantStore implements RoleGrantStore {
  constructor(private readonly db: Knex) {}

  async add(g: RoleGrant, audit: AuditEvent) {
    await this.db.transaction(async (trx) => {
      await trx<RoleGrantRow>("role_grants").insert({
        id: g.id,
        person_id: g.personId,
        organisation_id: g.organisationId,
        roles: JSON.stringify(g.roles),
        qualification: g.qualification ?? null,
        qualified_until: g.qualifiedUntil?.getTime() ?? null,
        requested_by: g.requestedBy,
        requested_by_human: g.requestedByHuman,
        requested_at: g.requestedAt.getTime(),
        status: g.status,
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async get(id: string) {
    const r = await this.db<RoleGrantRow>("role_grants").where({ id }).first();
    return r ? grant(r) : undefined;
  }

  async pending(limit: number) {
    return (
      await this.db<RoleGrantRow>("role_grants").where({ status: "pending" }).orderBy("requested_at").limit(limit)
    ).map(grant);
  }

  async decide(id: string, status: "approved" | "refused", by: string, at: Date, audit: AuditEvent, officer?: Officer) {
    return this.db.transaction(async (trx) => {
      const n = await trx<RoleGrantRow>("role_grants")
        .where({ id, status: "pending" })
        .update({ status, decided_by: by, decided_at: at.getTime() });
      if (n !== 1) return false;
      if (officer)
        await trx<OfficerRow>("officers")
          .insert({
            person_id: officer.personId,
            roles: JSON.stringify(officer.roles),
            service_owner_staff: officer.serviceOwnerStaff,
            appointed_by: by,
            qualification: officer.qualification ?? null,
            qualified_until: officer.qualifiedUntil?.getTime() ?? null,
          })
          .onConflict("person_id")
          .merge();
      await insertAuditEvent(trx, audit);
      return true;
    });
  }
}

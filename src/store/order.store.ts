import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { OrderChange, OrderStore, OrderView } from "../ra/order.js";
import type { OrderState } from "../policy/workflow.js";
import { insertAuditEvent } from "./audit.store.js";

const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));

/** Orders over knex: every change is a compare-and-set on the version, with its audit event (REQ-10, REQ-27). */
export class KnexOrderStore implements OrderStore {
  constructor(private readonly db: Knex) {}

  async load(orderId: string): Promise<(OrderView & { version: number; workflowId: string }) | undefined> {
    const o = await this.db("orders").where({ id: orderId }).first();
    if (!o) return undefined;
    const ids = await this.db("order_identifications").where({ order_id: orderId, kind: "identify" }).orderBy("seq");
    return {
      id: o.id, organisationId: o.organisation_id, applicantPersonId: o.applicant_id, state: o.state as OrderState, version: Number(o.version),
      workflowId: o.workflow_id,
      identifications: ids.map((i: any) => ({
        officerId: i.officer_id, at: new Date(Number(i.at)), faceCompared: !!i.face_compared,
        document: { type: i.document_type, numberHash: i.document_number_hash, expires: new Date(Number(i.document_expires)) },
      })),
      ...(o.terms_version ? { termsVersion: o.terms_version } : {}),
      ...(o.register_ok != null ? { registerCheck: { ok: !!o.register_ok, at: new Date(Number(o.register_at)) } } : {}),
      ...(o.handed_out_at != null ? { handedOutAt: date(o.handed_out_at)! } : {}),
    };
  }

  async apply(c: OrderChange, audit: AuditEvent): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const patch: Record<string, unknown> = { state: c.to, version: c.expectedVersion + 1, updated_at: c.at.getTime() };
      if (c.termsVersion !== undefined) patch.terms_version = c.termsVersion;
      if (c.handedOutAt !== undefined) patch.handed_out_at = c.handedOutAt.getTime();
      const n = await trx("orders").where({ id: c.orderId, version: c.expectedVersion }).update(patch);
      if (n !== 1) return false;
      if (c.identification) {
        const i = c.identification;
        await trx("order_identifications").insert({
          order_id: c.orderId, officer_id: i.officerId, kind: i.kind, at: i.at.getTime(), document_type: i.document.type,
          document_number_hash: i.document.numberHash, document_expires: i.document.expires.getTime(), face_compared: i.faceCompared,
        });
      }
      await insertAuditEvent(trx, audit);
      return true;
    });
  }

  /** Test and setup helper: a new order in REQUESTED (the RA API creates orders through this too). */
  async create(o: { id: string; organisationId: string; applicantId: string; workflowId: string; workflowVersion: number; at: Date; registerOk?: boolean }): Promise<void> {
    await this.db("orders").insert({
      id: o.id, organisation_id: o.organisationId, applicant_id: o.applicantId, workflow_id: o.workflowId, workflow_version: o.workflowVersion,
      state: "REQUESTED", version: 0, register_ok: o.registerOk ?? null, register_at: o.registerOk === undefined ? null : o.at.getTime(),
      created_at: o.at.getTime(), updated_at: o.at.getTime(),
    });
  }
}

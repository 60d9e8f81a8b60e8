import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { NewOrder, Notification, OrderChange, OrderStore, OrderView } from "../ra/order.js";
import type { OrderState } from "../policy/workflow.js";
import { insertAuditEvent } from "./audit.store.js";
import { SharedTransactions } from "./group-commit.js";

const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));
const opt = <K extends string, V>(k: K, v: V | null | undefined) => (v == null ? {} : ({ [k]: v } as { [P in K]: V }));

function notificationRow(n: Notification) {
  return { id: n.id, person_id: n.personId, channel: n.channel, subject: n.subject, body: n.body, created_at: n.at.getTime() };
}

/**
 * Orders over knex: every change is a compare-and-set on the version, with its audit event in the
 * same transaction (REQ-10, REQ-27). Concurrent changes share a transaction (one commit for many),
 * each keeping its own compare-and-set outcome.
 */
export class KnexOrderStore implements OrderStore {
  private readonly changes: SharedTransactions<{ change: OrderChange; audit: AuditEvent }, boolean>;

  constructor(private readonly db: Knex) {
    this.changes = new SharedTransactions(db, (trx, { change, audit }) => this.applyIn(trx, change, audit));
  }

  private view(o: any, ids: any[]): OrderView & { version: number; workflowId: string } {
    return {
      id: o.id, organisationId: o.organisation_id, applicantPersonId: o.applicant_id, state: o.state as OrderState, version: Number(o.version),
      workflowId: o.workflow_id, purpose: o.purpose, profileId: o.profile_id,
      identifications: ids.map((i: any) => ({
        officerId: i.officer_id, at: new Date(Number(i.at)), faceCompared: !!i.face_compared, ...(i.kind === "eid" ? { byEid: true } : {}),
        document: { type: i.document_type, numberHash: i.document_number_hash, expires: new Date(Number(i.document_expires)) },
      })),
      ...opt("termsVersion", o.terms_version as string | null),
      ...(o.register_ok != null ? { registerCheck: { ok: !!o.register_ok, at: new Date(Number(o.register_at)) } } : {}),
      ...opt("handedOutAt", date(o.handed_out_at)),
      ...opt("certSerial", o.cert_serial as string | null),
      ...opt("renewalOf", o.renewal_of as string | null),
      ...opt("applicantTokenHash", o.applicant_token_hash as string | null),
      ...opt("activationCodeHash", o.activation_code_hash as string | null),
    };
  }

  private async loadWhere(where: Record<string, string>): Promise<(OrderView & { version: number; workflowId: string }) | undefined> {
    const o = await this.db("orders").where(where).first();
    if (!o) return undefined;
    const ids = await this.db("order_identifications").where({ order_id: o.id }).whereIn("kind", ["identify", "eid"]).orderBy("seq");
    return this.view(o, ids);
  }

  load(orderId: string): Promise<(OrderView & { version: number; workflowId: string }) | undefined> {
    return this.loadWhere({ id: orderId });
  }

  byCertificate(serial: string): Promise<(OrderView & { workflowId: string }) | undefined> {
    return this.loadWhere({ cert_serial: serial });
  }

  apply(change: OrderChange, audit: AuditEvent): Promise<boolean> {
    return this.changes.run({ change, audit });
  }

  private async applyIn(trx: Knex.Transaction, c: OrderChange, audit: AuditEvent): Promise<boolean> {
    const patch: Record<string, unknown> = { state: c.to, version: c.expectedVersion + 1, updated_at: c.at.getTime() };
    if (c.termsVersion !== undefined) patch.terms_version = c.termsVersion;
    if (c.handedOutAt !== undefined) patch.handed_out_at = c.handedOutAt.getTime();
    if (c.certSerial !== undefined) patch.cert_serial = c.certSerial;
    if (c.activationCodeHash !== undefined) patch.activation_code_hash = c.activationCodeHash;
    if (c.activatedAt !== undefined) patch.activated_at = c.activatedAt.getTime();
    const n = await trx("orders").where({ id: c.orderId, version: c.expectedVersion }).update(patch);
    if (n !== 1) return false;
    if (c.identification) {
      const i = c.identification;
      await trx("order_identifications").insert({
        order_id: c.orderId, officer_id: i.officerId, kind: i.kind, at: i.at.getTime(), document_type: i.document.type,
        document_number_hash: i.document.numberHash, document_expires: i.document.expires.getTime(), face_compared: i.faceCompared,
      });
    }
    if (c.officerCredential) await trx("officer_credentials").insert({ serial: c.officerCredential.serial, person_id: c.officerCredential.personId, created_at: c.at.getTime() });
    if (c.notifications?.length) await trx("notifications").insert(c.notifications.map(notificationRow));
    await insertAuditEvent(trx, audit);
    return true;
  }

  async create(o: NewOrder, audit: AuditEvent, notification: Notification): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("orders").insert({
        id: o.id, organisation_id: o.organisationId, applicant_id: o.applicantId, workflow_id: o.workflowId, workflow_version: o.workflowVersion,
        state: "REQUESTED", version: 0, purpose: o.purpose, profile_id: o.profileId, renewal_of: o.renewalOf ?? null,
        register_ok: o.register.ok, register_at: o.at.getTime(), register_status: o.register.status, register_source: o.register.source,
        applicant_token_hash: o.applicantTokenHash, created_at: o.at.getTime(), updated_at: o.at.getTime(),
      });
      await trx("notifications").insert(notificationRow(notification));
      await insertAuditEvent(trx, audit);
    });
  }

  async handedOutBefore(workflowId: string, before: Date, limit: number): Promise<string[]> {
    const rows = await this.db("orders").where({ state: "HANDED_OUT", workflow_id: workflowId }).andWhere("handed_out_at", "<", before.getTime()).orderBy("handed_out_at").limit(limit).select("id");
    return rows.map((r: any) => r.id);
  }

  async expiredWithLiveCertificate(limit: number): Promise<{ orderId: string; serial: string; workflowId: string }[]> {
    const rows = await this.db("orders as o").join("certificates as c", "c.serial", "o.cert_serial")
      .where("o.state", "EXPIRED").whereNull("c.revoked_at").limit(limit).select("o.id", "o.cert_serial", "o.workflow_id");
    return rows.map((r: any) => ({ orderId: r.id, serial: r.cert_serial, workflowId: r.workflow_id }));
  }

  async liveCertificatesOf(personId: string): Promise<string[]> {
    const cards = await this.db("orders as o").join("certificates as c", "c.serial", "o.cert_serial")
      .where("o.applicant_id", personId).whereNull("c.revoked_at").select("c.serial");
    const officer = await this.db("officer_credentials as k").join("certificates as c", "c.serial", "k.serial")
      .where("k.person_id", personId).whereNull("c.revoked_at").select("c.serial");
    return [...new Set([...cards, ...officer].map((r: any) => r.serial as string))];
  }
}

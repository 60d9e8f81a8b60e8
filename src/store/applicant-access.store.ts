import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { ApplicantAccessStore, ApplicantSessionRecord, LinkAttempt } from "../ra/applicant-access.js";
import { insertAuditEvent } from "./audit.store.js";
import { recordAuditEvent } from "./commit-queue.js";
import { isUniqueViolation } from "./database.js";
import type { ApplicantLinkRefusalRow, ApplicantLinkUseRow, ApplicantSessionRow, OrderRow } from "./rows.js";

/** Applicant links and sessions over knex (REQ-06): a used token is a row, so a second use conflicts; hashes only. */
export class KnexApplicantAccessStore implements ApplicantAccessStore {
  constructor(private readonly db: Knex) {}

  async link(orderId: string) {
    const r = await this.db<OrderRow>("orders").where({ id: orderId }).first("applicant_token_hash", "created_at");
    return r?.applicant_token_hash
      ? { tokenHash: r.applicant_token_hash as string, issuedAt: new Date(Number(r.created_at)) }
      : undefined;
  }

  async exchange(tokenHash: string, idHash: string, s: ApplicantSessionRecord, audit: AuditEvent): Promise<boolean> {
    try {
      await this.db.transaction(async (trx) => {
        await trx<ApplicantLinkUseRow>("applicant_link_uses").insert({
          token_hash: tokenHash,
          order_id: s.orderId,
          used_at: s.created,
        });
        await trx<ApplicantSessionRow>("applicant_sessions").insert({
          id_hash: idHash,
          csrf_hash: s.csrfHash,
          order_id: s.orderId,
          token_hash: s.tokenHash,
          created_at: s.created,
          expires_at: s.expires,
        });
        await insertAuditEvent(trx, audit);
      });
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  async markUsed(tokenHash: string, orderId: string, at: Date): Promise<boolean> {
    try {
      await this.db<ApplicantLinkUseRow>("applicant_link_uses").insert({
        token_hash: tokenHash,
        order_id: orderId,
        used_at: at.getTime(),
      });
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  async used(tokenHash: string): Promise<boolean> {
    return (
      (await this.db<ApplicantLinkUseRow>("applicant_link_uses").where({ token_hash: tokenHash }).first("order_id")) !==
      undefined
    );
  }

  async session(idHash: string): Promise<ApplicantSessionRecord | undefined> {
    const r = await this.db<ApplicantSessionRow>("applicant_sessions").where({ id_hash: idHash }).first();
    return r
      ? {
          orderId: r.order_id,
          tokenHash: r.token_hash,
          csrfHash: r.csrf_hash,
          created: Number(r.created_at),
          expires: Number(r.expires_at),
        }
      : undefined;
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db<ApplicantSessionRow>("applicant_sessions").where({ id_hash: idHash }).delete();
  }

  async deleteExpiredSessions(now: number): Promise<void> {
    await this.db<ApplicantSessionRow>("applicant_sessions").where("expires_at", "<=", now).delete();
  }

  async refused(a: LinkAttempt, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx<ApplicantLinkRefusalRow>("applicant_link_refusals").insert({
        order_id: a.orderId,
        ip: a.ip.slice(0, 64),
        at: a.at.getTime(),
        reason: a.reason,
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async refusedForOrder(orderId: string, since: Date): Promise<number> {
    const r = await this.db<ApplicantLinkRefusalRow>("applicant_link_refusals")
      .where({ order_id: orderId })
      .andWhere("at", ">=", since.getTime())
      .count({ n: "*" })
      .first();
    return Number(r?.n ?? 0);
  }

  async refusedFromIp(ip: string, since: Date): Promise<number> {
    const r = await this.db<ApplicantLinkRefusalRow>("applicant_link_refusals")
      .where({ ip: ip.slice(0, 64) })
      .andWhere("at", ">=", since.getTime())
      .count({ n: "*" })
      .first();
    return Number(r?.n ?? 0);
  }

  async alarm(audit: AuditEvent): Promise<void> {
    await recordAuditEvent(this.db, audit);
  }
}

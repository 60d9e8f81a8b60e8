import type { Knex } from "knex";
import { CaError } from "../shared/ca-error.js";
import type { AuditEvent, CertRecord, CertStore, Reservation } from "../ca/ports.js";
import { GroupCommitter } from "./group-commit.js";
import { insertAuditEvent } from "./audit.store.js";
import { isUniqueViolation } from "./database.js";

/** CertStore over knex; writes go through group commit so each record is durable at low cost. */
export class KnexCertStore implements CertStore {
  private readonly writer: GroupCommitter;

  constructor(private readonly db: Knex) {
    this.writer = new GroupCommitter(db);
  }

  get batches(): number {
    return this.writer.batches;
  }

  async reserve(r: Reservation, audit: AuditEvent): Promise<void> {
    try {
      await this.writer.run(async (trx) => {
        await trx("certificates").insert({
          serial: r.serial, issuer_id: r.issuerId, profile_id: r.profileId, profile_version: r.profileVersion,
          status: "reserved", subject_dn: r.subjectDn, not_before: r.notBefore.getTime(), not_after: r.notAfter.getTime(),
          tbs: Buffer.from(r.tbs), der: null, requested_by: r.requestedBy,
          created_at: audit.at.getTime(), updated_at: audit.at.getTime(),
        });
        await insertAuditEvent(trx, audit);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaError("conflict", `serial ${r.serial} was used before`);
      throw new CaError("unavailable", `cannot record serial: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  async complete(serial: string, der: Uint8Array, audit: AuditEvent): Promise<void> {
    await this.transition(serial, "issued", { der: Buffer.from(der) }, audit);
  }

  async fail(serial: string, audit: AuditEvent): Promise<void> {
    await this.transition(serial, "failed", {}, audit);
  }

  private async transition(serial: string, status: string, extra: Record<string, unknown>, audit: AuditEvent): Promise<void> {
    const n = await this.writer
      .run(async (trx) => {
        const count = await trx("certificates").where({ serial, status: "reserved" }).update({ status, updated_at: audit.at.getTime(), ...extra });
        if (count === 1) await insertAuditEvent(trx, audit);
        return count;
      })
      .catch((e) => {
        throw new CaError("unavailable", `cannot store certificate ${serial}: ${(e as Error).message}`, undefined, { cause: e });
      });
    if (n !== 1) throw new CaError("conflict", `serial ${serial} is not reserved (recovered as unfinished?)`);
  }

  async get(serial: string): Promise<CertRecord | undefined> {
    const r = await this.db("certificates").where({ serial: serial.toLowerCase() }).first();
    return r ? toRecord(r) : undefined;
  }

  async list(filter: { issuerId?: string; status?: string; limit?: number } = {}): Promise<CertRecord[]> {
    let q = this.db("certificates").orderBy("created_at", "desc").limit(filter.limit ?? 100);
    if (filter.issuerId) q = q.where({ issuer_id: filter.issuerId });
    if (filter.status) q = q.where({ status: filter.status });
    return (await q).map(toRecord);
  }

  async recoverUnfinished(at: Date, audit: (serial: string) => AuditEvent): Promise<string[]> {
    return this.db.transaction(async (trx) => {
      const rows = await trx("certificates").where({ status: "reserved" }).select("serial");
      for (const { serial } of rows) {
        // Design: a serial that may have been signed but was not stored is published as revoked.
        await trx("certificates").where({ serial, status: "reserved" })
          .update({ status: "unfinished", revoked_at: at.getTime(), revocation_reason: "unspecified", updated_at: at.getTime() });
        await insertAuditEvent(trx, audit(serial));
      }
      return rows.map((r: { serial: string }) => r.serial);
    });
  }
}

function toRecord(r: any): CertRecord {
  return {
    serial: r.serial, issuerId: r.issuer_id, profileId: r.profile_id, profileVersion: Number(r.profile_version),
    status: r.status, subjectDn: r.subject_dn, notBefore: new Date(Number(r.not_before)), notAfter: new Date(Number(r.not_after)),
    der: r.der ? new Uint8Array(r.der) : undefined,
    revokedAt: r.revoked_at != null ? new Date(Number(r.revoked_at)) : undefined,
    revocationReason: r.revocation_reason ?? undefined,
    createdAt: new Date(Number(r.created_at)),
  };
}

import { CaError } from "../../src/shared/ca-error.js";
import type { AuditEvent, CertRecord, CertStore, Reservation } from "../../src/ca/ports.js";

/** In-memory CertStore with the same contract as the knex one (unit tests only). */
export class MemoryCertStore implements CertStore {
  readonly rows = new Map<
    string,
    { r: Reservation; status: CertRecord["status"]; der?: Uint8Array; revokedAt?: Date; createdAt: Date }
  >();
  readonly audit: AuditEvent[] = [];
  failNextReserveWithConflict = 0;

  async reserve(r: Reservation, audit: AuditEvent): Promise<void> {
    if (this.failNextReserveWithConflict > 0) {
      this.failNextReserveWithConflict--;
      throw new CaError("conflict", `serial ${r.serial} was used before`);
    }
    if (this.rows.has(r.serial)) throw new CaError("conflict", `serial ${r.serial} was used before`);
    this.rows.set(r.serial, { r, status: "reserved", createdAt: audit.at });
    this.audit.push(audit);
  }
  async complete(serial: string, der: Uint8Array, audit: AuditEvent): Promise<void> {
    const row = this.rows.get(serial);
    if (!row || row.status !== "reserved") throw new CaError("conflict", `serial ${serial} not reserved`);
    row.status = "issued";
    row.der = der;
    this.audit.push(audit);
  }
  async fail(serial: string, audit: AuditEvent): Promise<void> {
    const row = this.rows.get(serial);
    if (!row || row.status !== "reserved") throw new CaError("conflict", `serial ${serial} not reserved`);
    row.status = "failed";
    this.audit.push(audit);
  }
  async get(serial: string): Promise<CertRecord | undefined> {
    const row = this.rows.get(serial);
    if (!row) return undefined;
    return {
      serial,
      issuerId: row.r.issuerId,
      profileId: row.r.profileId,
      profileVersion: row.r.profileVersion,
      status: row.status,
      subjectDn: row.r.subjectDn,
      notBefore: row.r.notBefore,
      notAfter: row.r.notAfter,
      der: row.der,
      revokedAt: row.revokedAt,
      revocationReason: row.revokedAt ? "unspecified" : undefined,
      createdAt: row.createdAt,
    };
  }
  async listRevoked(issuerId: string): Promise<{ serial: string; revokedAt: Date; reason: string | undefined }[]> {
    return [...this.rows]
      .filter(([, r]) => r.r.issuerId === issuerId && r.revokedAt)
      .map(([serial, r]) => ({ serial, revokedAt: r.revokedAt!, reason: "unspecified" }));
  }
  async recoverUnfinished(at: Date, audit: (serial: string) => AuditEvent): Promise<string[]> {
    const out: string[] = [];
    for (const [serial, row] of this.rows)
      if (row.status === "reserved") {
        row.status = "unfinished";
        row.revokedAt = at;
        this.audit.push(audit(serial));
        out.push(serial);
      }
    return out;
  }
}

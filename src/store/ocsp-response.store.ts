import type { Knex } from "knex";
import type { OcspResponseStore, OcspSubject, StoredOcspResponse } from "../ca/ports.js";
import { INSERT_CHUNK, isPostgres } from "./database.js";
import { toStatus, type StatusColumns } from "./revocation.store.js";
import type { CertificateRow, OcspResponseRow } from "./rows.js";

const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));
const COLUMNS = [
  "issuer_id",
  "serial",
  "status",
  "revoked_at",
  "reason",
  "this_update",
  "next_update",
  "refresh_at",
  "der",
] as const;

/** Pre-produced OCSP responses in table ocsp_responses (SQLite and PostgreSQL). */
export class KnexOcspResponseStore implements OcspResponseStore {
  /** `readDb`: where lookups go (SQLite: the read-only connections beside the writer). */
  constructor(
    private readonly db: Knex,
    private readonly readDb: Knex = db,
  ) {}

  /** Lookups waiting for the next flush: concurrent misses share one indexed query (IN on the key). */
  private pending = new Map<string, Map<string, ((r: StoredOcspResponse | undefined) => void)[]>>();
  private flushing = false;

  get(issuerId: string, serial: string): Promise<StoredOcspResponse | undefined> {
    return new Promise((resolve, reject) => {
      let bySerial = this.pending.get(issuerId);
      if (!bySerial) this.pending.set(issuerId, (bySerial = new Map()));
      const waiting = bySerial.get(serial);
      if (waiting) waiting.push(resolve);
      else bySerial.set(serial, [resolve]);
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush().catch(reject));
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = false;
    for (const [issuerId, bySerial] of batch) {
      const serials = [...bySerial.keys()];
      for (let i = 0; i < serials.length; i += 500) {
        const part = serials.slice(i, i + 500);
        try {
          const rows = await this.readDb("ocsp_responses")
            .where({ issuer_id: issuerId })
            .whereIn("serial", part)
            .select(...COLUMNS);
          const found = new Map(rows.map((r) => [r.serial, toStored(r)]));
          for (const s of part) for (const done of bySerial.get(s)!) done(found.get(s));
        } catch {
          // A failed read is a miss: the responder signs on demand (budgeted) or answers tryLater.
          for (const s of part) for (const done of bySerial.get(s)!) done(undefined);
        }
      }
    }
  }

  async put(rows: readonly StoredOcspResponse[]): Promise<void> {
    if (rows.length === 0) return;
    // Last write wins per key within one call.
    const byKey = new Map(rows.map((r) => [`${r.issuerId}:${r.serial}`, r]));
    const all = [...byKey.values()].map(toRow);
    const chunk = isPostgres(this.db) ? INSERT_CHUNK : 100; // SQLite: at most 999 bound variables
    await this.db.transaction(async (trx) => {
      for (let i = 0; i < all.length; i += chunk)
        await trx("ocsp_responses")
          .insert(all.slice(i, i + chunk))
          .onConflict(["issuer_id", "serial"])
          .merge();
    });
  }

  async remove(issuerId: string, serials: readonly string[]): Promise<void> {
    for (let i = 0; i < serials.length; i += 500)
      await this.db("ocsp_responses")
        .where({ issuer_id: issuerId })
        .whereIn("serial", serials.slice(i, i + 500))
        .delete();
  }

  async due(now: Date, limit: number): Promise<{ issuerId: string; serial: string }[]> {
    const rows = await this.readDb("ocsp_responses")
      .where("refresh_at", "<", now.getTime())
      .orderBy("refresh_at")
      .limit(limit)
      .select("issuer_id", "serial");
    return rows.map((r) => ({ issuerId: r.issuer_id, serial: r.serial }));
  }

  async missing(
    issuerId: string,
    notExpiredAfter: Date,
    after: string,
    limit: number,
  ): Promise<{ subjects: OcspSubject[]; next: string | undefined }> {
    const rows: (SubjectColumns & { stored: string | null })[] = await this.readDb("certificates as c")
      .leftJoin("ocsp_responses as r", function () {
        this.on("r.issuer_id", "=", "c.issuer_id").andOn("r.serial", "=", "c.serial");
      })
      .where("c.issuer_id", issuerId)
      .andWhere("c.serial", ">", after)
      .orderBy("c.serial")
      .limit(limit)
      .select(
        "c.serial",
        "c.issuer_id",
        "c.status",
        "c.revoked_at",
        "c.revocation_reason",
        "c.not_after",
        "r.serial as stored",
      );
    const subjects = rows
      .filter(
        (r) =>
          r.stored == null &&
          (r.status === "issued" || r.status === "unfinished") &&
          Number(r.not_after) > notExpiredAfter.getTime(),
      )
      .map(toSubject);
    return { subjects, next: rows.length < limit ? undefined : rows[rows.length - 1].serial };
  }

  async subjects(serials: readonly string[]): Promise<OcspSubject[]> {
    const out: OcspSubject[] = [];
    for (let i = 0; i < serials.length; i += 500) {
      const rows = await this.readDb("certificates")
        .whereIn("serial", serials.slice(i, i + 500))
        .select("serial", "issuer_id", "status", "revoked_at", "revocation_reason", "not_after");
      out.push(...rows.map(toSubject));
    }
    return out;
  }
}

function toRow(r: StoredOcspResponse) {
  return {
    issuer_id: r.issuerId,
    serial: r.serial,
    status: r.status,
    revoked_at: r.revokedAt?.getTime() ?? null,
    reason: r.reason ?? null,
    this_update: r.thisUpdate.getTime(),
    next_update: r.nextUpdate.getTime(),
    refresh_at: r.refreshAt.getTime(),
    der: Buffer.from(r.der.buffer, r.der.byteOffset, r.der.length),
  };
}

function toStored(r: OcspResponseRow): StoredOcspResponse {
  const der = r.der;
  return {
    issuerId: r.issuer_id,
    serial: r.serial,
    status: r.status as StoredOcspResponse["status"],
    revokedAt: date(r.revoked_at),
    reason: r.reason ?? undefined,
    thisUpdate: new Date(Number(r.this_update)),
    nextUpdate: new Date(Number(r.next_update)),
    refreshAt: new Date(Number(r.refresh_at)),
    der: new Uint8Array(der.buffer, der.byteOffset, der.length),
  };
}

/** The columns of a certificates row an OCSP subject is made of. */
type SubjectColumns = StatusColumns & Pick<CertificateRow, "not_after">;

function toSubject(r: SubjectColumns): OcspSubject {
  return { ...toStatus(r), notAfter: new Date(Number(r.not_after)) };
}

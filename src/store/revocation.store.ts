import type { Knex } from "knex";
import type { AuditEvent, RevocationChange, RevocationEvent, RevocationStore, RevokedEntry, SerialStatus, StoredCrl } from "../ca/ports.js";
import { insertAuditEvent } from "./audit.store.js";
import { isPostgres } from "./database.js";

const PAGE = 10_000;
const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));

/** Revocation state in the certificates table, its event log, and CRLs (knex; SQLite and PostgreSQL). */
/** Advisory lock key for CRL numbers ("crln"). */
const CRL_NUMBER_LOCK = 0x63726c6e;

export class KnexRevocationStore implements RevocationStore {
  constructor(private readonly db: Knex) {}

  async apply(c: RevocationChange, audit: AuditEvent): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      let q = trx("certificates").where({ serial: c.serial, issuer_id: c.issuerId, status: "issued" });
      q = c.expectedReason === undefined ? q.whereNull("revocation_reason") : q.where({ revocation_reason: c.expectedReason });
      const n = await q.update({
        revoked_at: c.revokedAt?.getTime() ?? null, revocation_reason: c.reason ?? null,
        invalidity_date: c.invalidityDate?.getTime() ?? null, updated_at: c.at.getTime(),
      });
      if (n !== 1) return false;
      await trx("revocation_events").insert({
        issuer_id: c.issuerId, serial: c.serial, kind: c.kind, reason: c.reason ?? null, at: c.at.getTime(),
        invalidity_date: c.invalidityDate?.getTime() ?? null, actor: c.actor,
      });
      await insertAuditEvent(trx, audit);
      return true;
    });
  }

  async eventsSince(seq: number, issuerId?: string): Promise<RevocationEvent[]> {
    let q = this.db("revocation_events").where("seq", ">", seq).orderBy("seq");
    if (issuerId) q = q.where({ issuer_id: issuerId });
    return (await q).map((r: any) => ({
      seq: Number(r.seq), issuerId: r.issuer_id, serial: r.serial, kind: r.kind, reason: r.reason ?? undefined,
      at: new Date(Number(r.at)), invalidityDate: date(r.invalidity_date),
    }));
  }

  async lastEventSeq(): Promise<number> {
    const r = await this.db("revocation_events").max({ m: "seq" }).first();
    return Number(r?.m ?? 0);
  }

  async *revokedEntries(issuerId: string, expiredAfter: Date): AsyncIterable<readonly RevokedEntry[]> {
    // Keyset pages over the partial index (issuer_id, serial) WHERE revoked_at IS NOT NULL: memory
    // stays at one page however long the CRL, and each page is an index range scan.
    let after = "";
    for (;;) {
      const rows = await this.db("certificates")
        .where({ issuer_id: issuerId }).whereNotNull("revoked_at").andWhere("serial", ">", after)
        .orderBy("serial").limit(PAGE).select("serial", "revoked_at", "revocation_reason", "invalidity_date", "not_after");
      const page: RevokedEntry[] = [];
      for (const r of rows)
        if (Number(r.not_after) > expiredAfter.getTime())
          page.push({ serial: r.serial, revokedAt: new Date(Number(r.revoked_at)), reason: r.revocation_reason ?? undefined, invalidityDate: date(r.invalidity_date) });
      if (page.length > 0) yield page;
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].serial;
    }
  }

  /** The last CRL number used per issuer (kept outside the database with the audit checkpoint). */
  async crlNumbers(): Promise<Record<string, string>> {
    const rows = await this.db("crl_counters").select("issuer_id", "last_number");
    return Object.fromEntries(rows.map((r: any) => [r.issuer_id, String(r.last_number)]));
  }

  /** After a restore: CRL numbers continue above every number used before it (RFC 5280 5.2.3). */
  async raiseCrlNumbers(atLeast: Record<string, string>): Promise<void> {
    await this.db.transaction(async (trx) => {
      for (const [issuerId, n] of Object.entries(atLeast)) {
        const counter = await trx("crl_counters").where({ issuer_id: issuerId }).first();
        if (!counter) await trx("crl_counters").insert({ issuer_id: issuerId, last_number: Number(n) });
        else if (Number(counter.last_number) < Number(n)) await trx("crl_counters").where({ issuer_id: issuerId }).update({ last_number: Number(n) });
      }
    });
  }

  async nextCrlNumber(issuerId: string): Promise<bigint> {
    return this.db.transaction(async (trx) => {
      // RFC 5280 5.2.3: on PostgreSQL two transactions would both read N under READ COMMITTED; serialise them
      // (SQLite has one writer). A CLI `crl` run beside the service then still gets its own number.
      if (isPostgres(trx)) await trx.raw("select pg_advisory_xact_lock(?)", [CRL_NUMBER_LOCK]);
      const counter = await trx("crl_counters").where({ issuer_id: issuerId }).first();
      const max = await trx("crls").where({ issuer_id: issuerId }).max({ m: "number" }).first();
      const next = BigInt(Math.max(Number(counter?.last_number ?? 0), Number(max?.m ?? 0))) + 1n;
      if (counter) await trx("crl_counters").where({ issuer_id: issuerId }).update({ last_number: Number(next) });
      else await trx("crl_counters").insert({ issuer_id: issuerId, last_number: Number(next) });
      return next;
    });
  }

  async saveCrl(c: StoredCrl, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("crls").insert({
        issuer_id: c.issuerId, number: Number(c.number), kind: c.kind, base_number: c.baseNumber === undefined ? null : Number(c.baseNumber),
        last_event_seq: c.lastEventSeq, this_update: c.thisUpdate.getTime(), next_update: c.nextUpdate.getTime(), entries: c.entries, der: Buffer.from(c.der),
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async latestCrl(issuerId: string, kind: "full" | "delta"): Promise<StoredCrl | undefined> {
    const r = await this.db("crls").where({ issuer_id: issuerId, kind }).orderBy("number", "desc").first();
    if (!r) return undefined;
    return {
      issuerId: r.issuer_id, number: BigInt(r.number), kind: r.kind, baseNumber: r.base_number == null ? undefined : BigInt(r.base_number),
      lastEventSeq: Number(r.last_event_seq), thisUpdate: new Date(Number(r.this_update)), nextUpdate: new Date(Number(r.next_update)),
      entries: Number(r.entries), der: new Uint8Array(r.der),
    };
  }

  async statusOf(serial: string): Promise<SerialStatus | undefined> {
    const r = await this.db("certificates").where({ serial }).first("serial", "issuer_id", "status", "revoked_at", "revocation_reason");
    return r ? toStatus(r) : undefined;
  }

  async *statuses(issuerId: string, notExpiredAfter: Date): AsyncIterable<SerialStatus> {
    let after = "";
    for (;;) {
      const rows = await this.db("certificates").where({ issuer_id: issuerId }).whereIn("status", ["issued", "unfinished"])
        .andWhere("not_after", ">", notExpiredAfter.getTime()).andWhere("serial", ">", after).orderBy("serial").limit(10_000)
        .select("serial", "issuer_id", "status", "revoked_at", "revocation_reason");
      for (const r of rows) yield toStatus(r);
      if (rows.length < 10_000) return;
      after = rows[rows.length - 1].serial;
    }
  }
}

function toStatus(r: any): SerialStatus {
  return { serial: r.serial, issuerId: r.issuer_id, status: r.status, revokedAt: date(r.revoked_at), reason: r.revocation_reason ?? undefined };
}

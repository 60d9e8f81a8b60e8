import type { Knex } from "knex";
import type {
  AuditEvent,
  RevocationChange,
  RevocationEvent,
  RevocationStore,
  RevokedEntry,
  SerialStatus,
  StoredCrl,
} from "../ca/ports.js";
import { insertAuditEvent } from "./audit.store.js";
import { INSERT_CHUNK, isPostgres } from "./database.js";
import type { CertificateRow } from "./rows.js";

const PAGE = 10_000;
const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));

/** Advisory lock key of the revocation event log ("revo" as a number). */
const REVOCATION_EVENTS_LOCK = 0x7265_766f;

/**
 * Call first in a transaction that appends revocation events. PostgreSQL hands out `seq` when a
 * row is inserted but shows it when its transaction commits, and two transactions may commit in
 * the other order; a reader that follows the highest seq it saw (the service's OCSP invalidation,
 * delta CRLs) would then skip the lower one for good. One appender at a time, held to commit,
 * makes commit order seq order. (SQLite has a single writer already.) Taken before any row lock
 * and before the audit chain's lock, in every transaction that takes it: no lock-order cycle.
 */
export async function lockRevocationEvents(trx: Knex.Transaction): Promise<void> {
  if (isPostgres(trx)) await trx.raw("select pg_advisory_xact_lock(?)", [REVOCATION_EVENTS_LOCK]);
}

/**
 * A revocation change inside the caller's transaction (which took lockRevocationEvents first):
 * the certificate moves only if still in the state the caller read; then its event. The caller
 * writes the audit event. False when the certificate changed meanwhile.
 */
export async function applyRevocationIn(trx: Knex.Transaction, c: RevocationChange): Promise<boolean> {
  let q = trx("certificates").where({ serial: c.serial, issuer_id: c.issuerId, status: "issued" });
  q =
    c.expectedReason === undefined
      ? q.whereNull("revocation_reason")
      : q.where({ revocation_reason: c.expectedReason });
  if (c.expectedHoldCause !== undefined)
    q = c.expectedHoldCause === null ? q.whereNull("hold_cause") : q.where({ hold_cause: c.expectedHoldCause });
  const n = await q.update({
    revoked_at: c.revokedAt?.getTime() ?? null,
    revocation_reason: c.reason ?? null,
    invalidity_date: c.invalidityDate?.getTime() ?? null,
    updated_at: c.at.getTime(),
    hold_cause: c.reason === "certificateHold" ? (c.holdCause ?? "request") : null,
  });
  if (n !== 1) return false;
  await trx("revocation_events").insert(eventRow(c));
  return true;
}

const eventRow = (c: RevocationChange) => ({
  issuer_id: c.issuerId,
  serial: c.serial,
  kind: c.kind,
  reason: c.reason ?? null,
  at: c.at.getTime(),
  invalidity_date: c.invalidityDate?.getTime() ?? null,
  actor: c.actor,
});

/**
 * Many revocation changes inside the caller's transaction (which took lockRevocationEvents first),
 * as applyRevocationIn would make them one after the other: one compare-and-set UPDATE for the
 * first change of each serial (each row moves only if still in the state its caller read; every
 * column a CASE over the serials), one multi-row insert of their events, then any later change of
 * a serial already changed in this batch on its own. True per change that was applied.
 */
export async function applyRevocationsIn(trx: Knex.Transaction, cs: readonly RevocationChange[]): Promise<boolean[]> {
  if (cs.length <= 1) return Promise.all(cs.map((c) => applyRevocationIn(trx, c)));
  const first = new Map<string, number>();
  const later: number[] = [];
  cs.forEach((c, i) => (first.has(c.serial) ? later.push(i) : first.set(c.serial, i)));
  const done = cs.map(() => false);
  const group = [...first.values()];
  for (let k = 0; k < group.length; k += INSERT_CHUNK) {
    const chunk = group.slice(k, k + INSERT_CHUNK).map((i) => cs[i]!);
    // ELSE the column itself: the CASE takes the column's type (PostgreSQL), and a row not in the chunk keeps its
    // value.
    const column = (name: string, value: (c: RevocationChange) => unknown) =>
      trx.raw(`CASE ?? ${chunk.map(() => "WHEN ? THEN ?").join(" ")} ELSE ?? END`, [
        "serial",
        ...chunk.flatMap((c) => [c.serial, value(c) ?? null]),
        name,
      ] as Knex.RawBinding[]);
    const rows: { serial: string }[] = await trx("certificates")
      .where((q) => {
        for (const c of chunk)
          q.orWhere((w) => {
            w.where({ serial: c.serial, issuer_id: c.issuerId, status: "issued" });
            if (c.expectedReason === undefined) w.whereNull("revocation_reason");
            else w.where({ revocation_reason: c.expectedReason });
            if (c.expectedHoldCause !== undefined) {
              if (c.expectedHoldCause === null) w.whereNull("hold_cause");
              else w.where({ hold_cause: c.expectedHoldCause });
            }
          });
      })
      .update(
        {
          revoked_at: column("revoked_at", (c) => c.revokedAt?.getTime()),
          revocation_reason: column("revocation_reason", (c) => c.reason),
          invalidity_date: column("invalidity_date", (c) => c.invalidityDate?.getTime()),
          updated_at: column("updated_at", (c) => c.at.getTime()),
          hold_cause: column("hold_cause", (c) => (c.reason === "certificateHold" ? (c.holdCause ?? "request") : null)),
        },
        ["serial"],
      );
    const moved = new Set(rows.map((r) => r.serial));
    const applied = chunk.filter((c) => moved.has(c.serial));
    if (applied.length) await trx("revocation_events").insert(applied.map(eventRow));
    for (const c of applied) done[first.get(c.serial)!] = true;
  }
  for (const i of later) done[i] = await applyRevocationIn(trx, cs[i]!);
  return done;
}

/** Revocation state in the certificates table, its event log, and CRLs (knex; SQLite and PostgreSQL). */
export class KnexRevocationStore implements RevocationStore {
  constructor(private readonly db: Knex) {}

  async apply(c: RevocationChange, audit: AuditEvent): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await lockRevocationEvents(trx);
      if (!(await applyRevocationIn(trx, c))) return false;
      await insertAuditEvent(trx, audit);
      return true;
    });
  }

  async eventsSince(seq: number, issuerId?: string): Promise<RevocationEvent[]> {
    let q = this.db("revocation_events").where("seq", ">", seq).orderBy("seq");
    if (issuerId) q = q.where({ issuer_id: issuerId });
    return (await q).map((r) => ({
      seq: Number(r.seq),
      issuerId: r.issuer_id,
      serial: r.serial,
      kind: r.kind as RevocationEvent["kind"],
      reason: r.reason ?? undefined,
      at: new Date(Number(r.at)),
      invalidityDate: date(r.invalidity_date),
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
        .where({ issuer_id: issuerId })
        .whereNotNull("revoked_at")
        .andWhere("serial", ">", after)
        .orderBy("serial")
        .limit(PAGE)
        .select("serial", "revoked_at", "revocation_reason", "invalidity_date", "not_after");
      const page: RevokedEntry[] = [];
      for (const r of rows)
        if (Number(r.not_after) > expiredAfter.getTime())
          page.push({
            serial: r.serial,
            revokedAt: new Date(Number(r.revoked_at)),
            reason: r.revocation_reason ?? undefined,
            invalidityDate: date(r.invalidity_date),
          });
      if (page.length > 0) yield page;
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].serial;
    }
  }

  /** The last CRL number used per issuer (kept outside the database with the audit checkpoint). */
  async crlNumbers(): Promise<Record<string, string>> {
    const rows = await this.db("crl_counters").select("issuer_id", "last_number");
    return Object.fromEntries(rows.map((r) => [r.issuer_id, String(r.last_number)]));
  }

  /** After a restore: CRL numbers continue above every number used before it (RFC 5280 5.2.3). */
  async raiseCrlNumbers(atLeast: Record<string, string>): Promise<void> {
    await this.db.transaction(async (trx) => {
      for (const [issuerId, n] of Object.entries(atLeast)) {
        const counter = await trx("crl_counters").where({ issuer_id: issuerId }).first();
        if (!counter) await trx("crl_counters").insert({ issuer_id: issuerId, last_number: Number(n) });
        else if (Number(counter.last_number) < Number(n))
          await trx("crl_counters")
            .where({ issuer_id: issuerId })
            .update({ last_number: Number(n) });
      }
    });
  }

  async nextCrlNumber(issuerId: string): Promise<bigint> {
    return this.db.transaction(async (trx) => {
      // Write first, then read: the counter row is locked before it is read. Read first, PostgreSQL
      // (READ COMMITTED) let two publishers (the service and `cardpki crl generate`, or two
      // instances) read the same last number and sign two CRLs with one number; SQLite failed the
      // second with SQLITE_BUSY (a read transaction cannot become a writer once another committed).
      await trx("crl_counters").insert({ issuer_id: issuerId, last_number: 0 }).onConflict("issuer_id").ignore();
      await trx("crl_counters")
        .where({ issuer_id: issuerId })
        .update({ last_number: trx.ref("last_number") });
      const counter = await trx("crl_counters").where({ issuer_id: issuerId }).first();
      const max = await trx("crls").where({ issuer_id: issuerId }).max({ m: "number" }).first();
      const next = BigInt(Math.max(Number(counter?.last_number ?? 0), Number(max?.m ?? 0))) + 1n;
      await trx("crl_counters")
        .where({ issuer_id: issuerId })
        .update({ last_number: Number(next) });
      return next;
    });
  }

  async saveCrl(c: StoredCrl, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx("crls").insert({
        issuer_id: c.issuerId,
        number: Number(c.number),
        kind: c.kind,
        base_number: c.baseNumber === undefined ? null : Number(c.baseNumber),
        last_event_seq: c.lastEventSeq,
        this_update: c.thisUpdate.getTime(),
        next_update: c.nextUpdate.getTime(),
        entries: c.entries,
        der: Buffer.from(c.der),
      });
      await insertAuditEvent(trx, audit);
    });
  }

  async latestCrl(issuerId: string, kind: "full" | "delta"): Promise<StoredCrl | undefined> {
    const r = await this.db("crls").where({ issuer_id: issuerId, kind }).orderBy("number", "desc").first();
    if (!r) return undefined;
    return {
      issuerId: r.issuer_id,
      number: BigInt(r.number),
      kind: r.kind as "full" | "delta",
      baseNumber: r.base_number == null ? undefined : BigInt(r.base_number),
      lastEventSeq: Number(r.last_event_seq),
      thisUpdate: new Date(Number(r.this_update)),
      nextUpdate: new Date(Number(r.next_update)),
      entries: Number(r.entries),
      der: new Uint8Array(r.der),
    };
  }

  async statusOf(serial: string): Promise<SerialStatus | undefined> {
    const r = await this.db("certificates")
      .where({ serial })
      .first("serial", "issuer_id", "status", "revoked_at", "revocation_reason");
    return r ? toStatus(r) : undefined;
  }

  async *statuses(issuerId: string, notExpiredAfter: Date): AsyncIterable<SerialStatus> {
    let after = "";
    for (;;) {
      const rows = await this.db("certificates")
        .where({ issuer_id: issuerId })
        .whereIn("status", ["issued", "unfinished"])
        .andWhere("not_after", ">", notExpiredAfter.getTime())
        .andWhere("serial", ">", after)
        .orderBy("serial")
        .limit(10_000)
        .select("serial", "issuer_id", "status", "revoked_at", "revocation_reason");
      for (const r of rows) yield toStatus(r);
      if (rows.length < 10_000) return;
      after = rows[rows.length - 1].serial;
    }
  }
}

/** The columns of a certificates row that make the serial's status. */
export type StatusColumns = Pick<
  CertificateRow,
  "serial" | "issuer_id" | "status" | "revoked_at" | "revocation_reason"
>;

/** A certificates row as the serial's status (what OCSP and the CRL say of it). */
export function toStatus(r: StatusColumns): SerialStatus {
  return {
    serial: r.serial,
    issuerId: r.issuer_id,
    status: r.status as SerialStatus["status"],
    revokedAt: date(r.revoked_at),
    reason: r.revocation_reason ?? undefined,
  };
}

import type { Knex } from "knex";
import { CaError } from "../shared/ca-error.js";
import type { AuditEvent, CertRecord, CertStore, Reservation, ReservationRecord } from "../ca/ports.js";
import { INSERT_CHUNK, insertChunked } from "./database.js";
import { commitQueueOf, namedWrite, type CommitQueue } from "./commit-queue.js";
import { crossThreadError } from "./sqlite-writer-thread.js";
import { insertAuditEvent } from "./audit.store.js";
import { lockRevocationEvents } from "./revocation.store.js";
import { isUniqueViolation } from "./database.js";
import type { CertificateRow } from "./rows.js";

/** One write of a serial's record (the audit event goes with the commit). */
export type CertOp =
  | { readonly kind: "reserve"; readonly r: Reservation; readonly audit: AuditEvent }
  | {
      readonly kind: "issued" | "failed";
      readonly serial: string;
      readonly der?: Uint8Array;
      readonly audit: AuditEvent;
    };
type Op = CertOp;

/** A serial that is no longer reserved (recovered as unfinished, or moved on) was to be completed or failed. */
export class NotReserved extends Error {}

/**
 * A reserved serial that will not be completed (a crash, or the production saga gave up on it):
 * it may have been signed, so it is published as revoked (design: signed but not stored → revoked).
 * Inside the caller's transaction, which took lockRevocationEvents first; false if it was not reserved.
 */
export async function abandonReservedIn(
  trx: Knex.Transaction,
  serial: string,
  at: Date,
  actor: string,
): Promise<boolean> {
  const n = await trx("certificates").where({ serial, status: "reserved" }).update({
    status: "unfinished",
    revoked_at: at.getTime(),
    revocation_reason: "unspecified",
    updated_at: at.getTime(),
  });
  if (n !== 1) return false;
  // The update above found the row.
  const row = (await trx("certificates").where({ serial }).first("issuer_id"))!;
  await trx("revocation_events").insert({
    issuer_id: row.issuer_id,
    serial,
    kind: "unfinished",
    reason: "unspecified",
    at: at.getTime(),
    actor,
  });
  return true;
}

/** Rows per multi-row statement: well under SQLite's 32766 host parameters and PostgreSQL's 65535. */

/** One batch: a multi-row insert for new serials, one UPDATE per status (audit events go with the commit). */
export async function applyCertOps(trx: Knex.Transaction, ops: readonly Op[]): Promise<void> {
  const reserves = ops.filter((o): o is Extract<Op, { kind: "reserve" }> => o.kind === "reserve");
  await insertChunked(
    trx,
    "certificates",
    reserves.map(({ r, audit }) => ({
      serial: r.serial,
      issuer_id: r.issuerId,
      profile_id: r.profileId,
      profile_version: r.profileVersion,
      status: "reserved",
      subject_dn: r.subjectDn,
      not_before: r.notBefore.getTime(),
      not_after: r.notAfter.getTime(),
      tbs: Buffer.from(r.tbs),
      der: null,
      requested_by: r.requestedBy,
      created_at: audit.at.getTime(),
      updated_at: audit.at.getTime(),
    })),
  );
  for (const status of ["issued", "failed"] as const) {
    const group = ops.filter((o): o is Extract<Op, { kind: "issued" | "failed" }> => o.kind === status);
    for (let i = 0; i < group.length; i += INSERT_CHUNK) {
      const chunk = group.slice(i, i + INSERT_CHUNK);
      const serials = chunk.map((o) => o.serial);
      const patch: Record<string, unknown> = { status, updated_at: chunk[0]!.audit.at.getTime() };
      if (status === "issued") {
        // der = CASE serial WHEN ? THEN ? ... END: one statement for the whole chunk.
        patch.der = trx.raw(
          `CASE serial ${chunk.map(() => "WHEN ? THEN ?").join(" ")} ELSE der END`,
          chunk.flatMap((o) => [o.serial, Buffer.from(o.der!)]),
        );
      }
      // Only a reserved serial moves on: a serial recovered as unfinished stays revoked.
      const n = await trx("certificates").whereIn("serial", serials).andWhere({ status: "reserved" }).update(patch);
      if (n !== chunk.length) throw new NotReserved(`${chunk.length - n} serial(s) not reserved`);
    }
  }
}

/** Certificate records through the commit queue (named: the SQLite writer thread runs them). */
const certWrite = namedWrite<Op, void>("certificates", async (trx, ops, audit) => {
  await applyCertOps(trx, ops);
  for (const o of ops) audit(o.audit);
  return ops.map(() => undefined);
});
crossThreadError(NotReserved);

/** CertStore over knex; every write is durable when its promise resolves, through group commit. */
export class KnexCertStore implements CertStore {
  private readonly queue: CommitQueue;

  /** `reader` may be a separate read pool (SQLite WAL readers see every commit without waiting for the writer). */
  constructor(
    private readonly db: Knex,
    private readonly reader: Knex = db,
  ) {
    this.queue = commitQueueOf(db);
  }

  /** Certificates by status (issued, reserved, failed, unfinished), for metrics. */
  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db<CertificateRow>("certificates").groupBy("status").select("status").count({ n: "*" });
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Certificates signed and stored, per profile (metrics: issuance). */
  async countIssuedByProfile(): Promise<Record<string, number>> {
    const rows = await this.db<CertificateRow>("certificates")
      .whereNotNull("der")
      .groupBy("profile_id")
      .select("profile_id")
      .count({ n: "*" });
    return Object.fromEntries(rows.map((r) => [r.profile_id, Number(r.n)]));
  }

  /** Commits of the database's shared queue so far (benchmarks report certificates per commit). */
  get batches(): number {
    return this.queue.commits;
  }

  /** Certificate records inside the caller's transaction (the production saga's linked writes). */
  async writeIn(trx: Knex.Transaction, ops: readonly CertOp[]): Promise<void> {
    await applyCertOps(trx, ops);
  }

  async reserve(r: Reservation, audit: AuditEvent): Promise<void> {
    try {
      await this.queue.run(certWrite, { kind: "reserve", r, audit });
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaError("conflict", `serial ${r.serial} was used before`);
      throw new CaError("unavailable", `cannot record serial: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  async complete(serial: string, der: Uint8Array, audit: AuditEvent): Promise<void> {
    await this.transition({ kind: "issued", serial, der, audit });
  }

  async fail(serial: string, audit: AuditEvent): Promise<void> {
    await this.transition({ kind: "failed", serial, audit });
  }

  private async transition(op: Op & { serial: string }): Promise<void> {
    try {
      await this.queue.run(certWrite, op);
    } catch (e) {
      if (e instanceof NotReserved)
        throw new CaError("conflict", `serial ${op.serial} is not reserved (recovered as unfinished?)`);
      throw new CaError("unavailable", `cannot store certificate ${op.serial}: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    }
  }

  async get(serial: string): Promise<CertRecord | undefined> {
    const r = await this.reader<CertificateRow>("certificates").where({ serial: serial.toLowerCase() }).first();
    return r ? toRecord(r) : undefined;
  }

  /** The reservation with its recorded TBS, read from the writer connection (the CA signer checks against it). */
  async reservation(serial: string): Promise<ReservationRecord | undefined> {
    const r = await this.db<CertificateRow>("certificates")
      .where({ serial: serial.toLowerCase() })
      .first("serial", "issuer_id", "profile_id", "profile_version", "status", "tbs");
    return r
      ? {
          serial: r.serial,
          issuerId: r.issuer_id,
          profileId: r.profile_id,
          profileVersion: Number(r.profile_version),
          status: r.status as CertRecord["status"],
          tbs: new Uint8Array(r.tbs),
        }
      : undefined;
  }

  async listRevoked(issuerId: string): Promise<{ serial: string; revokedAt: Date; reason: string | undefined }[]> {
    const rows = await this.db<CertificateRow>("certificates")
      .where({ issuer_id: issuerId })
      .whereNotNull("revoked_at")
      .orderBy("revoked_at")
      .select("serial", "revoked_at", "revocation_reason");
    return rows.map((r) => ({
      serial: r.serial,
      revokedAt: new Date(Number(r.revoked_at)),
      reason: r.revocation_reason ?? undefined,
    }));
  }

  async recoverUnfinished(at: Date, audit: (serial: string) => AuditEvent): Promise<string[]> {
    return this.db.transaction(async (trx) => {
      await lockRevocationEvents(trx);
      const rows = await trx("certificates").where({ status: "reserved" }).select("serial");
      for (const { serial } of rows) {
        // Design: a serial that may have been signed but was not stored is published as revoked.
        if (await abandonReservedIn(trx, serial, at, "system:recovery")) await insertAuditEvent(trx, audit(serial));
      }
      return rows.map((r: { serial: string }) => r.serial);
    });
  }
}

function toRecord(r: CertificateRow): CertRecord {
  return {
    serial: r.serial,
    issuerId: r.issuer_id,
    profileId: r.profile_id,
    profileVersion: Number(r.profile_version),
    status: r.status as CertRecord["status"],
    subjectDn: r.subject_dn,
    notBefore: new Date(Number(r.not_before)),
    notAfter: new Date(Number(r.not_after)),
    der: r.der ? new Uint8Array(r.der) : undefined,
    revokedAt: r.revoked_at != null ? new Date(Number(r.revoked_at)) : undefined,
    revocationReason: r.revocation_reason ?? undefined,
    ...(r.hold_cause ? { holdCause: r.hold_cause as CertRecord["holdCause"] } : {}),
    createdAt: new Date(Number(r.created_at)),
  };
}

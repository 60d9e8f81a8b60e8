import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { BatchOutcome, RevocationJob, RevocationJobStore } from "../ca/mass-revocation.js";
import { appendAuditEvents } from "./audit.store.js";
import { INSERT_CHUNK, isPostgres } from "./database.js";
import { lockRevocationEvents } from "./revocation.store.js";
import type { RevocationJobRow } from "./rows.js";

const CHUNK = 500;

const jobOf = (r: RevocationJobRow): RevocationJob => ({
  id: r.id,
  kind: r.kind as RevocationJob["kind"],
  target: r.target,
  organisationId: r.organisation_id ?? undefined,
  reason: r.reason,
  actor: r.actor,
  operatorSerial: r.operator_serial,
  status: r.status as RevocationJob["status"],
  total: Number(r.total),
  done: Number(r.done),
  revoked: Number(r.revoked),
  skipped: Number(r.skipped),
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
  finishedAt: r.finished_at == null ? undefined : new Date(Number(r.finished_at)),
});

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Mass revocation jobs in the job tables (REQ-19; knex, SQLite and PostgreSQL). */
export class KnexRevocationJobStore implements RevocationJobStore {
  constructor(private readonly db: Knex) {}

  async organisation(orgNumber: string) {
    const r = await this.db("organisations").where({ org_number: orgNumber }).first("id", "status");
    return r ? { id: r.id as string, status: r.status as string } : undefined;
  }

  async create(
    job: Omit<RevocationJob, "total" | "done" | "revoked" | "skipped" | "status" | "finishedAt">,
    audit: (total: number) => AuditEvent,
  ): Promise<RevocationJob> {
    return this.db.transaction(async (trx) => {
      // The organisation's certificates: its card orders' and its officers' credentials, still good or on hold.
      const ofOrg = trx
        .select("o.cert_serial as serial")
        .from("orders as o")
        .where("o.organisation_id", job.organisationId!)
        .whereNotNull("o.cert_serial")
        .union((u) =>
          u
            .select("k.serial")
            .from("officer_credentials as k")
            .join("people as p", "p.id", "k.person_id")
            .where("p.organisation_id", job.organisationId!),
        );
      const rows: { serial: string }[] = await trx("certificates as c")
        .whereIn("c.serial", ofOrg)
        .where("c.status", "issued")
        .where((w) => w.whereNull("c.revocation_reason").orWhere("c.revocation_reason", "certificateHold"))
        .orderBy("c.serial")
        .select("c.serial");
      const at = job.createdAt.getTime();
      await trx("revocation_jobs").insert({
        id: job.id,
        kind: job.kind,
        target: job.target,
        organisation_id: job.organisationId ?? null,
        reason: job.reason,
        actor: job.actor,
        operator_serial: job.operatorSerial,
        status: "running",
        total: rows.length,
        done: 0,
        revoked: 0,
        skipped: 0,
        created_at: at,
        updated_at: at,
        finished_at: null,
      });
      for (const part of chunks(
        rows.map((r, i) => ({ job_id: job.id, seq: i + 1, serial: r.serial, state: "pending" })),
        INSERT_CHUNK,
      ))
        await trx("revocation_job_items").insert(part);
      // REQ-19: the organisation has ceased.
      await trx("organisations").where({ id: job.organisationId! }).update({ status: "ceased" });
      await appendAuditEvents(trx, [audit(rows.length)]);
      // Inserted above, in this transaction.
      return jobOf((await trx("revocation_jobs").where({ id: job.id }).first())!);
    });
  }

  async get(id: string) {
    const r = await this.db("revocation_jobs").where({ id }).first();
    return r ? jobOf(r) : undefined;
  }

  async list() {
    return (await this.db("revocation_jobs").orderBy("created_at", "desc")).map(jobOf);
  }

  async runningFor(orgNumber: string) {
    const r = await this.db("revocation_jobs").where({ target: orgNumber, status: "running" }).first();
    return r ? jobOf(r) : undefined;
  }

  async pending(jobId: string, limit: number) {
    const rows = await this.db("revocation_job_items")
      .where({ job_id: jobId, state: "pending" })
      .orderBy("seq")
      .limit(limit)
      .select("seq", "serial");
    return rows.map((r) => ({ seq: Number(r.seq), serial: r.serial }));
  }

  async revokeBatch(
    jobId: string,
    items: readonly { seq: number; serial: string }[],
    change: { reason: string; at: Date; actor: string },
    audit: (o: BatchOutcome & { serials: readonly string[] }) => AuditEvent,
  ): Promise<BatchOutcome> {
    return this.db.transaction(async (trx) => {
      await lockRevocationEvents(trx);
      // Claim what is still pending (a second runner, or a batch committed before a crash, took the rest).
      const claimed: { seq: number; serial: string }[] = [];
      for (const part of chunks(items, CHUNK)) {
        let q = trx("revocation_job_items")
          .where({ job_id: jobId, state: "pending" })
          .whereIn(
            "seq",
            part.map((i) => i.seq),
          )
          .select("seq", "serial");
        if (isPostgres(trx)) q = q.forUpdate();
        for (const r of await q) claimed.push({ seq: Number(r.seq), serial: r.serial });
      }
      if (claimed.length === 0) return { revoked: 0, skipped: 0 };
      const at = change.at.getTime();
      const moved: { serial: string; issuer_id: string }[] = [];
      for (const part of chunks(claimed, CHUNK)) {
        const rows = await trx("certificates")
          .whereIn(
            "serial",
            part.map((i) => i.serial),
          )
          .where("status", "issued")
          .where((w) => w.whereNull("revocation_reason").orWhere("revocation_reason", "certificateHold"))
          .update(
            {
              revoked_at: at,
              revocation_reason: change.reason,
              invalidity_date: null,
              updated_at: at,
              hold_cause: null,
            },
            ["serial", "issuer_id"],
          );
        moved.push(...(rows as { serial: string; issuer_id: string }[]));
      }
      for (const part of chunks(moved, INSERT_CHUNK))
        await trx("revocation_events").insert(
          part.map((m) => ({
            issuer_id: m.issuer_id,
            serial: m.serial,
            kind: "revoke",
            reason: change.reason,
            at,
            invalidity_date: null,
            actor: change.actor,
          })),
        );
      const movedSet = new Set(moved.map((m) => m.serial));
      const revokedSeqs = claimed.filter((c) => movedSet.has(c.serial)).map((c) => c.seq);
      const skippedSeqs = claimed.filter((c) => !movedSet.has(c.serial)).map((c) => c.seq);
      for (const [state, seqs] of [
        ["revoked", revokedSeqs],
        ["skipped", skippedSeqs],
      ] as const)
        for (const part of chunks(seqs, CHUNK))
          await trx("revocation_job_items").where({ job_id: jobId }).whereIn("seq", part).update({ state });
      await trx("revocation_jobs")
        .where({ id: jobId })
        .update({
          done: trx.raw("done + ?", [claimed.length]),
          revoked: trx.raw("revoked + ?", [revokedSeqs.length]),
          skipped: trx.raw("skipped + ?", [skippedSeqs.length]),
          updated_at: at,
        });
      const outcome = { revoked: revokedSeqs.length, skipped: skippedSeqs.length };
      await appendAuditEvents(trx, [audit({ ...outcome, serials: [...movedSet] })]);
      return outcome;
    });
  }

  async finish(jobId: string, at: Date, audit: (job: RevocationJob) => AuditEvent): Promise<RevocationJob> {
    return this.db.transaction(async (trx) => {
      const n = await trx("revocation_jobs")
        .where({ id: jobId, status: "running" })
        .update({ status: "done", finished_at: at.getTime(), updated_at: at.getTime() });
      // A job being finished exists (the caller runs it).
      const job = jobOf((await trx("revocation_jobs").where({ id: jobId }).first())!);
      if (n === 1) await appendAuditEvents(trx, [audit(job)]);
      return job;
    });
  }
}

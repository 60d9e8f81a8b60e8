import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { RevocationPolicy } from "../policy/revocation-policy.js";
import type { AuditEvent } from "./ports.js";

export interface RevocationJob {
  readonly id: string;
  readonly kind: "organisation";
  /** The organisation number whose certificates the job revokes. */
  readonly target: string;
  readonly organisationId: string | undefined;
  readonly reason: string;
  readonly actor: string;
  /** Serial of the certificate the operator authenticated with (REQ-27). */
  readonly operatorSerial: string;
  readonly status: "running" | "done";
  readonly total: number;
  readonly done: number;
  readonly revoked: number;
  /** Selected serials that were revoked by something else before the job reached them. */
  readonly skipped: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | undefined;
}

/** The outcome of one batch: which serials moved, per issuer, and which were revoked already. */
export interface BatchOutcome {
  readonly revoked: number;
  readonly skipped: number;
}

/** What the job needs of the database (SQLite and PostgreSQL, src/store/revocation-job.store.ts). */
export interface RevocationJobStore {
  /** The organisation by number (id and status), or undefined. */
  organisation(orgNumber: string): Promise<{ id: string; status: string } | undefined>;
  /**
   * Creates the job with the serials selected now (every certificate of the organisation's orders
   * and officers that is issued and not revoked, held ones included), marks the organisation
   * ceased, and writes the start audit event: one transaction.
   */
  create(
    job: Omit<RevocationJob, "total" | "done" | "revoked" | "skipped" | "status" | "finishedAt">,
    audit: (total: number) => AuditEvent,
  ): Promise<RevocationJob>;
  get(id: string): Promise<RevocationJob | undefined>;
  list(): Promise<RevocationJob[]>;
  /** The running job of an organisation, if any. */
  runningFor(orgNumber: string): Promise<RevocationJob | undefined>;
  /** The next pending serials, in selection order. */
  pending(jobId: string, limit: number): Promise<{ seq: number; serial: string }[]>;
  /**
   * One transaction: claims the items still pending, revokes those of them still good or on hold
   * (revocation events for CRL and OCSP), counts the rest as skipped, advances the job's progress
   * and appends the batch's audit event. A claimed item is never revoked again.
   */
  revokeBatch(
    jobId: string,
    items: readonly { seq: number; serial: string }[],
    change: { reason: string; at: Date; actor: string },
    audit: (o: BatchOutcome & { serials: readonly string[] }) => AuditEvent,
  ): Promise<BatchOutcome>;
  /** Marks the job done with its finish audit event (once). */
  finish(jobId: string, at: Date, audit: (job: RevocationJob) => AuditEvent): Promise<RevocationJob>;
}

export interface MassRevocationProgress {
  readonly job: RevocationJob;
  readonly batch: BatchOutcome;
}

/**
 * Mass revocation (REQ-19: the holder's organisation ceases; REQ-18: only service-owner staff,
 * audited): one resumable job per organisation. Selected serials and progress live in the job
 * table; batches of `batchSize` are revoked per transaction with one audit event each, between
 * a start and a finish event naming the operator's certificate. Killed at any point, `run` again
 * continues with the serials still pending. CRLs and OCSP follow from the revocation events the
 * batches write (the CRL schedule's afterRevocationSeconds, the responder's invalidation).
 */
export class MassRevocation {
  constructor(
    private readonly deps: {
      jobs: RevocationJobStore;
      policy: RevocationPolicy;
      clock: Clock;
      random: Random;
      batchSize?: number;
    },
  ) {}

  private event(at: Date, actor: string, action: string, jobId: string, details: Record<string, unknown>): AuditEvent {
    return {
      id: newId(this.deps.random),
      at,
      actor,
      action,
      objectType: "revocation-job",
      objectId: jobId,
      outcome: "success",
      details,
    };
  }

  async start(req: {
    orgNumber: string;
    reason: string;
    actor: string;
    operatorSerial: string;
  }): Promise<RevocationJob> {
    const { jobs, policy, clock, random } = this.deps;
    if (!policy.reasons.includes(req.reason as never) || !policy.requests.officerReasons.includes(req.reason as never))
      throw new CaError(
        "policy-violation",
        `reason '${req.reason}' is not one officers may use (REQ-19; allowed: ` +
          `${policy.requests.officerReasons.join(", ")})`,
        { requirement: "REQ-19" },
      );
    if (req.reason === "certificateHold")
      throw new CaError("policy-violation", "a mass revocation revokes; it does not suspend (REQ-19)", {
        requirement: "REQ-19",
      });
    const org = await jobs.organisation(req.orgNumber);
    if (!org) throw new CaError("not-found", `no organisation with number ${req.orgNumber}`);
    const running = await jobs.runningFor(req.orgNumber);
    if (running)
      throw new CaError(
        "conflict",
        `job ${running.id} for organisation ${req.orgNumber} is still running ` +
          `(${running.done}/${running.total}); resume it`,
      );
    const at = clock.now();
    const id = newId(random);
    return jobs.create(
      {
        id,
        kind: "organisation",
        target: req.orgNumber,
        organisationId: org.id,
        reason: req.reason,
        actor: req.actor,
        operatorSerial: req.operatorSerial,
        createdAt: at,
        updatedAt: at,
      },
      (total) =>
        this.event(at, req.actor, "revocation.job.start", id, {
          requirement: "REQ-19",
          organisation: req.orgNumber,
          reason: req.reason,
          total,
          operatorCertificate: req.operatorSerial,
        }),
    );
  }

  async status(id: string): Promise<RevocationJob> {
    const job = await this.deps.jobs.get(id);
    if (!job) throw new CaError("not-found", `no revocation job ${id}`);
    return job;
  }

  list(): Promise<RevocationJob[]> {
    return this.deps.jobs.list();
  }

  /** Runs (or resumes) the job to its end; `progress` after each batch. */
  async run(id: string, progress?: (p: MassRevocationProgress) => void): Promise<RevocationJob> {
    const { jobs, clock } = this.deps;
    const size = this.deps.batchSize ?? 1000;
    let job = await this.status(id);
    if (job.status === "done") return job;
    for (;;) {
      const items = await jobs.pending(id, size);
      if (items.length === 0) break;
      const at = clock.now();
      const batch = await jobs.revokeBatch(id, items, { reason: job.reason, at, actor: job.actor }, (o) =>
        this.event(at, job.actor, "revocation.job.batch", id, {
          requirement: "REQ-19",
          reason: job.reason,
          revoked: o.revoked,
          skipped: o.skipped,
          fromSeq: items[0]!.seq,
          toSeq: items[items.length - 1]!.seq,
          operatorCertificate: job.operatorSerial,
          serials: o.serials,
        }),
      );
      job = await this.status(id);
      progress?.({ job, batch });
    }
    return jobs.finish(id, clock.now(), (j) =>
      this.event(clock.now(), j.actor, "revocation.job.finish", id, {
        requirement: "REQ-19",
        organisation: j.target,
        total: j.total,
        revoked: j.revoked,
        skipped: j.skipped,
        operatorCertificate: j.operatorSerial,
      }),
    );
  }
}

import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type {
  ClaimedNotification,
  DeliveryChannelName,
  DeliveryOutcome,
  DeliveryQueue,
  DeliveryState,
  NotificationKind,
} from "../delivery/ports.js";
import { commitQueueOf, namedWrite, type CommitQueue } from "./commit-queue.js";
import type { FieldCipher } from "./field-cipher.js";
import type { NotificationRow, PersonRow } from "./rows.js";

type DeadLetterColumns = Pick<
  NotificationRow,
  "id" | "person_id" | "channel" | "kind" | "secret" | "attempts" | "last_error" | "created_at" | "updated_at"
> &
  Pick<PersonRow, "organisation_id">;

/** What a delivered secret's body becomes (sealed like any body, so no row holds clear text). */
export const WIPED_BODY = "[removed after delivery]";

/** A message the service gave up on, as an officer sees it: no text, no address. */
export interface DeadLetter {
  readonly id: string;
  readonly personId: string;
  readonly organisationId?: string;
  readonly channel: string;
  readonly kind: NotificationKind;
  readonly secret: boolean;
  readonly attempts: number;
  readonly lastError?: string;
  readonly createdAt: Date;
  readonly deadAt?: Date;
}

type ClaimOp = {
  readonly now: number;
  readonly until: number;
  readonly channels: readonly string[];
  readonly limit: number;
  readonly worker: string;
};
type RecordOp = {
  readonly n: ClaimedNotification;
  readonly worker: string;
  readonly outcome: DeliveryOutcome;
  readonly auditId: string;
  readonly wipedBody: string;
};
type RetryOp = {
  readonly id: string;
  readonly organisationId?: string;
  readonly actor: string;
  readonly at: number;
  readonly auditId: string;
};

const OPEN_STATES = ["pending", "retrying"];

const claimable = (q: Knex.QueryBuilder, op: ClaimOp) =>
  q
    .whereIn("state", OPEN_STATES)
    .whereIn("channel", [...op.channels])
    .where("next_attempt_at", "<=", op.now)
    .where((w) => w.whereNull("claimed_until").orWhere("claimed_until", "<", op.now));

async function organisationOf(trx: Knex.Transaction, personId: string): Promise<string | undefined> {
  const p = await trx("people").where({ id: personId }).first("organisation_id");
  return p?.organisation_id ?? undefined;
}

// The delivery worker's writes through the commit queue (named: the SQLite writer thread runs them).
const deliveryClaim = namedWrite<ClaimOp, NotificationRow[]>("delivery-claim", async (trx, ops) => {
  const out: NotificationRow[][] = [];
  for (const op of ops) {
    const ids = (
      await claimable(trx("notifications"), op)
        .orderBy([{ column: "next_attempt_at" }, { column: "id" }])
        .limit(op.limit)
        .select("id")
    ).map((r: Pick<NotificationRow, "id">) => r.id);
    if (ids.length === 0) {
      out.push([]);
      continue;
    }
    // The same conditions again in the UPDATE: a concurrent claimer's rows (PostgreSQL re-checks them after the row
    // lock) are left alone.
    await claimable(trx("notifications").whereIn("id", ids), op).update({
      claimed_by: op.worker,
      claimed_until: op.until,
      attempts: trx.raw("attempts + 1"),
      updated_at: op.now,
    });
    out.push(await trx<NotificationRow>("notifications").whereIn("id", ids).where({ claimed_by: op.worker }).select());
  }
  return out;
});

const deliveryRecord = namedWrite<RecordOp, boolean>("delivery-record", async (trx, ops, audit) => {
  const out: boolean[] = [];
  for (const { n, worker, outcome, auditId, wipedBody } of ops) {
    const at = outcome.at.getTime();
    const patch: Record<string, unknown> =
      outcome.kind === "delivered"
        ? { state: "delivered", sent_at: at, last_error: null, ...(n.secret ? { body: wipedBody } : {}) }
        : outcome.kind === "retry"
          ? { state: "retrying", next_attempt_at: outcome.nextAttemptAt.getTime(), last_error: outcome.error }
          : { state: "dead", last_error: outcome.error };
    const changed = await trx("notifications")
      .where({ id: n.id, claimed_by: worker })
      .whereIn("state", OPEN_STATES)
      .update({ ...patch, claimed_by: null, claimed_until: null, updated_at: at });
    out.push(changed === 1);
    if (changed !== 1) continue;
    const organisationId = await organisationOf(trx, n.personId);
    audit({
      id: auditId,
      at: outcome.at,
      actor: "system:delivery",
      action: `notification.${outcome.kind === "retry" ? "attempt-failed" : outcome.kind}`,
      objectType: "notification",
      objectId: n.id,
      outcome: outcome.kind === "delivered" ? "success" : "failure",
      ...(organisationId ? { organisationId } : {}),
      details: {
        channel: n.channel,
        kind: n.kind,
        person: n.personId,
        attempt: n.attempts,
        ...(outcome.kind !== "delivered" ? { error: outcome.error } : {}),
        ...(outcome.kind === "retry" ? { nextAttemptAt: outcome.nextAttemptAt.toISOString() } : {}),
        ...(outcome.kind === "delivered" && n.secret ? { secretRemoved: true } : {}),
      },
    } satisfies AuditEvent);
  }
  return out;
});

const deliveryRetry = namedWrite<RetryOp, boolean>("delivery-retry", async (trx, ops, audit) => {
  const out: boolean[] = [];
  for (const op of ops) {
    const row = await trx("notifications as n")
      .leftJoin("people as p", "p.id", "n.person_id")
      .where("n.id", op.id)
      .first("n.state", "n.channel", "n.kind", "n.attempts", "n.person_id", "p.organisation_id");
    if (
      !row ||
      row.state !== "dead" ||
      (op.organisationId !== undefined && row.organisation_id !== op.organisationId)
    ) {
      out.push(false);
      continue;
    }
    await trx("notifications").where({ id: op.id, state: "dead" }).update({
      state: "pending",
      attempts: 0,
      next_attempt_at: op.at,
      last_error: null,
      claimed_by: null,
      claimed_until: null,
      updated_at: op.at,
    });
    audit({
      id: op.auditId,
      at: new Date(op.at),
      actor: op.actor,
      action: "notification.retry",
      objectType: "notification",
      objectId: op.id,
      outcome: "success",
      ...(row.organisation_id ? { organisationId: row.organisation_id } : {}),
      details: { channel: row.channel, kind: row.kind, person: row.person_id, attemptsBefore: Number(row.attempts) },
    });
    out.push(true);
  }
  return out;
});

/**
 * The outbox as the delivery worker's queue (REQ-15): claims are compare-and-set updates (a row
 * is claimed only while it is open, due and not under a live claim), outcomes are written only
 * by the claim's holder, each with its audit event in the same transaction (REQ-27). Bodies are
 * sealed at rest (REQ-29); a delivered secret's body is replaced by a sealed marker.
 */
export class KnexDeliveryStore implements DeliveryQueue {
  private readonly queue: CommitQueue;

  /** `db` writes (the commit queue), `reader` lists; `cipher` opens subjects and bodies for sending. */
  constructor(
    db: Knex,
    private readonly reader: Knex,
    private readonly cipher: FieldCipher,
  ) {
    this.queue = commitQueueOf(db);
  }

  async claim(o: Parameters<DeliveryQueue["claim"]>[0]): Promise<ClaimedNotification[]> {
    if (o.channels.length === 0) return [];
    const rows = await this.queue.run(deliveryClaim, {
      now: o.now.getTime(),
      until: o.now.getTime() + o.leaseMs,
      channels: o.channels,
      limit: o.limit,
      worker: o.worker,
    });
    await this.cipher.ready(...rows.flatMap((r) => [r.subject, r.body]));
    return rows.map((r) => ({
      id: r.id,
      personId: r.person_id,
      channel: r.channel as DeliveryChannelName,
      kind: r.kind as NotificationKind,
      secret: !!r.secret,
      subject: this.cipher.open(r.subject, { table: "notifications", column: "subject", id: r.id }),
      body: this.cipher.open(r.body, { table: "notifications", column: "body", id: r.id }),
      createdAt: new Date(Number(r.created_at)),
      attempts: Number(r.attempts),
    }));
  }

  async record(n: ClaimedNotification, worker: string, outcome: DeliveryOutcome, auditId: string): Promise<boolean> {
    // REQ-15: a delivered token, code or PIN does not stay in the outbox; the marker is sealed like any body (REQ-29).
    const wipedBody = this.cipher.seal(WIPED_BODY, { table: "notifications", column: "body", id: n.id });
    return this.queue.run(deliveryRecord, { n, worker, outcome, auditId, wipedBody });
  }

  /** Dead letters, newest first, of one organisation (by the recipient's binding) or all. */
  async deadLetters(organisationId: string | undefined, limit = 200): Promise<DeadLetter[]> {
    let q = this.reader<NotificationRow & Pick<PersonRow, "organisation_id">>("notifications as n")
      .leftJoin("people as p", "p.id", "n.person_id")
      .where("n.state", "dead");
    if (organisationId !== undefined) q = q.where("p.organisation_id", organisationId);
    const rows = await q
      .orderBy([
        { column: "n.created_at", order: "desc" },
        { column: "n.id", order: "desc" },
      ])
      .limit(limit)
      .select(
        "n.id",
        "n.person_id",
        "n.channel",
        "n.kind",
        "n.secret",
        "n.attempts",
        "n.last_error",
        "n.created_at",
        "n.updated_at",
        "p.organisation_id",
      );
    return rows.map((r: DeadLetterColumns) => ({
      id: r.id,
      personId: r.person_id,
      ...(r.organisation_id ? { organisationId: r.organisation_id } : {}),
      channel: r.channel,
      kind: r.kind as NotificationKind,
      secret: !!r.secret,
      attempts: Number(r.attempts),
      ...(r.last_error ? { lastError: r.last_error } : {}),
      createdAt: new Date(Number(r.created_at)),
      ...(r.updated_at != null ? { deadAt: new Date(Number(r.updated_at)) } : {}),
    }));
  }

  /**
   * A dead letter back to pending (attempts from zero), audited; false when there is no such dead letter (in that
   * organisation).
   */
  retry(id: string, organisationId: string | undefined, actor: string, at: Date, auditId: string): Promise<boolean> {
    return this.queue.run(deliveryRetry, {
      id,
      ...(organisationId !== undefined ? { organisationId } : {}),
      actor,
      at: at.getTime(),
      auditId,
    });
  }

  /** Notifications by state and channel (for /metrics). */
  async counts(): Promise<{ state: DeliveryState; channel: string; count: number }[]> {
    const rows = await this.reader<NotificationRow>("notifications")
      .groupBy("state", "channel")
      .select("state", "channel")
      .count({ n: "*" });
    return rows.map((r) => ({ state: r.state as DeliveryState, channel: r.channel, count: Number(r.n) }));
  }
}

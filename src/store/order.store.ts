import type { Knex } from "knex";
import type { AuditEvent } from "../ca/ports.js";
import type { NewOrder, Notification, OrderActor, OrderChange, OrderStore, OrderView } from "../ra/order.js";
import type { RegisteredName } from "../ra/ports.js";
import type { OrderState } from "../policy/workflow.js";
import { INSERT_CHUNK, insertChunked, isPostgres } from "./database.js";
import { commitQueueOf, namedWrite, type AuditSink, type CommitQueue } from "./commit-queue.js";
import type { FieldCipher } from "./field-cipher.js";
import { outboxRow } from "./outbox.store.js";
import type { OrderActorRow, OrderIdentificationRow, OrderRow } from "./rows.js";

/** The identification columns the order load aggregates, in the order the view reads them. */
const IDENTIFICATION_COLUMNS =
  "i.seq, i.officer_id, i.human_id, i.kind, i.at, i.document_type, i.document_number_hash, i.document_expires, " +
  "i.face_compared";

/** An orders row with its applicant's human id (joined from people). */
type OrderWithApplicant = OrderRow & { readonly applicant_human_id?: string | null };
/** What an order's view reads of its identifications and actors (the load query aggregates only these). */
type IdentificationColumns = Omit<OrderIdentificationRow, "seq" | "order_id">;
type ActorColumns = Omit<OrderActorRow, "seq" | "order_id">;

const date = (v: unknown) => (v == null ? undefined : new Date(Number(v)));
const opt = <K extends string, V>(k: K, v: V | null | undefined) => (v == null ? {} : ({ [k]: v } as { [P in K]: V }));

/** REQ-07, REQ-29: where an order's registered name is sealed (its row). */
const registeredNamePlace = (id: string) => ({ table: "orders", column: "registered_name", id });

function orderRow(o: NewOrder, cipher: FieldCipher): Record<string, unknown> {
  return {
    id: o.id,
    organisation_id: o.organisationId,
    applicant_id: o.applicantId,
    workflow_id: o.workflowId,
    workflow_version: o.workflowVersion,
    state: "REQUESTED",
    version: 0,
    purpose: o.purpose,
    profile_id: o.profileId,
    renewal_of: o.renewalOf ?? null,
    register_ok: o.register.ok,
    register_at: o.at.getTime(),
    register_status: o.register.status,
    register_source: o.register.source,
    applicant_token_hash: o.applicantTokenHash,
    created_at: o.at.getTime(),
    updated_at: o.at.getTime(),
    state_since: o.at.getTime(),
    registered_name: cipher.seal(JSON.stringify(o.registeredName), registeredNamePlace(o.id)),
  };
}

/** REQ-10: who took a step, by human. */
function actorRow(orderId: string, a: OrderActor): Record<string, unknown> {
  return { order_id: orderId, action: a.action, person_id: a.personId, human_id: a.humanId, at: a.at.getTime() };
}

function identificationRow(orderId: string, i: NonNullable<OrderChange["identification"]>): Record<string, unknown> {
  return {
    order_id: orderId,
    officer_id: i.officerId,
    human_id: i.humanId ?? null,
    kind: i.kind,
    at: i.at.getTime(),
    document_type: i.document.type,
    document_number_hash: i.document.numberHash,
    document_expires: i.document.expires.getTime(),
    face_compared: i.faceCompared,
  };
}

/**
 * One UPDATE for many orders (distinct ids): each row moves only if still at its expected version;
 * every column is a CASE over the ids that set it. Returns the ids that moved.
 */
async function compareAndSet(trx: Knex.Transaction, cs: readonly OrderChange[]): Promise<Set<string>> {
  if (cs.length === 0) return new Set();
  const patch: Record<string, Knex.Raw> = {};
  const column = (name: string, value: (c: OrderChange) => unknown) => {
    const set = cs.filter((c) => value(c) !== undefined);
    if (set.length === 0) return;
    patch[name] = trx.raw(`CASE ?? ${set.map(() => "WHEN ? THEN ?").join(" ")} ELSE ?? END`, [
      "id",
      ...set.flatMap((c) => [c.orderId, value(c)]),
      name,
    ] as Knex.RawBinding[]);
  };
  column("state", (c) => c.to);
  column("version", (c) => c.expectedVersion + 1);
  column("updated_at", (c) => c.at.getTime());
  column("terms_version", (c) => c.termsVersion);
  column("handed_out_at", (c) => c.handedOutAt?.getTime());
  column("cert_serial", (c) => c.certSerial);
  column("activation_code_hash", (c) => c.activationCodeHash);
  column("activated_at", (c) => c.activatedAt?.getTime());
  column("state_since", (c) => c.stateSince?.getTime());
  column("approved_at", (c) => c.approvedAt?.getTime());
  const rows: { id: string }[] = await trx("orders")
    .where((q) => {
      for (const c of cs) q.orWhere((w) => w.where("id", c.orderId).andWhere("version", c.expectedVersion));
    })
    .update(patch, ["id"]);
  return new Set(rows.map((r) => r.id));
}

/**
 * REQ-16: marks the challenges these winning changes used (one UPDATE per chunk; a challenge already used stays as it
 * was).
 */
async function useActivationChallenges(trx: Knex.Transaction, cs: readonly OrderChange[]): Promise<void> {
  for (let i = 0; i < cs.length; i += INSERT_CHUNK) {
    const chunk = cs.slice(i, i + INSERT_CHUNK);
    await trx("activation_challenges")
      .whereNull("used_at")
      .where((q) => {
        for (const c of chunk) q.orWhere((w) => w.where({ order_id: c.orderId, challenge: c.usesActivationChallenge }));
      })
      .update({
        used_at: trx.raw(`CASE ?? ${chunk.map(() => "WHEN ? THEN ?").join(" ")} ELSE ?? END`, [
          "order_id",
          ...chunk.flatMap((c) => [c.orderId, c.at.getTime()]),
          "used_at",
        ] as Knex.RawBinding[]),
      });
  }
}

/**
 * Good or on hold: a suspended card is still to be revoked when its order expires or its holder is unbound (RFC 5280
 * 5.3.1).
 */
const notRevokedForGood = (q: Knex.QueryBuilder) =>
  q.whereNull("c.revoked_at").orWhere("c.revocation_reason", "certificateHold");

/**
 * `outbox`: the op's messages as rows, sealed before the op joins the queue (REQ-29), not while the batch holds the
 * writer.
 */
export type OrderOp =
  | {
      readonly kind: "change";
      readonly change: OrderChange;
      readonly audit: AuditEvent;
      readonly outbox: readonly Record<string, unknown>[];
    }
  | {
      readonly kind: "create";
      readonly row: Record<string, unknown>;
      readonly actor?: Record<string, unknown>;
      readonly audit: AuditEvent;
      readonly outbox: readonly Record<string, unknown>[];
    };

export async function writeOrderBatch(
  trx: Knex.Transaction,
  ops: readonly OrderOp[],
  audit: AuditSink,
): Promise<boolean[]> {
  const done = ops.map((o) => o.kind === "create");
  // The first change of each order goes into the shared compare-and-set; a second change of
  // the same order in the batch runs after it on its own, as it would have in sequence.
  const first = new Map<string, number>();
  const later: number[] = [];
  ops.forEach((o, i) => {
    if (o.kind !== "change") return;
    if (first.has(o.change.orderId)) later.push(i);
    else first.set(o.change.orderId, i);
  });
  await insertChunked(
    trx,
    "orders",
    ops.flatMap((o) => (o.kind === "create" ? [o.row] : [])),
  );
  const won = await compareAndSet(
    trx,
    [...first.values()].map((i) => (ops[i] as Extract<OrderOp, { kind: "change" }>).change),
  );
  for (const i of first.values()) done[i] = won.has((ops[i] as Extract<OrderOp, { kind: "change" }>).change.orderId);
  for (const i of later)
    done[i] = (await compareAndSet(trx, [(ops[i] as Extract<OrderOp, { kind: "change" }>).change])).size === 1;

  const winners = ops.filter((_, i) => done[i]);
  const changes = winners.flatMap((o) => (o.kind === "change" ? [o.change] : []));
  await insertChunked(
    trx,
    "order_identifications",
    changes.flatMap((c) => (c.identification ? [identificationRow(c.orderId, c.identification)] : [])),
  );
  // REQ-10: who took each step, the creations' requesters first, then the changes' actors, in op order (one insert).
  await insertChunked(trx, "order_actors", [
    ...ops.flatMap((o) => (o.kind === "create" && o.actor ? [o.actor] : [])),
    ...changes.flatMap((c) => (c.actor ? [actorRow(c.orderId, c.actor)] : [])),
  ]);
  await insertChunked(
    trx,
    "officer_credentials",
    changes.flatMap((c) =>
      c.officerCredential
        ? [{ serial: c.officerCredential.serial, person_id: c.officerCredential.personId, created_at: c.at.getTime() }]
        : [],
    ),
  );
  // REQ-16: the activation challenge is used up by the transition that won with it (single use: the compare-and-set
  // decides).
  await useActivationChallenges(
    trx,
    changes.filter((c) => c.usesActivationChallenge),
  );
  await insertChunked(
    trx,
    "notifications",
    winners.flatMap((o) => o.outbox),
  );
  for (const o of winners) audit(o.audit);
  return done;
}

/** Order writes through the commit queue (named: the SQLite writer thread runs them). */
const orderWrite = namedWrite<OrderOp, boolean>("orders", writeOrderBatch);

/**
 * Orders over knex: every change is a compare-and-set on the version, with its audit event in the
 * same transaction (REQ-10, REQ-27). Concurrent creations and changes share a transaction (one
 * commit for many): one UPDATE sets every order of the batch that is still at its expected
 * version and returns which ones, then a few multi-row inserts write what the winners bring.
 */
export class KnexOrderStore implements OrderStore {
  private readonly queue: CommitQueue;

  /**
   * `reader` may be a separate read pool (SQLite WAL readers do not wait for the writer's commits).
   * `cipher` seals the outbox messages (terms tokens, activation codes) at rest (REQ-29).
   */
  constructor(
    private readonly db: Knex,
    private readonly reader: Knex,
    private readonly cipher: FieldCipher,
  ) {
    this.queue = commitQueueOf(db);
  }

  private view(
    o: OrderWithApplicant,
    ids: readonly IdentificationColumns[],
    actors: readonly ActorColumns[],
  ): OrderView & { version: number; workflowId: string } {
    return {
      id: o.id,
      organisationId: o.organisation_id,
      applicantPersonId: o.applicant_id,
      state: o.state as OrderState,
      version: Number(o.version),
      ...opt("applicantHumanId", o.applicant_human_id as string | null),
      actors: actors.map((a): OrderActor => ({
        action: a.action,
        personId: a.person_id,
        humanId: a.human_id,
        at: new Date(Number(a.at)),
      })),
      workflowId: o.workflow_id,
      purpose: o.purpose as OrderView["purpose"],
      profileId: o.profile_id as string,
      identifications: ids.map((i) => ({
        officerId: i.officer_id,
        ...opt("humanId", i.human_id as string | null),
        at: new Date(Number(i.at)),
        faceCompared: !!i.face_compared,
        ...(i.kind === "eid" ? { byEid: true } : {}),
        document: {
          type: i.document_type,
          numberHash: i.document_number_hash,
          expires: new Date(Number(i.document_expires)),
        },
      })),
      ...opt("termsVersion", o.terms_version as string | null),
      ...(o.register_ok != null ? { registerCheck: { ok: !!o.register_ok, at: new Date(Number(o.register_at)) } } : {}),
      ...opt("handedOutAt", date(o.handed_out_at)),
      ...opt("approvedAt", date(o.approved_at)),
      ...opt("certSerial", o.cert_serial as string | null),
      ...opt("renewalOf", o.renewal_of as string | null),
      ...opt("applicantTokenHash", o.applicant_token_hash as string | null),
      ...opt("activationCodeHash", o.activation_code_hash as string | null),
      ...opt("stateSince", date(o.state_since)),
    };
  }

  /** The order-load statement per key column, built by knex once (its SQL text is the same for every order). */
  private readonly loadSql: Partial<Record<"o.id" | "o.cert_serial", string>> = {};

  private loadQuery(col: "o.id" | "o.cert_serial"): string {
    const pg = isPostgres(this.reader);
    const list = (cols: string) =>
      pg ? `coalesce(json_agg(json_build_array(${cols})), '[]'::json)` : `json_group_array(json_array(${cols}))`;
    const q = this.reader("orders as o")
      .leftJoin("people as ap", "ap.id", "o.applicant_id")
      .where(col, "?")
      .first(
        "o.*",
        "ap.human_id as applicant_human_id",
        this.reader.raw(
          `(select ${list(IDENTIFICATION_COLUMNS)} ` +
            `from order_identifications i where i.order_id = o.id and i.kind in ` +
            `('identify', 'eid')) as ids_json`,
        ),
        this.reader.raw(
          `(select ${list("a.seq, a.action, a.person_id, a.human_id, a.at")} from ` +
            `order_actors a where a.order_id = o.id) as actors_json`,
        ),
      )
      .toSQL();
    // The one binding is the key value (a placeholder here); LIMIT 1 is written as a literal.
    if (q.bindings.length !== 2 || q.bindings[0] !== "?" || q.bindings[1] !== 1)
      throw new Error("order load: bindings");
    return q.sql.replace(/ limit \?$/i, " limit 1");
  }

  /**
   * One query: the order row with its applicant's human, its identifications (identify and eid
   * kinds) and its recorded actors (REQ-10), each list aggregated into one JSON column (ordered by
   * seq here), so an action reads its order and separation matrix in one statement.
   */
  private async loadWhere(
    where: { id: string } | { cert_serial: string },
  ): Promise<(OrderView & { version: number; workflowId: string }) | undefined> {
    const [col, value] =
      "id" in where ? (["o.id", where.id] as const) : (["o.cert_serial", where.cert_serial] as const);
    const sql = (this.loadSql[col] ??= this.loadQuery(col));
    const result = await this.reader.raw(sql, [value]);
    const row = (Array.isArray(result) ? result[0] : result.rows[0]) as
      (OrderWithApplicant & { readonly ids_json: unknown; readonly actors_json: unknown }) | undefined;
    if (!row) return undefined;
    const parsed = (v: unknown): unknown[][] =>
      ((typeof v === "string" ? JSON.parse(v) : (v ?? [])) as unknown[][]).sort((x, y) => Number(x[0]) - Number(y[0]));
    const ids = parsed(row.ids_json).map(
      ([, officer_id, human_id, kind, at, document_type, document_number_hash, document_expires, face_compared]) => ({
        officer_id,
        human_id,
        kind,
        at,
        document_type,
        document_number_hash,
        document_expires,
        face_compared,
      }),
    );
    const actors = parsed(row.actors_json).map(([, action, person_id, human_id, at]) => ({
      action,
      person_id,
      human_id,
      at,
    }));
    return this.view(row, ids as IdentificationColumns[], actors as ActorColumns[]);
  }

  async listOpen(
    organisationId: string | undefined,
    limit: number,
  ): Promise<(OrderView & { version: number; workflowId: string })[]> {
    let q = this.reader("orders as o")
      .leftJoin("people as ap", "ap.id", "o.applicant_id")
      .whereNotIn("o.state", ["ACTIVE", "REJECTED", "CANCELLED", "EXPIRED"]);
    if (organisationId) q = q.andWhere("o.organisation_id", organisationId);
    const rows = await q
      .orderBy("o.updated_at", "desc")
      .limit(limit)
      .select("o.*", "ap.human_id as applicant_human_id");
    if (rows.length === 0) return [];
    const orderIds = rows.map((r: OrderWithApplicant) => r.id);
    const ids = await this.reader("order_identifications")
      .whereIn("order_id", orderIds)
      .whereIn("kind", ["identify", "eid"])
      .orderBy("seq");
    const actors = await this.reader("order_actors").whereIn("order_id", orderIds).orderBy("seq");
    return rows.map((o: OrderWithApplicant) =>
      this.view(
        o,
        ids.filter((i) => i.order_id === o.id),
        actors.filter((a) => a.order_id === o.id),
      ),
    );
  }

  /** The orders of one applicant (their cards and orders in progress), newest first: the holder pages' "my cards". */
  async ofApplicant(personId: string, limit: number): Promise<(OrderView & { version: number; workflowId: string })[]> {
    const rows = await this.reader("orders as o")
      .leftJoin("people as ap", "ap.id", "o.applicant_id")
      .where("o.applicant_id", personId)
      .orderBy("o.created_at", "desc")
      .limit(limit)
      .select("o.*", "ap.human_id as applicant_human_id");
    if (rows.length === 0) return [];
    const orderIds = rows.map((r: OrderWithApplicant) => r.id);
    const ids = await this.reader("order_identifications")
      .whereIn("order_id", orderIds)
      .whereIn("kind", ["identify", "eid"])
      .orderBy("seq");
    const actors = await this.reader("order_actors").whereIn("order_id", orderIds).orderBy("seq");
    return rows.map((o: OrderWithApplicant) =>
      this.view(
        o,
        ids.filter((i) => i.order_id === o.id),
        actors.filter((a) => a.order_id === o.id),
      ),
    );
  }

  load(orderId: string): Promise<(OrderView & { version: number; workflowId: string }) | undefined> {
    return this.loadWhere({ id: orderId });
  }

  async registeredName(orderId: string): Promise<RegisteredName | undefined> {
    const r = await this.reader("orders").where({ id: orderId }).first("registered_name");
    if (r?.registered_name == null) return undefined;
    await this.cipher.ready(r.registered_name);
    return JSON.parse(this.cipher.open(r.registered_name, registeredNamePlace(orderId))) as RegisteredName;
  }

  byCertificate(serial: string): Promise<(OrderView & { workflowId: string }) | undefined> {
    return this.loadWhere({ cert_serial: serial });
  }

  apply(change: OrderChange, audit: AuditEvent): Promise<boolean> {
    return this.queue.run(orderWrite, {
      kind: "change",
      change,
      audit,
      outbox: (change.notifications ?? []).map((n) => outboxRow(n, this.cipher)),
    });
  }

  async create(order: NewOrder, audit: AuditEvent, notification: Notification): Promise<void> {
    // The row (with the registered name) is sealed before the op joins the queue, as the outbox is.
    await this.queue.run(orderWrite, {
      kind: "create",
      row: orderRow(order, this.cipher),
      ...(order.requestedBy ? { actor: actorRow(order.id, order.requestedBy) } : {}),
      audit,
      outbox: [outboxRow(notification, this.cipher)],
    });
  }

  /** A change as an op for a caller's transaction (the production saga's linked writes); messages sealed now. */
  changeOp(change: OrderChange, audit: AuditEvent): OrderOp {
    return {
      kind: "change",
      change,
      audit,
      outbox: (change.notifications ?? []).map((n) => outboxRow(n, this.cipher)),
    };
  }

  /** Writes ops inside the caller's transaction: compare-and-set per order; true per op that won. */
  writeIn(trx: Knex.Transaction, ops: readonly OrderOp[], audit: AuditSink): Promise<boolean[]> {
    return writeOrderBatch(trx, ops, audit);
  }

  async handedOutBefore(workflowId: string, before: Date, limit: number): Promise<string[]> {
    const rows = await this.reader("orders")
      .where({ state: "HANDED_OUT", workflow_id: workflowId })
      .andWhere("handed_out_at", "<", before.getTime())
      .orderBy("handed_out_at")
      .limit(limit)
      .select("id");
    return rows.map((r) => r.id);
  }

  async inStateSince(state: OrderState, before: Date, limit: number, workflowId?: string): Promise<string[]> {
    // PRODUCING keeps the IN_PRODUCTION deadline in state_since; how long it has been producing is updated_at.
    const col = state === "PRODUCING" ? "updated_at" : "state_since";
    let q = this.db("orders").where({ state }).andWhere(col, "<", before.getTime());
    if (workflowId) q = q.andWhere({ workflow_id: workflowId });
    const rows = await q.orderBy(col).limit(limit).select("id");
    return rows.map((r) => r.id);
  }

  async orphanCertificates(
    profiles: readonly string[],
    window: { createdAfter?: Date; createdBefore: Date },
    limit: number,
  ): Promise<{ serial: string; orderId?: string; orderState?: OrderState; workflowId?: string }[]> {
    let q = this.db("certificates as c")
      .leftJoin("orders as o", "o.cert_serial", "c.serial")
      .where("c.status", "issued")
      .whereIn("c.profile_id", [...profiles])
      .where(notRevokedForGood)
      .andWhere("c.created_at", "<", window.createdBefore.getTime())
      .whereNotExists((k) =>
        k.select(this.db.raw("1")).from("officer_credentials as k").whereRaw("k.serial = c.serial"),
      )
      .where((w) => w.whereNull("o.id").orWhereNotIn("o.state", ["PRODUCING", "PRODUCED", "HANDED_OUT", "ACTIVE"]));
    if (window.createdAfter) q = q.andWhere("c.created_at", ">=", window.createdAfter.getTime());
    const rows = await q.limit(limit).select("c.serial", "o.id", "o.state", "o.workflow_id");
    // A certificate without an order has a null id (left join); with one, its state and workflow are set.
    return rows.map((r: { serial: string; id: string | null; state: OrderState; workflow_id: string }) => ({
      serial: r.serial,
      ...(r.id ? { orderId: r.id, orderState: r.state, workflowId: r.workflow_id } : {}),
    }));
  }

  async expiredWithLiveCertificate(limit: number): Promise<{ orderId: string; serial: string; workflowId: string }[]> {
    const rows = await this.db("orders as o")
      .join("certificates as c", "c.serial", "o.cert_serial")
      .where("o.state", "EXPIRED")
      .where(notRevokedForGood)
      .limit(limit)
      .select("o.id", "o.cert_serial", "o.workflow_id");
    return rows.map((r: Pick<OrderRow, "id" | "cert_serial" | "workflow_id">) => ({
      orderId: r.id,
      serial: r.cert_serial!,
      workflowId: r.workflow_id,
    }));
  }

  async liveCertificatesOf(personId: string): Promise<string[]> {
    const cards = await this.db("orders as o")
      .join("certificates as c", "c.serial", "o.cert_serial")
      .where("o.applicant_id", personId)
      .where(notRevokedForGood)
      .select("c.serial");
    const officer = await this.db("officer_credentials as k")
      .join("certificates as c", "c.serial", "k.serial")
      .where("k.person_id", personId)
      .where(notRevokedForGood)
      .select("c.serial");
    return [...new Set([...cards, ...officer].map((r: { serial: string }) => r.serial))];
  }
}

import type { Knex } from "knex";
import type { Notification } from "../ra/order.js";
import type { FieldCipher } from "./field-cipher.js";
import type { NotificationRow } from "./rows.js";

/** An outbox row with subject and body sealed to their place (REQ-29); order and card stores write through it. */
export function outboxRow(
  n: Omit<Notification, "channel"> & { channel: string },
  cipher: FieldCipher,
): Record<string, unknown> {
  return {
    id: n.id,
    person_id: n.personId,
    channel: n.channel,
    created_at: n.at.getTime(),
    // REQ-15: queued for the delivery worker at once.
    kind: n.kind,
    secret: n.secret,
    state: "pending",
    attempts: 0,
    next_attempt_at: n.at.getTime(),
    subject: cipher.seal(n.subject, { table: "notifications", column: "subject", id: n.id }),
    body: cipher.seal(n.body, { table: "notifications", column: "body", id: n.id }),
  };
}

/**
 * The outbox of messages sent through another channel (REQ-15): terms tokens, activation codes,
 * initial PINs. Subject and body are encrypted at rest (REQ-29) and decrypted here, so messages
 * are found by person and time, never by their text.
 */
export class KnexOutboxStore {
  constructor(
    private readonly db: Knex,
    private readonly cipher: FieldCipher,
  ) {}

  /** Newest first; of one person when given. */
  async recent(opts: { personId?: string; limit?: number } = {}): Promise<Notification[]> {
    let q = this.db<NotificationRow>("notifications");
    if (opts.personId !== undefined) q = q.where({ person_id: opts.personId });
    const rows = await q
      .orderBy([
        { column: "created_at", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .limit(opts.limit ?? 100);
    await this.cipher.ready(...rows.flatMap((r) => [r.subject as string, r.body as string]));
    return rows.map((r) => ({
      id: r.id,
      personId: r.person_id,
      channel: r.channel as Notification["channel"],
      kind: r.kind as Notification["kind"],
      secret: !!r.secret,
      at: new Date(Number(r.created_at)),
      subject: this.cipher.open(r.subject, { table: "notifications", column: "subject", id: r.id }),
      body: this.cipher.open(r.body, { table: "notifications", column: "body", id: r.id }),
    }));
  }
}

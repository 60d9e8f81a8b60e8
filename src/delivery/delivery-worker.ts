import { notificationWords } from "../i18n/notification-words.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { logger } from "../shared/log.js";
import {
  DeliveryFailure,
  type ClaimedNotification,
  type DeliveryChannel,
  type DeliveryChannelName,
  type DeliveryOutcome,
  type DeliveryQueue,
  type Recipients,
} from "./ports.js";

const log = logger("delivery");

export interface DeliveryPolicy {
  /** Attempts before a message is dead (a dead letter an officer may retry). */
  readonly maxAttempts: number;
  /** The wait after the first failed attempt; doubled after each further one, up to `backoffMaxMs`. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** How long a claim holds: a worker that dies mid-send leaves the row to another after this. */
  readonly leaseMs: number;
  /** Rows claimed per round. */
  readonly batch: number;
  /** Messages sent at once within a round. */
  readonly parallel: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  maxAttempts: 8,
  backoffBaseMs: 30_000,
  backoffMaxMs: 3_600_000,
  leaseMs: 120_000,
  batch: 50,
  parallel: 4,
};

const NO_ADDRESS: Record<DeliveryChannelName, string> = {
  email: "the person has no e-mail address on record",
  sms: "the person has no phone number on record",
  mail: "the person has no postal address on record",
};

/** Exponential backoff: base, 2×base, 4×base… capped; `attempts` counts the one that just failed. */
export function backoffMs(policy: Pick<DeliveryPolicy, "backoffBaseMs" | "backoffMaxMs">, attempts: number): number {
  return Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.max(0, Math.min(30, attempts - 1)));
}

/**
 * An error as it may be stored and shown: never the message's secret. Any code-like word of the
 * body (tokens, activation codes, PINs: 6+ capitals or digits) that a peer echoed is masked.
 */
export function scrubError(error: string, body: string): string {
  let out = error.replace(/\s+/g, " ").trim();
  for (const w of new Set(body.match(/[A-Z0-9]{6,}/g) ?? [])) out = out.split(w).join("[…]");
  return out.slice(0, 500);
}

/**
 * Drains the outbox (REQ-15): claims due rows of the configured channels, resolves the recipient
 * from the person record at send time, sends with the notification id as idempotency key, and
 * records delivered / retrying (exponential backoff) / dead. Delivery is at least once: a worker
 * that dies mid-send leaves its claim to run out and the row is sent again under the same key.
 */
export class DeliveryWorker {
  private readonly channels: ReadonlyMap<DeliveryChannelName, DeliveryChannel>;

  constructor(
    private readonly deps: {
      queue: DeliveryQueue;
      recipients: Recipients;
      channels: readonly DeliveryChannel[];
      clock: Clock;
      random: Random;
      policy?: Partial<DeliveryPolicy>;
    },
  ) {
    this.channels = new Map(deps.channels.map((c) => [c.name, c]));
  }

  private get policy(): DeliveryPolicy {
    return { ...DEFAULT_DELIVERY_POLICY, ...this.deps.policy };
  }

  /** The channels this worker delivers on (rows of other channels wait). */
  get channelNames(): DeliveryChannelName[] {
    return [...this.channels.keys()];
  }

  /** One round: claim, send, record. Returns how many rows it handled. */
  async tick(): Promise<{ claimed: number; delivered: number; retrying: number; dead: number }> {
    const stats = { claimed: 0, delivered: 0, retrying: 0, dead: 0 };
    if (this.channels.size === 0) return stats;
    const policy = this.policy;
    const worker = newId(this.deps.random);
    const rows = await this.deps.queue.claim({
      now: this.deps.clock.now(),
      channels: this.channelNames,
      limit: policy.batch,
      leaseMs: policy.leaseMs,
      worker,
    });
    stats.claimed = rows.length;
    let next = 0;
    const run = async () => {
      while (next < rows.length) {
        const row = rows[next++]!;
        const outcome = await this.deliver(row, policy);
        const held = await this.deps.queue.record(row, worker, outcome, newId(this.deps.random));
        if (!held)
          log.warn("claim lost before the outcome was recorded (another worker took the row over)", {
            notification: row.id,
          });
        else if (outcome.kind === "delivered") stats.delivered++;
        else if (outcome.kind === "retry") stats.retrying++;
        else stats.dead++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(policy.parallel, rows.length) }, run));
    return stats;
  }

  private async deliver(row: ClaimedNotification, policy: DeliveryPolicy): Promise<DeliveryOutcome> {
    const channel = this.channels.get(row.channel)!;
    let to;
    try {
      to = await this.deps.recipients.address(row.personId, row.channel);
    } catch (e) {
      return this.failed(row, policy, new Error(`the recipient could not be read: ${(e as Error).message}`));
    }
    if (!to) {
      log.warn("no address: dead letter", { notification: row.id, channel: row.channel, kind: row.kind });
      return { kind: "dead", at: this.deps.clock.now(), error: NO_ADDRESS[row.channel] };
    }
    try {
      // Written in the recipient's language at send time, like their address (locales/<lang>/notifications.json).
      const words = notificationWords(to.language, row, to.organisation ? { organisation: to.organisation } : {});
      await channel.send({
        id: row.id,
        kind: row.kind,
        to,
        subject: words.subject,
        body: words.body,
        createdAt: row.createdAt,
        language: words.language,
      });
    } catch (e) {
      return this.failed(row, policy, e);
    }
    log.info("delivered", { notification: row.id, channel: row.channel, kind: row.kind, attempt: row.attempts });
    return { kind: "delivered", at: this.deps.clock.now() };
  }

  private failed(row: ClaimedNotification, policy: DeliveryPolicy, e: unknown): DeliveryOutcome {
    const at = this.deps.clock.now();
    const permanent = e instanceof DeliveryFailure && e.permanent;
    const error = scrubError(
      `${permanent ? "refused" : "failed"} (attempt ${row.attempts}): ${(e as Error)?.message ?? String(e)}`,
      row.body,
    );
    log.warn("delivery failed", {
      notification: row.id,
      channel: row.channel,
      kind: row.kind,
      attempt: row.attempts,
      permanent,
      error,
    });
    if (permanent || row.attempts >= policy.maxAttempts) return { kind: "dead", at, error };
    return { kind: "retry", at, nextAttemptAt: new Date(at.getTime() + backoffMs(policy, row.attempts)), error };
  }

  async close(): Promise<void> {
    for (const c of this.channels.values()) await c.close?.();
  }
}

import { logger } from "../shared/log.js";
import { KnexBureauStore } from "../store/bureau.store.js";
import { openBureauDesk } from "./bureau.js";
import { loop, type Loop } from "./loop.js";
import type { Observability } from "./observability.js";
import type { Ra } from "./ra.js";
import type { Parts } from "./parts.js";

const log = logger("bureau");

/** The tracking states of a bureau card (CPS 4.4.1), always reported, also at 0. */
const STATES = ["sent", "acknowledged", "produced", "shipped", "received"] as const;

/**
 * The RA's card bureau tracking in `serve` (ra role, `all`): the not-received sweep on `bureau.sweepSeconds`, and on
 * /metrics the not-received alarms counted from the audit trail (survives restarts, the same on every replica) and
 * the bureau cards per tracking state.
 */
export function bureauTracking(
  rt: Parts<"config" | "db" | "readDb" | "clock" | "random" | "keystore">,
  ra: Ra,
  obs: Observability,
  audit: { countActions(prefix: string): Promise<Record<string, number>> },
): { start(): Loop } {
  const desk = openBureauDesk(rt, ra, {
    onAlarm: (c) =>
      log.warn("bureau card not received in time", {
        order: c.orderId,
        batch: c.batchId,
        carrier: c.carrier,
        trackingId: c.trackingId,
      }),
  });
  const cards = new KnexBureauStore(rt.db, rt.readDb);
  obs.metrics.gauge(
    "cardpki_bureau_cards_not_received_total",
    "Bureau cards shipped and not received within the workflow's " +
      "bureau.receivedWithin (audit events bureau.card.not-received)",
    async () => [
      { labels: {}, value: (await audit.countActions("bureau.card.not-received"))["bureau.card.not-received"] ?? 0 },
    ],
    "counter",
  );
  obs.metrics.gauge("cardpki_bureau_cards", "Cards made by the external card bureau, by tracking state", async () => {
    const n = await cards.countByState();
    return STATES.map((state) => ({ labels: { state }, value: n[state] ?? 0 }));
  });
  return {
    start: () => {
      const l = loop("bureau tracking", rt.config.bureau.sweepSeconds * 1000, () => desk.sweep());
      void l.kick();
      return l;
    },
  };
}

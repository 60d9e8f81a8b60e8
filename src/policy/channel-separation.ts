import type { Workflow } from "./workflow.js";

/**
 * REQ-15: the PIN and the activation code reach the holder by another channel than the card.
 * Every hand-out transition (into HANDED_OUT) names how the card travels (`card: in-person | mail`);
 * the workflow's `delivery` names how the terms link, the activation code and the PIN travel.
 * Returns the first conflict, or undefined.
 */
export function channelConflict(w: Pick<Workflow, "transitions" | "delivery">): string | undefined {
  for (const t of w.transitions.filter((x) => x.to === "HANDED_OUT")) {
    if (!t.card) return `'${t.action}' into HANDED_OUT must say how the card travels (card: in-person or mail, REQ-15)`;
    for (const [secret, channel] of [
      ["activation code", w.delivery.activationCode],
      ["PIN", w.delivery.pin],
    ] as const)
      if (channel === t.card)
        return (
          `'${t.action}' sends the card by ${t.card} and the ${secret} by ${channel} ` +
          `too: the ${secret} must travel by another channel than the card (REQ-15)`
        );
  }
  for (const t of w.transitions.filter((x) => x.card !== undefined && x.to !== "HANDED_OUT"))
    return (
      `'${t.action}' names a card channel but does not hand the card out (card: ` +
      `only on transitions into HANDED_OUT)`
    );
  return undefined;
}

import type { Workflow } from "../policy/workflow.js";
import { separated } from "../policy/separation.js";
import type { Actor, OrderView } from "./order.js";

/** The one guard that enforces a workflow's separation matrix (REQ-10); the engine applies it to every officer step. */
export const SEPARATION_GUARD = "separation-of-duties";
export const SEPARATION_CITATION = "REQ-10";

/**
 * Why this officer may not take `action` on this order under the workflow's separation matrix,
 * judged from who took which step so far (the order's recorded actors, by human); undefined when
 * the matrix allows it. An officer whose human is unknown is refused: distinctness cannot be shown.
 */
export function separationRefusal(
  workflow: Workflow,
  order: OrderView,
  actor: Actor,
  action: string,
): { message: string; pair?: readonly [string, string] } | undefined {
  if (actor.kind !== "officer") return undefined;
  if (!actor.humanId)
    return {
      message:
        "the officer's identity as a human (national ID on record) is not known, so " +
        "separation of duties cannot be shown",
    };
  for (const r of order.actors ?? [])
    if (r.humanId === actor.humanId && separated(workflow.separation, action, r.action)) {
      const twice = r.action === action;
      return {
        message: twice
          ? `the same human already took '${action}' on this order; another human must ` +
            `(separation [${action}, ${action}] of ${workflow.id})`
          : `the same human took '${r.action}' on this order, so another human must take ` +
            `'${action}' (separation [${r.action}, ${action}] of ${workflow.id})`,
        pair: [r.action, action],
      };
    }
  return undefined;
}

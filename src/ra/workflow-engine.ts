import { CaError } from "../shared/ca-error.js";
import type { OrderState, Transition, Workflow } from "../policy/workflow.js";
import { GUARDS } from "./guards.js";
import type { ActionInput, Actor, OrderView } from "./order.js";

export interface Decision {
  readonly transition: Transition;
  readonly to: OrderState;
}

/**
 * Decides one action on one order by the workflow's data: the action must leave the current
 * state, the actor must be of the kind and roles it names, and every guard must hold. The guards
 * are enforced here, never by convention (REQ-10).
 */
export function decide(workflow: Workflow, order: OrderView, action: string, actor: Actor, input: ActionInput, now: Date, currentTermsVersion: string): Decision {
  const candidates = workflow.transitions.filter((t) => t.action === action);
  if (candidates.length === 0) throw new CaError("invalid-input", `workflow ${workflow.id} has no action '${action}'`);
  const t = candidates.find((c) => c.from.includes(order.state));
  if (!t) throw new CaError("conflict", `'${action}' is not possible in state ${order.state}`, { state: order.state });
  if (t.by !== actor.kind) throw new CaError("forbidden", `'${action}' is done by the ${t.by}, not by the ${actor.kind}`);
  if (t.roles && !t.roles.some((r) => actor.roles.includes(r as never)))
    throw new CaError("forbidden", `'${action}' needs the role ${t.roles.join(" or ")} (REQ-24)`);
  for (const g of t.guards) {
    const refusal = GUARDS[g].check({ workflow, order, actor, input, now, currentTermsVersion });
    if (refusal !== undefined) throw new CaError("policy-violation", `${refusal} (${g}, ${GUARDS[g].citation})`, { guard: g, requirement: GUARDS[g].citation });
  }
  return { transition: t, to: t.to };
}

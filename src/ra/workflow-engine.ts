import { CaError } from "../shared/ca-error.js";
import type { OrderState, Transition, Workflow } from "../policy/workflow.js";
import { GUARDS } from "./guards.js";
import { SEPARATION_CITATION, SEPARATION_GUARD, separationRefusal } from "./separation-guard.js";
import type { ActionInput, Actor, OrderView } from "./order.js";

export interface Decision {
  readonly transition: Transition;
  readonly to: OrderState;
}

/** The transition `action` takes from `state`, if the workflow has one. */
export function transitionFrom(workflow: Workflow, state: OrderState, action: string): Transition | undefined {
  return workflow.transitions.find((t) => t.action === action && t.from.includes(state));
}

/**
 * Decides one action on one order by the workflow's data: the action must leave the current
 * state, the actor must be of the kind and roles it names, and every guard must hold. The guards
 * are enforced here, never by convention (REQ-10).
 */
export function decide(
  workflow: Workflow,
  order: OrderView,
  action: string,
  actor: Actor,
  input: ActionInput,
  now: Date,
  currentTermsVersion: string,
): Decision {
  if (!workflow.transitions.some((t) => t.action === action))
    throw new CaError("invalid-input", `workflow ${workflow.id} has no action '${action}'`, undefined, {
      code: "order.unknown-action",
      params: { action },
    });
  const t = transitionFrom(workflow, order.state, action);
  // The words say what the order waits for in this state (locales: situation.<state>), never the state's name.
  if (!t)
    throw new CaError(
      "conflict",
      `'${action}' is not possible in state ${order.state}`,
      { state: order.state },
      { code: "order.action-not-in-state", params: { action, state: order.state } },
    );
  if (t.by !== actor.kind)
    throw new CaError("forbidden", `'${action}' is done by the ${t.by}, not by the ${actor.kind}`, undefined, {
      code: "order.action-by-other",
      params: { action, kindOfCaller: t.by },
    });
  if (t.roles && !t.roles.some((r) => actor.roles.includes(r as never)))
    throw new CaError(
      "forbidden",
      `'${action}' needs the role ${t.roles.join(" or ")} (REQ-24)`,
      { requirement: "REQ-24" },
      { code: "order.action-needs-role", params: { action, roles: t.roles } },
    );
  for (const g of t.guards) {
    const refusal = GUARDS[g].check({ workflow, order, actor, input, now, currentTermsVersion });
    if (refusal === undefined) continue;
    const r = typeof refusal === "string" ? { message: refusal } : refusal;
    throw new CaError(
      "policy-violation",
      `${r.message} (${g}, ${GUARDS[g].citation})`,
      { guard: g, rule: g, requirement: GUARDS[g].citation },
      {
        code: `guard.${g}${"variant" in r && r.variant ? `.${r.variant}` : ""}`,
        params: { action, ...("params" in r ? r.params : {}) },
      },
    );
  }
  // REQ-10: the workflow's separation matrix, from the humans recorded on the order.
  const sep = t.by === "officer" ? separationRefusal(workflow, order, actor, action) : undefined;
  if (sep)
    throw new CaError(
      "policy-violation",
      `${sep.message} (${SEPARATION_GUARD}, ${SEPARATION_CITATION})`,
      {
        guard: SEPARATION_GUARD,
        rule: SEPARATION_GUARD,
        requirement: SEPARATION_CITATION,
        ...(sep.pair ? { pair: sep.pair } : {}),
      },
      {
        code: !sep.pair
          ? "separation.unknown-human"
          : sep.pair[0] === sep.pair[1]
            ? "separation.same-step-twice"
            : "separation.other-step",
        params: { action, ...(sep.pair ? { earlierAction: sep.pair[0] } : {}) },
      },
    );
  return { transition: t, to: t.to };
}

/** Guards that judge what the caller brings (a document, a key, a code), not who the caller is. */
const INPUT_GUARDS: ReadonlySet<string> = new Set([
  "document-accepted",
  "document-not-expired",
  "face-compared",
  "second-identification",
  "key-attested",
  "document-not-reported",
  "knowledge-score",
  "activation-code-separate-channel",
  "terms-version-current",
  "applicant-token",
  "activation-code-correct",
]);

/**
 * The actions this officer may take on this order now, judged by every guard that depends on who
 * they are (distinct identifiers, not an identifier at hand-out, qualification, scope...). What the
 * form must still bring is listed per action; the engine checks it again when the action is taken.
 */
export function availableActions(
  workflow: Workflow,
  order: OrderView,
  actor: Actor,
  now: Date,
): { action: string; to: OrderState; needs: string[] }[] {
  const out: { action: string; to: OrderState; needs: string[] }[] = [];
  for (const t of workflow.transitions) {
    if (!t.from.includes(order.state) || t.by !== actor.kind) continue;
    if (t.roles && !t.roles.some((r) => actor.roles.includes(r as never))) continue;
    const blocked =
      t.guards.some(
        (g) =>
          !INPUT_GUARDS.has(g) &&
          GUARDS[g].check({ workflow, order, actor, input: {}, now, currentTermsVersion: "" }) !== undefined,
      ) ||
      (t.by === "officer" && separationRefusal(workflow, order, actor, t.action) !== undefined);
    if (!blocked && !out.some((a) => a.action === t.action))
      out.push({ action: t.action, to: t.to, needs: t.guards.filter((g) => INPUT_GUARDS.has(g)) });
  }
  return out;
}

import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import type { Workflow } from "../policy/workflow.js";
import { decide } from "./workflow-engine.js";
import type { ActionInput, Actor, OrderStore } from "./order.js";

/**
 * Takes one action on one order: load, decide by the workflow's guards, then a compare-and-set
 * write with its audit event. Of concurrent attempts on the same order exactly one succeeds.
 */
export class OrderActions {
  constructor(private readonly deps: { orders: OrderStore; workflows: ReadonlyMap<string, Workflow>; clock: Clock; random: Random; currentTermsVersion: string }) {}

  async act(orderId: string, action: string, actor: Actor, input: ActionInput): Promise<{ state: string; version: number }> {
    const { orders, workflows, clock, random, currentTermsVersion } = this.deps;
    const order = await orders.load(orderId);
    if (!order) throw new CaError("not-found", `no order ${orderId}`);
    const workflow = workflows.get(order.workflowId);
    if (!workflow) throw new CaError("config", `order ${orderId} follows workflow '${order.workflowId}', which is not loaded`);
    const now = clock.now();
    const d = decide(workflow, order, action, actor, input, now, currentTermsVersion);
    const identification = action === "identify" && input.document
      ? { kind: "identify" as const, officerId: actor.personId!, at: now, document: input.document, faceCompared: input.faceCompared === true }
      : d.to === "HANDED_OUT" && input.secondIdentification
        ? { kind: "hand-out" as const, officerId: actor.personId!, at: now, document: input.secondIdentification.document, faceCompared: input.secondIdentification.faceCompared }
        : undefined;
    const ok = await orders.apply({
      orderId, expectedVersion: order.version, to: d.to, at: now,
      ...(action === "accept-terms" ? { termsVersion: input.termsVersion! } : {}),
      ...(d.to === "HANDED_OUT" ? { handedOutAt: now } : {}),
      ...(identification ? { identification } : {}),
    }, {
      id: newId(random), at: now, actor: actor.personId ? `${actor.kind}:${actor.personId}` : actor.kind, action: `order.${action}`,
      objectType: "order", objectId: orderId, outcome: "success",
      details: { from: order.state, to: d.to, workflow: `${workflow.id}@${workflow.version}`, guards: d.transition.guards, documentType: input.document?.type },
    });
    if (!ok) throw new CaError("conflict", `order ${orderId} changed while '${action}' ran; read it again`);
    return { state: d.to, version: order.version + 1 };
  }
}

import type { Clock } from "../shared/clock.js";
import { DEADLINE_STATES, type Workflow } from "../policy/workflow.js";
import type { OrderStore } from "./order.js";
import type { OrderService } from "./order-service.js";
import type { CardCertificates } from "./ports.js";

/**
 * REQ-15: an order that stays in production, produced or handed out past the workflow's deadline
 * for that state expires, and its certificate is revoked in the same transaction (the expire
 * transition's revoke-certificate effect). Older data where the two came apart is repaired here.
 */
export class ExpiryScheduler {
  constructor(
    private readonly deps: {
      orders: OrderStore;
      service: OrderService;
      certs: CardCertificates;
      workflows: ReadonlyMap<string, Workflow>;
      clock: Clock;
      batch?: number;
    },
  ) {}

  async sweep(): Promise<{ expired: string[]; repaired: string[]; failed: string[] }> {
    const { orders, service, certs, workflows, clock } = this.deps;
    const batch = this.deps.batch ?? 500;
    const expired: string[] = [];
    const failed: string[] = [];
    for (const w of workflows.values()) {
      // REQ-15: every state with a deadline in the workflow data (IN_PRODUCTION, PRODUCED, HANDED_OUT).
      const due: string[] = [];
      for (const state of DEADLINE_STATES)
        due.push(
          ...(await orders.inStateSince(state, new Date(clock.now().getTime() - w.deadlineMs[state]), batch, w.id)),
        );
      for (const id of due) {
        try {
          await service.act(id, "expire", { kind: "system", roles: [] }, {});
          expired.push(id);
        } catch {
          failed.push(id); // activated meanwhile (conflict) or the CA was down: the next sweep sees it again
        }
      }
    }
    const repaired: string[] = [];
    for (const r of await orders.expiredWithLiveCertificate(batch)) {
      const w = workflows.get(r.workflowId);
      try {
        await certs.revoke(r.serial, w?.expiryRevocationReason ?? "cessationOfOperation", "system:expiry");
        repaired.push(r.orderId);
      } catch {
        failed.push(r.orderId);
      }
    }
    return { expired, repaired, failed };
  }
}

import type { Clock } from "../shared/clock.js";
import type { Workflow } from "../policy/workflow.js";
import type { OrderStore } from "./order.js";
import type { OrderService } from "./order-service.js";
import type { CardCertificates } from "./ports.js";

const DAY = 86_400_000;

/**
 * REQ-15: a card not activated within the policy deadline is blocked automatically: the order
 * expires and its certificate is revoked. A crash between the two is repaired on the next run.
 */
export class ExpiryScheduler {
  constructor(private readonly deps: { orders: OrderStore; service: OrderService; certs: CardCertificates; workflows: ReadonlyMap<string, Workflow>; clock: Clock; batch?: number }) {}

  async sweep(): Promise<{ expired: string[]; repaired: string[]; failed: string[] }> {
    const { orders, service, certs, workflows, clock } = this.deps;
    const batch = this.deps.batch ?? 500;
    const expired: string[] = [];
    const failed: string[] = [];
    for (const w of workflows.values()) {
      const due = await orders.handedOutBefore(w.id, new Date(clock.now().getTime() - w.activationDeadlineDays * DAY), batch);
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

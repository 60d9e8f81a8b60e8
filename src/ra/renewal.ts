import { CaError } from "../shared/ca-error.js";
import type { OrderStore, OrderView } from "./order.js";
import type { CardCertificates } from "./ports.js";

/**
 * REQ-11, REQ-16: a renewal stands on an eID that became a credential, i.e. whose card order was
 * activated by its holder. A card that was produced or handed out but never activated proves
 * nothing about its holder yet, so no renewal starts from it.
 */
export async function requireActivatedEid(orders: OrderStore, serial: string, personId: string): Promise<OrderView> {
  const base = await orders.byCertificate(serial);
  if (!base || base.applicantPersonId !== personId)
    throw new CaError(
      "policy-violation",
      "a renewal starts only from the holder's own card eID (REQ-11)",
      { requirement: "REQ-11" },
      { code: "renewal.own-card-only" },
    );
  if (base.state !== "ACTIVE")
    throw new CaError(
      "policy-violation",
      `a renewal starts only from an activated eID; the card presented was never ` +
        `activated (order state ${base.state}) (REQ-11, REQ-16)`,
      { requirement: "REQ-11", state: base.state },
      { code: "renewal.never-activated" },
    );
  return base;
}

/**
 * REQ-11: once the new card is activated, the eID the renewal stood on is superseded: revoked with
 * reason superseded (RFC 5280 5.3.1). Revocation is idempotent, so a retry after a crash is safe.
 */
export async function supersedeRenewedEid(certs: CardCertificates, order: OrderView): Promise<void> {
  if (order.renewalOf) await certs.revoke(order.renewalOf, "superseded", `system:renewal:${order.id}`);
}

import { sign, type KeyObject } from "node:crypto";
import type { Actor } from "../../src/ra/order.js";
import type { ActivationDesk } from "../../src/ra/activation.js";
import type { OrderService } from "../../src/ra/order-service.js";

/**
 * REQ-16 at LoA3 in process, with a software key standing in for the card's 9A key (the one
 * place tests do this; the card itself is tested in card-piv and card-personalisation): the
 * station records the transport PIN replacement, the card signs the RA's challenge, the holder activates.
 */
export async function activateWithSoftwareKey(
  ra: { activation: ActivationDesk; orders: OrderService },
  o: { orderId: string; holderId: string; serial: string; loa: number; station: Actor; privateKey: KeyObject },
) {
  const holder: Actor = {
    kind: "holder",
    personId: o.holderId,
    roles: [],
    credentialSerial: o.serial,
    loa: o.loa,
    credentialOnHold: true,
  };
  await ra.activation.recordPinReplacement(o.station, o.orderId, { cardSerial: "software-key" });
  const c = await ra.activation.challenge(holder, o.orderId);
  return ra.orders.act(o.orderId, "activate", holder, {
    challengeSignature: new Uint8Array(sign(c.hash, Buffer.from(c.message), o.privateKey)),
  });
}

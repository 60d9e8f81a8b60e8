import { CaError } from "../shared/ca-error.js";
import { actorId } from "../ra/actor-checks.js";
import type { Actor } from "../ra/order.js";
import type { RaApiDeps } from "./ra.routes.js";
import { raRoute, type Answer, type RaRoute } from "./ra-route.js";
import { EMPTY_BODY } from "./schemas/common.schemas.js";
import { DEAD_LETTERS, DEAD_LETTER_RETRIED } from "./schemas/delivery.schemas.js";

/** The outbox's dead letters as the RA API sees them (wired by composition). */
export interface DeliveryDesk {
  deadLetters(organisationId: string | undefined): Promise<Answer<typeof DEAD_LETTERS>>;
  retry(id: string, organisationId: string | undefined, actor: string): Promise<boolean>;
}

/**
 * An ra-admin sees their organisation's; the service owner's staff all, or one organisation's with ?organisationId=.
 */
function scopeOf(actor: Actor, organisationId: string | undefined): string | undefined {
  if (actor.serviceOwnerStaff) {
    if (organisationId !== undefined && !/^[0-9a-f]{32}$/.test(organisationId))
      throw new CaError("invalid-input", "organisationId is an id (32 hexadecimal digits)", undefined, {
        code: "request.bad-organisation",
      });
    return organisationId;
  }
  if (!actor.organisationId)
    throw new CaError("forbidden", "no organisation", undefined, { code: "scope.no-organisation" });
  return actor.organisationId;
}

function desk(d: RaApiDeps): DeliveryDesk {
  if (!d.delivery)
    throw new CaError("not-found", "delivery is not run by this server", undefined, {
      code: "service.not-here",
      params: { what: "delivery" },
    });
  return d.delivery;
}

/** REQ-15: messages the service gave up on (after the last attempt, or refused by the peer), and trying one again. */
export const DELIVERY_ROUTES: readonly RaRoute[] = [
  raRoute({
    method: "get",
    path: "/delivery/dead-letters",
    response: DEAD_LETTERS,
    summary:
      "Messages to applicants and holders that could not be delivered (REQ-15), of " +
      "my organisation: kind, channel, attempts, last error (never the text)",
    auth: "officer",
    roles: ["ra-admin"],
    handle: async ({ actor, query }, d) => {
      return desk(d).deadLetters(scopeOf(actor, query.organisationId));
    },
  }),
  raRoute({
    method: "post",
    path: "/delivery/dead-letters/:id/retry",
    response: DEAD_LETTER_RETRIED,
    summary: "Try a dead letter again from the first attempt (after the address was corrected or the peer is back)",
    auth: "officer",
    roles: ["ra-admin"],
    body: EMPTY_BODY,
    handle: async ({ actor, params }, d) => {
      if (!(await desk(d).retry(params.id!, scopeOf(actor, undefined), actorId(actor))))
        throw new CaError("not-found", `no dead letter ${params.id} in your scope`, undefined, {
          code: "delivery.dead-letter-not-found",
        });
      return { id: params.id!, state: "pending" as const };
    },
  }),
];

import { Type } from "@sinclair/typebox";
import { ACTOR, Out } from "./common.schemas.js";

/** The portal's and the public CA pages' JSON answers (src/http/portal.routes.ts, src/http/ca.routes.ts). */

/** Sign-in by card (officers' portal, holder pages): the session's CSRF token and who signed in. */
export const PORTAL_SESSION = Out({ csrfToken: Type.String(), idleSeconds: Type.Number(), me: ACTOR });
/** `GET /ca`: the published CA certificates. */
export const CA_LIST = Type.Array(
  Out({
    id: Type.String(),
    subject: Type.String(),
    notAfter: Type.String({ format: "date-time" }),
    certificate: Type.String(),
    chain: Type.String(),
  }),
);

import { Type } from "@sinclair/typebox";
import { DateTime, Out, opt } from "./common.schemas.js";

/** REQ-15: the outbox's dead letters (src/http/delivery.routes.ts): never the message's text. */
export const DEAD_LETTERS = Type.Array(
  Out({
    id: Type.String(),
    personId: Type.String(),
    organisationId: opt(Type.String()),
    channel: Type.String(),
    kind: Type.String(),
    secret: Type.Boolean(),
    attempts: Type.Number(),
    lastError: opt(Type.String()),
    createdAt: DateTime,
    deadAt: opt(DateTime),
  }),
);
export const DEAD_LETTER_RETRIED = Out({ id: Type.String(), state: Type.Literal("pending") });

import type { Static, TSchema } from "@sinclair/typebox";
import type { Actor, Role } from "../ra/order.js";
import type { JsonStream } from "./json-stream.js";
import type { Answer, EMPTY_BODY } from "./schemas/common.schemas.js";

export type { Answer };
import type { RaApiDeps } from "./ra.routes.js";

export type Auth = "officer" | "holder" | "applicant";

/** What a handler sees of the request: the body already validated against the route's schema. */
export interface Ctx<B = Static<typeof EMPTY_BODY>> {
  readonly actor: Actor;
  /** The client's address as the socket saw it (rate limits). */
  readonly ip: string;
  readonly params: Record<string, string>;
  readonly body: B;
  readonly query: Record<string, string | undefined>;
  /** A status other than the route's (202 when a step waits for a second officer). */
  readonly status: (code: number) => void;
}

/**
 * A route of the RA API (under /api/v1). Its body and response are the schemas in
 * src/http/schemas/: the body is validated by them (400 naming the field), the handler's answer
 * must be of the response schema's type (a wrong shape does not compile), and the OpenAPI
 * document shows both.
 */
export interface RaRoute<B extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly method: "get" | "post" | "put" | "delete";
  readonly path: string;
  readonly summary: string;
  readonly auth: Auth;
  /**
   * REQ-24: the caller needs one of these roles; enforced by the route middleware (and named in the OpenAPI document).
   */
  readonly roles?: readonly Role[];
  readonly body?: B;
  /** The answer of the route's status (and of a 202 where the step waits for a second officer). */
  readonly response: R;
  readonly status?: number;
  /** REQ-16: accepts a card certificate still on hold awaiting activation (the holder's activation only). */
  readonly allowHeldCredential?: boolean;
  handle(c: Ctx<Static<B>>, deps: RaApiDeps): Promise<Answer<R> | JsonStream<Answer<R>>>;
}

/** One route of the table, its handler checked against its own body and response schemas. */
export function raRoute<B extends TSchema = typeof EMPTY_BODY, R extends TSchema = TSchema>(r: RaRoute<B, R>): RaRoute {
  return r as unknown as RaRoute;
}

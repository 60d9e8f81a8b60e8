import express, { Router, type Request, type Response } from "express";
import { CaError } from "../shared/ca-error.js";
import type { ApplicantAccess, ApplicantSession } from "../ra/applicant-access.js";
import type { Actor } from "../ra/order.js";
import { negotiateLanguage } from "../i18n/languages.js";
import { cookieOf } from "./portal.routes.js";
import { requireJson, validateBody } from "./validation.js";
import { EMPTY_BODY, NO_CONTENT, type Answer, type Static, type TSchema } from "./schemas/common.schemas.js";
import { ACCEPT_TERMS, APPLICANT_SESSION, OPEN_SESSION, PROGRESS, TERMS } from "./schemas/applicant.schemas.js";

/** The applicant session cookie: sent only to the applicant's API routes. */
export const APPLICANT_COOKIE = "cardpki_applicant";
const COOKIE_PATH = "/api/v1/applicant";
const APPLICANT: Actor = { kind: "applicant", roles: [] };

interface ApplicantCtx<B = unknown> {
  readonly session: ApplicantSession | undefined;
  readonly body: B;
  readonly ip: string;
  readonly res: Response;
  /** The language the request asked for (Accept-Language). */
  readonly lang: string;
}

/** A route of the applicant pages' API (under /api/v1): no client certificate; the link's session is the credential. */
export interface ApplicantRoute<B extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly method: "get" | "post" | "delete";
  readonly path: string;
  readonly summary: string;
  readonly auth: "applicant";
  /** Needs the applicant session (cookie); state changes also its CSRF token (X-CSRF-Token). */
  readonly session: boolean;
  readonly body?: B;
  /** The answer (src/http/schemas/applicant.schemas.ts); NO_CONTENT for a 204. */
  readonly response: R;
  readonly status?: number;
  handle(c: ApplicantCtx<Static<B>>, access: ApplicantAccess): Promise<Answer<R>>;
}

/** One route of the table, its handler checked against its own body and response schemas. */
const applicantRoute = <B extends TSchema = typeof EMPTY_BODY, R extends TSchema = TSchema>(
  r: ApplicantRoute<B, R>,
): ApplicantRoute => r as unknown as ApplicantRoute;

/** The applicant pages' API: one table drives the routes and their OpenAPI entries. */
export const APPLICANT_ROUTES: readonly ApplicantRoute[] = [
  applicantRoute({
    method: "post",
    path: "/applicant/session",
    summary:
      "Open the link sent to the applicant: its single-use token (REQ-06) becomes " +
      "a short session bound to the order (cookie); a used, expired or foreign " +
      "token is refused; rate-limited per order and address (REQ-18)",
    auth: "applicant",
    session: false,
    status: 201,
    body: OPEN_SESSION,
    response: APPLICANT_SESSION,
    handle: async ({ body, ip, res }, a) => {
      const s = await a.exchange(body.orderId, body.token, ip);
      res.cookie(APPLICANT_COOKIE, s.id, {
        httpOnly: true,
        secure: true,
        sameSite: "strict",
        path: COOKIE_PATH,
        maxAge: a.sessionSeconds * 1000,
      });
      return { csrfToken: s.csrf, expiresAt: s.expiresAt, progress: s.progress };
    },
  }),
  applicantRoute({
    method: "delete",
    path: "/applicant/session",
    summary: "End the applicant session",
    auth: "applicant",
    session: false,
    status: 204,
    response: NO_CONTENT,
    handle: async ({ res }, _a) => {
      res.clearCookie(APPLICANT_COOKIE, { httpOnly: true, secure: true, sameSite: "strict", path: COOKIE_PATH });
      return undefined;
    },
  }),
  applicantRoute({
    method: "get",
    path: "/applicant/progress",
    response: PROGRESS,
    summary: "The order's progress in plain words (no ids, no officers' names)",
    auth: "applicant",
    session: true,
    handle: ({ session }, a) => a.progress(session!),
  }),
  applicantRoute({
    method: "get",
    path: "/applicant/terms",
    response: TERMS,
    summary:
      "The terms of use of the current version, as text, in the language asked for " +
      "(Accept-Language) when written in it, else English; `lang` and `sha256` " +
      "name the text (REQ-06)",
    auth: "applicant",
    session: true,
    handle: async ({ lang }, a) => a.terms(lang),
  }),
  applicantRoute({
    method: "post",
    path: "/applicant/accept-terms",
    summary:
      "Accept the terms of the version shown, by an unticked box the applicant " +
      "ticked (REQ-06); audited with the version and the language and SHA-256 of " +
      "the text shown (`termsLanguage`, `termsSha256` from GET /applicant/terms; " +
      "English when absent)",
    auth: "applicant",
    session: true,
    body: ACCEPT_TERMS,
    response: PROGRESS,
    handle: ({ session, body }, a) => a.acceptTerms(session!, body),
  }),
  applicantRoute({
    method: "post",
    path: "/applicant/cancel",
    summary: "Withdraw the order while the workflow allows it",
    auth: "applicant",
    session: true,
    body: EMPTY_BODY,
    response: PROGRESS,
    handle: ({ session }, a) => a.cancel(session!),
  }),
];

/**
 * The applicant pages' API, mounted under /api/v1 after the RA API router (which has logged the
 * request and parsed the JSON body with its size limit). The session cookie is HttpOnly, Secure,
 * SameSite=Strict, scoped to these routes; state changes need the session's CSRF token.
 */
export function applicantRoutes(access: ApplicantAccess): Router {
  const r = Router();
  // Parsed already when mounted after the RA API router (body-parser then skips); here for use on its own.
  r.use(requireJson, express.json({ limit: 32 * 1024, strict: true }));
  for (const route of APPLICANT_ROUTES) {
    r[route.method](route.path, async (req: Request, res: Response) => {
      res.locals.actor = APPLICANT;
      let session: ApplicantSession | undefined;
      if (route.session) {
        session = await access.session(cookieOf(req, APPLICANT_COOKIE) ?? "");
        if (!session)
          throw new CaError(
            "unauthorized",
            "no applicant session, or it has ended: open the link from your message " +
              "again (it works once), or contact your registration office",
            undefined,
            { code: "applicant.no-session" },
          );
        if (req.method !== "GET") {
          const token = req.headers["x-csrf-token"];
          if (typeof token !== "string" || !session.csrfMatches(token))
            throw new CaError("forbidden", "missing or wrong CSRF token (X-CSRF-Token)", undefined, {
              code: "session.csrf",
            });
        }
      }
      if (route.method === "delete") await access.close(cookieOf(req, APPLICANT_COOKIE) ?? "");
      const body = req.body === undefined ? {} : req.body;
      if (route.body) validateBody(route.body, body);
      else if (req.headers["content-length"] && req.headers["content-length"] !== "0")
        throw new CaError("invalid-input", `${route.method.toUpperCase()} ${route.path} takes no body`, undefined, {
          code: "request.no-body-expected",
        });
      const out = await route.handle(
        {
          session,
          body,
          ip: req.socket.remoteAddress ?? "",
          res,
          lang: negotiateLanguage(req.headers["accept-language"]),
        },
        access,
      );
      if (out === undefined) res.status(route.status ?? 204).end();
      else res.status(route.status ?? 200).json(out);
    });
  }
  return r;
}

import type { NextFunction, Request, Response } from "express";
import type { ServerResponse } from "node:http";
import { CaError, type ErrorKind } from "../shared/ca-error.js";
import { logger } from "../shared/log.js";
import { newUuid } from "../shared/ids.js";
import { cryptoRandom } from "../shared/random.js";
import { negotiateLanguage, type Language } from "../i18n/languages.js";
import { fieldWords, refusalWords, type FieldFault } from "../i18n/refusal-words.js";

const log = logger("http");

/** CaError kind → HTTP status; the only place this mapping exists. */
const STATUS: Record<ErrorKind, number> = {
  "invalid-input": 400,
  unauthorized: 401,
  forbidden: 403,
  "rate-limited": 429,
  "not-found": 404,
  conflict: 409,
  "policy-violation": 422,
  "lint-failed": 422,
  config: 500,
  "hsm-unavailable": 503,
  unavailable: 503,
  internal: 500,
};

/**
 * RFC 7807 problem details, on a plain node response (the OCSP hot path has no express). `extra.title` (words) replaces
 * the kind as title.
 */
export function writeProblem(
  res: ServerResponse,
  status: number,
  kind: string,
  detail: string,
  extra?: Record<string, unknown>,
): void {
  const body = JSON.stringify({ type: `urn:cardpki:problem:${kind}`, title: kind, status, detail, ...extra });
  res.writeHead(status, {
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

export function sendProblem(
  res: Response,
  status: number,
  kind: string,
  detail: string,
  extra?: Record<string, unknown>,
): void {
  writeProblem(res, status, kind, detail, extra);
}

export function statusOf(kind: ErrorKind): number {
  return STATUS[kind];
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new CaError("not-found", `no route for ${req.method} ${req.path}`, undefined, { code: "request.no-route" }));
}

/** The reader's language: the request's `Accept-Language` (the pages send the user's choice on every fetch). */
export function languageOf(req: Pick<Request, "headers">): Language {
  return negotiateLanguage(req.headers["accept-language"]);
}

/** Params the body carries as they are (machine-readable; the words are in `detail`). */
function machineParams(ce: CaError): Record<string, unknown> | undefined {
  return Object.keys(ce.params).length ? { ...ce.params } : undefined;
}

/**
 * Last express middleware: every error becomes a problem response; nothing crashes the server.
 * `title` and `detail` are words in the reader's language (src/i18n, locales/<lang>/refusals.json);
 * `code`, `params`, `rule`, `guard`, `requirement` stay machine-readable.
 */
export function errorHandler(err: unknown, request: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const lang = languageOf(request);
  const e = err as { type?: string; status?: number; message?: string };
  let ce: CaError;
  let status: number;
  if (!(err instanceof CaError) && typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    // body-parser and friends (entity.too.large, entity.parse.failed, ...).
    status = e.status;
    const code =
      status === 413
        ? "request.too-large"
        : status === 415
          ? "request.not-json"
          : e.type === "entity.parse.failed"
            ? "request.malformed-json"
            : "request.bad";
    ce = new CaError("invalid-input", e.message ?? "bad request", undefined, { code });
  } else {
    ce = err instanceof CaError ? err : new CaError("internal", "internal error");
    status = STATUS[ce.kind];
  }
  res.setHeader("content-language", lang);
  if (ce.kind === "rate-limited") res.setHeader("retry-after", String(ce.details?.retryAfterSeconds ?? 60));
  const params = machineParams(ce);
  const machine = { code: ce.code, ...(params ? { params } : {}), lang };
  if (status >= 500) {
    // 5xx: the message (paths, hosts, SQL, HSM errors) goes to the log under an incident id; the body has only the
    // code's words and that id.
    const incident = newUuid(cryptoRandom);
    log.error(err instanceof CaError ? "request failed" : "unexpected error", {
      incident,
      kind: ce.kind,
      code: ce.code,
      method: request.method,
      path: request.path,
      error: err instanceof Error ? err : String(err),
      stack: (err as Error)?.stack,
    });
    const words = refusalWords(lang, ce); // the incident id stays out of the words: it is in `incident`
    sendProblem(res, status, ce.kind, words.detail, { title: words.title, code: ce.code, lang, incident });
    return;
  }
  // 4xx carry the machine-readable details (guard, REQ, fields).
  const named = ce.details ? pick(ce.details, ["guard", "requirement", "rule", "registerStatus", "pair"]) : undefined;
  // A refusal names its REQ: from the details, else as its (English) message names it.
  const req = (ce.details?.requirement as string | undefined) ?? /REQ-\d{2}(?:, REQ-\d{2})*/.exec(ce.message)?.[0];
  const extra = req && !named?.requirement ? { ...named, requirement: req } : named;
  // REQ-27: the request log names why it was refused (in English, for the auditor).
  const rule = ce.details?.rule ?? ce.details?.guard; // the rule a refusal names (a workflow guard is one)
  res.locals.refusal = {
    kind: ce.kind,
    code: ce.code,
    ...(ce.details ? pick(ce.details, ["guard", "requirement"]) : {}),
    ...(rule ? { rule } : {}),
    detail: ce.message.slice(0, 300),
  };
  const words = refusalWords(lang, ce);
  const faults = ce.details?.fieldFaults as FieldFault[] | undefined;
  const errors = faults?.length ? fieldWords(lang, faults) : undefined;
  // A schema refusal says what is wrong with each field, in words, tied to the field (the page puts focus on `field`).
  const detail = errors ? [words.detail, ...errors.map((x) => x.detail)].join(" ") : words.detail;
  sendProblem(res, status, ce.kind, detail, {
    title: words.title,
    ...machine,
    ...extra,
    ...(rule && !extra?.rule ? { rule } : {}),
    ...(req ? { req } : {}),
    ...(errors ? { field: errors[0]!.field, errors } : {}),
  });
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  const out = Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  return Object.keys(out).length ? out : undefined;
}

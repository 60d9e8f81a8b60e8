import type { NextFunction, Request, Response } from "express";
import type { ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { CaError, type ErrorKind } from "../shared/ca-error.js";
import { logger } from "../shared/log.js";

const log = logger("http");

/** CaError kind → HTTP status; the only place this mapping exists. */
const STATUS: Record<ErrorKind, number> = {
  "invalid-input": 400,
  "unauthorized": 401,
  "forbidden": 403,
  "rate-limited": 429,
  "not-found": 404,
  "conflict": 409,
  "policy-violation": 422,
  "lint-failed": 422,
  "config": 500,
  "hsm-unavailable": 503,
  "unavailable": 503,
  "internal": 500,
};

/** RFC 7807 problem details, on a plain node response (the OCSP hot path has no express). */
export function writeProblem(res: ServerResponse, status: number, kind: string, detail: string, extra?: Record<string, unknown>): void {
  const body = JSON.stringify({ type: `urn:cardpki:problem:${kind}`, title: kind, status, detail, ...extra });
  res.writeHead(status, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(body), "x-content-type-options": "nosniff" });
  res.end(body);
}

export function sendProblem(res: Response, status: number, kind: string, detail: string, extra?: Record<string, unknown>): void {
  writeProblem(res, status, kind, detail, extra);
}

export function statusOf(kind: ErrorKind): number {
  return STATUS[kind];
}

export function notFoundHandler(req: Request, res: Response): void {
  sendProblem(res, 404, "not-found", `no route for ${req.method} ${req.path}`);
}

/** Last express middleware: every error becomes a problem response; nothing crashes the server. */
export function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err as { type?: string; status?: number; message?: string };
  if (!(err instanceof CaError) && typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    // body-parser and friends (entity.too.large, entity.parse.failed, ...).
    sendProblem(res, e.status, "invalid-input", e.message ?? "bad request");
    return;
  }
  const ce = err instanceof CaError ? err : new CaError("internal", "internal error");
  const status = STATUS[ce.kind];
  if (ce.kind === "rate-limited") res.setHeader("retry-after", String(ce.details?.retryAfterSeconds ?? 60));
  if (status >= 500) {
    // 5xx: the message (paths, hosts, SQL, HSM errors) goes to the log under an incident id; the body names only the kind and that id.
    const incident = randomUUID();
    log.error(err instanceof CaError ? "request failed" : "unexpected error", { incident, kind: ce.kind, method: _req.method, path: _req.path, error: err instanceof Error ? err : String(err), stack: (err as Error)?.stack });
    sendProblem(res, status, ce.kind, `${PUBLIC_5XX[ce.kind] ?? "internal error"} (incident ${incident})`, { incident });
    return;
  }
  // 4xx carry the machine-readable details (guard, REQ, fields).
  const extra = ce.details ? pick(ce.details, ["guard", "requirement", "rule", "problems", "registerStatus", "pair"]) : undefined;
  // REQ-27: the request log names why it was refused.
  const rule = ce.details?.rule ?? ce.details?.guard; // the rule a refusal names (a workflow guard is one)
  res.locals.refusal = { kind: ce.kind, ...(ce.details ? pick(ce.details, ["guard", "requirement"]) : {}), ...(rule ? { rule } : {}), detail: ce.message.slice(0, 300) };
  sendProblem(res, status, ce.kind, ce.message, extra);
}

/** What a 5xx body says: the kind in words, never the internal message. */
const PUBLIC_5XX: Partial<Record<ErrorKind, string>> = {
  config: "the service is misconfigured",
  "hsm-unavailable": "the HSM is not available; try again later",
  unavailable: "the service is temporarily unavailable; try again later",
  internal: "internal error",
};

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  const out = Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  return Object.keys(out).length ? out : undefined;
}

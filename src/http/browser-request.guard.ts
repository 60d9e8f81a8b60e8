import type { NextFunction, Request, Response } from "express";
import { CaError } from "../shared/ca-error.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Browser requests (REQ-22: a browser presents the officer's or holder's client certificate to any
 * page that asks, so the certificate alone does not show the officer meant the request). A
 * state-changing request that carries browser fetch metadata must come from the RA's own origin:
 * `Origin` (when sent) must be one of ours and `Sec-Fetch-Site` (when sent) must be `same-origin`
 * or `none` (typed into the address bar), with or without a session cookie; the session guard
 * then asks a request with a session cookie for its CSRF token. API clients send neither header and
 * pass unchanged (they authenticate by client certificate on every call). Shared by the RA API, the
 * officers' portal and the applicant and holder pages.
 */
export function browserRequestGuard(opts: { ownOrigins?: readonly string[] } = {}) {
  const configured = new Set((opts.ownOrigins ?? []).map((o) => o.replace(/\/$/, "").toLowerCase()));
  return (req: Request, _res: Response, next: NextFunction) => {
    if (SAFE.has(req.method)) return next();
    const origin = typeof req.headers.origin === "string" ? req.headers.origin.toLowerCase() : undefined;
    const site =
      typeof req.headers["sec-fetch-site"] === "string" ? req.headers["sec-fetch-site"].toLowerCase() : undefined;
    if (origin === undefined && site === undefined) return next();
    const own = `https://${String(req.headers.host ?? "").toLowerCase()}`;
    if (origin !== undefined && origin !== own && !configured.has(origin))
      return next(refusal(`a ${req.method} from the web origin ${origin.slice(0, 100)} is not the RA's own`));
    if (site !== undefined && site !== "same-origin" && site !== "none")
      return next(refusal(`a ${req.method} that the browser marks Sec-Fetch-Site: ${site.slice(0, 20)}`));
    next();
  };
}

const refusal = (what: string) =>
  new CaError(
    "forbidden",
    `cross-site request refused: ${what}; state changes from a browser come only ` +
      `from the RA's own pages with the session's CSRF token (rule ` +
      `same-origin-browser-request, REQ-22)`,
    { rule: "same-origin-browser-request", requirement: "REQ-22" },
    { code: "request.cross-site" },
  );

import type { NextFunction, Request, Response } from "express";
import type { TLSSocket } from "node:tls";
import { clientCertificate } from "./client-certificate.js";
import type { Actor, AuditEvent } from "../ra/order.js";
import { actorId } from "../ra/actor-checks.js";
import { logger } from "../shared/log.js";
import { systemClock } from "../shared/clock.js";
import { newId } from "../shared/ids.js";
import { cryptoRandom } from "../shared/random.js";

const log = logger("ra-api");

/** The serial of the client certificate the TLS layer saw, verified or not (for the log only, never for identity). */
export function presentedSerial(req: Request): string | undefined {
  try {
    return clientCertificate(req.socket as TLSSocket)?.serial;
  } catch {
    return undefined;
  }
}

/**
 * REQ-27: every request to the RA server and its answer goes to the audit trail, refused ones
 * included (guards in front of the routes too: cross-site, session, CSRF). The actor is the one
 * the route resolved; when resolution failed or never ran, the serial of the client certificate
 * presented (`cert:<serial>`, not proof of identity), else `anonymous`. Static portal assets are
 * not logged.
 */
export function requestAudit(
  audit: (e: AuditEvent) => Promise<void>,
  opts: { newId?: () => string; now?: () => Date } = {},
) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (
      (req.method === "GET" || req.method === "HEAD") &&
      req.path.startsWith("/portal") &&
      !req.path.startsWith("/portal/session")
    )
      return next();
    const started = performance.now();
    const serial = presentedSerial(req);
    res.on("finish", () => {
      const actor = res.locals.actor as Actor | undefined;
      const path = req.originalUrl.split("?")[0]!;
      const routePath = (req.route?.path as string | undefined) ?? "(no route)";
      const surface = path.startsWith("/api/") ? "api" : "portal";
      void audit({
        id: opts.newId?.() ?? newId(cryptoRandom),
        at: opts.now?.() ?? systemClock.now(),
        actor: actor ? actorId(actor) : serial ? `cert:${serial}` : "anonymous",
        action: `${surface}.${req.method.toLowerCase()} ${routePath}`,
        objectType: surface,
        objectId: path.slice(0, 128),
        outcome: res.statusCode < 400 ? "success" : "failure",
        ...(actor?.organisationId ? { organisationId: actor.organisationId } : {}),
        details: {
          status: res.statusCode,
          ip: req.socket.remoteAddress,
          ms: Math.round(performance.now() - started),
          ...(actor?.credentialSerial ? { credential: actor.credentialSerial } : serial ? { credential: serial } : {}),
          ...(res.locals.refusal ? { refusal: res.locals.refusal } : {}),
        },
      }).catch((e) => log.error("request not audited", { error: e }));
    });
    next();
  };
}

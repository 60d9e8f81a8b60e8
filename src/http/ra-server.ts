import express, { type Express } from "express";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import { openApiDocument } from "./openapi.js";
import { errorHandler, notFoundHandler } from "./problem.js";
import { RA_ROUTES, raRoutes, type RaApiDeps } from "./ra.routes.js";
import { PortalSessions, portalRoutes, sessionGuard } from "./portal.routes.js";
import { APPLICANT_ROUTES, applicantRoutes } from "./applicant.routes.js";
import { selfServicePages } from "./self-service.routes.js";
import { browserRequestGuard } from "./browser-request.guard.js";
import { requestAudit } from "./request-audit.js";
import { logger } from "../shared/log.js";

const log = logger("ra-server");

export interface RaTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Trust anchors for client certificates: this CA's issuing CA certificates and their roots. */
  readonly clientCas: readonly (string | Buffer)[];
}

/** Connection limits of the RA server (slow-handshake and connection exhaustion). */
export interface RaLimits {
  readonly handshakeTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly maxConnectionsPerClient?: number;
}

/**
 * The RA API app: /api/v1 (mTLS identities), /api/openapi.json and, given its assets, the officers'
 * portal at /portal and the applicant and holder pages at /applicant/ and /holder/.
 */
export function buildRaApp(
  deps: RaApiDeps,
  version: string,
  portal?: { assetsDir: string; sessions?: PortalSessions },
  opts: { ownOrigins?: readonly string[] } = {},
): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use((_req, res, next) => {
    res.set({
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-store",
      "Strict-Transport-Security": "max-age=31536000",
    });
    next();
  });
  // REQ-27: every request and answer, refused ones included (also those the guards below refuse).
  if (deps.audit)
    app.use(
      requestAudit(deps.audit, {
        ...(deps.newId ? { newId: deps.newId } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      }),
    );
  // REQ-22: no state change from another web origin, with or without a session cookie (API, portal, applicant and
  // holder pages).
  app.use(browserRequestGuard(opts));
  const doc = openApiDocument([...RA_ROUTES, ...(deps.applicant ? APPLICANT_ROUTES : [])], version);
  app.get("/api/openapi.json", (_req, res) => void res.json(doc));
  const sessions = portal ? (portal.sessions ?? new PortalSessions()) : undefined;
  if (portal && sessions)
    app.use(portalRoutes(portal.assetsDir, sessions, deps), selfServicePages(portal.assetsDir, sessions, deps));
  if (sessions) app.use("/api/v1", sessionGuard(sessions));
  app.use("/api/v1", raRoutes(deps));
  // after the RA API router: its body parser (the request log is requestAudit above)
  if (deps.applicant) app.use("/api/v1", applicantRoutes(deps.applicant));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * HTTPS with client certificates requested but checked per route, so a missing or foreign
 * certificate gets a problem+json 401 rather than a bare handshake failure; TLS 1.2+ (REQ-29).
 * A handshake must finish within `handshakeTimeoutMs`; open connections are capped in all and
 * per client address (a connection over the cap is closed at once and logged).
 */
export function listenRa(app: Express, tls: RaTls, host: string, port: number, limits: RaLimits = {}): Promise<Server> {
  const server = createServer(
    {
      key: tls.key,
      cert: tls.cert,
      ca: [...tls.clientCas],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      handshakeTimeout: limits.handshakeTimeoutMs ?? 10_000,
    },
    app,
  );
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  server.maxConnections = limits.maxConnections ?? 1024;
  const perClient = new Map<string, number>();
  const cap = limits.maxConnectionsPerClient ?? 64;
  server.on("connection", (sock: Socket) => {
    const ip = sock.remoteAddress ?? "?";
    const n = (perClient.get(ip) ?? 0) + 1;
    if (n > cap) {
      log.warn("connection refused: too many open connections from one client", { ip, cap });
      sock.destroy();
      return;
    }
    perClient.set(ip, n);
    sock.once("close", () => {
      const left = (perClient.get(ip) ?? 1) - 1;
      if (left <= 0) perClient.delete(ip);
      else perClient.set(ip, left);
    });
  });
  server.on("tlsClientError", (e: Error & { code?: string }) => {
    if (e.code === "ERR_TLS_HANDSHAKE_TIMEOUT")
      log.info("TLS handshake not finished in time: connection dropped", {
        timeoutMs: limits.handshakeTimeoutMs ?? 10_000,
      });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

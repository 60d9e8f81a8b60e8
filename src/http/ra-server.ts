import express, { type Express } from "express";
import { createServer, type Server } from "node:https";
import { openApiDocument } from "./openapi.js";
import { errorHandler, notFoundHandler } from "./problem.js";
import { RA_ROUTES, raRoutes, type RaApiDeps } from "./ra.routes.js";
import { PortalSessions, portalRoutes, sessionGuard } from "./portal.routes.js";
import { APPLICANT_ROUTES, applicantRoutes } from "./applicant.routes.js";
import { selfServicePages } from "./self-service.routes.js";

export interface RaTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Trust anchors for client certificates: this CA's issuing CA certificates and their roots. */
  readonly clientCas: readonly (string | Buffer)[];
}

/**
 * The RA API app: /api/v1 (mTLS identities), /api/openapi.json and, given its assets, the officers'
 * portal at /portal and the applicant and holder pages at /applicant/ and /holder/.
 */
export function buildRaApp(deps: RaApiDeps, version: string, portal?: { assetsDir: string; sessions?: PortalSessions }): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use((_req, res, next) => {
    res.set({ "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Strict-Transport-Security": "max-age=31536000" });
    next();
  });
  const doc = openApiDocument([...RA_ROUTES, ...(deps.applicant ? APPLICANT_ROUTES : [])], version);
  app.get("/api/openapi.json", (_req, res) => void res.json(doc));
  const sessions = portal ? (portal.sessions ?? new PortalSessions()) : undefined;
  if (portal && sessions) app.use(portalRoutes(portal.assetsDir, sessions, deps), selfServicePages(portal.assetsDir, sessions, deps));
  if (sessions) app.use("/api/v1", sessionGuard(sessions));
  app.use("/api/v1", raRoutes(deps));
  if (deps.applicant) app.use("/api/v1", applicantRoutes(deps.applicant)); // after the RA API router: its request log and body parser
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/**
 * HTTPS with client certificates requested but checked per route, so a missing or foreign
 * certificate gets a problem+json 401 rather than a bare handshake failure; TLS 1.2+ (REQ-29).
 */
export function listenRa(app: Express, tls: RaTls, host: string, port: number): Promise<Server> {
  const server = createServer({ key: tls.key, cert: tls.cert, ca: [...tls.clientCas], requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" }, app);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

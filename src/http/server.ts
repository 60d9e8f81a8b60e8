import express, { type Express } from "express";
import { createServer, type Server } from "node:http";
import { caRoutes, type PublishedCa } from "./ca.routes.js";
import { crlRoutes, type PublishedCrl } from "./crl.routes.js";
import { isOcspPath, ocspHandler, type OcspService } from "./ocsp.handler.js";
import { errorHandler, notFoundHandler } from "./problem.js";

export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface AppDeps {
  readonly cas: () => readonly PublishedCa[];
  readonly crl: (caId: string, kind: "full" | "delta") => Promise<PublishedCrl | undefined>;
  readonly health: readonly HealthCheck[];
}

export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", "strong");
  app.use((_req, res, next) => {
    res.set("X-Content-Type-Options", "nosniff");
    next();
  });
  app.get("/healthz", async (_req, res) => {
    const checks: Record<string, string> = {};
    let ok = true;
    for (const h of deps.health) {
      try {
        await h.check();
        checks[h.name] = "ok";
      } catch (e) {
        ok = false;
        checks[h.name] = (e as Error).message;
      }
    }
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "degraded", checks });
  });
  app.use(caRoutes(deps.cas));
  app.use(crlRoutes(deps.crl));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

/** One server: OCSP on plain node:http (the hot path), everything else through express. */
export function listen(app: Express, host: string, port: number, ocsp?: { service: OcspService; maxBodyBytes: number }): Promise<Server> {
  const ocspFn = ocsp ? ocspHandler(ocsp.service, ocsp.maxBodyBytes) : undefined;
  const server = createServer((req, res) => (ocspFn && isOcspPath(req.url) ? ocspFn(req, res) : app(req, res)));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

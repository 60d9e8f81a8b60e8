import express, { type Express } from "express";
import type { Server } from "node:http";
import { caRoutes, type PublishedCa } from "./ca.routes.js";
import { errorHandler, notFoundHandler } from "./problem.js";

export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface AppDeps {
  readonly cas: () => readonly PublishedCa[];
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
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

export function listen(app: Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.on("error", reject);
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10000;
    server.requestTimeout = 30000;
  });
}

import express, { type Express } from "express";
import { createServer, type Server } from "node:http";
import { caRoutes, type PublishedCa } from "./ca.routes.js";
import { crlRoutes, type PublishedCrl } from "./crl.routes.js";
import { isOcspPath, ocspHandler, type OcspService } from "./ocsp.handler.js";
import { errorHandler, notFoundHandler } from "./problem.js";
import type { Metrics } from "./metrics.js";
import { systemClock, type Clock } from "../shared/clock.js";

export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface AppDeps {
  readonly cas: () => readonly PublishedCa[];
  /** A CA's CRL, or one shard's when `shard` is given (RFC 5280 5.2.5). */
  readonly crl: (caId: string, kind: "full" | "delta", shard?: number) => Promise<PublishedCrl | undefined>;
  readonly health: readonly HealthCheck[];
  /** Prometheus metrics at /metrics. */
  readonly metrics?: Metrics;
  /** Cache lifetimes are counted from this clock. */
  readonly clock?: Clock;
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
  const metrics = deps.metrics;
  if (metrics)
    app.get("/metrics", async (_req, res) => void res.type(metrics.contentType).send(await metrics.render()));
  app.use(caRoutes(deps.cas));
  app.use(crlRoutes(deps.crl, deps.clock ?? systemClock));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

export interface ListenOptions {
  readonly ocsp?: { readonly service: OcspService; readonly maxBodyBytes: number };
  readonly metrics?: Metrics;
  /** True while the server drains before a restart: every response closes its connection. */
  readonly draining?: () => boolean;
  /** Cache lifetimes of OCSP answers are counted from this clock. */
  readonly clock?: Clock;
}

/** One server: OCSP on plain node:http (the hot path), everything else through express. */
export function listen(app: Express, host: string, port: number, opts: ListenOptions = {}): Promise<Server> {
  const { ocsp, metrics, draining, clock = systemClock } = opts;
  const ocspFn = ocsp ? ocspHandler(ocsp.service, ocsp.maxBodyBytes, clock) : undefined;
  const timedOcsp =
    ocspFn && metrics
      ? (req: Parameters<typeof ocspFn>[0], res: Parameters<typeof ocspFn>[1]) => {
          const t0 = process.hrtime.bigint();
          res.on("finish", () => {
            metrics.observe(
              "cardpki_ocsp_request_duration_seconds",
              "OCSP request latency",
              Number(process.hrtime.bigint() - t0) / 1e9,
            );
            metrics.inc("cardpki_ocsp_requests_total", "OCSP requests by HTTP status", {
              status: String(res.statusCode),
            });
          });
          return ocspFn(req, res);
        }
      : ocspFn;
  const server = createServer((req, res) => {
    // Graceful drain: clients reconnect (to another replica) instead of reusing this connection.
    if (draining?.()) res.shouldKeepAlive = false;
    return timedOcsp && isOcspPath(req.url) ? timedOcsp(req, res) : app(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * Stops accepting connections, lets requests in flight finish, closes idle keep-alive
 * connections, and after graceMs cuts whatever is left.
 */
export function closeGracefully(
  server: Pick<Server, "close" | "closeIdleConnections" | "closeAllConnections">,
  graceMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const hard = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(hard);
      resolve();
    });
    server.closeIdleConnections();
  });
}

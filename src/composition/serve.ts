import type { Server } from "node:http";
import { buildApp, listen } from "../http/server.js";
import type { PublishedCa } from "../http/ca.routes.js";
import type { Config } from "./config.js";
import { openRuntime, type Runtime } from "./runtime.js";
import { pingDatabase } from "../store/database.js";

export interface Service {
  readonly runtime: Runtime;
  readonly server: Server;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the CA service: crash recovery, then HTTP (public CA certificates, health). */
export async function startService(config: Config): Promise<Service> {
  const runtime = await openRuntime(config, { recover: true });
  const published = (): PublishedCa[] =>
    runtime.caDir.list().map((id) => {
      const ca = runtime.caDir.load(id);
      return { id, certDer: ca.certDer, chainDer: ca.chainDer };
    });
  const app = buildApp({
    cas: published,
    health: [
      { name: "database", check: () => pingDatabase(runtime.db) },
      ...[...runtime.authorities.values()].map((a) => ({ name: `hsm:${a.id}`, check: async () => void (await a.signer.sign(Uint8Array.of(0))) })),
    ],
  });
  let server: Server;
  try {
    server = await listen(app, config.host, config.port);
  } catch (e) {
    await runtime.close();
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  const stop = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await runtime.close();
  };
  return { runtime, server, url: `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`, stop };
}

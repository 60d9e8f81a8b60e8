import type { Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildApp, listen } from "../http/server.js";
import type { PublishedCa } from "../http/ca.routes.js";
import type { PublishedCrl } from "../http/crl.routes.js";
import { OcspResponder } from "../ca/ocsp/ocsp-responder.js";
import { readCrlInfo } from "../ca/crl-builder.js";
import { pingDatabase } from "../store/database.js";
import { existsSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import { buildRaApp, listenRa } from "../http/ra-server.js";
import { toPem } from "../asn1/der.js";
import type { Config } from "./config.js";
import { openRa, type Ra } from "./ra.js";
import { auditSignerNames, openAuditTrail } from "./audit.js";
import { Metrics } from "../http/metrics.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { cardStation } from "./cards.js";
import { APP_ROOT } from "./config.js";
import { newId } from "../shared/ids.js";
import { loadOcspIssuers, openRuntime, type Runtime } from "./runtime.js";

export interface Service {
  readonly runtime: Runtime;
  readonly server: Server;
  readonly url: string;
  readonly ocsp: OcspResponder;
  /** The RA API (HTTPS, mTLS) when its TLS files are configured. */
  readonly ra?: { readonly ra: Ra; readonly server: HttpsServer; readonly url: string };
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** How often revocation events are read (OCSP invalidation, CRL nudge). */
  readonly eventPollMs?: number;
  /** How often the CRL schedule runs. */
  readonly crlTickMs?: number;
}

/** A loop that never overlaps itself and never lets an error escape. */
function loop(name: string, everyMs: number, work: () => Promise<unknown>): { stop: () => Promise<void>; kick: () => Promise<unknown> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const run = (): Promise<unknown> => {
    if (running || stopped) return running ?? Promise.resolve();
    running = work().catch((e) => console.error(`${name}:`, (e as Error).message)).finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(run, everyMs);
  timer.unref();
  return {
    kick: run,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Starts the CA service: crash recovery; HTTP with public CA certificates, CRLs and OCSP; and the
 * background jobs that keep CRLs and pre-signed OCSP responses fresh (REQ-17..20).
 */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const runtime = await openRuntime(config, { recover: true });
  const { caDir, revocations, crls, revocationPolicy: policy, authorities } = runtime;
  let ocsp: OcspResponder;
  try {
    ocsp = new OcspResponder(await loadOcspIssuers(runtime), revocations, policy, runtime.clock);
  } catch (e) {
    await runtime.close();
    throw e;
  }
  const published = (): PublishedCa[] =>
    caDir.list().map((id) => {
      const ca = caDir.load(id);
      return { id, certDer: ca.certDer, chainDer: ca.chainDer };
    });
  const findCrl = async (caId: string, kind: "full" | "delta"): Promise<PublishedCrl | undefined> => {
    if (authorities.has(caId)) return revocations.latestCrl(caId, kind);
    // Offline roots: the newest CRL their ceremony wrote to ca-store/<root>/crl/.
    if (kind === "delta" || !caDir.exists(caId)) return undefined;
    const n = caDir.crlNumbers(caId).reduce((a, b) => (b > a ? b : a), 0n);
    if (n === 0n) return undefined;
    const der = new Uint8Array(readFileSync(join(caDir.dir(caId), "crl", `${n}.crl`)));
    return { der, ...readCrlInfo(der) };
  };
  // Prometheus: OCSP latency and status in process; CRL age, certificates, HSM and audit read at scrape time.
  const metrics = new Metrics();
  const now = () => runtime.clock.now().getTime();
  metrics.gauge("cardpki_crl_age_seconds", "Age of the latest full CRL per issuing CA", async () =>
    Promise.all([...authorities.values()].map(async (a) => ({ labels: { ca: a.id }, value: ((c) => (c ? (now() - c.thisUpdate.getTime()) / 1000 : -1))(await revocations.latestCrl(a.id, "full")) }))));
  metrics.gauge("cardpki_crl_seconds_to_next_update", "Seconds until the latest full CRL's nextUpdate (negative: stale)", async () =>
    Promise.all([...authorities.values()].map(async (a) => ({ labels: { ca: a.id }, value: ((c) => (c ? (c.nextUpdate.getTime() - now()) / 1000 : -1))(await revocations.latestCrl(a.id, "full")) }))));
  metrics.gauge("cardpki_certificates", "Certificates in the store by status", async () => Object.entries(await runtime.store.countByStatus()).map(([status, value]) => ({ labels: { status }, value })));
  metrics.gauge("cardpki_hsm_up", "1 when the issuing CA key signs, 0 when the HSM does not answer", async () =>
    Promise.all([...authorities.values()].map(async (a) => ({ labels: { ca: a.id }, value: await a.signer.sign(Uint8Array.of(0)).then(() => 1, () => 0) }))));
  const trail = openAuditTrail(runtime);
  metrics.gauge("cardpki_audit_unprotected_entries", "Audit entries after the last signed checkpoint", async () => {
    const [head, cp] = await Promise.all([trail.store.head(), trail.store.latestCheckpoint()]);
    return [{ labels: {}, value: head ? head.seq - (cp?.seq ?? 0) : 0 }];
  });
  const app = buildApp({
    metrics,
    cas: published,
    crl: findCrl,
    health: [
      { name: "database", check: () => pingDatabase(runtime.db) },
      ...[...authorities.values()].flatMap((a) => [
        { name: `hsm:${a.id}`, check: async () => void (await a.signer.sign(Uint8Array.of(0))) },
        {
          name: `crl:${a.id}`,
          check: async () => {
            const c = await revocations.latestCrl(a.id, "full");
            if (!c || c.nextUpdate <= runtime.clock.now()) throw new Error("no current CRL");
          },
        },
      ]),
      { name: "ocsp", check: async () => ocsp.checkResponders() },
    ],
  });

  let lastSeq = await revocations.lastEventSeq();
  const crlLoop = loop("crl schedule", opts.crlTickMs ?? Math.min(10_000, policy.crl.afterRevocationSeconds * 500), async () => {
    for (const a of authorities.values()) await crls.tick(a);
  });
  const eventLoop = loop("revocation events", opts.eventPollMs ?? 200, async () => {
    const events = await revocations.eventsSince(lastSeq);
    if (events.length === 0) return;
    lastSeq = events[events.length - 1]!.seq;
    // REQ-17: OCSP shows a revocation within a second; the CRL follows on the next tick.
    await Promise.all([...new Set(events.map((e) => e.serial))].map((s) => ocsp.invalidate(s)));
    void crlLoop.kick();
  });
  const refreshLoop = loop("ocsp refresh", (policy.ocsp.refreshMinutes * 60_000) / 4, () => ocsp.refresh());
  await crlLoop.kick(); // a current CRL before the first request
  void refreshLoop.kick();

  let server: Server;
  try {
    server = await listen(app, config.host, config.port, { service: ocsp, maxBodyBytes: policy.ocsp.maxBodyBytes }, metrics);
  } catch (e) {
    await Promise.all([crlLoop.stop(), eventLoop.stop(), refreshLoop.stop()]);
    await runtime.close();
    throw e;
  }
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;

  let raPart: Service["ra"];
  let expiryLoop: ReturnType<typeof loop> | undefined;
  if (existsSync(config.ra.tlsCert) && existsSync(config.ra.tlsKey) && authorities.size > 0) {
    try {
      const ra = await openRa(runtime);
      const clientCas = [...authorities.values()].flatMap((a) => {
        const ca = caDir.load(a.id);
        return [ca.certDer, ...ca.chainDer].map((d) => toPem("CERTIFICATE", d));
      });
      const app = buildRaApp({
        resolve: (serial, der) => ra.resolver.resolve(serial, der), onboarding: ra.onboarding, orders: ra.orders, desk: ra.desk,
        audit: (e) => recordAuditEvent(runtime.db, e), evidence: (serial) => trail.evidence(serial), report: (from, to) => trail.report(from, to),
        timeline: async (orderId) => (await trail.store.forObject("order", orderId)).map((e) => ({ at: e.at, actor: e.actor, action: e.action, outcome: e.outcome, policy: e.policy })),
        cardStation: cardStation(runtime, ra),
        newId: () => newId(runtime.random), now: () => runtime.clock.now(),
      }, "1", { assetsDir: join(APP_ROOT, "src", "http", "portal-assets") });
      const raServer = await listenRa(app, { key: readFileSync(config.ra.tlsKey), cert: readFileSync(config.ra.tlsCert), clientCas }, config.host, config.ra.port);
      const a = raServer.address();
      raPart = { ra, server: raServer, url: `https://${host}:${typeof a === "object" && a ? a.port : config.ra.port}` };
      // REQ-15: cards not activated in time are blocked automatically.
      expiryLoop = loop("order expiry", config.ra.expirySweepSeconds * 1000, () => ra.expiry.sweep());
      void expiryLoop.kick();
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all([crlLoop.stop(), eventLoop.stop(), refreshLoop.stop()]);
      await runtime.close();
      throw e;
    }
  } else {
    console.error(`RA API off: no TLS certificate/key at ${config.ra.tlsCert} / ${config.ra.tlsKey}`);
  }
  // REQ-27: the chain's head is signed by the HSM audit key on a schedule, into the database and a file outside it.
  let checkpointLoop: ReturnType<typeof loop> | undefined;
  if (auditSignerNames(config.caStoreDir).length > 0) {
    checkpointLoop = loop("audit checkpoint", config.audit.checkpointSeconds * 1000, () => trail.checkpoint());
    void checkpointLoop.kick();
  } else {
    console.error(`audit checkpoints off: no audit signer in ${config.caStoreDir} (run an audit-signer ceremony)`);
  }
  const stop = async () => {
    if (raPart) {
      await new Promise<void>((resolve) => {
        raPart!.server.close(() => resolve());
        raPart!.server.closeIdleConnections();
      });
    }
    await expiryLoop?.stop();
    if (checkpointLoop) {
      await checkpointLoop.stop();
      await trail.checkpoint().catch((e) => console.error("audit checkpoint:", (e as Error).message)); // the last word before shutdown
    }
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await Promise.all([crlLoop.stop(), eventLoop.stop(), refreshLoop.stop()]);
    await runtime.close();
  };
  return { runtime, server, ocsp, url: `http://${host}:${port}`, ...(raPart ? { ra: raPart } : {}), stop };
}

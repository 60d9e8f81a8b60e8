import type { Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildApp, closeGracefully, listen } from "../http/server.js";
import type { PublishedCa } from "../http/ca.routes.js";
import type { PublishedCrl } from "../http/crl.routes.js";
import { OcspResponder } from "../ca/ocsp/ocsp-responder.js";
import { readCrlInfo } from "../ca/crl-builder.js";
import { pingDatabase } from "../store/database.js";
import { existsSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import { buildRaApp, listenRa } from "../http/ra-server.js";
import { PortalSessions } from "../http/portal.routes.js";
import { KnexPortalSessionStore } from "../store/portal-session.store.js";
import { toPem } from "../asn1/der.js";
import type { Config } from "./config.js";
import { openRa, type Ra } from "./ra.js";
import { auditSignerNames, openAuditTrail } from "./audit.js";
import { auditAccess } from "./audit-access.js";
import { Metrics } from "../http/metrics.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { cardStation } from "./cards.js";
import { openDelivery, type Delivery } from "./delivery.js";
import { openSelfService } from "./self-service.js";
import { APP_ROOT } from "./config.js";
import { newId } from "../shared/ids.js";
import type { Clock } from "../shared/clock.js";
import { loadOcspIssuers, openRuntime, type Runtime } from "./runtime.js";
import { tryWriterLock, type WriterLock } from "../store/writer-lock.js";
import { CaError } from "../shared/ca-error.js";
import { logger } from "../shared/log.js";

const log = logger("serve");

/**
 * `all`: the CA/RA writer (one per database, elected by the writer lease) plus the public endpoints.
 * `public`: a stateless replica with OCSP, CRL, CA certificates, health and metrics only (REQ-33).
 */
export type ServeRole = "all" | "public";

export interface Service {
  readonly role: ServeRole;
  readonly runtime: Runtime;
  readonly server: Server;
  readonly url: string;
  readonly ocsp: OcspResponder;
  /** The RA API (HTTPS, mTLS) when its TLS files are configured. */
  readonly ra?: { readonly ra: Ra; readonly server: HttpsServer; readonly url: string };
  /** Stops; with drainMs, /healthz says "draining" that long before the listener closes. */
  stop(drainMs?: number): Promise<void>;
}

export interface ServiceOptions {
  /** How often revocation events are read (OCSP invalidation, CRL nudge). */
  readonly eventPollMs?: number;
  /** How often the CRL schedule runs. */
  readonly crlTickMs?: number;
  readonly role?: ServeRole;
  /** While a standby waits for the writer lease: how often it tries. */
  readonly leaseRetryMs?: number;
  /** How often the held lease is checked. */
  readonly leaseCheckMs?: number;
  /** Called when the lease is lost: signing has stopped; the caller should stop and let a supervisor restart it. */
  readonly onLeaseLost?: (e: Error) => void;
  /** Aborts a standby's wait for the lease. */
  readonly signal?: AbortSignal;
  /** How often the production saga's recovery sweep runs (default 60 s). */
  readonly productionSweepMs?: number;
  /** The service's clock (tests: a FixedClock to age approvals and deadlines); default the system clock. */
  readonly clock?: Clock;
}

/** A loop that never overlaps itself and never lets an error escape. */
function loop(name: string, everyMs: number, work: () => Promise<unknown>): { stop: () => Promise<void>; kick: () => Promise<unknown> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const run = (): Promise<unknown> => {
    if (running || stopped) return running ?? Promise.resolve();
    running = work().catch((e) => log.error(`${name} failed`, { error: e })).finally(() => (running = undefined));
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
 * Waits for the writer lease (REQ-33: two CA processes never sign for the same database at once).
 * A standby retries until the holder stops or dies.
 */
async function acquireLease(config: Config, opts: ServiceOptions): Promise<WriterLock> {
  let announced = false;
  for (;;) {
    const lock = await tryWriterLock(config.databaseUrl, { checkMs: opts.leaseCheckMs ?? 2000 });
    if (lock) {
      log.info("writer lease acquired", { lease: lock.description });
      return lock;
    }
    if (!announced) log.info("standby: another CA process holds the writer lease; waiting", { retryMs: opts.leaseRetryMs ?? 2000 });
    announced = true;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, opts.leaseRetryMs ?? 2000);
      opts.signal?.addEventListener("abort", () => {
        clearTimeout(t);
        reject(new CaError("unavailable", "stopped while waiting for the writer lease"));
      }, { once: true });
    });
  }
}

/**
 * Starts the service. Role `all`: waits for the writer lease, runs crash recovery, serves the
 * public endpoints and the RA API, and runs the background jobs that keep CRLs, pre-signed OCSP
 * responses and audit checkpoints fresh (REQ-17..20, 27). Role `public`: OCSP, CRL and CA
 * certificates from the shared database, read-only, without the CA key.
 */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const role = opts.role ?? "all";
  const writer = role === "all";
  const lease = writer ? await acquireLease(config, opts) : undefined;
  let fencedBy: Error | undefined;
  void lease?.lost.then((e) => {
    fencedBy = e;
    log.error("writer lease lost: signing stopped", { error: e });
    opts.onLeaseLost?.(e);
  });
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, writer ? {
      recover: true, ...(opts.clock ? { clock: opts.clock } : {}),
      fence: () => {
        if (fencedBy) throw new CaError("unavailable", `this process no longer holds the writer lease (${fencedBy.message})`);
      },
    } : { publicOnly: true });
  } catch (e) {
    await lease?.release();
    throw e;
  }
  const { caDir, revocations, crls, revocationPolicy: policy, authorities } = runtime;
  const closeRuntime = async () => {
    await runtime.close();
    await lease?.release();
  };
  let ocsp: OcspResponder;
  try {
    ocsp = new OcspResponder(await loadOcspIssuers(runtime), revocations, policy, runtime.clock);
  } catch (e) {
    await closeRuntime();
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
  if (writer)
    metrics.gauge("cardpki_hsm_up", "1 when the issuing CA key signs, 0 when the HSM does not answer", async () =>
      Promise.all([...authorities.values()].map(async (a) => ({ labels: { ca: a.id }, value: await a.signer.sign(Uint8Array.of(0)).then(() => 1, () => 0) }))));
  let draining = false;
  metrics.gauge("cardpki_certificates_issued_total", "Certificates signed and stored, by profile", async () =>
    Object.entries(await runtime.store.countIssuedByProfile()).map(([profile, value]) => ({ labels: { profile }, value })), "counter");
  const perKey = (m: Map<string, number>) => async () => [...m].map(([key, value]) => ({ labels: { key }, value }));
  metrics.gauge("cardpki_hsm_signatures_total", "Signatures made in the HSM by this process, per key (ca:<id>, ocsp:<ca>/<label>)", perKey(runtime.signing.ok), "counter");
  metrics.gauge("cardpki_hsm_errors_total", "HSM signing failures in this process, per key", perKey(runtime.signing.failed), "counter");
  const trail = openAuditTrail(runtime);
  metrics.gauge("cardpki_audit_unprotected_entries", "Audit entries after the last signed checkpoint", async () => {
    const [head, cp] = await Promise.all([trail.store.head(), trail.store.latestCheckpoint()]);
    return [{ labels: {}, value: head ? head.seq - (cp?.seq ?? 0) : 0 }];
  });
  // REQ-18: every mass-revocation or self-service rate alarm, from the audit trail (survives restarts, the same on every replica).
  metrics.gauge("cardpki_revocation_alarms_total", "Revocation threshold alarms raised (audit events revocation.alarm.*), by kind", async () =>
    Object.entries(await trail.store.countActions("revocation.alarm.")).map(([action, value]) => ({ labels: { kind: action.slice("revocation.alarm.".length) }, value })), "counter");
  const app = buildApp({
    metrics,
    cas: published,
    crl: findCrl,
    health: [
      // A draining replica reports 503 so the load balancer stops sending it new connections.
      { name: "lifecycle", check: async () => {
        if (draining) throw new Error("draining");
      } },
      { name: "database", check: () => pingDatabase(runtime.db) },
      ...(lease ? [{ name: "writer-lease", check: async () => {
        if (fencedBy) throw fencedBy;
      } }] : []),
      ...[...authorities.values()].flatMap((a) => [
        ...(writer ? [{ name: `hsm:${a.id}`, check: async () => void (await a.signer.sign(Uint8Array.of(0))) }] : []),
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
  // Only the writer signs CRLs; a replica serves the newest one from the database.
  const crlLoop = writer
    ? loop("crl schedule", opts.crlTickMs ?? Math.min(10_000, policy.crl.afterRevocationSeconds * 500), async () => {
        for (const a of authorities.values()) await crls.tick(a);
      })
    : undefined;
  const eventLoop = loop("revocation events", opts.eventPollMs ?? 200, async () => {
    const events = await revocations.eventsSince(lastSeq);
    if (events.length === 0) return;
    lastSeq = events[events.length - 1]!.seq;
    // REQ-17: OCSP shows a revocation within a second; the CRL follows on the next tick.
    await Promise.all([...new Set(events.map((e) => e.serial))].map((s) => ocsp.invalidate(s)));
    void crlLoop?.kick();
  });
  const refreshLoop = loop("ocsp refresh", (policy.ocsp.refreshMinutes * 60_000) / 4, () => ocsp.refresh());
  const stopLoops = () => Promise.all([crlLoop?.stop(), eventLoop.stop(), refreshLoop.stop()]);
  await crlLoop?.kick(); // a current CRL before the first request
  void refreshLoop.kick();

  let server: Server;
  try {
    server = await listen(app, config.host, config.port, { ocsp: { service: ocsp, maxBodyBytes: policy.ocsp.maxBodyBytes }, metrics, draining: () => draining });
  } catch (e) {
    await stopLoops();
    await closeRuntime();
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
  let productionLoop: ReturnType<typeof loop> | undefined;
  let deliveryLoop: ReturnType<typeof loop> | undefined;
  let delivery: Delivery | undefined;
  if (writer && existsSync(config.ra.tlsCert) && existsSync(config.ra.tlsKey) && authorities.size > 0) {
    try {
      // The applicant's link (contract: <ra.publicUrl>/applicant/#order=…&token=…); by default the port the RA API listens on.
      let publicUrl = config.ra.publicUrl;
      const ra = await openRa(runtime, { publicUrl: () => publicUrl });
      // Production saga recovery before the first request: PRODUCING orders compensated, orphan card certificates revoked.
      const recovered = await ra.saga.recover({ staleMs: 0 });
      if (recovered.compensated.length + recovered.revoked.length > 0) log.warn("production recovery", recovered);
      // REQ-15: the outbox is delivered by the writer; channels without settings wait.
      delivery = openDelivery(runtime, ra);
      const d = delivery;
      metrics.gauge("cardpki_notifications", "Outbox messages by delivery state (pending, retrying, delivered, dead) and channel", async () =>
        (await d.store.counts()).map((r) => ({ labels: { state: r.state, channel: r.channel }, value: r.count })));
      const clientCas = [...authorities.values()].flatMap((a) => {
        const ca = caDir.load(a.id);
        return [ca.certDer, ...ca.chainDer].map((d) => toPem("CERTIFICATE", d));
      });
      const self = openSelfService(runtime, ra); // applicant and holder pages
      const auditReads = auditAccess(runtime, trail); // REQ-23/27/31: scoped, capped, audited
      const app = buildRaApp({
        resolve: (serial, der) => ra.resolver.resolve(serial, der), names: ra.names, directory: ra.directory, onboarding: ra.onboarding, orders: ra.orders, desk: ra.desk, activation: ra.activation, grants: ra.grants, applicant: self.applicant, holder: self.holder,
        audit: (e) => recordAuditEvent(runtime.db, e), evidence: (serial, reader) => auditReads.evidence(serial, { kind: "actor", actor: reader }), report: (from, to, reader) => auditReads.report(from, to, { kind: "actor", actor: reader }),
        timeline: async (orderId) => (await trail.store.forObject("order", orderId)).map((e) => ({ at: e.at, actor: e.actor, action: e.action, outcome: e.outcome, policy: e.policy })),
        cardStation: cardStation(runtime, ra), delivery: d,
        newId: () => newId(runtime.random), now: () => runtime.clock.now(),
      }, "1", { assetsDir: join(APP_ROOT, "src", "http", "portal-assets"), sessions: new PortalSessions(new KnexPortalSessionStore(runtime.db)) },
      { ownOrigins: config.ra.publicUrlConfigured ? [new URL(config.ra.publicUrl).origin] : [] }); // REQ-22: the RA's own web origin besides the Host it is reached by
      const raServer = await listenRa(app, { key: readFileSync(config.ra.tlsKey), cert: readFileSync(config.ra.tlsCert), clientCas }, config.host, config.ra.port, {
        handshakeTimeoutMs: config.ra.tlsHandshakeTimeoutSeconds * 1000, maxConnections: config.ra.maxConnections, maxConnectionsPerClient: config.ra.maxConnectionsPerClient,
      });
      const a = raServer.address();
      raPart = { ra, server: raServer, url: `https://${host}:${typeof a === "object" && a ? a.port : config.ra.port}` };
      if (!config.ra.publicUrlConfigured) publicUrl = `https://localhost:${typeof a === "object" && a ? a.port : config.ra.port}`;
      if (d.worker.channelNames.length > 0) {
        deliveryLoop = loop("delivery", config.delivery.pollMs, () => d.worker.tick());
        log.info("delivering the outbox", { channels: d.worker.channelNames });
      } else log.warn("outbox delivery off: no channel configured (see README, Delivery)");
      // REQ-15: cards not activated in time are blocked automatically.
      expiryLoop = loop("order expiry", config.ra.expirySweepSeconds * 1000, () => ra.expiry.sweep());
      void expiryLoop.kick();
      productionLoop = loop("production recovery", opts.productionSweepMs ?? 60_000, () => ra.saga.recover({ orphanWindowMs: 86_400_000 }));
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      await stopLoops();
      await closeRuntime();
      throw e;
    }
  } else if (writer) {
    log.warn("RA API off: no TLS certificate/key", { cert: config.ra.tlsCert, key: config.ra.tlsKey });
  }
  // REQ-27: the chain's head is signed by the HSM audit key on a schedule, into the database and a file outside it.
  let checkpointLoop: ReturnType<typeof loop> | undefined;
  if (writer && auditSignerNames(config.caStoreDir).length > 0) {
    checkpointLoop = loop("audit checkpoint", config.audit.checkpointSeconds * 1000, () => trail.checkpoint());
    void checkpointLoop.kick();
  } else if (writer) {
    log.warn("audit checkpoints off: no audit signer (run an audit-signer ceremony)", { caStore: config.caStoreDir });
  }
  const stop = async (drainMs = 0) => {
    // Zero-downtime restart: /healthz turns 503 first, the load balancer moves traffic, then the listener closes.
    draining = true;
    if (drainMs > 0) {
      log.info("draining", { ms: drainMs });
      await new Promise((r) => setTimeout(r, drainMs));
    }
    if (raPart) await closeGracefully(raPart.server, 30_000);
    await expiryLoop?.stop();
    await productionLoop?.stop();
    await deliveryLoop?.stop();
    await delivery?.worker.close();
    if (checkpointLoop) {
      await checkpointLoop.stop();
      await trail.checkpoint().catch((e) => log.error("last audit checkpoint failed", { error: e })); // the last word before shutdown
    }
    await closeGracefully(server, 30_000);
    await stopLoops();
    await closeRuntime();
    log.info("stopped", { role });
  };
  return { role, runtime, server, ocsp, url: `http://${host}:${port}`, ...(raPart ? { ra: raPart } : {}), stop };
}

import type { Server } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Server as HttpsServer } from "node:https";
import { buildApp, closeGracefully, listen } from "../http/server.js";
import type { OcspResponder } from "../ca/ocsp/ocsp-responder.js";
import { pingDatabase } from "../store/database.js";
import { buildRaApp, listenRa } from "../http/ra-server.js";
import { PortalSessions } from "../http/portal.routes.js";
import { KnexPortalSessionStore } from "../store/portal-session.store.js";
import { toPem } from "../asn1/der.js";
import { APP_ROOT, type Config } from "./config.js";
import { openRa } from "./ra.js";
import { auditSignerNames, openAuditTrail, type AuditTrail } from "./audit.js";
import { KnexAuditStore } from "../store/audit.store.js";
import { KnexCertificateCounts } from "../store/certificate-counts.store.js";
import { auditAccess } from "./audit-access.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { cardStation } from "./cards.js";
import { openDelivery } from "./delivery.js";
import { openSelfService } from "./self-service.js";
import { newId } from "../shared/ids.js";
import type { Clock } from "../shared/clock.js";
import { useEmbeddedSoftHsm } from "./ca-settings.js";
import { openRaCaSide, signerClient, type RaCaSide } from "./ra-role.js";
import { signerChannelComponent } from "./signer-channel.js";
import { tryWriterLock, type WriterLock } from "../store/writer-lock.js";
import { CaError } from "../shared/ca-error.js";
import { logger } from "../shared/log.js";
import { Lifecycle } from "./lifecycle.js";
import { loop, type Loop } from "./loop.js";
import { bureauTracking } from "./bureau-tracking.js";
import { Observability } from "./observability.js";
import { openCaRecords, type CaRecords } from "./ca-records.js";
import { caInProcess, openCaSigner, type CaInProcess, type CaSigner } from "./ca-signer-role.js";
import { openPublicRole, type PublicRole } from "./public-role.js";
import { openKeystores, type Keystores } from "./keystores.js";
import type { Ra } from "./ra.js";

const log = logger("serve");

/**
 * `all`: the CA signer, the RA and the public endpoints in one process (the writer: one per
 * database, elected by the writer lease). `public`: a stateless replica with OCSP, CRL, CA
 * certificates, health and metrics only (no CA key, no issuer). `ca-signer`: the CA keys, CRL
 * signing, crash recovery and audit checkpoints, answering the signer channel (mutual TLS) and
 * nothing public. `ra`: the RA API, portal and delivery; signs through the signer channel.
 */
export type ServeRole = "all" | "public" | "ca-signer" | "ra";
export const SERVE_ROLES: readonly ServeRole[] = ["all", "public", "ca-signer", "ra"];

/** What any role's process offers. */
export interface RoleService {
  readonly role: ServeRole;
  /** The CA records and signer when this process holds them (role `all`). */
  readonly parts?: CaInProcess;
  /** The HTTP listener: public endpoints (all, public) or health and metrics only (ca-signer, ra). */
  readonly server: Server;
  readonly url: string;
  readonly ocsp?: OcspResponder;
  /** The signer channel (role ca-signer). */
  readonly signer?: { readonly server: HttpsServer; readonly url: string };
  /** The issuing CAs this process serves. */
  readonly cas: readonly string[];
  /** The RA API (HTTPS, mTLS) when its TLS files are configured. */
  readonly ra?: { readonly ra: Ra; readonly server: HttpsServer; readonly url: string };
  /** Stops; with drainMs, /healthz says "draining" that long before the listener closes. */
  stop(drainMs?: number): Promise<void>;
}

/** The `all` process: the CA records and signer are there (tests and the demo reach into them). */
export interface Service extends RoleService {
  readonly parts: CaInProcess;
  readonly ocsp: OcspResponder;
}

export interface ServiceOptions {
  /** How often revocation events are read (OCSP invalidation, CRL nudge). */
  readonly eventPollMs?: number;
  /** How often the CRL schedule runs. */
  readonly crlTickMs?: number;
  /** How often the OCSP producer takes its next bounded step (default 1 s). */
  readonly ocspSweepMs?: number;
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
    if (!announced)
      log.info("standby: another CA process holds the writer lease; waiting", { retryMs: opts.leaseRetryMs ?? 2000 });
    announced = true;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, opts.leaseRetryMs ?? 2000);
      opts.signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(t);
          reject(new CaError("unavailable", "stopped while waiting for the writer lease"));
        },
        { once: true },
      );
    });
  }
}

/** The writer lease as a component: its fence refuses signing once the lease is lost. */
async function leaseComponent(config: Config, opts: ServiceOptions, obs: Observability) {
  const lease = await acquireLease(config, opts);
  let fencedBy: Error | undefined;
  void lease.lost.then((e) => {
    fencedBy = e;
    log.error("writer lease lost: signing stopped", { error: e });
    opts.onLeaseLost?.(e);
  });
  obs.check("writer-lease", async () => {
    if (fencedBy) throw fencedBy;
  });
  return {
    name: "writer-lease",
    stop: () => lease.release(),
    fence: () => {
      if (fencedBy)
        throw new CaError("unavailable", `this process no longer holds the writer lease (${fencedBy.message})`);
    },
  };
}

/**
 * The CA signer's jobs: crash recovery at open, the CRL schedule (nudged by revocation events)
 * and the health of each CA key by a token check (a probe never signs).
 */
async function signerComponent(
  rec: CaRecords,
  keystores: Keystores,
  fence: () => void,
  obs: Observability,
  opts: ServiceOptions,
) {
  const signer = await openCaSigner(rec, { recover: true, fence, keystores, ocsp: true });
  const { authorities } = signer;
  obs.countSignatures(signer.signing);
  for (const [id, probe] of signer.probes) obs.check(`hsm:${id}`, probe);
  obs.metrics.gauge(
    "cardpki_hsm_up",
    "1 when the issuing CA key's token answers with a logged-in session and the key, 0 when not",
    async () =>
      Promise.all(
        [...signer.probes].map(async ([ca, probe]) => ({
          labels: { ca },
          value: await probe().then(
            () => 1,
            () => 0,
          ),
        })),
      ),
  );
  let crlLoop: Loop | undefined;
  let eventLoop: Loop | undefined;
  let ocspLoop: Loop | undefined;
  return {
    name: "ca-signer",
    signer,
    async start() {
      crlLoop = loop(
        "crl schedule",
        opts.crlTickMs ?? Math.min(10_000, rec.revocationPolicy.crl.afterRevocationSeconds * 500),
        async () => {
          for (const a of authorities.values()) await signer.crls.tick(a);
        },
      );
      let lastSeq = await rec.revocations.lastEventSeq();
      eventLoop = loop("crl nudge", opts.eventPollMs ?? 200, async () => {
        const events = await rec.revocations.eventsSince(lastSeq);
        if (events.length === 0) return;
        lastSeq = events[events.length - 1]!.seq;
        void crlLoop?.kick(); // REQ-17: the CRL follows a revocation on the next tick
        // REQ-17: the pre-produced OCSP response follows the change now.
        await signer.ocsp?.statusChanged([...new Set(events.map((e) => e.serial))]);
      });
      const producer = signer.ocsp;
      if (producer)
        // Issued certificates, responses nearing nextUpdate and the backfill: bounded steps (no wave).
        ocspLoop = loop("ocsp producer", opts.ocspSweepMs ?? 1000, async () => {
          // Drains what is due a batch at a time (bounded per tick; the backfill goes one page per tick).
          for (let i = 0; i < 50 && (await producer.sweep()) > 0 && !producer.backfilling; i++);
        });
      await crlLoop.kick(); // a current CRL before the first request
    },
    async stop() {
      await eventLoop?.stop();
      await ocspLoop?.stop();
      await crlLoop?.stop();
      await signer.close();
    },
  };
}

/** OCSP, CRLs and CA certificates with their health and metrics; OCSP caches follow revocation events. */
async function publicComponent(rec: CaRecords, keystores: Keystores, obs: Observability, opts: ServiceOptions) {
  const pub = await openPublicRole(rec, keystores, { writable: opts.role === undefined || opts.role === "all" });
  const { authorities, ocsp } = pub;
  const { revocations, clock } = rec;
  const now = () => clock.now().getTime();
  const { metrics } = obs;
  obs.countSignatures(pub.signing);
  metrics.gauge("cardpki_crl_age_seconds", "Age of the latest full CRL per issuing CA", async () =>
    Promise.all(
      [...authorities.values()].map(async (a) => ({
        labels: { ca: a.id },
        value: ((c) => (c ? (now() - c.thisUpdate.getTime()) / 1000 : -1))(await revocations.latestCrl(a.id, "full")),
      })),
    ),
  );
  metrics.gauge(
    "cardpki_crl_seconds_to_next_update",
    "Seconds until the latest full CRL's nextUpdate (negative: stale)",
    async () =>
      Promise.all(
        [...authorities.values()].map(async (a) => ({
          labels: { ca: a.id },
          value: ((c) => (c ? (c.nextUpdate.getTime() - now()) / 1000 : -1))(await revocations.latestCrl(a.id, "full")),
        })),
      ),
  );
  // Counts kept by triggers (table certificate_counts): a scrape never scans the population.
  const counts = new KnexCertificateCounts(rec.readDb);
  metrics.gauge("cardpki_certificates", "Certificates in the store by status", async () =>
    Object.entries(await counts.byStatus()).map(([status, value]) => ({ labels: { status }, value })),
  );
  metrics.gauge(
    "cardpki_certificates_issued_total",
    "Certificates signed and stored, by profile",
    async () =>
      Object.entries(await counts.issuedByProfile()).map(([profile, value]) => ({
        labels: { profile },
        value,
      })),
    "counter",
  );
  obs.check("database", () => pingDatabase(rec.db));
  for (const a of authorities.values())
    obs.check(`crl:${a.id}`, async () => {
      const c = await revocations.latestCrl(a.id, "full");
      if (!c || c.nextUpdate <= clock.now()) throw new Error("no current CRL");
    });
  obs.check("ocsp", async () => ocsp.checkResponders());
  let eventLoop: Loop | undefined;
  return {
    name: "public",
    pub,
    async start() {
      let lastSeq = await revocations.lastEventSeq();
      eventLoop = loop("revocation events", opts.eventPollMs ?? 200, async () => {
        const events = await revocations.eventsSince(lastSeq);
        if (events.length === 0) return;
        lastSeq = events[events.length - 1]!.seq;
        // REQ-17: OCSP shows a revocation within a second (the signer re-signs; memory drops the old answer).
        ocsp.invalidate(new Set(events.map((e) => e.serial)));
      });
    },
    async stop() {
      await eventLoop?.stop();
    },
  };
}

/** The audit trail's metrics; with the audit signer, the scheduled checkpoint and a last one at stop (REQ-27). */
function auditComponent(store: KnexAuditStore, obs: Observability, config: Config, trail?: AuditTrail) {
  obs.metrics.gauge("cardpki_audit_unprotected_entries", "Audit entries after the last signed checkpoint", async () => {
    const [head, cp] = await Promise.all([store.head(), store.latestCheckpoint()]);
    return [{ labels: {}, value: head ? head.seq - (cp?.seq ?? 0) : 0 }];
  });
  // REQ-18: every mass-revocation or self-service rate alarm, from the audit trail (survives restarts, the same on
  // every replica).
  obs.metrics.gauge(
    "cardpki_revocation_alarms_total",
    "Revocation threshold alarms raised (audit events revocation.alarm.*), by kind",
    async () =>
      Object.entries(await store.countActions("revocation.alarm.")).map(([action, value]) => ({
        labels: { kind: action.slice("revocation.alarm.".length) },
        value,
      })),
    "counter",
  );
  let checkpointLoop: Loop | undefined;
  return {
    name: "audit",
    async start() {
      if (!trail) return;
      checkpointLoop = loop("audit checkpoint", config.audit.checkpointSeconds * 1000, () => trail.checkpoint());
      void checkpointLoop.kick();
    },
    async stop() {
      if (!checkpointLoop) return;
      await checkpointLoop.stop();
      // the last word before shutdown
      await trail?.checkpoint().catch((e) => log.error("last audit checkpoint failed", { error: e }));
    },
  };
}

/** The public HTTP listener (OCSP on the hot path, CRL, CA certificates, /healthz, /metrics). */
async function httpComponent(config: Config, pub: PublicRole | undefined, obs: Observability, rec: CaRecords) {
  const app = buildApp({
    metrics: obs.metrics,
    cas: pub?.published ?? (() => []),
    crl: pub?.crl ?? (async () => undefined),
    health: obs.health,
    clock: rec.clock, // cache lifetimes and OCSP times from the service's clock
  });
  const server = await listen(app, config.host, config.port, {
    clock: rec.clock,
    ...(pub ? { ocsp: { service: pub.ocsp, maxBodyBytes: rec.revocationPolicy.ocsp.maxBodyBytes } } : {}),
    metrics: obs.metrics,
    draining: () => obs.draining,
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  return { name: "http", server, url: `http://${hostOf(config)}:${port}`, stop: () => closeGracefully(server, 30_000) };
}

const hostOf = (config: Config) => (config.host === "0.0.0.0" ? "127.0.0.1" : config.host);

/**
 * The RA: engine, API, portal, self-service pages, delivery of the outbox and its sweeps. Needs the
 * RA TLS files; issues and revokes through the CA side's port (in process, or the signer channel).
 */
async function raComponent(
  side: RaCaSide,
  trail: AuditTrail,
  obs: Observability,
  opts: ServiceOptions,
  withCardStation: boolean,
) {
  const { config, caDir, authorities } = side;
  // The applicant's link (contract: <ra.publicUrl>/applicant/#order=…&token=…); by default the port the RA API
  // listens on.
  let publicUrl = config.ra.publicUrl;
  const ra = await openRa(side, { publicUrl: () => publicUrl });
  // Production saga recovery before the first request: PRODUCING orders compensated, orphan card certificates revoked.
  const recovered = await ra.saga.recover({ staleMs: 0 });
  if (recovered.compensated.length + recovered.revoked.length > 0) log.warn("production recovery", recovered);
  // REQ-15: the outbox is delivered by the writer; channels without settings wait.
  const d = openDelivery(side, ra);
  obs.metrics.gauge(
    "cardpki_notifications",
    "Outbox messages by delivery state (pending, retrying, delivered, dead) and channel",
    async () =>
      (await d.store.counts()).map((r) => ({ labels: { state: r.state, channel: r.channel }, value: r.count })),
  );
  const clientCas = [...authorities.values()].flatMap((a) => {
    const ca = caDir.load(a.id);
    return [ca.certDer, ...ca.chainDer].map((der) => toPem("CERTIFICATE", der));
  });
  const bureau = bureauTracking(side, ra, obs, trail.store); // CPS 4.4.1: not-received sweep and alarms
  const self = openSelfService(side, ra); // applicant and holder pages
  const auditReads = auditAccess(side, trail); // REQ-23/27/31: scoped, capped, audited
  const app = buildRaApp(
    {
      resolve: (serial, der) => ra.resolver.resolve(serial, der),
      names: ra.names,
      directory: ra.directory,
      onboarding: ra.onboarding,
      orders: ra.orders,
      desk: ra.desk,
      activation: ra.activation,
      grants: ra.grants,
      applicant: self.applicant,
      holder: self.holder,
      audit: (e) => recordAuditEvent(side.db, e),
      evidence: (serial, reader) => auditReads.evidence(serial, { kind: "actor", actor: reader }),
      report: (from, to, reader) => auditReads.report(from, to, { kind: "actor", actor: reader }),
      timeline: async (orderId) =>
        (await trail.store.forObject("order", orderId)).map((e) => ({
          at: e.at,
          actor: e.actor,
          action: e.action,
          outcome: e.outcome,
          policy: e.policy,
        })),
      // The PC/SC station in the RA's own process only in `all` (the demo); split, it is its own process (cardpki card
      // ... --officer).
      ...(withCardStation ? { cardStation: cardStation(side, ra) } : {}),
      delivery: d,
      newId: () => newId(side.random),
      now: () => side.clock.now(),
    },
    "1",
    {
      assetsDir: join(APP_ROOT, "src", "http", "portal-assets"),
      sessions: new PortalSessions(new KnexPortalSessionStore(side.db)),
    },
    { ownOrigins: config.ra.publicUrlConfigured ? [new URL(config.ra.publicUrl).origin] : [] },
  ); // REQ-22: the RA's own web origin besides the Host it is reached by
  let server: HttpsServer | undefined;
  let url = "";
  const loops: Loop[] = [];
  return {
    name: "ra",
    ra,
    get server() {
      return server!;
    },
    get url() {
      return url;
    },
    async start() {
      server = await listenRa(
        app,
        { key: readFileSync(config.ra.tlsKey), cert: readFileSync(config.ra.tlsCert), clientCas },
        config.host,
        config.ra.port,
        {
          handshakeTimeoutMs: config.ra.tlsHandshakeTimeoutSeconds * 1000,
          maxConnections: config.ra.maxConnections,
          maxConnectionsPerClient: config.ra.maxConnectionsPerClient,
        },
      );
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : config.ra.port;
      url = `https://${hostOf(config)}:${port}`;
      if (!config.ra.publicUrlConfigured) publicUrl = `https://localhost:${port}`;
      if (d.worker.channelNames.length > 0) {
        loops.push(loop("delivery", config.delivery.pollMs, () => d.worker.tick()));
        log.info("delivering the outbox", { channels: d.worker.channelNames });
      } else log.warn("outbox delivery off: no channel configured (see README, Delivery)");
      // REQ-15: cards not activated in time are blocked automatically.
      const expiry = loop("order expiry", config.ra.expirySweepSeconds * 1000, () => ra.expiry.sweep());
      loops.push(expiry);
      void expiry.kick();
      loops.push(
        loop("production recovery", opts.productionSweepMs ?? 60_000, () =>
          ra.saga.recover({ orphanWindowMs: 86_400_000 }),
        ),
      );
      loops.push(bureau.start());
    },
    async stop() {
      if (server) await closeGracefully(server, 30_000);
      for (const l of loops) await l.stop();
      await d.worker.close();
    },
  };
}

/**
 * Starts the service as one ordered list of components (stopped in reverse). Role `all`: waits
 * for the writer lease, runs crash recovery, serves the public endpoints and the RA API, and runs
 * the background jobs that keep CRLs, pre-signed OCSP responses and audit checkpoints fresh
 * (REQ-17..20, 27). Role `public`: OCSP, CRL and CA certificates from the shared database,
 * read-only, without the CA key.
 */
export async function startService(config: Config, opts?: ServiceOptions & { readonly role?: "all" }): Promise<Service>;
export async function startService(config: Config, opts?: ServiceOptions): Promise<RoleService>;
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<RoleService> {
  const role = opts.role ?? "all";
  if (!SERVE_ROLES.includes(role))
    throw new CaError("invalid-input", `unknown role '${String(role)}' (${SERVE_ROLES.join(", ")})`);
  useEmbeddedSoftHsm(config);
  const life = new Lifecycle();
  const obs = new Observability();
  // The CA signer (alone or in `all`) is the writer that signs: it holds the lease (REQ-33).
  const signs = role === "all" || role === "ca-signer";
  const lease = signs ? await life.add(() => leaseComponent(config, opts, obs)) : undefined;
  const rec = await life
    .add(async () => {
      const r = await openCaRecords(config, {
        readOnly: role === "public",
        ...(opts.clock ? { clock: opts.clock } : {}),
      });
      return { name: "ca-records", r, stop: () => r.close() };
    })
    .then((c) => c.r);
  const keystores = await life
    .add(() => {
      const k = openKeystores(config);
      return { name: "keystores", k, stop: () => k.close() };
    })
    .then((c) => c.k);
  const signer: CaSigner | undefined = lease
    ? (await life.add(() => signerComponent(rec, keystores, lease.fence, obs, opts))).signer
    : undefined;
  const pub =
    role === "all" || role === "public"
      ? (await life.add(() => publicComponent(rec, keystores, obs, opts))).pub
      : undefined;
  if (!pub) obs.check("database", () => pingDatabase(rec.db));
  let channel: RoleService["signer"];
  if (role === "ca-signer") {
    const c = await life.add(() => signerChannelComponent(rec, signer!));
    channel = { server: c.server, url: c.url };
  }
  const parts = signer ? caInProcess(rec, signer) : undefined;
  let raSide: RaCaSide | undefined = parts;
  if (role === "ra") {
    const client = await life
      .add(() => {
        const c = signerClient(rec);
        return { name: "signer-client", c, stop: async () => c.close() };
      })
      .then((x) => x.c);
    // The RA fails closed at start when the signer does not answer or does not hold its CAs.
    raSide = await openRaCaSide(rec, keystores, client);
    obs.check("ca-signer", async () => {
      const down = (await client.describe()).filter((c) => !c.keyReady);
      if (down.length > 0) throw new Error(down.map((c) => `${c.id}: ${c.keyError ?? "key not ready"}`).join("; "));
    });
  }
  // Audit checkpoints are signed by the writer that holds the HSM (the CA signer); every role exports the trail's
  // metrics.
  const trail = raSide ? openAuditTrail(raSide) : undefined;
  const checkpoints = signs && trail !== undefined && auditSignerNames(config.caStoreDir).length > 0;
  if (signs && !checkpoints)
    log.warn("audit checkpoints off: no audit signer (run an audit-signer ceremony)", { caStore: config.caStoreDir });
  const http = await life.add(() => httpComponent(config, pub, obs, rec));
  await life.add(() =>
    auditComponent(
      trail?.store ?? new KnexAuditStore(rec.db, rec.readDb),
      obs,
      config,
      checkpoints ? trail : undefined,
    ),
  );
  let raPart: RoleService["ra"];
  const withRa = role === "all" || role === "ra";
  if (
    withRa &&
    raSide &&
    trail &&
    existsSync(config.ra.tlsCert) &&
    existsSync(config.ra.tlsKey) &&
    raSide.authorities.size > 0
  ) {
    const [rt, t] = [raSide, trail];
    const c = await life.add(() => raComponent(rt, t, obs, opts, role === "all"));
    raPart = { ra: c.ra, server: c.server, url: c.url };
  } else if (withRa) {
    log.warn("RA API off: no TLS certificate/key", { cert: config.ra.tlsCert, key: config.ra.tlsKey });
  }
  obs.starting = false; // every listener of the role is up: /healthz may say 200
  const stop = async (drainMs = 0) => {
    // Zero-downtime restart: /healthz turns 503 first, the load balancer moves traffic, then the listeners close.
    obs.draining = true;
    if (drainMs > 0) {
      log.info("draining", { ms: drainMs });
      await new Promise((r) => setTimeout(r, drainMs));
    }
    await life.stop();
    log.info("stopped", { role });
  };
  return {
    role,
    ...(parts ? { parts } : {}),
    server: http.server,
    url: http.url,
    ...(pub ? { ocsp: pub.ocsp } : {}),
    cas: [...(pub?.authorities ?? raSide?.authorities ?? signer?.authorities ?? new Map()).keys()],
    ...(raPart ? { ra: raPart } : {}),
    ...(channel ? { signer: channel } : {}),
    stop,
  };
}

import { Metrics } from "../http/metrics.js";
import type { HealthCheck } from "../http/server.js";
import type { SigningStats } from "./signing-stats.js";

/**
 * The health checks and metrics of one process: each component registers what it observes
 * when it starts; /healthz and /metrics read them at request time.
 */
export class Observability {
  readonly metrics = new Metrics();
  readonly health: HealthCheck[] = [];
  private readonly signing: SigningStats[] = [];
  draining = false;
  /** Until every part of the role serves (the RA API listens after /healthz does). */
  starting = true;

  constructor() {
    // A starting or draining process reports 503: the load balancer sends it connections only while all of it serves.
    this.check("lifecycle", async () => {
      if (this.draining) throw new Error("draining");
      if (this.starting) throw new Error("starting");
    });
    // One series per key: parts of one process that sign with the same key (OCSP producer and responder) add up.
    const perKey = (pick: (s: SigningStats) => Map<string, number>) => async () => {
      const sum = new Map<string, number>();
      for (const s of this.signing) for (const [key, value] of pick(s)) sum.set(key, (sum.get(key) ?? 0) + value);
      return [...sum].map(([key, value]) => ({ labels: { key }, value }));
    };
    this.metrics.gauge(
      "cardpki_hsm_signatures_total",
      "Signatures made in the HSM by this process, per key (ca:<id>, ocsp:<ca>/<label>)",
      perKey((s) => s.ok),
      "counter",
    );
    this.metrics.gauge(
      "cardpki_hsm_errors_total",
      "HSM signing failures in this process, per key",
      perKey((s) => s.failed),
      "counter",
    );
  }

  check(name: string, check: () => Promise<void>): void {
    this.health.push({ name, check });
  }

  /** Signature counters of a component that signs (CA keys, OCSP responder keys). */
  countSignatures(stats: SigningStats): void {
    this.signing.push(stats);
  }
}

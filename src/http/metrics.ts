import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics through prom-client: counters and histograms updated in process, values
 * read at scrape time (database counts, signer totals), and prom-client's default process and
 * Node.js metrics, event-loop lag included (`nodejs_eventloop_lag_seconds`, `_p99_seconds`...).
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

type Labels = Readonly<Record<string, string>>;
type Read = () => Promise<readonly { labels: Labels; value: number }[]>;

/** Label names in a fixed (sorted) order, so that a line reads the same whatever order the caller used. */
const sorted = (l: Labels): Record<string, string> =>
  Object.fromEntries(Object.entries(l).sort(([a], [b]) => a.localeCompare(b)));

export class Metrics {
  /** The prom-client registry: a component may register its own prom-client metrics here. */
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly scraped: {
    name: string;
    help: string;
    type: "gauge" | "counter";
    read: Read;
    metric?: Gauge | Counter;
  }[] = [];

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c)
      this.counters.set(
        name,
        (c = new Counter({ name, help, labelNames: Object.keys(labels).sort(), registers: [this.registry] })),
      );
    c.inc(sorted(labels), by);
  }

  observe(name: string, help: string, seconds: number): void {
    let h = this.histograms.get(name);
    if (!h)
      this.histograms.set(name, (h = new Histogram({ name, help, buckets: BUCKETS, registers: [this.registry] })));
    h.observe(seconds);
  }

  /** A value read at scrape time; `type` counter for totals kept elsewhere (the database, a signer). */
  gauge(name: string, help: string, read: Read, type: "gauge" | "counter" = "gauge"): void {
    this.scraped.push({ name, help, type, read });
  }

  async render(): Promise<string> {
    await Promise.all(
      this.scraped.map(async (g) => {
        let rows: Awaited<ReturnType<Read>>;
        try {
          rows = await g.read();
        } catch {
          rows = []; // a value that cannot be read is left out of this scrape (the health check says why)
        }
        // Label names come from the first rows read (prom-client fixes them when the metric is made).
        if (!g.metric) {
          const labelNames = [...new Set(rows.flatMap((r) => Object.keys(r.labels)))].sort();
          if (rows.length === 0 && labelNames.length === 0) return;
          const opts = { name: g.name, help: g.help, labelNames, registers: [this.registry] };
          g.metric = g.type === "counter" ? new Counter(opts) : new Gauge(opts);
        }
        const m = g.metric;
        m.reset();
        for (const r of rows) {
          try {
            if (m instanceof Counter) m.inc(sorted(r.labels), r.value);
            else m.set(sorted(r.labels), r.value);
          } catch {
            // a row with other label names than the first scrape: left out
          }
        }
      }),
    );
    return this.registry.metrics();
  }
}

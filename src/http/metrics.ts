/**
 * Prometheus text exposition (format 0.0.4) without a client library: counters and histograms
 * updated in process, gauges read when /metrics is scraped.
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

type Labels = Readonly<Record<string, string>>;
const key = (l: Labels) => Object.entries(l).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`).join(",");

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly histograms = new Map<string, { help: string; counts: number[]; sum: number; n: number }>();
  private readonly gauges: { name: string; help: string; type: "gauge" | "counter"; read: () => Promise<readonly { labels: Labels; value: number }[]> }[] = [];

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const k = key(labels);
    c.values.set(k, (c.values.get(k) ?? 0) + by);
  }

  observe(name: string, help: string, seconds: number): void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = { help, counts: BUCKETS.map(() => 0), sum: 0, n: 0 }));
    BUCKETS.forEach((b, i) => void (seconds <= b && h!.counts[i]!++));
    h.sum += seconds;
    h.n++;
  }

  /** A value read at scrape time; `type` counter for totals kept elsewhere (the database, a signer). */
  gauge(name: string, help: string, read: () => Promise<readonly { labels: Labels; value: number }[]>, type: "gauge" | "counter" = "gauge"): void {
    this.gauges.push({ name, help, read, type });
  }

  async render(): Promise<string> {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}${k ? `{${k}}` : ""} ${v}`);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      BUCKETS.forEach((b, i) => out.push(`${name}_bucket{le="${b}"} ${h.counts[i]}`));
      out.push(`${name}_bucket{le="+Inf"} ${h.n}`, `${name}_sum ${h.sum}`, `${name}_count ${h.n}`);
    }
    for (const g of this.gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} ${g.type}`);
      try {
        for (const v of await g.read()) out.push(`${g.name}${Object.keys(v.labels).length ? `{${key(v.labels)}}` : ""} ${v.value}`);
      } catch {
        // a gauge that cannot be read is left out of this scrape (the health check says why)
      }
    }
    return out.join("\n") + "\n";
  }
}

import { LRUCache } from "lru-cache";
import type { Clock } from "../../shared/clock.js";

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Signatures on demand per client address: a token bucket each (perSecond refill, burst size),
 * the buckets themselves bounded (LRU), so no client turns OCSP into an HSM load generator.
 */
export class SigningBudget {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
    clients = 100_000,
  ) {
    this.buckets = new LRUCache({ max: clients });
  }

  /** Takes one signature from the client's budget; false when it has none left. */
  take(client: string | undefined): boolean {
    const key = client ?? "";
    const now = this.clock.now().getTime();
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: this.burst, at: now }));
    else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

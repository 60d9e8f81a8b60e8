import type { OrderView } from "./order.js";

export type RememberedOrder = OrderView & { readonly version: number; readonly workflowId: string };

/**
 * The orders this process wrote or read last, by id, at the version it wrote or read them. A
 * remembered order is a guess, never a verdict: an action decided on it is written compare-and-set
 * on that version (REQ-10), and a lost compare-and-set or a refusal on a remembered order is
 * decided again on the order as stored. So another process (or a sweep) that changed the order
 * costs one extra read; it is never acted on stale. Reads shown to people (`view`) do not use it.
 */
export class RecentOrders {
  private readonly orders = new Map<string, RememberedOrder>();

  /** At most this many orders; the least recently used goes first. */
  constructor(private readonly limit = 4096) {}

  get(id: string): RememberedOrder | undefined {
    const o = this.orders.get(id);
    if (o) {
      this.orders.delete(id);
      this.orders.set(id, o);
    }
    return o;
  }

  put(o: RememberedOrder): void {
    this.orders.delete(o.id);
    this.orders.set(o.id, o);
    if (this.orders.size > this.limit) this.orders.delete(this.orders.keys().next().value!);
  }

  drop(id: string): void {
    this.orders.delete(id);
  }

  get size(): number {
    return this.orders.size;
  }
}

/**
 * Runs `use` on the remembered order if there is one, else on the stored one. When `use` throws
 * for a remembered order before it wrote anything (`wrote` still false), or because its
 * compare-and-set lost (`lost`), the order is read from the store and `use` runs once more on it.
 */
export async function onOrder<T>(
  recent: RecentOrders,
  id: string,
  load: (id: string) => Promise<RememberedOrder | undefined>,
  use: (o: RememberedOrder | undefined, attempt: { wrote: boolean; lost: boolean }) => Promise<T>,
): Promise<T> {
  const remembered = recent.get(id);
  if (remembered) {
    const attempt = { wrote: false, lost: false };
    try {
      return await use(remembered, attempt);
    } catch (e) {
      if (attempt.wrote && !attempt.lost) throw e;
      recent.drop(id);
    }
  }
  const stored = await load(id);
  if (stored) recent.put(stored);
  return use(stored, { wrote: false, lost: false });
}

import type { Clock } from "../../shared/clock.js";
import type { RevocationPolicy } from "../../policy/revocation-policy.js";
import type { OcspResponseStore, OcspSubject, StoredOcspResponse } from "../ports.js";
import { sha1Request, signOcsp, statusFor, storedResponse, type OcspIssuer } from "./ocsp-signing.js";
import { logger } from "../../shared/log.js";

const log = logger("ocsp-producer");

export interface OcspProducerOptions {
  /** Rows signed per sweep step (bounded: the re-signing is spread over time). */
  readonly batch?: number;
  /** Signatures in flight at once. */
  readonly concurrency?: number;
}

/**
 * Pre-produces OCSP responses into the response store (the CA signer role only; replicas read
 * them): one signature when a certificate is issued or its status changes, one more only as a
 * response nears the end of its validity (the sweep), nothing at start-up. Certificates issued
 * before the store existed are filled in by a background pass, a bounded page at a time.
 */
export class OcspProducer {
  private readonly byId: Map<string, OcspIssuer>;
  private readonly batch: number;
  private readonly concurrency: number;
  private pendingIssued = new Set<string>();
  /** Backfill cursor per issuer (undefined when done). */
  private readonly backfillAfter = new Map<string, string>();
  private tail: Promise<unknown> = Promise.resolve();
  signatures = 0;

  constructor(
    issuers: readonly OcspIssuer[],
    private readonly responses: OcspResponseStore,
    private readonly policy: RevocationPolicy,
    private readonly clock: Clock,
    opts: OcspProducerOptions = {},
  ) {
    this.byId = new Map(issuers.map((i) => [i.ca.id, i]));
    for (const i of issuers) this.backfillAfter.set(i.ca.id, "");
    this.batch = opts.batch ?? 200;
    this.concurrency = opts.concurrency ?? 16;
  }

  /**
   * The hook for every status change (revoke, hold, resume, release, a mass revocation batch):
   * signs and stores the response of each serial now; returns how many were signed.
   */
  statusChanged(serials: readonly string[]): Promise<number> {
    return this.exclusive(() => this.resign(serials));
  }

  /**
   * One piece of producing work at a time: a page whose statuses were read before a revocation
   * must be stored before the revocation's own re-signing, never after it (else a stale "good"
   * would replace "revoked" until the next refresh). RFC 6960 2.4: a response says the status at thisUpdate.
   */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async resign(serials: readonly string[]): Promise<number> {
    if (serials.length === 0) return 0;
    let n = 0;
    for (let i = 0; i < serials.length; i += this.batch) {
      const part = serials.slice(i, i + this.batch);
      const subjects = await this.responses.subjects(part);
      n += await this.produce(subjects);
      // A stored serial without a certificate row any more is not re-signed for ever.
      const known = new Set(subjects.map((s) => s.serial));
      const lost = part.filter((s) => !known.has(s));
      if (lost.length > 0) for (const id of this.byId.keys()) await this.responses.remove(id, lost);
    }
    return n;
  }

  /** A certificate was issued: its response is signed on the next flush (batched, off the issuance path). */
  issued(serial: string): void {
    this.pendingIssued.add(serial);
  }

  /** Signs the responses of certificates issued since the last flush. */
  flushIssued(): Promise<number> {
    return this.exclusive(() => this.flushPending());
  }

  private flushPending(): Promise<number> {
    if (this.pendingIssued.size === 0) return Promise.resolve(0);
    const serials = [...this.pendingIssued];
    this.pendingIssued = new Set();
    return this.resign(serials);
  }

  /**
   * One step of the re-signing sweep: at most `batch` rows whose refreshAt has come, oldest first
   * (indexed); then one page of the backfill. Returns the signatures made.
   */
  sweep(): Promise<number> {
    return this.exclusive(() => this.sweepStep());
  }

  private async sweepStep(): Promise<number> {
    let n = await this.flushPending();
    const due = await this.responses.due(this.clock.now(), this.batch);
    if (due.length > 0) n += await this.resign(due.map((d) => d.serial));
    for (const [issuerId, after] of this.backfillAfter) {
      const page = await this.responses.missing(issuerId, this.clock.now(), after, this.batch * 10);
      if (page.next === undefined) this.backfillAfter.delete(issuerId);
      else this.backfillAfter.set(issuerId, page.next);
      if (page.subjects.length > 0) n += await this.produce(page.subjects);
      break; // one page per step
    }
    return n;
  }

  /** True while certificates issued before the response store are still being filled in. */
  get backfilling(): boolean {
    return this.backfillAfter.size > 0;
  }

  private async produce(subjects: readonly OcspSubject[]): Promise<number> {
    const now = this.clock.now();
    const rows: StoredOcspResponse[] = [];
    const gone = new Map<string, string[]>();
    const work = subjects.map((s) => async () => {
      const issuer = this.byId.get(s.issuerId);
      if (!issuer) return;
      // An expired certificate is not re-signed (asked about, it is signed just in time).
      if (s.notAfter <= now || (s.status !== "issued" && s.status !== "unfinished")) {
        gone.set(s.issuerId, [...(gone.get(s.issuerId) ?? []), s.serial]);
        return;
      }
      const status = statusFor(issuer, s);
      const signed = await signOcsp(issuer, [sha1Request(issuer, s.serial)], [status], undefined, now, this.policy);
      this.signatures++;
      rows.push(storedResponse(issuer, s.serial, status, signed, this.policy));
    });
    for (let i = 0; i < work.length; i += this.concurrency)
      await Promise.all(work.slice(i, i + this.concurrency).map((w) => w()));
    await this.responses.put(rows);
    for (const [issuerId, serials] of gone) await this.responses.remove(issuerId, serials);
    if (rows.length > 0) log.debug("responses produced", { count: rows.length });
    return rows.length;
  }
}

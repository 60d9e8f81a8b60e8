import { LRUCache } from "lru-cache";

import { CaError } from "../../shared/ca-error.js";
import type { Clock } from "../../shared/clock.js";
import type { RevocationPolicy } from "../../policy/revocation-policy.js";
import type { OcspResponseStore, RevocationStore } from "../ports.js";
import { MalformedOcspRequest, parseOcspRequest, type CertIdRequest } from "./ocsp-request.js";
import { OCSP_STATUS, errorResponse, type CertStatus } from "./ocsp-response.js";
import {
  HASHES,
  SHA1,
  issuerHashes,
  sameStatus,
  signOcsp,
  statusFor,
  storedResponse,
  type OcspIssuer,
  type SignedOcsp,
} from "./ocsp-signing.js";
import { SigningBudget } from "./signing-budget.js";
import { logger } from "../../shared/log.js";

export type { OcspIssuer } from "./ocsp-signing.js";

const log = logger("ocsp");

export interface OcspAnswer {
  readonly der: Uint8Array;
  /** Set for successful responses: HTTP caching follows them (RFC 5019 6). */
  readonly thisUpdate?: Date;
  readonly nextUpdate?: Date;
  readonly cacheable: boolean;
}

interface Cached {
  readonly answer: OcspAnswer;
  readonly nextUpdate: number;
  /** Served from memory until then; afterwards the store is read again (the signer re-signed). */
  readonly until: number;
}

const UNAUTHORIZED: OcspAnswer = { der: errorResponse(OCSP_STATUS.unauthorized), cacheable: false };
const TRY_LATER: OcspAnswer = { der: errorResponse(OCSP_STATUS.tryLater), cacheable: false };
const MALFORMED: OcspAnswer = { der: errorResponse(OCSP_STATUS.malformedRequest), cacheable: false };

export interface OcspResponderOptions {
  /** Pre-produced responses (the CA signer role writes them). */
  readonly responses: OcspResponseStore;
  /** This process is the database writer: what it signs on a miss is stored for every replica. */
  readonly writable: boolean;
}

/**
 * OCSP responder (RFC 6960, RFC 5019 profile). A request is answered from a bounded LRU, else from
 * the pre-produced response in the database, else signed just in time (stored when this process
 * writes the database). Nonces follow the policy (echo or ignore); signatures on demand are
 * budgeted per client; a never-issued serial is never "good" (signed unknown or the unsigned
 * unauthorized of RFC 5019 2.2.3). Start-up signs nothing.
 */
export class OcspResponder {
  private readonly byHash = new Map<string, OcspIssuer>();
  private readonly cache: LRUCache<string, Cached>;
  private readonly inflight = new Map<string, Promise<Cached | OcspAnswer>>();
  /** Exact request bytes (one CertID, no nonce) already parsed once -> their cache key. */
  private readonly byRequest: LRUCache<string, string>;
  /** Serials whose status changed: their stored response is checked against the database once. */
  private readonly changed = new Set<string>();
  private readonly budget: SigningBudget;
  /** Signatures this responder made on demand. */
  signatures = 0;
  /** Answers served from the response store (a row read, no signature). */
  storeHits = 0;
  /** On-demand signatures refused by a client's budget. */
  overBudget = 0;

  constructor(
    private readonly issuers: readonly OcspIssuer[],
    private readonly store: Pick<RevocationStore, "statusOf">,
    private readonly policy: RevocationPolicy,
    private readonly clock: Clock,
    private readonly opts: OcspResponderOptions,
  ) {
    for (const i of issuers) for (const [oid, h] of issuerHashes(i)) this.byHash.set(`${oid}:${h.name}:${h.key}`, i);
    this.cache = new LRUCache({ max: policy.ocsp.cacheEntries });
    this.byRequest = new LRUCache({ max: policy.ocsp.cacheEntries });
    this.budget = new SigningBudget(
      policy.ocsp.onDemand.perClientPerSecond,
      policy.ocsp.onDemand.perClientBurst,
      clock,
    );
  }

  /**
   * The hot path, synchronous: the same request bytes were parsed before and their answer is in
   * memory and fresh. Undefined means: go through respond().
   */
  respondFromCache(der: Uint8Array): OcspAnswer | undefined {
    if (der.length > 512) return undefined;
    const memo = this.byRequest.get(Buffer.from(der.buffer, der.byteOffset, der.length).toString("latin1"));
    if (memo === undefined) return undefined;
    const hit = this.cache.get(memo);
    return this.fresh(hit) ? hit.answer : undefined;
  }

  /** Answers one DER OCSPRequest; `client` is the caller's address (its signing budget). Never throws for bad input. */
  async respond(der: Uint8Array, client?: string): Promise<OcspAnswer> {
    const cached = this.respondFromCache(der);
    if (cached) return cached;
    const bytes =
      der.length <= 512 ? Buffer.from(der.buffer, der.byteOffset, der.length).toString("latin1") : undefined;
    let req;
    try {
      req = parseOcspRequest(der, this.policy.ocsp.maxRequestsPerMessage);
    } catch (e) {
      if (e instanceof MalformedOcspRequest) return MALFORMED;
      throw e;
    }
    const issuers = req.requests.map((r) => this.byHash.get(`${r.hashOid}:${r.issuerNameHash}:${r.issuerKeyHash}`));
    // RFC 6960 2.3: not authoritative for an issuer (or for two at once: one delegated responder per CA).
    if (issuers.some((i) => !i) || new Set(issuers).size !== 1) return UNAUTHORIZED;
    const issuer = issuers[0]!;
    // RFC 8954 2.1 / RFC 5019 2.1.1: with `nonce: ignore` a nonce does not make a response of its own.
    const nonce = this.policy.ocsp.nonce === "echo" ? req.nonce : undefined;
    try {
      if (req.requests.length === 1 && !nonce) {
        const c = await this.single(issuer, req.requests[0]!, client);
        if (!("until" in c)) return c;
        if (bytes !== undefined && !req.nonce) this.byRequest.set(bytes, this.key(issuer, req.requests[0]!));
        return c.answer;
      }
      const statuses = await Promise.all(req.requests.map((r) => this.lookup(issuer, r.serial)));
      if (this.policy.ocsp.unknownSerial === "unauthorized" && statuses.some((s) => s.kind === "unknown"))
        return UNAUTHORIZED;
      if (!this.budget.take(client)) {
        this.overBudget++;
        // Over budget: the pre-produced response without the nonce (RFC 8954 2.1), or tryLater.
        if (req.requests.length === 1) {
          const c = await this.single(issuer, req.requests[0]!, client);
          return "until" in c ? c.answer : c;
        }
        return TRY_LATER;
      }
      const s = await this.sign(issuer, req.requests, statuses, nonce);
      return { der: s.der, thisUpdate: s.thisUpdate, nextUpdate: s.nextUpdate, cacheable: !nonce };
    } catch (e) {
      // RFC 6960 2.3: HSM or database trouble is tryLater, not a crash.
      log.error("signing failed, answered tryLater", { error: e });
      return TRY_LATER;
    }
  }

  private key(issuer: OcspIssuer, r: Pick<CertIdRequest, "hashOid" | "serial">): string {
    return `${issuer.ca.id}:${r.hashOid}:${r.serial}`;
  }

  private fresh(c: Cached | undefined): c is Cached {
    return c !== undefined && this.clock.now().getTime() < c.until;
  }

  private entry(s: SignedOcsp, refreshAt?: number): Cached {
    const now = this.clock.now().getTime();
    const nextUpdate = s.nextUpdate.getTime();
    // Kept until the signer re-signs it (or a minute, whichever is later), never past nextUpdate.
    const until = Math.min(nextUpdate - 1000, Math.max(refreshAt ?? nextUpdate, now + 60_000));
    return {
      answer: { der: s.der, thisUpdate: s.thisUpdate, nextUpdate: s.nextUpdate, cacheable: true },
      nextUpdate,
      until,
    };
  }

  /** One CertID without nonce: memory, then the response store, then a signature (budgeted). */
  private single(issuer: OcspIssuer, r: CertIdRequest, client: string | undefined): Promise<Cached | OcspAnswer> {
    const k = this.key(issuer, r);
    const hit = this.cache.get(k);
    if (this.fresh(hit)) return Promise.resolve(hit);
    let p = this.inflight.get(k);
    if (!p) {
      p = this.resolve(issuer, r, k, client).finally(() => this.inflight.delete(k));
      this.inflight.set(k, p);
    }
    return p;
  }

  private async resolve(
    issuer: OcspIssuer,
    r: CertIdRequest,
    k: string,
    client: string | undefined,
  ): Promise<Cached | OcspAnswer> {
    const now = this.clock.now().getTime();
    const row = r.hashOid === SHA1 ? await this.opts.responses.get(issuer.ca.id, r.serial) : undefined;
    const usable = row !== undefined && now < row.nextUpdate.getTime() - 1000;
    let status: CertStatus | undefined;
    if (usable && this.changed.has(r.serial)) {
      // A status change was announced: serve the row only once it says what the database says.
      status = await this.lookup(issuer, r.serial);
      if (sameStatus(status, row)) this.changed.delete(r.serial);
    }
    if (usable && !this.changed.has(r.serial)) {
      this.storeHits++;
      const c = this.entry(row, row.refreshAt.getTime());
      this.cache.set(k, c);
      return c;
    }
    status ??= await this.lookup(issuer, r.serial);
    if (status.kind === "unknown" && this.policy.ocsp.unknownSerial === "unauthorized") return UNAUTHORIZED;
    if (!this.budget.take(client)) {
      this.overBudget++;
      return TRY_LATER;
    }
    const signed = await this.sign(issuer, [r], [status], undefined);
    if (r.hashOid === SHA1 && this.opts.writable && status.kind !== "unknown") {
      const stored = storedResponse(issuer, r.serial, status, signed, this.policy);
      await this.opts.responses.put([stored]).then(
        () => this.changed.delete(r.serial),
        (e) => log.warn("storing a response failed", { error: e }),
      );
    }
    const c = this.entry(signed);
    this.cache.set(k, c);
    return c;
  }

  private async lookup(issuer: OcspIssuer, serial: string): Promise<CertStatus> {
    return statusFor(issuer, await this.store.statusOf(serial));
  }

  private async sign(
    issuer: OcspIssuer,
    reqs: readonly CertIdRequest[],
    statuses: readonly CertStatus[],
    nonce: Uint8Array | undefined,
  ): Promise<SignedOcsp> {
    const s = await signOcsp(issuer, reqs, statuses, nonce, this.clock.now(), this.policy);
    this.signatures++;
    return s;
  }

  /**
   * A revocation (or resume) happened: the next answer must show it (REQ-17: visible within 1 s).
   * Drops the serial from memory; its stored response is served again once it shows the change.
   */
  invalidate(serials: Iterable<string>): void {
    for (const serial of serials) {
      for (const i of this.issuers)
        for (const oid of Object.keys(HASHES)) this.cache.delete(this.key(i, { hashOid: oid, serial }));
      if (this.changed.size >= 1_000_000) this.changed.clear();
      this.changed.add(serial);
    }
  }

  /** For /healthz: the responder certificates still outlive the policy margin. */
  checkResponders(): void {
    const margin = this.policy.ocsp.minResponderRemainingHours * 3_600_000;
    for (const i of this.issuers)
      if (i.responder.notAfter.getTime() - this.clock.now().getTime() < margin)
        throw new CaError(
          "unavailable",
          `OCSP responder '${i.responder.label}' of ${i.ca.id} expires ` +
            `${i.responder.notAfter.toISOString()}: rotate it (ceremony ocsp-signer)`,
        );
  }

  get cached(): number {
    return this.cache.size;
  }
}

import { createHash } from "node:crypto";

import { CaError } from "../../shared/ca-error.js";
import type { Clock } from "../../shared/clock.js";
import type { RevocationPolicy } from "../../policy/revocation-policy.js";
import type { Authority } from "../authority.js";
import type { KeySigner, RevocationStore, SerialStatus } from "../ports.js";
import { spkiParts } from "../spki.js";
import { MalformedOcspRequest, parseOcspRequest, type CertIdRequest } from "./ocsp-request.js";
import {
  OCSP_STATUS,
  certIdDer,
  errorResponse,
  responseData,
  singleResponse,
  successfulResponse,
  type CertStatus,
} from "./ocsp-response.js";
import { logger } from "../../shared/log.js";

const log = logger("ocsp");

/** A CA this responder answers for, with its delegated responder (RFC 6960 4.2.2.2). */
export interface OcspIssuer {
  readonly ca: Authority;
  readonly responder: {
    readonly signer: KeySigner;
    readonly certDer: Uint8Array;
    readonly notAfter: Date;
    readonly label: string;
  };
}

export interface OcspAnswer {
  readonly der: Uint8Array;
  /** Set for successful responses: HTTP caching follows them (RFC 5019 6). */
  readonly thisUpdate?: Date;
  readonly nextUpdate?: Date;
  readonly cacheable: boolean;
}

interface Cached {
  readonly der: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** The answer object handed out on the hot path (no allocation per request). */
  readonly answer: OcspAnswer;
}

const HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const SHA1 = "1.3.14.3.2.26";
const UNKNOWN_CACHE_LIMIT = 10_000;

/**
 * OCSP responder (RFC 6960, RFC 5019 profile). Responses for one CertID without a nonce are
 * pre-signed and served from memory; a revocation drops and re-signs the entry; a nonce is
 * echoed in a response signed on demand; a never-issued serial is never "good".
 */
export class OcspResponder {
  private readonly byHash = new Map<string, OcspIssuer>();
  /** issuerNameHash / issuerKeyHash per issuer and hash OID (RFC 6960 4.1.1), computed once. */
  private readonly issuerHashes = new Map<OcspIssuer, Map<string, { name: string; key: string }>>();
  private readonly cache = new Map<string, Cached>();
  private readonly unknownKeys = new Set<string>();
  private readonly inflight = new Map<string, Promise<Cached>>();
  /** Exact request bytes (one CertID, no nonce) already parsed once -> their cache key. */
  private readonly byRequest = new Map<string, string>();
  signatures = 0;

  constructor(
    private readonly issuers: readonly OcspIssuer[],
    private readonly store: Pick<RevocationStore, "statusOf" | "statuses">,
    private readonly policy: RevocationPolicy,
    private readonly clock: Clock,
  ) {
    for (const i of issuers) {
      const keyBits = spkiParts(i.ca.signer.spki).bits;
      const perOid = new Map<string, { name: string; key: string }>();
      for (const [oid, alg] of Object.entries(HASHES)) {
        const name = createHash(alg).update(i.ca.nameDer).digest("hex");
        const key = createHash(alg).update(keyBits).digest("hex");
        this.byHash.set(`${oid}:${name}:${key}`, i);
        perOid.set(oid, { name, key });
      }
      this.issuerHashes.set(i, perOid);
    }
  }

  /**
   * The hot path, synchronous: the same request bytes were parsed before and their signed answer
   * is still fresh. Undefined means: go through respond().
   */
  respondFromCache(der: Uint8Array): OcspAnswer | undefined {
    if (der.length > 512) return undefined;
    const memo = this.byRequest.get(Buffer.from(der.buffer, der.byteOffset, der.length).toString("latin1"));
    if (memo === undefined) return undefined;
    const hit = this.cache.get(memo);
    return this.fresh(hit) ? hit.answer : undefined;
  }

  /** Answers one DER OCSPRequest; never throws for bad input. */
  async respond(der: Uint8Array): Promise<OcspAnswer> {
    const cached = this.respondFromCache(der);
    if (cached) return cached;
    const bytes =
      der.length <= 512 ? Buffer.from(der.buffer, der.byteOffset, der.length).toString("latin1") : undefined;
    let req;
    try {
      req = parseOcspRequest(der, this.policy.ocsp.maxRequestsPerMessage);
    } catch (e) {
      if (e instanceof MalformedOcspRequest)
        return { der: errorResponse(OCSP_STATUS.malformedRequest), cacheable: false };
      throw e;
    }
    const issuers = req.requests.map((r) => this.byHash.get(`${r.hashOid}:${r.issuerNameHash}:${r.issuerKeyHash}`));
    // RFC 6960 2.3: not authoritative for an issuer (or for two at once: one delegated responder per CA).
    if (issuers.some((i) => !i) || new Set(issuers).size !== 1)
      return { der: errorResponse(OCSP_STATUS.unauthorized), cacheable: false };
    const issuer = issuers[0]!;
    try {
      if (req.requests.length === 1 && !req.nonce) {
        const c = await this.single(issuer, req.requests[0]!);
        if (bytes !== undefined) {
          if (this.byRequest.size >= 100_000) this.byRequest.clear();
          this.byRequest.set(bytes, this.key(issuer, req.requests[0]!));
        }
        return { der: c.der, thisUpdate: c.thisUpdate, nextUpdate: c.nextUpdate, cacheable: true };
      }
      const statuses = await Promise.all(req.requests.map((r) => this.lookup(issuer, r.serial)));
      const c = await this.sign(issuer, req.requests, statuses, req.nonce);
      return { der: c.der, thisUpdate: c.thisUpdate, nextUpdate: c.nextUpdate, cacheable: !req.nonce };
    } catch (e) {
      // RFC 6960 2.3: HSM or database trouble is tryLater, not a crash.
      log.error("signing failed, answered tryLater", { error: e });
      return { der: errorResponse(OCSP_STATUS.tryLater), cacheable: false };
    }
  }

  private key(issuer: OcspIssuer, r: Pick<CertIdRequest, "hashOid" | "serial">): string {
    return `${issuer.ca.id}:${r.hashOid}:${r.serial}`;
  }

  private fresh(c: Cached | undefined): c is Cached {
    if (!c) return false;
    const now = this.clock.now().getTime();
    return now < c.thisUpdate.getTime() + this.policy.ocsp.refreshMinutes * 60_000 && now < c.nextUpdate.getTime();
  }

  /** The hot path: a lookup; signs only when the entry is missing or stale. */
  private single(issuer: OcspIssuer, r: CertIdRequest): Promise<Cached> {
    const k = this.key(issuer, r);
    const hit = this.cache.get(k);
    if (this.fresh(hit)) return Promise.resolve(hit);
    let p = this.inflight.get(k);
    if (!p) {
      p = (async () => {
        const status = await this.lookup(issuer, r.serial);
        const c = await this.sign(issuer, [r], [status], undefined);
        if (status.kind === "unknown") {
          // Bounded: random serials must not grow memory without limit.
          if (this.unknownKeys.size >= UNKNOWN_CACHE_LIMIT) {
            for (const old of this.unknownKeys) {
              this.cache.delete(old);
              this.unknownKeys.delete(old);
              if (this.unknownKeys.size < UNKNOWN_CACHE_LIMIT / 2) break;
            }
          }
          this.unknownKeys.add(k);
        }
        this.cache.set(k, c);
        return c;
      })().finally(() => this.inflight.delete(k));
      this.inflight.set(k, p);
    }
    return p;
  }

  private async lookup(issuer: OcspIssuer, serial: string): Promise<CertStatus> {
    const s = await this.store.statusOf(serial);
    return statusFor(issuer, s);
  }

  private async sign(
    issuer: OcspIssuer,
    reqs: readonly CertIdRequest[],
    statuses: readonly CertStatus[],
    nonce: Uint8Array | undefined,
  ): Promise<Cached> {
    const now = this.clock.now();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    // The responder certificate must outlive every response it signs.
    const nextUpdate = new Date(
      Math.min(thisUpdate.getTime() + this.policy.ocsp.validityHours * 3_600_000, issuer.responder.notAfter.getTime()),
    );
    if (nextUpdate <= thisUpdate)
      throw new CaError("unavailable", `OCSP responder certificate of ${issuer.ca.id} has expired: rotate it`);
    const singles = reqs.map((r, i) => singleResponse(certIdDer(r), statuses[i]!, thisUpdate, nextUpdate));
    const tbs = responseData(responderKeyHash(issuer), thisUpdate, singles, nonce);
    const sig = await issuer.responder.signer.sign(tbs);
    this.signatures++;
    const der = successfulResponse(tbs, issuer.responder.signer.algorithmDer, sig, issuer.responder.certDer);
    return { der, thisUpdate, nextUpdate, answer: { der, thisUpdate, nextUpdate, cacheable: !nonce } };
  }

  /** A revocation (or resume) happened: the next answer must show it (REQ-17: visible within 1 s). */
  async invalidate(serial: string): Promise<void> {
    const refresh: Promise<unknown>[] = [];
    for (const i of this.issuers)
      for (const oid of Object.keys(HASHES)) {
        const r = { hashOid: oid, serial, issuerNameHash: "", issuerKeyHash: "" };
        const k = this.key(i, r);
        if (this.cache.delete(k) || oid === SHA1)
          refresh.push(
            this.store
              .statusOf(serial)
              .then((s) => this.presignOne(i, serial, oid, s))
              .catch(() => undefined),
          );
      }
    await Promise.all(refresh);
  }

  private async presignOne(
    issuer: OcspIssuer,
    serial: string,
    hashOid: string,
    s: SerialStatus | undefined,
  ): Promise<void> {
    const h = this.issuerHashes.get(issuer)!.get(hashOid)!;
    const r: CertIdRequest = { hashOid, serial, issuerNameHash: h.name, issuerKeyHash: h.key };
    if (!s || s.issuerId !== issuer.ca.id) return;
    const c = await this.sign(issuer, [r], [statusFor(issuer, s)], undefined);
    this.cache.set(this.key(issuer, r), c);
  }

  /**
   * Pre-signs (SHA-1 CertID, RFC 5019 2.1.1) responses for every unexpired certificate and
   * re-signs those older than the refresh interval. Run at start and on a schedule.
   */
  async refresh(concurrency = 32): Promise<number> {
    let signed = 0;
    const now = this.clock.now();
    for (const issuer of this.issuers) {
      const work: Promise<void>[] = [];
      for await (const s of this.store.statuses(issuer.ca.id, now)) {
        const k = this.key(issuer, { hashOid: SHA1, serial: s.serial });
        if (this.fresh(this.cache.get(k))) continue;
        work.push(this.presignOne(issuer, s.serial, SHA1, s).then(() => void signed++));
        if (work.length >= concurrency) await Promise.all(work.splice(0));
      }
      await Promise.all(work);
    }
    // Entries for other hash algorithms and unknown serials age out here.
    for (const [k, c] of this.cache) if (!this.fresh(c)) this.cache.delete(k);
    return signed;
  }

  /** For /healthz: the responder certificates still outlive the policy margin. */
  checkResponders(): void {
    const margin = this.policy.ocsp.minResponderRemainingHours * 3_600_000;
    for (const i of this.issuers)
      if (i.responder.notAfter.getTime() - this.clock.now().getTime() < margin)
        throw new CaError(
          "unavailable",
          `OCSP responder '${i.responder.label}' of ${i.ca.id} expires ${i.responder.notAfter.toISOString()}: rotate it (ceremony ocsp-signer)`,
        );
  }

  get cached(): number {
    return this.cache.size;
  }
}

function statusFor(issuer: OcspIssuer, s: SerialStatus | undefined): CertStatus {
  // Design: never "good" for a serial this CA did not issue.
  if (!s || s.issuerId !== issuer.ca.id) return { kind: "unknown" };
  if (s.status === "issued")
    return s.revokedAt ? { kind: "revoked", revokedAt: s.revokedAt, reason: s.reason } : { kind: "good" };
  if (s.status === "unfinished") return { kind: "revoked", revokedAt: s.revokedAt ?? new Date(0), reason: s.reason };
  return { kind: "unknown" };
}

const keyHashes = new WeakMap<OcspIssuer, Uint8Array>();
/** ResponderID byKey: SHA-1 of the responder's public key BIT STRING value (RFC 6960 4.2.2.3). */
function responderKeyHash(issuer: OcspIssuer): Uint8Array {
  let h = keyHashes.get(issuer);
  if (!h)
    keyHashes.set(
      issuer,
      (h = new Uint8Array(createHash("sha1").update(spkiParts(issuer.responder.signer.spki).bits).digest())),
    );
  return h;
}

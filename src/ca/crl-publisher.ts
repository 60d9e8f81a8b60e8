import { assembleSigned } from "../asn1/der.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { CaError } from "../shared/ca-error.js";
import { shardOf, shardScope, shardUrl } from "./crl-shards.js";
import type { RevocationPolicy } from "../policy/revocation-policy.js";
import type { Authority } from "./authority.js";
import { buildCrlTbs, type CrlEntry } from "./crl-builder.js";
import type { CertStore, RevocationStore, StoredCrl } from "./ports.js";

const HOUR = 3_600_000;
/** Above this many changed serials a delta CRL reads the revoked entries in one pass instead of one by one. */
const DELTA_LOOKUPS = 1000;

/** The entries of one shard out of the CA's stream of batches. */
async function* only(
  batches: AsyncIterable<readonly CrlEntry[]>,
  has: (serial: string) => boolean,
): AsyncIterable<readonly CrlEntry[]> {
  for await (const b of batches) {
    const kept = b.filter((e) => has(e.serial));
    if (kept.length) yield kept;
  }
}

/** The delta CRL URL next to the full one: /crl/<ca>.crl -> /crl/<ca>-delta.crl. */
export function deltaUrl(fullUrl: string): string {
  return fullUrl.replace(/\.crl$/, "-delta.crl");
}

/**
 * Full and delta CRLs per issuing CA (RFC 5280 5, REQ-20): numbers strictly increasing and kept
 * durably, nextUpdate from policy, regenerated on a schedule before nextUpdate and soon after a
 * revocation, entries kept after expiry as the policy says.
 */
export class CrlPublisher {
  constructor(
    private readonly deps: {
      revocations: RevocationStore;
      certs: CertStore;
      policy: RevocationPolicy;
      clock: Clock;
      random: Random;
      gate?: () => void;
    },
  ) {}

  private times(hours: number): { thisUpdate: Date; nextUpdate: Date } {
    const now = this.deps.clock.now();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    return { thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + hours * HOUR) };
  }

  /** The scope a CRL covers: the whole CA, or one shard of it (RFC 5280 5.2.5). */
  private scope(issuer: Authority, shard: number | undefined) {
    if (shard === undefined) return { id: issuer.id, url: issuer.urls.crl, has: () => true };
    const count = issuer.crlSharding?.count;
    if (count === undefined || !Number.isInteger(shard) || shard < 0 || shard >= count)
      throw new CaError("invalid-input", `CA '${issuer.id}' has no CRL shard ${shard}`);
    return {
      id: shardScope(issuer.id, shard),
      url: issuer.urls.crl ? shardUrl(issuer.urls.crl, shard) : undefined,
      has: (serial: string) => shardOf(serial, count) === shard,
    };
  }

  /** Shards of the CA's CRL (none when unsharded). */
  shards(issuer: Authority): number[] {
    return Array.from({ length: issuer.crlSharding?.count ?? 0 }, (_, i) => i);
  }

  async generateFull(issuer: Authority, actor: string, shard?: number): Promise<StoredCrl> {
    const { revocations, policy } = this.deps;
    const scope = this.scope(issuer, shard);
    // Events up to here are covered: read the sequence before the entries, so a later event is in the next delta.
    const lastEventSeq = await revocations.lastEventSeq();
    this.deps.gate?.(); // a restored database must not reuse CRL numbers
    const number = await revocations.nextCrlNumber(scope.id);
    const { thisUpdate, nextUpdate } = this.times(policy.crl.nextUpdateHours);
    const expiredAfter = new Date(thisUpdate.getTime() - policy.crl.keepExpiredDays * 24 * HOUR);
    const { der: tbs, entries } = await buildCrlTbs({
      issuer,
      thisUpdate,
      nextUpdate,
      crlNumber: number,
      entries:
        shard === undefined
          ? revocations.revokedEntries(issuer.id, expiredAfter)
          : only(revocations.revokedEntries(issuer.id, expiredAfter), scope.has),
      ...(scope.url ? { freshestUrl: deltaUrl(scope.url) } : {}),
      ...(shard !== undefined && scope.url ? { idpUrl: scope.url } : {}),
    });
    return this.sign(
      issuer,
      {
        issuerId: scope.id,
        number,
        kind: "full",
        baseNumber: undefined,
        lastEventSeq,
        thisUpdate,
        nextUpdate,
        entries,
      },
      tbs,
      actor,
    );
  }

  /** Delta CRL over the latest full CRL: what changed since it, removeFromCRL for resumed holds (RFC 5280 5.2.4). */
  async generateDelta(issuer: Authority, actor: string, shard?: number): Promise<StoredCrl | undefined> {
    const { revocations, certs, policy } = this.deps;
    const scope = this.scope(issuer, shard);
    const base = await revocations.latestCrl(scope.id, "full");
    if (!base) return undefined;
    const all = await revocations.eventsSince(base.lastEventSeq, issuer.id);
    const lastSeen = all.length ? all[all.length - 1]!.seq : base.lastEventSeq;
    const events = shard === undefined ? all : all.filter((e) => scope.has(e.serial));
    const lastEventSeq = lastSeen;
    const changed = new Set(events.map((e) => e.serial));
    const lastResume = new Map<string, Date>();
    for (const e of events) if (e.kind === "resume") lastResume.set(e.serial, e.at);
    const entries: CrlEntry[] = [];
    const listed = new Set<string>();
    if (changed.size > DELTA_LOOKUPS) {
      // Many changes (a mass revocation): one streamed pass over the CA's revoked entries, not a lookup per serial.
      for await (const batch of revocations.revokedEntries(issuer.id, new Date(0)))
        for (const e of batch)
          if (changed.has(e.serial) && e.reason !== undefined) {
            entries.push({ serial: e.serial, revokedAt: e.revokedAt, reason: e.reason });
            listed.add(e.serial);
          }
    } else
      for (const serial of changed) {
        const rec = await certs.get(serial);
        if (rec?.revokedAt && rec.revocationReason !== undefined) {
          entries.push({ serial, revokedAt: rec.revokedAt, reason: rec.revocationReason });
          listed.add(serial);
        }
      }
    for (const [serial, at] of lastResume)
      if (!listed.has(serial)) entries.push({ serial, revokedAt: at, reason: "removeFromCRL" });
    entries.sort((a, b) => (a.serial < b.serial ? -1 : 1));
    this.deps.gate?.();
    const number = await revocations.nextCrlNumber(scope.id);
    const { thisUpdate } = this.times(0);
    // A delta is never valid beyond its base (RFC 5280 5.2.4).
    const nextUpdate = new Date(
      Math.min(thisUpdate.getTime() + policy.crl.deltaMinutes * 60_000, base.nextUpdate.getTime()),
    );
    const { der: tbs } = await buildCrlTbs({
      issuer,
      thisUpdate,
      nextUpdate,
      crlNumber: number,
      entries,
      deltaBase: base.number,
      // RFC 5280 5.2.4: a delta has the scope (IDP) of its base.
      ...(shard !== undefined && scope.url ? { idpUrl: scope.url } : {}),
    });
    return this.sign(
      issuer,
      {
        issuerId: scope.id,
        number,
        kind: "delta",
        baseNumber: base.number,
        lastEventSeq,
        thisUpdate,
        nextUpdate,
        entries: entries.length,
      },
      tbs,
      actor,
    );
  }

  private async sign(
    issuer: Authority,
    meta: Omit<StoredCrl, "der">,
    tbs: Uint8Array,
    actor: string,
  ): Promise<StoredCrl> {
    const der = assembleSigned(tbs, issuer.signer.algorithmDer, await issuer.signer.sign(tbs));
    const crl: StoredCrl = { ...meta, der };
    const at = this.deps.clock.now();
    await this.deps.revocations.saveCrl(crl, {
      id: newId(this.deps.random),
      at,
      actor,
      action: `crl.${meta.kind}`,
      objectType: "crl",
      objectId: `${meta.issuerId}#${meta.number}`,
      outcome: "success",
      details: {
        entries: meta.entries,
        thisUpdate: meta.thisUpdate.toISOString(),
        nextUpdate: meta.nextUpdate.toISOString(),
        base: meta.baseNumber?.toString(),
      },
    });
    return crl;
  }

  /**
   * One scheduler tick: a full CRL when none exists or the current one nears nextUpdate; a delta
   * when revocations are pending or the delta is half way to its nextUpdate. Returns what it made.
   */
  async tick(issuer: Authority): Promise<StoredCrl[]> {
    const made = await this.tickScope(issuer, undefined);
    for (const shard of this.shards(issuer)) made.push(...(await this.tickScope(issuer, shard)));
    return made;
  }

  private async tickScope(issuer: Authority, shard: number | undefined): Promise<StoredCrl[]> {
    const { revocations, policy, clock } = this.deps;
    const scope = this.scope(issuer, shard);
    const now = clock.now().getTime();
    const made: StoredCrl[] = [];
    const full = await revocations.latestCrl(scope.id, "full");
    if (!full || now >= full.nextUpdate.getTime() - policy.crl.regenerateBeforeHours * HOUR) {
      made.push(await this.generateFull(issuer, "system:crl-schedule", shard));
      return made;
    }
    // Deltas first: a change since the full CRL (removeFromCRL for a released hold) reaches the delta
    // over the CRL that relying parties hold now.
    const allSince = await revocations.eventsSince(full.lastEventSeq, issuer.id);
    const sinceFull = shard === undefined ? allSince : allSince.filter((e) => scope.has(e.serial));
    const delta = await revocations.latestCrl(scope.id, "delta");
    const covered = Math.max(full.lastEventSeq, delta?.baseNumber === full.number ? delta.lastEventSeq : 0);
    const pending = sinceFull.some((e) => e.seq > covered);
    const stale =
      !delta ||
      delta.baseNumber !== full.number ||
      now >= delta.thisUpdate.getTime() + (policy.crl.deltaMinutes * 60_000) / 2;
    if (pending || stale) {
      const d = await this.generateDelta(
        issuer,
        pending ? "system:crl-after-revocation" : "system:crl-schedule",
        shard,
      );
      if (d) made.push(d);
    }
    // CPS 4.9.7: a revocation reaches the FULL CRL within afterRevocationSeconds too (relying parties
    // such as `openssl verify -crl_check` read only the full CRL). While revocations keep coming, a
    // new full CRL at most every quarter of that time: a revocation waits at most a quarter plus one
    // tick (the service ticks at least every half of it).
    if (sinceFull.length > 0 && now - full.thisUpdate.getTime() >= (policy.crl.afterRevocationSeconds * 1000) / 4)
      made.push(await this.generateFull(issuer, "system:crl-after-revocation", shard));
    return made;
  }
}

import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { logger } from "../shared/log.js";
import type { ChainedEntry } from "./audit-chain.js";
import { checkpointBytes, type Checkpoint, type CheckpointSigner } from "./checkpoint.js";
import { verifyChain, type VerifyInput, type VerifyResult } from "./chain-verifier.js";
import {
  buildEvidence,
  type Evidence,
  type EvidenceActor,
  type EvidenceEvent,
  type EvidenceIdentification,
  type EvidenceOfficer,
} from "./evidence.js";
import { buildReport, type ConformanceReport, type ReportInput } from "./report.js";

const log = logger("audit");

/** One audit fact the trail itself records (reads, reconciliation, retention). */
export interface AuditFact {
  readonly id: string;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly objectType: string;
  readonly objectId: string;
  readonly outcome: "success" | "failure";
  readonly details?: Record<string, unknown>;
}

export interface AuditEventFilter {
  readonly afterSeq?: number;
  readonly actionPrefix?: string;
  readonly outcome?: string;
  readonly objectId?: string;
  readonly limit: number;
}

/** The hash chain's store (port): entries, checkpoints, RFC 3161 tokens, the retention anchor. */
export interface AuditTrailStore {
  head(): Promise<{ seq: number; entryHash: string; entries: number } | undefined>;
  pages(): AsyncIterable<readonly ChainedEntry[]>;
  find(f: AuditEventFilter): Promise<ChainedEntry[]>;
  checkpoints(): Promise<Checkpoint[]>;
  latestCheckpoint(): Promise<Checkpoint | undefined>;
  addCheckpoint(c: Checkpoint): Promise<void>;
  replaceCheckpoint(c: Checkpoint): Promise<void>;
  addTimestamp(t: { seq: number; token: string; genTime: number; tsa: string; checkpointAt: number }): Promise<void>;
  timestamps(): Promise<Map<number, { token: string; genTime: number; tsa: string }>>;
  anchor(): Promise<{ seq: number; entryHash: string; removedBefore: number } | undefined>;
  removeBefore(
    before: number,
    audit: (removed: { count: number; throughSeq: number }) => AuditFact,
  ): Promise<{ count: number; throughSeq: number } | undefined>;
}

/** What the evidence of one certificate is read from (port; REQ-31). */
export interface EvidenceSource {
  forCertificate(serial: string): Promise<
    | {
        readonly certificate: EvidenceInputOf["certificate"];
        readonly order?: Omit<
          NonNullable<EvidenceInputOf["order"]>,
          "workflow" | "loa" | "identificationsRequired" | "activationDeadlineDays"
        > & { workflowId: string; workflowVersion: number };
        readonly identifications: readonly EvidenceIdentification[];
        readonly actors: readonly EvidenceActor[];
        readonly officers: ReadonlyMap<string, EvidenceOfficer>;
        readonly events: readonly EvidenceEvent[];
        readonly card?: EvidenceInputOf["card"];
      }
    | undefined
  >;
  organisationOf(serial: string): Promise<string | undefined>;
  issuedBetween(from: number, to: number, organisationId?: string): Promise<{ serial: string }[]>;
  revocationsBetween(from: number, to: number, organisationId?: string): Promise<ReportInput["revocations"]>;
  activityBetween(from: number, to: number, organisationId?: string): Promise<ReportInput["activity"]>;
  crlsBetween(from: number, to: number): Promise<ReportInput["crls"]>;
}
type EvidenceInputOf = Parameters<typeof buildEvidence>[0];

/** What the trail needs to know of a workflow (policy) to judge an order's evidence. */
export interface WorkflowFacts {
  readonly id: string;
  readonly version: number;
  readonly loa: number;
  readonly identifications: number;
  readonly activationDeadlineDays: number;
  readonly separation: readonly (readonly [string, string])[];
}

/** The checkpoint kept outside the database (with the CRL numbers used so far and its token). */
export interface ExternalCheckpoint {
  read(): (Checkpoint & { crlNumbers?: Record<string, string> }) | undefined;
  write(c: Checkpoint & { crlNumbers?: Record<string, string>; timestamp?: { token: string; genTime: number } }): void;
}

export interface AuditTrailDeps<S extends AuditTrailStore = AuditTrailStore> {
  readonly store: S;
  /** Opened on first use (REQ-29: names are sealed; the HSM unwraps the data keys then). */
  readonly evidence: () => Promise<EvidenceSource>;
  readonly workflows: () => ReadonlyMap<string, WorkflowFacts>;
  readonly signer: () => Promise<CheckpointSigner>;
  readonly verifySignature: (c: Checkpoint) => boolean;
  readonly external: ExternalCheckpoint;
  /** REQ-27: the TSA, when configured: asks it for a token over a checkpoint. */
  readonly tsa?: { readonly url: string; stamp(c: Checkpoint): Promise<{ token: string; genTime: number }> };
  /** REQ-27: with the TSA's certificate configured, its token checker (made when a verification starts). */
  readonly tokenVerifier?: () => (
    token: Uint8Array,
    data: Uint8Array,
  ) => Promise<{ ok: true; genTime: Date } | { ok: false; reason: string }>;
  readonly crlNumbers: () => Promise<Record<string, string>>;
  readonly raiseCrlNumbers: (n: Record<string, string>) => Promise<void>;
  /** REQ-30: why the database is behind the external checkpoint (a restore), if it is. */
  readonly restoreGap: () => Promise<string | undefined>;
  readonly record: (e: AuditFact) => Promise<void>;
  /** The report's fixed parts: ceremony transcripts and the requirements matrix. */
  readonly ceremonies: () => ReportInput["ceremonies"];
  readonly matrix: () => ReportInput["matrix"];
  readonly retentionYears: number;
  readonly clock: Clock;
  readonly random: Random;
}

/** A token's genTime may differ this much from its checkpoint's time (clock skew, the round trip). */
const TSA_TOLERANCE_MS = 10 * 60_000;

/**
 * The audit trail (REQ-27, REQ-28, REQ-31): signed checkpoints of the hash chain's head into the
 * database and a file outside it, with an RFC 3161 token when a TSA is configured; verification;
 * evidence per certificate; the conformance report; audited reads; reconciliation after a
 * restore; retention.
 */
export class AuditTrail<S extends AuditTrailStore = AuditTrailStore> {
  readonly store: S;
  private signer: Promise<CheckpointSigner> | undefined;

  constructor(private readonly deps: AuditTrailDeps<S>) {
    this.store = deps.store;
  }

  private fact(
    actor: string,
    action: string,
    objectType: string,
    objectId: string,
    details: Record<string, unknown>,
  ): AuditFact {
    return {
      id: newId(this.deps.random),
      at: this.deps.clock.now(),
      actor,
      action,
      objectType,
      objectId,
      outcome: "success",
      details,
    };
  }

  /**
   * REQ-27: the TSA's token for a checkpoint just signed; a TSA that does not answer leaves it for the next run
   * (logged).
   */
  private async stamp(c: Checkpoint) {
    const tsa = this.deps.tsa;
    if (!tsa) return undefined;
    try {
      const t = await tsa.stamp(c);
      await this.store.addTimestamp({
        seq: c.seq,
        token: t.token,
        genTime: t.genTime,
        tsa: tsa.url,
        checkpointAt: c.at,
      });
      return t;
    } catch (e) {
      log.warn("audit checkpoint not timestamped; retried on the next checkpoint run", {
        seq: c.seq,
        error: e as Error,
      });
      return undefined;
    }
  }

  private async sign(head: { seq: number; entryHash: string; entries: number }): Promise<Checkpoint> {
    this.signer ??= this.deps.signer();
    const s = await this.signer;
    const unsigned = {
      seq: head.seq,
      entryHash: head.entryHash,
      entries: head.entries,
      at: this.deps.clock.now().getTime(),
      signer: s.name,
      signerSpkiSha256: s.spkiSha256,
    };
    return { ...unsigned, signature: Buffer.from(await s.sign(checkpointBytes(unsigned))).toString("base64") };
  }

  /** Signs the chain's head (if it moved) into the database and the external file. */
  async checkpoint(): Promise<Checkpoint | undefined> {
    const { store, external } = this;
    const head = await store.head();
    if (!head) return undefined;
    const latest = await store.latestCheckpoint();
    if (latest && latest.seq === head.seq) {
      if (this.deps.tsa && !(await store.timestamps()).has(latest.seq)) {
        // Its token could not be had when it was signed: sign it again now and ask again, so the token's time is the
        // checkpoint's.
        const again = await this.sign(head);
        await store.replaceCheckpoint(again);
        const t = await this.stamp(again);
        external.write({ ...again, crlNumbers: await this.deps.crlNumbers(), ...(t ? { timestamp: t } : {}) });
        return again;
      }
      if (external.read()?.seq !== latest.seq) external.write({ ...latest, crlNumbers: await this.deps.crlNumbers() });
      return latest;
    }
    const c = await this.sign(head);
    await store.addCheckpoint(c);
    const t = await this.stamp(c);
    external.write({ ...c, crlNumbers: await this.deps.crlNumbers(), ...(t ? { timestamp: t } : {}) });
    return c;
  }

  private get external(): ExternalCheckpoint {
    return this.deps.external;
  }

  async verify(): Promise<VerifyResult> {
    const { store } = this;
    // REQ-27: with a TSA certificate configured, every checkpoint's token is checked against it and the checkpoint's
    // bytes.
    const check = this.deps.tokenVerifier?.();
    const stamps = check ? await store.timestamps() : undefined;
    const verifyTimestamp: VerifyInput["verifyTimestamp"] =
      check && stamps
        ? async (c: Checkpoint) => {
            const t = stamps.get(c.seq);
            if (!t) return { has: false };
            const { signature: _s, ...unsigned } = c;
            const r = await check(new Uint8Array(Buffer.from(t.token, "base64")), checkpointBytes(unsigned));
            if (!r.ok) return { has: true, problem: `timestamp mismatch: ${r.reason}` };
            if (Math.abs(r.genTime.getTime() - c.at) > TSA_TOLERANCE_MS)
              return {
                has: true,
                problem:
                  `timestamp mismatch: the TSA stamped it at ${r.genTime.toISOString()}, not ` +
                  `at the checkpoint's time: the checkpoint was made again later`,
              };
            return { has: true };
          }
        : undefined;
    const anchor = await store.anchor();
    const ext = this.external.read();
    return verifyChain({
      pages: store.pages(),
      checkpoints: await store.checkpoints(),
      verifySignature: this.deps.verifySignature,
      ...(verifyTimestamp ? { verifyTimestamp } : {}),
      ...(anchor ? { anchor } : {}),
      ...(ext ? { external: ext } : {}),
    });
  }

  /** REQ-31: the story of one certificate and a verdict per policy rule. */
  async evidence(serial: string): Promise<Evidence> {
    const r = await (await this.deps.evidence()).forCertificate(serial.toLowerCase());
    if (!r) throw new CaError("not-found", `no certificate with serial ${serial}`);
    const w = r.order ? this.deps.workflows().get(r.order.workflowId) : undefined;
    const { workflowId, workflowVersion, ...order } = r.order ?? ({} as NonNullable<typeof r.order>);
    return buildEvidence({
      certificate: r.certificate,
      identifications: r.identifications,
      officers: r.officers,
      events: r.events,
      ...(r.card ? { card: r.card } : {}),
      actors: r.actors,
      ...(w ? { separation: w.separation } : {}),
      ...(r.order
        ? {
            order: {
              ...order,
              workflow: `${workflowId}@${workflowVersion}`,
              loa: w?.loa ?? 0,
              identificationsRequired: w?.identifications ?? 0,
              activationDeadlineDays: w?.activationDeadlineDays ?? 0,
            },
          }
        : {}),
    });
  }

  /** Entries matching a filter (refusals, alarms, one object); the read is audited (REQ-27). */
  async events(filter: AuditEventFilter, actor: string): Promise<ChainedEntry[]> {
    const found = await this.store.find(filter);
    await this.deps.record(this.fact(actor, "audit.events.read", "audit", "events", { filter, entries: found.length }));
    return found;
  }

  /** After a restore: record the gap in the chain, raise CRL numbers above those used before, sign a new checkpoint. */
  async reconcile(
    actor: string,
  ): Promise<{ gap: string | undefined; crlNumbers: Record<string, string>; checkpoint?: Checkpoint }> {
    const gap = await this.deps.restoreGap();
    const ext = this.external.read();
    const crlNumbers = ext?.crlNumbers ?? {};
    await this.deps.raiseCrlNumbers(crlNumbers);
    const head = await this.store.head();
    await this.deps.record(
      this.fact(actor, "audit.reconcile", "audit", String(head?.seq ?? 0), {
        gap: gap ?? "none",
        externalCheckpoint: ext ? { seq: ext.seq, at: new Date(ext.at).toISOString() } : null,
        databaseHead: head?.seq ?? 0,
        crlNumbersRaisedTo: crlNumbers,
      }),
    );
    const checkpoint = await this.checkpoint();
    return { gap, crlNumbers, ...(checkpoint ? { checkpoint } : {}) };
  }

  /** The organisation a certificate was issued for (through its order), if any. */
  async organisationOf(serial: string): Promise<string | undefined> {
    return (await this.deps.evidence()).organisationOf(serial.toLowerCase());
  }

  /**
   * The conformance report for a period; `organisationId` scopes certificates, revocations and activity to one
   * organisation.
   */
  async report(from: Date, to: Date, scope: { organisationId?: string } = {}): Promise<ConformanceReport> {
    const records = await this.deps.evidence();
    const org = scope.organisationId;
    const issued = await records.issuedBetween(from.getTime(), to.getTime(), org);
    // One certificate's evidence at a time; only what the report counts is kept (constant memory per certificate).
    const all: Evidence[] = [];
    for (const c of issued) {
      const e = await this.evidence(c.serial);
      all.push({
        certificate: e.certificate,
        ...(e.order ? { order: e.order } : {}),
        ...(e.separation ? { separation: e.separation } : {}),
        story: [],
        verdicts: e.verdicts.filter((v) => v.result === "fail"),
        verdict: e.verdict,
      });
    }
    return buildReport({
      from,
      to,
      generatedAt: this.deps.clock.now(),
      chain: await this.verify(),
      evidence: all,
      revocations: await records.revocationsBetween(from.getTime(), to.getTime(), org),
      activity: await records.activityBetween(from.getTime(), to.getTime(), org),
      crls: await records.crlsBetween(from.getTime(), to.getTime()),
      ceremonies: this.deps.ceremonies(),
      matrix: this.deps.matrix(),
      workflows: [...this.deps.workflows().values()].map((w) => ({
        workflow: `${w.id}@${w.version}`,
        loa: w.loa,
        separation: w.separation,
      })),
    });
  }

  /** REQ-28: removes entries older than the retention period, keeping the chain verifiable. */
  async retention(now: Date, actor: string): Promise<{ count: number; throughSeq: number } | undefined> {
    const before = new Date(now);
    const years = this.deps.retentionYears;
    before.setUTCFullYear(before.getUTCFullYear() - years);
    return this.store.removeBefore(before.getTime(), ({ count, throughSeq }) =>
      this.fact(actor, "audit.retention", "audit", String(throughSeq), {
        removed: count,
        throughSeq,
        olderThan: before.toISOString(),
        retentionYears: years,
      }),
    );
  }
}

import { X509Certificate, verify as verifySig } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { dirname, join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import { checkpointBytes, type Checkpoint, type CheckpointSigner } from "../audit/checkpoint.js";
import { verifyChain, type VerifyResult } from "../audit/chain-verifier.js";
import type { ChainedEntry } from "../audit/audit-chain.js";
import { KnexAuditStore } from "../store/audit.store.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { KnexEvidenceStore } from "../store/evidence.store.js";
import { fieldCipher } from "./data-keys.js";
import { buildEvidence, type Evidence } from "../audit/evidence.js";
import { buildReport, type ConformanceReport } from "../audit/report.js";
export { reportHtml } from "../audit/report.js";
import { loadRequirementsMatrix } from "../policy/requirements-matrix.js";
import { loadWorkflows, type Workflow } from "../policy/workflow.js";
import { verifyTranscriptFile } from "../ceremony/ceremony.js";
import { CaDirectory } from "../ceremony/ca-directory.js";
import type { RaRuntime } from "./runtime.js";
import { sha256Hex } from "../shared/digest.js";
import { logger } from "../shared/log.js";
import { imprintOf, readTimeStampResponse, timeStampRequest, tsaCertificate, verifyTimeStampToken } from "../audit/timestamp-token.js";

const log = logger("audit");

/** Audit signers in the CA store: `<ca>/audit-signers/<label>/` with cert.pem and key.uri (made by an audit-signer ceremony). */
export function auditSignerNames(caStoreDir: string): string[] {
  if (!existsSync(caStoreDir)) return [];
  return readdirSync(caStoreDir, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((ca) => {
    const dir = join(caStoreDir, ca.name, "audit-signers");
    return existsSync(dir) ? readdirSync(dir).filter((l) => existsSync(join(dir, l, "cert.pem"))).map((l) => `${ca.name}/${l}`) : [];
  });
}

function signerCert(caStoreDir: string, name: string): X509Certificate {
  const [ca, label] = name.split("/");
  const f = join(caStoreDir, ca ?? "", "audit-signers", label ?? "", "cert.pem");
  if (!/^[a-z0-9-]+\/[A-Za-z0-9._-]+$/.test(name) || !existsSync(f)) throw new CaError("not-found", `no audit signer '${name}' in ${caStoreDir}`);
  return new X509Certificate(readFileSync(f));
}

const spkiSha256 = (c: X509Certificate) => sha256Hex(c.publicKey.export({ type: "spki", format: "der" }));

/** Verifies a checkpoint with the public certificate alone (what an auditor has): no HSM needed. */
export function checkpointVerifier(caStoreDir: string): (c: Checkpoint) => boolean {
  const certs = new Map<string, X509Certificate>();
  return (c) => {
    let cert = certs.get(c.signer);
    if (!cert) {
      try {
        cert = signerCert(caStoreDir, c.signer);
      } catch {
        return false;
      }
      certs.set(c.signer, cert);
    }
    if (spkiSha256(cert) !== c.signerSpkiSha256) return false;
    const { signature, ...unsigned } = c;
    return verifySig("sha256", checkpointBytes(unsigned), cert.publicKey, Buffer.from(signature, "base64"));
  };
}

/** The HSM audit key (REQ-26/27) as a checkpoint signer. */
export async function auditSigner(rt: RaRuntime): Promise<CheckpointSigner> {
  const names = auditSignerNames(rt.config.caStoreDir);
  const name = rt.config.audit.signer ?? names[0];
  if (!name) throw new CaError("config", `no audit signer in ${rt.config.caStoreDir} (run an audit-signer ceremony, e.g. policies/ceremonies/demo-audit-signer.yaml)`);
  const cert = signerCert(rt.config.caStoreDir, name);
  const [ca, label] = name.split("/") as [string, string];
  const uri = parsePkcs11Uri(readFileSync(join(rt.config.caStoreDir, ca, "audit-signers", label, "key.uri"), "utf8").trim());
  const signer = await (await rt.keystore(uri.token)).signerFor(uri);
  return {
    name, spkiSha256: spkiSha256(cert),
    sign: (data) => signer.sign(data),
    verify: (data, sig) => verifySig("sha256", data, cert.publicKey, sig),
  };
}

/** REQ-27: an RFC 3161 TSA answers within this time, or the checkpoint waits for its token until the next run. */
const TSA_TIMEOUT_MS = 15_000;
/** A token's genTime may differ this much from its checkpoint's time (clock skew, the round trip). */
const TSA_TOLERANCE_MS = 10 * 60_000;

/** The configured TSA's certificate (checked: sole critical EKU timeStamping), for verifying tokens. */
export function tsaCertificateOf(rt: RaRuntime): ReturnType<typeof tsaCertificate> | undefined {
  const f = rt.config.audit.tsaCertFile;
  if (!f) return undefined;
  try {
    const pem = readFileSync(f);
    return tsaCertificate(new Uint8Array(new X509Certificate(pem).raw));
  } catch (e) {
    throw new CaError("config", `the TSA certificate ${f}: ${(e as Error).message}`);
  }
}

/** Asks the TSA (RFC 3161 3.4, HTTP POST) for a token over the checkpoint's bytes. */
export async function timestampCheckpoint(rt: RaRuntime, c: Checkpoint): Promise<{ token: string; genTime: number }> {
  const url = rt.config.audit.tsaUrl;
  if (!url) throw new CaError("config", "no TSA configured (audit.tsaUrl)");
  const { signature: _s, ...unsigned } = c;
  const imprint = imprintOf(checkpointBytes(unsigned));
  const nonce = rt.random.bytes(8);
  let der: Uint8Array;
  try {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/timestamp-query" }, body: timeStampRequest(imprint, nonce), signal: AbortSignal.timeout(TSA_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    if (!String(res.headers.get("content-type")).startsWith("application/timestamp-reply")) throw new Error(`content-type ${res.headers.get("content-type")}`);
    der = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new CaError("unavailable", `the TSA ${url} did not answer: ${(e as Error).message}`);
  }
  try {
    const { token, info } = readTimeStampResponse(der, imprint, nonce);
    return { token: Buffer.from(token).toString("base64"), genTime: info.genTime.getTime() };
  } catch (e) {
    throw new CaError("unavailable", `the TSA ${url} answered, but not with a token for this checkpoint: ${(e as Error).message}`);
  }
}

/** Reads the checkpoint kept outside the database; undefined when there is none yet. */
export function readExternalCheckpoint(file: string): Checkpoint | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Checkpoint;
  } catch (e) {
    throw new CaError("policy-violation", `the external audit checkpoint ${file} is unreadable: ${(e as Error).message}`);
  }
}

/**
 * REQ-30 restore check: the database must reach the checkpoint kept outside it. A restored older
 * backup does not; then signing stays refused until the operator reconciles (serials and CRL
 * numbers never go back). Returns the reason, or undefined when the database is current.
 */
export async function restoreGap(store: KnexAuditStore, file: string): Promise<string | undefined> {
  const ext = readExternalCheckpoint(file);
  if (!ext) return undefined;
  const anchor = await store.anchor();
  if (anchor && ext.seq <= anchor.seq) return undefined; // older than retention: nothing left to compare
  const hash = await store.entryHashAt(ext.seq);
  if (hash === ext.entryHash) return undefined;
  const head = await store.head();
  return `the database (audit head seq ${head?.seq ?? 0}) is behind or differs from the audit checkpoint kept outside it (seq ${ext.seq}, ${new Date(ext.at).toISOString()}): a restored backup? Check the gap, then run 'cardpki audit reconcile' (signing is refused until then)`;
}

/** Writes the checkpoint file atomically and durably (write, fsync, rename); the CRL numbers used so far go with it. */
function writeExternalCheckpoint(file: string, c: Checkpoint & { crlNumbers?: Record<string, string>; timestamp?: { token: string; genTime: number } }): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c, null, 2) + "\n", { mode: 0o644 });
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
}

export interface AuditTrail {
  readonly store: KnexAuditStore;
  /** Signs the chain's head (if it moved) into the database and the external file. */
  checkpoint(): Promise<Checkpoint | undefined>;
  verify(): Promise<VerifyResult>;
  /** REQ-28: removes entries older than the retention period, keeping the chain verifiable. */
  retention(now: Date, actor: string): Promise<{ count: number; throughSeq: number } | undefined>;
  /** REQ-31: the story of one certificate and a verdict per policy rule. */
  evidence(serial: string): Promise<Evidence>;
  /** The conformance report for a period; `organisationId` scopes certificates, revocations and activity to one organisation. */
  report(from: Date, to: Date, scope?: { organisationId?: string }): Promise<ConformanceReport>;
  /** The organisation a certificate was issued for (through its order), if any. */
  organisationOf(serial: string): Promise<string | undefined>;
  /** Entries matching a filter (refusals, alarms, one object); the read is audited (REQ-27). */
  events(filter: Parameters<KnexAuditStore["find"]>[0], actor: string): Promise<ChainedEntry[]>;
  /** After a restore: record the gap in the chain, raise CRL numbers above those used before, sign a new checkpoint. */
  reconcile(actor: string): Promise<{ gap: string | undefined; crlNumbers: Record<string, string>; checkpoint?: Checkpoint }>;
}

/** Ceremony transcripts in the CA store, each verified (signature and outputs). */
function ceremonies(caStoreDir: string): ConformanceReport["ceremonies"][number][] {
  if (!existsSync(caStoreDir)) return [];
  const caDir = new CaDirectory(caStoreDir);
  return readdirSync(caStoreDir, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => {
    const dir = join(caStoreDir, d.name, "transcripts");
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => join(dir, f)) : [];
  }).map((file) => {
    let t;
    let verified = false;
    try {
      t = verifyTranscriptFile(caDir, file).transcript as any;
      verified = true;
    } catch {
      t = JSON.parse(readFileSync(file, "utf8")); // shown, marked NOT VERIFIED
    }
    return { file: file.slice(caStoreDir.length + 1), ceremony: `${t.ceremony?.id}@${t.ceremony?.version}${t.dryRun ? " (dry run)" : ""}`, finishedAt: String(t.finishedAt), operator: String(t.operator), ...(t.witness ? { witness: String(t.witness) } : {}), verified };
  });
}

export function openAuditTrail(rt: RaRuntime, given?: ReadonlyMap<string, Workflow>): AuditTrail {
  let workflows = given; // read from policies/ only when evidence first needs them
  const store = new KnexAuditStore(rt.db, rt.readDb);
  // REQ-29: officers' names are sealed at rest; the HSM unwraps the data keys when evidence is first asked for.
  let opened: KnexEvidenceStore | undefined;
  const evidenceStore = async () => (opened ??= new KnexEvidenceStore(rt.readDb, await fieldCipher(rt)));
  const evidence = async (serial: string): Promise<Evidence> => {
    const r = await (await evidenceStore()).forCertificate(serial.toLowerCase());
    if (!r) throw new CaError("not-found", `no certificate with serial ${serial}`);
    workflows ??= loadWorkflows(join(rt.config.policyDir, "workflows"));
    const w = r.order ? workflows.get(r.order.workflowId) : undefined;
    const { workflowId, workflowVersion, ...order } = r.order ?? ({} as NonNullable<typeof r.order>);
    return buildEvidence({
      certificate: r.certificate, identifications: r.identifications, officers: r.officers, events: r.events, ...(r.card ? { card: r.card } : {}),
      actors: r.actors, ...(w ? { separation: w.separation } : {}),
      ...(r.order ? { order: { ...order, workflow: `${workflowId}@${workflowVersion}`, loa: w?.loa ?? 0, identificationsRequired: w?.identifications ?? 0, activationDeadlineDays: w?.activationDeadlineDays ?? 0 } } : {}),
    });
  };
  const file = rt.config.audit.checkpointFile;
  let signer: Promise<CheckpointSigner> | undefined;
  /** REQ-27: the TSA's token for a checkpoint just signed; a TSA that does not answer leaves it for the next run (logged). */
  const stamp = async (c: Checkpoint) => {
    if (!rt.config.audit.tsaUrl) return undefined;
    try {
      const t = await timestampCheckpoint(rt, c);
      await store.addTimestamp({ seq: c.seq, token: t.token, genTime: t.genTime, tsa: rt.config.audit.tsaUrl, checkpointAt: c.at });
      return t;
    } catch (e) {
      log.warn("audit checkpoint not timestamped; retried on the next checkpoint run", { seq: c.seq, error: e as Error });
      return undefined;
    }
  };
  const sign = async (head: { seq: number; entryHash: string; entries: number }): Promise<Checkpoint> => {
    signer ??= auditSigner(rt);
    const s = await signer;
    const unsigned = { seq: head.seq, entryHash: head.entryHash, entries: head.entries, at: rt.clock.now().getTime(), signer: s.name, signerSpkiSha256: s.spkiSha256 };
    return { ...unsigned, signature: Buffer.from(await s.sign(checkpointBytes(unsigned))).toString("base64") };
  };
  return {
    store,
    async checkpoint() {
      const head = await store.head();
      if (!head) return undefined;
      const latest = await store.latestCheckpoint();
      if (latest && latest.seq === head.seq) {
        if (rt.config.audit.tsaUrl && !(await store.timestamps()).has(latest.seq)) {
          // Its token could not be had when it was signed: sign it again now and ask again, so the token's time is the checkpoint's.
          const again = await sign(head);
          await store.replaceCheckpoint(again);
          const t = await stamp(again);
          writeExternalCheckpoint(file, { ...again, crlNumbers: await rt.revocations.crlNumbers(), ...(t ? { timestamp: t } : {}) });
          return again;
        }
        if (readExternalCheckpoint(file)?.seq !== latest.seq) writeExternalCheckpoint(file, { ...latest, crlNumbers: await rt.revocations.crlNumbers() });
        return latest;
      }
      const c = await sign(head);
      await store.addCheckpoint(c);
      const t = await stamp(c);
      writeExternalCheckpoint(file, { ...c, crlNumbers: await rt.revocations.crlNumbers(), ...(t ? { timestamp: t } : {}) });
      return c;
    },
    async verify() {
      // REQ-27: with a TSA certificate configured, every checkpoint's token is checked against it and the checkpoint's bytes.
      const tsa = tsaCertificateOf(rt);
      const stamps = tsa ? await store.timestamps() : undefined;
      const verifyTimestamp = tsa && stamps ? async (c: Checkpoint) => {
        const t = stamps.get(c.seq);
        if (!t) return { has: false };
        const { signature: _s, ...unsigned } = c;
        const r = await verifyTimeStampToken(new Uint8Array(Buffer.from(t.token, "base64")), checkpointBytes(unsigned), tsa);
        if (!r.ok) return { has: true, problem: `timestamp mismatch: ${r.reason}` };
        if (Math.abs(r.info.genTime.getTime() - c.at) > TSA_TOLERANCE_MS)
          return { has: true, problem: `timestamp mismatch: the TSA stamped it at ${r.info.genTime.toISOString()}, not at the checkpoint's time: the checkpoint was made again later` };
        return { has: true };
      } : undefined;
      return verifyChain({
        pages: store.pages(), checkpoints: await store.checkpoints(), verifySignature: checkpointVerifier(rt.config.caStoreDir), ...(verifyTimestamp ? { verifyTimestamp } : {}),
        ...(await store.anchor().then((a) => (a ? { anchor: a } : {}))),
        ...(() => {
          const ext = readExternalCheckpoint(file);
          return ext ? { external: ext } : {};
        })(),
      });
    },
    evidence,
    async events(filter, actor) {
      const found = await store.find(filter);
      await recordAuditEvent(rt.db, { id: newId(rt.random), at: rt.clock.now(), actor, action: "audit.events.read", objectType: "audit", objectId: "events", outcome: "success", details: { filter, entries: found.length } });
      return found;
    },
    async reconcile(actor) {
      const gap = await restoreGap(store, file);
      const ext = readExternalCheckpoint(file) as (Checkpoint & { crlNumbers?: Record<string, string> }) | undefined;
      const crlNumbers = ext?.crlNumbers ?? {};
      await rt.revocations.raiseCrlNumbers(crlNumbers);
      const head = await store.head();
      await recordAuditEvent(rt.db, {
        id: newId(rt.random), at: rt.clock.now(), actor, action: "audit.reconcile", objectType: "audit", objectId: String(head?.seq ?? 0), outcome: "success",
        details: { gap: gap ?? "none", externalCheckpoint: ext ? { seq: ext.seq, at: new Date(ext.at).toISOString() } : null, databaseHead: head?.seq ?? 0, crlNumbersRaisedTo: crlNumbers },
      });
      const checkpoint = await this.checkpoint();
      return { gap, crlNumbers, ...(checkpoint ? { checkpoint } : {}) };
    },
    async organisationOf(serial) {
      return (await evidenceStore()).organisationOf(serial.toLowerCase());
    },
    async report(from, to, scope = {}) {
      const records = await evidenceStore();
      const org = scope.organisationId;
      const issued = await records.issuedBetween(from.getTime(), to.getTime(), org);
      // One certificate's evidence at a time; only what the report counts is kept (constant memory per certificate).
      const all: Evidence[] = [];
      for (const c of issued) {
        const e = await evidence(c.serial);
        all.push({ certificate: e.certificate, ...(e.order ? { order: e.order } : {}), ...(e.separation ? { separation: e.separation } : {}), story: [], verdicts: e.verdicts.filter((v) => v.result === "fail"), verdict: e.verdict });
      }
      return buildReport({
        from, to, generatedAt: rt.clock.now(), chain: await this.verify(), evidence: all,
        revocations: await records.revocationsBetween(from.getTime(), to.getTime(), org), activity: await records.activityBetween(from.getTime(), to.getTime(), org),
        crls: await records.crlsBetween(from.getTime(), to.getTime()), ceremonies: ceremonies(rt.config.caStoreDir),
        matrix: loadRequirementsMatrix(join(rt.config.policyDir, "requirements-matrix.yaml")),
        workflows: [...(workflows ??= loadWorkflows(join(rt.config.policyDir, "workflows"))).values()].map((w) => ({ workflow: `${w.id}@${w.version}`, loa: w.loa, separation: w.separation })),
      });
    },
    async retention(now, actor) {
      const before = new Date(now);
      before.setUTCFullYear(before.getUTCFullYear() - rt.config.audit.retentionYears);
      return store.removeBefore(before.getTime(), ({ count, throughSeq }) => ({
        id: newId(rt.random), at: rt.clock.now(), actor, action: "audit.retention", objectType: "audit", objectId: String(throughSeq), outcome: "success",
        details: { removed: count, throughSeq, olderThan: before.toISOString(), retentionYears: rt.config.audit.retentionYears },
      }));
    },
  };
}

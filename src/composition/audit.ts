import { X509Certificate, verify as verifySig } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import { checkpointBytes, type Checkpoint, type CheckpointSigner } from "../audit/checkpoint.js";
import { KnexAuditStore } from "../store/audit.store.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { KnexEvidenceStore } from "../store/evidence.store.js";
import { fieldCipher } from "./data-keys.js";
import type { ConformanceReport } from "../audit/report.js";
import { AuditTrail as AuditTrailCore } from "../audit/audit-trail.js";
export { reportHtml } from "../audit/report.js";
import { loadRequirementsMatrix } from "../policy/requirements-matrix.js";
import { loadWorkflows, type Workflow } from "../policy/workflow.js";
import { verifyTranscriptFile } from "../ceremony/ceremony.js";
import { CaDirectory } from "../ceremony/ca-directory.js";
import type { Parts } from "./parts.js";
import { sha256Hex } from "../shared/digest.js";
import {
  imprintOf,
  readTimeStampResponse,
  timeStampRequest,
  tsaCertificate,
  verifyTimeStampToken,
} from "../audit/timestamp-token.js";
import { caStoreSignerNames } from "./ca-store-signers.js";

/**
 * Audit signers in the CA store: `<ca>/audit-signers/<label>/` with cert.pem and key.uri (made by an audit-signer
 * ceremony).
 */
export function auditSignerNames(caStoreDir: string): string[] {
  return caStoreSignerNames(caStoreDir, "audit-signers", ["cert.pem"]);
}

function signerCert(caStoreDir: string, name: string): X509Certificate {
  const [ca, label] = name.split("/");
  const f = join(caStoreDir, ca ?? "", "audit-signers", label ?? "", "cert.pem");
  if (!/^[a-z0-9-]+\/[A-Za-z0-9._-]+$/.test(name) || !existsSync(f))
    throw new CaError("not-found", `no audit signer '${name}' in ${caStoreDir}`);
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
export async function auditSigner(rt: Parts<"config" | "keystore">): Promise<CheckpointSigner> {
  const names = auditSignerNames(rt.config.caStoreDir);
  const name = rt.config.audit.signer ?? names[0];
  if (!name)
    throw new CaError(
      "config",
      `no audit signer in ${rt.config.caStoreDir} (run an audit-signer ceremony, ` +
        `e.g. policies/ceremonies/demo-audit-signer.yaml)`,
    );
  const cert = signerCert(rt.config.caStoreDir, name);
  const [ca, label] = name.split("/") as [string, string];
  const uri = parsePkcs11Uri(
    readFileSync(join(rt.config.caStoreDir, ca, "audit-signers", label, "key.uri"), "utf8").trim(),
  );
  const signer = await (await rt.keystore(uri.token)).signerFor(uri);
  return {
    name,
    spkiSha256: spkiSha256(cert),
    sign: (data) => signer.sign(data),
    verify: (data, sig) => verifySig("sha256", data, cert.publicKey, sig),
  };
}

/** REQ-27: an RFC 3161 TSA answers within this time, or the checkpoint waits for its token until the next run. */
const TSA_TIMEOUT_MS = 15_000;

/** The configured TSA's certificate (checked: sole critical EKU timeStamping), for verifying tokens. */
export function tsaCertificateOf(rt: Parts<"config">): ReturnType<typeof tsaCertificate> | undefined {
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
export async function timestampCheckpoint(
  rt: Parts<"config" | "random">,
  c: Checkpoint,
): Promise<{ token: string; genTime: number }> {
  const url = rt.config.audit.tsaUrl;
  if (!url) throw new CaError("config", "no TSA configured (audit.tsaUrl)");
  const { signature: _s, ...unsigned } = c;
  const imprint = imprintOf(checkpointBytes(unsigned));
  const nonce = rt.random.bytes(8);
  let der: Uint8Array;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/timestamp-query" },
      body: timeStampRequest(imprint, nonce),
      signal: AbortSignal.timeout(TSA_TIMEOUT_MS),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    if (!String(res.headers.get("content-type")).startsWith("application/timestamp-reply"))
      throw new Error(`content-type ${res.headers.get("content-type")}`);
    der = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new CaError("unavailable", `the TSA ${url} did not answer: ${(e as Error).message}`);
  }
  try {
    const { token, info } = readTimeStampResponse(der, imprint, nonce);
    return { token: Buffer.from(token).toString("base64"), genTime: info.genTime.getTime() };
  } catch (e) {
    throw new CaError(
      "unavailable",
      `the TSA ${url} answered, but not with a token for this checkpoint: ${(e as Error).message}`,
    );
  }
}

/** Reads the checkpoint kept outside the database; undefined when there is none yet. */
export function readExternalCheckpoint(file: string): Checkpoint | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Checkpoint;
  } catch (e) {
    throw new CaError(
      "policy-violation",
      `the external audit checkpoint ${file} is unreadable: ${(e as Error).message}`,
    );
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
  return (
    `the database (audit head seq ${head?.seq ?? 0}) is behind or differs from ` +
    `the audit checkpoint kept outside it (seq ${ext.seq}, ` +
    `${new Date(ext.at).toISOString()}): a restored backup? Check the gap, then ` +
    `run 'cardpki audit reconcile' (signing is refused until then)`
  );
}

/** Writes the checkpoint file atomically and durably (write, fsync, rename); the CRL numbers used so far go with it. */
function writeExternalCheckpoint(
  file: string,
  c: Checkpoint & { crlNumbers?: Record<string, string>; timestamp?: { token: string; genTime: number } },
): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c, null, 2) + "\n", { mode: 0o644 });
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
}

/** The audit trail (audit/audit-trail.ts) over the database's audit store. */
export type AuditTrail = AuditTrailCore<KnexAuditStore>;

/** Ceremony transcripts in the CA store, each verified (signature and outputs). */
function ceremonies(caStoreDir: string): ConformanceReport["ceremonies"][number][] {
  if (!existsSync(caStoreDir)) return [];
  const caDir = new CaDirectory(caStoreDir);
  return readdirSync(caStoreDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const dir = join(caStoreDir, d.name, "transcripts");
      return existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith(".json"))
            .map((f) => join(dir, f))
        : [];
    })
    .map((file) => {
      let t;
      let verified = false;
      try {
        t = verifyTranscriptFile(caDir, file).transcript as any;
        verified = true;
      } catch {
        t = JSON.parse(readFileSync(file, "utf8")); // shown, marked NOT VERIFIED
      }
      return {
        file: file.slice(caStoreDir.length + 1),
        ceremony: `${t.ceremony?.id}@${t.ceremony?.version}${t.dryRun ? " (dry run)" : ""}`,
        finishedAt: String(t.finishedAt),
        operator: String(t.operator),
        ...(t.witness ? { witness: String(t.witness) } : {}),
        verified,
      };
    });
}

/** Wires the audit trail: the database's stores, the HSM audit key, the checkpoint file, the TSA, the policies. */
/** What the audit trail uses: the records it reads and writes, the token of its checkpoint signer. */
export type AuditParts = Parts<"config" | "clock" | "random" | "db" | "readDb" | "revocations" | "keystore">;

export function openAuditTrail(rt: AuditParts, given?: ReadonlyMap<string, Workflow>): AuditTrail {
  let workflows = given; // read from policies/ only when evidence first needs them
  // REQ-29: officers' names are sealed at rest; the HSM unwraps the data keys when evidence is first asked for.
  let opened: KnexEvidenceStore | undefined;
  const file = rt.config.audit.checkpointFile;
  const store = new KnexAuditStore(rt.db, rt.readDb);
  const tsaUrl = rt.config.audit.tsaUrl;
  return new AuditTrailCore({
    store,
    evidence: async () => (opened ??= new KnexEvidenceStore(rt.readDb, await fieldCipher(rt))),
    workflows: () => (workflows ??= loadWorkflows(join(rt.config.policyDir, "workflows"))),
    signer: () => auditSigner(rt),
    verifySignature: checkpointVerifier(rt.config.caStoreDir),
    external: { read: () => readExternalCheckpoint(file), write: (c) => writeExternalCheckpoint(file, c) },
    ...(tsaUrl ? { tsa: { url: tsaUrl, stamp: (c: Checkpoint) => timestampCheckpoint(rt, c) } } : {}),
    ...(rt.config.audit.tsaCertFile
      ? {
          tokenVerifier: () => {
            const cert = tsaCertificateOf(rt)!; // read (and checked) when a verification starts
            return async (token: Uint8Array, data: Uint8Array) => {
              const r = await verifyTimeStampToken(token, data, cert);
              return r.ok ? { ok: true as const, genTime: r.info.genTime } : r;
            };
          },
        }
      : {}),
    crlNumbers: () => rt.revocations.crlNumbers(),
    raiseCrlNumbers: (n) => rt.revocations.raiseCrlNumbers(n),
    restoreGap: () => restoreGap(store, file),
    record: (e) => recordAuditEvent(rt.db, e),
    ceremonies: () => ceremonies(rt.config.caStoreDir),
    matrix: () => loadRequirementsMatrix(join(rt.config.policyDir, "requirements-matrix.yaml")),
    retentionYears: rt.config.audit.retentionYears,
    clock: rt.clock,
    random: rt.random,
  });
}

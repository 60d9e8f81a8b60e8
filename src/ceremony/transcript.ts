import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { sha256Hex } from "../shared/digest.js";
import { hostname } from "node:os";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { KeySigner } from "../ca/ports.js";

export interface TranscriptStep {
  readonly n: number;
  readonly at: string;
  readonly action: string;
  readonly detail: Record<string, unknown>;
}

export interface TranscriptKey {
  readonly token: string;
  readonly label: string;
  readonly id: string;
  readonly type: string;
  /** Key pairs; a secret key (data-key ceremony) has no public key. */
  readonly spkiSha256?: string;
  readonly attributes: Record<string, boolean | number>;
}

/** The evidence of one ceremony (REQ-26): who, what, when, which keys, which outputs. */
export interface Transcript {
  readonly format: "cardpki-ceremony-transcript/1";
  readonly ceremony: {
    readonly id: string;
    readonly version: number;
    readonly kind: string;
    readonly fileSha256: string;
    readonly cps: readonly string[];
  };
  readonly dryRun: boolean;
  readonly host: string;
  readonly operator: string;
  readonly witness: string | null;
  readonly custodians: readonly { readonly token: string; readonly name: string }[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly steps: readonly TranscriptStep[];
  readonly keys: readonly TranscriptKey[];
  readonly outputs: readonly { readonly path: string; readonly sha256: string }[];
  readonly signer: { readonly description: string; readonly spki: string; readonly algorithm: string };
  readonly signature: string;
}

/** Deterministic JSON: object keys sorted at every level. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

export { sha256Hex };

/** Collects steps as the ceremony runs; signed at the end with the ceremony's key. */
export class TranscriptRecorder {
  private readonly steps: TranscriptStep[] = [];
  private readonly keys: TranscriptKey[] = [];
  private readonly outputs: { path: string; sha256: string }[] = [];
  private readonly startedAt: string;

  constructor(
    private readonly clock: Clock,
    private readonly head: Pick<Transcript, "ceremony" | "dryRun" | "operator" | "witness" | "custodians">,
  ) {
    this.startedAt = clock.now().toISOString();
  }

  step(action: string, detail: Record<string, unknown> = {}): TranscriptStep {
    const s = { n: this.steps.length + 1, at: this.clock.now().toISOString(), action, detail };
    this.steps.push(s);
    return s;
  }

  key(k: TranscriptKey): void {
    this.keys.push(k);
  }

  output(path: string, data: string | Uint8Array): void {
    this.outputs.push({ path, sha256: sha256Hex(data) });
  }

  async sign(signer: KeySigner, description: string): Promise<Transcript> {
    const body = {
      format: "cardpki-ceremony-transcript/1" as const,
      ...this.head,
      host: hostname(),
      startedAt: this.startedAt,
      finishedAt: this.clock.now().toISOString(),
      steps: this.steps,
      keys: this.keys,
      outputs: this.outputs,
      signer: { description, spki: Buffer.from(signer.spki).toString("base64"), algorithm: signer.algorithmOid },
    };
    const sig = await signer.sign(new TextEncoder().encode(canonicalJson(body)));
    return { ...body, signature: Buffer.from(sig).toString("base64") };
  }
}

const HASH: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.113549.1.1.11": "sha256",
};

/**
 * Checks a transcript's signature with the key it names. `expectedSpki` (from the CA
 * certificate in ca-store) pins that key, so a transcript re-signed by another key fails.
 */
export function verifyTranscript(t: Transcript, expectedSpki?: Uint8Array): void {
  if (t?.format !== "cardpki-ceremony-transcript/1")
    throw new CaError("invalid-input", "not a cardpki ceremony transcript");
  const { signature, ...body } = t;
  const hash = HASH[t.signer?.algorithm];
  if (!hash || typeof signature !== "string") throw new CaError("invalid-input", "transcript has no usable signature");
  const spki = Buffer.from(t.signer.spki, "base64");
  if (expectedSpki && !spki.equals(Buffer.from(expectedSpki)))
    throw new CaError("policy-violation", "transcript is signed by a key other than the ceremony's CA key");
  let ok: boolean;
  try {
    ok = nodeVerify(
      hash,
      Buffer.from(canonicalJson(body)),
      createPublicKey({ key: spki, format: "der", type: "spki" }),
      Buffer.from(signature, "base64"),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new CaError("policy-violation", "transcript signature does not verify: the transcript was altered");
}

import { Agent, request } from "node:https";
import { CaError } from "../shared/ca-error.js";
import type { KeySigner } from "../ca/ports.js";
import {
  parseSignerResponse,
  SIGNER_MAX_BODY_BYTES,
  SIGNER_PATH,
  SIGNER_PROTOCOL_VERSION,
  type SignerCaInfo,
  type SignerRequest,
  type SignerResult,
} from "./signer-protocol.js";

export interface SignerClientOptions {
  /** https://host:port of `serve --role ca-signer`. */
  readonly url: string;
  /** This role's client certificate and key, issued by the channel CA. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** The channel CA: the signer's server certificate must come from it. */
  readonly ca: string | Buffer;
  readonly timeoutMs?: number;
}

/** The caller's end of the signer channel (mutual TLS, protocol version 1, every answer schema-checked). */
export class SignerClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(private readonly opts: SignerClientOptions) {
    this.url = new URL(SIGNER_PATH, opts.url);
    if (this.url.protocol !== "https:")
      throw new CaError("config", `the CA signer URL must be https (got '${opts.url}')`);
    this.agent = new Agent({
      keepAlive: true,
      cert: opts.cert,
      key: opts.key,
      ca: opts.ca,
      minVersion: "TLSv1.3",
      maxSockets: 16,
    });
  }

  async call(msg: SignerRequest): Promise<SignerResult> {
    const body = JSON.stringify(msg);
    const raw = await new Promise<string>((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          timeout: this.opts.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > SIGNER_MAX_BODY_BYTES) res.destroy(new Error("answer too large"));
            else chunks.push(c);
          });
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", reject);
      req.end(body);
    }).catch((e: Error) => {
      throw new CaError("hsm-unavailable", `CA signer at ${this.opts.url} unreachable: ${e.message}`, undefined, {
        cause: e,
      });
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new CaError("internal", "the CA signer answered with something that is not JSON");
    }
    const res = parseSignerResponse(parsed);
    if (!res.ok) throw new CaError(res.error.kind, `CA signer: ${res.error.message}`);
    if (res.result.op !== msg.op) throw new CaError("internal", `the CA signer answered ${res.result.op} to ${msg.op}`);
    return res.result;
  }

  async describe(): Promise<readonly SignerCaInfo[]> {
    const r = await this.call({ v: SIGNER_PROTOCOL_VERSION, op: "describe" });
    return r.op === "describe" ? r.cas : [];
  }

  /**
   * The CA's key as this role sees it: the public half from the CA certificate (`publicHalf`,
   * whose sign refuses), signatures made by the signer process. Same KeySigner port as in process.
   */
  keySigner(caId: string, publicHalf: KeySigner): KeySigner {
    return {
      keyType: publicHalf.keyType,
      spki: publicHalf.spki,
      algorithmDer: publicHalf.algorithmDer,
      algorithmOid: publicHalf.algorithmOid,
      sign: async (tbs) => {
        const r = await this.call({
          v: SIGNER_PROTOCOL_VERSION,
          op: "sign-certificate",
          ca: caId,
          tbs: Buffer.from(tbs).toString("base64"),
        });
        if (r.op !== "sign-certificate") throw new CaError("internal", "unexpected signer answer");
        return new Uint8Array(Buffer.from(r.signature, "base64"));
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

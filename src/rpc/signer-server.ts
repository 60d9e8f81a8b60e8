import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { CaError, asCaError } from "../shared/ca-error.js";
import { logger } from "../shared/log.js";
import {
  parseSignerRequest,
  SIGNER_MAX_BODY_BYTES,
  SIGNER_PATH,
  SIGNER_PROTOCOL_VERSION,
  type SignerRequest,
  type SignerResponse,
  type SignerResult,
} from "./signer-protocol.js";

const log = logger("signer-channel");

/** What the signer does with a checked message; `peer` is the client certificate's subject. */
export type SignerHandler = (req: SignerRequest, peer: string) => Promise<SignerResult>;

export interface SignerTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** The channel CA: only clients with a certificate from it get a TLS session. */
  readonly ca: string | Buffer;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > SIGNER_MAX_BODY_BYTES) {
        reject(
          new CaError("invalid-input", `signer message larger than ${SIGNER_MAX_BODY_BYTES} bytes`, {
            rule: "signer protocol schema",
          }),
        );
        chunks.length = 0; // the rest is read and dropped; the refusal is answered
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: SignerResponse): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

const STATUS: Partial<Record<CaError["kind"], number>> = {
  "invalid-input": 400,
  "not-found": 404,
  conflict: 409,
  forbidden: 403,
  "lint-failed": 422,
  "policy-violation": 422,
  unauthorized: 401,
};

/**
 * The signer's end of the channel: HTTPS with required client certificates from the channel CA
 * (mutual TLS; meant for loopback or a private link). One operation per POST; a malformed or
 * wrong-version message is refused in words and never reaches the handler; no error escapes.
 */
export function listenSigner(handler: SignerHandler, tls: SignerTls, host: string, port: number): Promise<Server> {
  const server = createServer(
    { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
    (req, res) => {
      void (async () => {
        const socket = req.socket as TLSSocket;
        const cn = socket.getPeerCertificate()?.subject?.CN;
        const peer = (Array.isArray(cn) ? cn.join(",") : cn) ?? "unknown";
        try {
          if (req.method !== "POST" || req.url !== SIGNER_PATH)
            throw new CaError("not-found", `the signer answers POST ${SIGNER_PATH} only`);
          const raw = await readBody(req);
          let body: unknown;
          try {
            body = JSON.parse(raw.toString("utf8"));
          } catch {
            throw new CaError("invalid-input", "malformed signer message: not JSON", {
              rule: "signer protocol schema",
            });
          }
          const msg = parseSignerRequest(body);
          const result = await handler(msg, peer);
          send(res, 200, { v: SIGNER_PROTOCOL_VERSION, ok: true, result });
        } catch (e) {
          const err = asCaError(e, "internal");
          if (err.kind === "internal") log.error("signer request failed", { peer, error: e });
          else log.warn("signer request refused", { peer, kind: err.kind, msg: err.message });
          send(res, STATUS[err.kind] ?? 500, {
            v: SIGNER_PROTOCOL_VERSION,
            ok: false,
            error: {
              kind: err.kind,
              message: err.kind === "internal" ? "internal error in the CA signer" : err.message,
            },
          });
        }
      })();
    },
  );
  server.on("tlsClientError", (e) => log.warn("signer channel: TLS client refused", { error: e.message }));
  server.on("clientError", (e, socket) => {
    log.warn("signer channel: bad request", { error: e.message });
    socket.destroy();
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

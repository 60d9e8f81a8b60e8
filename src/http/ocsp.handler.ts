import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { writeProblem } from "./problem.js";
import { logger } from "../shared/log.js";
import { systemClock, type Clock } from "../shared/clock.js";

const log = logger("ocsp");

type Answer = { der: Uint8Array; thisUpdate?: Date; nextUpdate?: Date; cacheable: boolean };

export interface OcspService {
  /** Synchronous hot path: an answer already signed for exactly these bytes, or undefined. */
  respondFromCache(der: Uint8Array): Answer | undefined;
  /** `client`: the caller's address (signatures on demand are budgeted per client). */
  respond(der: Uint8Array, client?: string): Promise<Answer>;
}

export function isOcspPath(url: string | undefined): boolean {
  return url === "/ocsp" || url === "/ocsp/" || (url !== undefined && url.startsWith("/ocsp/"));
}

/**
 * OCSP over HTTP (RFC 6960 Appendix A, RFC 5019 5-6), on plain node:http for speed:
 * POST /ocsp with application/ocsp-request, GET /ocsp/<url-encoded base64>. Bad transport gets a
 * 4xx problem; a bad request body gets an OCSP malformedRequest; nothing reaches a 5xx.
 */
export function ocspHandler(service: OcspService, maxBodyBytes: number, clock: Clock = systemClock) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const fail = (e: unknown) => {
      log.error("handler failed", { error: e });
      if (!res.headersSent) writeProblem(res, 503, "unavailable", "the responder could not answer; try again");
    };
    if (req.method === "POST" && (req.url === "/ocsp" || req.url === "/ocsp/")) {
      const ct = req.headers["content-type"];
      if (
        ct !== "application/ocsp-request" &&
        (ct ?? "").split(";")[0]!.trim().toLowerCase() !== "application/ocsp-request"
      ) {
        req.resume();
        return writeProblem(res, 415, "invalid-input", "Content-Type must be application/ocsp-request (RFC 6960 A.1)");
      }
      const declared = Number(req.headers["content-length"] ?? NaN);
      if (declared > maxBodyBytes) {
        req.resume();
        return writeProblem(res, 413, "invalid-input", `OCSP requests are limited to ${maxBodyBytes} bytes`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxBodyBytes) {
          if (!over) writeProblem(res, 413, "invalid-input", `OCSP requests are limited to ${maxBodyBytes} bytes`);
          over = true;
          return;
        }
        chunks.push(c);
      });
      req.on("error", () => undefined);
      req.on("end", () => {
        if (over) return;
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        const der = new Uint8Array(body.buffer, body.byteOffset, body.length);
        const hit = service.respondFromCache(der);
        if (hit) return send(res, hit, false, clock);
        service.respond(der, req.socket.remoteAddress).then((a) => send(res, a, false, clock), fail);
      });
      return;
    }
    if ((req.method === "GET" || req.method === "HEAD") && req.url!.startsWith("/ocsp/")) {
      const enc = req.url!.slice("/ocsp/".length);
      if (enc.length > maxBodyBytes * 2) return writeProblem(res, 414, "invalid-input", "OCSP GET request too long");
      let der: Buffer;
      try {
        // RFC 5019 5: base64, then URL-encoded; base64url is accepted too.
        const b64 = decodeURIComponent(enc).replace(/-/g, "+").replace(/_/g, "/");
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new Error("not base64");
        der = Buffer.from(b64, "base64");
      } catch {
        der = Buffer.alloc(0); // answered as malformedRequest
      }
      service.respond(new Uint8Array(der), req.socket.remoteAddress).then((a) => send(res, a, true, clock), fail);
      return;
    }
    res.setHeader("allow", "GET, POST");
    writeProblem(res, 405, "invalid-input", "OCSP takes POST /ocsp or GET /ocsp/<base64 request>");
  };
}

function send(res: ServerResponse, a: Answer, get: boolean, clock: Clock): void {
  // Flat header list: node writes it without per-request header object processing.
  const headers: string[] = ["content-type", "application/ocsp-response", "content-length", String(a.der.length)];
  if (get && a.cacheable && a.thisUpdate && a.nextUpdate) {
    // RFC 5019 6.2: caching headers from the response's own validity.
    const maxAge = Math.max(0, Math.floor((a.nextUpdate.getTime() - clock.now().getTime()) / 1000));
    headers.push(
      "cache-control",
      `max-age=${maxAge}, public, no-transform, must-revalidate`,
      "last-modified",
      a.thisUpdate.toUTCString(),
      "expires",
      a.nextUpdate.toUTCString(),
      "etag",
      `"${createHash("sha1").update(a.der).digest("hex")}"`,
    );
  } else headers.push("cache-control", "no-store");
  res.writeHead(200, headers);
  res.end(Buffer.from(a.der.buffer, a.der.byteOffset, a.der.length));
}

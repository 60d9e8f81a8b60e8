import { Router } from "express";
import { createHash } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import { systemClock, type Clock } from "../shared/clock.js";

export interface PublishedCrl {
  readonly der: Uint8Array;
  readonly number: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/**
 * CRLs (RFC 5280 5, RFC 2585 3): GET /crl/<ca>.crl (full) and /crl/<ca>-delta.crl, DER,
 * application/pkix-crl, with ETag, Last-Modified and Cache-Control bounded by nextUpdate.
 */
export function crlRoutes(
  find: (caId: string, kind: "full" | "delta") => Promise<PublishedCrl | undefined>,
  clock: Clock = systemClock,
): Router {
  const r = Router();
  r.get("/crl/:file", async (req, res) => {
    const m = /^([a-z0-9][a-z0-9-]{0,62}?)(-delta)?\.crl$/.exec(req.params.file);
    if (!m) throw new CaError("not-found", `no CRL '${req.params.file}'`);
    const crl = await find(m[1]!, m[2] ? "delta" : "full");
    if (!crl) throw new CaError("not-found", `no ${m[2] ? "delta " : ""}CRL for CA '${m[1]}'`);
    const etag = `"${crl.number}-${createHash("sha1").update(crl.der).digest("hex").slice(0, 16)}"`;
    const maxAge = Math.max(0, Math.min(3600, Math.floor((crl.nextUpdate.getTime() - clock.now().getTime()) / 1000)));
    res.set({
      "Content-Type": "application/pkix-crl",
      ETag: etag,
      "Last-Modified": crl.thisUpdate.toUTCString(),
      Expires: crl.nextUpdate.toUTCString(),
      "Cache-Control": `public, max-age=${maxAge}, no-transform`,
    });
    if (req.headers["if-none-match"] === etag) {
      res.status(304).end();
      return;
    }
    res.send(Buffer.from(crl.der));
  });
  return r;
}

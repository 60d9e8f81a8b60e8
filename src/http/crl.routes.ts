import { Router, type Request, type Response } from "express";
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
 * CRLs (RFC 5280 5, RFC 2585 3): GET /crl/<ca>.crl (full) and /crl/<ca>-delta.crl, and per shard
 * /crl/<ca>/<shard>.crl and /crl/<ca>/<shard>-delta.crl when the CA's CRL is sharded, DER,
 * application/pkix-crl, with ETag, Last-Modified and Cache-Control bounded by nextUpdate.
 */
export function crlRoutes(
  find: (caId: string, kind: "full" | "delta", shard?: number) => Promise<PublishedCrl | undefined>,
  clock: Clock = systemClock,
): Router {
  const r = Router();
  const send = (crl: PublishedCrl, req: Request, res: Response) => {
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
  };
  r.get("/crl/:file", async (req, res) => {
    const m = /^([a-z0-9][a-z0-9-]{0,62}?)(-delta)?\.crl$/.exec(req.params.file);
    if (!m) throw new CaError("not-found", `no CRL '${req.params.file}'`);
    const crl = await find(m[1]!, m[2] ? "delta" : "full");
    if (!crl) throw new CaError("not-found", `no ${m[2] ? "delta " : ""}CRL for CA '${m[1]}'`);
    send(crl, req, res);
  });
  // RFC 5280 5.2.5: a shard of a CA's CRL, /crl/<ca>/<shard>.crl and /crl/<ca>/<shard>-delta.crl.
  r.get("/crl/:ca/:file", async (req, res) => {
    const ca = /^[a-z0-9][a-z0-9-]{0,62}$/.exec(req.params.ca);
    const m = /^(0|[1-9][0-9]{0,3})(-delta)?\.crl$/.exec(req.params.file);
    if (!ca || !m) throw new CaError("not-found", `no CRL '${req.params.ca}/${req.params.file}'`);
    const crl = await find(req.params.ca, m[2] ? "delta" : "full", Number(m[1]));
    if (!crl) throw new CaError("not-found", `no ${m[2] ? "delta " : ""}CRL shard ${m[1]} for CA '${req.params.ca}'`);
    send(crl, req, res);
  });
  return r;
}

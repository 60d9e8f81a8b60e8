import { Router } from "express";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { CaError } from "../shared/ca-error.js";
import { nameToString } from "../asn1/name.js";
import { toArrayBuffer, toPem } from "../asn1/der.js";
import { sendJson } from "./validation.js";
import { CA_LIST } from "./schemas/portal.schemas.js";

export interface PublishedCa {
  readonly id: string;
  readonly certDer: Uint8Array;
  readonly chainDer: readonly Uint8Array[];
}

/**
 * Public CA certificates: `GET /ca/<id>.cer` is the caIssuers URL of AIA (RFC 5280 4.2.2.1:
 * a single DER certificate, application/pkix-cert); `.pem` gives the chain; `/ca` lists them.
 */
export function caRoutes(list: () => readonly PublishedCa[]): Router {
  const r = Router();
  const find = (id: string) => {
    const ca = list().find((c) => c.id === id);
    if (!ca) throw new CaError("not-found", `no CA '${id}'`);
    return ca;
  };
  r.get("/ca", (_req, res) => {
    sendJson(
      res,
      200,
      CA_LIST,
      list().map((c) => {
        const cert = AsnConvert.parse(toArrayBuffer(c.certDer), Certificate);
        return {
          id: c.id,
          subject: nameToString(cert.tbsCertificate.subject),
          notAfter: cert.tbsCertificate.validity.notAfter.getTime().toISOString(),
          certificate: `/ca/${c.id}.cer`,
          chain: `/ca/${c.id}.pem`,
        };
      }),
    );
  });
  r.get("/ca/:file", (req, res) => {
    const m = /^([a-z0-9][a-z0-9-]{0,62})\.(cer|crt|der|pem)$/.exec(req.params.file);
    if (!m) throw new CaError("not-found", `no CA file '${req.params.file}'`);
    const ca = find(m[1]!);
    res.set("Cache-Control", "public, max-age=3600");
    if (m[2] === "pem")
      res.type("application/pem-certificate-chain").send(ca.chainDer.map((d) => toPem("CERTIFICATE", d)).join(""));
    else res.type("application/pkix-cert").send(Buffer.from(ca.certDer));
  });
  return r;
}

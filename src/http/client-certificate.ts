import type { TLSSocket } from "node:tls";
import { certificateSerialHex, parseCertificate } from "../asn1/parse.js";
import { CaError } from "../shared/ca-error.js";

export interface ClientCertificate {
  readonly der: Uint8Array;
  /** serialNumber in lower-case hex, as the store keys certificates. */
  readonly serial: string;
}

/** Parsed once per connection and certificate (a renegotiation that changes it is parsed again). */
const perSocket = new WeakMap<TLSSocket, { raw: Buffer; cert: ClientCertificate }>();

/**
 * The certificate the TLS layer received on this connection, read with the @peculiar ASN.1
 * library (RFC 5280 4.1), or undefined when none was presented. A certificate the library cannot
 * read is refused as unauthorized (REQ-22), whatever TLS made of it.
 */
export function clientCertificate(socket: TLSSocket): ClientCertificate | undefined {
  const raw = typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate(false)?.raw : undefined;
  if (!raw || raw.length === 0) return undefined;
  const hit = perSocket.get(socket);
  if (hit && hit.raw.equals(raw)) return hit.cert;
  const der = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  let serial: string;
  try {
    serial = certificateSerialHex(parseCertificate(der, "client certificate"));
  } catch (e) {
    throw new CaError("unauthorized", `the client certificate could not be read: ${(e as Error).message}`);
  }
  const cert = { der, serial };
  perSocket.set(socket, { raw, cert });
  return cert;
}

import { request } from "node:https";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";
import { toPem } from "../asn1/der.js";
import { CardActivation } from "../card/card-activation.js";
import { PcscTransport } from "../card/pcsc-transport.js";

/**
 * A TLS client identity: certificate (PEM) and a key file (PEM), or the card's own key through OpenSSL's PKCS#11
 * engine.
 */
export interface ClientIdentity {
  readonly cert: string;
  readonly key?: string;
  /** RFC 7512 URI of the key on the card (OpenSC's PKCS#11 module); the PIN is added when the key is used. */
  readonly keyUri?: string;
}

const OPENSC = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const ENGINES = "/usr/lib/x86_64-linux-gnu/engines-3";

/** One JSON call to the RA API over mTLS; a problem answer becomes a CaError with its detail. */
async function call(
  base: URL,
  ca: string,
  id: ClientIdentity,
  pin: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<any> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const tlsKey = id.keyUri
    ? (() => {
        // The card's key signs the TLS handshake (libp11's engine over OpenSC; the PIN only in this process).
        process.env.OPENSSL_ENGINES ??= ENGINES;
        if (existsSync(OPENSC)) process.env.PKCS11_MODULE_PATH ??= OPENSC;
        return { privateKeyEngine: "pkcs11", privateKeyIdentifier: pin ? `${id.keyUri};pin-value=${pin}` : id.keyUri };
      })()
    : { key: id.key };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path: `/api/v1${path}`,
        method,
        ca,
        cert: id.cert,
        ...tlsKey,
        servername: base.hostname,
        agent: false,
        headers:
          data !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {},
      },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          const json = text ? JSON.parse(text) : undefined;
          if ((res.statusCode ?? 500) >= 400)
            reject(
              new CaError(
                res.statusCode === 422
                  ? "policy-violation"
                  : res.statusCode === 409
                    ? "conflict"
                    : res.statusCode === 403
                      ? "forbidden"
                      : res.statusCode === 401
                        ? "unauthorized"
                        : "unavailable",
                `${method} ${path}: ${json?.detail ?? json?.title ?? res.statusCode}`,
                undefined,
                typeof json?.code === "string"
                  ? {
                      code: json.code,
                      ...(json.params && typeof json.params === "object" ? { params: json.params } : {}),
                    }
                  : undefined,
              ),
            );
          else resolve(json);
        });
      },
    );
    req.on("error", (e) => reject(new CaError("unavailable", `${method} ${path}: ${e.message}`)));
    req.end(data);
  });
}

async function onCard<T>(
  reader: string | undefined,
  random: Random,
  fn: (card: CardActivation) => Promise<T>,
): Promise<T> {
  const t = new PcscTransport();
  try {
    const ch = await t.connect(reader);
    try {
      return await fn(await CardActivation.open(ch, random));
    } finally {
      await ch.close();
    }
  } finally {
    t.close();
  }
}

/**
 * Activation at the card station (REQ-16): the holder, at the station with their handed-out
 * card, types the transport PIN and a new PIN of their own; the station replaces the PIN on the
 * card (the card refuses the transport PIN afterwards) and records it with the RA under its own
 * officer credential; the holder's card then authenticates (TLS with its certificate, still on
 * hold), fetches a fresh challenge, signs it under the new PIN, and the RA activates the order,
 * which lifts the hold.
 */
export async function activateAtStation(o: {
  raUrl: string;
  raCa: string;
  orderId: string;
  reader?: string;
  transportPin: string;
  newPin: string;
  holder: Omit<ClientIdentity, "cert"> & { cert?: string };
  station: ClientIdentity;
  random: Random;
}): Promise<{ orderId: string; state: string; cardSerial: string; certificateSerial: string }> {
  const base = new URL(o.raUrl);
  // 1. The card: its certificate, and the transport PIN replaced by the holder's own.
  const { cardSerial, certDer } = await onCard(o.reader, o.random, async (card) => {
    const certDer = await card.certificate("9a");
    await card.replaceTransportPin(o.transportPin, o.newPin);
    return { cardSerial: card.cardSerial, certDer };
  });
  const holder: ClientIdentity = {
    cert: o.holder.cert ?? toPem("CERTIFICATE", certDer),
    ...(o.holder.key ? { key: o.holder.key } : {}),
    ...(o.holder.keyUri ? { keyUri: o.holder.keyUri } : {}),
  };
  const certificateSerial = new X509Certificate(holder.cert).serialNumber.toLowerCase();
  // 2. The station's record (its own credential): the holder replaced the transport PIN on this card.
  await call(base, o.raCa, o.station, undefined, "POST", `/orders/${o.orderId}/transport-pin-replaced`, { cardSerial });
  // 3. A fresh challenge for this card (the card's certificate is on hold; the RA accepts it for this step only).
  const ch = await call(base, o.raCa, holder, o.newPin, "GET", `/holder/orders/${o.orderId}/activation-challenge`);
  // 4. The card signs it under the new PIN.
  const signature = await onCard(o.reader, o.random, (card) =>
    card.signChallenge(new TextEncoder().encode(ch.message), ch.hash, o.newPin),
  );
  // 5. Activation: the RA verifies the signature with the certificate's key, checks the station's record, lifts the
  // hold.
  const done = await call(base, o.raCa, holder, o.newPin, "POST", `/holder/orders/${o.orderId}/activate`, {
    challengeSignature: Buffer.from(signature).toString("base64url"),
  });
  return { orderId: o.orderId, state: done.state, cardSerial, certificateSerial };
}

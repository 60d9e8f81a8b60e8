import { expect } from "chai";
import { request } from "node:https";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** A TLS client credential: PEM key and certificate. */
export interface ClientCred {
  readonly key: string;
  readonly cert: string;
}

export interface RaReply {
  status: number;
  body: any;
  text: string;
  headers: Record<string, unknown>;
}

/**
 * One HTTPS request to the RA server as a real client: the server certificate checked against `ca`,
 * the client certificate presented when given. JSON bodies are sent and, when the answer is JSON
 * (application/json or problem+json), parsed; `text` is the answer as it came.
 */
export function raRequest(
  target: { readonly base: URL; readonly ca: string },
  method: string,
  path: string,
  o: { body?: unknown; raw?: string; cred?: ClientCred; headers?: Record<string, string>; agent?: false } = {},
): Promise<RaReply> {
  return new Promise((resolve, reject) => {
    const data = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
    const req = request(
      {
        host: target.base.hostname,
        port: target.base.port,
        path,
        method,
        ca: target.ca,
        servername: "localhost",
        ...(o.agent === false ? { agent: false } : {}),
        ...(o.cred ? { key: o.cred.key, cert: o.cred.cert } : {}),
        headers: {
          ...(data !== undefined
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) }
            : {}),
          ...o.headers,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => {
          try {
            const body = text && /json/.test(String(res.headers["content-type"])) ? JSON.parse(text) : undefined;
            resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** A client credential for the RA API with what tests need of it: the serial and the public key. */
export interface Cred extends ClientCred {
  readonly serial: string;
  readonly spki: Uint8Array;
}
export type Reply = RaReply;

/** A fresh P-256 key as a card or browser would hold it. */
export function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

export function credOf(key: { key: string; spki: Uint8Array }, der: Uint8Array): Cred {
  const x = new X509Certificate(der);
  return { key: key.key, cert: x.toString(), serial: x.serialNumber.toLowerCase(), spki: key.spki };
}

/** The RA API over real HTTPS with real client certificates (mTLS): `call` answers, `ok` asserts the status. */
export function raClient(base: URL, serverCa: string) {
  const call = (method: string, path: string, body?: unknown, cred?: ClientCred): Promise<Reply> =>
    raRequest({ base, ca: serverCa }, method, path, {
      ...(body !== undefined ? { body } : {}),
      ...(cred ? { cred } : {}),
    });
  const ok = async (p: Promise<Reply>, status = 200) => {
    const r = await p;
    expect(r.status, r.text).to.equal(status);
    return r.body;
  };
  return { call, ok };
}

/**
 * The demo's initial staff group (contract: ada ra-admin, bo/cy/di/fi ra-officer, ed ca-operator, gu auditor): their
 * client certificates in `<dataDir>/demo-officers/`.
 */
export const DEMO_OFFICER_NAMES = ["ada", "bo", "cy", "di", "ed", "fi", "gu"] as const;
export type DemoOfficerName = (typeof DEMO_OFFICER_NAMES)[number];
export function demoOfficerCreds(
  dataDir: string,
): Record<DemoOfficerName, ClientCred & { certPath: string; keyPath: string }> {
  const out = {} as Record<DemoOfficerName, ClientCred & { certPath: string; keyPath: string }>;
  for (const who of DEMO_OFFICER_NAMES) {
    const certPath = join(dataDir, "demo-officers", `${who}.crt`),
      keyPath = join(dataDir, "demo-officers", `${who}.key`);
    out[who] = { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
  }
  return out;
}

/**
 * The RA API as the officers use it: `as(who)` calls with that officer's client certificate, `ok` asserts the status
 * and answers the body.
 */
export function officerApi(base: URL, serverCa: string, creds: Record<string, ClientCred>) {
  const { call, ok } = raClient(base, serverCa);
  const as = (who: string, method: string, path: string, body?: unknown) =>
    call(method, `/api/v1${path}`, body, creds[who]);
  return { as, ok, call };
}

import { expect } from "chai";
import { request } from "node:https";
import { X509Certificate, generateKeyPairSync } from "node:crypto";

/** A client credential for the RA API: key and certificate (PEM) as a browser or card would present them. */
export interface Cred { key: string; cert: string; serial: string; spki: Uint8Array }
export interface Reply { status: number; body: any; headers: Record<string, unknown> }

export function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { key: privateKey.export({ type: "pkcs8", format: "pem" }) as string, spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })), spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string };
}

export function credOf(key: { key: string; spki: Uint8Array }, der: Uint8Array): Cred {
  const x = new X509Certificate(der);
  return { key: key.key, cert: x.toString(), serial: x.serialNumber.toLowerCase(), spki: key.spki };
}

/** The RA API over real HTTPS with real client certificates (mTLS). */
export function raClient(base: URL, serverCa: string) {
  const call = (method: string, path: string, body?: unknown, cred?: Cred): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request({
        host: base.hostname, port: base.port, path, method, ca: serverCa, servername: "localhost", ...(cred ? { key: cred.key, cert: cred.cert } : {}),
        headers: data !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {},
      }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers: res.headers }));
      });
      req.on("error", reject);
      req.end(data);
    });
  const ok = async (p: Promise<Reply>, status = 200) => {
    const r = await p;
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    return r.body;
  };
  return { call, ok };
}

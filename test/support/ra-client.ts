import { request } from "node:https";

/** A TLS client credential: PEM key and certificate. */
export interface ClientCred { readonly key: string; readonly cert: string }

export interface RaReply { status: number; body: any; text: string; headers: Record<string, unknown> }

/**
 * One HTTPS request to the RA server as a real client: the server certificate checked against `ca`,
 * the client certificate presented when given. JSON bodies are sent and, when the answer is JSON
 * (application/json or problem+json), parsed; `text` is the answer as it came.
 */
export function raRequest(
  target: { readonly base: URL; readonly ca: string },
  method: string, path: string,
  o: { body?: unknown; raw?: string; cred?: ClientCred; headers?: Record<string, string>; agent?: false } = {},
): Promise<RaReply> {
  return new Promise((resolve, reject) => {
    const data = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
    const req = request({
      host: target.base.hostname, port: target.base.port, path, method, ca: target.ca, servername: "localhost",
      ...(o.agent === false ? { agent: false } : {}), ...(o.cred ? { key: o.cred.key, cert: o.cred.cert } : {}),
      headers: { ...(data !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}), ...o.headers },
    }, (res) => {
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
    });
    req.on("error", reject);
    req.end(data);
  });
}

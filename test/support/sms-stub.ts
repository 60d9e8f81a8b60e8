import { createServer, type IncomingHttpHeaders } from "node:http";
import { randomBytes } from "node:crypto";

/** One request the stub received. */
export interface SmsRequest {
  readonly at: Date;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
  readonly idempotencyKey?: string;
  /** What the stub answered. */
  readonly status: number;
  /** Accepted before under the same Idempotency-Key (answered 200, not sent again). */
  readonly duplicate: boolean;
}

export interface SmsStub {
  readonly port: number;
  /** http://127.0.0.1:<port>/sms */
  readonly url: string;
  /** The bearer token it accepts. */
  readonly token: string;
  /** Every request, refused ones too. */
  readonly requests: SmsRequest[];
  /** The messages it accepted, once per idempotency key (what a holder's phone would show). */
  readonly messages: SmsRequest[];
  waitFor(pred: (m: SmsRequest) => boolean, ms?: number): Promise<SmsRequest>;
  /** The next `n` requests are answered with `status` (default 503). */
  fail(n: number, status?: number): void;
  stop(): Promise<void>;
}

/**
 * An SMS gateway stub for tests on 127.0.0.1: JSON POSTs with `Authorization: Bearer <token>`
 * (401 otherwise, 400 for a body that is not JSON), recorded; a request under an Idempotency-Key
 * it accepted before is answered 200 and not counted again, as a real gateway does.
 */
export async function startSmsStub(opts: { token?: string; port?: number } = {}): Promise<SmsStub> {
  const token = opts.token ?? randomBytes(16).toString("hex");
  const requests: SmsRequest[] = [];
  const messages: SmsRequest[] = [];
  let failures = { n: 0, status: 503 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const key = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : undefined;
      let body: unknown;
      let status = 202;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        status = 400;
      }
      if (req.method !== "POST") status = 405;
      else if (req.headers.authorization !== `Bearer ${token}`) status = 401;
      else if (status === 202 && failures.n > 0) {
        failures.n--;
        status = failures.status;
      }
      const duplicate = status === 202 && key !== undefined && messages.some((m) => m.idempotencyKey === key);
      if (duplicate) status = 200;
      const r: SmsRequest = {
        at: new Date(),
        path: req.url ?? "",
        headers: req.headers,
        body,
        ...(key ? { idempotencyKey: key } : {}),
        status,
        duplicate,
      };
      requests.push(r);
      if (status === 202) messages.push(r);
      res
        .writeHead(status, { "content-type": "application/json" })
        .end(JSON.stringify(status < 300 ? { accepted: true } : { error: status }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/sms`,
    token,
    requests,
    messages,
    async waitFor(pred, ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = messages.find(pred);
        if (m) return m;
        if (Date.now() > end)
          throw new Error(
            `no matching SMS within ${ms} ms; requests: ` +
              `${JSON.stringify(requests.map((x) => ({ status: x.status, body: x.body })))}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    fail(n, status = 503) {
      failures = { n, status };
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

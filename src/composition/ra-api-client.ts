import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "node:https";
import { CaError, type ErrorKind } from "../shared/ca-error.js";
import type { CardProduction, ProductionOrder } from "../card/ports.js";
import { loadWorkflows, type Workflow } from "../policy/workflow.js";
import type { Parts } from "./parts.js";

/** A client of the RA API that authenticates with an officer's client certificate (REQ-22), like any other caller. */
export interface RaApiClient {
  readonly url: string;
  call<T = any>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T>;
}

const KIND: Record<number, ErrorKind> = {
  400: "invalid-input",
  401: "unauthorized",
  403: "forbidden",
  404: "not-found",
  409: "conflict",
  413: "invalid-input",
  415: "invalid-input",
  422: "policy-violation",
  429: "rate-limited",
};

export function raApiClient(opts: {
  url: string;
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  timeoutMs?: number;
}): RaApiClient {
  const base = new URL(opts.url);
  if (base.protocol !== "https:") throw new CaError("config", `the RA API URL must be https (got ${opts.url})`);
  return {
    url: opts.url,
    call(method, path, body) {
      const data = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: base.hostname,
            port: base.port || 443,
            path: `${base.pathname.replace(/\/$/, "")}/api/v1${path}`,
            method,
            cert: opts.cert,
            key: opts.key,
            ...(opts.ca ? { ca: opts.ca } : {}),
            servername: /^[0-9.]+$|:/.test(base.hostname) ? undefined : base.hostname,
            timeout: opts.timeoutMs ?? 120_000,
            headers: {
              accept: "application/json",
              ...(data !== undefined
                ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) }
                : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let json: any;
              try {
                json = text ? JSON.parse(text) : undefined;
              } catch {
                json = undefined;
              }
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) return resolve(json);
              const kind = KIND[status] ?? (status >= 500 ? "unavailable" : "invalid-input");
              reject(
                new CaError(
                  kind,
                  `RA API ${method} ${path}: ${status} ${json?.detail ?? text.slice(0, 200)}`,
                  {
                    ...(json?.guard ? { guard: json.guard } : {}),
                    ...(json?.requirement ? { requirement: json.requirement } : {}),
                    ...(json?.rule ? { rule: json.rule } : {}),
                  },
                  // The RA's refusal code travels on: the station's own answer says it in words too.
                  typeof json?.code === "string"
                    ? {
                        code: json.code,
                        ...(json.params && typeof json.params === "object" ? { params: json.params } : {}),
                      }
                    : undefined,
                ),
              );
            });
          },
        );
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", (e) => reject(new CaError("unavailable", `RA API ${opts.url}: ${e.message}`)));
        req.end(data);
      });
    },
  };
}

/**
 * The standalone card station's port to the RA: every step on the order goes through the RA API
 * as the station's officer (their client certificate), so the RA resolves, scopes, guards and
 * audits it like any officer's call; never a name typed on the command line. The certificate's
 * DER comes with the RA's answer (on hold until activation).
 */
export function raApiCardProduction(
  client: RaApiClient,
  _rt: Parts<"config">,
  workflows: ReadonlyMap<string, Workflow>,
): CardProduction {
  return {
    async order(orderId): Promise<ProductionOrder> {
      const o = await client.call("GET", `/orders/${orderId}`);
      if (o.state !== "IN_PRODUCTION")
        throw new CaError(
          "conflict",
          `order ${orderId} is ${o.state}; only an order in production gets a card`,
          { state: o.state },
          { code: "order.action-not-in-state", params: { action: "produce", state: o.state } },
        );
      const w = workflows.get(o.workflow);
      if (!w)
        throw new CaError(
          "config",
          `order ${orderId} follows workflow '${o.workflow}', which this station does not have in its policies`,
        );
      // REQ-15: the PIN by the workflow's PIN channel
      return { orderId, holderPersonId: o.applicantId, loa: w.loa, policy: { ...w.card, pinChannel: w.delivery.pin } };
    },
    async produce(orderId, key) {
      // REQ-14: the card's attestation; without one the RA refuses (a station's claim counts only in process, LoA2).
      const b64 = (d: Uint8Array) => Buffer.from(d).toString("base64");
      const o = await client.call(
        "POST",
        `/orders/${orderId}/actions/produce`,
        key.attestation
          ? {
              publicKey: b64(key.spki),
              attestation: {
                certificate: b64(key.attestation.certificate),
                intermediate: b64(key.attestation.intermediate),
              },
            }
          : { publicKey: b64(key.spki), keyOrigin: "card-station" },
      );
      // The RA answers with the certificate (on hold until activation): nothing is read back from the store.
      if (!o.certificate)
        throw new CaError("internal", `order ${orderId} was produced without a certificate in the answer`);
      return { serial: o.certificateSerial, der: new Uint8Array(Buffer.from(o.certificate, "base64")) };
    },
    async undo(orderId, serial) {
      const o = await client.call("GET", `/orders/${orderId}`);
      if (o.state === "PRODUCED" && o.certificateSerial === serial)
        await client.call("POST", `/orders/${orderId}/actions/production-failed`, {});
      else await client.call("POST", `/certificates/${serial}/revoke`, { reason: "superseded" });
    },
    async revoke(serial, reason) {
      await client.call("POST", `/certificates/${serial}/revoke`, { reason });
    },
  };
}

/** A station with no order or certificate work (status, a holder changing their PIN): no RA call is possible. */
export const NO_PRODUCTION: CardProduction = {
  order: async () => {
    throw new CaError("forbidden", "this command does not act on orders");
  },
  produce: async () => {
    throw new CaError("forbidden", "this command does not act on orders");
  },
  undo: async () => {
    throw new CaError("forbidden", "this command does not act on orders");
  },
  revoke: async () => {
    throw new CaError("forbidden", "this command does not revoke");
  },
};

const readArg = (f: string, what: string) => {
  try {
    return readFileSync(f);
  } catch (e) {
    throw new CaError("invalid-input", `cannot read the ${what} ${f}: ${(e as Error).message}`);
  }
};

/**
 * The standalone card station as its officer (REQ-22): the client certificate and key from the
 * command line or card.officerCert/officerKey; the RA resolves it like any caller's (an unknown,
 * revoked or foreign certificate is refused there) and checks roles, scope and the workflow's guards.
 */
export async function stationProduction(
  rt: Parts<"config">,
  opts: { cert?: string; key?: string; raUrl?: string; raCa?: string },
): Promise<CardProduction> {
  return raApiCardProduction(await stationClient(rt, opts), rt, loadWorkflows(join(rt.config.policyDir, "workflows")));
}

/** The card station's RA API client as its officer (REQ-22), checked to be an officer's certificate. */
export async function stationClient(
  rt: Parts<"config">,
  opts: { cert?: string; key?: string; raUrl?: string; raCa?: string },
): Promise<RaApiClient> {
  const c = rt.config;
  const certFile = opts.cert ?? c.card.officerCert;
  const keyFile = opts.key ?? c.card.officerKey;
  if (!certFile || !keyFile)
    throw new CaError(
      "unauthorized",
      "the card station acts as an authenticated officer: give --cert and --key " +
        "(the officer's client certificate), or card.officerCert/officerKey in the " +
        "configuration (REQ-22)",
    );
  const caFile = opts.raCa ?? c.card.raCa ?? (existsSync(c.ra.tlsCert) ? c.ra.tlsCert : undefined);
  const client = raApiClient({
    url: opts.raUrl ?? c.card.raUrl,
    cert: readArg(certFile, "officer certificate"),
    key: readArg(keyFile, "officer key"),
    ...(caFile ? { ca: readArg(caFile, "RA server certificate") } : {}),
  });
  const me = await client.call("GET", "/me");
  if (me?.kind !== "officer") throw new CaError("forbidden", "the station's certificate is not an officer's");
  return client;
}

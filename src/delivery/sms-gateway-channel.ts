import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { DeliveryFailure, type DeliveryChannel, type OutgoingMessage } from "./ports.js";

export interface SmsGatewaySettings {
  /** The gateway's endpoint; JSON is POSTed to it. */
  readonly url: string;
  /** The bearer token, read at each request (rotation without restart); never logged. */
  readonly token?: () => Promise<string>;
  /** PEM of the CA the gateway's certificate must chain to (https); the system's CAs otherwise. */
  readonly ca?: string;
  /** The request body: strings may hold {{to}}, {{body}}, {{subject}}, {{id}}, {{kind}}. */
  readonly template?: Readonly<Record<string, unknown>>;
  readonly timeoutMs?: number;
}

export const DEFAULT_SMS_TEMPLATE: Readonly<Record<string, unknown>> = {
  to: "{{to}}",
  text: "{{body}}",
  reference: "{{id}}",
};

/** The template with each {{field}} of each string replaced (JSON-encoded afterwards, so values cannot break out). */
export function renderTemplate(template: unknown, fields: Readonly<Record<string, string>>): unknown {
  if (typeof template === "string") return template.replace(/\{\{(\w+)\}\}/g, (all, k: string) => fields[k] ?? all);
  if (Array.isArray(template)) return template.map((x) => renderTemplate(x, fields));
  if (template && typeof template === "object")
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderTemplate(v, fields)]));
  return template;
}

/**
 * SMS through an HTTP gateway: a JSON POST of the templated body with a bearer token and the
 * notification id as `Idempotency-Key` (a gateway that keeps the keys sends a retried message
 * once). 2xx: delivered; 5xx, 408, 429 and network errors: tried again; any other 4xx is final.
 * Errors name the status only, never what the gateway echoed.
 */
export function smsGatewayChannel(s: SmsGatewaySettings): DeliveryChannel {
  const url = new URL(s.url);
  const https = url.protocol === "https:";
  const timeout = s.timeoutMs ?? 30_000;
  return {
    name: "sms",
    description: `SMS gateway ${url.origin}${url.pathname}`,
    async send(m: OutgoingMessage) {
      const body = Buffer.from(
        JSON.stringify(
          renderTemplate(s.template ?? DEFAULT_SMS_TEMPLATE, {
            to: m.to.address,
            body: m.body,
            subject: m.subject,
            id: m.id,
            kind: m.kind,
          }),
        ),
      );
      const token = s.token ? await s.token() : undefined;
      const status = await new Promise<number>((resolve, reject) => {
        const req = (https ? httpsRequest : httpRequest)(
          url,
          {
            method: "POST",
            timeout,
            headers: {
              "content-type": "application/json",
              "content-length": body.length,
              "idempotency-key": m.id,
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            ...(https ? { ca: s.ca, minVersion: "TLSv1.2" as const } : {}),
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
            res.on("error", reject);
          },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeout} ms`)));
        req.on("error", reject);
        req.end(body);
      }).catch((e: Error & { code?: string }) => {
        throw new DeliveryFailure(`SMS gateway ${url.host} not reached: ${e.code ?? e.message}`, false);
      });
      if (status >= 200 && status < 300) return;
      throw new DeliveryFailure(
        `SMS gateway answered HTTP ${status}`,
        status >= 400 && status < 500 && status !== 408 && status !== 429,
      );
    },
  };
}

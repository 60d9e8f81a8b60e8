import { Ajv } from "ajv";
import { CaError, ERROR_KINDS, type ErrorKind } from "../shared/ca-error.js";

/**
 * The CA signer's wire protocol (one JSON message per HTTPS POST, mutual TLS on a local channel).
 * Version 1 has two operations, the only ones the other roles call:
 *  - `describe`: which issuing CAs this signer holds, and whether each key's token answers;
 *  - `sign-certificate`: sign the TBSCertificate the caller recorded before signing (design:
 *    record serial + TBS before signing). The signer signs nothing else: revocation is a state
 *    change in the database, CRLs are signed by the signer's own schedule, OCSP by the public
 *    role's delegated responder keys.
 */
export const SIGNER_PROTOCOL_VERSION = 1;
export const SIGNER_PATH = "/cardpki-signer";
/** A TBS is a few KiB; anything much larger is not a message of this protocol. */
export const SIGNER_MAX_BODY_BYTES = 64 * 1024;

export type SignerRequest =
  | { readonly v: 1; readonly op: "describe" }
  | { readonly v: 1; readonly op: "sign-certificate"; readonly ca: string; readonly tbs: string };

export interface SignerCaInfo {
  readonly id: string;
  /** True when the key's token has a logged-in session and the key (no signature made). */
  readonly keyReady: boolean;
  readonly keyError?: string;
}

export type SignerResult =
  | { readonly op: "describe"; readonly cas: readonly SignerCaInfo[] }
  | { readonly op: "sign-certificate"; readonly signature: string };

export type SignerResponse =
  | { readonly v: 1; readonly ok: true; readonly result: SignerResult }
  | { readonly v: 1; readonly ok: false; readonly error: { readonly kind: ErrorKind; readonly message: string } };

const base64 = { type: "string", pattern: "^[A-Za-z0-9+/]*={0,2}$", minLength: 4, maxLength: 60_000 } as const;
const caId = { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" } as const;

const ajv = new Ajv({ allErrors: true, strict: true });

const validateRequest = ajv.compile<SignerRequest>({
  oneOf: [
    {
      type: "object",
      additionalProperties: false,
      required: ["v", "op"],
      properties: { v: { const: 1 }, op: { const: "describe" } },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["v", "op", "ca", "tbs"],
      properties: { v: { const: 1 }, op: { const: "sign-certificate" }, ca: caId, tbs: base64 },
    },
  ],
});

const validateResponse = ajv.compile<SignerResponse>({
  oneOf: [
    {
      type: "object",
      additionalProperties: false,
      required: ["v", "ok", "result"],
      properties: {
        v: { const: 1 },
        ok: { const: true },
        result: {
          oneOf: [
            {
              type: "object",
              additionalProperties: false,
              required: ["op", "cas"],
              properties: {
                op: { const: "describe" },
                cas: {
                  type: "array",
                  maxItems: 64,
                  items: {
                    type: "object",
                    additionalProperties: false,
                    required: ["id", "keyReady"],
                    properties: {
                      id: caId,
                      keyReady: { type: "boolean" },
                      keyError: { type: "string", maxLength: 2000 },
                    },
                  },
                },
              },
            },
            {
              type: "object",
              additionalProperties: false,
              required: ["op", "signature"],
              properties: { op: { const: "sign-certificate" }, signature: base64 },
            },
          ],
        },
      },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["v", "ok", "error"],
      properties: {
        v: { const: 1 },
        ok: { const: false },
        error: {
          type: "object",
          additionalProperties: false,
          required: ["kind", "message"],
          properties: { kind: { enum: [...ERROR_KINDS] }, message: { type: "string", maxLength: 4000 } },
        },
      },
    },
  ],
});

/** Checks a message received by the signer; the refusal says what is wrong (version first). */
export function parseSignerRequest(body: unknown): SignerRequest {
  if (
    typeof body === "object" &&
    body !== null &&
    "v" in body &&
    (body as { v: unknown }).v !== SIGNER_PROTOCOL_VERSION
  )
    throw new CaError(
      "invalid-input",
      `unsupported signer protocol version ` +
        `${JSON.stringify((body as { v: unknown }).v)} (this signer speaks version ${SIGNER_PROTOCOL_VERSION})`,
      { rule: "signer protocol version" },
    );
  if (!validateRequest(body)) {
    const op = typeof body === "object" && body !== null ? (body as { op?: unknown }).op : undefined;
    const known = op === "describe" || op === "sign-certificate";
    const why = known
      ? (validateRequest.errors ?? [])
          .filter((e) => e.keyword !== "oneOf" && e.keyword !== "const")
          .map((e) => `${e.instancePath || "/"} ${e.message}`)
          .join("; ")
      : `unknown operation ${JSON.stringify(op)} (describe, sign-certificate)`;
    throw new CaError("invalid-input", `malformed signer message: ${why || "not a message of protocol version 1"}`, {
      rule: "signer protocol schema",
    });
  }
  return body;
}

/** Checks a message received from the signer (a caller trusts nothing it cannot check). */
export function parseSignerResponse(body: unknown): SignerResponse {
  if (!validateResponse(body))
    throw new CaError("internal", "the CA signer answered with a message outside protocol version 1");
  return body;
}

import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { CaError, ERROR_KINDS } from "../shared/ca-error.js";
import { Closed, Enum, type Frozen } from "../shared/schema-types.js";

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

const V = Type.Literal(SIGNER_PROTOCOL_VERSION);
const Base64 = Type.String({ pattern: "^[A-Za-z0-9+/]*={0,2}$", minLength: 4, maxLength: 60_000 });
const CaId = Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" });

/** A message to the signer: one of the two operations of version 1. */
export const SignerRequest = Type.Union([
  Closed({ v: V, op: Type.Literal("describe") }),
  Closed({ v: V, op: Type.Literal("sign-certificate"), ca: CaId, tbs: Base64 }),
]);
export type SignerRequest = Frozen<Static<typeof SignerRequest>>;

export const SignerCaInfo = Closed({
  id: CaId,
  /** True when the key's token has a logged-in session and the key (no signature made). */
  keyReady: Type.Boolean(),
  keyError: Type.Optional(Type.String({ maxLength: 2000 })),
});
export type SignerCaInfo = Frozen<Static<typeof SignerCaInfo>>;

export const SignerResult = Type.Union([
  Closed({ op: Type.Literal("describe"), cas: Type.Array(SignerCaInfo, { maxItems: 64 }) }),
  Closed({ op: Type.Literal("sign-certificate"), signature: Base64 }),
]);
export type SignerResult = Frozen<Static<typeof SignerResult>>;

/** The signer's answer: the operation's result, or a refusal with its error kind. */
export const SignerResponse = Type.Union([
  Closed({ v: V, ok: Type.Literal(true), result: SignerResult }),
  Closed({
    v: V,
    ok: Type.Literal(false),
    error: Closed({ kind: Enum(ERROR_KINDS), message: Type.String({ maxLength: 4000 }) }),
  }),
]);
export type SignerResponse = Frozen<Static<typeof SignerResponse>>;

const ajv = new Ajv({ allErrors: true, strict: true });
const validateRequest = ajv.compile<SignerRequest>(SignerRequest);
const validateResponse = ajv.compile<SignerResponse>(SignerResponse);

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
          // The branch of the other operation fails on its `op` (const) and the union on the whole (anyOf): not news.
          .filter((e) => e.keyword !== "anyOf" && e.keyword !== "const")
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

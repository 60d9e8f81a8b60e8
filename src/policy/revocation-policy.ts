import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { Closed, Enum, type Frozen } from "../shared/schema-types.js";

/** RFC 5280 5.3.1 reasons a revocation may carry (removeFromCRL is produced, never requested). */
export const REVOCATION_REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

const int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
const REASONS = Type.Array(Enum(REVOCATION_REASONS), { minItems: 1, uniqueItems: true });

/** policies/revocation.yaml: CRL and OCSP timing and the limits on revocation requests. */
export const REVOCATION_POLICY_SCHEMA = Closed({
  id: Type.String(),
  version: int(1, 1e6),
  cps: Type.Array(Type.String(), { minItems: 1 }),
  reasons: REASONS,
  crl: Closed({
    nextUpdateHours: int(1, 24 * 31),
    regenerateBeforeHours: int(0, 24 * 30),
    deltaMinutes: int(1, 24 * 60),
    afterRevocationSeconds: int(1, 86400),
    keepExpiredDays: int(0, 36500),
    // RFC 5280 5.2.5: optional partitions of each issuing CA's CRL by serial hash (absent: one CRL).
    shards: Type.Optional(Closed({ count: int(2, 4096), by: Enum(["serialHash"] as const) })),
  }),
  ocsp: Closed({
    validityHours: int(1, 24 * 7),
    refreshMinutes: int(1, 24 * 60),
    maxRequestsPerMessage: int(1, 100),
    maxBodyBytes: int(256, 65536),
    minResponderRemainingHours: int(0, 24 * 30),
    // A request's nonce: echoed in a response signed for it, or ignored (pre-produced; RFC 5019 2.1.1, RFC 8954 2.1).
    nonce: Enum(["echo", "ignore"] as const),
    // A never-issued serial: the unsigned `unauthorized` (RFC 5019 2.2.3) or a signed `unknown` (RFC 6960 2.2).
    unknownSerial: Enum(["unauthorized", "unknown-signed"] as const),
    // Signatures made on demand (nonce, cache miss, unknown serial) per client address: a token bucket.
    onDemand: Closed({ perClientPerSecond: int(0, 100000), perClientBurst: int(1, 1000000) }),
    // Responses held in memory in front of the response store (LRU).
    cacheEntries: int(100, 100_000_000),
  }),
  // REQ-17/18: holder self-service and protection against mass revocation.
  requests: Closed({
    holderPerDay: int(1, 1000),
    // Revocations (unbinding included) one human may make per hour before a second officer must approve.
    officerPerHour: int(1, 100000),
    // Revocations of one organisation's cards per hour, all officers together, before a second officer must approve.
    organisationPerHour: int(1, 1000000),
    holderReasons: REASONS,
    officerReasons: REASONS,
  }),
});
export type RevocationPolicy = Frozen<Static<typeof REVOCATION_POLICY_SCHEMA>>;

const validate = new Ajv({ allErrors: true, strict: true }).compile(REVOCATION_POLICY_SCHEMA);

export function parseRevocationPolicy(doc: unknown, source: string): RevocationPolicy {
  if (!validate(doc))
    throw new CaError(
      "config",
      `${source}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`,
    );
  const p = doc as unknown as RevocationPolicy;
  if (p.crl.regenerateBeforeHours >= p.crl.nextUpdateHours)
    throw new CaError("config", `${source}: crl.regenerateBeforeHours must be below nextUpdateHours`);
  if (p.ocsp.refreshMinutes >= p.ocsp.validityHours * 60)
    throw new CaError("config", `${source}: ocsp.refreshMinutes must be below validityHours`);
  if (p.requests.organisationPerHour < p.requests.officerPerHour)
    throw new CaError("config", `${source}: requests.organisationPerHour must be at least officerPerHour (REQ-18)`);
  for (const r of [...p.requests.holderReasons, ...p.requests.officerReasons])
    if (!p.reasons.includes(r))
      throw new CaError("config", `${source}: requests name reason '${r}', which is not in reasons`);
  return Object.freeze(p);
}

export function loadRevocationPolicy(path: string): RevocationPolicy {
  try {
    return parseRevocationPolicy(parseYaml(readFileSync(path, "utf8"), { strict: true, uniqueKeys: true }), path);
  } catch (e) {
    if (e instanceof CaError) throw e;
    throw new CaError("config", `${path}: ${(e as Error).message}`);
  }
}

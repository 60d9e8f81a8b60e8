import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";

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

export interface RevocationPolicy {
  readonly id: string;
  readonly version: number;
  readonly cps: readonly string[];
  readonly reasons: readonly RevocationReason[];
  readonly crl: {
    readonly nextUpdateHours: number;
    readonly regenerateBeforeHours: number;
    readonly deltaMinutes: number;
    readonly afterRevocationSeconds: number;
    readonly keepExpiredDays: number;
    /** RFC 5280 5.2.5: optional partitions of each issuing CA's CRL by serial hash (absent: one CRL). */
    readonly shards?: { readonly count: number; readonly by: "serialHash" };
  };
  readonly ocsp: {
    readonly validityHours: number;
    readonly refreshMinutes: number;
    readonly maxRequestsPerMessage: number;
    readonly maxBodyBytes: number;
    readonly minResponderRemainingHours: number;
    /**
     * A request's nonce: echoed in a response signed for it, or ignored (the pre-produced response; RFC 5019 2.1.1, RFC
     * 8954 2.1).
     */
    readonly nonce: "echo" | "ignore";
    /** A never-issued serial: the unsigned `unauthorized` (RFC 5019 2.2.3) or a signed `unknown` (RFC 6960 2.2). */
    readonly unknownSerial: "unauthorized" | "unknown-signed";
    /** Signatures made on demand (nonce, cache miss, unknown serial) per client address: a token bucket. */
    readonly onDemand: { readonly perClientPerSecond: number; readonly perClientBurst: number };
    /** Responses held in memory in front of the response store (LRU). */
    readonly cacheEntries: number;
  };
  /** REQ-17/18: holder self-service and protection against mass revocation. */
  readonly requests: {
    readonly holderPerDay: number;
    /** Revocations (unbinding included) one human may make per hour before a second officer must approve. */
    readonly officerPerHour: number;
    /**
     * Revocations (unbinding included) of one organisation's cards per hour, all officers together, before a second
     * officer must approve.
     */
    readonly organisationPerHour: number;
    readonly holderReasons: readonly RevocationReason[];
    readonly officerReasons: readonly RevocationReason[];
  };
}

const int = (min: number, max: number) => ({ type: "integer", minimum: min, maximum: max });
const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["id", "version", "cps", "reasons", "crl", "ocsp", "requests"],
  properties: {
    id: { type: "string" },
    version: int(1, 1e6),
    cps: { type: "array", minItems: 1, items: { type: "string" } },
    reasons: { type: "array", minItems: 1, uniqueItems: true, items: { enum: REVOCATION_REASONS } },
    crl: {
      type: "object",
      additionalProperties: false,
      required: [
        "nextUpdateHours",
        "regenerateBeforeHours",
        "deltaMinutes",
        "afterRevocationSeconds",
        "keepExpiredDays",
      ],
      properties: {
        nextUpdateHours: int(1, 24 * 31),
        regenerateBeforeHours: int(0, 24 * 30),
        deltaMinutes: int(1, 24 * 60),
        afterRevocationSeconds: int(1, 86400),
        keepExpiredDays: int(0, 36500),
        shards: {
          type: "object",
          additionalProperties: false,
          required: ["count", "by"],
          properties: { count: int(2, 4096), by: { enum: ["serialHash"] } },
        },
      },
    },
    ocsp: {
      type: "object",
      additionalProperties: false,
      required: [
        "validityHours",
        "refreshMinutes",
        "maxRequestsPerMessage",
        "maxBodyBytes",
        "minResponderRemainingHours",
        "nonce",
        "unknownSerial",
        "onDemand",
        "cacheEntries",
      ],
      properties: {
        validityHours: int(1, 24 * 7),
        refreshMinutes: int(1, 24 * 60),
        maxRequestsPerMessage: int(1, 100),
        maxBodyBytes: int(256, 65536),
        minResponderRemainingHours: int(0, 24 * 30),
        nonce: { enum: ["echo", "ignore"] },
        unknownSerial: { enum: ["unauthorized", "unknown-signed"] },
        onDemand: {
          type: "object",
          additionalProperties: false,
          required: ["perClientPerSecond", "perClientBurst"],
          properties: { perClientPerSecond: int(0, 100000), perClientBurst: int(1, 1000000) },
        },
        cacheEntries: int(100, 100_000_000),
      },
    },
    requests: {
      type: "object",
      additionalProperties: false,
      required: ["holderPerDay", "officerPerHour", "organisationPerHour", "holderReasons", "officerReasons"],
      properties: {
        holderPerDay: int(1, 1000),
        officerPerHour: int(1, 100000),
        organisationPerHour: int(1, 1000000),
        holderReasons: { type: "array", minItems: 1, uniqueItems: true, items: { enum: REVOCATION_REASONS } },
        officerReasons: { type: "array", minItems: 1, uniqueItems: true, items: { enum: REVOCATION_REASONS } },
      },
    },
  },
} as const;
const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);

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

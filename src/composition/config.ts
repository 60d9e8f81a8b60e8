import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { CaError } from "../shared/ca-error.js";

/** Where a token's PIN comes from: an environment variable or an owner-only file outside the repo. */
export type PinConfig = { readonly env: string } | { readonly file: string };

export interface DeliveryConfig {
  readonly pollMs: number;
  readonly maxAttempts: number;
  /** The wait after the first failed attempt; doubled after each further one, up to backoffMaxSeconds. */
  readonly backoffSeconds: number;
  readonly backoffMaxSeconds: number;
  /** A worker's claim on a message: after this another worker may send it (same idempotency key). */
  readonly leaseSeconds: number;
  /** SMTP: smtp://host:port (STARTTLS, required unless requireTls is false) or smtps://host:port (TLS). */
  readonly email?: { readonly url: string; readonly from: string; readonly requireTls: boolean; readonly caFile?: string; readonly user?: string; readonly password?: PinConfig };
  /** The SMS gateway: JSON POST of `template` (strings with {{to}}, {{body}}, {{subject}}, {{id}}, {{kind}}) with a bearer token. */
  readonly sms?: { readonly url: string; readonly token?: PinConfig; readonly caFile?: string; readonly template?: Readonly<Record<string, unknown>> };
  /** Letters: one PDF print file per letter in this folder. */
  readonly mail?: { readonly spoolDir: string };
}

export interface Config {
  readonly dataDir: string;
  readonly policyDir: string;
  readonly caStoreDir: string;
  readonly databaseUrl: string;
  /** SQLite: read-only connections beside the single writer (WAL). */
  readonly databaseReaders: number;
  readonly host: string;
  readonly port: number;
  /** Public base URL put into AIA and CRL distribution points. */
  readonly baseUrl: string;
  readonly pkcs11Library: string;
  readonly hsmSessions: number;
  /** `serve`: JSON lines (default, for log shippers) or text. */
  readonly logFormat: "json" | "text";
  /** `serve` on SIGTERM: /healthz answers 503 this long before the listener closes (zero-downtime restarts). */
  readonly drainSeconds: number;
  /** The issuing CAs this instance signs with (ca-store ids). */
  readonly issuingCas: readonly string[];
  /** PIN source per token label. */
  readonly tokenPins: Readonly<Record<string, PinConfig>>;
  /** RA API over HTTPS with client certificates (REQ-22); disabled when the TLS files are absent. */
  readonly ra: {
    readonly port: number;
    readonly tlsCert: string;
    readonly tlsKey: string;
    /** Key of the keyed hash for national ID and document numbers (REQ-28): 32+ random bytes, owner-only file. */
    readonly hashKeyFile: string;
    /** The file-backed population register of the demo (REQ-07); production plugs in a real adapter. */
    readonly registerFile: string;
    /** REQ-05: lost/stolen document register file (demo adapter); used when configured, or when the default file exists. */
    readonly documentRegisterFile: string;
    readonly documentRegisterConfigured: boolean;
    /** The version of the terms of use applicants accept now (REQ-06). */
    readonly termsVersion: string;
    /** How often orders past their activation deadline are expired (REQ-15). */
    readonly expirySweepSeconds: number;
    /** A TLS handshake not finished in this time is dropped (slow-handshake exhaustion). */
    readonly tlsHandshakeTimeoutSeconds: number;
    /** Open connections to the RA API at most, in all and per client address. */
    readonly maxConnections: number;
    readonly maxConnectionsPerClient: number;
    /** The RA's public base URL: the applicant's link in the terms message starts with it. */
    readonly publicUrl: string;
    /** False when publicUrl is the default (then `serve` puts in the port it actually listens on). */
    readonly publicUrlConfigured: boolean;
    /** REQ-06: the applicant's link (its single-use token) is valid this long after the order was placed. */
    readonly applicantLinkHours: number;
    /** The applicant's session after the link was opened (fixed, not extended by use). */
    readonly applicantSessionMinutes: number;
  };
  /** REQ-15: the outbox delivery worker and its channels; a channel without settings is off (its messages wait). */
  readonly delivery: DeliveryConfig;
  /** The CA signer channel (mutual TLS): `serve --role ca-signer` listens on it, `serve --role ra` calls it. */
  readonly signer: {
    readonly host: string;
    readonly port: number;
    /** Where the RA role finds the signer. */
    readonly url: string;
    /** The channel CA: both ends accept only certificates from it. */
    readonly ca: string;
    readonly tlsCert: string;
    readonly tlsKey: string;
    /** The RA role's client certificate on the channel. */
    readonly clientCert: string;
    readonly clientKey: string;
  };
  readonly audit: {
    /** The audit checkpoint signer in the CA store, `<ca>/<label>` (default: the first audit-signer found). */
    readonly signer?: string;
    /** The latest checkpoint, also kept outside the database (REQ-27). */
    readonly checkpointFile: string;
    readonly checkpointSeconds: number;
    /** REQ-28: entries are kept at least this long; the retention job removes only older ones. */
    readonly retentionYears: number;
    /** RFC 3161 time-stamp authority outside the host that timestamps every checkpoint (REQ-27); off when unset. */
    readonly tsaUrl?: string;
    /** The TSA's certificate (PEM): timestamp tokens are verified against it. Required with tsaUrl. */
    readonly tsaCertFile?: string;
  };
  /** REQ-29: personal data (names, emails, outbox messages) encrypted at rest. */
  readonly dataEncryption: {
    /**
     * RFC 7512 URI (no PIN) of the HSM AES key that wraps the data-encryption keys, made by a data-key
     * ceremony. Default: the one data key in the CA store (`<ca>/data-keys/<label>/key.uri`).
     */
    readonly wrappingKey?: string;
  };
  readonly backup: {
    /** REQ-30: the key backups are encrypted with (32 random bytes, owner-only; keep a copy apart from the backups). */
    readonly keyFile: string;
  };
  readonly card: {
    /** Key that seals card secrets at rest (management keys, PUKs): 32 random bytes, owner-only file. */
    readonly kekFile: string;
    /** The reader the card writer uses (default: the only one holding a card). */
    readonly reader?: string;
    /** The standalone card station: the RA API it calls and the officer's client certificate and key it calls with (REQ-22). */
    readonly raUrl: string;
    readonly raCa?: string;
    readonly officerCert?: string;
    readonly officerKey?: string;
    /** What blank cards come with (PIV defaults; set your card vendor's transport values). */
    readonly factory: { readonly pin: string; readonly puk: string; readonly managementKey: string; readonly managementKeyAlgorithm: "3DES" | "AES-128" | "AES-192" | "AES-256" };
  };
}

/** A secret (PIN, password, token) from an environment variable or an owner-only file. */
const SECRET_REF = {
  oneOf: [
    { type: "object", additionalProperties: false, required: ["env"], properties: { env: { type: "string" } } },
    { type: "object", additionalProperties: false, required: ["file"], properties: { file: { type: "string" } } },
  ],
} as const;

const FILE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    policyDir: { type: "string" },
    caStoreDir: { type: "string" },
    databaseUrl: { type: "string" },
    databaseReaders: { type: "integer", minimum: 1, maximum: 64 },
    host: { type: "string" },
    port: { type: "integer", minimum: 0, maximum: 65535 },
    baseUrl: { type: "string", pattern: "^https?://[^\\s/]+(/[^\\s]*)?$" },
    pkcs11Library: { type: "string" },
    hsmSessions: { type: "integer", minimum: 1, maximum: 64 },
    logFormat: { enum: ["json", "text"] },
    drainSeconds: { type: "integer", minimum: 0, maximum: 300 },
    issuingCas: { type: "array", items: { type: "string" } },
    ra: {
      type: "object", additionalProperties: false,
      properties: {
        port: { type: "integer", minimum: 0, maximum: 65535 }, tlsCert: { type: "string" }, tlsKey: { type: "string" }, hashKeyFile: { type: "string" },
        registerFile: { type: "string" }, documentRegisterFile: { type: "string" }, termsVersion: { type: "string", pattern: "^[0-9A-Za-z.-]{1,32}$" }, expirySweepSeconds: { type: "integer", minimum: 1, maximum: 86400 },
        tlsHandshakeTimeoutSeconds: { type: "integer", minimum: 1, maximum: 120 }, maxConnections: { type: "integer", minimum: 1, maximum: 100000 }, maxConnectionsPerClient: { type: "integer", minimum: 1, maximum: 100000 },
        publicUrl: { type: "string", pattern: "^https://[^\\s/]+(/[^\\s]*)?$" },
        applicantLinkHours: { type: "number", exclusiveMinimum: 0, maximum: 2160 }, applicantSessionMinutes: { type: "integer", minimum: 1, maximum: 240 },
      },
    },
    delivery: {
      type: "object", additionalProperties: false,
      properties: {
        pollMs: { type: "integer", minimum: 50, maximum: 600000 }, maxAttempts: { type: "integer", minimum: 1, maximum: 100 },
        backoffSeconds: { type: "number", exclusiveMinimum: 0, maximum: 86400 }, backoffMaxSeconds: { type: "number", exclusiveMinimum: 0, maximum: 604800 },
        leaseSeconds: { type: "number", exclusiveMinimum: 0, maximum: 86400 },
        email: {
          type: "object", additionalProperties: false, required: ["url"],
          properties: { url: { type: "string", pattern: "^smtps?://[^\\s@/]+(/)?$" }, from: { type: "string" }, requireTls: { type: "boolean" }, caFile: { type: "string" }, user: { type: "string" }, password: SECRET_REF },
        },
        sms: {
          type: "object", additionalProperties: false, required: ["url"],
          properties: { url: { type: "string", pattern: "^https?://[^\\s@]+$" }, token: SECRET_REF, caFile: { type: "string" }, template: { type: "object" } },
        },
        mail: { type: "object", additionalProperties: false, required: ["spoolDir"], properties: { spoolDir: { type: "string" } } },
      },
    },
    backup: { type: "object", additionalProperties: false, properties: { keyFile: { type: "string" } } },
    signer: {
      type: "object", additionalProperties: false,
      properties: { host: { type: "string" }, port: { type: "integer", minimum: 0, maximum: 65535 }, url: { type: "string", pattern: "^https://[^\\s/]+$" }, ca: { type: "string" },
        tlsCert: { type: "string" }, tlsKey: { type: "string" }, clientCert: { type: "string" }, clientKey: { type: "string" } },
    },
    dataEncryption: { type: "object", additionalProperties: false, properties: { wrappingKey: { type: "string", pattern: "^pkcs11:[^\\s]+$" } } },
    audit: {
      type: "object", additionalProperties: false,
      properties: { signer: { type: "string" }, checkpointFile: { type: "string" }, checkpointSeconds: { type: "integer", minimum: 1, maximum: 86400 }, retentionYears: { type: "integer", minimum: 5, maximum: 100 },
        tsaUrl: { type: "string", pattern: "^https?://[^\\s]+$" }, tsaCertFile: { type: "string" } },
    },
    card: {
      type: "object", additionalProperties: false,
      properties: {
        kekFile: { type: "string" }, reader: { type: "string" }, raUrl: { type: "string", pattern: "^https://[^\\s/]+(/[^\\s]*)?$" }, raCa: { type: "string" }, officerCert: { type: "string" }, officerKey: { type: "string" },
        factory: {
          type: "object", additionalProperties: false, required: ["pin", "puk", "managementKey", "managementKeyAlgorithm"],
          properties: {
            pin: { type: "string", pattern: "^[0-9]{6,8}$" }, puk: { type: "string", pattern: "^[0-9]{6,8}$" },
            managementKey: { type: "string", pattern: "^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$" }, managementKeyAlgorithm: { enum: ["3DES", "AES-128", "AES-192", "AES-256"] },
          },
        },
      },
    },
    tokenPins: {
      type: "object",
      additionalProperties: {
        oneOf: [
          { type: "object", additionalProperties: false, required: ["env"], properties: { env: { type: "string" } } },
          { type: "object", additionalProperties: false, required: ["file"], properties: { file: { type: "string" } } },
        ],
      },
    },
  },
} as const;
const validate = new Ajv({ allErrors: true, strict: true }).compile(FILE_SCHEMA);

/**
 * Configuration: defaults, then `<dataDir>/cardpki.json` (or CARDPKI_CONFIG), then environment
 * variables. Unknown keys in the file are rejected.
 */
/** The project folder (holds policies/, ca-store/, data/); relative settings resolve against it. */
export const APP_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function dataEncryption(wrappingKey: string | undefined): Config["dataEncryption"] {
  if (wrappingKey === undefined) return {};
  if (!/^pkcs11:\S+$/.test(wrappingKey)) throw new CaError("config", `CARDPKI_DATA_WRAPPING_KEY must be a PKCS#11 URI (pkcs11:token=...;object=...), got '${wrappingKey}'`);
  return { wrappingKey };
}

function bounded(name: string, v: string | number, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CaError("config", `${name} must be a whole number from ${min} to ${max} (got '${v}')`);
  return n;
}

function optionalFile<K extends string>(key: K, v: string | undefined, cwd: string): Partial<Record<K, string>> {
  return v ? ({ [key]: resolve(cwd, v) } as Record<K, string>) : {};
}

/** REQ-27: the RFC 3161 TSA: a URL and the certificate its tokens are verified against, both or neither. */
function tsa(url: string | undefined, cert: string | undefined, cwd: string): { tsaUrl?: string; tsaCertFile?: string } {
  if (url === undefined && cert === undefined) return {};
  if (url !== undefined && !/^https?:\/\/\S+$/.test(url)) throw new CaError("config", `CARDPKI_AUDIT_TSA_URL must be an http(s) URL (got '${url}')`);
  if (url !== undefined && cert === undefined) throw new CaError("config", "audit.tsaUrl needs audit.tsaCertFile (CARDPKI_AUDIT_TSA_CERT): the TSA certificate its tokens are verified against");
  return { ...(url ? { tsaUrl: url } : {}), tsaCertFile: resolve(cwd, cert!) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = APP_ROOT): Config {
  const dataDir = resolve(cwd, env.CARDPKI_DATA_DIR ?? "data");
  const file = env.CARDPKI_CONFIG ? resolve(cwd, env.CARDPKI_CONFIG) : join(dataDir, "cardpki.json");
  let f: Record<string, any> = {};
  if (existsSync(file)) {
    try {
      f = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new CaError("config", `${file}: ${(e as Error).message}`);
    }
    if (!validate(f)) throw new CaError("config", `${file}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`);
  } else if (env.CARDPKI_CONFIG) {
    throw new CaError("config", `config file ${file} not found`);
  }
  const port = Number(env.CARDPKI_PORT ?? f.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CaError("config", `bad port ${env.CARDPKI_PORT}`);
  const baseUrl = (env.CARDPKI_BASE_URL ?? f.baseUrl ?? `http://localhost:${port}`).replace(/\/$/, "");
  if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(baseUrl)) throw new CaError("config", `bad base URL ${baseUrl}`);
  const pinsFromEnv: Record<string, PinConfig> = {};
  // CARDPKI_PIN_<TOKEN> (token label upper-cased, non-alphanumerics as _) names the PIN in the environment.
  for (const k of Object.keys(env)) if (k.startsWith("CARDPKI_PIN_FILE_")) pinsFromEnv[k.slice(17).toLowerCase().replace(/_/g, "-")] = { file: env[k]! };
  const count = (name: string, v: string | number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new CaError("config", `${name} must be a whole number from 1 to 64 (got '${v}')`);
    return n;
  };
  const oneOf = <T extends string>(name: string, v: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new CaError("config", `${name} must be one of ${allowed.join(", ")} (got '${v}')`);
    return v as T;
  };
  const seconds = (name: string, v: string | number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 300) throw new CaError("config", `${name} must be a whole number of seconds from 0 to 300 (got '${v}')`);
    return n;
  };
  const positive = (name: string, v: string | number, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new CaError("config", `${name} must be a number above 0 and at most ${max} (got '${v}')`);
    return n;
  };
  return {
    dataDir,
    policyDir: resolve(cwd, env.CARDPKI_POLICY_DIR ?? f.policyDir ?? "policies"),
    caStoreDir: resolve(cwd, env.CARDPKI_CA_STORE ?? f.caStoreDir ?? "ca-store"),
    databaseUrl: env.DATABASE_URL ?? f.databaseUrl ?? `sqlite:${join(dataDir, "cardpki.db")}`,
    databaseReaders: count("CARDPKI_DB_READERS", env.CARDPKI_DB_READERS ?? f.databaseReaders ?? 8),
    host: env.CARDPKI_HOST ?? f.host ?? "0.0.0.0",
    port,
    baseUrl,
    pkcs11Library: env.PKCS11_LIBRARY ?? f.pkcs11Library ?? "/usr/lib/softhsm/libsofthsm2.so",
    hsmSessions: Number(env.CARDPKI_HSM_SESSIONS ?? f.hsmSessions ?? 4),
    logFormat: oneOf("CARDPKI_LOG_FORMAT", env.CARDPKI_LOG_FORMAT ?? f.logFormat ?? "json", ["json", "text"] as const),
    drainSeconds: seconds("CARDPKI_DRAIN_SECONDS", env.CARDPKI_DRAIN_SECONDS ?? f.drainSeconds ?? 5),
    issuingCas: env.CARDPKI_ISSUING_CAS ? env.CARDPKI_ISSUING_CAS.split(",").map((s) => s.trim()).filter(Boolean) : (f.issuingCas ?? []),
    tokenPins: { ...(f.tokenPins ?? {}), ...pinsFromEnv },
    ra: {
      port: Number(env.CARDPKI_RA_PORT ?? f.ra?.port ?? 8443),
      tlsCert: resolve(cwd, env.CARDPKI_RA_TLS_CERT ?? f.ra?.tlsCert ?? join(dataDir, "tls", "ra-server.crt")),
      tlsKey: resolve(cwd, env.CARDPKI_RA_TLS_KEY ?? f.ra?.tlsKey ?? join(dataDir, "tls", "ra-server.key")),
      hashKeyFile: resolve(cwd, env.CARDPKI_RA_HASH_KEY ?? f.ra?.hashKeyFile ?? join(dataDir, "ra-hash.key")),
      registerFile: resolve(cwd, env.CARDPKI_REGISTER_FILE ?? f.ra?.registerFile ?? join(dataDir, "register.json")),
      documentRegisterFile: resolve(cwd, env.CARDPKI_DOCUMENT_REGISTER_FILE ?? f.ra?.documentRegisterFile ?? join(dataDir, "document-register.json")),
      documentRegisterConfigured: (env.CARDPKI_DOCUMENT_REGISTER_FILE ?? f.ra?.documentRegisterFile) !== undefined,
      termsVersion: env.CARDPKI_TERMS_VERSION ?? f.ra?.termsVersion ?? "2026-01",
      expirySweepSeconds: Number(env.CARDPKI_EXPIRY_SWEEP_SECONDS ?? f.ra?.expirySweepSeconds ?? 300),
      tlsHandshakeTimeoutSeconds: bounded("CARDPKI_RA_TLS_HANDSHAKE_TIMEOUT", env.CARDPKI_RA_TLS_HANDSHAKE_TIMEOUT ?? f.ra?.tlsHandshakeTimeoutSeconds ?? 10, 1, 120),
      maxConnections: bounded("CARDPKI_RA_MAX_CONNECTIONS", env.CARDPKI_RA_MAX_CONNECTIONS ?? f.ra?.maxConnections ?? 1024, 1, 100_000),
      maxConnectionsPerClient: bounded("CARDPKI_RA_MAX_CONNECTIONS_PER_CLIENT", env.CARDPKI_RA_MAX_CONNECTIONS_PER_CLIENT ?? f.ra?.maxConnectionsPerClient ?? 64, 1, 100_000),
      ...publicUrl(env.CARDPKI_RA_PUBLIC_URL ?? f.ra?.publicUrl, Number(env.CARDPKI_RA_PORT ?? f.ra?.port ?? 8443)),
      applicantLinkHours: positive("CARDPKI_APPLICANT_LINK_HOURS", env.CARDPKI_APPLICANT_LINK_HOURS ?? f.ra?.applicantLinkHours ?? 168, 2160),
      applicantSessionMinutes: positive("CARDPKI_APPLICANT_SESSION_MINUTES", env.CARDPKI_APPLICANT_SESSION_MINUTES ?? f.ra?.applicantSessionMinutes ?? 30, 240),
    },
    delivery: deliveryConfig(env, f.delivery ?? {}, cwd),
    signer: signerChannel(env, f.signer ?? {}, cwd, join(dataDir, "signer-channel")),
    audit: {
      ...((env.CARDPKI_AUDIT_SIGNER ?? f.audit?.signer) ? { signer: (env.CARDPKI_AUDIT_SIGNER ?? f.audit?.signer) as string } : {}),
      checkpointFile: resolve(cwd, env.CARDPKI_AUDIT_CHECKPOINT_FILE ?? f.audit?.checkpointFile ?? join(dataDir, "audit", "checkpoint.json")),
      checkpointSeconds: Number(env.CARDPKI_AUDIT_CHECKPOINT_SECONDS ?? f.audit?.checkpointSeconds ?? 60),
      retentionYears: Number(f.audit?.retentionYears ?? 5),
      ...tsa(env.CARDPKI_AUDIT_TSA_URL ?? f.audit?.tsaUrl, env.CARDPKI_AUDIT_TSA_CERT ?? f.audit?.tsaCertFile, cwd),
    },
    backup: { keyFile: resolve(cwd, env.CARDPKI_BACKUP_KEY ?? f.backup?.keyFile ?? join(dataDir, "backup.key")) },
    dataEncryption: dataEncryption(env.CARDPKI_DATA_WRAPPING_KEY ?? f.dataEncryption?.wrappingKey),
    card: {
      kekFile: resolve(cwd, env.CARDPKI_CARD_KEK ?? f.card?.kekFile ?? join(dataDir, "card-kek.key")),
      ...((env.CARDPKI_CARD_READER ?? f.card?.reader) ? { reader: (env.CARDPKI_CARD_READER ?? f.card?.reader) as string } : {}),
      raUrl: (env.CARDPKI_CARD_RA_URL ?? f.card?.raUrl ?? `https://localhost:${Number(env.CARDPKI_RA_PORT ?? f.ra?.port ?? 8443)}`).replace(/\/$/, ""),
      ...optionalFile("raCa", env.CARDPKI_CARD_RA_CA ?? f.card?.raCa, cwd),
      ...optionalFile("officerCert", env.CARDPKI_CARD_OFFICER_CERT ?? f.card?.officerCert, cwd),
      ...optionalFile("officerKey", env.CARDPKI_CARD_OFFICER_KEY ?? f.card?.officerKey, cwd),
      // SP 800-73-4 leaves the initial values to the issuer; these are the common PIV token defaults.
      factory: f.card?.factory ?? { pin: "123456", puk: "12345678", managementKey: "010203040506070801020304050607080102030405060708", managementKeyAlgorithm: "3DES" },
    },
  };
}

function signerChannel(env: NodeJS.ProcessEnv, f: Record<string, any>, cwd: string, dir: string): Config["signer"] {
  const port = Number(env.CARDPKI_SIGNER_PORT ?? f.port ?? 8444);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CaError("config", `CARDPKI_SIGNER_PORT must be a port number (got '${env.CARDPKI_SIGNER_PORT ?? f.port}')`);
  const host = env.CARDPKI_SIGNER_HOST ?? f.host ?? "127.0.0.1";
  const url = (env.CARDPKI_SIGNER_URL ?? f.url ?? `https://127.0.0.1:${port}`).replace(/\/$/, "");
  if (!/^https:\/\/[^\s/]+$/.test(url)) throw new CaError("config", `CARDPKI_SIGNER_URL must be https://host:port (got '${url}')`);
  const file = (name: string, v: string | undefined, dflt: string) => resolve(cwd, env[name] ?? v ?? join(dir, dflt));
  return {
    host, port, url,
    ca: file("CARDPKI_SIGNER_CA", f.ca, "channel-ca.crt"),
    tlsCert: file("CARDPKI_SIGNER_TLS_CERT", f.tlsCert, "signer.crt"), tlsKey: file("CARDPKI_SIGNER_TLS_KEY", f.tlsKey, "signer.key"),
    clientCert: file("CARDPKI_SIGNER_CLIENT_CERT", f.clientCert, "ra-client.crt"), clientKey: file("CARDPKI_SIGNER_CLIENT_KEY", f.clientKey, "ra-client.key"),
  };
}

function publicUrl(v: string | undefined, raPort: number): { publicUrl: string; publicUrlConfigured: boolean } {
  if (v === undefined) return { publicUrl: `https://localhost:${raPort}`, publicUrlConfigured: false };
  if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(v)) throw new CaError("config", `CARDPKI_RA_PUBLIC_URL must be an https URL (got '${v}')`);
  return { publicUrl: v.replace(/\/$/, ""), publicUrlConfigured: true };
}

/** REQ-15: the delivery worker's settings; credentials only by reference (environment variable or owner-only file). */
function deliveryConfig(env: NodeJS.ProcessEnv, f: Record<string, any>, cwd: string): DeliveryConfig {
  const num = (name: string, v: unknown, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new CaError("config", `${name} must be a number from ${min} to ${max} (got '${String(v)}')`);
    return n;
  };
  const bool = (name: string, v: unknown) => {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw new CaError("config", `${name} must be true or false (got '${String(v)}')`);
  };
  const secret = (fileVar: string, envVar: string, fromFile: PinConfig | undefined): PinConfig | undefined =>
    env[fileVar] ? { file: resolve(cwd, env[fileVar]!) } : env[envVar] ? { env: envVar } : fromFile && "file" in fromFile ? { file: resolve(cwd, fromFile.file) } : fromFile;
  const smtpUrl = env.CARDPKI_SMTP_URL ?? f.email?.url;
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^\s@/]+\/?$/.test(smtpUrl))
    throw new CaError("config", `CARDPKI_SMTP_URL must be smtp://host:port or smtps://host:port without credentials (they come from CARDPKI_SMTP_PASSWORD_FILE or CARDPKI_SMTP_PASSWORD), got '${smtpUrl}'`);
  const smsUrl = env.CARDPKI_SMS_URL ?? f.sms?.url;
  if (smsUrl !== undefined && !/^https?:\/\/[^\s@]+$/.test(smsUrl)) throw new CaError("config", `CARDPKI_SMS_URL must be an http(s) URL without credentials (got '${smsUrl}')`);
  const caFile = (v: string | undefined) => (v ? { caFile: resolve(cwd, v) } : {});
  const password = secret("CARDPKI_SMTP_PASSWORD_FILE", "CARDPKI_SMTP_PASSWORD", f.email?.password);
  const token = secret("CARDPKI_SMS_TOKEN_FILE", "CARDPKI_SMS_TOKEN", f.sms?.token);
  const user = env.CARDPKI_SMTP_USER ?? f.email?.user;
  const spoolDir = env.CARDPKI_LETTER_DIR ?? f.mail?.spoolDir;
  return {
    pollMs: num("CARDPKI_DELIVERY_POLL_MS", env.CARDPKI_DELIVERY_POLL_MS ?? f.pollMs ?? 2000, 50, 600_000),
    maxAttempts: num("CARDPKI_DELIVERY_MAX_ATTEMPTS", env.CARDPKI_DELIVERY_MAX_ATTEMPTS ?? f.maxAttempts ?? 8, 1, 100),
    backoffSeconds: num("CARDPKI_DELIVERY_BACKOFF_SECONDS", env.CARDPKI_DELIVERY_BACKOFF_SECONDS ?? f.backoffSeconds ?? 30, 0.001, 86_400),
    backoffMaxSeconds: num("CARDPKI_DELIVERY_BACKOFF_MAX_SECONDS", env.CARDPKI_DELIVERY_BACKOFF_MAX_SECONDS ?? f.backoffMaxSeconds ?? 3600, 0.001, 604_800),
    leaseSeconds: num("CARDPKI_DELIVERY_LEASE_SECONDS", env.CARDPKI_DELIVERY_LEASE_SECONDS ?? f.leaseSeconds ?? 120, 0.001, 86_400),
    ...(smtpUrl ? {
      email: {
        url: smtpUrl, from: env.CARDPKI_SMTP_FROM ?? f.email?.from ?? "cardpki <no-reply@localhost>",
        requireTls: bool("CARDPKI_SMTP_REQUIRE_TLS", env.CARDPKI_SMTP_REQUIRE_TLS ?? f.email?.requireTls ?? true),
        ...caFile(env.CARDPKI_SMTP_CA_FILE ?? f.email?.caFile), ...(user ? { user } : {}), ...(password ? { password } : {}),
      },
    } : {}),
    ...(smsUrl ? { sms: { url: smsUrl, ...(token ? { token } : {}), ...caFile(env.CARDPKI_SMS_CA_FILE ?? f.sms?.caFile), ...(f.sms?.template ? { template: f.sms.template } : {}) } } : {}),
    ...(spoolDir ? { mail: { spoolDir: resolve(cwd, spoolDir) } } : {}),
  };
}

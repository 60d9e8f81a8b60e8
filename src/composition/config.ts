import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject } from "ajv";
import { Type, type Static, type TOptional, type TProperties, type TSchema } from "@sinclair/typebox";
import { CaError } from "../shared/ca-error.js";
import { logger } from "../shared/log.js";

/** A secret (PIN, password, token) by reference: an environment variable or an owner-only file. */
const SECRET = Type.Union(
  [
    Type.Object({ env: Type.String() }, { additionalProperties: false }),
    Type.Object({ file: Type.String() }, { additionalProperties: false }),
  ],
  { description: '{ "env": NAME } or { "file": PATH }' },
);
const Enum = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: "string", enum: [...values] });
const int = (minimum: number, maximum: number, description?: string) =>
  Type.Integer({ minimum, maximum, ...(description ? { description } : {}) });
const above0 = (maximum: number) => Type.Number({ exclusiveMinimum: 0, maximum });
const text = (pattern: string, description: string) => Type.String({ pattern, description });
const path = () => Type.String();
const opt = Type.Optional;
const strictObject = <T extends TProperties>(properties: T) => Type.Object(properties, { additionalProperties: false });
/** The same settings, each one optional: what a file may leave out. */
const optional = <T extends TProperties>(properties: T) =>
  Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, Type.Optional(s)])) as {
    [K in keyof T]: TOptional<T[K]>;
  };
const HTTPS_URL = "^https://[^\\s/]+(/[^\\s]*)?$";
const PORT = int(0, 65535, "a port number from 0 to 65535");
const SWEEP_SECONDS = int(1, 86400, "a whole number of seconds from 1 to 86400");

/*
 * Each setting and what it may hold, defined once: the resolved configuration (CONFIG_SCHEMA, every default
 * filled in) is made of these, and the file (CONFIG_FILE_SCHEMA) of the same, where it may leave any out.
 */
const TOP = {
  policyDir: path(),
  caStoreDir: path(),
  databaseUrl: Type.String(),
  // SQLite: read-only connections beside the single writer (WAL).
  databaseReaders: int(1, 64),
  host: Type.String(),
  port: PORT,
  // Public base URL put into AIA and CRL distribution points.
  baseUrl: text("^https?://[^\\s/]+(/[^\\s]*)?$", "an http(s) URL"),
  pkcs11Library: Type.String(),
  hsmSessions: int(1, 64),
  // `serve`: JSON lines (default, for log shippers) or text.
  logFormat: Enum(["json", "text"] as const),
  // `serve` on SIGTERM: /healthz answers 503 this long before the listener closes (zero-downtime restarts).
  drainSeconds: int(0, 300, "a whole number of seconds from 0 to 300"),
  // The issuing CAs this instance signs with (ca-store ids).
  issuingCas: Type.Array(Type.String()),
  // PIN source per token label.
  tokenPins: Type.Unsafe<Record<string, Static<typeof SECRET>>>({ type: "object", additionalProperties: SECRET }),
};
/** RA API over HTTPS with client certificates (REQ-22); disabled when the TLS files are absent. */
const RA = {
  port: PORT,
  tlsCert: path(),
  tlsKey: path(),
  // Key of the keyed hash for national ID and document numbers (REQ-28): 32+ random bytes, owner-only file.
  hashKeyFile: path(),
  // The file-backed population register of the demo (REQ-07); production plugs in a real adapter.
  registerFile: path(),
  // REQ-05: lost/stolen document register file (demo adapter); used when configured, or when the default exists.
  documentRegisterFile: path(),
  // The version of the terms of use applicants accept now (REQ-06).
  termsVersion: text("^[0-9A-Za-z.-]{1,32}$", "1 to 32 letters, digits, dots or hyphens"),
  // How often orders past their activation deadline are expired (REQ-15).
  expirySweepSeconds: SWEEP_SECONDS,
  // A TLS handshake not finished in this time is dropped (slow-handshake exhaustion).
  tlsHandshakeTimeoutSeconds: int(1, 120),
  // Open connections to the RA API at most, in all and per client address.
  maxConnections: int(1, 100000),
  maxConnectionsPerClient: int(1, 100000),
  // The RA's public base URL: the applicant's link in the terms message starts with it.
  publicUrl: text(HTTPS_URL, "an https URL"),
  // REQ-06: the applicant's link (its single-use token) is valid this long after the order was placed.
  applicantLinkHours: above0(2160),
  // The applicant's session after the link was opened (fixed, not extended by use).
  applicantSessionMinutes: int(1, 240),
};
/** What the resolver works out beside the RA's settings: whether a default was overridden. */
const RA_RESOLVED = {
  documentRegisterConfigured: Type.Boolean(),
  // False when publicUrl is the default (then `serve` puts in the port it actually listens on).
  publicUrlConfigured: Type.Boolean(),
};
/** REQ-15: the outbox delivery worker; a channel without settings is off (its messages wait). */
const DELIVERY = {
  pollMs: int(50, 600000),
  maxAttempts: int(1, 100),
  // The wait after the first failed attempt; doubled after each further one, up to backoffMaxSeconds.
  backoffSeconds: above0(86400),
  backoffMaxSeconds: above0(604800),
  // A worker's claim on a message: after this another worker may send it (same idempotency key).
  leaseSeconds: above0(86400),
};
/** SMTP: smtp://host:port (STARTTLS, required unless requireTls is false) or smtps://host:port (TLS). */
const EMAIL = {
  url: text(
    "^smtps?://[^\\s@/]+(/)?$",
    "smtp://host:port or smtps://host:port without credentials (they come from " +
      "CARDPKI_SMTP_PASSWORD_FILE or CARDPKI_SMTP_PASSWORD)",
  ),
  from: Type.String(),
  requireTls: Type.Boolean(),
  caFile: opt(path()),
  user: opt(Type.String()),
  password: opt(SECRET),
};
/** The SMS gateway: JSON POST of `template` (strings with {{to}}, {{body}}, {{subject}}, {{id}}, {{kind}}). */
const SMS = {
  url: text("^https?://[^\\s@]+$", "an http(s) URL without credentials"),
  // The gateway's bearer token.
  token: opt(SECRET),
  caFile: opt(path()),
  template: opt(Type.Unsafe<Readonly<Record<string, unknown>>>({ type: "object" })),
};
/** Letters: one PDF print file per letter in this folder. */
const LETTERS = strictObject({ spoolDir: path() });
/** The CA signer channel (mutual TLS): `serve --role ca-signer` listens on it, `serve --role ra` calls it. */
const SIGNER = {
  host: Type.String(),
  port: PORT,
  // Where the RA role finds the signer.
  url: text("^https://[^\\s/]+$", "https://host:port"),
  // The channel CA: both ends accept only certificates from it.
  ca: path(),
  tlsCert: path(),
  tlsKey: path(),
  // The RA role's client certificate on the channel.
  clientCert: path(),
  clientKey: path(),
};
const AUDIT = {
  // The audit checkpoint signer in the CA store, `<ca>/<label>` (default: the first audit-signer found).
  signer: opt(Type.String()),
  // The latest checkpoint, also kept outside the database (REQ-27).
  checkpointFile: path(),
  checkpointSeconds: int(1, 86400),
  // REQ-28: entries are kept at least this long; the retention job removes only older ones.
  retentionYears: int(5, 100),
  // RFC 3161 time-stamp authority outside the host that timestamps every checkpoint (REQ-27); off when unset.
  tsaUrl: opt(text("^https?://[^\\s]+$", "an http(s) URL")),
  // The TSA's certificate (PEM): timestamp tokens are verified against it. Required with tsaUrl.
  tsaCertFile: opt(path()),
};
/** Card production by an external card bureau (CPS 4.4.1). */
const BUREAU = {
  // The RA's bureau exchange signer in the CA store, `<ca>/<label>` (default: the first bureau-signer found).
  signer: opt(text("^[a-z0-9-]+/[A-Za-z0-9._-]{1,64}$", "<ca>/<label> of a bureau-signer in the CA store")),
  // How often `serve` (ra role) runs the tracking sweep: cards shipped and not received in time raise an alarm.
  sweepSeconds: SWEEP_SECONDS,
};
/** REQ-29: personal data (names, emails, outbox messages) encrypted at rest. */
const DATA_ENCRYPTION = {
  // RFC 7512 URI (no PIN) of the HSM AES key that wraps the data-encryption keys, made by a data-key ceremony.
  // Default: the one data key in the CA store (`<ca>/data-keys/<label>/key.uri`).
  wrappingKey: opt(text("^pkcs11:[^\\s]+$", "a PKCS#11 URI (pkcs11:token=...;object=...)")),
};
/** REQ-30: the key backups are encrypted with (32 random bytes, owner-only; keep a copy apart from the backups). */
const BACKUP = { keyFile: path() };
const CARD = {
  // Key that seals card secrets at rest (management keys, PUKs): 32 random bytes, owner-only file.
  kekFile: path(),
  // The reader the card writer uses (default: the only one holding a card).
  reader: opt(Type.String()),
  // The standalone card station: the RA API it calls, the officer's client certificate and key (REQ-22).
  raUrl: text(HTTPS_URL, "an https URL"),
  raCa: opt(path()),
  officerCert: opt(path()),
  officerKey: opt(path()),
};
/** What blank cards come with (PIV defaults; set your card vendor's transport values). */
const CARD_FACTORY = strictObject({
  pin: text("^[0-9]{6,8}$", "6 to 8 digits"),
  puk: text("^[0-9]{6,8}$", "6 to 8 digits"),
  managementKey: text("^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$", "16, 24 or 32 bytes in hex"),
  managementKeyAlgorithm: Enum(["3DES", "AES-128", "AES-192", "AES-256"] as const),
});

/** The resolved configuration `loadConfig` returns: every default filled in, every path absolute. */
export const CONFIG_SCHEMA = strictObject({
  dataDir: path(),
  ...TOP,
  ra: strictObject({ ...RA, ...RA_RESOLVED }),
  delivery: strictObject({
    ...DELIVERY,
    email: opt(strictObject(EMAIL)),
    sms: opt(strictObject(SMS)),
    mail: opt(LETTERS),
  }),
  signer: strictObject(SIGNER),
  audit: strictObject(AUDIT),
  bureau: strictObject(BUREAU),
  dataEncryption: strictObject(DATA_ENCRYPTION),
  backup: strictObject(BACKUP),
  card: strictObject({ ...CARD, factory: CARD_FACTORY }),
});

/** A value nobody changes after it was resolved. */
type Frozen<T> = T extends readonly (infer E)[]
  ? readonly Frozen<E>[]
  : T extends object
    ? { readonly [K in keyof T]: Frozen<T[K]> }
    : T;
export type Config = Frozen<Static<typeof CONFIG_SCHEMA>>;
/** Where a token's PIN comes from: an environment variable or an owner-only file outside the repo. */
export type PinConfig = Frozen<Static<typeof SECRET>>;
export type DeliveryConfig = Config["delivery"];

/**
 * The configuration file (`<dataDir>/cardpki.json` or CARDPKI_CONFIG): the same settings, each may be left
 * out (a channel's URL, the letter folder and the card factory values only with the rest of their object).
 * The file is checked against it as written (unknown keys rejected), and each environment variable of
 * ENV_KEYS is put at its key and checked, coerced from text, by the same schema. Relative paths in the file
 * resolve against the folder the file is in (the data folder), so a copied or moved data folder uses its own
 * files.
 */
export const CONFIG_FILE_SCHEMA = strictObject({
  ...optional(TOP),
  ra: opt(strictObject(optional(RA))),
  delivery: opt(
    strictObject({
      ...optional(DELIVERY),
      email: opt(strictObject({ ...optional(EMAIL), url: EMAIL.url })),
      sms: opt(strictObject({ ...optional(SMS), url: SMS.url })),
      mail: opt(LETTERS),
    }),
  ),
  backup: opt(strictObject(optional(BACKUP))),
  signer: opt(strictObject(optional(SIGNER))),
  bureau: opt(strictObject(optional(BUREAU))),
  dataEncryption: opt(strictObject(optional(DATA_ENCRYPTION))),
  audit: opt(strictObject(optional(AUDIT))),
  card: opt(strictObject({ ...optional(CARD), factory: opt(CARD_FACTORY) })),
});
export type ConfigFile = Static<typeof CONFIG_FILE_SCHEMA>;

/**
 * Each environment variable and the key of the file it sets; its text is coerced and checked by the file's
 * schema. Besides these: CARDPKI_DATA_DIR and CARDPKI_CONFIG (where the file is), CARDPKI_ISSUING_CAS (a
 * comma list), CARDPKI_PIN_FILE_<TOKEN>, and the secrets by reference (CARDPKI_SMTP_PASSWORD[_FILE],
 * CARDPKI_SMS_TOKEN[_FILE]). An empty variable counts as unset.
 */
export const ENV_KEYS: Readonly<Record<string, string>> = {
  CARDPKI_POLICY_DIR: "policyDir",
  CARDPKI_CA_STORE: "caStoreDir",
  DATABASE_URL: "databaseUrl",
  CARDPKI_DB_READERS: "databaseReaders",
  CARDPKI_HOST: "host",
  CARDPKI_PORT: "port",
  CARDPKI_BASE_URL: "baseUrl",
  PKCS11_LIBRARY: "pkcs11Library",
  CARDPKI_HSM_SESSIONS: "hsmSessions",
  CARDPKI_LOG_FORMAT: "logFormat",
  CARDPKI_DRAIN_SECONDS: "drainSeconds",
  CARDPKI_RA_PORT: "ra.port",
  CARDPKI_RA_TLS_CERT: "ra.tlsCert",
  CARDPKI_RA_TLS_KEY: "ra.tlsKey",
  CARDPKI_RA_HASH_KEY: "ra.hashKeyFile",
  CARDPKI_REGISTER_FILE: "ra.registerFile",
  CARDPKI_DOCUMENT_REGISTER_FILE: "ra.documentRegisterFile",
  CARDPKI_TERMS_VERSION: "ra.termsVersion",
  CARDPKI_EXPIRY_SWEEP_SECONDS: "ra.expirySweepSeconds",
  CARDPKI_RA_TLS_HANDSHAKE_TIMEOUT: "ra.tlsHandshakeTimeoutSeconds",
  CARDPKI_RA_MAX_CONNECTIONS: "ra.maxConnections",
  CARDPKI_RA_MAX_CONNECTIONS_PER_CLIENT: "ra.maxConnectionsPerClient",
  CARDPKI_RA_PUBLIC_URL: "ra.publicUrl",
  CARDPKI_APPLICANT_LINK_HOURS: "ra.applicantLinkHours",
  CARDPKI_APPLICANT_SESSION_MINUTES: "ra.applicantSessionMinutes",
  CARDPKI_DELIVERY_POLL_MS: "delivery.pollMs",
  CARDPKI_DELIVERY_MAX_ATTEMPTS: "delivery.maxAttempts",
  CARDPKI_DELIVERY_BACKOFF_SECONDS: "delivery.backoffSeconds",
  CARDPKI_DELIVERY_BACKOFF_MAX_SECONDS: "delivery.backoffMaxSeconds",
  CARDPKI_DELIVERY_LEASE_SECONDS: "delivery.leaseSeconds",
  CARDPKI_SMTP_URL: "delivery.email.url",
  CARDPKI_SMTP_FROM: "delivery.email.from",
  CARDPKI_SMTP_REQUIRE_TLS: "delivery.email.requireTls",
  CARDPKI_SMTP_CA_FILE: "delivery.email.caFile",
  CARDPKI_SMTP_USER: "delivery.email.user",
  CARDPKI_SMS_URL: "delivery.sms.url",
  CARDPKI_SMS_CA_FILE: "delivery.sms.caFile",
  CARDPKI_LETTER_DIR: "delivery.mail.spoolDir",
  CARDPKI_AUDIT_SIGNER: "audit.signer",
  CARDPKI_BUREAU_SIGNER: "bureau.signer",
  CARDPKI_BUREAU_SWEEP_SECONDS: "bureau.sweepSeconds",
  CARDPKI_AUDIT_CHECKPOINT_FILE: "audit.checkpointFile",
  CARDPKI_AUDIT_CHECKPOINT_SECONDS: "audit.checkpointSeconds",
  CARDPKI_AUDIT_TSA_URL: "audit.tsaUrl",
  CARDPKI_AUDIT_TSA_CERT: "audit.tsaCertFile",
  CARDPKI_BACKUP_KEY: "backup.keyFile",
  CARDPKI_SIGNER_HOST: "signer.host",
  CARDPKI_SIGNER_PORT: "signer.port",
  CARDPKI_SIGNER_URL: "signer.url",
  CARDPKI_SIGNER_CA: "signer.ca",
  CARDPKI_SIGNER_TLS_CERT: "signer.tlsCert",
  CARDPKI_SIGNER_TLS_KEY: "signer.tlsKey",
  CARDPKI_SIGNER_CLIENT_CERT: "signer.clientCert",
  CARDPKI_SIGNER_CLIENT_KEY: "signer.clientKey",
  CARDPKI_DATA_WRAPPING_KEY: "dataEncryption.wrappingKey",
  CARDPKI_CARD_KEK: "card.kekFile",
  CARDPKI_CARD_READER: "card.reader",
  CARDPKI_CARD_RA_URL: "card.raUrl",
  CARDPKI_CARD_RA_CA: "card.raCa",
  CARDPKI_CARD_OFFICER_CERT: "card.officerCert",
  CARDPKI_CARD_OFFICER_KEY: "card.officerKey",
};

/** The keys of the file that name files or folders (`*` any token label). */
const PATH_KEYS = [
  "policyDir",
  "caStoreDir",
  "ra.tlsCert",
  "ra.tlsKey",
  "ra.hashKeyFile",
  "ra.registerFile",
  "ra.documentRegisterFile",
  "delivery.email.caFile",
  "delivery.email.password.file",
  "delivery.sms.caFile",
  "delivery.sms.token.file",
  "delivery.mail.spoolDir",
  "audit.checkpointFile",
  "audit.tsaCertFile",
  "backup.keyFile",
  "card.kekFile",
  "card.raCa",
  "card.officerCert",
  "card.officerKey",
  "tokenPins.*.file",
] as const;

const fileCheck = new Ajv({ allErrors: true, strict: true, verbose: true }).compile(CONFIG_FILE_SCHEMA);
const envCheck = new Ajv({ allErrors: true, strict: true, verbose: true, coerceTypes: true }).compile(
  CONFIG_FILE_SCHEMA,
);
const resolvedCheck = new Ajv({ allErrors: true, strict: true }).compile(CONFIG_SCHEMA);

type Doc = Record<string, unknown>;
const isDoc = (v: unknown): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v);

function setAt(doc: Doc, key: string, value: unknown): void {
  const parts = key.split(".");
  let at = doc;
  for (const p of parts.slice(0, -1)) at = (isDoc(at[p]) ? at[p] : (at[p] = {})) as Doc;
  at[parts[parts.length - 1]!] = value;
}

/** Every (key, value) of the file's path keys that is set, `*` expanded. */
function pathsIn(doc: Doc): { key: string; value: string; set(v: string): void }[] {
  const out: { key: string; value: string; set(v: string): void }[] = [];
  const walk = (at: unknown, parts: string[], done: string[]) => {
    if (!isDoc(at)) return;
    const [p, ...rest] = parts;
    for (const k of p === "*" ? Object.keys(at) : [p!]) {
      if (rest.length === 0) {
        if (typeof at[k] === "string")
          out.push({ key: [...done, k].join("."), value: at[k] as string, set: (v) => (at[k] = v) });
      } else walk(at[k], rest, [...done, k]);
    }
  };
  for (const key of PATH_KEYS) walk(doc, key.split("."), []);
  return out;
}

/** The environment's settings as a document of the file's shape, and which variable set each key. */
function fromEnvironment(env: NodeJS.ProcessEnv): { doc: Doc; source: Map<string, { name: string; raw: string }> } {
  const doc: Doc = {};
  const source = new Map<string, { name: string; raw: string }>();
  const put = (name: string, key: string, value: unknown, raw = String(env[name])) => {
    setAt(doc, key, value);
    source.set("/" + key.replace(/\./g, "/"), { name, raw });
  };
  const value = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = value(name);
    if (v === undefined) continue;
    // A switch also reads 1/0 (as it always did); the schema coerces true/false.
    put(name, key, key === "delivery.email.requireTls" && (v === "1" || v === "0") ? String(v === "1") : v);
  }
  const cas = value("CARDPKI_ISSUING_CAS");
  if (cas !== undefined)
    put(
      "CARDPKI_ISSUING_CAS",
      "issuingCas",
      cas
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    );
  for (const [fileVar, envVar, key] of [
    ["CARDPKI_SMTP_PASSWORD_FILE", "CARDPKI_SMTP_PASSWORD", "delivery.email.password"],
    ["CARDPKI_SMS_TOKEN_FILE", "CARDPKI_SMS_TOKEN", "delivery.sms.token"],
  ] as const) {
    if (value(fileVar) !== undefined) put(fileVar, key, { file: value(fileVar) });
    else if (value(envVar) !== undefined) put(envVar, key, { env: envVar }, "(set)");
  }
  // CARDPKI_PIN_FILE_<TOKEN>: the token label upper-cased, hyphens as _.
  for (const name of Object.keys(env))
    if (name.startsWith("CARDPKI_PIN_FILE_") && value(name) !== undefined) {
      const token = name.slice(17).toLowerCase().replace(/_/g, "-");
      doc.tokenPins = { ...(isDoc(doc.tokenPins) ? doc.tokenPins : {}), [token]: { file: value(name) } };
      source.set(`/tokenPins/${token}`, { name, raw: String(env[name]) });
    }
  return { doc, source };
}

function merge(base: Doc, over: Doc): Doc {
  const out: Doc = { ...base };
  for (const [k, v] of Object.entries(over))
    out[k] = isDoc(v) && isDoc(out[k]) && k !== "template" ? merge(out[k] as Doc, v) : v;
  return out;
}

/** What a failing schema asks for, in words. */
function wanted(schema: TSchema | undefined): string | undefined {
  if (!schema) return undefined;
  if (typeof schema.description === "string") return schema.description;
  if (schema.type === "integer") return `a whole number from ${schema.minimum} to ${schema.maximum}`;
  if (schema.type === "number" && schema.exclusiveMinimum !== undefined)
    return `a number above ${schema.exclusiveMinimum} and at most ${schema.maximum}`;
  if (schema.type === "boolean") return "true or false";
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.join(", ")}`;
  return undefined;
}

/** The schema's findings as one sentence per key, named as the operator wrote it: file key or environment variable. */
function findings(errors: readonly ErrorObject[], where: (pointer: string) => { label: string; raw?: string }): string {
  const out: string[] = [];
  const byPointer = new Map<string, ErrorObject>();
  for (const e of errors) {
    const at = where(e.instancePath);
    if (e.keyword === "additionalProperties")
      out.push(
        `${at.label}: unknown key ` +
          `'${(e.params as { additionalProperty: string }).additionalProperty}' (must ` +
          `NOT have additional properties)`,
      );
    else if (e.keyword === "required")
      out.push(`${at.label}: '${(e.params as { missingProperty: string }).missingProperty}' is required`);
    else byPointer.set(e.instancePath, e); // the last one at a key is the outermost (anyOf after its branches)
  }
  for (const [pointer, e] of byPointer) {
    const at = where(pointer);
    const got = at.raw !== undefined ? at.raw.replace(/\/\/[^/@\s]*@/, "//…@") : undefined;
    out.push(
      `${at.label} must be ` +
        `${wanted(e.parentSchema as TSchema | undefined) ?? e.message}${got !== undefined ? ` (got '${got}')` : ""}`,
    );
  }
  return out.join("; ");
}

const inside = (dir: string, p: string) => {
  const r = relative(dir, p);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
};
const log = logger("config");
const told = new Set<string>();

/**
 * Configuration: defaults, then `<dataDir>/cardpki.json` (or CARDPKI_CONFIG), then environment
 * variables, all checked by CONFIG_FILE_SCHEMA. Unknown keys in the file are rejected; a value the
 * schema refuses (CARDPKI_EXPIRY_SWEEP_SECONDS=abc) stops the start with the variable's name.
 */
/** The project folder (holds policies/, ca-store/, data/); relative settings resolve against it. */
export const APP_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** REQ-27: the RFC 3161 TSA: a URL and the certificate its tokens are verified against, both or neither. */
function tsa(
  url: string | undefined,
  cert: string | undefined,
  cwd: string,
): { tsaUrl?: string; tsaCertFile?: string } {
  if (url === undefined && cert === undefined) return {};
  if (url !== undefined && cert === undefined)
    throw new CaError(
      "config",
      "audit.tsaUrl needs audit.tsaCertFile (CARDPKI_AUDIT_TSA_CERT): the TSA " +
        "certificate its tokens are verified against",
    );
  return { ...(url ? { tsaUrl: url } : {}), tsaCertFile: resolve(cwd, cert!) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = APP_ROOT): Config {
  const dataDir = resolve(cwd, env.CARDPKI_DATA_DIR || "data");
  const file = env.CARDPKI_CONFIG ? resolve(cwd, env.CARDPKI_CONFIG) : join(dataDir, "cardpki.json");
  let f: Doc = {};
  if (existsSync(file)) {
    try {
      f = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new CaError("config", `${file}: ${(e as Error).message}`);
    }
    if (!fileCheck(f))
      throw new CaError("config", `${file}: ${findings(fileCheck.errors ?? [], (p) => ({ label: p || "/" }))}`);
    // Relative paths in the file are relative to the folder the file is in (the data folder).
    for (const p of pathsIn(f)) {
      const abs = resolve(dirname(file), p.value);
      p.set(abs);
      if (!inside(dataDir, abs) && !told.has(`${file} ${p.key} ${abs}`)) {
        told.add(`${file} ${p.key} ${abs}`);
        log.warn(`${file}: ${p.key} points outside the data folder ${dataDir}`, { key: p.key, path: abs });
      }
    }
  } else if (env.CARDPKI_CONFIG) {
    throw new CaError("config", `config file ${file} not found`);
  }
  const fromEnv = fromEnvironment(env);
  const merged = merge(f, fromEnv.doc);
  // A channel is on only with its URL: settings of one without it (CARDPKI_SMTP_FROM alone) wait for it.
  const delivery = merged.delivery;
  for (const ch of ["email", "sms"])
    if (isDoc(delivery) && isDoc(delivery[ch]) && (delivery[ch] as Doc).url === undefined) delete delivery[ch];
  if (!envCheck(merged)) {
    throw new CaError(
      "config",
      findings(envCheck.errors ?? [], (pointer) => {
        const s = fromEnv.source.get(pointer) ?? [...fromEnv.source].find(([k]) => pointer.startsWith(k + "/"))?.[1];
        return s ? { label: s.name, raw: s.raw } : { label: `${file}: ${pointer || "/"}` };
      }),
    );
  }
  const c = merged as ConfigFile;
  const at = (v: string | undefined, fallback: string) => resolve(cwd, v ?? fallback);
  const port = c.port ?? 8080;
  const raPort = c.ra?.port ?? 8443;
  const ra: NonNullable<ConfigFile["ra"]> = c.ra ?? {};
  const d: NonNullable<ConfigFile["delivery"]> = c.delivery ?? {};
  const secretAt = (s: PinConfig | undefined) => (s && "file" in s ? { file: resolve(cwd, s.file) } : s);
  const password = secretAt(d.email?.password);
  const token = secretAt(d.sms?.token);
  const config: Config = {
    dataDir,
    policyDir: at(c.policyDir, "policies"),
    caStoreDir: at(c.caStoreDir, "ca-store"),
    databaseUrl: c.databaseUrl ?? `sqlite:${join(dataDir, "cardpki.db")}`,
    databaseReaders: c.databaseReaders ?? 8,
    host: c.host ?? "0.0.0.0",
    port,
    baseUrl: (c.baseUrl ?? `http://localhost:${port}`).replace(/\/$/, ""),
    pkcs11Library: c.pkcs11Library ?? "/usr/lib/softhsm/libsofthsm2.so",
    hsmSessions: c.hsmSessions ?? 4,
    logFormat: c.logFormat ?? "json",
    drainSeconds: c.drainSeconds ?? 5,
    issuingCas: c.issuingCas ?? [],
    tokenPins: Object.fromEntries(Object.entries(c.tokenPins ?? {}).map(([t, s]) => [t, secretAt(s)!])),
    ra: {
      port: raPort,
      tlsCert: at(ra.tlsCert, join(dataDir, "tls", "ra-server.crt")),
      tlsKey: at(ra.tlsKey, join(dataDir, "tls", "ra-server.key")),
      hashKeyFile: at(ra.hashKeyFile, join(dataDir, "ra-hash.key")),
      registerFile: at(ra.registerFile, join(dataDir, "register.json")),
      documentRegisterFile: at(ra.documentRegisterFile, join(dataDir, "document-register.json")),
      documentRegisterConfigured: ra.documentRegisterFile !== undefined,
      termsVersion: ra.termsVersion ?? "2026-01",
      expirySweepSeconds: ra.expirySweepSeconds ?? 300,
      tlsHandshakeTimeoutSeconds: ra.tlsHandshakeTimeoutSeconds ?? 10,
      maxConnections: ra.maxConnections ?? 1024,
      maxConnectionsPerClient: ra.maxConnectionsPerClient ?? 64,
      ...publicUrl(ra.publicUrl, raPort),
      applicantLinkHours: ra.applicantLinkHours ?? 168,
      applicantSessionMinutes: ra.applicantSessionMinutes ?? 30,
    },
    delivery: {
      pollMs: d.pollMs ?? 2000,
      maxAttempts: d.maxAttempts ?? 8,
      backoffSeconds: d.backoffSeconds ?? 30,
      backoffMaxSeconds: d.backoffMaxSeconds ?? 3600,
      leaseSeconds: d.leaseSeconds ?? 120,
      ...(d.email
        ? {
            email: {
              url: d.email.url,
              from: d.email.from ?? "cardpki <no-reply@localhost>",
              requireTls: d.email.requireTls ?? true,
              ...(d.email.caFile ? { caFile: resolve(cwd, d.email.caFile) } : {}),
              ...(d.email.user ? { user: d.email.user } : {}),
              ...(password ? { password } : {}),
            },
          }
        : {}),
      ...(d.sms
        ? {
            sms: {
              url: d.sms.url,
              ...(token ? { token } : {}),
              ...(d.sms.caFile ? { caFile: resolve(cwd, d.sms.caFile) } : {}),
              ...(d.sms.template ? { template: d.sms.template } : {}),
            },
          }
        : {}),
      ...(d.mail ? { mail: { spoolDir: resolve(cwd, d.mail.spoolDir) } } : {}),
    },
    signer: signerChannel(c.signer ?? {}, cwd, join(dataDir, "signer-channel")),
    audit: {
      ...(c.audit?.signer ? { signer: c.audit.signer } : {}),
      checkpointFile: at(c.audit?.checkpointFile, join(dataDir, "audit", "checkpoint.json")),
      checkpointSeconds: c.audit?.checkpointSeconds ?? 60,
      retentionYears: c.audit?.retentionYears ?? 5,
      ...tsa(c.audit?.tsaUrl, c.audit?.tsaCertFile, cwd),
    },
    bureau: { ...(c.bureau?.signer ? { signer: c.bureau.signer } : {}), sweepSeconds: c.bureau?.sweepSeconds ?? 300 },
    backup: { keyFile: at(c.backup?.keyFile, join(dataDir, "backup.key")) },
    dataEncryption: c.dataEncryption?.wrappingKey ? { wrappingKey: c.dataEncryption.wrappingKey } : {},
    card: {
      kekFile: at(c.card?.kekFile, join(dataDir, "card-kek.key")),
      ...(c.card?.reader ? { reader: c.card.reader } : {}),
      raUrl: (c.card?.raUrl ?? `https://localhost:${raPort}`).replace(/\/$/, ""),
      ...(c.card?.raCa ? { raCa: resolve(cwd, c.card.raCa) } : {}),
      ...(c.card?.officerCert ? { officerCert: resolve(cwd, c.card.officerCert) } : {}),
      ...(c.card?.officerKey ? { officerKey: resolve(cwd, c.card.officerKey) } : {}),
      // SP 800-73-4 leaves the initial values to the issuer; these are the common PIV token defaults.
      factory: c.card?.factory ?? {
        pin: "123456",
        puk: "12345678",
        managementKey: "010203040506070801020304050607080102030405060708",
        managementKeyAlgorithm: "3DES",
      },
    },
  };
  // What the resolver returns is what CONFIG_SCHEMA (and so the type Config) says: a default outside it is a bug.
  if (!resolvedCheck(config))
    throw new CaError("internal", `resolved configuration: ${new Ajv().errorsText(resolvedCheck.errors)}`);
  return config;
}

function signerChannel(f: NonNullable<ConfigFile["signer"]>, cwd: string, dir: string): Config["signer"] {
  const port = f.port ?? 8444;
  const file = (v: string | undefined, dflt: string) => resolve(cwd, v ?? join(dir, dflt));
  return {
    host: f.host ?? "127.0.0.1",
    port,
    url: (f.url ?? `https://127.0.0.1:${port}`).replace(/\/$/, ""),
    ca: file(f.ca, "channel-ca.crt"),
    tlsCert: file(f.tlsCert, "signer.crt"),
    tlsKey: file(f.tlsKey, "signer.key"),
    clientCert: file(f.clientCert, "ra-client.crt"),
    clientKey: file(f.clientKey, "ra-client.key"),
  };
}

function publicUrl(v: string | undefined, raPort: number): { publicUrl: string; publicUrlConfigured: boolean } {
  if (v === undefined) return { publicUrl: `https://localhost:${raPort}`, publicUrlConfigured: false };
  if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(v))
    throw new CaError("config", `CARDPKI_RA_PUBLIC_URL must be an https URL (got '${v}')`);
  return { publicUrl: v.replace(/\/$/, ""), publicUrlConfigured: true };
}

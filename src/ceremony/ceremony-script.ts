import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import type { KeyType } from "../shared/key-type.js";
import type { SubjectAttributes } from "../asn1/name.js";
import { sha256Hex } from "../shared/digest.js";
import { schemaErrorText } from "../shared/schema-errors.js";

export const CEREMONY_KINDS = [
  "root",
  "issuing-ca",
  "ocsp-signer",
  "audit-signer",
  "bureau-signer",
  "root-crl",
  "key-backup",
  "data-key",
] as const;
export type CeremonyKind = (typeof CEREMONY_KINDS)[number];

/** A reviewed ceremony file (model: boulder cmd/ceremony): what will happen, as data (REQ-26). */
export interface CeremonyScript {
  readonly id: string;
  readonly version: number;
  readonly cps: readonly string[];
  readonly description: string;
  readonly kind: CeremonyKind;
  /** Token holding the new key (root, issuing-ca, ocsp-signer) or the token to back up (key-backup). */
  readonly token: string;
  /** A key pair (KeyType) or, for data-key, the AES-256 key that wraps the personal-data keys (REQ-29). */
  readonly key?: { readonly label: string; readonly type: KeyType | "AES-256" };
  readonly ca?: { readonly id: string; readonly serialPrefix: number };
  /**
   * ca-store id of the signing CA (issuing-ca, ocsp-signer, root-crl; key-backup: the CA whose key is backed up;
   * data-key: the CA whose key signs the transcript and under whose ca-store folder the key URI goes).
   */
  readonly parent?: string;
  readonly profile?: string;
  readonly subject?: SubjectAttributes;
  /** Shorter than the profile's maximum validity. */
  readonly validityDays?: number;
  readonly crl?: { readonly nextUpdateDays: number };
  /** key-backup: archive path (never overwritten). */
  readonly output?: string;
  /** Custodians that must be present for each token the ceremony logs in to. */
  readonly custodians: { readonly quorum: number; readonly of: number };
  readonly witness: "required" | "optional";
}

const SUBJECT = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  properties: Object.fromEntries(
    ["CN", "serialNumber", "GN", "SN", "O", "OU", "organizationIdentifier", "C"].map((k) => [
      k,
      { type: "string", minLength: 1 },
    ]),
  ),
};
const ID = { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" };

const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["id", "version", "cps", "description", "kind", "token", "custodians"],
  properties: {
    id: ID,
    version: { type: "integer", minimum: 1 },
    cps: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
    description: { type: "string", minLength: 1 },
    kind: { enum: CEREMONY_KINDS },
    token: { type: "string", minLength: 1, maxLength: 32 },
    key: {
      type: "object",
      additionalProperties: false,
      required: ["label", "type"],
      properties: {
        label: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
        type: { enum: ["P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096", "AES-256"] },
      },
    },
    ca: {
      type: "object",
      additionalProperties: false,
      required: ["id", "serialPrefix"],
      properties: { id: ID, serialPrefix: { type: "integer", minimum: 1, maximum: 127 } },
    },
    parent: ID,
    profile: { type: "string", minLength: 1 },
    subject: SUBJECT,
    validityDays: { type: "integer", minimum: 1, maximum: 9125 },
    crl: {
      type: "object",
      additionalProperties: false,
      required: ["nextUpdateDays"],
      properties: { nextUpdateDays: { type: "integer", minimum: 1, maximum: 400 } },
    },
    output: { type: "string", minLength: 1 },
    custodians: {
      type: "object",
      additionalProperties: false,
      required: ["quorum", "of"],
      properties: {
        quorum: { type: "integer", minimum: 1, maximum: 16 },
        of: { type: "integer", minimum: 1, maximum: 16 },
      },
    },
    witness: { enum: ["required", "optional"] },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);

/** Which fields each kind needs, and which it must not have. */
const NEEDS: Record<CeremonyKind, { need: (keyof CeremonyScript)[]; forbid: (keyof CeremonyScript)[] }> = {
  root: { need: ["key", "ca", "profile", "subject"], forbid: ["parent", "crl", "output"] },
  "issuing-ca": { need: ["key", "ca", "profile", "subject", "parent"], forbid: ["crl", "output"] },
  "ocsp-signer": { need: ["key", "profile", "subject", "parent"], forbid: ["ca", "crl", "output"] },
  "audit-signer": { need: ["key", "profile", "subject", "parent"], forbid: ["ca", "crl", "output"] },
  // CPS 4.4.1: the RA's key that signs the batch and certificate return files of the card bureau exchange.
  "bureau-signer": { need: ["key", "profile", "subject", "parent"], forbid: ["ca", "crl", "output"] },
  "root-crl": { need: ["parent", "crl"], forbid: ["key", "ca", "profile", "subject", "validityDays", "output"] },
  "key-backup": { need: ["parent", "output"], forbid: ["key", "ca", "profile", "subject", "validityDays", "crl"] },
  // REQ-29: the HSM key that wraps the data-encryption keys of personal data; no certificate.
  "data-key": { need: ["key", "parent"], forbid: ["ca", "profile", "subject", "validityDays", "crl", "output"] },
};

export function parseCeremonyScript(doc: unknown, source: string): CeremonyScript {
  if (!validate(doc)) {
    const msg = schemaErrorText(validate.errors);
    throw new CaError("config", `ceremony ${source}: ${msg}`);
  }
  const s = { witness: "required", ...(doc as object) } as CeremonyScript;
  const rule = NEEDS[s.kind];
  for (const k of rule.need)
    if (s[k] === undefined) throw new CaError("config", `ceremony ${source}: kind ${s.kind} needs '${k}'`);
  for (const k of rule.forbid)
    if (s[k] !== undefined) throw new CaError("config", `ceremony ${source}: kind ${s.kind} does not take '${k}'`);
  if (s.key && (s.kind === "data-key") !== (s.key.type === "AES-256"))
    throw new CaError(
      "config",
      `ceremony ${source}: ` +
        (s.kind === "data-key"
          ? "a data-key ceremony makes an AES-256 key"
          : `kind ${s.kind} makes a key pair, not ${s.key.type}`),
    );
  if (s.custodians.quorum > s.custodians.of)
    throw new CaError("config", `ceremony ${source}: quorum ${s.custodians.quorum} > ${s.custodians.of} custodians`);
  return s;
}

export function loadCeremonyScript(path: string): { script: CeremonyScript; sha256: string } {
  let text: string;
  let doc: unknown;
  try {
    text = readFileSync(path, "utf8");
    doc = parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `ceremony ${path}: ${(e as Error).message}`);
  }
  return { script: parseCeremonyScript(doc, path), sha256: sha256Hex(text) };
}

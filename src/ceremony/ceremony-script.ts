import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { Type, type Static, type TOptional } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { KEY_TYPES } from "../shared/key-type.js";
import type { SubjectAttributes } from "../asn1/name.js";
import { sha256Hex } from "../shared/digest.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, Enum, type Frozen } from "../shared/schema-types.js";

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

const ID = Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" });
const TEXT = Type.String({ minLength: 1 });
const SUBJECT = Closed(
  Object.fromEntries(
    (["CN", "serialNumber", "GN", "SN", "O", "OU", "organizationIdentifier", "C"] as const).map((k) => [
      k,
      Type.Optional(TEXT),
    ]),
  ) as Record<keyof SubjectAttributes, TOptional<typeof TEXT>>,
  { minProperties: 1 },
);

/** A reviewed ceremony file (model: boulder cmd/ceremony): what will happen, as data (REQ-26). */
export const CEREMONY_SCRIPT_SCHEMA = Closed({
  id: ID,
  version: Type.Integer({ minimum: 1 }),
  cps: Type.Array(TEXT, { minItems: 1 }),
  description: TEXT,
  kind: Enum(CEREMONY_KINDS),
  // Token holding the new key (root, issuing-ca, ocsp-signer) or the token to back up (key-backup).
  token: Type.String({ minLength: 1, maxLength: 32 }),
  // A key pair (KeyType) or, for data-key, the AES-256 key that wraps the personal-data keys (REQ-29).
  key: Type.Optional(
    Closed({
      label: Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$" }),
      type: Enum([...KEY_TYPES, "AES-256"] as const),
    }),
  ),
  ca: Type.Optional(Closed({ id: ID, serialPrefix: Type.Integer({ minimum: 1, maximum: 127 }) })),
  /*
   * ca-store id of the signing CA (issuing-ca, ocsp-signer, root-crl; key-backup: the CA whose key is backed up;
   * data-key: the CA whose key signs the transcript and under whose ca-store folder the key URI goes).
   */
  parent: Type.Optional(ID),
  profile: Type.Optional(TEXT),
  subject: Type.Optional(SUBJECT),
  // Shorter than the profile's maximum validity.
  validityDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 9125 })),
  crl: Type.Optional(Closed({ nextUpdateDays: Type.Integer({ minimum: 1, maximum: 400 }) })),
  // key-backup: archive path (never overwritten).
  output: Type.Optional(TEXT),
  // Custodians that must be present for each token the ceremony logs in to.
  custodians: Closed({
    quorum: Type.Integer({ minimum: 1, maximum: 16 }),
    of: Type.Integer({ minimum: 1, maximum: 16 }),
  }),
  witness: Type.Optional(Enum(["required", "optional"] as const)),
});
/** A ceremony file as loaded: `witness` defaults to required. */
export type CeremonyScript = Frozen<Omit<Static<typeof CEREMONY_SCRIPT_SCHEMA>, "witness">> & {
  readonly witness: "required" | "optional";
};

const validate = new Ajv({ allErrors: true, strict: true }).compile(CEREMONY_SCRIPT_SCHEMA);

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

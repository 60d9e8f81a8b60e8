import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import type { KeyType } from "../shared/key-type.js";
import type { SubjectAttributes } from "../asn1/name.js";

/** A reviewed ceremony file (model: boulder cmd/ceremony): what will happen, as data. */
export interface CeremonyScript {
  readonly id: string;
  readonly version: number;
  readonly cps: readonly string[];
  readonly description: string;
  readonly kind: "root" | "issuing-ca";
  /** Token holding the new key. */
  readonly token: string;
  readonly key: { readonly label: string; readonly type: KeyType };
  readonly ca: { readonly id: string; readonly serialPrefix: number };
  /** ca-store id of the signing CA (issuing-ca only). */
  readonly parent?: string;
  readonly profile: string;
  readonly subject: SubjectAttributes;
}

const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["id", "version", "cps", "description", "kind", "token", "key", "ca", "profile", "subject"],
  properties: {
    id: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{1,62}$" },
    version: { type: "integer", minimum: 1 },
    cps: { type: "array", minItems: 1, items: { type: "string" } },
    description: { type: "string" },
    kind: { enum: ["root", "issuing-ca"] },
    token: { type: "string", minLength: 1, maxLength: 32 },
    key: {
      type: "object", additionalProperties: false, required: ["label", "type"],
      properties: { label: { type: "string", minLength: 1, maxLength: 64 }, type: { enum: ["P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096"] } },
    },
    ca: {
      type: "object", additionalProperties: false, required: ["id", "serialPrefix"],
      properties: { id: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }, serialPrefix: { type: "integer", minimum: 1, maximum: 127 } },
    },
    parent: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" },
    profile: { type: "string" },
    subject: {
      type: "object", additionalProperties: false,
      properties: Object.fromEntries(["CN", "serialNumber", "GN", "SN", "O", "OU", "organizationIdentifier", "C"].map((k) => [k, { type: "string", minLength: 1 }])),
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);

export function parseCeremonyScript(doc: unknown, source: string): CeremonyScript {
  if (!validate(doc)) {
    const msg = (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
    throw new CaError("config", `ceremony ${source}: ${msg}`);
  }
  const s = doc as unknown as CeremonyScript;
  if (s.kind === "issuing-ca" && !s.parent) throw new CaError("config", `ceremony ${source}: issuing-ca needs 'parent'`);
  if (s.kind === "root" && s.parent) throw new CaError("config", `ceremony ${source}: a root has no parent`);
  return s;
}

export function loadCeremonyScript(path: string): CeremonyScript {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `ceremony ${path}: ${(e as Error).message}`);
  }
  return parseCeremonyScript(doc, path);
}

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks } from "../asn1/der.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import {
  bootstrapStaffGroup as bootstrapRaStaff,
  STAFF_ROLES,
  type StaffGroupInput,
  type StaffGroupResult,
  type StaffMember,
} from "../ra/staff-bootstrap.js";
import type { Ra } from "./ra.js";
import type { Parts } from "./parts.js";

export {
  checkStaffGroup,
  requiredStaffGroup,
  type StaffGroupInput,
  type StaffGroupNeeds,
  type StaffGroupResult,
  type StaffMember,
} from "../ra/staff-bootstrap.js";

/** The staff bootstrap (ra/staff-bootstrap.ts) over this process's RA and audit trail. */
export function bootstrapStaffGroup(
  rt: Parts<"clock" | "random" | "db">,
  ra: Ra,
  input: StaffGroupInput,
): Promise<StaffGroupResult> {
  return bootstrapRaStaff(
    {
      directory: ra.directory,
      hasher: ra.hasher,
      certs: ra.certs,
      workflows: ra.workflows,
      clock: rt.clock,
      random: rt.random,
      audit: (e) => recordAuditEvent(rt.db, e),
    },
    input,
  );
}

const FILE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["staff"],
  properties: {
    staff: {
      type: "array",
      minItems: 1,
      maxItems: 32,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "name", "nationalId", "roles", "publicKey"],
        properties: {
          id: { type: "string", pattern: "^[a-z][a-z0-9-]{0,31}$" },
          name: { type: "string", minLength: 1, maxLength: 64, pattern: "^[^\\u0000-\\u001f\\u007f]+$" },
          nationalId: { type: "string", pattern: "^[0-9A-Za-z-]{6,32}$" },
          email: { type: "string", maxLength: 128, pattern: "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" },
          roles: { type: "array", minItems: 1, uniqueItems: true, items: { enum: [...STAFF_ROLES] } },
          qualification: { type: "string", minLength: 1, maxLength: 128, pattern: "^[^\\u0000-\\u001f\\u007f]+$" },
          qualifiedUntil: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
          publicKey: { type: "string", minLength: 1, description: "PEM 'PUBLIC KEY' file, relative to this file" },
        },
      },
    },
  },
} as const;
const validate = new Ajv({ allErrors: true, strict: true }).compile(FILE_SCHEMA);

/** The staff group file (YAML or JSON): one entry per member, each naming the PEM public key file from their card. */
export function readStaffFile(file: string): StaffMember[] {
  let doc: any;
  try {
    doc = parseYaml(readFileSync(file, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new CaError("invalid-input", `${file}: ${(e as Error).message}`);
  }
  if (!validate(doc))
    throw new CaError(
      "invalid-input",
      `${file}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`,
    );
  return (doc.staff as any[]).map((m) => {
    const keyFile = resolve(dirname(file), m.publicKey);
    let spki: Uint8Array | undefined;
    try {
      spki = pemBlocks(new Uint8Array(readFileSync(keyFile)), "PUBLIC KEY")[0];
    } catch (e) {
      throw new CaError("invalid-input", `${file}: ${m.id}: cannot read ${keyFile}: ${(e as Error).message}`);
    }
    if (!spki) throw new CaError("invalid-input", `${file}: ${m.id}: no PUBLIC KEY in ${keyFile}`);
    const qualifiedUntil = m.qualifiedUntil ? new Date(`${m.qualifiedUntil}T23:59:59Z`) : undefined;
    if (qualifiedUntil && Number.isNaN(qualifiedUntil.getTime()))
      throw new CaError("invalid-input", `${file}: ${m.id}: qualifiedUntil '${m.qualifiedUntil}' is not a date`);
    return {
      id: m.id,
      name: m.name,
      nationalId: m.nationalId,
      roles: m.roles,
      publicKey: spki,
      ...(m.email ? { email: m.email } : {}),
      ...(m.qualification ? { qualification: m.qualification } : {}),
      ...(qualifiedUntil ? { qualifiedUntil } : {}),
    };
  });
}

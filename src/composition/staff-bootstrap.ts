import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, Enum } from "../shared/schema-types.js";
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

const NoControl = "^[^\\u0000-\\u001f\\u007f]+$";
/** One member as the staff file names them; the public key is a PEM file beside it. */
const STAFF_FILE_MEMBER = Closed({
  id: Type.String({ pattern: "^[a-z][a-z0-9-]{0,31}$" }),
  name: Type.String({ minLength: 1, maxLength: 64, pattern: NoControl }),
  nationalId: Type.String({ pattern: "^[0-9A-Za-z-]{6,32}$" }),
  email: Type.Optional(Type.String({ maxLength: 128, pattern: "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" })),
  roles: Type.Array(Enum(STAFF_ROLES), { minItems: 1, uniqueItems: true }),
  qualification: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: NoControl })),
  qualifiedUntil: Type.Optional(Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$" })),
  publicKey: Type.String({ minLength: 1, description: "PEM 'PUBLIC KEY' file, relative to this file" }),
});
/** The staff group file of `cardpki ra bootstrap-staff --staff FILE` (REQ-02, REQ-10). */
export const STAFF_FILE_SCHEMA = Closed({ staff: Type.Array(STAFF_FILE_MEMBER, { minItems: 1, maxItems: 32 }) });
type StaffFile = Static<typeof STAFF_FILE_SCHEMA>;
const validate = new Ajv({ allErrors: true, strict: true }).compile<StaffFile>(STAFF_FILE_SCHEMA);

/**
 * The staff group file (YAML or JSON): one entry per member, each naming the PEM public key file from their card.
 * Refused with the file and each bad field named (`invalid-input`: the CLI exits 2).
 */
export function readStaffFile(file: string): StaffMember[] {
  const bad = (what: string) => new CaError("invalid-input", `staff file ${file}: ${what}`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"), { strict: true, uniqueKeys: true });
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (!validate(doc)) throw bad(schemaErrorText(validate.errors));
  return doc.staff.map((m) => {
    const keyFile = resolve(dirname(file), m.publicKey);
    let spki: Uint8Array | undefined;
    try {
      spki = pemBlocks(new Uint8Array(readFileSync(keyFile)), "PUBLIC KEY")[0];
    } catch (e) {
      throw bad(`${m.id}: cannot read ${keyFile}: ${(e as Error).message}`);
    }
    if (!spki) throw bad(`${m.id}: no PUBLIC KEY in ${keyFile}`);
    const qualifiedUntil = m.qualifiedUntil ? new Date(`${m.qualifiedUntil}T23:59:59Z`) : undefined;
    if (qualifiedUntil && Number.isNaN(qualifiedUntil.getTime()))
      throw bad(`${m.id}: qualifiedUntil '${m.qualifiedUntil}' is not a date`);
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

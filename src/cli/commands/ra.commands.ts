import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../../shared/ca-error.js";
import { toPem } from "../../asn1/der.js";
import { loadConfig } from "../../composition/config.js";
import { openOperatorCa, withOperator } from "../../composition/operator-role.js";
import { bootstrapStaffGroup, openRa, readStaffFile } from "../../composition/ra.js";
import { OPERATOR_OPTION, osUser, personNameArg, requireString, type Command } from "../command.js";

/**
 * REQ-02, REQ-24: the one-time bootstrap of the service owner's whole initial staff group, on the CA
 * host, with an operator and a witness; refused once the service owner has active staff.
 */
const bootstrap: Command = {
  name: "bootstrap-staff",
  summary:
    "Once: create the service owner's initial staff group (every member's " +
    "ra-officer certificate for the key on their card), with operator and " +
    "witness.",
  usage:
    "ra bootstrap-staff --org-number N --org-name NAME --country CC --staff FILE " +
    "--out DIR --operator NAME --witness NAME",
  options: {
    "org-number": { type: "string", description: "the service owner's organisation number" },
    "org-name": { type: "string", description: "the service owner's name" },
    country: { type: "string", description: "ISO 3166 country code, e.g. SE" },
    staff: {
      type: "string",
      description:
        "YAML/JSON: staff: [{id, name, nationalId, email?, roles, qualification?, " +
        "qualifiedUntil?, publicKey: PEM file}]",
    },
    out: {
      type: "string",
      description: "directory for the members' certificates (<id>.crt); created, existing files are never overwritten",
    },
    operator: OPERATOR_OPTION,
    witness: { type: "string", description: "the witness watching the step (required; recorded)" },
  },
  async run(v) {
    const operator = personNameArg(v, "operator");
    const witness = personNameArg(v, "witness");
    if (witness === operator) throw new CaError("invalid-input", "--witness must be another person than --operator");
    const out = requireString(v, "out");
    const country = requireString(v, "country");
    if (!/^[A-Z]{2}$/.test(country))
      throw new CaError("invalid-input", "--country is a two-letter ISO 3166 code in capitals");
    const orgNumber = requireString(v, "org-number");
    if (!/^[0-9A-Z-]{4,32}$/.test(orgNumber))
      throw new CaError("invalid-input", "--org-number is 4 to 32 of 0-9 A-Z -");
    const members = readStaffFile(requireString(v, "staff"));
    for (const m of members)
      if (existsSync(join(out, `${m.id}.crt`)))
        throw new CaError("conflict", `${join(out, `${m.id}.crt`)} exists; refusing to overwrite`);
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) =>
      bootstrapStaffGroup(rt, await openRa(rt), {
        orgNumber,
        orgName: requireString(v, "org-name"),
        country,
        members,
        operator,
        witness,
        osUser: osUser(),
      }),
    );
    mkdirSync(out, { recursive: true, mode: 0o700 });
    for (const m of r.members) writeFileSync(join(out, `${m.id}.crt`), toPem("CERTIFICATE", m.der), { flag: "wx" });
    console.log(
      JSON.stringify(
        {
          organisationId: r.organisationId,
          members: r.members.map((m) => ({
            id: m.id,
            personId: m.personId,
            roles: m.roles,
            serial: m.serial,
            certificate: join(out, `${m.id}.crt`),
          })),
        },
        null,
        2,
      ),
    );
    return 0;
  },
};

/**
 * REQ-15: expire orders past their activation deadline and revoke their cards now (the service also does this on its
 * schedule).
 */
const expire: Command = {
  name: "expire",
  summary: "Expire card orders not activated within the policy deadline and revoke their cards, now.",
  usage: "ra expire",
  options: {},
  async run() {
    const r = await withOperator(openOperatorCa(loadConfig()), async (rt) => (await openRa(rt)).expiry.sweep());
    console.log(JSON.stringify(r));
    return r.failed.length ? 1 : 0;
  },
};

export const raCommands = {
  name: "ra",
  summary: "RA operations: bootstrap-staff, expire",
  commands: [bootstrap, expire],
};

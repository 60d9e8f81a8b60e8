import { existsSync, writeFileSync } from "node:fs";
import { CaError } from "../../shared/ca-error.js";
import { toPem } from "../../asn1/der.js";
import { loadConfig } from "../../composition/config.js";
import { withRuntime } from "../../composition/runtime.js";
import { bootstrapStaff, openRa, type Role } from "../../composition/ra.js";
import { operatorArg, publicKeyArg, requireString, type Command } from "../command.js";

const STAFF_ROLES: readonly Role[] = ["ra-officer", "ra-admin", "auditor", "ca-operator"];

/** REQ-02: the service owner's first officer, made on the CA host; every later officer gets their card through the RA. */
const bootstrap: Command = {
  name: "bootstrap-staff",
  summary: "Make the service owner's first staff officer and issue their ra-officer certificate for the key on their card.",
  usage: "ra bootstrap-staff --org-number N --org-name NAME --country CC --national-id ID --name NAME --role R... --public-key FILE --out FILE [--email E] [--qualified-until DATE]",
  options: {
    "org-number": { type: "string", description: "the service owner's organisation number" },
    "org-name": { type: "string", description: "the service owner's name" },
    country: { type: "string", description: "ISO 3166 country code, e.g. SE" },
    "national-id": { type: "string", description: "the officer's national ID number (stored only as a keyed hash, REQ-28)" },
    name: { type: "string", description: "the officer's name" },
    email: { type: "string", description: "the officer's email (optional)" },
    role: { type: "string", multiple: true, description: `roles besides service-owner-staff: ${STAFF_ROLES.join(", ")}` },
    "qualified-until": { type: "string", description: "end of the officer's identity-proofing qualification, ISO 8601 (REQ-25)" },
    "public-key": { type: "string", description: "the public key generated on the officer's card, PEM ('PUBLIC KEY')" },
    out: { type: "string", description: "write the officer's certificate (PEM) here; refuses to overwrite" },
    operator: { type: "string", description: "the CA operator doing this (recorded; default $USER)" },
  },
  async run(v) {
    const out = requireString(v, "out");
    if (existsSync(out)) throw new CaError("conflict", `${out} exists; refusing to overwrite`);
    const roles = (v.role as string[] | undefined) ?? [];
    if (roles.length === 0) throw new CaError("invalid-input", `give at least one --role (${STAFF_ROLES.join(", ")})`);
    for (const r of roles) if (!STAFF_ROLES.includes(r as Role)) throw new CaError("invalid-input", `unknown role '${r}' (${STAFF_ROLES.join(", ")})`);
    let qualifiedUntil: Date | undefined;
    if (typeof v["qualified-until"] === "string") {
      qualifiedUntil = new Date(v["qualified-until"]);
      if (Number.isNaN(qualifiedUntil.getTime())) throw new CaError("invalid-input", `--qualified-until '${v["qualified-until"]}' is not a date`);
    }
    const country = requireString(v, "country");
    if (!/^[A-Z]{2}$/.test(country)) throw new CaError("invalid-input", "--country is a two-letter ISO 3166 code in capitals");
    const publicKey = publicKeyArg(requireString(v, "public-key"));
    const r = await withRuntime(loadConfig(), {}, async (rt) =>
      bootstrapStaff(rt, await openRa(rt), {
        orgNumber: requireString(v, "org-number"), orgName: requireString(v, "org-name"), country, nationalId: requireString(v, "national-id"),
        name: requireString(v, "name"), roles: roles as Role[], publicKey, operator: operatorArg(v),
        ...(typeof v.email === "string" ? { email: v.email } : {}), ...(qualifiedUntil ? { qualifiedUntil } : {}),
      }));
    writeFileSync(out, toPem("CERTIFICATE", r.der), { flag: "wx" });
    console.log(JSON.stringify({ organisationId: r.organisationId, personId: r.personId, serial: r.serial, certificate: out }));
    return 0;
  },
};

/** REQ-15: expire orders past their activation deadline and revoke their cards now (the service also does this on its schedule). */
const expire: Command = {
  name: "expire",
  summary: "Expire card orders not activated within the policy deadline and revoke their cards, now.",
  usage: "ra expire",
  options: {},
  async run() {
    const r = await withRuntime(loadConfig(), {}, async (rt) => (await openRa(rt)).expiry.sweep());
    console.log(JSON.stringify(r));
    return r.failed.length ? 1 : 0;
  },
};

export const raCommands = { name: "ra", summary: "RA operations: bootstrap-staff, expire", commands: [bootstrap, expire] };

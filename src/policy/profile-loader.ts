import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import type { Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import type { CertificateProfile } from "./certificate-profile.js";
import { PROFILE_SCHEMA } from "./profile.schema.js";
import { schemaErrorText } from "../shared/schema-errors.js";

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(PROFILE_SCHEMA);

/** Validates one parsed profile document (schema + rules the schema cannot express). */
export function parseProfile(doc: unknown, source: string): CertificateProfile {
  if (!validate(doc)) {
    const msg = schemaErrorText(validate.errors);
    throw new CaError("config", `profile ${source}: ${msg}`, { source });
  }
  const d = doc as Static<typeof PROFILE_SCHEMA>;
  const p: CertificateProfile = {
    id: d.id,
    version: d.version,
    description: d.description,
    cps: d.cps,
    kind: d.kind,
    loa: d.loa,
    keyTypes: d.keyTypes,
    validity: { days: d.validity.days, backdateSeconds: d.validity.backdateSeconds ?? 60 },
    csr: d.csr ?? "forbidden",
    subject: d.subject,
    subjectAltName: d.subjectAltName ?? {},
    basicConstraints: d.basicConstraints,
    keyUsage: d.keyUsage,
    extendedKeyUsage: d.extendedKeyUsage ?? [],
    certificatePolicies: d.certificatePolicies,
    authorityInfoAccess: d.authorityInfoAccess ?? { ocsp: false, caIssuers: false },
    crlDistributionPoint: d.crlDistributionPoint ?? false,
    ocspNoCheck: d.ocspNoCheck ?? false,
  };
  const fail = (m: string) => {
    throw new CaError("config", `profile ${source}: ${m}`, { source });
  };
  for (const [name, rule] of Object.entries(p.subject)) {
    if (rule.pattern !== undefined) {
      try {
        new RegExp(rule.pattern, "u");
      } catch {
        fail(`subject.${name}.pattern is not a valid regular expression`);
      }
    }
  }
  // RFC 5280 4.2.1.9 / 4.2.1.3: CA flag and keyCertSign go together.
  const caUsage = p.keyUsage.includes("keyCertSign");
  if (p.basicConstraints.ca !== caUsage)
    fail("basicConstraints.ca and keyUsage keyCertSign must agree (RFC 5280 4.2.1.3)");
  if (p.kind === "ca" && !p.basicConstraints.ca) fail("kind ca needs basicConstraints.ca: true");
  if (p.kind !== "ca" && p.basicConstraints.ca) fail("only kind ca may set basicConstraints.ca");
  if (!p.basicConstraints.ca && p.basicConstraints.pathLen !== undefined)
    fail("pathLen only for CA profiles (RFC 5280 4.2.1.9)");
  if (p.ocspNoCheck && !p.extendedKeyUsage.includes("ocspSigning"))
    fail("ocspNoCheck only with EKU ocspSigning (RFC 6960 4.2.2.2.1)");
  if (p.kind === "end-entity" && p.loa === undefined) fail("end-entity profiles name their loa");
  if (p.kind === "end-entity" && p.certificatePolicies.length === 0)
    fail("end-entity profiles carry a certificatePolicies OID per LoA");
  return deepFreeze(p);
}

/** Loads every `*.yaml`/`*.json` in a directory; ids must be unique and match file names. */
export function loadProfiles(dir: string): ReadonlyMap<string, CertificateProfile> {
  const out = new Map<string, CertificateProfile>();
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort();
  } catch (e) {
    throw new CaError("config", `cannot read profile directory ${dir}: ${(e as Error).message}`);
  }
  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8");
    let doc: unknown;
    try {
      doc = parseYaml(text, { strict: true, uniqueKeys: true });
    } catch (e) {
      throw new CaError("config", `profile ${f}: ${(e as Error).message}`);
    }
    const p = parseProfile(doc, f);
    const stem = f.replace(/\.(ya?ml|json)$/, "");
    if (stem !== p.id) throw new CaError("config", `profile ${f}: id '${p.id}' must match the file name`);
    if (out.has(p.id)) throw new CaError("config", `profile id ${p.id} defined twice`);
    out.set(p.id, p);
  }
  if (out.size === 0) throw new CaError("config", `no profiles in ${dir}`);
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadProfiles } from "../../src/policy/profile-loader.js";
import { SoftwareSigner } from "../../src/hsm/software-signer.js";
import { encodeName } from "../../src/asn1/name.js";
import { keyIdentifier } from "../../src/ca/tbs-builder.js";
import type { Authority } from "../../src/ca/authority.js";
import type { KeyType } from "../../src/shared/key-type.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const PROFILES = loadProfiles(join(REPO_ROOT, "policies", "profiles"));

export const ORG_SUBJECT = {
  CN: "Alice Andersson",
  serialNumber: "EMP-1234",
  O: "Example AB",
  organizationIdentifier: "NTRSE-5560000001",
  C: "SE",
} as const;

/** A software CA for unit tests (production CA keys are in the HSM). */
export function softwareAuthority(keyType: KeyType = "P-256", notAfter = new Date("2036-01-01T00:00:00Z")): Authority {
  const signer = SoftwareSigner.generate(keyType);
  return {
    id: "unit-ca",
    nameDer: encodeName({ CN: "Unit Test CA", O: "cardpki tests", C: "SE" }),
    ski: keyIdentifier(signer.spki),
    notAfter,
    signer,
    serialPrefix: 9,
    urls: {
      ocsp: "http://pki.example/ocsp",
      caIssuers: "http://pki.example/ca/unit-ca.cer",
      crl: "http://pki.example/crl/unit-ca.crl",
    },
  };
}

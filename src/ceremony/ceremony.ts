import { createHash } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { Authority } from "../ca/authority.js";
import { authorityFromCertificate } from "../ca/authority.js";
import type { CertificateIssuer } from "../ca/certificate-issuer.js";
import { keyIdentifier } from "../ca/tbs-builder.js";
import { encodeName } from "../asn1/name.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import type { Pkcs11Keystore } from "../hsm/pkcs11-keystore.js";
import type { CaDirectory, StoredCa } from "./ca-directory.js";
import type { CeremonyScript } from "./ceremony-script.js";

export interface CeremonyDeps {
  /** An open keystore for a token label (PIN already supplied by the custodians). */
  readonly keystore: (token: string) => Promise<Pkcs11Keystore>;
  readonly caDir: CaDirectory;
  readonly issuer: CertificateIssuer;
  readonly clock: Clock;
  readonly urls: (caId: string, kind: "root" | "issuing") => Authority["urls"];
  readonly operator: string;
  readonly log: (line: string) => void;
}

export interface CeremonyResult {
  readonly ca: StoredCa;
  readonly serial: string;
  readonly keyId: string;
  readonly spkiSha256: string;
}

/** Runs a root or issuing-CA ceremony: key in the HSM, certificate, public record in ca-store (REQ-26). */
export async function runCeremony(script: CeremonyScript, deps: CeremonyDeps): Promise<CeremonyResult> {
  const { caDir, log } = deps;
  let step = 0;
  const say = (m: string) => log(`[${++step}] ${m}`);
  // Refuse before anything irreversible happens.
  if (caDir.exists(script.ca.id)) throw new CaError("conflict", `CA '${script.ca.id}' already exists in ${caDir.root}`);
  const ks = await deps.keystore(script.token);
  if (await ks.hasKey({ label: script.key.label }))
    throw new CaError("conflict", `key label '${script.key.label}' already exists on token '${script.token}'`);
  let parent: StoredCa | undefined;
  let parentAuthority: Authority | undefined;
  if (script.kind === "issuing-ca") {
    parent = caDir.load(script.parent!);
    const uri = parsePkcs11Uri(parent.manifest.keyUri);
    const pks = await deps.keystore(uri.token);
    const signer = await pks.signer({ ...(uri.id !== undefined ? { id: uri.id } : { label: uri.object! }) });
    parentAuthority = authorityFromCertificate(parent.manifest.id, parent.certDer, signer, parent.manifest.serialPrefix, deps.urls(parent.manifest.id, parent.manifest.kind));
  }

  say(`generate ${script.key.type} key '${script.key.label}' on token '${script.token}'`);
  const info = await ks.generateKeyPair(script.key.label, script.key.type);
  const attrs = await ks.keyAttributes({ id: info.id });
  if (!attrs.sensitive || attrs.extractable || !attrs.sign || attrs.decrypt || attrs.unwrap || attrs.derive)
    throw new CaError("hsm-unavailable", `key '${script.key.label}' has unsafe attributes ${JSON.stringify(attrs)}`);
  const spkiSha256 = createHash("sha256").update(info.spki).digest("hex");
  say(`key id ${info.id}, SPKI SHA-256 ${spkiSha256}; sensitive, not extractable, sign-only`);

  const signer = await ks.signer({ id: info.id });
  let authority: Authority;
  if (script.kind === "root") {
    authority = {
      id: script.ca.id, nameDer: encodeName(script.subject), ski: keyIdentifier(info.spki),
      notAfter: new Date(8.64e15), signer, serialPrefix: script.ca.serialPrefix, urls: {},
    };
  } else {
    authority = parentAuthority!;
  }
  say(script.kind === "root" ? `self-sign root certificate (profile ${script.profile})` : `sign issuing CA certificate with '${parent!.manifest.id}' (profile ${script.profile})`);
  const issued = await deps.issuer.issue(authority, {
    profileId: script.profile, publicKey: info.spki, subject: script.subject, requestedBy: deps.operator,
    allowedKinds: ["ca"], selfSigned: script.kind === "root",
  });
  const ca = caDir.create({
    id: script.ca.id, kind: script.kind === "root" ? "root" : "issuing", parent: script.kind === "root" ? script.ca.id : parent!.manifest.id,
    profile: script.profile, keyUri: formatPkcs11Uri({ token: script.token, object: script.key.label, id: info.id }),
    serialPrefix: script.ca.serialPrefix, createdAt: deps.clock.now().toISOString(), ceremony: `${script.id}@${script.version}`,
  }, issued.der, parent ? parent.chainDer : []);
  say(`recorded ${ca.dir} (serial ${issued.serial})`);
  return { ca, serial: issued.serial, keyId: info.id, spkiSha256 };
}

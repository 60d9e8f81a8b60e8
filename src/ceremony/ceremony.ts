import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { X509Certificate } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Clock } from "../shared/clock.js";
import type { KeyType } from "../shared/key-type.js";
import { authorityFromCertificate, type Authority } from "../ca/authority.js";
import type { CertificateIssuer } from "../ca/certificate-issuer.js";
import type { CertStore, KeySigner } from "../ca/ports.js";
import { keyIdentifier } from "../ca/spki.js";
import { buildCrlTbs } from "../ca/crl-builder.js";
import { assembleSigned, toPem } from "../asn1/der.js";
import { encodeName } from "../asn1/name.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import type { Pkcs11Keystore } from "../hsm/pkcs11-keystore.js";
import type { CaDirectory } from "./ca-directory.js";
import type { CeremonyScript } from "./ceremony-script.js";
import { sha256Hex, TranscriptRecorder, verifyTranscript, type Transcript } from "./transcript.js";

/** Kinds that make a signing key with an infrastructure certificate under `<parent>/<kind>s/<label>/`. */
const isSignerKind = (k: CeremonyScript["kind"]): boolean =>
  k === "ocsp-signer" || k === "audit-signer" || k === "bureau-signer";

/** What a human in the ceremony room sees and answers. */
export interface CeremonyUi {
  step(n: number, text: string): void;
  /** Asked before every irreversible step; false stops the ceremony. */
  confirm(question: string): Promise<boolean>;
  /** Shows that a slow step (RSA key generation) is alive. */
  progress<T>(label: string, work: Promise<T>): Promise<T>;
}

export interface CeremonyPeople {
  readonly operator: string;
  readonly witness?: string;
  /** Custodians whose shares unlocked each token. */
  readonly custodians: readonly { readonly token: string; readonly name: string }[];
}

export interface CeremonyDeps {
  readonly keystore: (token: string) => Promise<Pkcs11Keystore>;
  readonly caDir: CaDirectory;
  readonly issuer: CertificateIssuer;
  readonly store: CertStore;
  readonly clock: Clock;
  readonly urls: (caId: string, kind: "root" | "issuing") => Authority["urls"];
  readonly ui: CeremonyUi;
  readonly people: CeremonyPeople;
  readonly fileSha256: string;
  readonly dryRun: boolean;
  /** SoftHSM2 config for key-backup (other HSMs back up with their vendor's tools). */
  readonly softHsmConf?: string;
  readonly softHsmTokenDir?: (conf: string, label: string) => string;
}

export interface CeremonyResult {
  readonly transcript: Transcript;
  readonly transcriptPath: string;
  readonly outputs: readonly string[];
  readonly serial?: string;
  readonly keyId?: string;
}

interface Signing {
  readonly signer: KeySigner;
  readonly description: string;
}

/**
 * Runs one ceremony file: numbered steps, a confirmation before every irreversible step,
 * key attributes checked, public results appended to ca-store, and a transcript signed by
 * the ceremony's key (REQ-26). Every refusal happens before the first irreversible step.
 */
export async function runCeremony(script: CeremonyScript, deps: CeremonyDeps): Promise<CeremonyResult> {
  const { caDir, ui, people } = deps;
  const parent = script.parent ? caDir.load(script.parent) : undefined;
  const tokens = new Set([script.token, ...(parent ? [parsePkcs11Uri(parent.manifest.keyUri).token] : [])]);
  const rec = new TranscriptRecorder(deps.clock, {
    ceremony: {
      id: script.id,
      version: script.version,
      kind: script.kind,
      fileSha256: deps.fileSha256,
      cps: script.cps,
    },
    dryRun: deps.dryRun,
    operator: people.operator,
    witness: people.witness ?? null,
    custodians: people.custodians.filter((c) => tokens.has(c.token)),
  });
  const say = (action: string, text: string, detail: Record<string, unknown> = {}) =>
    ui.step(rec.step(action, detail).n, text);
  const confirmOrStop = async (question: string) => {
    if (!(await ui.confirm(question))) {
      rec.step("stopped", { question });
      throw new CaError("conflict", `ceremony stopped by the operator before: ${question}`);
    }
  };

  // --- checks: nothing irreversible happens before all of them pass ---
  if (script.witness === "required" && !people.witness && !deps.dryRun)
    throw new CaError("forbidden", `ceremony ${script.id} needs a witness (--witness NAME)`);
  if (!deps.dryRun)
    for (const t of tokens) {
      const present = new Set(people.custodians.filter((c) => c.token === t).map((c) => c.name));
      if (present.size < script.custodians.quorum)
        throw new CaError(
          "forbidden",
          `token '${t}' needs ${script.custodians.quorum} of ${script.custodians.of} ` +
            `custodians; present: ${[...present].join(", ") || "none"}`,
        );
    }
  const outDir = script.kind === "root" || script.kind === "issuing-ca" ? script.ca!.id : script.parent!;
  if ((script.kind === "root" || script.kind === "issuing-ca") && caDir.exists(script.ca!.id))
    throw new CaError("conflict", `CA '${script.ca!.id}' already exists in ${caDir.root}`);
  const signerKind = isSignerKind(script.kind);
  const signerDir = `${script.kind}s`;
  if (signerKind && caDir.has(`${outDir}/${signerDir}/${script.key!.label}/cert.pem`))
    throw new CaError("conflict", `${script.kind} '${script.key!.label}' of '${outDir}' already exists`);
  if (script.kind === "data-key" && caDir.has(`${outDir}/data-keys/${script.key!.label}/key.uri`))
    throw new CaError("conflict", `data-key '${script.key!.label}' of '${outDir}' already exists`);
  if (script.kind === "key-backup" && existsSync(script.output!))
    throw new CaError("conflict", `${script.output} exists; refusing to overwrite`);
  const ks = await deps.keystore(script.token);
  if (script.key && (await ks.hasKey({ label: script.key.label })))
    throw new CaError("conflict", `key label '${script.key.label}' already exists on token '${script.token}'`);
  if (script.profile) {
    const p = deps.issuer.profile(script.profile);
    const want = signerKind ? "infrastructure" : "ca";
    if (p.kind !== want)
      throw new CaError("config", `profile '${p.id}' is ${p.kind}, ceremony ${script.kind} needs ${want}`);
    if (script.kind === "ocsp-signer" && !p.ocspNoCheck)
      throw new CaError("config", `profile '${p.id}' lacks id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1)`);
    if (script.key && !p.keyTypes.includes(script.key.type as KeyType))
      throw new CaError(
        "config",
        `key type ${script.key.type} not allowed by profile '${p.id}' (${p.keyTypes.join(", ")})`,
      );
    if (script.validityDays !== undefined && script.validityDays > p.validity.days)
      throw new CaError("config", `validityDays ${script.validityDays} exceeds profile '${p.id}' (${p.validity.days})`);
  }
  let parentAuthority: Authority | undefined;
  if (parent) {
    const uri = parsePkcs11Uri(parent.manifest.keyUri);
    const pks = await deps.keystore(uri.token);
    const signer = await pks.signerFor(uri);
    parentAuthority = authorityFromCertificate(
      parent.manifest.id,
      parent.certDer,
      signer,
      parent.manifest.serialPrefix,
      deps.urls(parent.manifest.id, parent.manifest.kind),
    );
  }
  say(
    "checked",
    `checks passed: ${script.kind} '${script.id}' v${script.version}; operator ${people.operator}` +
      `${people.witness ? `, witness ${people.witness}` : ""}; custodians ${
        people.custodians
          .filter((c) => tokens.has(c.token))
          .map((c) => `${c.name}@${c.token}`)
          .join(", ") || "(dry run)"
      }`,
    { tokens: [...tokens], parent: script.parent ?? null },
  );

  const outputs: string[] = [];
  const write = (rel: string, data: string | Uint8Array) => {
    const p = caDir.writeNew(rel, data);
    rec.output(p, data);
    outputs.push(p);
  };

  let signing: Signing;
  let serial: string | undefined;
  let keyId: string | undefined;
  if (script.kind === "root" || script.kind === "issuing-ca" || signerKind) {
    const key = script.key!;
    await confirmOrStop(`generate a ${key.type} key '${key.label}' on token '${script.token}'?`);
    say("generate-key", `generating ${key.type} key '${key.label}' on token '${script.token}'`);
    // parseCeremonyScript: AES-256 only in data-key
    const info = await ui.progress(`${key.type} key generation`, ks.generateKeyPair(key.label, key.type as KeyType));
    keyId = info.id;
    const attrs = await ks.keyAttributes({ id: info.id });
    // REQ-26: sensitive, never extractable, sign-only.
    const safe =
      attrs.sensitive &&
      !attrs.extractable &&
      attrs.neverExtractable &&
      attrs.sign &&
      !attrs.decrypt &&
      !attrs.unwrap &&
      !attrs.derive;
    rec.key({
      token: script.token,
      label: key.label,
      id: info.id,
      type: key.type,
      spkiSha256: sha256Hex(info.spki),
      attributes: { ...attrs },
    });
    say(
      "check-key",
      `key id ${info.id}, SPKI SHA-256 ${sha256Hex(info.spki)}: ` +
        `${safe ? "sensitive, never extractable, sign-only" : "UNSAFE ATTRIBUTES"}`,
      { attributes: attrs, safe },
    );
    if (!safe)
      throw new CaError("hsm-unavailable", `key '${key.label}' has unsafe attributes ${JSON.stringify(attrs)}`);
    const signer = await ks.signer({ id: info.id });
    const authority: Authority =
      script.kind === "root"
        ? {
            id: script.ca!.id,
            nameDer: encodeName(script.subject!),
            ski: keyIdentifier(info.spki),
            notAfter: new Date(8.64e15),
            signer,
            serialPrefix: script.ca!.serialPrefix,
            urls: {},
          }
        : parentAuthority!;
    await confirmOrStop(
      script.kind === "root"
        ? "self-sign the root certificate?"
        : `sign the ${script.kind} certificate with '${parent!.manifest.id}'?`,
    );
    const issued = await deps.issuer.issue(authority, {
      profileId: script.profile!,
      publicKey: info.spki,
      subject: script.subject!,
      requestedBy: `ceremony:${script.id}:${people.operator}`,
      allowedKinds: [signerKind ? "infrastructure" : "ca"],
      selfSigned: script.kind === "root",
      ...(script.validityDays !== undefined ? { validityDays: script.validityDays } : {}),
    });
    serial = issued.serial;
    say(
      "sign-certificate",
      `certificate serial ${issued.serial}, valid ` +
        `${issued.notBefore.toISOString()} to ${issued.notAfter.toISOString()}, ` +
        `SHA-256 ${sha256Hex(issued.der)}`,
      { serial: issued.serial, sha256: sha256Hex(issued.der), profile: script.profile },
    );
    const uri = formatPkcs11Uri({ token: script.token, object: key.label, id: info.id });
    const chain = [issued.der, ...(parent ? parent.chainDer : [])];
    if (signerKind) {
      // audit-signer: the key that signs audit checkpoints (REQ-27); its certificate lets anyone verify them.
      // bureau-signer: the RA's key that signs the files it sends to the card bureau (CPS 4.4.1).
      const base = `${outDir}/${signerDir}/${key.label}`;
      write(`${base}/cert.pem`, toPem("CERTIFICATE", issued.der));
      write(`${base}/chain.pem`, chain.map((c) => toPem("CERTIFICATE", c)).join(""));
      write(`${base}/key.uri`, uri + "\n");
      signing = { signer, description: `${script.kind}:${outDir}/${key.label}` };
    } else {
      const stored = caDir.create(
        {
          id: script.ca!.id,
          kind: script.kind === "root" ? "root" : "issuing",
          parent: script.kind === "root" ? script.ca!.id : parent!.manifest.id,
          profile: script.profile!,
          keyUri: uri,
          serialPrefix: script.ca!.serialPrefix,
          createdAt: deps.clock.now().toISOString(),
          ceremony: `${script.id}@${script.version}`,
        },
        issued.der,
        parent ? parent.chainDer : [],
      );
      for (const f of ["cert.pem", "chain.pem", "key.uri", "ca.json"]) {
        const rel = `${script.ca!.id}/${f}`;
        rec.output(rel, caDir.readFile(rel));
        outputs.push(rel);
      }
      signing = { signer, description: `ca:${stored.manifest.id}` };
    }
    say("record", `recorded ${outputs.join(", ")} in ${caDir.root}`);
  } else if (script.kind === "data-key") {
    // REQ-29: the HSM key that wraps the data-encryption keys of personal data. It is made here,
    // in front of custodians and a witness like every CA key (REQ-26), not on first use: an operator
    // expects every long-lived HSM key to have a ceremony transcript. The data keys it wraps are
    // made by the service on first start (random, wrapped, stored in the database, audited).
    const key = script.key!;
    await confirmOrStop(`generate an AES-256 data-key wrapping key '${key.label}' on token '${script.token}'?`);
    say("generate-key", `generating AES-256 key '${key.label}' on token '${script.token}'`);
    const info = await ks.generateAesKey(key.label);
    keyId = info.id;
    const attrs = await ks.secretKeyAttributes({ id: info.id });
    // Sensitive, never extractable, encrypt/decrypt only: it wraps data keys through C_Encrypt and nothing else.
    const safe =
      attrs.sensitive &&
      !attrs.extractable &&
      attrs.neverExtractable &&
      attrs.encrypt &&
      attrs.decrypt &&
      !attrs.wrap &&
      !attrs.unwrap &&
      !attrs.sign &&
      !attrs.derive &&
      attrs.valueLen === 32;
    rec.key({ token: script.token, label: key.label, id: info.id, type: key.type, attributes: { ...attrs } });
    say(
      "check-key",
      `key id ${info.id}: ` +
        `${safe ? "AES-256, sensitive, never extractable, encrypt/decrypt only" : "UNSAFE ATTRIBUTES"}`,
      { attributes: attrs, safe },
    );
    if (!safe)
      throw new CaError("hsm-unavailable", `key '${key.label}' has unsafe attributes ${JSON.stringify(attrs)}`);
    write(
      `${outDir}/data-keys/${key.label}/key.uri`,
      formatPkcs11Uri({ token: script.token, object: key.label, id: info.id, type: "secret-key" }) + "\n",
    );
    say("record", `recorded ${outputs.join(", ")} in ${caDir.root}`);
    signing = { signer: parentAuthority!.signer, description: `ca:${parentAuthority!.id}` };
  } else if (script.kind === "root-crl") {
    const root = parentAuthority!;
    if (parent!.manifest.kind !== "root")
      throw new CaError("config", `root-crl needs a root CA; '${parent!.manifest.id}' is ${parent!.manifest.kind}`);
    const number = caDir.crlNumbers(root.id).reduce((a, b) => (b > a ? b : a), 0n) + 1n;
    const entries = await deps.store.listRevoked(root.id);
    const now = deps.clock.now();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + script.crl!.nextUpdateDays * 86_400_000);
    await confirmOrStop(
      `sign root CRL number ${number} of '${root.id}' with ${entries.length} ` +
        `revoked certificate(s), next update ${nextUpdate.toISOString()}?`,
    );
    const { der: tbs } = await buildCrlTbs({ issuer: root, thisUpdate, nextUpdate, crlNumber: number, entries });
    const der = assembleSigned(tbs, root.signer.algorithmDer, await root.signer.sign(tbs));
    write(`${root.id}/crl/${number}.crl`, der);
    say(
      "sign-crl",
      `CRL number ${number}: ${entries.length} entries, thisUpdate ` +
        `${thisUpdate.toISOString()}, nextUpdate ${nextUpdate.toISOString()}, ` +
        `SHA-256 ${sha256Hex(der)}`,
      { crlNumber: number.toString(), entries: entries.length, sha256: sha256Hex(der) },
    );
    signing = { signer: root.signer, description: `ca:${root.id}` };
  } else {
    // key-backup: SoftHSM2 token objects are encrypted under the token's PIN-derived key; the archive
    // is useless without the custodians' shares. Other HSMs back up with their vendor's tools.
    if (!deps.softHsmConf || !deps.softHsmTokenDir)
      throw new CaError(
        "config",
        "key-backup is implemented for SoftHSM2 tokens; back up other HSMs with the vendor's tools",
      );
    const dir = deps.softHsmTokenDir(deps.softHsmConf, script.token);
    await confirmOrStop(`archive token '${script.token}' (${dir}) to ${script.output}?`);
    mkdirSync(dirname(script.output!), { recursive: true });
    execFileSync("tar", ["-czf", script.output!, "-C", dirname(dir), dir.slice(dirname(dir).length + 1)]);
    const data = readFileSync(script.output!);
    rec.output(script.output!, data);
    outputs.push(script.output!);
    say("backup", `archived token '${script.token}' to ${script.output} (SHA-256 ${sha256Hex(data)})`, {
      sha256: sha256Hex(data),
    });
    signing = { signer: parentAuthority!.signer, description: `ca:${parentAuthority!.id}` };
  }

  say("sign-transcript", `signing the transcript with ${signing.description}`);
  const transcript = await rec.sign(signing.signer, signing.description);
  const stamp = transcript.finishedAt.replace(/[:.]/g, "-");
  const transcriptPath = caDir.writeNew(
    `${outDir}/transcripts/${script.id}-${stamp}${deps.dryRun ? "-dry-run" : ""}.json`,
    JSON.stringify(transcript, null, 2) + "\n",
  );
  ui.step(transcript.steps.length + 1, `transcript ${transcriptPath}`);
  return { transcript, transcriptPath, outputs, ...(serial ? { serial } : {}), ...(keyId ? { keyId } : {}) };
}

/** Verifies a transcript file: signature by the key of the certificate it names, and output hashes. */
export function verifyTranscriptFile(
  caDir: CaDirectory,
  path: string,
): { transcript: Transcript; checkedOutputs: number } {
  let t: Transcript;
  try {
    t = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CaError("invalid-input", `${path}: not a JSON transcript (${(e as Error).message})`);
  }
  const d = t?.signer?.description ?? "";
  let certPem: Buffer;
  let m: RegExpExecArray | null;
  if ((m = /^ca:([a-z0-9-]+)$/.exec(d))) certPem = caDir.readFile(`${m[1]}/cert.pem`);
  else if ((m = /^(ocsp|audit|bureau)-signer:([a-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(d)))
    certPem = caDir.readFile(`${m[2]}/${m[1]}-signers/${m[3]}/cert.pem`);
  else throw new CaError("invalid-input", `${path}: transcript names no known signer ('${d}')`);
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  verifyTranscript(t, new Uint8Array(spki));
  let checked = 0;
  for (const o of t.outputs) {
    const rel = o.path;
    const data = caDir.has(rel) ? caDir.readFile(rel) : existsSync(rel) ? readFileSync(rel) : undefined;
    if (!data) continue; // e.g. a backup archive kept elsewhere
    if (sha256Hex(data) !== o.sha256)
      throw new CaError("policy-violation", `output ${rel} does not match the transcript's SHA-256`);
    checked++;
  }
  return { transcript: t, checkedOutputs: checked };
}

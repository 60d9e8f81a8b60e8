import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { writeDemoServerCertificate } from "./demo-tls.js";
import { bootstrapStaff, openRa } from "./ra.js";
import { openRuntime, useEmbeddedSoftHsm, withRuntime } from "./runtime.js";
import { dataKeyNames, sealExistingPersonalData } from "./data-keys.js";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig, type Config } from "./config.js";
import { initSoftHsmTokenWithShares, runCeremonyFile, writeShareFiles } from "./ceremonies.js";
import { writeSoftHsmConfig } from "../hsm/softhsm-tokens.js";
import { CaDirectory } from "../ceremony/ca-directory.js";
import { combinePinShares, openShare, parseShareFile, type OpenedShare } from "../ceremony/pin-shares.js";
import type { CeremonyUi } from "../ceremony/ceremony.js";

const DEMO_CEREMONIES = ["demo-root.yaml", "demo-issuing.yaml", "demo-ocsp-signer.yaml", "demo-audit-signer.yaml", "demo-data-key.yaml", "demo-root-crl.yaml"];
const DEMO_CUSTODIANS = ["alice", "bob", "carol"];
const DEMO_TOKENS = ["cardpki-root", "cardpki-issuing"];

/** The demo custodians' shares (files in data/demo-custodians), opened with their passphrase files. */
export function demoShares(dataDir: string, custodians: readonly string[] = ["alice", "bob"]): OpenedShare[] {
  const dir = join(dataDir, "demo-custodians");
  return DEMO_TOKENS.flatMap((token) => custodians.map((c) => {
    const file = join(dir, `${token}-${c}.share`);
    return openShare(parseShareFile(readFileSync(file, "utf8"), file), readFileSync(join(dir, `${c}.passphrase`), "utf8").trim());
  }));
}

/**
 * First start of the embedded default: SoftHSM2 tokens in the data folder whose PINs are split
 * 2-of-3 among demo custodians, the demo root, issuing CA, OCSP signer and root CRL made by the
 * project's own ceremony files, and a config naming them. Idempotent.
 */
export async function setupDemo(base: Config, log: (l: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const configFile = join(base.dataDir, "cardpki.json");
  if (existsSync(configFile)) {
    log(`embedded default already set up (${configFile})`);
    await addDemoDataKey(base, log);
    return base;
  }
  mkdirSync(base.dataDir, { recursive: true, mode: 0o700 });
  const caDir = new CaDirectory(base.caStoreDir);
  // Demo CAs whose keys went with an old data folder cannot sign again: move them aside, never delete.
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  for (const id of caDir.list().filter((i) => i.startsWith("demo-"))) {
    renameSync(caDir.dir(id), join(base.caStoreDir, `${id}.orphaned-${stamp}`));
    log(`moved orphaned ${id} aside (its token was in an earlier data folder)`);
  }
  process.env.SOFTHSM2_CONF = writeSoftHsmConfig(join(base.dataDir, "softhsm"));
  const custDir = join(base.dataDir, "demo-custodians");
  mkdirSync(custDir, { recursive: true, mode: 0o700 });
  const custodians = DEMO_CUSTODIANS.map((name) => {
    const passphrase = randomBytes(12).toString("base64url");
    writeFileSync(join(custDir, `${name}.passphrase`), passphrase + "\n", { mode: 0o600 });
    return { name, passphrase };
  });
  for (const token of DEMO_TOKENS) {
    writeShareFiles(custDir, await initSoftHsmTokenWithShares(base, token, custodians, 2));
    log(`initialised SoftHSM2 token '${token}'; its PIN is split 2 of 3 among ${DEMO_CUSTODIANS.join(", ")}`);
  }
  const shares = demoShares(base.dataDir);
  const ui: CeremonyUi = { step: (n, t) => log(`  [${n}] ${t}`), confirm: async () => true, progress: (_l, w) => w };
  for (const f of DEMO_CEREMONIES) {
    log(`ceremony ${f}`);
    await runCeremonyFile(base, { file: join(base.policyDir, "ceremonies", f), operator: "demo-operator", witness: "demo-witness", shares, ui });
  }
  // Demo shortcut: the online issuing CA signs unattended, so its PIN goes to an owner-only file.
  // In production that token is activated by its custodians or an HSM-side policy.
  const pinsDir = join(base.dataDir, "pins");
  mkdirSync(pinsDir, { recursive: true, mode: 0o700 });
  const issuingPin = join(pinsDir, "cardpki-issuing.pin");
  writeFileSync(issuingPin, combinePinShares("cardpki-issuing", shares) + "\n", { mode: 0o600 });
  writeFileSync(configFile, JSON.stringify({ issuingCas: ["demo-issuing"], tokenPins: { "cardpki-issuing": { file: issuingPin } } }, null, 2) + "\n", { mode: 0o600 });
  log(`wrote ${configFile}`);
  const config = loadConfig(env);
  await setupDemoRa(config, log);
  return config;
}

/**
 * REQ-29: a demo folder made before personal data was encrypted at rest has no data-key wrapping
 * key: run the demo data-key ceremony with the demo custodians, then seal the rows still in clear.
 */
async function addDemoDataKey(config: Config, log: (l: string) => void): Promise<void> {
  if (dataKeyNames(config.caStoreDir).length > 0 || config.dataEncryption.wrappingKey || !new CaDirectory(config.caStoreDir).exists("demo-issuing")) return;
  if (!existsSync(join(config.dataDir, "demo-custodians"))) return;
  useEmbeddedSoftHsm(config);
  log("ceremony demo-data-key.yaml (REQ-29: this demo folder predates encryption of personal data at rest)");
  const ui: CeremonyUi = { step: (n, t) => log(`  [${n}] ${t}`), confirm: async () => true, progress: (_l, w) => w };
  await runCeremonyFile(config, { file: join(config.policyDir, "ceremonies", "demo-data-key.yaml"), operator: "demo-operator", witness: "demo-witness", shares: demoShares(config.dataDir), ui });
  await withRuntime(config, { withoutAuthorities: true }, async (rt) => {
    for (const r of await sealExistingPersonalData(rt, "operator:demo-setup")) log(`  sealed ${r.sealed} of ${r.rows} ${r.table} rows`);
  });
}

/** Demo people in the file-backed register (REQ-07): national ID → status and registered name (the certificate's name). */
export const DEMO_REGISTER = {
  people: {
    "199001011234": { status: "alive", givenName: "Ada", surname: "Admin" },
    "198502022345": { status: "alive", givenName: "Bo", surname: "Officer" },
    "197003033456": { status: "alive", givenName: "Cy", surname: "Holder" },
    "196004044567": { status: "deceased", givenName: "Di", surname: "Gone" },
  },
};

/** Demo entries in the file-backed lost/stolen document register (REQ-05). */
export const DEMO_DOCUMENT_REGISTER = {
  documents: [{ type: "passport", number: "XX0000001", reason: "stolen" }, { type: "national-id-card", number: "XX0000002", reason: "lost" }],
};

/**
 * The demo RA: a self-signed TLS server certificate for the RA API, file registers, and the
 * service owner's first staff officer with a software key in data/demo-officers (demo only:
 * a real officer's key is on their card, REQ-22).
 */
async function setupDemoRa(config: Config, log: (l: string) => void): Promise<void> {
  const tls = await writeDemoServerCertificate(join(config.dataDir, "tls"));
  log(`wrote the demo RA server certificate ${tls.cert}`);
  writeFileSync(config.ra.registerFile, JSON.stringify(DEMO_REGISTER, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(config.ra.documentRegisterFile, JSON.stringify(DEMO_DOCUMENT_REGISTER, null, 2) + "\n", { mode: 0o600 });
  const rt = await openRuntime(config);
  try {
    const ra = await openRa(rt);
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const staff = await bootstrapStaff(rt, ra, {
      orgNumber: "556000-0000", orgName: "cardpki demo service owner", country: "SE", nationalId: "199001011234", name: "Ada Admin", email: "ada@example.org",
      roles: ["ra-admin", "ra-officer", "ca-operator"], qualifiedUntil: new Date(Date.now() + 365 * 86_400_000),
      publicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })), operator: "demo-setup",
    });
    const dir = join(config.dataDir, "demo-officers");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "staff.key"), privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
    writeFileSync(join(dir, "staff.crt"), new X509Certificate(staff.der).toString());
    log(`bootstrapped the service owner's first officer (data/demo-officers/staff.crt, serial ${staff.serial})`);
  } finally {
    await rt.close();
  }
}

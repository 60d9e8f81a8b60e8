import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { X509Certificate, generateKeyPairSync, type KeyPairKeyObjectResult } from "node:crypto";
import { writeDemoServerCertificate } from "./demo-tls.js";
import { bootstrapStaffGroup, openRa, type Ra, type Role } from "./ra.js";
import { useEmbeddedSoftHsm } from "./ca-settings.js";
import { openOperatorCa, openOperatorKeys, withOperator } from "./operator-role.js";
import type { Parts } from "./parts.js";
import { dataKeyNames, sealExistingPersonalData } from "./data-keys.js";
import { bureauSignerNames } from "./bureau-signer.js";
import { join, relative } from "node:path";
import { loadConfig, type Config } from "./config.js";
import { initSoftHsmTokenWithShares, runCeremonyFile, writeShareFiles } from "./ceremonies.js";
import { writeSoftHsmConfig } from "../hsm/softhsm-tokens.js";
import { CaDirectory } from "../ceremony/ca-directory.js";
import { combinePinShares, openShare, parseShareFile, type OpenedShare } from "../ceremony/pin-shares.js";
import type { CeremonyUi } from "../ceremony/ceremony.js";
import { systemClock } from "../shared/clock.js";
import { cryptoRandom } from "../shared/random.js";

const DEMO_CEREMONIES = [
  "demo-root.yaml",
  "demo-issuing.yaml",
  "demo-ocsp-signer.yaml",
  "demo-audit-signer.yaml",
  "demo-bureau-signer.yaml",
  "demo-data-key.yaml",
  "demo-root-crl.yaml",
];
const DEMO_CUSTODIANS = ["alice", "bob", "carol"];
const DEMO_TOKENS = ["cardpki-root", "cardpki-issuing"];

/** The demo custodians' shares (files in data/demo-custodians), opened with their passphrase files. */
export function demoShares(dataDir: string, custodians: readonly string[] = ["alice", "bob"]): OpenedShare[] {
  const dir = join(dataDir, "demo-custodians");
  return DEMO_TOKENS.flatMap((token) =>
    custodians.map((c) => {
      const file = join(dir, `${token}-${c}.share`);
      return openShare(
        parseShareFile(readFileSync(file, "utf8"), file),
        readFileSync(join(dir, `${c}.passphrase`), "utf8").trim(),
      );
    }),
  );
}

/**
 * First start of the embedded default: SoftHSM2 tokens in the data folder whose PINs are split
 * 2-of-3 among demo custodians, the demo root, issuing CA, OCSP signer and root CRL made by the
 * project's own ceremony files, and a config naming them. Idempotent.
 */
export async function setupDemo(
  base: Config,
  log: (l: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Config> {
  const configFile = join(base.dataDir, "cardpki.json");
  if (existsSync(configFile)) {
    log(`embedded default already set up (${configFile})`);
    await addDemoDataKey(base, log);
    await addDemoBureauSigner(base, log);
    return base;
  }
  mkdirSync(base.dataDir, { recursive: true, mode: 0o700 });
  const caDir = new CaDirectory(base.caStoreDir);
  // Demo CAs whose keys went with an old data folder cannot sign again: move them aside, never delete.
  const stamp = systemClock.now().toISOString().replace(/[:.]/g, "-");
  for (const id of caDir.list().filter((i) => i.startsWith("demo-"))) {
    renameSync(caDir.dir(id), join(base.caStoreDir, `${id}.orphaned-${stamp}`));
    log(`moved orphaned ${id} aside (its token was in an earlier data folder)`);
  }
  process.env.SOFTHSM2_CONF = writeSoftHsmConfig(join(base.dataDir, "softhsm"));
  const custDir = join(base.dataDir, "demo-custodians");
  mkdirSync(custDir, { recursive: true, mode: 0o700 });
  const custodians = DEMO_CUSTODIANS.map((name) => {
    const passphrase = Buffer.from(cryptoRandom.bytes(12)).toString("base64url");
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
    await runCeremonyFile(base, {
      file: join(base.policyDir, "ceremonies", f),
      operator: "demo-operator",
      witness: "demo-witness",
      shares,
      ui,
    });
  }
  // Demo shortcut: the online issuing CA signs unattended, so its PIN goes to an owner-only file.
  // In production that token is activated by its custodians or an HSM-side policy.
  const pinsDir = join(base.dataDir, "pins");
  mkdirSync(pinsDir, { recursive: true, mode: 0o700 });
  const issuingPin = join(pinsDir, "cardpki-issuing.pin");
  writeFileSync(issuingPin, (await combinePinShares("cardpki-issuing", shares)) + "\n", { mode: 0o600 });
  // Relative to the data folder, so a copy of the folder uses its own PIN file.
  writeFileSync(
    configFile,
    JSON.stringify(
      { issuingCas: ["demo-issuing"], tokenPins: { "cardpki-issuing": { file: relative(base.dataDir, issuingPin) } } },
      null,
      2,
    ) + "\n",
    { mode: 0o600 },
  );
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
  if (
    dataKeyNames(config.caStoreDir).length > 0 ||
    config.dataEncryption.wrappingKey ||
    !new CaDirectory(config.caStoreDir).exists("demo-issuing")
  )
    return;
  if (!existsSync(join(config.dataDir, "demo-custodians"))) return;
  useEmbeddedSoftHsm(config);
  log("ceremony demo-data-key.yaml (REQ-29: this demo folder predates encryption of personal data at rest)");
  const ui: CeremonyUi = { step: (n, t) => log(`  [${n}] ${t}`), confirm: async () => true, progress: (_l, w) => w };
  await runCeremonyFile(config, {
    file: join(config.policyDir, "ceremonies", "demo-data-key.yaml"),
    operator: "demo-operator",
    witness: "demo-witness",
    shares: demoShares(config.dataDir),
    ui,
  });
  await withOperator(openOperatorKeys(config), async (rt) => {
    for (const r of await sealExistingPersonalData(rt, "operator:demo-setup"))
      log(`  sealed ${r.sealed} of ${r.rows} ${r.table} rows`);
  });
}

/**
 * CPS 4.4.1: a demo folder made before the RA's card bureau exchange key came from a ceremony: run the demo
 * bureau-signer ceremony with the demo custodians.
 */
async function addDemoBureauSigner(config: Config, log: (l: string) => void): Promise<void> {
  if (
    bureauSignerNames(config.caStoreDir).length > 0 ||
    !new CaDirectory(config.caStoreDir).exists("demo-issuing") ||
    !existsSync(join(config.dataDir, "demo-custodians"))
  )
    return;
  useEmbeddedSoftHsm(config);
  log("ceremony demo-bureau-signer.yaml (the RA's card bureau exchange key)");
  const ui: CeremonyUi = { step: (n, t) => log(`  [${n}] ${t}`), confirm: async () => true, progress: (_l, w) => w };
  await runCeremonyFile(config, {
    file: join(config.policyDir, "ceremonies", "demo-bureau-signer.yaml"),
    operator: "demo-operator",
    witness: "demo-witness",
    shares: demoShares(config.dataDir),
    ui,
  });
}

/**
 * The demo's initial service-owner staff group (one bootstrap, REQ-02/REQ-10): enough distinct
 * officers to take a LoA3 order from request to hand-out with every step by another person:
 * bo and cy identify, di approves and starts production, ed (ca-operator, no ra-officer) produces,
 * fi hands out; ada administers (binds people, appoints officers, onboards organisations), gu audits.
 */
export const DEMO_OFFICERS = {
  ada: { name: "Ada Admin", nationalId: "199001011234", roles: ["ra-admin"] },
  bo: { name: "Bo Officer", nationalId: "198502022345", roles: ["ra-officer"] },
  cy: { name: "Cy Officer", nationalId: "197101011001", roles: ["ra-officer"] },
  di: { name: "Di Officer", nationalId: "197201011002", roles: ["ra-officer"] },
  ed: { name: "Ed Operator", nationalId: "197301011003", roles: ["ca-operator"] },
  fi: { name: "Fi Officer", nationalId: "197401011004", roles: ["ra-officer"] },
  gu: { name: "Gu Auditor", nationalId: "197501011005", roles: ["auditor"] },
} as const satisfies Record<string, { name: string; nationalId: string; roles: readonly Role[] }>;
export type DemoOfficer = keyof typeof DEMO_OFFICERS;

/**
 * Demo people in the file-backed register (REQ-07): national ID → status and registered name (the certificate's
 * name).
 */
export const DEMO_REGISTER = {
  people: {
    ...Object.fromEntries(
      Object.values(DEMO_OFFICERS).map((o) => [
        o.nationalId,
        { status: "alive", givenName: o.name.split(" ")[0]!, surname: o.name.split(" ").slice(1).join(" ") },
      ]),
    ),
    "197003033456": { status: "alive", givenName: "Cy", surname: "Holder" },
    "196004044567": { status: "deceased", givenName: "Di", surname: "Gone" },
  } as Record<string, { status: string; givenName: string; surname: string }>,
};

/** Demo entries in the file-backed lost/stolen document register (REQ-05). */
export const DEMO_DOCUMENT_REGISTER = {
  documents: [
    { type: "passport", number: "XX0000001", reason: "stolen" },
    { type: "national-id-card", number: "XX0000002", reason: "lost" },
  ],
};

/**
 * Bootstraps DEMO_OFFICERS as the service owner's initial staff group on `rt` (demo, tests,
 * benchmarks), each with a fresh P-256 software key; returns the group and the keys.
 */
export async function bootstrapDemoStaff(
  rt: Parts<"clock" | "random" | "db">,
  ra: Ra,
  opts: { operator?: string; witness?: string; emails?: Partial<Record<DemoOfficer, string>> } = {},
) {
  const keys = Object.fromEntries(
    Object.keys(DEMO_OFFICERS).map((id) => [id, generateKeyPairSync("ec", { namedCurve: "P-256" })]),
  ) as Record<DemoOfficer, KeyPairKeyObjectResult>;
  const until = new Date(rt.clock.now().getTime() + 365 * 86_400_000);
  const group = await bootstrapStaffGroup(rt, ra, {
    orgNumber: "556000-0000",
    orgName: "cardpki demo service owner",
    country: "SE",
    operator: opts.operator ?? "demo-operator",
    witness: opts.witness ?? "demo-witness",
    osUser: "demo-setup",
    members: (Object.entries(DEMO_OFFICERS) as [DemoOfficer, (typeof DEMO_OFFICERS)[DemoOfficer]][]).map(([id, o]) => ({
      id,
      name: o.name,
      nationalId: o.nationalId,
      email: opts.emails?.[id] ?? `${id}@example.org`,
      roles: [...o.roles],
      ...(o.roles.some((r) => r === "ra-officer")
        ? { qualification: "demo RA identity proofing", qualifiedUntil: until }
        : {}),
      publicKey: new Uint8Array(keys[id].publicKey.export({ type: "spki", format: "der" })),
    })),
  });
  return { group, keys };
}

/**
 * The demo RA: a self-signed TLS server certificate for the RA API, file registers, and the
 * service owner's initial staff group (DEMO_OFFICERS) bootstrapped at once, each with a software
 * key, certificate and PKCS#12 file (for a browser) in data/demo-officers (demo only: a real
 * officer's key is on their card, REQ-22). staff.crt/.key are ada's, as before.
 */
async function setupDemoRa(config: Config, log: (l: string) => void): Promise<void> {
  const tls = await writeDemoServerCertificate(join(config.dataDir, "tls"));
  log(`wrote the demo RA server certificate ${tls.cert}`);
  writeFileSync(config.ra.registerFile, JSON.stringify(DEMO_REGISTER, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(config.ra.documentRegisterFile, JSON.stringify(DEMO_DOCUMENT_REGISTER, null, 2) + "\n", {
    mode: 0o600,
  });
  const dir = join(config.dataDir, "demo-officers");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rt = await openOperatorCa(config);
  let group, keys;
  try {
    ({ group, keys } = await bootstrapDemoStaff(rt, await openRa(rt)));
  } finally {
    await rt.close();
  }
  const password = Buffer.from(cryptoRandom.bytes(12)).toString("base64url");
  const passwordFile = join(dir, "p12-password");
  writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
  for (const m of group.members) {
    const key = keys[m.id as DemoOfficer].privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const crt = new X509Certificate(m.der).toString();
    writeFileSync(join(dir, `${m.id}.key`), key, { mode: 0o600 });
    writeFileSync(join(dir, `${m.id}.crt`), crt);
    // PKCS#12 for importing into a browser (same password for all demo officers, in p12-password).
    execFileSync(
      "openssl",
      [
        "pkcs12",
        "-export",
        "-in",
        join(dir, `${m.id}.crt`),
        "-inkey",
        join(dir, `${m.id}.key`),
        "-name",
        DEMO_OFFICERS[m.id as DemoOfficer].name,
        "-out",
        join(dir, `${m.id}.p12`),
        "-passout",
        `file:${passwordFile}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    chmodSync(join(dir, `${m.id}.p12`), 0o600);
    if (m.id === "ada") {
      writeFileSync(join(dir, "staff.key"), key, { mode: 0o600 });
      writeFileSync(join(dir, "staff.crt"), crt);
    }
    log(`  ${m.id}: ${DEMO_OFFICERS[m.id as DemoOfficer].name} (${m.roles.join(", ")}), serial ${m.serial}`);
  }
  log(
    `bootstrapped the service owner's initial staff group of ` +
      `${group.members.length} (data/demo-officers/<name>.crt/.key/.p12, password ` +
      `in p12-password)`,
  );
}

import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { cryptoRandom } from "../shared/random.js";
import { envPin, filePin, staticPin, type PinSource } from "../hsm/pin-source.js";
import { Pkcs11Keystore } from "../hsm/pkcs11-keystore.js";
import { initSoftHsmToken, softHsmTokenDir, writeSoftHsmConfig } from "../hsm/softhsm-tokens.js";
import { loadCeremonyScript, type CeremonyScript } from "../ceremony/ceremony-script.js";
import { runCeremony, type CeremonyResult, type CeremonyUi } from "../ceremony/ceremony.js";
import {
  combinePinShares,
  createPinShares,
  type Custodian,
  type OpenedShare,
  type PinShareFile,
} from "../ceremony/pin-shares.js";
import type { Config } from "./config.js";
import { caUrls, useEmbeddedSoftHsm } from "./ca-settings.js";
import { openCeremony } from "./operator-role.js";

export interface CeremonyRun {
  readonly file: string;
  readonly operator: string;
  readonly witness?: string;
  /** Custodian shares, already opened with their passphrases. */
  readonly shares: readonly OpenedShare[];
  readonly ui: CeremonyUi;
  readonly dryRun?: boolean;
}

/** PINs per token from the custodians' shares (M of N each). */
export async function pinsFromShares(shares: readonly OpenedShare[]): Promise<Record<string, PinSource>> {
  const out: Record<string, PinSource> = {};
  for (const token of new Set(shares.map((s) => s.file.token)))
    out[token] = staticPin(await combinePinShares(token, shares), `custodian shares of ${token}`);
  return out;
}

/** Runs a ceremony file against the configured HSM, or with dryRun on throw-away SoftHSM2 tokens. */
export async function runCeremonyFile(
  config: Config,
  run: CeremonyRun,
): Promise<CeremonyResult & { dryRunDir?: string }> {
  const { script, sha256 } = loadCeremonyScript(run.file);
  if (run.dryRun) return dryRun(config, script, sha256, run);
  useEmbeddedSoftHsm(config);
  const pins = await pinsFromShares(run.shares);
  const rt = await openCeremony(config, { pins });
  try {
    return await runCeremony(script, {
      keystore: rt.keystore,
      caDir: rt.caDir,
      issuer: rt.issuer,
      store: rt.store,
      clock: rt.clock,
      urls: caUrls(config.baseUrl),
      ui: run.ui,
      people: {
        operator: run.operator,
        ...(run.witness ? { witness: run.witness } : {}),
        custodians: run.shares.map((s) => ({ token: s.file.token, name: s.file.custodian })),
      },
      fileSha256: sha256,
      dryRun: false,
      ...(process.env.SOFTHSM2_CONF && /softhsm/.test(config.pkcs11Library)
        ? { softHsmConf: process.env.SOFTHSM2_CONF, softHsmTokenDir }
        : {}),
    });
  } finally {
    await rt.close();
  }
}

/**
 * --dry-run: the whole ceremony on throw-away SoftHSM2 tokens, a temporary database and
 * CA store; a ceremony that needs a parent gets a stand-in root made the same way.
 */
async function dryRun(
  config: Config,
  script: CeremonyScript,
  sha256: string,
  run: CeremonyRun,
): Promise<CeremonyResult & { dryRunDir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "cardpki-dry-run-"));
  const conf = writeSoftHsmConfig(join(dir, "softhsm"));
  process.env.SOFTHSM2_CONF = conf; // before the library is first initialised in this process
  const pins: Record<string, PinSource> = {};
  const tokens = new Set([script.token, "dry-run-parent"]);
  for (const t of tokens) {
    const pin = Buffer.from(cryptoRandom.bytes(8)).toString("hex");
    initSoftHsmToken(conf, t, pin, Buffer.from(cryptoRandom.bytes(8)).toString("hex"));
    pins[t] = staticPin(pin);
  }
  const dryConfig: Config = {
    ...config,
    dataDir: dir,
    caStoreDir: join(dir, "ca-store"),
    databaseUrl: `sqlite:${join(dir, "cardpki.db")}`,
    pkcs11Library: "/usr/lib/softhsm/libsofthsm2.so",
    tokenPins: {},
  };
  const rt = await openCeremony(dryConfig, { pins });
  const quiet: CeremonyUi = { step: () => undefined, confirm: async () => true, progress: (_l, w) => w };
  const deps = {
    keystore: rt.keystore,
    caDir: rt.caDir,
    issuer: rt.issuer,
    store: rt.store,
    clock: rt.clock,
    urls: caUrls(config.baseUrl),
    people: { operator: run.operator, ...(run.witness ? { witness: run.witness } : {}), custodians: [] },
    dryRun: true,
    softHsmConf: conf,
    softHsmTokenDir,
  };
  try {
    if (script.parent) {
      // A stand-in parent with the real parent's id, on its own throw-away token.
      const standIn: CeremonyScript = {
        id: "dry-run-parent",
        version: 1,
        cps: ["dry run"],
        description: "stand-in parent",
        kind: "root",
        token: "dry-run-parent",
        key: { label: `${script.parent}-stand-in`, type: "P-256" },
        ca: { id: script.parent, serialPrefix: 127 },
        profile: "root-ca",
        subject: { CN: `${script.parent} (dry-run stand-in)`, O: "cardpki dry run", C: "SE" },
        custodians: { quorum: 1, of: 1 },
        witness: "optional",
      };
      await runCeremony(standIn, { ...deps, ui: quiet, fileSha256: "0".repeat(64) });
    }
    const dryScript = script.kind === "key-backup" ? { ...script, output: join(dir, "backup.tar.gz") } : script;
    const result = await runCeremony(dryScript, { ...deps, ui: run.ui, fileSha256: sha256 });
    return { ...result, dryRunDir: dir };
  } finally {
    await rt.close();
    if (!process.env.CARDPKI_KEEP_DRY_RUN) rmSync(dir, { recursive: true, force: true });
  }
}

/** Replaces a token's user PIN with a fresh random one and splits it among custodians (M of N). */
export async function splitTokenPin(
  config: Config,
  token: string,
  currentPin: PinSource,
  custodians: readonly Custodian[],
  quorum: number,
): Promise<PinShareFile[]> {
  useEmbeddedSoftHsm(config);
  if (custodians.length < quorum)
    throw new CaError("invalid-input", `quorum ${quorum} needs at least ${quorum} custodians`);
  const ks = new Pkcs11Keystore({ library: config.pkcs11Library, tokenLabel: token, pin: currentPin, sessions: 1 });
  await ks.open();
  try {
    const newPin = randomPinFor(ks.pinLengths(), token);
    const shares = await createPinShares(token, newPin, custodians, quorum, cryptoRandom);
    await ks.changePin(await currentPin.read(), newPin);
    return shares;
  } finally {
    ks.close();
  }
}

/**
 * A random PIN of 32 base64url characters (192 bits), or as many as the token takes when its maximum is shorter
 * (openCryptoki's software token: 8, 48 bits; its login is then the weaker secret, and the token's own lockout the
 * guard). A token that takes fewer than 6 is refused.
 */
export function randomPinFor(lengths: { min: number; max: number }, token: string): string {
  const length = Math.max(Math.min(32, lengths.max), lengths.min);
  if (length < 6 || length > lengths.max)
    throw new CaError(
      "config",
      `token '${token}' takes PINs of ${lengths.min}..${lengths.max} characters: ` +
        `too short for a PIN split among custodians`,
      { token, ...lengths },
    );
  return Buffer.from(cryptoRandom.bytes(24)).toString("base64url").slice(0, length);
}

/** Writes share files, one per custodian, never overwriting. */
export function writeShareFiles(dir: string, shares: readonly PinShareFile[]): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return shares.map((s) => {
    const f = join(dir, `${s.token}-${s.custodian}.share`);
    writeFileSync(f, JSON.stringify(s, null, 2) + "\n", { flag: "wx", mode: 0o600 });
    return f;
  });
}

/** The current PIN of a token, for split-pin: from an owner-only file or an environment variable. */
export function currentPinSource(file: string | undefined, env: string | undefined): PinSource {
  if (file) return filePin(file);
  if (env) return envPin(env);
  throw new CaError("invalid-input", "give --pin-file or --pin-env with the current PIN");
}

/** Development and tests: a new SoftHSM2 token whose random user PIN is split among custodians at once. */
export async function initSoftHsmTokenWithShares(
  config: Config,
  token: string,
  custodians: readonly Custodian[],
  quorum: number,
): Promise<PinShareFile[]> {
  useEmbeddedSoftHsm(config);
  const conf = process.env.SOFTHSM2_CONF;
  if (!conf) throw new CaError("config", "SOFTHSM2_CONF is not set and there is no embedded SoftHSM2 config");
  const pin = Buffer.from(cryptoRandom.bytes(12)).toString("hex");
  initSoftHsmToken(conf, token, pin, Buffer.from(cryptoRandom.bytes(12)).toString("hex"));
  return splitTokenPin(config, token, staticPin(pin), custodians, quorum);
}

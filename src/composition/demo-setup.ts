import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig, type Config } from "./config.js";
import { caUrls, openRuntime } from "./runtime.js";
import { staticPin } from "../hsm/pin-source.js";
import { initSoftHsmToken, writeSoftHsmConfig } from "../hsm/softhsm-tokens.js";
import { loadCeremonyScript } from "../ceremony/ceremony-script.js";
import { runCeremony } from "../ceremony/ceremony.js";
import { CaDirectory } from "../ceremony/ca-directory.js";

const DEMO_CEREMONIES = ["demo-root.yaml", "demo-issuing.yaml"];

/**
 * First start of the embedded default: SoftHSM2 tokens in the data folder, demo root and
 * issuing CA made by the project's own ceremonies, and a config naming them. Idempotent.
 */
export async function setupDemo(base: Config, log: (l: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const configFile = join(base.dataDir, "cardpki.json");
  if (existsSync(configFile)) {
    log(`embedded default already set up (${configFile})`);
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
  const conf = writeSoftHsmConfig(join(base.dataDir, "softhsm"));
  process.env.SOFTHSM2_CONF = conf;
  const pinsDir = join(base.dataDir, "pins");
  mkdirSync(pinsDir, { recursive: true, mode: 0o700 });
  const tokenPins: Record<string, { file: string }> = {};
  const pins: Record<string, ReturnType<typeof staticPin>> = {};
  for (const token of ["cardpki-root", "cardpki-issuing"]) {
    const pin = randomBytes(12).toString("hex");
    initSoftHsmToken(conf, token, pin, randomBytes(12).toString("hex"));
    const file = join(pinsDir, `${token}.pin`);
    writeFileSync(file, pin + "\n", { mode: 0o600 });
    tokenPins[token] = { file };
    pins[token] = staticPin(pin, `demo PIN of ${token}`);
    log(`initialised SoftHSM2 token '${token}'`);
  }
  const rt = await openRuntime(base, { withoutAuthorities: true, pins });
  try {
    for (const f of DEMO_CEREMONIES) {
      const script = loadCeremonyScript(join(base.policyDir, "ceremonies", f));
      log(`ceremony ${script.id}: ${script.description}`);
      await runCeremony(script, {
        keystore: rt.keystore, caDir: rt.caDir, issuer: rt.issuer, clock: rt.clock, urls: caUrls(base.baseUrl),
        operator: "demo-setup", log: (l) => log(`  ${l}`),
      });
    }
  } finally {
    await rt.close();
  }
  writeFileSync(configFile, JSON.stringify({ issuingCas: ["demo-issuing"], tokenPins }, null, 2) + "\n", { mode: 0o600 });
  log(`wrote ${configFile}`);
  return loadConfig(env);
}

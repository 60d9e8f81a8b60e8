import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import type { Config } from "./config.js";
import { useEmbeddedSoftHsm } from "./ca-settings.js";
import { openCaRecords, type CaRecords } from "./ca-records.js";
import { openCaSigner, type CaSigner, type CaSignerOptions } from "./ca-signer-role.js";

/**
 * The offline and operator graph (CLI commands, ceremonies, tests): the CA records plus the CA
 * signer in one process. Services use the role builders instead (ca-records.ts, ca-signer-role.ts,
 * public-role.ts, serve.ts).
 */
export interface Runtime extends Omit<CaRecords, "close">, Omit<CaSigner, "close" | "gate" | "probes"> {
  close(): Promise<void>;
}

/**
 * What the RA and its services need of the CA side: records, the issuance pipeline and the
 * issuing CAs (signing in process or through the CA signer channel); no CRL signing.
 */
export type RaRuntime = Omit<Runtime, "crls">;

export { caUrls, pinSourceFor, useEmbeddedSoftHsm } from "./ca-settings.js";

export interface RuntimeOptions extends CaSignerOptions {
  readonly clock?: Clock;
  readonly random?: Random;
}

export async function openRuntime(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
  useEmbeddedSoftHsm(config);
  const rec = await openCaRecords(config, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.random ? { random: opts.random } : {}),
  });
  let signer: CaSigner;
  try {
    signer = await openCaSigner(rec, opts);
  } catch (e) {
    await rec.close();
    throw e;
  }
  return runtimeOf(rec, signer);
}

/** The combined view over records and signer; closing it closes both. */
export function runtimeOf(rec: CaRecords, signer: CaSigner): Runtime {
  return {
    config: rec.config,
    clock: rec.clock,
    random: rec.random,
    db: rec.db,
    readDb: rec.readDb,
    profiles: rec.profiles,
    store: rec.store,
    caDir: rec.caDir,
    revocationPolicy: rec.revocationPolicy,
    revocations: rec.revocations,
    registry: rec.registry,
    issuer: signer.issuer,
    crls: signer.crls,
    authorities: signer.authorities,
    signing: signer.signing,
    authority: signer.authority,
    keystore: signer.keystore,
    async close() {
      await signer.close();
      await rec.close();
    },
  };
}

/** Opens the runtime for one task (a CLI command) and closes it whatever happens. */
export async function withRuntime<T>(
  config: Config,
  opts: RuntimeOptions,
  fn: (rt: Runtime) => Promise<T>,
): Promise<T> {
  const rt = await openRuntime(config, opts);
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import type { Config } from "./config.js";
import { useEmbeddedSoftHsm } from "./ca-settings.js";
import { openCaRecords, type CaRecords } from "./ca-records.js";
import { crlPublisher, issuerFor, openCaSigner, openIssuingCas, type CaSignerOptions } from "./ca-signer-role.js";
import { openKeystores } from "./keystores.js";
import type { Parts } from "./parts.js";

/*
 * The operator's offline graph (the `ceremony` role: CLI commands, ceremonies, the demo set-up). Each command opens
 * only what it uses and closes it whatever happens:
 *   records  the CA records (database, stores, profiles, CA store); no HSM token;
 *   keys     the records and the HSM tokens (audit signer, data keys, bureau signer); no issuer, no issuing CA;
 *   crls     the records and CRL signing with the issuing CAs' keys; no issuer;
 *   ceremony the records, the HSM tokens (custodians' PINs) and the issuance pipeline for the keys the ceremony makes;
 *            no issuing CA loaded;
 *   ca       the records and the CA side in process (issuer, CRL signing, issuing CAs).
 */
export type OperatorRecords = Omit<CaRecords, "close">;
export type OperatorKeys = OperatorRecords & Parts<"keystore">;
export type OperatorCrls = OperatorKeys & Parts<"crls" | "authorities" | "authority" | "signing">;
export type OperatorCa = OperatorCrls & Parts<"issuer">;
export type Ceremony = OperatorKeys & Parts<"issuer">;

export interface OperatorOptions extends Pick<CaSignerOptions, "pins" | "recover"> {
  readonly clock?: Clock;
  readonly random?: Random;
}
/** A graph opened for a task: its owner closes it. */
export type Opened<T> = T & { close(): Promise<void> };

async function records(config: Config, opts: OperatorOptions): Promise<CaRecords> {
  useEmbeddedSoftHsm(config);
  return openCaRecords(config, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.random ? { random: opts.random } : {}),
  });
}

/** The records and the rest; a failure while opening the rest closes the records again. */
async function withRest<T>(rec: CaRecords, rest: (rec: CaRecords) => Promise<T & { close(): Promise<void> }>) {
  try {
    const r = await rest(rec);
    const { close: closeRecords, ...parts } = rec;
    return {
      ...parts,
      ...r,
      async close() {
        await r.close();
        await closeRecords();
      },
    };
  } catch (e) {
    await rec.close();
    throw e;
  }
}

export function openOperatorRecords(config: Config, opts: OperatorOptions = {}): Promise<Opened<OperatorRecords>> {
  return records(config, opts);
}

export async function openOperatorKeys(config: Config, opts: OperatorOptions = {}): Promise<Opened<OperatorKeys>> {
  return withRest(await records(config, opts), async () => openKeystores(config, opts.pins));
}

export async function openOperatorCrls(config: Config, opts: OperatorOptions = {}): Promise<Opened<OperatorCrls>> {
  return withRest(await records(config, opts), async (rec) => {
    const cas = await openIssuingCas(rec, opts);
    return {
      crls: crlPublisher(rec, cas.gate),
      authorities: cas.authorities,
      authority: cas.authority,
      signing: cas.signing,
      keystore: cas.keystores.keystore,
      close: cas.close,
    };
  });
}

export async function openCeremony(config: Config, opts: OperatorOptions = {}): Promise<Opened<Ceremony>> {
  return withRest(await records(config, opts), async (rec) => {
    const cas = await openIssuingCas(rec, { ...opts, withoutAuthorities: true });
    return { issuer: issuerFor(rec, cas.gate), keystore: cas.keystores.keystore, close: cas.close };
  });
}

/** `withoutAuthorities`: the pipeline without any issuing CA loaded (an RA whose certificates come from elsewhere). */
export async function openOperatorCa(
  config: Config,
  opts: OperatorOptions & Pick<CaSignerOptions, "withoutAuthorities"> = {},
): Promise<Opened<OperatorCa>> {
  return withRest(await records(config, opts), async (rec) => {
    const s = await openCaSigner(rec, opts);
    return {
      issuer: s.issuer,
      crls: s.crls,
      authorities: s.authorities,
      authority: s.authority,
      signing: s.signing,
      keystore: s.keystore,
      close: s.close,
    };
  });
}

/** Opens a graph for one task (a CLI command) and closes it whatever happens. */
export async function withOperator<P, T>(opened: Promise<Opened<P>>, fn: (op: P) => Promise<T>): Promise<T> {
  const op = await opened;
  try {
    return await fn(op);
  } finally {
    await op.close();
  }
}

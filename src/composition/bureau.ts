import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks } from "../asn1/der.js";
import { certificateSerialHex, parseCertificate } from "../asn1/parse.js";
import { BureauDesk } from "../ra/bureau/bureau-desk.js";
import type { BureauCard } from "../ra/bureau/bureau-ports.js";
import type { Actor } from "../ra/order.js";
import { KnexBureauStore } from "../store/bureau.store.js";
import { cmsBureauSeal, readExchangeIdentity } from "./bureau-cms.js";
import { keyAttestationVerifier } from "./key-attestation.js";
import type { Ra } from "./ra.js";
import type { RaRuntime } from "./runtime.js";

/** Names of the exchange identities in the exchange folder (`<data>/bureau/` by default). */
export const RA_EXCHANGE = "ra-exchange";
export const BUREAU_EXCHANGE = "bureau";

/** The RA's exchange folder: its own signing key (`ra-exchange.key/.crt`) and the bureau's certificate (`bureau.crt`). */
export function bureauExchangeDir(rt: Pick<RaRuntime, "config">): string {
  return process.env.CARDPKI_BUREAU_DIR ?? join(rt.config.dataDir, "bureau");
}

/** Alarms raised in this process (cardpki_bureau_cards_not_received_total). */
let notReceived = 0;
export const bureauAlarmCount = (): number => notReceived;

/** The bureau adapter of card production, wired over the RA's stores, the CMS exchange and the attestation roots. */
export function openBureauDesk(
  rt: RaRuntime,
  ra: Ra,
  o: { exchangeDir?: string; onAlarm?: (c: BureauCard) => void } = {},
): BureauDesk {
  const dir = o.exchangeDir ?? bureauExchangeDir(rt);
  const seal = cmsBureauSeal(
    readExchangeIdentity(dir, RA_EXCHANGE, true),
    readExchangeIdentity(dir, BUREAU_EXCHANGE, false),
  );
  return new BureauDesk({
    orders: ra.orders,
    orderStore: ra.orderStore,
    directory: ra.directory,
    workflows: ra.workflows,
    store: new KnexBureauStore(rt.db, rt.readDb),
    seal,
    keyOrigins: { verifier: keyAttestationVerifier(rt.config.caStoreDir) },
    clock: rt.clock,
    random: rt.random,
    onAlarm: (c) => {
      notReceived++;
      o.onAlarm?.(c);
    },
  });
}

/**
 * The officer of an in-process bureau command (on the RA host), as the RA API would resolve them:
 * from their certificate (an RA credential: officer card or ra-officer certificate) and proof of
 * the key (the key file must be the certificate's). Never from a name typed on the command line.
 */
export async function officerFromCredential(ra: Ra, certFile: string, keyFile: string): Promise<Actor> {
  const der = pemBlocks(new Uint8Array(readFileSync(certFile)), "CERTIFICATE")[0];
  if (!der) throw new CaError("invalid-input", `${certFile} holds no certificate`);
  const pub = createPublicKey(createPrivateKey(readFileSync(keyFile))).export({ type: "spki", format: "der" });
  const certPub = new X509Certificate(der).publicKey.export({ type: "spki", format: "der" });
  if (!Buffer.from(pub).equals(Buffer.from(certPub)))
    throw new CaError("forbidden", `${keyFile} is not the key of ${certFile}`, undefined, {
      code: "credential.key-mismatch",
    });
  const { actor } = await ra.resolver.resolve(certificateSerialHex(parseCertificate(der, "officer certificate")), der);
  return actor;
}

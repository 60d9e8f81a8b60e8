import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks } from "../asn1/der.js";
import { certificateSerialHex, parseCertificate } from "../asn1/parse.js";
import { BureauDesk } from "../ra/bureau/bureau-desk.js";
import type { BureauCard, BureauSeal } from "../ra/bureau/bureau-ports.js";
import type { Actor } from "../ra/order.js";
import { KnexBureauStore } from "../store/bureau.store.js";
import { cmsBureauSeal, readExchangeIdentity } from "./bureau-cms.js";
import { raExchangeSigner } from "./bureau-signer.js";
import { keyAttestationVerifier } from "./key-attestation.js";
import type { Ra } from "./ra.js";
import type { DropFolder } from "./bureau-drop.js";
import type { Parts } from "./parts.js";

/** Name of the bureau's certificate in the exchange folder (`<data>/bureau/` by default). */
export const BUREAU_EXCHANGE = "bureau";

/**
 * The RA's exchange folder: the bureau's certificate (`bureau.crt`). The RA's own signing key is in the HSM, its
 * certificate in the CA store (`<ca>/bureau-signers/<label>/`, made by a bureau-signer ceremony).
 */
export function bureauExchangeDir(rt: Parts<"config">): string {
  return process.env.CARDPKI_BUREAU_DIR ?? join(rt.config.dataDir, "bureau");
}

/** The bureau adapter of card production, wired over the RA's stores, the CMS exchange and the attestation roots. */
export function openBureauDesk(
  rt: Parts<"config" | "db" | "readDb" | "clock" | "random" | "keystore">,
  ra: Ra,
  o: { exchangeDir?: string; onAlarm?: (c: BureauCard) => void } = {},
): BureauDesk {
  const dir = o.exchangeDir ?? bureauExchangeDir(rt);
  // Opened on first use: the tracking sweep of `serve` needs neither the bureau's certificate nor the RA's key.
  let opened: BureauSeal | undefined;
  const open = (): BureauSeal =>
    (opened ??= cmsBureauSeal(raExchangeSigner(rt), readExchangeIdentity(dir, BUREAU_EXCHANGE, false)));
  const seal: BureauSeal = {
    sign: async (data) => open().sign(data),
    encryptToBureau: async (data) => open().encryptToBureau(data),
    verifyBureau: async (data, sig) => open().verifyBureau(data, sig),
  };
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
    ...(o.onAlarm ? { onAlarm: o.onAlarm } : {}),
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

/** What one pass over the drop folder did: each file with its report. */
export interface DropPass {
  readonly file: string;
  readonly accepted: boolean;
  readonly batchId?: string;
  readonly cards: number;
  readonly problems: readonly { line: number; orderId?: string; problem: string }[];
  readonly returnFile?: string;
}

/**
 * Takes the bureau's files from the drop folder: status files first, then answers, each with its
 * `.p7s`. An accepted answer's certificate return file goes to to-bureau/; each file taken moves to
 * from-bureau/done/, each refused one to from-bureau/refused/ with `<file>.report.json`.
 */
export async function takeFromDrop(desk: BureauDesk, actor: Actor, drop: DropFolder): Promise<DropPass[]> {
  const names = await drop.list("from-bureau");
  const files = [
    ...names.filter((n) => n.endsWith(".status.jsonl")),
    ...names.filter((n) => n.endsWith(".answer.jsonl")),
  ].filter((n) => names.includes(`${n}.p7s`));
  const out: DropPass[] = [];
  for (const name of files) {
    const data = await drop.get("from-bureau", name);
    const sig = await drop.get("from-bureau", `${name}.p7s`);
    const r = name.endsWith(".status.jsonl")
      ? await desk.importStatus(actor, name, data, sig)
      : await desk.importAnswer(actor, name, data, sig);
    let returnFile: string | undefined;
    if (r.accepted && r.returnFile) {
      returnFile = `${name.replace(/\.answer\.jsonl$/, "")}.certificates.jsonl`;
      await drop.put("to-bureau", returnFile, r.returnFile.data);
      await drop.put("to-bureau", `${returnFile}.p7s`, r.returnFile.signature);
    }
    const report: DropPass = {
      file: name,
      accepted: r.accepted,
      ...(r.batchId ? { batchId: r.batchId } : {}),
      cards: r.cards,
      problems: r.problems,
      ...(returnFile ? { returnFile } : {}),
    };
    if (!r.accepted)
      await drop.put(
        "from-bureau",
        `refused/${name}.report.json`,
        new TextEncoder().encode(JSON.stringify(report, null, 2)),
      );
    await drop.file(name, r.accepted ? "done" : "refused");
    await drop.file(`${name}.p7s`, r.accepted ? "done" : "refused");
    out.push(report);
  }
  return out;
}

/**
 * Sends a batch: `<batchId>.jsonl.p7e` (encrypted to the bureau) and `<batchId>.jsonl.p7s` (the RA's signature over the
 * JSON Lines).
 */
export async function sendBatch(
  desk: BureauDesk,
  actor: Actor,
  drop: DropFolder,
  o: { orderIds?: readonly string[]; limit?: number } = {},
): Promise<{ batchId: string; cards: number; files: string[] }> {
  const b = await desk.createBatch(actor, o);
  const files = [`${b.batchId}.jsonl.p7s`, `${b.batchId}.jsonl.p7e`];
  // The signature first: the bureau takes a batch once both are there.
  await drop.put("to-bureau", files[0]!, b.signature);
  await drop.put("to-bureau", files[1]!, b.encrypted);
  return { batchId: b.batchId, cards: b.cards, files };
}

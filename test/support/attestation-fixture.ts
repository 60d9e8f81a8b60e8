// REQ-14 for service-level tests and benchmarks that are not user-facing card flows: a software
// "card" whose key comes with a PIV attestation made by the emulator's own attestation code
// (piv-attestation-maker.ts) under a per-process test maker root, the card recorded for the order
// as the card station records it, and the maker roots installed where the RA looks for them.
// User-facing flows personalise the virtual card instead (card-client.ts personaliseForOrder).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes, randomInt, type KeyObject } from "node:crypto";
import { toPem } from "../../src/asn1/der.js";
import { attestationRootsDir } from "../../src/composition/key-attestation.js";
import { KnexCardStore } from "../../src/store/card.store.js";
import type { OperatorCa } from "../../src/composition/operator-role.js";
import type { Ra } from "../../src/composition/ra.js";
import type { Actor } from "../../src/ra/order.js";
import {
  createMakerRoot,
  softwareAttestation,
  MAKER_CERT_FILE,
  type PinPolicyName,
  type Signer,
  type SoftwareAttestation,
} from "./piv-attestation-maker.js";
import { REPO_ROOT } from "./test-ca.js";

/** The root set the shipped workflows name (policies/workflows/*.yaml, attestation.roots). */
export const ROOT_SET = "piv-card-makers";

let fixtureMaker: Signer | undefined;
/** This process's software card maker (a test root made on first use, in memory only). */
export function fixtureMakerRoot(): Signer {
  return (fixtureMaker ??= createMakerRoot(new Date(), "cardpki software test card maker"));
}

/** Installs a maker root (DER) as `<caStore>/attestation-roots/<set>/<name>.pem`, as an operator would. */
export function installAttestationRoot(caStore: string, certDer: Uint8Array, name: string, set = ROOT_SET): string {
  const dir = join(attestationRootsDir(caStore), set);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, toPem("CERTIFICATE", certDer));
  return file;
}

/** The virtual card's TEST maker root (made by scripts/lib/virtual-card.sh start in its runtime folder). */
export function virtualCardMakerRootFile(): string {
  const run = resolve(REPO_ROOT, process.env.CARDPKI_VCARD_DIR ?? join("data", "virtual-card"));
  return join(
    process.env.CARDPKI_VCARD_MAKER_DIR ? resolve(REPO_ROOT, process.env.CARDPKI_VCARD_MAKER_DIR) : join(run, "maker"),
    MAKER_CERT_FILE,
  );
}

/** Trusts the virtual card's maker root in this CA store (tests and the virtual-card demo only). */
export function trustVirtualCardMaker(caStore: string): string {
  const pem = readFileSync(virtualCardMakerRootFile(), "utf8");
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)![1]!.replace(/\s+/g, "");
  return installAttestationRoot(caStore, new Uint8Array(Buffer.from(b64, "base64")), "virtual-card-test-maker");
}

/** Trusts this process's software maker root in this CA store. */
export function trustFixtureMaker(caStore: string): string {
  return installAttestationRoot(caStore, fixtureMakerRoot().certDer, `software-test-maker-${process.pid}`);
}

export interface AttestedCard {
  readonly privateKey: KeyObject;
  readonly spki: Uint8Array;
  readonly cardSerial: string;
  readonly attestation: { readonly certificate: Uint8Array; readonly intermediate: Uint8Array };
  /** The same, as the RA API's produce body takes it. */
  readonly body: { attestation: { certificate: string; intermediate: string } };
}

/**
 * A software card for an order: its attestation, and the card recorded for the order in the card
 * ledger in state personalising (what the card station writes before it generates the key).
 */
export async function attestedCardFor(
  rt: OperatorCa,
  ra: Ra,
  orderId: string,
  o: { pinPolicy?: PinPolicyName; slot?: number; cardSerial?: number; card?: SoftwareAttestation } = {},
): Promise<AttestedCard> {
  const cardSerial = o.card ? Number(o.card.cardSerial) : (o.cardSerial ?? randomInt(10_000_000, 99_999_999));
  const order = await ra.orderStore.load(orderId);
  if (!order) throw new Error(`no order ${orderId}`);
  const cardId = randomBytes(16).toString("hex");
  await new KnexCardStore(rt.db, rt.readDb, ra.cipher).save(
    {
      id: cardId,
      cardSerial: String(cardSerial),
      atr: "",
      orderId,
      holderPersonId: order.applicantPersonId,
      state: "personalising",
      managementKeyAlgorithm: "AES-256",
      managementKeySealed: "software-test-card",
    },
    {
      id: randomBytes(16).toString("hex"),
      at: rt.clock.now(),
      actor: "test:software-card",
      action: "card.personalise.start",
      objectType: "card",
      objectId: cardId,
      outcome: "success",
      details: { order: orderId, cardSerial: String(cardSerial), software: true },
    },
  );
  const a =
    o.card ??
    softwareAttestation(fixtureMakerRoot(), {
      cardSerial,
      ...(o.slot ? { slot: o.slot } : {}),
      ...(o.pinPolicy ? { pinPolicy: o.pinPolicy } : {}),
    });
  const attestation = { certificate: a.certificate, intermediate: a.intermediate };
  return {
    privateKey: a.privateKey,
    spki: a.spki,
    cardSerial: a.cardSerial,
    attestation,
    body: {
      attestation: {
        certificate: Buffer.from(a.certificate).toString("base64"),
        intermediate: Buffer.from(a.intermediate).toString("base64"),
      },
    },
  };
}

/**
 * Produces an order in process with a software attested card (service-level tests, benchmarks: `card` made beforehand,
 * as the card's part).
 */
export async function produceAttested(
  rt: OperatorCa,
  ra: Ra,
  orderId: string,
  actor: Actor,
  made?: SoftwareAttestation,
): Promise<{ certSerial: string; card: AttestedCard }> {
  const card = await attestedCardFor(rt, ra, orderId, made ? { card: made } : {});
  const o = await ra.orders.act(orderId, "produce", actor, { attestation: card.attestation, publicKey: card.spki });
  return { certSerial: o.certSerial!, card };
}

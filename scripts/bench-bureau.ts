// scripts/bench --suite bureau: taking in a card bureau's answer file.
//  - file checks on a 10,000-card answer (--bureau-cards): the bureau's CMS signature over the whole
//    file, the JSON Lines schema per line and every card's PIV attestation (chain to the installed
//    maker root, slot, PIN policy, card serial, key) exactly as the import judges them (keyOrigin);
//  - beside it, in the same run, the raw signature-verification rate: one ECDSA P-256 verification of
//    an attestation certificate by its f9 certificate's key (node:crypto), the floor of those checks
//    (each card needs two: attestation by f9, f9 by the maker root);
//  - the whole import through the desk (checks + issuance on hold through the production saga + the
//    return file) for --bureau-orders real LoA3 bureau orders (each made through the whole workflow first).
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { pemBlocks } from "../src/asn1/der.js";
import { spawnSync } from "node:child_process";
import type { Runtime } from "../src/composition/runtime.js";
import { openRa } from "../src/composition/ra.js";
import { bootstrapDemoStaff, DEMO_OFFICERS } from "../src/composition/demo-setup.js";
import { demoOrderInProduction, staffActor } from "../src/composition/demo-orders.js";
import { openBureauDesk, sendBatch, takeFromDrop } from "../src/composition/bureau.js";
import { createExchangeIdentity, signDetached, verifyDetached } from "../src/composition/bureau-cms.js";
import { folderDrop } from "../src/composition/bureau-drop.js";
import { bureauSignerDir, bureauSignerName } from "../src/composition/bureau-signer.js";
import { keyAttestationVerifier } from "../src/composition/key-attestation.js";
import { ANSWER_FORMAT, AnswerCard, AnswerHeader, jsonLines, parseJsonLines } from "../src/ra/bureau/bureau-files.js";
import { keyOrigin } from "../src/ra/key-origin.js";
import {
  createMakerRoot,
  manufactureAttestationKey,
  softwareAttestation,
} from "../test/support/piv-attestation-maker.js";
import { installAttestationRoot } from "../test/support/attestation-fixture.js";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

export async function benchBureau(rt: Runtime, dir: string, cards: number, orders: number) {
  const out: Record<string, unknown> = {};
  // --- 1. the file checks on a `cards`-card answer, and the raw verification rate, same run.
  const maker = createMakerRoot(rt.clock.now(), "bench bureau maker");
  installAttestationRoot(rt.config.caStoreDir, maker.certDer, "bench-bureau-maker");
  const f9s = Array.from({ length: 16 }, (_, i) => manufactureAttestationKey(maker, 1000 + i));
  const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const made = Array.from({ length: cards }, (_, i) =>
    softwareAttestation(maker, { cardSerial: 20_000_000 + i, f9: f9s[i % f9s.length]!, privateKey: key }),
  );
  const bureau = await createExchangeIdentity(join(dir, "bench-bureau"), "bureau", {
    subject: "CN=bench bureau",
    rsa: true,
    clock: rt.clock,
    random: rt.random,
  });
  const file = jsonLines([
    {
      type: "answer",
      format: ANSWER_FORMAT,
      answerId: "A-bench",
      batchId: "B-bench",
      createdAt: rt.clock.now().toISOString(),
      cards,
    },
    ...made.map((a, i) => ({
      type: "card",
      orderId: `order-${i}`,
      cardSerial: a.cardSerial,
      publicKey: b64(a.spki),
      attestation: { certificate: b64(a.certificate), intermediate: b64(a.intermediate) },
    })),
  ]);
  const sig = await signDetached(file, bureau);
  const workflow = (await openRa(rt)).workflows.get("loa3-card-order-bureau")!;
  const verifier = keyAttestationVerifier(rt.config.caStoreDir);
  const t0 = performance.now();
  await verifyDetached(file, sig, bureau.certDer);
  const parsed = parseJsonLines(file, AnswerHeader, AnswerCard);
  let good = 0;
  for (const { value: c } of parsed.lines) {
    const v = await keyOrigin(
      { verifier },
      workflow,
      c.orderId,
      {
        publicKey: Buffer.from(c.publicKey, "base64"),
        attestation: {
          certificate: Buffer.from(c.attestation.certificate, "base64"),
          intermediate: Buffer.from(c.attestation.intermediate, "base64"),
        },
        bureau: { cardSerial: c.cardSerial, batchId: "B-bench" },
      },
      rt.clock.now(),
    );
    if (v.ok) good++;
  }
  const checkSeconds = (performance.now() - t0) / 1000;
  // Raw: ECDSA verifications of the attestation certificates by their f9 key, nothing else.
  const certs = made.slice(0, Math.min(cards, 5000)).map((a) => new X509Certificate(a.certificate));
  const f9Keys = made.slice(0, certs.length).map((a) => new X509Certificate(a.intermediate).publicKey);
  const r0 = performance.now();
  let verified = 0;
  for (let i = 0; i < certs.length; i++) if (certs[i]!.verify(f9Keys[i]!)) verified++;
  const rawSeconds = (performance.now() - r0) / 1000;
  const rawPerSecond = verified / rawSeconds;
  out.answerFileChecks = {
    benchmark: `answer file of ${cards} cards: CMS signature (RSA-2048) over ${file.length} bytes, schema per line, PIV attestation per card (chain to the maker root, slot, PIN policy, card serial, key)`,
    cards,
    accepted: good,
    seconds: Number(checkSeconds.toFixed(3)),
    cardsPerSecond: Math.round(good / checkSeconds),
    note: "the import's checks without its per-line database reads (order state, tracking) and without issuance",
  };
  out.rawSignatureVerification = {
    benchmark:
      "ECDSA P-256 / SHA-256 verification of an attestation certificate by its f9 key (node:crypto X509Certificate.verify)",
    ops: verified,
    perSecond: Math.round(rawPerSecond),
    perCardFloor: Math.round(rawPerSecond / 2),
  };
  out.ratioToRawPerCardFloor = Number((good / checkSeconds / (rawPerSecond / 2)).toFixed(3));

  // --- 2. the whole import through the desk for real orders (workflow, issuance on hold, return file).
  if (orders > 0) {
    const ra = await openRa(rt);
    await bootstrapDemoStaff(rt, ra, { operator: "bench-bureau" }).catch(() => undefined);
    const staff = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
    const ed = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId);
    const ids: string[] = [];
    const p0 = performance.now();
    for (let i = 0; i < orders; i++)
      ids.push(
        (
          await demoOrderInProduction(rt, ra, {
            staff,
            orgNumber: `55688${String(i).padStart(5, "0")}`,
            holder: { nationalId: "197003033456", name: `Bench Holder ${i}` },
            workflowId: "loa3-card-order-bureau",
          })
        ).orderId,
      );
    const prepSeconds = (performance.now() - p0) / 1000;
    const exchange = join(dir, "bench-exchange");
    const sim = join(dir, "bench-sim");
    const drop = join(dir, "bench-drop");
    const simJs = join(import.meta.dirname, "bureau-sim.js");
    spawnSync("node", [simJs, "--state", sim, "--print-cert"]);
    mkdirSync(exchange, { recursive: true });
    copyFileSync(join(sim, "bureau.crt"), join(exchange, "bureau.crt"));
    // The RA's side signs with the key of the demo's bureau-signer ceremony (HSM).
    const raCert = join(bureauSignerDir(rt.config.caStoreDir, bureauSignerName(rt)), "cert.pem");
    copyFileSync(raCert, join(sim, "ra-exchange.crt"));
    const root = pemBlocks(new Uint8Array(readFileSync(join(sim, "maker", "maker-root.pem"))), "CERTIFICATE")[0]!;
    installAttestationRoot(rt.config.caStoreDir, root, "bench-bureau-sim");
    const desk = openBureauDesk(rt, ra, { exchangeDir: exchange });
    await sendBatch(desk, ed, folderDrop(drop), { orderIds: ids });
    spawnSync("node", [simJs, "--drop", drop, "--state", sim, "--once"]);
    const i0 = performance.now();
    const taken = await takeFromDrop(desk, ed, folderDrop(drop));
    const importSeconds = (performance.now() - i0) / 1000;
    const answer = taken.find((t) => t.file.includes(".answer."));
    out.wholeImport = {
      benchmark: `answer for ${orders} LoA3 bureau orders through the desk: all checks with database reads, issuance on hold (SoftHSM2) through the production saga, signed return file`,
      orders,
      accepted: answer?.accepted ?? false,
      cards: answer?.cards ?? 0,
      seconds: Number(importSeconds.toFixed(3)),
      cardsPerSecond: Math.round((answer?.cards ?? 0) / importSeconds),
      preparationSeconds: Number(prepSeconds.toFixed(1)),
    };
  }
  return out;
}

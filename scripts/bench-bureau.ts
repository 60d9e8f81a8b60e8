// scripts/bench --suite bureau: taking in a card bureau's answer file.
//  - file checks on a 10,000-card answer (--bureau-cards): the bureau's CMS signature over the whole
//    file, the JSON Lines schema per line and every card's PIV attestation (chain to the installed
//    maker root, slot, PIN policy, card serial, key) exactly as the import judges them (keyOrigin);
//  - beside it, in the same run, the raw signature-verification rate: one ECDSA P-256 verification of
//    an attestation certificate by its f9 certificate's key (node:crypto), the floor of those checks
//    (each card needs two: attestation by f9, f9 by the maker root);
//  - the whole import through the desk (checks + issuance on hold through the production saga + card ledger and
//    tracking + the signed return file) of an answer file for --bureau-orders (default: as many as --bureau-cards)
//    real LoA3 bureau orders, each made through the whole workflow first, in the same run as the raw rate.
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { pemBlocks } from "../src/asn1/der.js";
import { spawnSync } from "node:child_process";
import type { OperatorCa } from "../src/composition/operator-role.js";
import { openRa } from "../src/composition/ra.js";
import { bootstrapDemoStaff, DEMO_OFFICERS } from "../src/composition/demo-setup.js";
import { staffActor } from "../src/composition/demo-orders.js";
import { fileRegister } from "../src/composition/file-register.js";
import { humanIdOf } from "../src/ra/human.js";
import type { Actor } from "../src/ra/order.js";
import { parseTemplateBody } from "../src/shared/message-template.js";
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

export async function benchBureau(rt: OperatorCa, dir: string, cards: number, orders: number) {
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
    benchmark:
      `answer file of ${cards} cards: CMS signature (RSA-2048) over ${file.length} ` +
      `bytes, schema per line, PIV attestation per card (chain to the maker root, ` +
      `slot, PIN policy, card serial, key)`,
    cards,
    accepted: good,
    seconds: Number(checkSeconds.toFixed(3)),
    cardsPerSecond: Math.round(good / checkSeconds),
    note: "the import's checks without its per-line database reads (order state, tracking) and without issuance",
  };
  out.rawSignatureVerification = {
    benchmark:
      "ECDSA P-256 / SHA-256 verification of an attestation certificate by its f9 " +
      "key (node:crypto X509Certificate.verify)",
    ops: verified,
    perSecond: Math.round(rawPerSecond),
    perCardFloor: Math.round(rawPerSecond / 2),
  };
  out.ratioToRawPerCardFloor = Number((good / checkSeconds / (rawPerSecond / 2)).toFixed(3));

  // --- 2. the whole import through the desk for real orders (workflow, issuance on hold, return file), in the same
  // run.
  if (orders > 0) out.wholeImport = await wholeImport(rt, dir, orders, rawPerSecond);
  return out;
}

/** A whole number of workers running `work(i)` for i in [0, n). */
async function inParallel(n: number, workers: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, n) }, async () => {
      for (let i = next++; i < n; i = next++) await work(i);
    }),
  );
}

/**
 * `orders` LoA3 bureau orders, each through the whole workflow (register check, terms, two identifications, approval,
 * release) for its own holder in one organisation, then one batch to the simulator and its answer file of `orders`
 * cards taken in through the desk: the bureau's signature, schema, every attestation, tracking and order reads, each
 * certificate issued on hold through the production saga (SoftHSM2), the signed certificate return file.
 */
async function wholeImport(rt: OperatorCa, dir: string, orders: number, rawPerSecond: number) {
  const registerFile = join(dir, "bench-bureau-register.json");
  const people = Array.from({ length: orders }, (_, i) => `1971${String(i).padStart(8, "0")}`);
  writeFileSync(
    registerFile,
    JSON.stringify({
      people: Object.fromEntries(
        people.map((p, i) => [p, { status: "alive", givenName: "Bureau", surname: `Holder ${i}` }]),
      ),
    }),
  );
  const ra = await openRa(rt, { register: fileRegister(registerFile) });
  if (!(await ra.directory.organisationByNumber("556000-0000")))
    await bootstrapDemoStaff(rt, ra, { operator: "bench-bureau" });
  const staff = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
  const ed = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId);
  const p0 = performance.now();
  const orgNumber = `55622${String(Math.floor(performance.now()) % 100000).padStart(5, "0")}`;
  const org = await ra.onboarding.registerOrganisation(staff, { orgNumber, name: "Bench Byrå AB", country: "SE" });
  await ra.onboarding.recordOnboardingEvidence(staff, org.id, {
    registrationCertificate: "bench",
    domain: "bureau-bench.example",
    domainValidationMethod: "dns-txt",
  });
  const until = new Date(rt.clock.now().getTime() + 30 * 86_400_000);
  const officers: Actor[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await ra.onboarding.bindPerson(staff, org.id, {
      nationalId: `1981${String(i).padStart(8, "0")}`,
      name: `Officer ${i}`,
    });
    await ra.onboarding.appointOfficer(staff, p.id, {
      roles: ["ra-officer"],
      qualification: "bench",
      qualifiedUntil: until,
    });
    officers.push({
      kind: "officer",
      personId: p.id,
      humanId: humanIdOf(p.nationalIdHash),
      roles: ["ra-officer"],
      organisationId: org.id,
      qualifiedUntil: until,
    });
  }
  const [o1, o2, approver] = officers as [Actor, Actor, Actor];
  const doc = { type: "passport", number: "BUREAU123", expires: new Date(until.getTime() + 3650 * 86_400_000) };
  const ids: string[] = new Array(orders);
  // Concurrent, as officers work: the commit queue shares commits between them.
  await inParallel(orders, 32, async (i) => {
    const holder = await ra.onboarding.bindPerson(staff, org.id, { nationalId: people[i]!, name: `Holder ${i}` });
    const o = await ra.orders.create(o1, {
      personId: holder.id,
      workflowId: "loa3-card-order-bureau",
      nationalId: people[i]!,
    });
    const [note] = await ra.outbox.recent({ personId: holder.id, limit: 1 });
    const token = parseTemplateBody(note!.body)!.params.token!; // the stored terms message (rendered at send time)
    await ra.orders.act(
      o.id,
      "accept-terms",
      { kind: "applicant", roles: [] },
      { applicantToken: token, termsVersion: rt.config.ra.termsVersion, accepted: true },
    );
    await ra.orders.act(o.id, "identify", o1, { document: doc, faceCompared: true });
    await ra.orders.act(o.id, "identify", o2, { document: doc, faceCompared: true });
    await ra.orders.act(o.id, "approve", approver, {});
    await ra.orders.act(o.id, "start-production", approver, {});
    ids[i] = o.id;
  });
  const prepSeconds = (performance.now() - p0) / 1000;
  const exchange = join(dir, "bench-exchange");
  const sim = join(dir, "bench-sim");
  const drop = join(dir, "bench-drop");
  const simJs = join(import.meta.dirname, "bureau-sim.js");
  spawnSync("node", [simJs, "--state", sim, "--print-cert"]);
  mkdirSync(exchange, { recursive: true });
  copyFileSync(join(sim, "bureau.crt"), join(exchange, "bureau.crt"));
  // The RA's side signs with the key of the demo's bureau-signer ceremony (HSM).
  copyFileSync(
    join(bureauSignerDir(rt.config.caStoreDir, bureauSignerName(rt)), "cert.pem"),
    join(sim, "ra-exchange.crt"),
  );
  const root = pemBlocks(new Uint8Array(readFileSync(join(sim, "maker", "maker-root.pem"))), "CERTIFICATE")[0]!;
  installAttestationRoot(rt.config.caStoreDir, root, "bench-bureau-sim");
  const desk = openBureauDesk(rt, ra, { exchangeDir: exchange });
  const s0 = performance.now();
  await sendBatch(desk, ed, folderDrop(drop), { orderIds: ids });
  const sendSeconds = (performance.now() - s0) / 1000;
  const made = spawnSync("node", [simJs, "--drop", drop, "--state", sim, "--once"], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`bureau simulator: ${made.stderr}`);
  const i0 = performance.now();
  const taken = await takeFromDrop(desk, ed, folderDrop(drop));
  const importSeconds = (performance.now() - i0) / 1000;
  const answer = taken.find((t) => t.file.includes(".answer."));
  const cards = answer?.accepted ? answer.cards : 0;
  return {
    benchmark:
      `answer file of ${orders} cards for ${orders} LoA3 bureau orders, through ` +
      `the desk: bureau signature, schema, PIV attestation per card, order and ` +
      `tracking reads, issuance on hold (SoftHSM2) through the production saga, ` +
      `card ledger and tracking, signed certificate return file`,
    orders,
    accepted: answer?.accepted ?? false,
    problems: answer?.problems.slice(0, 5) ?? [],
    cards,
    seconds: Number(importSeconds.toFixed(3)),
    cardsPerSecond: Math.round(cards / importSeconds),
    rawSignatureVerificationsPerSecond: Math.round(rawPerSecond),
    batchSendSeconds: Number(sendSeconds.toFixed(3)),
    preparationSeconds: Number(prepSeconds.toFixed(1)),
    note: "the status file (acknowledged) is taken in the same pass and counted in seconds",
  };
}

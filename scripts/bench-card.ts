// Card personalisation benchmark (REQ-14, SP 800-73-4): full personalisations through the virtual PIV card on
// the real PC/SC stack (scripts/lib/virtual-card.sh), with APDU round trips; peers in the same run:
// the raw APDU round trip, and yubico-piv-tool doing the on-card part (generate + import + PIN/PUK).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OperatorCa } from "../src/composition/operator-role.js";
import { openRa } from "../src/composition/ra.js";
import { DEMO_OFFICERS, bootstrapDemoStaff } from "../src/composition/demo-setup.js";
import { fileRegister } from "../src/composition/file-register.js";
import { openCards } from "../src/composition/cards.js";
import { demoOrderInProduction, staffActor } from "../src/composition/demo-orders.js";
import { PivCard } from "../src/card/piv-card.js";
import { toPem } from "../src/asn1/der.js";
import { trustVirtualCardMaker } from "../test/support/attestation-fixture.js";

const READER = "Virtual PCD 00 00";
const HOLDER = "197003033456";
const vcard = (cmd: string) => {
  const r = spawnSync("scripts/lib/virtual-card.sh", [cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`virtual-card.sh ${cmd}: ${r.stderr || r.stdout}`);
};
const q = (xs: number[], p: number) =>
  Number([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1));

export async function benchCard(rt: OperatorCa, dir: string, runs: number) {
  vcard("start");
  // REQ-14: the virtual card's TEST maker root (made by virtual-card.sh start)
  trustVirtualCardMaker(rt.config.caStoreDir);
  const registerFile = join(dir, "card-register.json");
  writeFileSync(
    registerFile,
    JSON.stringify({
      people: {
        [HOLDER]: { status: "alive", givenName: "Card", surname: "Holder" },
        "199001019999": { status: "alive", givenName: "Card", surname: "Officer" },
      },
    }),
  );
  const ra = await openRa(rt, { register: fileRegister(registerFile) });
  // the initial staff group: ada administers, ed (ca-operator) runs the card station
  await bootstrapDemoStaff(rt, ra, { operator: "bench" });
  const staff = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
  const cards = openCards(rt, ra, await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId));

  // Peer 1: the transport floor, one GET VERSION round trip through pcscd and vpcd.
  const t = cards.transport();
  let rawApduMs: number;
  try {
    const ch = await t.connect(READER);
    const piv = await PivCard.open(ch, rt.random);
    const n = 500;
    const s = performance.now();
    for (let i = 0; i < n; i++) await piv.version();
    rawApduMs = (performance.now() - s) / n;
    await ch.close();
  } finally {
    t.close();
  }

  // Peer 2: yubico-piv-tool on a fresh card: generate in 9A, the CA certifies it, import, change PIN and PUK.
  const peerMs: number[] = [];
  for (let i = 0; i < Math.min(runs, 5); i++) {
    vcard("card-stop");
    vcard("card-start");
    const pub = join(dir, "peer-pub.pem");
    const certFile = join(dir, "peer-cert.pem");
    const s = performance.now();
    const y = (args: string[]) => {
      const r = spawnSync("yubico-piv-tool", ["-r", READER, ...args], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`yubico-piv-tool ${args.join(" ")}: ${r.stderr}`);
    };
    y(["-a", "generate", "-s", "9a", "-A", "ECCP256", "-o", pub]);
    const key = (await import("node:crypto")).createPublicKey(await import("node:fs").then((f) => f.readFileSync(pub)));
    const cert = await rt.issuer.issue(rt.authority(rt.config.issuingCas[0]!), {
      profileId: "loa3-smartcard-auth",
      publicKey: new Uint8Array(key.export({ type: "spki", format: "der" })),
      requestedBy: "bench-peer",
      subject: { CN: "Peer Holder", O: "Bench AB", organizationIdentifier: "NTRSE-5560000001", C: "SE" },
      allowedKinds: ["end-entity"],
    });
    writeFileSync(certFile, toPem("CERTIFICATE", cert.der));
    y(["-a", "import-certificate", "-s", "9a", "-i", certFile]);
    y(["-a", "change-pin", "-P", "123456", "-N", "482913"]);
    y(["-a", "change-puk", "-P", "12345678", "-N", "83920174"]);
    peerMs.push(performance.now() - s);
  }

  // cardpki: the whole job per order (RA order prepared beforehand, untimed), the card retired between runs.
  vcard("card-stop");
  vcard("card-start");
  const ms: number[] = [];
  const trips: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { orderId } = await demoOrderInProduction(rt, ra, {
      staff,
      orgNumber: `57${String(i).padStart(8, "0")}`,
      holder: { nationalId: HOLDER, name: "Bench Holder" },
    });
    const tr = cards.transport();
    try {
      const ch = await tr.connect(READER);
      const s = performance.now();
      const r = await cards.job().run(orderId, ch, "operator:bench");
      ms.push(performance.now() - s);
      trips.push(r.roundTrips);
      await cards.lifecycle.retire(ch, "operator:bench", "cessationOfOperation");
      await ch.close();
    } finally {
      tr.close();
    }
  }
  vcard("stop");
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const peerMean = peerMs.reduce((a, b) => a + b, 0) / peerMs.length;
  return {
    benchmark:
      "full PIV personalisations (P-256 on-card key, SoftHSM2 issuance, CHUID/CCC, " +
      "AES-256 management key, PIN/PUK, read-back + on-card signature check, " +
      "audited) through pcscd + vpcd + the virtual card",
    runs,
    cardpki: {
      personalisationsPerMinute: Math.round(60_000 / mean),
      msPerPersonalisation: { mean: Number(mean.toFixed(1)), p50: q(ms, 0.5), max: q(ms, 1) },
      apduRoundTrips: trips[0],
      apduFloorMs: Number((trips[0]! * rawApduMs).toFixed(1)),
    },
    rawApduRoundTripMs: Number(rawApduMs.toFixed(3)),
    yubicoPivToolPeer: {
      what: "generate 9A + CA issuance + import-certificate + change PIN + change PUK (4 processes)",
      msPerCard: Number(peerMean.toFixed(1)),
      runs: peerMs.length,
    },
    ratioToPeer: Number((peerMean / mean).toFixed(2)),
  };
}

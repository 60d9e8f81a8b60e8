import { expect } from "chai";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { loadWorkflows, parseWorkflow } from "../../src/policy/workflow.js";
import { keyOrigin } from "../../src/ra/key-origin.js";
import type { AttestedKey, KeyAttestationVerifier } from "../../src/ra/ports.js";
import { CaError } from "../../src/shared/ca-error.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { createMakerRoot, softwareAttestation } from "../support/piv-attestation-maker.js";

const DIR = join(REPO_ROOT, "policies", "workflows");
const NOW = new Date("2026-06-01T10:00:00Z");

/** Where a LoA's cards are made is workflow data (`production: station | bureau`), checked when loaded. */
describe("card production: station or bureau, by the workflow", () => {
  const wf = loadWorkflows(DIR);
  const BUREAU = wf.get("loa3-card-order-bureau")!;
  const LOA3 = wf.get("loa3-card-order")!;
  const raw = () => parse(readFileSync(join(DIR, "loa3-card-order-bureau.yaml"), "utf8"));
  const refused = (doc: unknown) => {
    try {
      parseWorkflow(doc, "test.yaml");
    } catch (e) {
      expect(CaError.is(e, "config")).to.equal(true);
      return (e as Error).message;
    }
    throw new Error("the loader accepted it");
  };

  it(`ok/the shipped workflows say where their cards are made; the bureau one says how long a shipped card may \
take`, () => {
    expect([LOA3.production, wf.get("loa2-card-order")!.production, BUREAU.production]).to.deep.equal([
      "station",
      "station",
      "bureau",
    ]);
    expect(BUREAU.bureau!.receivedWithinMs).to.equal(10 * 86_400_000);
    expect(BUREAU.loa).to.equal(3);
  });

  it(`fail/the loader refuses an unknown production, a bureau without receivedWithin, a bureau block on a station \
workflow, a bad duration`, () => {
    expect(refused({ ...raw(), production: "printer" })).to.match(/production/);
    const { bureau: _b, ...noBureau } = raw();
    void _b;
    expect(refused(noBureau)).to.match(/bureau\.receivedWithin/);
    expect(refused({ ...raw(), production: "station" })).to.match(/bureau block belongs only/);
    expect(refused({ ...raw(), bureau: { receivedWithin: "soon" } })).to.match(/receivedWithin/);
  });

  const maker = createMakerRoot(NOW);
  const att = softwareAttestation(maker, { cardSerial: 7001 });
  const facts: AttestedKey = {
    slot: "9a",
    cardSerial: "7001",
    pinPolicy: "once",
    touchPolicy: "never",
    spki: att.spki,
    certificateSha256: "a",
    intermediateSha256: "b",
    intermediateSubject: "f9",
    root: { set: "piv-card-makers", subject: "maker", sha256: "c" },
  };
  const verifier: KeyAttestationVerifier = { verify: async () => facts };
  const attestation = { certificate: att.certificate, intermediate: att.intermediate };
  const stationCard = {
    cardForOrder: async () => ({ cardSerial: "7001", state: "personalising", managementKeyRecorded: true }),
  };

  it("ok/a bureau workflow certifies the attested key of the card the bureau's answer names", async () => {
    const v = await keyOrigin(
      { verifier },
      BUREAU,
      "o1",
      { attestation, publicKey: att.spki, bureau: { cardSerial: "7001", batchId: "b1" } },
      NOW,
    );
    expect(v.ok).to.equal(true);
  });

  it(`fail/each production path only for its own workflows; the bureau's attestation must be of the card it \
names`, async () => {
    const station = await keyOrigin({ verifier, cards: stationCard }, BUREAU, "o1", { attestation }, NOW);
    expect(station.ok).to.equal(false);
    expect(!station.ok && station.reason).to.match(/production: bureau/);
    const bureau = await keyOrigin(
      { verifier, cards: stationCard },
      LOA3,
      "o1",
      { attestation, bureau: { cardSerial: "7001", batchId: "b1" } },
      NOW,
    );
    expect(!bureau.ok && bureau.reason).to.match(/production: station/);
    const other = await keyOrigin(
      { verifier },
      BUREAU,
      "o1",
      { attestation, bureau: { cardSerial: "7002", batchId: "b1" } },
      NOW,
    );
    expect(!other.ok && other.reason).to.match(
      /the key is from card 7001, but the card recorded for this order is 7002/,
    );
  });
});

// Benchmarks, each beside a peer measured in the same run; prints JSON.
//  issuance: loa3-smartcard-auth, P-256 subject keys, SoftHSM2 P-256 CA key, durable SQLite record,
//            16 concurrent requests, vs raw PKCS#11 signing with the same key (REQ-26).
//  ocsp:     POST throughput and p99 over 10,000 distinct certificates, 16 connections, keep-alive (wrk) and one
//            connection per request, vs `openssl ocsp -index` one connection per request (REQ-20, RFC 6960).
//  crl:      time and peak RSS for full CRLs of 100,000 and 1,000,000 entries vs `openssl ca -gencrl` (REQ-20, RFC 5280
//            5).
//  ra:       full LoA3 order lifecycles per second on SQLite vs bare issuance in the same run (REQ-03, REQ-10).
//  audit:    hash-chained audit appends per second (target 5,000) vs the same rows unchained; verify 1M entries vs
//            reading them (REQ-27, REQ-31).
//  card:     PIV personalisations per minute through the virtual card on real pcscd, APDU round trips,
//            vs the raw APDU round trip and yubico-piv-tool doing the on-card part (REQ-14).
//  replicas: OCSP through one vs two `serve --role public` replicas, same client load (REQ-33).
//  ra-pg:    full LoA3 lifecycles on PostgreSQL vs SQLite in the same run (REQ-33; scripts/bench starts a local
//            PostgreSQL).
//  scale:    OCSP with N = 10k and 1M seeded certificates and pre-produced responses (10M with --scale-10m):
//            start to first answer, RSS, keep-alive and one-connection throughput over 10,000 distinct serials,
//            the nonce case, signatures at rest, /metrics scrape; vs openssl ocsp -index and cfssl ocspserve.
//            --scale-backends sqlite,postgres (postgres: scripts/bench starts a local PostgreSQL).
// Usage: scripts/bench [--suite issuance,ocsp,crl,ra,audit,card,replicas,ra-pg,scale,mass-revocation,bureau] [--seconds
// N] [--warm-up S] [--concurrency N] [--crl-sizes 100000,1000000] [--card-runs N] [--verify-entries 1000000]
// [--mass-count 100000] [--bureau-cards 10000] [--bureau-orders N (default: --bureau-cards)] [--scale-sizes
// 10000,1000000] [--scale-10m]
// [--scale-backends sqlite,postgres]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync, sign } from "node:crypto";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/composition/config.js";
import { setupDemo } from "../src/composition/demo-setup.js";
import { openOperatorCa } from "../src/composition/operator-role.js";
import { benchCrl, benchOcsp } from "./bench-revocation.js";
import { benchMassRevocation } from "./bench-mass-revocation.js";
import { benchOcspReplicas } from "./bench-scale.js";
import { benchOcspScale } from "./bench-ocsp-scale.js";
import pg from "pg";
import { benchCard } from "./bench-card.js";
import { benchAudit } from "./bench-audit.js";
import { benchBureau } from "./bench-bureau.js";
import { openRa } from "../src/composition/ra.js";
import { DEMO_OFFICERS, bootstrapDemoStaff } from "../src/composition/demo-setup.js";
import { staffActor } from "../src/composition/demo-orders.js";
import { fileRegister } from "../src/composition/file-register.js";
import type { Actor } from "../src/ra/order.js";
import { humanIdOf } from "../src/ra/human.js";
import { parseTemplateBody } from "../src/shared/message-template.js";
import { fixtureMakerRoot, produceAttested, trustFixtureMaker } from "../test/support/attestation-fixture.js";
import { softwareAttestation } from "../test/support/piv-attestation-maker.js";
import { systemClock } from "../src/shared/clock.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    concurrency: { type: "string", default: "16" },
    "warm-up": { type: "string", default: "3" },
    "skip-raw": { type: "boolean", default: false },
    suite: { type: "string", default: "issuance,ocsp,crl,ra" },
    "crl-sizes": { type: "string", default: "100000,1000000" },
    "ocsp-requests": { type: "string", default: "60000" },
    "card-runs": { type: "string", default: "20" },
    "verify-entries": { type: "string", default: "1000000" },
    "mass-count": { type: "string", default: "100000" },
    "bureau-cards": { type: "string", default: "10000" },
    "bureau-orders": { type: "string" }, // default: --bureau-cards (the whole import of that answer file)
    "scale-sizes": { type: "string", default: "10000,1000000" },
    "scale-10m": { type: "boolean", default: false },
    "scale-backends": { type: "string", default: "sqlite" },
  },
});
const suites = new Set(values.suite!.split(","));
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

/** Seconds of load before a window is measured, so V8 has optimised the hot code (steady state, as a server runs). */
const warmUpSeconds = Number(values["warm-up"]);

async function measure(concurrency: number, seconds: number, op: (worker: number) => Promise<unknown>) {
  // Warm-up under the same load, then a fixed wall-clock window.
  const warm = performance.now() + warmUpSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      do await op(w);
      while (performance.now() < warm);
    }),
  );
  let count = 0;
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const s = performance.now();
        await op(w);
        lat.push(performance.now() - s);
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(2));
  return {
    ops: count,
    seconds: Number(elapsed.toFixed(2)),
    perSecond: Math.round(count / elapsed),
    latencyMs: { p50: q(0.5), p99: q(0.99) },
    // Process CPU (all threads: JS, SQLite and PKCS#11 work) per operation: steadier than a rate on a shared machine.
    cpuMsPerOp: Number(((cpu.user + cpu.system) / 1000 / Math.max(1, count)).toFixed(2)),
  };
}

/**
 * Full LoA3 order lifecycles on SQLite: order (register check) → terms → two identifications →
 * approval → production (certificate from SoftHSM2) → hand-out → activation: 9 audited
 * compare-and-set transitions and one issuance each. Peer in the same run: bare issuance.
 */
async function benchRa(
  rt: Awaited<ReturnType<typeof openOperatorCa>>,
  issueOne: () => Promise<unknown>,
  concurrency: number,
  seconds: number,
) {
  const registerFile = join(dir, "bench-register.json");
  const people = Array.from({ length: concurrency * 4 }, (_, i) => `1970${String(i).padStart(8, "0")}`);
  writeFileSync(
    registerFile,
    JSON.stringify({
      people: Object.fromEntries(
        people.map((p, i) => [p, { status: "alive", givenName: "Bench", surname: `Person ${i}` }]),
      ),
    }),
  );
  trustFixtureMaker(rt.config.caStoreDir); // REQ-14: production takes the card's attestation (software test cards here)
  const ra = await openRa(rt, { register: fileRegister(registerFile) });
  const until = new Date(systemClock.now().getTime() + 86_400_000 * 30);
  // The service owner's initial staff group, bootstrapped once (REQ-24): setup-demo made it on SQLite, a fresh
  // PostgreSQL database gets its own. ada administers, ed (ca-operator) produces.
  if (!(await ra.directory.organisationByNumber("556000-0000")))
    await bootstrapDemoStaff(rt, ra, { operator: "bench" });
  const staff = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
  const producer = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId);
  const org = await ra.onboarding.registerOrganisation(staff, {
    orgNumber: "5561110000",
    name: "Bench Kund AB",
    country: "SE",
  });
  await ra.onboarding.recordOnboardingEvidence(staff, org.id, {
    registrationCertificate: "bench",
    domain: "bench.example",
    domainValidationMethod: "dns-txt",
  });
  const officers: Actor[] = [];
  for (let i = 0; i < 4; i++) {
    const p = await ra.onboarding.bindPerson(staff, org.id, {
      nationalId: `1980${String(i).padStart(8, "0")}`,
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
  const applicants: { id: string; nationalId: string }[] = [];
  for (const n of people)
    applicants.push({
      id: (await ra.onboarding.bindPerson(staff, org.id, { nationalId: n, name: `Holder ${n}` })).id,
      nationalId: n,
    });
  // REQ-10: o1, o2 identify; o4 approves and releases; o3 hands out
  const [o1, o2, o3, o4] = officers as [Actor, Actor, Actor, Actor];
  const doc = { type: "passport", number: "BENCH1234", expires: new Date("2035-01-01") };
  // The cards' part (key generation and attestation on the card) is made beforehand, as the old card keys were.
  const cards = Array.from({ length: 64 }, (_, i) =>
    softwareAttestation(fixtureMakerRoot(), { cardSerial: 70_000_000 + i }),
  );
  let k = 0;
  const lifecycle = async (w: number) => {
    const a = applicants[(w + concurrency * (k % 4)) % applicants.length]!;
    const o = await ra.orders.create(o1, { personId: a.id, workflowId: "loa3-card-order", nationalId: a.nationalId });
    const [note] = await ra.outbox.recent({ personId: a.id, limit: 1 });
    const token = parseTemplateBody(note!.body)!.params.token!; // the stored terms message (rendered at send time)
    await ra.orders.act(
      o.id,
      "accept-terms",
      { kind: "applicant", roles: [] },
      { applicantToken: token, termsVersion: rt.config.ra.termsVersion, accepted: true },
    );
    await ra.orders.act(o.id, "identify", o1, { document: doc, faceCompared: true });
    await ra.orders.act(o.id, "identify", o2, { document: doc, faceCompared: true });
    await ra.orders.act(o.id, "approve", o4, {});
    await ra.orders.act(o.id, "start-production", o4, {});
    // The card station's part: the card recorded for the order, then production with the card's attestation (verified
    // by the RA).
    const card = cards[k++ % cards.length]!;
    const produced = await produceAttested(rt, ra, o.id, producer, card);
    await ra.orders.act(o.id, "hand-out", o3, { secondIdentification: { document: doc, faceCompared: true } });
    // REQ-16: the station records the transport PIN replacement, the card (a software key here) signs the RA's
    // challenge.
    const holder: Actor = {
      kind: "holder",
      personId: a.id,
      humanId: ra.hasher.hash("national-id", a.nationalId),
      roles: [],
      credentialSerial: produced.certSerial!,
      loa: 3,
      credentialOnHold: true,
    };
    await ra.activation.recordPinReplacement(o3, o.id, {});
    const c = await ra.activation.challenge(holder, o.id);
    await ra.orders.act(o.id, "activate", holder, {
      challengeSignature: new Uint8Array(sign(c.hash, Buffer.from(c.message), card.privateKey)),
    });
  };
  const issuance = await measure(concurrency, Math.min(seconds, 5), issueOne);
  const result = await measure(concurrency, seconds, lifecycle);
  return {
    benchmark:
      `full LoA3 order lifecycles (10 audited compare-and-set transitions incl. ` +
      `the production saga's reserve, 1 HSM issuance on hold, the card record and ` +
      `a verified PIV attestation, the activation challenge and PIN record, the ` +
      `release each), ` +
      (rt.config.databaseUrl.startsWith("sqlite:")
        ? "SQLite WAL synchronous=FULL"
        : "PostgreSQL 15 (local, fsync on)") +
      `, in process`,
    concurrency,
    cardpki: result,
    issuanceAloneSameRun: issuance,
    ratioToIssuanceAlone: Number((result.perSecond / issuance.perSecond).toFixed(3)),
    target: { lifecyclesPerSecond: 200, met: result.perSecond >= 200 },
  };
}

const dir = mkdtempSync(join(tmpdir(), "cardpki-bench-"));
const report: Record<string, unknown> = { machine: { cpus: cpus().length, node: process.version } };
try {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CARDPKI_DATA_DIR: join(dir, "data"),
    CARDPKI_CA_STORE: join(dir, "ca-store"),
    CARDPKI_BASE_URL: "http://bench.test",
  };
  delete env.SOFTHSM2_CONF;
  await setupDemo(loadConfig(env), () => undefined, env);
  const rt = await openOperatorCa(loadConfig(env));
  const ca = rt.authority("demo-issuing");
  const subject = {
    CN: "Bench Person",
    serialNumber: "B-1",
    O: "Bench AB",
    organizationIdentifier: "NTRSE-5560000001",
    C: "SE",
  };
  const keys = Array.from(
    { length: 64 },
    () =>
      new Uint8Array(
        generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "der" }),
      ),
  );
  let n = 0;
  const issueOne = () =>
    rt.issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      publicKey: keys[n++ % keys.length]!,
      subject,
      requestedBy: "bench",
      allowedKinds: ["end-entity"],
    });

  if (suites.has("issuance")) {
    const data = new Uint8Array(200).fill(7);
    const rawSign = values["skip-raw"]
      ? { ops: 0, seconds: 0, perSecond: NaN, latencyMs: {} }
      : await measure(concurrency, seconds, () => ca.signer.sign(data));
    const batchesBefore = rt.store.batches;
    const issuance = await measure(concurrency, seconds, issueOne);
    const commits = rt.store.batches - batchesBefore;
    report.issuance = {
      benchmark: "issuance loa3-smartcard-auth, P-256 subject keys, SoftHSM2 P-256 CA key, SQLite WAL synchronous=FULL",
      concurrency,
      rawPkcs11Sign: { ...rawSign, note: "CKM_ECDSA over SHA-256, session pool, same token and key" },
      cardpki: {
        ...issuance,
        durableCommits: commits,
        certsPerCommit: Number(((2 * issuance.ops) / Math.max(1, commits)).toFixed(1)),
      },
      ratioToRawSign: Number((issuance.perSecond / rawSign.perSecond).toFixed(3)),
      target: { certificatesPerSecond: 1000, met: issuance.perSecond >= 1000 },
    };
  }
  if (suites.has("ra") || suites.has("ra-pg")) report.ra = await benchRa(rt, issueOne, concurrency, seconds);
  if (suites.has("ra-pg")) {
    // A fresh database on the PostgreSQL that scripts/bench started; the same CA, HSM and workload.
    const base = process.env.CARDPKI_BENCH_PG_URL;
    if (!base) throw new Error("ra-pg needs CARDPKI_BENCH_PG_URL (scripts/bench sets it)");
    const name = `bench_${systemClock.now().getTime().toString(36)}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    const base0 = loadConfig(env);
    const rtPg = await openOperatorCa({
      ...base0,
      databaseUrl: u.toString(),
      audit: { ...base0.audit, checkpointFile: join(dir, "pg-checkpoint.json") },
    });
    const caPg = rtPg.authority("demo-issuing");
    const issuePg = () =>
      rtPg.issuer.issue(caPg, {
        profileId: "loa3-smartcard-auth",
        publicKey: keys[n++ % keys.length]!,
        subject,
        requestedBy: "bench",
        allowedKinds: ["end-entity"],
      });
    const postgres = await benchRa(rtPg, issuePg, concurrency, seconds);
    await rtPg.close();
    const sqlite = report.ra as { cardpki: { perSecond: number } };
    report.raPostgres = {
      benchmark: "the ra suite's lifecycles on PostgreSQL vs SQLite, same run",
      sqlite: sqlite.cardpki,
      postgres: { ...postgres.cardpki, issuanceAloneSameRun: postgres.issuanceAloneSameRun },
      ratio: Number((postgres.cardpki.perSecond / sqlite.cardpki.perSecond).toFixed(2)),
    };
  }
  if (suites.has("audit")) report.audit = await benchAudit(rt, dir, measure, seconds, Number(values["verify-entries"]));
  if (suites.has("card")) report.card = await benchCard(rt, dir, Number(values["card-runs"]));
  if (suites.has("bureau"))
    report.bureau = await benchBureau(
      rt,
      dir,
      Number(values["bureau-cards"]),
      Number(values["bureau-orders"] ?? values["bureau-cards"]),
    );
  await rt.close();

  if (suites.has("ocsp")) report.ocsp = await benchOcsp(env, dir, Number(values["ocsp-requests"]));
  if (suites.has("replicas")) report.ocspReplicas = await benchOcspReplicas(env, dir, Math.min(seconds, 8));
  if (suites.has("mass-revocation"))
    report.massRevocation = await benchMassRevocation(env, dir, Number(values["mass-count"]));
  if (suites.has("crl")) report.crl = await benchCrl(env, dir, values["crl-sizes"]!.split(",").map(Number));
  if (suites.has("scale"))
    report.ocspScale = await benchOcspScale(env, dir, {
      sizes: [...values["scale-sizes"]!.split(",").map(Number), ...(values["scale-10m"] ? [10_000_000] : [])],
      backends: values["scale-backends"]!.split(",") as ("sqlite" | "postgres")[],
      seconds: Math.min(seconds, 8),
    });
  console.log(JSON.stringify(report, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

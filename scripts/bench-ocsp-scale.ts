// OCSP at national scale for scripts/bench --suite scale: N certificates seeded with their
// pre-produced responses, then per N: start to first answer, RSS, throughput and p50/p99 over
// 10,000 distinct serials (keep-alive and one connection per request), the nonce case, signatures
// at rest and the /metrics scrape, beside `openssl ocsp -index` and `cfssl ocspserve` on the same requests.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:net";
import { createPrivateKey, sign } from "node:crypto";
import { cryptoRandom } from "../src/shared/random.js";
import type { Knex } from "knex";
import pg from "pg";
import { loadConfig } from "../src/composition/config.js";
import { openOperatorCa } from "../src/composition/operator-role.js";
import { openKeystores } from "../src/composition/keystores.js";
import { loadOcspIssuers } from "../src/composition/public-role.js";
import { newSigningStats } from "../src/composition/signing-stats.js";
import { sha1Request, signOcsp, storedResponse, type OcspIssuer } from "../src/ca/ocsp/ocsp-signing.js";
import { certIdDer } from "../src/ca/ocsp/ocsp-response.js";
import { parseOcspRequest } from "../src/ca/ocsp/ocsp-request.js";
import { concat, derTlv, toPem } from "../src/asn1/der.js";
import { encodeOid } from "../src/asn1/der-reader.js";
import { openDatabase } from "../src/store/database.js";
import { closeDatabase } from "../src/store/commit-queue.js";
import { KnexOcspResponseStore } from "../src/store/ocsp-response.store.js";
import { systemClock } from "../src/shared/clock.js";
import { freePort, run, stopProcess } from "./bench-revocation.js";

const DISTINCT = 10_000;
const rnd = (n: number) => Buffer.from(cryptoRandom.bytes(n));
const randomBelow = (n: number) => rnd(4).readUInt32BE(0) % n;
const BENCH_SIGNER = "bench-ocsp";
const now = () => systemClock.now().getTime();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 16-byte serial whose DER INTEGER length never varies (top bit clear, no leading zero). */
const serialHex = () => {
  const b = rnd(16);
  b[0] = 0x40 | (b[0]! & 0x3f);
  return b.toString("hex");
};

/** OCSPRequest with one SHA-1 CertID, optionally with a 16-byte nonce (RFC 8954). */
function requestDer(issuer: OcspIssuer, serial: string, nonce?: Uint8Array): Uint8Array {
  const cid = certIdDer(sha1Request(issuer, serial));
  const list = derTlv(0x30, derTlv(0x30, cid));
  const ext = nonce
    ? derTlv(
        0xa2,
        derTlv(0x30, derTlv(0x30, concat(encodeOid("1.3.6.1.5.5.7.48.1.2"), derTlv(0x04, derTlv(0x04, nonce))))),
      )
    : new Uint8Array(0);
  return derTlv(0x30, derTlv(0x30, concat(list, ext)));
}

/** wrk with a Lua script that rotates through fixed-length request bodies; `close`: one connection per request. */
export async function wrkRotating(url: string, bodies: string, len: number, seconds: number, close: boolean) {
  const script = `${bodies}.${close ? "close" : "ka"}.lua`;
  const u = new URL(url);
  writeFileSync(
    script,
    `local f = io.open("${bodies}", "rb"); local data = f:read("*all"); f:close()
local L = ${len}; local n = math.floor(#data / L); local bodies = {}
for i = 0, n - 1 do bodies[i + 1] = data:sub(i * L + 1, (i + 1) * L) end
local headers = { ["Content-Type"] = "application/ocsp-request"${close ? ', ["Connection"] = "close"' : ""} }
local reqs = {}
local i = 0
-- Formatted in init: only then does wrk know the Host header.
function init(args)
  for k = 1, n do reqs[k] = wrk.format("POST", "${u.pathname}", headers, bodies[k]) end
  i = math.random(n)
end
function request() i = i % n + 1; return reqs[i] end
`,
  );
  const r = await run("wrk", ["-t1", "-c16", `-d${seconds}s`, "--latency", "-s", script, url]);
  const ms = (re: RegExp) => {
    const m = re.exec(r.stdout);
    return m ? Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]!]! : NaN;
  };
  const errors = /Socket errors: (.*)/.exec(r.stdout)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return {
    perSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN)),
    latencyMs: {
      p50: Number(ms(/50%\s+([\d.]+)(us|ms|s)/).toFixed(2)),
      p99: Number(ms(/99%\s+([\d.]+)(us|ms|s)/).toFixed(2)),
    },
    ...(errors ? { socketErrors: errors } : {}),
    ...(non2xx ? { non2xx } : {}),
  };
}

/**
 * One connection per request, the same client for every server: HTTP/1.0 POSTs over fresh TCP
 * connections (16 at a time), rotating the bodies, read until the server closes. (wrk cannot read
 * OpenSSL's responder, which answers HTTP/1.0 without keeping the connection.)
 */
export async function oneConnectionLoad(url: string, bodies: string, len: number, seconds: number) {
  const u = new URL(url);
  const data = readFileSync(bodies);
  const n = Math.floor(data.length / len);
  const reqs = Array.from({ length: n }, (_, i) =>
    Buffer.concat([
      Buffer.from(
        `POST ${u.pathname} HTTP/1.0\r\nHost: ${u.host}\r\nContent-Type: ` +
          `application/ocsp-request\r\nContent-Length: ${len}\r\n\r\n`,
      ),
      data.subarray(i * len, (i + 1) * len),
    ]),
  );
  const lat: number[] = [];
  let failed = 0;
  let next = randomBelow(n);
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      const sock = connect(Number(u.port), u.hostname);
      const chunks: Buffer[] = [];
      sock.on("connect", () => sock.write(reqs[next++ % n]!));
      sock.on("data", (c: Buffer) => chunks.push(c));
      sock.on("error", () => {
        failed++;
        resolve();
      });
      sock.on("close", () => {
        const head = chunks.length ? chunks[0]!.subarray(0, 12).toString("latin1") : "";
        if (/^HTTP\/1\.[01] 200/.test(head)) lat.push(performance.now() - t);
        else failed++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN).toFixed(2));
  return {
    perSecond: Math.round(lat.length / elapsed),
    latencyMs: { p50: q(0.5), p99: q(0.99) },
    ...(failed ? { failed } : {}),
  };
}

const rssMb = (pid: number) =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024);

async function ocspSignatures(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^cardpki_hsm_signatures_total\{key="ocsp:[^"]*"\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** Seeds certificates (realistic rows: a real certificate's TBS and DER) and their signed responses up to `n`. */
async function seed(
  db: Knex,
  issuer: OcspIssuer,
  template: { tbs: Buffer; der: Buffer },
  from: number,
  n: number,
  policy: Parameters<typeof signOcsp>[5],
  serials: string[],
  cfssl: NodeJS.WritableStream,
  index: NodeJS.WritableStream,
): Promise<{ seconds: number; perSecond: number }> {
  const t0 = now();
  const responses = new KnexOcspResponseStore(db);
  const notAfter = now() + 2 * 365 * 86_400_000;
  const yymmdd = new Date(notAfter).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  const BATCH = 2000;
  for (let i = from; i < n; i += BATCH) {
    const part = Array.from({ length: Math.min(BATCH, n - i) }, serialHex);
    const at = now();
    const rows = part.map((serial) => ({
      serial,
      issuer_id: issuer.ca.id,
      profile_id: "loa3-smartcard-auth",
      profile_version: 1,
      status: "issued",
      subject_dn: `CN=Bench Person ${serial.slice(0, 8)},O=Bench AB,C=SE`,
      not_before: at,
      not_after: notAfter,
      tbs: template.tbs,
      der: template.der,
      requested_by: "bench-scale",
      created_at: at,
      updated_at: at,
    }));
    await db.transaction(async (trx) => {
      for (let j = 0; j < rows.length; j += 200) await trx("certificates").insert(rows.slice(j, j + 200));
    });
    // The responses the producer would have made, signed by the responder key in the HSM.
    const stored = [];
    for (let j = 0; j < part.length; j += 64)
      stored.push(
        ...(await Promise.all(
          part.slice(j, j + 64).map(async (serial) => {
            const signed = await signOcsp(
              issuer,
              [sha1Request(issuer, serial)],
              [{ kind: "good" }],
              undefined,
              new Date(at),
              policy,
            );
            return storedResponse(issuer, serial, { kind: "good" }, signed, policy);
          }),
        )),
      );
    await responses.put(stored);
    for (const s of stored) cfssl.write(Buffer.from(s.der).toString("base64") + "\n");
    for (const s of part) index.write(`V\t${yymmdd}\t\t${s.toUpperCase()}\tunknown\t/CN=Bench Person ${s}\n`);
    serials.push(...part);
  }
  const seconds = (now() - t0) / 1000;
  return { seconds: Number(seconds.toFixed(1)), perSecond: Math.round((n - from) / Math.max(seconds, 0.001)) };
}

/** `cardpki serve --role all` as in production: time from spawn to the first successful OCSP answer. */
async function startServe(env: NodeJS.ProcessEnv, probe: Uint8Array, serialBytes: Buffer) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(import.meta.dirname, "..", "src", "cli", "main.js"), "serve"], {
    env: {
      ...env,
      CARDPKI_PORT: String(port),
      CARDPKI_HOST: "127.0.0.1",
      CARDPKI_RA_PORT: "0",
      CARDPKI_DRAIN_SECONDS: "0",
    },
    stdio: "ignore",
  });
  for (;;) {
    const body = await fetch(`${url}/ocsp`, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: probe,
    }).then(
      async (r) => (r.ok ? Buffer.from(await r.arrayBuffer()) : undefined),
      () => undefined,
    );
    // successful (0a 01 00) and about the serial asked for.
    if (body && body.indexOf(Buffer.from("0a0100", "hex")) === 4 && body.includes(serialBytes))
      return { url, child, firstAnswerMs: Math.round(performance.now() - t0), firstAnswer: body };
    if (child.exitCode !== null) throw new Error("cardpki serve exited");
    if (performance.now() - t0 > 120_000) {
      child.kill("SIGKILL");
      throw new Error("no OCSP answer within 120 s");
    }
    await sleep(20);
  }
}

async function peerProcess(cmd: string, args: string[], url: string, probe: Uint8Array): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: "ignore" });
  const t0 = performance.now();
  for (;;) {
    const ok = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: probe,
    })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return child;
    if (performance.now() - t0 > 600_000) throw new Error(`${cmd} did not answer`);
    await sleep(200);
  }
}

export async function benchOcspScale(
  baseEnv: NodeJS.ProcessEnv,
  dir: string,
  opts: { sizes: number[]; backends: ("sqlite" | "postgres")[]; seconds: number },
) {
  const out: Record<string, unknown> = {
    benchmark:
      "OCSP at scale: N certificates with pre-produced responses; cardpki serve " +
      "(role all) vs openssl ocsp -index and cfssl ocspserve on the same 10,000 " +
      "distinct requests; wrk -t1 -c16 keep-alive and Connection: close",
    note:
      "2 cores shared by the client, the servers and other work on this machine: " +
      "ratios within one run count, absolute rates vary",
  };
  // The delegated responder for this run: a P-256 key made in software, certified by the demo CA
  // (profile ocsp-signer) and imported into the CA's token. cardpki serve uses it from the HSM,
  // openssl ocsp -index from the file; the seeding signs with it in software.
  const sdir = join(dir, "scale-signer");
  mkdirSync(sdir, { recursive: true });
  const keyFile = join(sdir, "ocsp.key");
  await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile]);
  await run("openssl", ["req", "-new", "-key", keyFile, "-subj", "/CN=bench", "-out", join(sdir, "ocsp.csr")]);
  const setup = await openOperatorCa(loadConfig(baseEnv));
  const setupCa = setup.authority("demo-issuing");
  const osigner = await setup.issuer.issue(setupCa, {
    profileId: "ocsp-signer",
    csr: readFileSync(join(sdir, "ocsp.csr"), "utf8"),
    subject: { CN: "cardpki bench OCSP responder" },
    requestedBy: "bench",
    allowedKinds: ["infrastructure"],
  });
  const tplRow: { tbs: Buffer; der: Buffer } = await setup
    .db("certificates")
    .where({ serial: osigner.serial })
    .first("tbs", "der");
  const baseConfig = loadConfig(baseEnv);
  await setup.close();
  writeFileSync(join(sdir, "ocsp.pem"), toPem("CERTIFICATE", osigner.der));
  writeFileSync(join(sdir, "ca.pem"), toPem("CERTIFICATE", setupCa.certDer!));
  const token = "cardpki-issuing";
  const pin = readFileSync(join(baseConfig.dataDir, "pins", `${token}.pin`), "utf8").trim();
  const id = rnd(16).toString("hex");
  const imp = await run(
    "softhsm2-util",
    ["--import", keyFile, "--token", token, "--label", BENCH_SIGNER, "--id", id, "--pin", pin],
    { env: { ...process.env, SOFTHSM2_CONF: join(baseConfig.dataDir, "softhsm", "softhsm2.conf") } },
  );
  if (imp.code !== 0) throw new Error(`softhsm2-util --import: ${imp.stderr}`);
  const sigDir = join(baseConfig.caStoreDir, "demo-issuing", "ocsp-signers", BENCH_SIGNER);
  mkdirSync(sigDir, { recursive: true });
  writeFileSync(join(sigDir, "cert.pem"), toPem("CERTIFICATE", osigner.der));
  writeFileSync(
    join(sigDir, "key.uri"),
    `pkcs11:token=${token};object=${BENCH_SIGNER};id=${id.replace(/(..)/g, "%$1")};type=private\n`,
  );
  const softKey = createPrivateKey(readFileSync(keyFile));
  for (const backend of opts.backends) {
    const env: NodeJS.ProcessEnv = { ...baseEnv, CARDPKI_HSM_SESSIONS: "8" };
    if (backend === "postgres") {
      const base = process.env.CARDPKI_BENCH_PG_URL;
      if (!base) throw new Error("--scale-backends postgres needs CARDPKI_BENCH_PG_URL (scripts/bench sets it)");
      const name = `scale_${now().toString(36)}`;
      const admin = new pg.Client({ connectionString: base });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const u = new URL(base);
      u.pathname = `/${name}`;
      env.DATABASE_URL = u.toString();
      env.CARDPKI_AUDIT_CHECKPOINT_FILE = join(dir, `${name}-checkpoint.json`);
    }
    const config = loadConfig(env);
    const pdir = join(dir, `scale-${backend}`);
    mkdirSync(pdir, { recursive: true });
    const rt = await openOperatorCa(config);
    const ca = rt.authority("demo-issuing");
    const keystores = openKeystores(config);
    const [hsmIssuer] = await loadOcspIssuers({ config, clock: systemClock }, [ca], keystores, newSigningStats());
    if (hsmIssuer?.responder.label !== BENCH_SIGNER) throw new Error("the bench responder is not the one in use");
    // Seeding signs with the same key in software (the HSM copy answers in the server): 1M in minutes, not an hour.
    const issuer: OcspIssuer = {
      ...hsmIssuer,
      responder: {
        ...hsmIssuer.responder,
        signer: {
          ...hsmIssuer.responder.signer,
          sign: async (d) => sign("sha256", d, { key: softKey, dsaEncoding: "der" }),
        },
      },
    };
    const db = await openDatabase(config.databaseUrl);
    const serials: string[] = [];
    const cfsslFile = join(pdir, "responses.b64");
    const indexFile = join(pdir, "index.txt");
    const cfsslOut = createWriteStream(cfsslFile);
    const indexOut = createWriteStream(indexFile);
    const perN: Record<string, unknown>[] = [];
    let seeded = 0;
    try {
      for (const n of opts.sizes) {
        const seeding = await seed(db, issuer, tplRow, seeded, n, rt.revocationPolicy, serials, cfsslOut, indexOut);
        seeded = n;
        await new Promise<void>((r) => cfsslOut.write("", () => r()));
        await new Promise<void>((r) => indexOut.write("", () => r()));
        // The same 10,000 distinct requests for every server (fixed-length bodies).
        const picks = Array.from({ length: DISTINCT }, () => serials[randomBelow(serials.length)]!);
        const plain = picks.map((s) => requestDer(issuer, s));
        const withNonce = picks.map((s) => requestDer(issuer, s, rnd(16)));
        if (parseOcspRequest(withNonce[0]!, 1).nonce === undefined) throw new Error("nonce body not parsed");
        const plainFile = join(pdir, `plain-${n}.bin`);
        const nonceFile = join(pdir, `nonce-${n}.bin`);
        writeFileSync(plainFile, Buffer.concat(plain));
        writeFileSync(nonceFile, Buffer.concat(withNonce));
        const len = plain[0]!.length;
        const nlen = withNonce[0]!.length;
        const probeSerial = Buffer.from(picks[0]!, "hex");

        const svc = await startServe(env, plain[0]!, probeSerial);
        let ours: Record<string, unknown>;
        try {
          writeFileSync(join(pdir, "first.der"), svc.firstAnswer);
          const judged = await run("openssl", [
            "ocsp",
            "-respin",
            join(pdir, "first.der"),
            "-issuer",
            join(sdir, "ca.pem"),
            "-serial",
            `0x${picks[0]}`,
            "-CAfile",
            join(config.caStoreDir, "demo-root", "cert.pem"),
            "-verify_other",
            join(sdir, "ca.pem"),
          ]);
          const rssStart = rssMb(svc.child.pid!);
          const sig0 = await ocspSignatures(svc.url);
          // Three keep-alive runs from 5 s after start on: the first one meets every serial for the first time.
          const keepAliveRuns = [];
          for (let i = 0; i < 3; i++)
            keepAliveRuns.push(await wrkRotating(`${svc.url}/ocsp`, plainFile, len, opts.seconds, false));
          const keepAlive = { ...keepAliveRuns[2]!, runs: keepAliveRuns.map((r) => [r.perSecond, r.latencyMs.p99]) };
          const oneConnection = await oneConnectionLoad(`${svc.url}/ocsp`, plainFile, len, opts.seconds);
          const sig1 = await ocspSignatures(svc.url);
          const nonce = await wrkRotating(`${svc.url}/ocsp`, nonceFile, nlen, opts.seconds, false);
          const sig2 = await ocspSignatures(svc.url);
          const rssLoaded = rssMb(svc.child.pid!);
          const restSeconds = 20;
          await sleep(restSeconds * 1000);
          const sig3 = await ocspSignatures(svc.url);
          const scrapes: number[] = [];
          for (let i = 0; i < 10; i++) {
            const t = performance.now();
            await (await fetch(`${svc.url}/metrics`)).text();
            scrapes.push(performance.now() - t);
          }
          scrapes.sort((a, b) => a - b);
          const p = rt.revocationPolicy.ocsp;
          ours = {
            firstAnswerMs: svc.firstAnswerMs,
            firstAnswerJudgedByOpenssl:
              /: good/.test(judged.stdout) && /Response verify OK/.test(judged.stdout + judged.stderr),
            rssMb: { afterStart: rssStart, afterLoad: rssLoaded },
            keepAlive,
            oneConnection,
            signaturesDuringPlainLoad: sig1 - sig0,
            nonceKeepAlive: {
              ...nonce,
              signatures: sig2 - sig1,
              note:
                `nonce: ${p.nonce}; on-demand budget ${p.onDemand.perClientPerSecond}/s ` +
                `burst ${p.onDemand.perClientBurst} per client (one client here): over ` +
                `budget the pre-produced response without nonce`,
            },
            signaturesAtRest: {
              measuredOverSeconds: restSeconds,
              signatures: sig3 - sig2,
              perHourExtrapolated: Math.round(((sig3 - sig2) * 3600) / restSeconds),
              steadyStatePerHour: Math.round(n / ((p.refreshMinutes * 0.875) / 60)),
              bound:
                `N / (validity - margin) = ${n} / ${(p.refreshMinutes / 60).toFixed(1)} h = ` +
                `${Math.round(n / (p.refreshMinutes / 60))} per hour`,
            },
            metricsScrapeMs: { median: Number(scrapes[5]!.toFixed(1)), max: Number(scrapes[9]!.toFixed(1)) },
          };
        } finally {
          await stopProcess(svc.child);
        }
        // cfssl ocspserve serving the same pre-signed responses.
        const cport = await freePort();
        const cfssl = await peerProcess(
          "cfssl",
          ["ocspserve", "-address", "127.0.0.1", "-port", String(cport), "-responses", cfsslFile, "-loglevel", "5"],
          `http://127.0.0.1:${cport}/`,
          plain[0]!,
        );
        let cfsslRes;
        try {
          cfsslRes = {
            rssMb: rssMb(cfssl.pid!),
            keepAlive: await wrkRotating(`http://127.0.0.1:${cport}/`, plainFile, len, opts.seconds, false),
            oneConnection: await oneConnectionLoad(`http://127.0.0.1:${cport}/`, plainFile, len, opts.seconds),
          };
        } finally {
          cfssl.kill("SIGKILL");
        }
        // openssl ocsp -index: signs each answer, one request per connection.
        const oport = await freePort();
        const ossl = await peerProcess(
          "openssl",
          [
            "ocsp",
            "-index",
            indexFile,
            "-port",
            String(oport),
            "-rsigner",
            join(sdir, "ocsp.pem"),
            "-rkey",
            keyFile,
            "-CA",
            join(sdir, "ca.pem"),
            "-ignore_err",
          ],
          `http://127.0.0.1:${oport}/`,
          plain[0]!,
        );
        let opensslRes;
        try {
          opensslRes = {
            rssMb: rssMb(ossl.pid!),
            oneConnection: await oneConnectionLoad(`http://127.0.0.1:${oport}/`, plainFile, len, opts.seconds),
          };
        } finally {
          ossl.kill("SIGKILL");
        }
        const o = ours as { keepAlive: { perSecond: number }; oneConnection: { perSecond: number } };
        const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
        perN.push({
          n,
          seeding,
          cardpki: ours,
          cfssl: cfsslRes,
          openssl: opensslRes,
          ratios: {
            keepAliveVsCfssl: ratio(o.keepAlive.perSecond, cfsslRes.keepAlive.perSecond),
            oneConnectionVsCfssl: ratio(o.oneConnection.perSecond, cfsslRes.oneConnection.perSecond),
            oneConnectionVsOpenssl: ratio(o.oneConnection.perSecond, opensslRes.oneConnection.perSecond),
          },
        });
      }
    } finally {
      cfsslOut.end();
      indexOut.end();
      await closeDatabase(db);
      await keystores.close();
      await rt.close();
    }
    const first = perN[0] as { cardpki: { keepAlive: { perSecond: number }; oneConnection: { perSecond: number } } };
    const growth = perN.map((r) => {
      const c = (r as typeof first).cardpki;
      return {
        n: (r as { n: number }).n,
        keepAliveVsSmallest: Number((c.keepAlive.perSecond / first.cardpki.keepAlive.perSecond).toFixed(2)),
        oneConnectionVsSmallest: Number((c.oneConnection.perSecond / first.cardpki.oneConnection.perSecond).toFixed(2)),
      };
    });
    out[backend] = { perN, growth };
  }
  return out;
}

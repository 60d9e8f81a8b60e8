// OCSP and CRL benchmarks for scripts/bench: cardpki beside OpenSSL in the same run.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { generateKeyPairSync } from "node:crypto";
import { loadConfig } from "../src/composition/config.js";
import { openRuntime } from "../src/composition/runtime.js";
import { certIdDer } from "../src/ca/ocsp/ocsp-response.js";
import { derTlv, toPem } from "../src/asn1/der.js";
import { createHash } from "node:crypto";
import { spkiParts } from "../src/ca/spki.js";
import { openDatabase } from "../src/store/database.js";
import { systemClock } from "../src/shared/clock.js";

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Runs ab (ApacheBench) and reads throughput and latency percentiles. */
async function ab(url: string, body: string, requests: number, keepAlive: boolean) {
  const r = await run("ab", [
    ...(keepAlive ? ["-k"] : []),
    "-q",
    "-n",
    String(requests),
    "-c",
    "16",
    "-p",
    body,
    "-T",
    "application/ocsp-request",
    url,
  ]);
  const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  return {
    requests: num(/Complete requests:\s+(\d+)/),
    // ab counts a response whose length differs from the first as "failed": ECDSA signatures vary by a byte or two.
    lengthVaries: num(/Failed requests:\s+(\d+)/),
    non2xx: num(/Non-2xx responses:\s+(\d+)/) || 0,
    perSecond: Math.round(num(/Requests per second:\s+([\d.]+)/)),
    latencyMs: { p50: num(/\n\s+50%\s+(\d+)/), p99: num(/\n\s+99%\s+(\d+)/), max: num(/\n\s+100%\s+(\d+)/) },
  };
}

/** wrk (two threads, keep-alive): a second client, so the figure is not just the single-threaded ab's limit. */
export async function wrk(url: string, body: string, seconds: number, threads = 2, connections = 16) {
  const script = body + ".lua";
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/ocsp-request"\nlocal f = io.open("${body}", "rb"); wrk.body = f:read("*all"); f:close()\n`,
  );
  const r = await run("wrk", [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url]);
  const ms = (re: RegExp) => {
    const m = re.exec(r.stdout);
    return m ? Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]!]! : NaN;
  };
  return {
    perSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN)),
    latencyMs: { p50: ms(/50%\s+([\d.]+)(us|ms|s)/), p99: ms(/99%\s+([\d.]+)(us|ms|s)/) },
  };
}

/** `cardpki serve` in its own process, as in production; resolves once /healthz answers 200. */
export async function serveProcess(
  env: NodeJS.ProcessEnv,
  role: "all" | "public",
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "..", "src", "cli", "main.js"), "serve", "--role", role],
    {
      env: {
        ...env,
        CARDPKI_PORT: String(port),
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_RA_PORT: "0",
        CARDPKI_DRAIN_SECONDS: "0",
      },
      stdio: "ignore",
    },
  );
  for (let i = 0; i < 150; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error(`cardpki serve --role ${role} did not become healthy`);
}

export const stopProcess = (c: ChildProcess) =>
  new Promise((r) => {
    c.once("exit", r);
    c.kill("SIGTERM");
  });

export function ocspRequestDer(issuerNameDer: Uint8Array, issuerSpki: Uint8Array, serial: string): Uint8Array {
  const cid = certIdDer({
    hashOid: "1.3.14.3.2.26",
    serial,
    issuerNameHash: createHash("sha1").update(issuerNameDer).digest("hex"),
    issuerKeyHash: createHash("sha1").update(spkiParts(issuerSpki).bits).digest("hex"),
  });
  return derTlv(0x30, derTlv(0x30, derTlv(0x30, derTlv(0x30, cid))));
}

const yymmdd = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";

export async function benchOcsp(env: NodeJS.ProcessEnv, dir: string, requests: number) {
  const config = loadConfig(env);
  const rt = await openRuntime(config);
  const ca = rt.authority("demo-issuing");
  const subject = { CN: "Bench Person", O: "Bench AB", organizationIdentifier: "NTRSE-5560000001", C: "SE" };
  const key = new Uint8Array(
    generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "der" }),
  );
  const serials: { serial: string; notAfter: Date }[] = [];
  for (let i = 0; i < 10_000; i += 16)
    serials.push(
      ...(await Promise.all(
        Array.from({ length: 16 }, () =>
          rt.issuer.issue(ca, {
            profileId: "loa3-smartcard-auth",
            publicKey: key,
            subject,
            requestedBy: "bench-ocsp",
            allowedKinds: ["end-entity"],
          }),
        ),
      )),
    );
  // A software-key OCSP signer for OpenSSL's responder, certified by the same CA.
  const odir = join(dir, "openssl-ocsp");
  mkdirSync(odir, { recursive: true });
  await run("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    join(odir, "ocsp.key"),
  ]);
  await run("openssl", [
    "req",
    "-new",
    "-key",
    join(odir, "ocsp.key"),
    "-subj",
    "/CN=bench",
    "-out",
    join(odir, "ocsp.csr"),
  ]);
  const signer = await rt.issuer.issue(ca, {
    profileId: "ocsp-signer",
    csr: readFileSync(join(odir, "ocsp.csr"), "utf8"),
    subject: { CN: "OpenSSL bench responder" },
    requestedBy: "bench",
    allowedKinds: ["infrastructure"],
  });
  writeFileSync(join(odir, "ocsp.pem"), toPem("CERTIFICATE", signer.der));
  writeFileSync(join(odir, "ca.pem"), toPem("CERTIFICATE", ca.certDer!));
  writeFileSync(
    join(odir, "index.txt"),
    serials
      .map((s) => `V\t${yymmdd(s.notAfter)}\t\t${s.serial.toUpperCase()}\tunknown\t/CN=Bench Person ${s.serial}`)
      .join("\n") + "\n",
  );
  const body = join(odir, "req.der");
  writeFileSync(body, ocspRequestDer(ca.nameDer, ca.signer.spki, serials[1234]!.serial));
  await rt.close();

  // The responder as it runs in production: `cardpki serve` in its own process.
  const { url: svcUrl, child: server } = await serveProcess(env, "all");
  const probe = Buffer.from(
    await (
      await fetch(`${svcUrl}/ocsp`, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request" },
        body: readFileSync(body),
      })
    ).arrayBuffer(),
  );
  // Let the start-up pre-signing of 10,000 responses finish before measuring the steady state.
  await new Promise((r) => setTimeout(r, 4000));
  await ab(`${svcUrl}/ocsp`, body, 2000, true); // warm-up
  // Client and server share two cores: three runs each, the median reported.
  const median = <T extends { perSecond: number }>(xs: T[]) => xs.sort((a, b) => a.perSecond - b.perSecond)[1]!;
  const oursRuns = [];
  for (let i = 0; i < 3; i++) oursRuns.push(await ab(`${svcUrl}/ocsp`, body, requests, true));
  const ours = { ...median(oursRuns), runs: oursRuns.map((r) => r.perSecond) };
  const oursWrk = await wrk(`${svcUrl}/ocsp`, body, 5);
  await stopProcess(server);

  // OpenSSL's responder serves one request per connection and stops after -nrequest: a fresh one per run.
  const peerRequests = Math.min(requests, 20_000);
  const peerRuns = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const responder = spawn(
      "openssl",
      [
        "ocsp",
        "-index",
        join(odir, "index.txt"),
        "-port",
        String(port),
        "-rsigner",
        join(odir, "ocsp.pem"),
        "-rkey",
        join(odir, "ocsp.key"),
        "-CA",
        join(odir, "ca.pem"),
        "-nrequest",
        String(peerRequests + 10),
        "-ignore_err",
      ],
      { stdio: "ignore" },
    );
    await new Promise((r) => setTimeout(r, 500));
    peerRuns.push(await ab(`http://127.0.0.1:${port}/`, body, peerRequests, false));
    responder.kill("SIGKILL");
  }
  const peer = { ...median(peerRuns), runs: peerRuns.map((r) => r.perSecond) };
  return {
    benchmark: "OCSP POST, 10,000 certificates, one CertID without nonce, 16 connections (ab), loopback",
    cardpki: {
      ...ours,
      process: "cardpki serve",
      responseOk: probe[0] === 0x30 && probe.indexOf(Buffer.from("0a0100", "hex")) === 4,
      wrk: {
        ...oursWrk,
        note: "wrk -t2 -c16 keep-alive; OpenSSL's responder cannot be driven by wrk (one HTTP/1.0 request per connection)",
      },
    },
    openssl: { ...peer, note: "openssl ocsp -index, software P-256 key, one request per connection" },
    ratio: Number((ours.perSecond / peer.perSecond).toFixed(2)),
    target: { ratio: 3, p99Ms: 5, met: ours.perSecond >= 3 * peer.perSecond && ours.latencyMs.p99 <= 5 },
  };
}

export async function benchCrl(env: NodeJS.ProcessEnv, dir: string, sizes: number[]) {
  const config = loadConfig(env);
  const odir = join(dir, "openssl-crl");
  mkdirSync(odir, { recursive: true });
  // OpenSSL's CA: a software P-256 key, the same entries in its index.txt.
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    join(odir, "ca.key"),
    "-subj",
    "/CN=OpenSSL bench CA",
    "-days",
    "30",
    "-out",
    join(odir, "ca.pem"),
  ]);
  writeFileSync(
    join(odir, "ca.cnf"),
    `[ca]\ndefault_ca = bench\n[bench]\ndatabase = ${join(odir, "index.txt")}\ncrlnumber = ${join(odir, "crlnumber")}\ndefault_md = sha256\ndefault_crl_days = 1\nunique_subject = no\ncrl_extensions = crl_ext\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
  );
  writeFileSync(join(odir, "index.txt.attr"), "unique_subject = no\n");
  const db = await openDatabase(config.databaseUrl);
  const now = systemClock.now().getTime();
  const notAfter = now + 365 * 86_400_000;
  const out: Record<string, unknown>[] = [];
  let have = 0;
  const lines: string[] = [];
  for (const size of sizes) {
    // Revoked certificate rows, as many as this size needs (cumulative).
    const rows: Record<string, unknown>[] = [];
    const flush = async () => {
      if (rows.length) await db.batchInsert("certificates", rows.splice(0), 500);
    };
    for (; have < size; have++) {
      const serial = "03" + have.toString(16).padStart(32, "0");
      rows.push({
        serial,
        issuer_id: "demo-issuing",
        profile_id: "loa3-smartcard-auth",
        profile_version: 1,
        status: "issued",
        subject_dn: "CN=bench",
        not_before: now,
        not_after: notAfter,
        tbs: Buffer.alloc(0),
        der: null,
        requested_by: "bench-crl",
        created_at: now,
        updated_at: now,
        revoked_at: now,
        revocation_reason: have % 3 ? "keyCompromise" : "superseded",
      });
      lines.push(
        `R\t${yymmdd(new Date(notAfter))}\t${yymmdd(new Date(now))},${have % 3 ? "keyCompromise" : "superseded"}\t${serial.toUpperCase()}\tunknown\t/CN=bench`,
      );
      if (rows.length >= 20_000) await flush();
    }
    await flush();
    writeFileSync(join(odir, "index.txt"), lines.join("\n") + "\n");
    writeFileSync(join(odir, "crlnumber"), "01\n");
    const ours = await run(
      "/usr/bin/time",
      ["-f", "%e %M", process.execPath, join(import.meta.dirname, "bench-crl-child.js")],
      { env },
    );
    const [oursSec, oursKb] = ours.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    const child = JSON.parse(ours.stdout.trim().split("\n").pop()!);
    const peer = await run("/usr/bin/time", [
      "-f",
      "%e %M",
      "openssl",
      "ca",
      "-gencrl",
      "-config",
      join(odir, "ca.cnf"),
      "-keyfile",
      join(odir, "ca.key"),
      "-cert",
      join(odir, "ca.pem"),
      "-out",
      join(odir, "crl.pem"),
    ]);
    const [peerSec, peerKb] = peer.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    out.push({
      entries: size,
      cardpki: {
        crlSeconds: child.seconds,
        processSeconds: oursSec,
        peakRssMb: Math.round(oursKb! / 1024),
        crlBytes: child.bytes,
        entriesOnCrl: child.entries,
      },
      openssl: { processSeconds: peerSec, peakRssMb: Math.round(peerKb! / 1024) },
      timeRatio: Number((oursSec! / peerSec!).toFixed(2)),
    });
  }
  await db.destroy();
  const big = out[out.length - 1] as { cardpki: { peakRssMb: number }; timeRatio: number } | undefined;
  return {
    benchmark:
      "full CRL from the database, streamed DER, signed in SoftHSM2, vs openssl ca -gencrl (software key) on the same entries",
    runs: out,
    target: {
      timeRatio: 1.5,
      peakRssMbAt1M: 512,
      met: big ? big.timeRatio <= 1.5 && big.cardpki.peakRssMb <= 512 : false,
    },
  };
}

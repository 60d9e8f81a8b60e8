// OCSP and CRL benchmarks for scripts/bench: cardpki beside OpenSSL in the same run.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { generateKeyPairSync } from "node:crypto";
import { loadConfig } from "../src/composition/config.js";
import { openOperatorCa } from "../src/composition/operator-role.js";
import { certIdDer } from "../src/ca/ocsp/ocsp-response.js";
import { derTlv, toPem } from "../src/asn1/der.js";
import { createHash } from "node:crypto";
import { spkiParts } from "../src/ca/spki.js";
import { openDatabase } from "../src/store/database.js";
import { systemClock } from "../src/shared/clock.js";
import { oneConnectionLoad, wrkRotating } from "./bench-ocsp-scale.js";

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

/** wrk (two threads, keep-alive): a second client, so the figure is not just the single-threaded ab's limit. */
export async function wrk(url: string, body: string, seconds: number, threads = 2, connections = 16) {
  const script = body + ".lua";
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = ` +
      `"application/ocsp-request"\nlocal f = io.open("${body}", "rb"); wrk.body = ` +
      `f:read("*all"); f:close()\n`,
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
  const rt = await openOperatorCa(config);
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
  // 10,000 distinct requests (one per certificate), fixed length so wrk's script can rotate them.
  const reqs = serials.map((s) => ocspRequestDer(ca.nameDer, ca.signer.spki, s.serial));
  const counts = new Map<number, number>();
  for (const r of reqs) counts.set(r.length, (counts.get(r.length) ?? 0) + 1);
  const len = [...counts].sort((x, y) => y[1] - x[1])[0]![0];
  const distinct = reqs.filter((r) => r.length === len);
  const bodies = join(odir, "requests.bin");
  writeFileSync(bodies, Buffer.concat(distinct));
  const body = join(odir, "req.der");
  writeFileSync(body, distinct[0]!);
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
  // Client and server share two cores: three runs each, the median reported.
  const median = <T extends { perSecond: number }>(xs: T[]) => xs.sort((a, b) => a.perSecond - b.perSecond)[1]!;
  const seconds = Math.max(3, Math.round(requests / 10_000));
  const kaRuns = [];
  for (let i = 0; i < 3; i++) kaRuns.push(await wrkRotating(`${svcUrl}/ocsp`, bodies, len, seconds, false));
  const oneRuns = [];
  for (let i = 0; i < 3; i++) oneRuns.push(await oneConnectionLoad(`${svcUrl}/ocsp`, bodies, len, seconds));
  await stopProcess(server);

  // OpenSSL's responder serves one request per connection: compared with our one-connection figure.
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
        "-ignore_err",
      ],
      { stdio: "ignore" },
    );
    await new Promise((r) => setTimeout(r, 500));
    peerRuns.push(await oneConnectionLoad(`http://127.0.0.1:${port}/`, bodies, len, seconds));
    responder.kill("SIGKILL");
  }
  const ka = { ...median(kaRuns), runs: kaRuns.map((r) => r.perSecond) };
  const one = { ...median(oneRuns), runs: oneRuns.map((r) => r.perSecond) };
  const peer = { ...median(peerRuns), runs: peerRuns.map((r) => r.perSecond) };
  return {
    benchmark:
      `OCSP POST, ${distinct.length} distinct certificates rotated (one CertID ` +
      `without nonce each), 16 connections, loopback`,
    cardpki: {
      process: "cardpki serve",
      responseOk: probe[0] === 0x30 && probe.indexOf(Buffer.from("0a0100", "hex")) === 4,
      keepAlive: { ...ka, client: "wrk -t1 -c16, Lua script rotating the bodies" },
      oneConnection: { ...one, client: "HTTP/1.0, a new TCP connection per request (the same client as for OpenSSL)" },
    },
    openssl: {
      ...peer,
      note: "openssl ocsp -index, software P-256 key, signs every answer, one request per connection",
    },
    ratioOneConnection: Number((one.perSecond / peer.perSecond).toFixed(2)),
    target: {
      ratio: 3,
      p99Ms: 5,
      met: one.perSecond >= 3 * peer.perSecond && one.latencyMs.p99 <= 5,
      note: "like modes: one connection per request on both sides; keep-alive reported beside it",
    },
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
    `[ca]\ndefault_ca = bench\n[bench]\ndatabase = ` +
      `${join(odir, "index.txt")}\ncrlnumber = ` +
      `${join(odir, "crlnumber")}\ndefault_md = sha256\ndefault_crl_days = ` +
      `1\nunique_subject = no\ncrl_extensions = ` +
      `crl_ext\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
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
        `R\t${yymmdd(new Date(notAfter))}\t${yymmdd(new Date(now))},${have % 3 ? "keyCompromise" : "superseded"}` +
          `\t${serial.toUpperCase()}\tunknown\t/CN=bench`,
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
      "full CRL from the database, streamed DER, signed in SoftHSM2, vs openssl ca " +
      "-gencrl (software key) on the same entries",
    runs: out,
    target: {
      timeRatio: 1.5,
      peakRssMbAt1M: 512,
      met: big ? big.timeRatio <= 1.5 && big.cardpki.peakRssMb <= 512 : false,
    },
  };
}

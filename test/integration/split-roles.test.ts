import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { X509Certificate, createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/composition/config.js";
import { openOperatorCa, type Opened, type OperatorCa } from "../../src/composition/operator-role.js";
import { openRa, type Ra } from "../../src/composition/ra.js";
import { writeSignerChannelCertificates, type SignerChannelFiles } from "../../src/composition/signer-channel-tls.js";
import { systemClock } from "../../src/shared/clock.js";
import { cryptoRandom } from "../../src/shared/random.js";
import { CLI, demoEnvReady, waitFor, type DemoEnv } from "../support/environment.js";
import { freePort } from "../support/free-port.js";
import { raRequest, type ClientCred, type RaReply } from "../support/ra-client.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { expectOcsp } from "../support/ocsp-judged.js";

/** `cardpki serve --role <role>` as a child process, its JSON log lines collected. */
function serveChild(
  role: string,
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; lines: () => string; exited: Promise<number> } {
  const child = spawn(process.execPath, [CLI, "serve", "--role", role], {
    env: { ...env, CARDPKI_LOG_FORMAT: "json", CARDPKI_DRAIN_SECONDS: "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number>((r) => child.once("exit", (code) => r(code ?? -1)));
  return { child, lines: () => err, exited };
}

const health = (url: string) =>
  fetch(`${url}/healthz`).then(
    async (r) => ({ status: r.status, body: (await r.json()) as { checks: Record<string, string> } }),
    () => ({ status: 0, body: { checks: {} } }),
  );
const metric = async (url: string, re: RegExp) =>
  Number(re.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? Number.NaN);

/**
 * The split deployment (design: one process per security context, as boulder's cmd/): the CA
 * signer with the CA keys behind a mutual-TLS channel, the RA in front signing through it, and a
 * public replica for OCSP and CRLs: three real processes on one database. A card order runs
 * through the RA API with officers' client certificates to OCSP good at the public replica.
 */
describe("split roles: serve --role ca-signer + ra + public as three processes (sqlite)", function () {
  this.timeout(240_000);
  let demo: DemoEnv;
  let peers: DeliveryPeers;
  let channel: SignerChannelFiles;
  let rogue: SignerChannelFiles;
  let signer: ReturnType<typeof serveChild>;
  let ra: ReturnType<typeof serveChild>;
  let pub: ReturnType<typeof serveChild>;
  const url = { signerHealth: "", signer: "", raHealth: "", ra: "", pub: "" };
  let serverCa: string;
  let config: Config;
  // The card station's record of the software card (fixture, as in the RA API tests); nothing is read back from it.
  let station: { rt: Opened<OperatorCa>; ra: Ra } | undefined;
  const D: Record<string, ClientCred> = {};
  let cardPem = "";

  const call = (method: string, path: string, body: unknown, cred: ClientCred): Promise<RaReply> =>
    raRequest({ base: new URL(url.ra), ca: serverCa }, method, path, { body, cred });
  const ok = async (p: Promise<RaReply>, status = 200) => {
    const r = await p;
    expect(r.status, r.text).to.equal(status);
    return r.body;
  };
  /** One message on the signer channel, as raw bytes, with the given client credential. */
  const toSigner = (raw: string, cred?: ClientCred) =>
    raRequest({ base: new URL(url.signer), ca: readFileSync(channel.ca, "utf8") }, "POST", "/cardpki-signer", {
      raw,
      headers: { "content-type": "application/json" },
      agent: false,
      ...(cred ? { cred } : {}),
    });
  const raClient = (): ClientCred => ({
    cert: readFileSync(channel.clientCert, "utf8"),
    key: readFileSync(channel.clientKey, "utf8"),
  });

  before(async function () {
    demo = await demoEnvReady(this, "sqlite");
    // REQ-14: the software test card's maker, installed as an operator installs a card maker's root
    trustFixtureMaker(demo.caStore);
    peers = await startDeliveryPeers();
    const dir = mkdtempSync(join(tmpdir(), "split-roles-"));
    channel = await writeSignerChannelCertificates(join(dir, "channel"), systemClock, cryptoRandom);
    rogue = await writeSignerChannelCertificates(join(dir, "rogue"), systemClock, cryptoRandom, {
      clientName: "rogue ra",
    });
    config = loadConfig({ ...demo.env });
    const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
    reg.people["199002021000"] = { status: "alive", givenName: "Registered", surname: "Split Person" };
    writeFileSync(config.ra.registerFile, JSON.stringify(reg));
    const [sp, shp, rp, rhp, pp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    url.signer = `https://127.0.0.1:${sp}`;
    url.signerHealth = `http://127.0.0.1:${shp}`;
    url.ra = `https://127.0.0.1:${rp}`;
    url.raHealth = `http://127.0.0.1:${rhp}`;
    url.pub = `http://127.0.0.1:${pp}`;
    const base = { ...demo.env, CARDPKI_HOST: "127.0.0.1", CARDPKI_SIGNER_CA: channel.ca };
    signer = serveChild("ca-signer", {
      ...base,
      CARDPKI_PORT: String(shp),
      CARDPKI_SIGNER_PORT: String(sp),
      CARDPKI_SIGNER_TLS_CERT: channel.tlsCert,
      CARDPKI_SIGNER_TLS_KEY: channel.tlsKey,
    });
    expect(await waitFor(async () => (await health(url.signerHealth)).status === 200, 40_000), signer.lines()).to.equal(
      true,
    );
    ra = serveChild("ra", {
      ...base,
      ...peers.env,
      CARDPKI_PORT: String(rhp),
      CARDPKI_RA_PORT: String(rp),
      CARDPKI_SIGNER_URL: url.signer,
      CARDPKI_SIGNER_CLIENT_CERT: channel.clientCert,
      CARDPKI_SIGNER_CLIENT_KEY: channel.clientKey,
    });
    pub = serveChild("public", { ...base, CARDPKI_PORT: String(pp) });
    expect(await waitFor(async () => (await health(url.raHealth)).status === 200, 40_000), ra.lines()).to.equal(true);
    expect(await waitFor(async () => (await health(url.pub)).status === 200, 40_000), pub.lines()).to.equal(true);
    serverCa = readFileSync(config.ra.tlsCert, "utf8");
    for (const id of ["ada", "bo", "cy", "di", "ed", "fi"])
      D[id] = {
        key: readFileSync(join(config.dataDir, "demo-officers", `${id}.key`), "utf8"),
        cert: readFileSync(join(config.dataDir, "demo-officers", `${id}.crt`), "utf8"),
      };
  });

  afterEach(function () {
    // A failed test shows what each role process logged last, and whether it is still running.
    if (this.currentTest?.state !== "failed") return;
    for (const [name, p] of [
      ["signer", signer],
      ["ra", ra],
      ["public", pub],
    ] as const) {
      if (!p) continue;
      const state =
        p.child.exitCode !== null || p.child.signalCode
          ? `exited ${p.child.exitCode ?? p.child.signalCode}`
          : "running";
      console.error(`--- ${name} (${state}), last log lines:\n${p.lines().split("\n").slice(-15).join("\n")}`);
    }
  });

  after(async () => {
    for (const p of [pub, ra, signer]) {
      if (!p) continue;
      p.child.kill("SIGTERM");
      await Promise.race([p.exited, new Promise((r) => setTimeout(r, 15_000))]);
      p.child.kill("SIGKILL");
    }
    await station?.rt.close();
    await peers?.stop();
  });

  it(`ok/each role reports only its own parts: the signer its CA key (token check), the RA the signer channel, the \
public replica OCSP and CRLs`, async () => {
    expect(Object.keys((await health(url.signerHealth)).body.checks)).to.have.members([
      "lifecycle",
      "writer-lease",
      "hsm:demo-issuing",
      "database",
    ]);
    expect(Object.keys((await health(url.raHealth)).body.checks)).to.have.members([
      "lifecycle",
      "database",
      "ca-signer",
    ]);
    expect(Object.keys((await health(url.pub)).body.checks)).to.have.members([
      "lifecycle",
      "database",
      "crl:demo-issuing",
      "ocsp",
    ]);
    // Only the signer has a CA key series; the RA holds no key of the CA; the public role only its OCSP responder key.
    expect(await (await fetch(`${url.signerHealth}/metrics`)).text()).to.match(
      /^cardpki_hsm_up\{ca="demo-issuing"\} 1$/m,
    );
    expect(await (await fetch(`${url.raHealth}/metrics`)).text()).to.not.match(/key="ca:|cardpki_hsm_up/);
    expect(await (await fetch(`${url.pub}/metrics`)).text()).to.not.match(/key="ca:|cardpki_hsm_up/);
    // Neither the RA's nor the signer's HTTP port serves OCSP or the RA API.
    expect((await fetch(`${url.signerHealth}/api/v1/orders`)).status).to.equal(404);
    expect((await fetch(`${url.raHealth}/ocsp`, { method: "POST", body: new Uint8Array([0x30, 0]) })).status).to.equal(
      404,
    );
  });

  it(`ok/a card order through the RA API (officers' client certificates) is signed by the signer process and is good \
at the public replica after activation (openssl ocsp)`, async () => {
    const before = await metric(url.signerHealth, /^cardpki_hsm_signatures_total\{key="ca:demo-issuing"\} (\d+)$/m);
    const org = await ok(
      call("POST", "/api/v1/organisations", { orgNumber: "5569876543", name: "Split AB", country: "SE" }, D.ada!),
      201,
    );
    await ok(
      call(
        "POST",
        `/api/v1/organisations/${org.id}/onboarding`,
        {
          registrationCertificate: "bolagsverket 2026-11-30 #7781",
          domain: "split.example",
          domainValidationMethod: "dns-txt",
        },
        D.ada!,
      ),
    );
    const person = await ok(
      call(
        "POST",
        `/api/v1/organisations/${org.id}/people`,
        { nationalId: "199002021000", name: "Sara Split", email: "sara@split.example" },
        D.ada!,
      ),
      201,
    );
    const until = new Date(Date.now() + 300 * 86_400_000).toISOString().slice(0, 10);
    await ok(
      call(
        "PUT",
        `/api/v1/people/${person.id}/officer`,
        { roles: ["ra-officer"], qualification: "RA identity proofing 2026", qualifiedUntil: until },
        D.ada!,
      ),
    );
    const doc = { type: "passport", number: "XS112233", expires: "2031-05-01" };
    const order = await ok(
      call(
        "POST",
        "/api/v1/orders",
        { personId: person.id, workflowId: "loa3-card-order", nationalId: "199002021000", purpose: "officer" },
        D.bo!,
      ),
      201,
    );
    // REQ-06/15: the RA process delivered the terms mail to this test's SMTP server.
    await ok(
      call(
        "POST",
        `/api/v1/applicant/orders/${order.id}/accept-terms`,
        { token: await peers.termsToken(order.id), termsVersion: "2026-01", accepted: true },
        D.bo!,
      ),
    );
    const act = (action: string, cred: ClientCred, body: unknown = {}) =>
      ok(call("POST", `/api/v1/orders/${order.id}/actions/${action}`, body, cred));
    await act("identify", D.bo!, { document: doc, faceCompared: true });
    await act("identify", D.cy!, { document: doc, faceCompared: true });
    await act("approve", D.di!);
    await act("start-production", D.di!);
    const rt = await openOperatorCa(config, { withoutAuthorities: true });
    station = { rt, ra: await openRa(rt) };
    const card = await attestedCardFor(station.rt, station.ra, order.id);
    const produced = await act("produce", D.ed!, card.body);
    const cert = new X509Certificate(Buffer.from(produced.certificate, "base64"));
    cardPem = cert.toString();
    expect(
      cert.verify(new X509Certificate(readFileSync(join(demo.caStore, "demo-issuing", "cert.pem"))).publicKey),
    ).to.equal(true);
    // The CA key signed in the signer process (its counter moved), not in the RA.
    expect(
      await metric(url.signerHealth, /^cardpki_hsm_signatures_total\{key="ca:demo-issuing"\} (\d+)$/m),
    ).to.be.greaterThan(before);
    const ocsp = { url: url.pub, caStore: demo.caStore, certPem: cardPem };
    await expectOcsp(ocsp, "certificateHold", "production (REQ-16: on hold until activation)");
    await act("hand-out", D.fi!, {
      secondIdentification: { document: { ...doc, type: "national-id-card" }, faceCompared: true },
    });
    const holder: ClientCred = {
      key: card.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      cert: cardPem,
    };
    await ok(call("POST", `/api/v1/orders/${order.id}/transport-pin-replaced`, { cardSerial: card.cardSerial }, D.fi!));
    const ch = await ok(call("GET", `/api/v1/holder/orders/${order.id}/activation-challenge`, undefined, holder));
    const challengeSignature = sign(ch.hash, Buffer.from(ch.message), createPrivateKey(holder.key)).toString(
      "base64url",
    );
    expect(
      (await ok(call("POST", `/api/v1/holder/orders/${order.id}/activate`, { challengeSignature }, holder))).state,
    ).to.equal("ACTIVE");
    await expectOcsp(ocsp, "good", "activation, through the public replica");
  });

  it(`fail/the signer refuses a client without a certificate of the channel CA: no TLS session, the signer keeps \
serving`, async () => {
    const describe = JSON.stringify({ v: 1, op: "describe" });
    const noCert = await toSigner(describe).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect(noCert).to.not.equal("answered");
    const wrongCa = await toSigner(describe, {
      cert: readFileSync(rogue.clientCert, "utf8"),
      key: readFileSync(rogue.clientKey, "utf8"),
    }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect(wrongCa).to.not.equal("answered");
    // An officer's certificate from the CA itself is not a channel credential either.
    const officer = await toSigner(describe, D.ada!).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect(officer).to.not.equal("answered");
    const good = await toSigner(describe, raClient());
    expect(good.status).to.equal(200);
    expect(good.body).to.deep.equal({
      v: 1,
      ok: true,
      result: { op: "describe", cas: [{ id: "demo-issuing", keyReady: true }] },
    });
  });

  it(`fail/malformed, wrong-version and unrecorded messages get a clear refusal, are audited, and the signer keeps \
running`, async () => {
    const cred = raClient();
    const cases: [string, number, RegExp][] = [
      ["{not json", 400, /malformed signer message: not JSON/],
      [
        JSON.stringify({ v: 2, op: "describe" }),
        400,
        /unsupported signer protocol version 2 \(this signer speaks version 1\)/,
      ],
      [JSON.stringify({ v: 1, op: "sign-anything", data: "AAAA" }), 400, /unknown operation "sign-anything"/],
      [JSON.stringify({ v: 1, op: "sign-certificate", ca: "demo-issuing" }), 400, /must have required property 'tbs'/],
      [
        JSON.stringify({ v: 1, op: "sign-certificate", ca: "demo-issuing", tbs: "MAMCAQA=" }),
        400,
        /not a TBSCertificate/,
      ],
      ["x".repeat(70 * 1024), 400, /larger than/],
    ];
    for (const [raw, status, words] of cases) {
      const r = await toSigner(raw, cred).catch(
        (e: Error) => ({ status: 0, body: { error: { message: e.message } }, text: e.message }) as RaReply,
      );
      expect(r.status, `${raw.slice(0, 40)} -> ${r.text}`).to.equal(status);
      expect(r.body.error.message, raw.slice(0, 40)).to.match(words);
    }
    // A real TBS whose serial was already signed: the signer signs only a reserved TBS (design: record before signing).
    const tbsOnly = tbsOf(new Uint8Array(new X509Certificate(cardPem).raw));
    const again = await toSigner(
      JSON.stringify({
        v: 1,
        op: "sign-certificate",
        ca: "demo-issuing",
        tbs: Buffer.from(tbsOnly).toString("base64"),
      }),
      cred,
    );
    expect(again.status).to.equal(403);
    expect(again.body.error).to.deep.include({ kind: "forbidden" });
    expect(again.body.error.message).to.match(
      /is issued, not reserved; the signer signs only a TBS recorded before signing/,
    );
    const serial = new X509Certificate(cardPem).serialNumber.toLowerCase();
    const events = spawnSync(
      process.execPath,
      [CLI, "audit", "events", "--action", "signer.sign.refused", "--operator", "split-test"],
      { env: demo.env, encoding: "utf8" },
    );
    expect(events.status, events.stderr).to.equal(0);
    expect(events.stdout).to.include(serial).and.to.include("signer-client:cardpki ra");
    expect((await health(url.signerHealth)).status).to.equal(200);
    expect(signer.child.exitCode).to.equal(null);
  });
});

/** The TBSCertificate inside a certificate's DER (first element of the outer SEQUENCE). */
function tbsOf(der: Uint8Array): Uint8Array {
  const len = (at: number): [number, number] => {
    const b = der[at]!;
    if (b < 0x80) return [b, 1];
    const n = b & 0x7f;
    let v = 0;
    for (let i = 1; i <= n; i++) v = v * 256 + der[at + i]!;
    return [v, 1 + n];
  };
  const [, outerLen] = len(1);
  const start = 1 + outerLen;
  const [tbsLen, tbsLenLen] = len(start + 1);
  return der.subarray(start, start + 1 + tbsLenLen + tbsLen);
}

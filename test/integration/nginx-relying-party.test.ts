import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireTool, run, waitFor } from "../support/environment.js";
import { freePort } from "../support/free-port.js";
import { freshCard, virtualCard } from "../support/virtual-card.js";
import { cardRequest } from "../support/card-client.js";
import {
  crlUntil,
  expiredCertificate,
  otherCaCard,
  startRpCa,
  virtualCardLife,
  type CardLife,
  type RpCa,
} from "../support/relying-party.js";

/**
 * Card logon to a web server: nginx (Debian) with `ssl_verify_client on`, our root and issuing CA as
 * the client CA list, and two server blocks: one checks the card by OCSP at the URL in the card's AIA
 * (`ssl_ocsp leaf`, `ssl_ocsp_cache off`), one by the CRLs only (`ssl_crl`, no OCSP). The client is
 * curl with OpenSSL's pkcs11 engine, the TLS key on the virtual PIV card through OpenSC and the PIN.
 * nginx answers a refused certificate with 400 and logs why.
 */
/** nginx's log line for a card its OCSP check found revoked (certificateHold included), and for one the CRL lists. */
const OCSP_REVOKED = /client SSL certificate verify error: certificate revoked while/;
const CRL_REVOKED = /client SSL certificate verify error: \(23:certificate revoked\)/;

describe("relying party: nginx client-certificate logon with the key on the card (OCSP and CRL)", function () {
  this.timeout(180_000);
  let ca: RpCa;
  let nginx: ChildProcess | undefined;
  let ocspUrl = "";
  let crlUrl = "";
  let card: CardLife & { transportPin: string; pin: () => string };
  const f = (n: string) => join(ca.dir, n);
  const log = () => (existsSync(f("error.log")) ? readFileSync(f("error.log"), "utf8") : "");

  const startNginx = async () => {
    await stopNginx();
    const conf = f("nginx.conf");
    const server = (port: number, extra: string[]) =>
      [
        `  server {`,
        `    listen 127.0.0.1:${port} ssl;`,
        `    server_name localhost;`,
        `    ssl_certificate ${f("srv.pem")};`,
        `    ssl_certificate_key ${f("srv.key")};`,
        `    ssl_client_certificate ${ca.chainFile};`,
        `    ssl_verify_client on;`,
        `    ssl_verify_depth 2;`,
        ...extra.map((l) => `    ${l}`),
        `    location / { default_type text/plain; return 200 "hello $ssl_client_s_dn\\n"; }`,
        `  }`,
      ].join("\n");
    writeFileSync(
      conf,
      [
        `daemon off;`,
        `master_process off;`,
        `pid ${f("nginx.pid")};`,
        `error_log ${f("error.log")} info;`,
        `events { worker_connections 64; }`,
        `http {`,
        `  access_log ${f("access.log")};`,
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${f(`${t}-temp`)};`),
        // The card's status from the OCSP URL in its AIA (the issuing CA itself is not an OCSP subject: its
        // certificate carries no OCSP URL, so `leaf`); no cache, so each logon asks (RFC 6960).
        server(Number(new URL(ocspUrl).port), ["ssl_ocsp leaf;", "ssl_ocsp_cache off;"]),
        // A relying party without OCSP: the CRLs of the issuing CA and the root, reloaded by restarting nginx.
        server(Number(new URL(crlUrl).port), [`ssl_crl ${f("crls.pem")};`]),
        `}`,
        ``,
      ].join("\n"),
    );
    const p = spawn("nginx", ["-p", ca.dir, "-c", conf, "-e", f("error.log")], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d) => (err += d));
    nginx = p;
    const up = await waitFor(async () => {
      if (p.exitCode !== null) return true;
      const r = await run("curl", ["-sk", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}", ocspUrl]);
      return r.stdout === "400"; // up: no client certificate sent
    }, 10_000);
    expect(up && p.exitCode === null, `nginx did not start: ${err} ${log()}`).to.equal(true);
  };
  const stopNginx = async () => {
    const p = nginx;
    nginx = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGQUIT");
    });
  };

  /** A logon with the card's key (PIV 9A through OpenSC's PKCS#11 module, curl + pkcs11 engine). */
  const cardLogon = async (url: string) => {
    const r = await cardRequest({ method: "GET", url, caFile: f("srv.pem"), certPem: card.certPem, pin: card.pin() });
    return { status: r.status, body: String(r.body) };
  };
  /** A logon with a software key and certificate (expired card, another CA's card). */
  const fileLogon = async (url: string, certPem: string, keyPem: string, name: string) => {
    writeFileSync(f(`${name}.crt`), certPem);
    writeFileSync(f(`${name}.key`), keyPem, { mode: 0o600 });
    const r = await run("curl", [
      ...["-sS", "--noproxy", "*", "--cacert", f("srv.pem"), "--cert", f(`${name}.crt`), "--key", f(`${name}.key`)],
      ...["-w", "\n%{http_code}", url],
    ]);
    const lines = r.stdout.trimEnd().split("\n");
    return { status: Number(lines.at(-1)), body: lines.slice(0, -1).join("\n"), out: r.out };
  };
  const expectRefused = (r: { status: number; body: string }, why: string, logged: RegExp, before: number) => {
    expect([r.status, /SSL certificate error/.test(r.body)], `${why}: ${r.body}`).to.deep.equal([400, true]);
    expect(log().slice(before), `${why}: nginx names the reason`).to.match(logged);
  };
  const mark = () => log().length;

  before(async function () {
    for (const t of ["nginx", "curl", "openssl", "yubico-piv-tool"]) requireTool(this, t);
    virtualCard(this);
    ca = await startRpCa(this, "nginx", { virtualCard: true });
    await freshCard(0x60000000 + (Date.now() % 0x0fffffff));
    const sh = async (args: string[]) => {
      const r = await run("openssl", args);
      if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.out}`);
    };
    await sh([
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", f("srv.key"), "-out", f("srv.pem"), "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost", "-days", "2"],
    ]);
    ocspUrl = `https://localhost:${await freePort()}/`;
    crlUrl = `https://localhost:${await freePort()}/`;
    card = await virtualCardLife(ca, "592817");
    await crlUntil(ca, card.serial, true); // on hold from issuance: certificateHold on the CRL
    await startNginx();
  });
  after(async () => {
    await stopNginx();
    await ca?.stop();
  });

  it("fail/a card on hold before activation is refused by OCSP and by the CRL", async () => {
    const m = mark();
    expectRefused(await cardLogon(ocspUrl), "held (OCSP)", OCSP_REVOKED, m);
    const m2 = mark();
    expectRefused(await cardLogon(crlUrl), "held (CRL)", CRL_REVOKED, m2);
  });

  it(`ok/the activated card logs in (OCSP and, with the next CRL, CRL); suspended it is refused, resumed it logs in \
again`, async () => {
    await card.activate();
    const ok = await waitFor(async () => (await cardLogon(ocspUrl)).status === 200, 10_000, 250);
    expect(ok, `OCSP logon after activation: ${log().slice(-600)}`).to.equal(true);
    const r = await cardLogon(ocspUrl);
    expect(r.body).to.match(/^hello .*CN=Cy Holder/);
    await crlUntil(ca, card.serial, false);
    await startNginx(); // the CRL-only relying party loads its new CRL
    expect((await cardLogon(crlUrl)).status).to.equal(200);

    await card.suspend();
    const refused = await waitFor(async () => (await cardLogon(ocspUrl)).status === 400, 10_000, 250);
    expect(refused, "OCSP refuses a suspended card within seconds").to.equal(true);
    const m = mark();
    expectRefused(await cardLogon(ocspUrl), "suspended (OCSP)", OCSP_REVOKED, m);

    await card.resume();
    expect(await waitFor(async () => (await cardLogon(ocspUrl)).status === 200, 10_000, 250)).to.equal(true);
  });

  it(`fail/a revoked card is refused by OCSP within the policy time, and by the CRL once the CRL lists \
it`, async () => {
    await card.revoke("keyCompromise");
    const t0 = Date.now();
    const refused = await waitFor(async () => (await cardLogon(ocspUrl)).status === 400, 10_000, 250);
    expect(refused, "OCSP: refused within 10 s (REQ-17: the responder shows a revocation within 1 s)").to.equal(true);
    expect(Date.now() - t0).to.be.below(10_000);
    const m = mark();
    expectRefused(await cardLogon(ocspUrl), "revoked (OCSP)", OCSP_REVOKED, m);
    await crlUntil(ca, card.serial, true);
    await startNginx();
    const m2 = mark();
    expectRefused(await cardLogon(crlUrl), "revoked (CRL)", CRL_REVOKED, m2);
  });

  it("fail/an expired card of our issuing CA and a card of another CA are refused by both servers", async () => {
    const expired = await expiredCertificate(ca);
    const other = await otherCaCard(ca.dir);
    for (const url of [ocspUrl, crlUrl]) {
      let m = mark();
      expectRefused(
        await fileLogon(url, expired.certPem, expired.keyPem, "expired"),
        "expired",
        /\(10:certificate has expired\)/,
        m,
      );
      m = mark();
      expectRefused(
        await fileLogon(url, other.certPem, other.keyPem, "other"),
        "another CA",
        /\((21:unable to verify the first certificate|20:unable to get local issuer certificate)\)/,
        m,
      );
    }
  });
});

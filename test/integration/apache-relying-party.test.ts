import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
 * Card logon to a web server: Apache httpd (Debian apache2) with mod_ssl, `SSLVerifyClient require`, our issuing CA
 * and root as `SSLCACertificateFile`, and two virtual hosts: one checks the card by OCSP at the URL in the card's AIA
 * (`SSLOCSPEnable leaf`), one by the CRLs only (`SSLCARevocationFile` with both CRLs, `SSLCARevocationCheck chain`).
 * The client is curl with OpenSSL's pkcs11 engine, the TLS key on the virtual PIV card through OpenSC and the PIN.
 * mod_ssl ends the TLS handshake of a card it refuses (curl gets an alert, no HTTP answer) and logs why.
 */
const MODULES = "/usr/lib/apache2/modules";
/** mod_ssl's verify error for the card (depth 0): OCSP and CRL both end in OpenSSL's X509_V_ERR_CERT_REVOKED. */
const REVOKED = /Certificate Verification: Error \(23\): certificate revoked/;
/** What mod_ssl's OCSP client logs of the responder's answer for a revoked (or held) card. */
const OCSP_SAYS_REVOKED = /OCSP validation completed, certificate status: revoked/;

describe(`relying party: Apache httpd mod_ssl client-certificate logon with the key on the card (OCSP and \
CRL)`, function () {
  this.timeout(180_000);
  let ca: RpCa;
  let httpd: ChildProcess | undefined;
  let ocspUrl = "";
  let crlUrl = "";
  let docroot = "";
  let card: CardLife & { transportPin: string; pin: () => string };
  const f = (n: string) => join(ca.dir, n);
  const log = () => (existsSync(f("error.log")) ? readFileSync(f("error.log"), "utf8") : "");
  const access = () => (existsSync(f("access.log")) ? readFileSync(f("access.log"), "utf8") : "");

  /** One virtual host: the lines of docs/relying-parties.md (Apache), with this test's files. */
  const vhost = (port: number, revocation: string[]) => [
    `<VirtualHost 127.0.0.1:${port}>`,
    `  ServerName localhost`,
    `  DocumentRoot ${docroot}`,
    `  SSLEngine on`,
    `  SSLCertificateFile ${f("srv.pem")}`,
    `  SSLCertificateKeyFile ${f("srv.key")}`,
    `  SSLCACertificateFile ${ca.chainFile}`,
    `  SSLVerifyClient require`,
    `  SSLVerifyDepth 2`,
    ...revocation.map((l) => `  ${l}`),
    `</VirtualHost>`,
  ];
  const startHttpd = async () => {
    await stopHttpd();
    const conf = f("httpd.conf");
    const ports = [Number(new URL(ocspUrl).port), Number(new URL(crlUrl).port)];
    writeFileSync(
      conf,
      [
        `ServerRoot ${ca.dir}`,
        `DefaultRuntimeDir ${f("run")}`,
        `PidFile ${f("httpd.pid")}`,
        `ServerName localhost`,
        ...["mpm_event", "authz_core", "socache_shmcb", "ssl"].map(
          (m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`,
        ),
        `User www-data`,
        `Group www-data`,
        ...ports.map((p) => `Listen 127.0.0.1:${p}`),
        `ErrorLog ${f("error.log")}`,
        `LogLevel warn ssl:info`,
        `LogFormat "%{SSL_CLIENT_S_DN}x %>s" card`,
        `CustomLog ${f("access.log")} card`,
        `SSLSessionCache none`,
        `<Directory ${docroot}>`,
        `  Require all granted`,
        `</Directory>`,
        // The card's status from the OCSP URL in its AIA; the issuing CA carries none (`leaf`). No nonce, so the
        // responder may answer from its pre-signed responses (RFC 5019); mod_ssl keeps no cache of its own.
        ...vhost(ports[0]!, [`SSLOCSPEnable leaf`, `SSLOCSPUseRequestNonce off`, `SSLOCSPResponderTimeout 5`]),
        // A relying party without OCSP: the CRLs of the issuing CA and the root, read at (re)start.
        ...vhost(ports[1]!, [`SSLCARevocationFile ${f("crls.pem")}`, `SSLCARevocationCheck chain`]),
        ``,
      ].join("\n"),
    );
    const p = spawn("apache2", ["-f", conf, "-DFOREGROUND"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d) => (err += d));
    httpd = p;
    const up = await waitFor(async () => {
      if (p.exitCode !== null) return true;
      const r = await run("curl", ["-sk", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}", crlUrl]);
      return r.status !== 7; // listening (a request without a client certificate is refused)
    }, 10_000);
    expect(up && p.exitCode === null, `apache2 did not start: ${err} ${log()}`).to.equal(true);
  };
  const stopHttpd = async () => {
    const p = httpd;
    httpd = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
  };

  /** A logon with the card's key (PIV 9A through OpenSC, curl + pkcs11 engine); a refused handshake is status 0. */
  const cardLogon = async (url: string) => {
    try {
      const r = await cardRequest({
        method: "GET",
        url: `${url}hello.txt`,
        caFile: f("srv.pem"),
        certPem: card.certPem,
        pin: card.pin(),
      });
      return { status: r.status, body: String(r.body) };
    } catch (e) {
      return { status: 0, body: (e as Error).message };
    }
  };
  /** A logon with a software key and certificate (expired card, another CA's card). */
  const fileLogon = async (url: string, certPem: string, keyPem: string, name: string) => {
    writeFileSync(f(`${name}.crt`), certPem);
    writeFileSync(f(`${name}.key`), keyPem, { mode: 0o600 });
    const r = await run("curl", [
      ...["-sS", "--noproxy", "*", "--cacert", f("srv.pem"), "--cert", f(`${name}.crt`), "--key", f(`${name}.key`)],
      ...["-o", "/dev/null", "-w", "%{http_code}", `${url}hello.txt`],
    ]);
    return { status: Number(r.stdout.trim()), body: r.out };
  };
  const mark = () => log().length;
  /** Refused: no HTTP answer (the handshake ended with an alert), and Apache's error log names the reason. */
  const expectRefused = (r: { status: number; body: string }, why: string, logged: RegExp[], before: number) => {
    expect(r.status, `${why}: ${r.body}`).to.equal(0);
    expect(r.body, `${why}: curl saw the TLS alert`).to.match(/alert|SSL|handshake|reset|closed/i);
    for (const l of logged) expect(log().slice(before), `${why}: Apache names the reason`).to.match(l);
  };

  before(async function () {
    for (const t of ["apache2", "curl", "openssl", "yubico-piv-tool"]) requireTool(this, t);
    if (!existsSync(join(MODULES, "mod_ssl.so"))) {
      if (process.env.CI === "true") throw new Error("apache2 with mod_ssl is required under CI=true");
      this.skip();
    }
    virtualCard(this);
    ca = await startRpCa(this, "apache", { virtualCard: true });
    await freshCard(0x62000000 + (Date.now() % 0x0fffffff));
    mkdirSync(f("run"));
    // The worker processes run as www-data: the document root is theirs to read, nothing else of this folder.
    docroot = f("htdocs");
    mkdirSync(docroot);
    writeFileSync(join(docroot, "hello.txt"), "hello card\n");
    chmodSync(ca.dir, 0o711);
    chmodSync(docroot, 0o755);
    chmodSync(join(docroot, "hello.txt"), 0o644);
    const r = await run("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", f("srv.key"), "-out", f("srv.pem"), "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost", "-days", "2"],
    ]);
    expect(r.status, r.out).to.equal(0);
    ocspUrl = `https://localhost:${await freePort()}/`;
    crlUrl = `https://localhost:${await freePort()}/`;
    card = await virtualCardLife(ca, "592817");
    await crlUntil(ca, card.serial, true); // on hold from issuance: certificateHold on the CRL
    await startHttpd();
  });
  after(async () => {
    await stopHttpd();
    await ca?.stop();
  });

  it("fail/a card on hold before activation is refused by OCSP and by the CRL", async () => {
    let m = mark();
    expectRefused(await cardLogon(ocspUrl), "held (OCSP)", [OCSP_SAYS_REVOKED, REVOKED], m);
    m = mark();
    expectRefused(await cardLogon(crlUrl), "held (CRL)", [REVOKED], m);
  });

  it(`ok/the activated card logs in (OCSP and, with the next CRL, CRL); suspended it is refused, resumed it logs in \
again`, async () => {
    await card.activate();
    const ok = await waitFor(async () => (await cardLogon(ocspUrl)).status === 200, 10_000, 250);
    expect(ok, `OCSP logon after activation: ${log().slice(-800)}`).to.equal(true);
    const r = await cardLogon(ocspUrl);
    expect(r.body).to.equal("hello card\n");
    expect(access(), "Apache saw the holder's subject").to.match(/CN=Cy Holder.* 200\n/);
    await crlUntil(ca, card.serial, false);
    await startHttpd(); // the CRL-only relying party loads its new CRL
    expect((await cardLogon(crlUrl)).status).to.equal(200);

    await card.suspend();
    const refused = await waitFor(async () => (await cardLogon(ocspUrl)).status === 0, 10_000, 250);
    expect(refused, "OCSP refuses a suspended card within seconds").to.equal(true);
    const m = mark();
    expectRefused(await cardLogon(ocspUrl), "suspended (OCSP)", [OCSP_SAYS_REVOKED, REVOKED], m);

    await card.resume();
    expect(await waitFor(async () => (await cardLogon(ocspUrl)).status === 200, 10_000, 250)).to.equal(true);
  });

  it(`fail/a revoked card is refused by OCSP within the policy time, and by the CRL once the CRL lists \
it`, async () => {
    await card.revoke("keyCompromise");
    const t0 = Date.now();
    const refused = await waitFor(async () => (await cardLogon(ocspUrl)).status === 0, 10_000, 250);
    expect(refused, "OCSP: refused within 10 s (REQ-17: the responder shows a revocation within 1 s)").to.equal(true);
    expect(Date.now() - t0).to.be.below(10_000);
    let m = mark();
    expectRefused(await cardLogon(ocspUrl), "revoked (OCSP)", [OCSP_SAYS_REVOKED, REVOKED], m);
    await crlUntil(ca, card.serial, true);
    await startHttpd();
    m = mark();
    expectRefused(await cardLogon(crlUrl), "revoked (CRL)", [REVOKED], m);
  });

  it("fail/an expired card of our issuing CA and a card of another CA are refused by both virtual hosts", async () => {
    const expired = await expiredCertificate(ca);
    const other = await otherCaCard(ca.dir);
    for (const url of [ocspUrl, crlUrl]) {
      let m = mark();
      expectRefused(
        await fileLogon(url, expired.certPem, expired.keyPem, "expired"),
        `expired (${url})`,
        [/Certificate Verification: Error \(10\): certificate has expired/],
        m,
      );
      m = mark();
      expectRefused(
        await fileLogon(url, other.certPem, other.keyPem, "other"),
        `another CA (${url})`,
        [/Certificate Verification: Error \((20|21)\): unable to (get local issuer certificate|verify the first)/],
        m,
      );
    }
  });
});

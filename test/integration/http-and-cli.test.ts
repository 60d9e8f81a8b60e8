import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { toPem } from "../../src/asn1/der.js";
import { CLI, demoBackends, demoEnvReady, openssl, writeTemp, type DemoEnv } from "../support/environment.js";
import { makeCsr, testKey } from "../support/keys.js";
import { ORG_SUBJECT } from "../support/test-ca.js";

for (const backend of demoBackends())
  describe(`HTTP service (real HTTP on a random port) [${backend}]`, function () {
    this.timeout(60_000);
    let svc: Service;
    before(async function () {
      const env = await demoEnvReady(this, backend);
      svc = await startService({ ...loadConfig(env.env), host: "127.0.0.1", port: 0 });
    });
    after(async () => svc?.stop());

    it("ok/GET /healthz reports database and HSM", async () => {
      const r = await fetch(`${svc.url}/healthz`);
      expect(r.status).to.equal(200);
      expect(await r.json()).to.deep.equal({
        status: "ok",
        checks: {
          lifecycle: "ok",
          database: "ok",
          "writer-lease": "ok",
          "hsm:demo-issuing": "ok",
          "crl:demo-issuing": "ok",
          ocsp: "ok",
        },
      });
    });

    it("ok/health probes and metrics scrapes check the HSM token without signing with the CA key", async () => {
      const caSignatures = async () =>
        Number(
          (await (await fetch(`${svc.url}/metrics`)).text()).match(
            /^cardpki_hsm_signatures_total\{key="ca:demo-issuing"\} (\d+)$/m,
          )?.[1],
        );
      const before = await caSignatures();
      expect(before).to.be.a("number").and.not.NaN;
      for (let i = 0; i < 5; i++) expect((await fetch(`${svc.url}/healthz`)).status).to.equal(200);
      expect(await caSignatures()).to.equal(before);
    });

    it(`ok/GET /metrics in Prometheus text: OCSP requests and latency, CRL age and next update, certificates, \
issuance, HSM signatures and errors, unprotected audit entries`, async () => {
      await fetch(`${svc.url}/ocsp`, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request" },
        body: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]),
      });
      // One signature with the CA key in this process (health probes sign nothing): a CRL.
      await svc.parts.crls.generateFull(svc.parts.authority("demo-issuing"), "operator:metrics-test");
      // A certificate issued here gets its OCSP response pre-produced with the responder's key (RFC 5019).
      await svc.parts.issuer.issue(svc.parts.authority("demo-issuing"), {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "metrics-test",
        allowedKinds: ["end-entity"],
      });
      const ocspSigned = /^cardpki_hsm_signatures_total\{key="ocsp:demo-issuing\/[^"]+"\} [1-9]/m;
      let r = await fetch(`${svc.url}/metrics`);
      let text = await r.text();
      for (let i = 0; i < 50 && !ocspSigned.test(text); i++) {
        await new Promise((done) => setTimeout(done, 100));
        r = await fetch(`${svc.url}/metrics`);
        text = await r.text();
      }
      expect(r.status).to.equal(200);
      expect(r.headers.get("content-type")).to.match(/^text\/plain/);
      expect(text).to.match(/^cardpki_ocsp_requests_total\{status="\d{3}"\} [1-9]/m);
      expect(text).to.match(/^cardpki_ocsp_request_duration_seconds_count [1-9]/m);
      expect(text).to.match(/^cardpki_crl_age_seconds\{ca="demo-issuing"\} \d/m);
      expect(text).to.match(/^cardpki_crl_seconds_to_next_update\{ca="demo-issuing"\} [1-9]/m);
      expect(text).to.match(/^cardpki_certificates\{status="issued"\} [1-9]/m);
      expect(text).to.match(/^cardpki_hsm_up\{ca="demo-issuing"\} 1$/m);
      expect(text).to.match(/^cardpki_audit_unprotected_entries \d+$/m);
      // Issuance and HSM errors (REQ-33 monitoring): totals by profile, and per key signatures and failures.
      expect(text).to.match(/^# TYPE cardpki_certificates_issued_total counter$/m);
      expect(text).to.match(/^cardpki_certificates_issued_total\{profile="[a-z0-9-]+"\} [1-9]/m);
      expect(text).to.match(/^cardpki_hsm_signatures_total\{key="ca:demo-issuing"\} [1-9]/m);
      expect(text).to.match(ocspSigned);
      expect(text).to.match(/^cardpki_hsm_errors_total\{key="ca:demo-issuing"\} 0$/m);
      // prom-client's default metrics: event-loop lag, process CPU, memory and file descriptors, heap.
      expect(text).to.match(/^nodejs_eventloop_lag_seconds \d/m);
      expect(text).to.match(/^nodejs_eventloop_lag_p99_seconds \d/m);
      expect(text).to.match(/^process_cpu_user_seconds_total \d/m);
      expect(text).to.match(/^process_resident_memory_bytes [1-9]/m);
      expect(text).to.match(/^nodejs_heap_size_used_bytes [1-9]/m);
    });

    it("ok/GET /ca/<id>.cer is the AIA caIssuers target: one DER certificate, application/pkix-cert", async () => {
      const r = await fetch(`${svc.url}/ca/demo-issuing.cer`);
      expect(r.status).to.equal(200);
      expect(r.headers.get("content-type")).to.equal("application/pkix-cert");
      const x = new X509Certificate(Buffer.from(await r.arrayBuffer()));
      expect(x.subject).to.include("CN=cardpki Demo Issuing CA 1");
      const chain = await (await fetch(`${svc.url}/ca/demo-issuing.pem`)).text();
      expect(chain.match(/BEGIN CERTIFICATE/g)).to.have.length(2);
      const list = (await (await fetch(`${svc.url}/ca`)).json()) as { id: string }[];
      expect(list.map((c) => c.id)).to.include.members(["demo-root", "demo-issuing"]);
    });

    for (const [path, status] of [
      ["/ca/nope.cer", 404],
      ["/ca/..%2f..%2fetc%2fpasswd", 404],
      ["/ca/demo-root.exe", 404],
      ["/no-such-route", 404],
    ] as const) {
      it(`fail/GET ${path} → ${status} application/problem+json`, async () => {
        const r = await fetch(`${svc.url}${path}`);
        expect(r.status).to.equal(status);
        expect(r.headers.get("content-type")).to.match(/^application\/problem\+json/);
        const body = (await r.json()) as { status: number; detail: string };
        expect(body.status).to.equal(status);
        expect(body.detail).to.be.a("string");
      });
    }
  });

for (const backend of demoBackends())
  describe(`cardpki CLI [${backend}]`, function () {
    this.timeout(60_000);
    let env: DemoEnv;
    let dir: string;
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env: env.env, encoding: "utf8" });
    before(async function () {
      env = await demoEnvReady(this, backend);
      dir = mkdtempSync(join(tmpdir(), "cli-"));
    });

    // Usage texts touch no database: once is enough.
    if (backend === "sqlite")
      for (const args of [
        ["--help"],
        ["serve", "--help"],
        ["setup-demo", "--help"],
        ["cert", "issue", "--help"],
        ["cert", "show", "--help"],
        ["ca", "list", "--help"],
        ["ceremony", "run", "--help"],
        ["ceremony", "verify", "--help"],
        ["ceremony", "split-pin", "--help"],
        ["ceremony", "init-softhsm-token", "--help"],
        ["cert", "revoke", "--help"],
        ["cert", "suspend", "--help"],
        ["cert", "resume", "--help"],
        ["crl", "generate", "--help"],
        ["cert", "--help"],
        ["ra", "--help"],
        ["ra", "bootstrap-staff", "--help"],
        ["ra", "expire", "--help"],
      ]) {
        it(`ok/${args.join(" ")} prints usage and exits 0`, () => {
          const r = run(args);
          expect(r.status).to.equal(0);
          expect(r.stdout).to.match(/usage:/);
        });
      }

    it("ok/cert issue ocsp-signer from a CSR → PEM that openssl verifies; cert show finds it", () => {
      const csr = writeTemp(dir, "ocsp.csr", toPem("CERTIFICATE REQUEST", makeCsr(testKey("P-256"), "ignored")));
      const out = join(dir, "ocsp.pem");
      const r = run([
        "cert",
        "issue",
        "--profile",
        "ocsp-signer",
        "--ca",
        "demo-issuing",
        "--csr",
        csr,
        "--subject",
        "CN=OCSP 1,O=cardpki demo,C=SE",
        "--out",
        out,
        "--operator",
        "alice",
      ]);
      expect(r.status, r.stderr).to.equal(0);
      const v = openssl([
        "verify",
        "-CAfile",
        join(env.caStore, "demo-root", "cert.pem"),
        "-untrusted",
        join(env.caStore, "demo-issuing", "cert.pem"),
        out,
      ]);
      expect(v.out).to.include(": OK");
      const serial = new X509Certificate(readFileSync(out)).serialNumber.toLowerCase();
      const show = run(["cert", "show", serial]);
      expect(show.status).to.equal(0);
      expect(JSON.parse(show.stdout)).to.include({
        serial,
        status: "issued",
        profile: "ocsp-signer@1",
        issuerId: "demo-issuing",
      });
      const again = run([
        "cert",
        "issue",
        "--profile",
        "ocsp-signer",
        "--csr",
        csr,
        "--subject",
        "CN=OCSP 1",
        "--out",
        out,
        "--operator",
        "alice",
      ]);
      expect(again.status).to.not.equal(0);
      expect(again.stderr).to.match(/refusing to overwrite/);
    });

    // ra bootstrap-staff (once, as a group, with operator and witness): test/integration/staff-and-browser.test.ts.

    it("ok/ra expire: a sweep now, reported as JSON", () => {
      const r = run(["ra", "expire"]);
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout)).to.have.keys(["expired", "repaired", "failed"]);
    });

    const failures: [string, string[], RegExp, number][] = [
      ["unknown command", ["frobnicate"], /unknown command 'frobnicate'/, 2],
      ["unknown option", ["ca", "list", "--colour"], /Unknown option '--colour'/, 2],
      [
        "missing subject",
        ["cert", "issue", "--profile", "ocsp-signer", "--operator", "alice"],
        /--subject is required/,
        2,
      ],
      [
        "bad CSR file",
        [
          "cert",
          "issue",
          "--profile",
          "ocsp-signer",
          "--csr",
          "/etc/hostname",
          "--subject",
          "CN=x",
          "--operator",
          "alice",
        ],
        /PKCS#10/,
        2,
      ],
      [
        "public key file without a key",
        [
          "cert",
          "issue",
          "--profile",
          "ocsp-signer",
          "--public-key",
          "/dev/null",
          "--subject",
          "CN=x",
          "--operator",
          "alice",
        ],
        /not a DER SubjectPublicKeyInfo/,
        2,
      ],
      ["unknown serial", ["cert", "show", "abcdef"], /no certificate with serial/, 1],
      ["not a serial", ["cert", "show", "zz"], /serial in hex/, 2],
      [
        "a revocation without --operator",
        ["cert", "revoke", "01", "--reason", "superseded"],
        /--operator is required/,
        2,
      ],
      [
        "a free-text operator name",
        ["cert", "suspend", "01", "--operator", "Alice Operator; rm -rf"],
        /is not an operator name/,
        2,
      ],
      ["a CRL without --operator", ["crl", "generate"], /--operator is required/, 2],
    ];
    for (const [name, args, re, code] of failures) {
      it(`fail/${name}: message on stderr, exit ${code}`, () => {
        const r = run(args);
        expect(r.status).to.equal(code);
        expect(r.stderr).to.match(re);
        expect(r.stderr).to.not.match(/at .*\.js:\d+/); // a message, not a stack trace
      });
    }

    it("fail/an end-entity profile through the operator CLI is refused: exit 1, nothing issued", () => {
      const pub = writeTemp(dir, "pub.pem", toPem("PUBLIC KEY", testKey("P-256").spki));
      const r = run([
        "cert",
        "issue",
        "--profile",
        "loa3-smartcard-auth",
        "--public-key",
        pub,
        "--subject",
        "CN=Eve,O=X,organizationIdentifier=NTRSE-1,C=SE",
        "--operator",
        "alice",
      ]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/cannot be issued through this channel/);
      expect(r.stdout).to.equal("");
    });

    it("ok/cert revoke, suspend rules and crl generate from the CLI; the CRL lists the serial", () => {
      const csr = writeTemp(dir, "rev.csr", toPem("CERTIFICATE REQUEST", makeCsr(testKey("P-256"), "ignored")));
      const out = join(dir, "rev.pem");
      expect(
        run([
          "cert",
          "issue",
          "--profile",
          "ocsp-signer",
          "--csr",
          csr,
          "--subject",
          "CN=OCSP 2,O=cardpki demo,C=SE",
          "--out",
          out,
          "--operator",
          "alice",
        ]).status,
      ).to.equal(0);
      const serial = new X509Certificate(readFileSync(out)).serialNumber.toLowerCase();
      const rev = run(["cert", "revoke", serial, "--reason", "superseded", "--operator", "alice"]);
      expect(rev.status, rev.stderr).to.equal(0);
      expect(JSON.parse(rev.stdout)).to.include({ serial, status: "revoked", reason: "superseded" });
      const again = run(["cert", "revoke", serial, "--reason", "affiliationChanged", "--operator", "alice"]);
      expect(again.status).to.equal(1);
      expect(again.stderr).to.match(/already revoked \(superseded\); only a change to keyCompromise/);
      const resume = run(["cert", "resume", serial, "--operator", "alice"]);
      expect(resume.status).to.equal(1);
      expect(resume.stderr).to.match(/not on hold/);
      const badReason = run(["cert", "revoke", serial, "--reason", "because", "--operator", "alice"]);
      expect(badReason.status).to.equal(1);
      expect(badReason.stderr).to.match(/reason 'because' is not allowed/);
      const crlFile = join(dir, "cli.crl");
      const gen = run(["crl", "generate", "--ca", "demo-issuing", "--out", crlFile, "--operator", "alice"]);
      expect(gen.status, gen.stderr).to.equal(0);
      const text = openssl([
        "crl",
        "-inform",
        "der",
        "-in",
        crlFile,
        "-noout",
        "-text",
        "-CAfile",
        join(env.caStore, "demo-issuing", "cert.pem"),
      ]).out;
      expect(text).to.include("verify OK");
      expect(text).to.include(serial.toUpperCase());
      expect(text).to.match(/Superseded/);
    });

    it("ok/ca list --json names both demo CAs with key URIs and no PIN", () => {
      const r = run(["ca", "list", "--json"]);
      const rows = JSON.parse(r.stdout) as { id: string; keyUri: string; active: boolean }[];
      expect(rows.map((x) => x.id)).to.deep.equal(["demo-issuing", "demo-root"]);
      for (const x of rows)
        expect(x.keyUri).to.match(
          /^pkcs11:token=cardpki-(root|issuing);object=demo-(root|issuing)-key;id=(%[0-9a-f]{2})+;type=private$/,
        );
      expect(rows.find((x) => x.id === "demo-issuing")!.active).to.equal(true);
      expect(existsSync(join(env.caStore, "demo-root", "key.uri"))).to.equal(true);
    });

    it("fail/a ceremony that would reuse an existing CA id is refused before any key is made", () => {
      const cust = join(env.env.CARDPKI_DATA_DIR!, "demo-custodians");
      const shares = ["alice", "bob"].flatMap((w) => [
        "--share",
        `${join(cust, `cardpki-root-${w}.share`)}=${join(cust, `${w}.passphrase`)}`,
      ]);
      const r = run([
        "ceremony",
        "run",
        join(process.cwd(), "policies", "ceremonies", "demo-root.yaml"),
        "--operator",
        "bob",
        "--witness",
        "wendy",
        ...shares,
        "--yes",
      ]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/already exists/);
    });
  });

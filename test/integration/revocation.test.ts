import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { toPem } from "../../src/asn1/der.js";
import { CaError } from "../../src/shared/ca-error.js";
import {
  demoBackends,
  demoEnvReady,
  requireTool,
  run,
  waitFor,
  writeTemp,
  type DemoEnv,
} from "../support/environment.js";
import { testKey } from "../support/keys.js";
import { ORG_SUBJECT, REPO_ROOT } from "../support/test-ca.js";

/** Revocation judged by independent tools: openssl ocsp / crl / verify, Java PKIX, and a fuzzer. */
for (const backend of demoBackends())
  describe(`revocation: OCSP and CRL (REQ-17..20) [${backend}]`, function () {
    this.timeout(180_000);
    let env: DemoEnv;
    let svc: Service;
    let dir: string;
    let root: string;
    let issuing: string;
    let url: string;
    const certs: Record<string, { pem: string; serial: string }> = {};

    const openssl = (args: string[]) => run("openssl", args);
    const ocsp = (args: string[]) =>
      openssl(["ocsp", "-issuer", issuing, "-CAfile", root, "-url", `${url}/ocsp`, ...args]);
    const issue = async (name: string) => {
      const out = await svc.parts.issuer.issue(svc.parts.authority("demo-issuing"), {
        profileId: "loa3-smartcard-auth",
        publicKey: testKey("P-256").spki,
        subject: ORG_SUBJECT,
        requestedBy: "test",
        allowedKinds: ["end-entity"],
      });
      certs[name] = { pem: writeTemp(dir, `${name}.pem`, toPem("CERTIFICATE", out.der)), serial: out.serial };
    };

    before(async function () {
      env = await demoEnvReady(this, backend);
      svc = await startService(
        { ...loadConfig(env.env), host: "127.0.0.1", port: 0 },
        { eventPollMs: 100, crlTickMs: 300 },
      );
      url = svc.url;
      dir = mkdtempSync(join(tmpdir(), "revocation-"));
      root = join(env.caStore, "demo-root", "cert.pem");
      issuing = join(env.caStore, "demo-issuing", "cert.pem");
      for (const n of ["alice", "bob", "carol", "dave"]) await issue(n);
    });
    after(async () => svc?.stop());

    it(`ok/openssl ocsp: good, verified against the root (delegated responder with nocheck), nonce \
echoed`, async () => {
      const r = await ocsp(["-cert", certs.alice!.pem]);
      expect(r.out).to.include("Response verify OK");
      expect(r.out).to.match(/alice\.pem: good/);
      expect(r.out).to.not.match(/WARNING: no nonce/);
    });

    it("ok/SHA-256 CertIDs and several requests in one message", async () => {
      const r = await ocsp(["-sha256", "-cert", certs.alice!.pem, "-cert", certs.bob!.pem]);
      expect(r.out).to.include("Response verify OK");
      expect(r.out).to.match(/alice\.pem: good/);
      expect(r.out).to.match(/bob\.pem: good/);
    });

    it("ok/a never-issued serial is unknown, never good; a foreign issuer is unauthorized", async () => {
      const u = await ocsp(["-serial", "0x01" + randomBytes(16).toString("hex")]);
      expect(u.out).to.match(/: unknown/);
      const f = await openssl(["ocsp", "-issuer", root, "-cert", issuing, "-url", `${url}/ocsp`, "-CAfile", root]);
      expect(f.out).to.match(/Responder Error: unauthorized \(6\)/);
    });

    it("ok/revoked with reason and time on OCSP within 1 s; upgrade rules enforced", async () => {
      const t0 = Date.now();
      await svc.parts.registry.revoke({ serial: certs.bob!.serial, reason: "superseded", actor: "officer:test" });
      let r = await ocsp(["-no_nonce", "-cert", certs.bob!.pem]);
      const seen = await waitFor(
        async () => /bob\.pem: revoked/.test((r = await ocsp(["-no_nonce", "-cert", certs.bob!.pem])).out),
        2000,
      );
      expect(seen, r.out).to.equal(true);
      expect(Date.now() - t0).to.be.lessThan(1500);
      expect(r.out).to.match(/Reason: superseded/);
      expect(r.out).to.match(/Revocation Time: /);
      // RFC 5280 5.3.1: re-revocation only upgrades to keyCompromise.
      let err: unknown;
      await svc.parts.registry
        .revoke({ serial: certs.bob!.serial, reason: "cessationOfOperation", actor: "t" })
        .catch((e) => (err = e));
      expect((err as CaError).kind).to.equal("conflict");
      const up = await svc.parts.registry.revoke({
        serial: certs.bob!.serial,
        reason: "keyCompromise",
        invalidityDate: new Date(Date.now() - 86_400_000),
        actor: "t",
      });
      expect(up.reason).to.equal("keyCompromise");
      expect(
        await waitFor(
          async () => /Reason: keyCompromise/.test((await ocsp(["-no_nonce", "-cert", certs.bob!.pem])).out),
          2000,
        ),
      ).to.equal(true);
      err = undefined;
      await svc.parts.registry
        .revoke({ serial: certs.bob!.serial, reason: "keyCompromise", actor: "t" })
        .catch((e) => (err = e));
      expect((err as CaError).kind).to.equal("conflict");
    });

    it("fail/unknown serial, bad reason, resume of a good certificate: clear errors", async () => {
      const tries: [() => Promise<unknown>, string][] = [
        [
          () => svc.parts.registry.revoke({ serial: "01" + "ab".repeat(16), reason: "keyCompromise", actor: "t" }),
          "not-found",
        ],
        [
          () => svc.parts.registry.revoke({ serial: certs.alice!.serial, reason: "privilegeWithdrawn", actor: "t" }),
          "policy-violation",
        ],
        [() => svc.parts.registry.revoke({ serial: "zz", reason: "keyCompromise", actor: "t" }), "invalid-input"],
        [() => svc.parts.registry.resume(certs.alice!.serial, "t"), "conflict"],
      ];
      for (const [f, kind] of tries) {
        let err: unknown;
        await f().catch((e) => (err = e));
        expect((err as CaError).kind, String(err)).to.equal(kind);
      }
    });

    it(`ok/suspend shows certificateHold; resume makes it good again and the delta CRL says \
removeFromCRL`, async () => {
      await svc.parts.registry.suspend(certs.carol!.serial, "t");
      expect(
        await waitFor(
          async () => /Reason: certificateHold/.test((await ocsp(["-no_nonce", "-cert", certs.carol!.pem])).out),
          2000,
        ),
      ).to.equal(true);
      await svc.parts.crls.generateFull(svc.parts.authority("demo-issuing"), "test"); // carol on hold in the base
      await svc.parts.registry.resume(certs.carol!.serial, "t");
      expect(
        await waitFor(
          async () => /carol\.pem: good/.test((await ocsp(["-no_nonce", "-cert", certs.carol!.pem])).out),
          2000,
        ),
      ).to.equal(true);
      const delta = await svc.parts.crls.generateDelta(svc.parts.authority("demo-issuing"), "test");
      const f = writeTemp(dir, "delta.crl", delta!.der);
      const text = (await openssl(["crl", "-inform", "der", "-in", f, "-noout", "-text"])).out;
      expect(text).to.match(/Delta CRL Indicator: critical/);
      expect(text).to.include(certs.carol!.serial.toUpperCase());
      expect(text).to.match(/Remove From CRL/);
    });

    it(`ok/CRL over HTTP: application/pkix-crl, caching headers, openssl verify -crl_check rejects the revoked \
certificate only`, async () => {
      const before = await svc.parts.revocations.latestCrl("demo-issuing", "full");
      await svc.parts.crls.generateFull(svc.parts.authority("demo-issuing"), "test");
      const res = await fetch(`${url}/crl/demo-issuing.crl`);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.equal("application/pkix-crl");
      expect(res.headers.get("etag")).to.match(/^"\d+-[0-9a-f]{16}"$/);
      expect(res.headers.get("last-modified")).to.be.a("string");
      expect(res.headers.get("cache-control")).to.match(/max-age=\d+/);
      const again = await fetch(`${url}/crl/demo-issuing.crl`, {
        headers: { "if-none-match": res.headers.get("etag")! },
      });
      expect(again.status).to.equal(304);
      const crl = writeTemp(dir, "full.crl", new Uint8Array(await res.arrayBuffer()));
      const text = (await openssl(["crl", "-inform", "der", "-in", crl, "-noout", "-text", "-CAfile", issuing])).out;
      expect(text).to.include("verify OK");
      expect(text).to.match(/Key Compromise/);
      expect(text).to.match(/Invalidity Date/);
      const number = Number(/X509v3 CRL Number: \n\s+(\d+)/.exec(text)![1]);
      expect(number).to.be.greaterThan(Number(before!.number));
      const pem = writeTemp(dir, "full.crl.pem", toPem("X509 CRL", readFileSync(crl)));
      const chain = writeTemp(dir, "chain.pem", readFileSync(issuing, "utf8") + readFileSync(root, "utf8"));
      const bad = await openssl(["verify", "-crl_check", "-CAfile", chain, "-CRLfile", pem, certs.bob!.pem]);
      expect(bad.out).to.match(/certificate revoked/);
      const good = await openssl(["verify", "-crl_check", "-CAfile", chain, "-CRLfile", pem, certs.alice!.pem]);
      expect(good.out).to.match(/alice\.pem: OK/);
      const rootCrl = await fetch(`${url}/crl/demo-root.crl`);
      expect(rootCrl.status).to.equal(200);
    });

    it(`ok/a revocation reaches the FULL CRL within afterRevocationSeconds, not only the delta: openssl verify \
-crl_check without -use_deltas rejects it (CPS 4.9.7)`, async () => {
      await issue("erin");
      const limitMs = svc.parts.revocationPolicy.crl.afterRevocationSeconds * 1000;
      const started = Date.now();
      await svc.parts.registry.revoke({ serial: certs.erin!.serial, reason: "keyCompromise", actor: "t" });
      const chain = writeTemp(dir, "chain-full.pem", readFileSync(issuing, "utf8") + readFileSync(root, "utf8"));
      let verdict = "";
      const listed = await waitFor(
        async () => {
          const res = await fetch(`${url}/crl/demo-issuing.crl`); // the full CRL, as a relying party fetches it
          const pem = writeTemp(dir, "full-now.crl.pem", toPem("X509 CRL", new Uint8Array(await res.arrayBuffer())));
          verdict = (await openssl(["verify", "-crl_check", "-CAfile", chain, "-CRLfile", pem, certs.erin!.pem])).out;
          return /certificate revoked/.test(verdict);
        },
        limitMs,
        500,
      );
      expect(listed, `not on the full CRL after ${limitMs} ms: ${verdict}`).to.equal(true);
      expect(Date.now() - started).to.be.lessThan(limitMs);
    });

    it("ok/a revocation reaches a new CRL within the policy time, without anyone asking", async () => {
      const before = await svc.parts.revocations.latestCrl("demo-issuing", "delta");
      await svc.parts.registry.revoke({ serial: certs.dave!.serial, reason: "affiliationChanged", actor: "t" });
      let latest = before;
      const end = Date.now() + 5000;
      while (Date.now() < end) {
        latest = await svc.parts.revocations.latestCrl("demo-issuing", "delta");
        if (latest && latest.number !== before?.number && latest.entries > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const f = writeTemp(dir, "auto-delta.crl", latest!.der);
      expect((await openssl(["crl", "-inform", "der", "-in", f, "-noout", "-text"])).out).to.include(
        certs.dave!.serial.toUpperCase(),
      );
    });

    it("ok/GET /ocsp/<base64> with RFC 5019 caching headers; the response parses with openssl", async () => {
      const reqFile = join(dir, "req.der");
      await openssl(["ocsp", "-issuer", issuing, "-cert", certs.alice!.pem, "-no_nonce", "-reqout", reqFile]);
      const b64 = encodeURIComponent(readFileSync(reqFile).toString("base64"));
      const res = await fetch(`${url}/ocsp/${b64}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.equal("application/ocsp-response");
      expect(res.headers.get("cache-control")).to.match(/^max-age=\d+, public, no-transform, must-revalidate$/);
      expect(res.headers.get("etag")).to.match(/^"[0-9a-f]{40}"$/);
      expect(res.headers.get("expires")).to.be.a("string");
      const respFile = writeTemp(dir, "resp.der", new Uint8Array(await res.arrayBuffer()));
      const r = await openssl([
        "ocsp",
        "-respin",
        respFile,
        "-issuer",
        issuing,
        "-cert",
        certs.alice!.pem,
        "-CAfile",
        root,
      ]);
      expect(r.out).to.include("Response verify OK");
      expect(r.out).to.match(/good/);
    });

    it(`fail/wrong content type 415, oversized 413, other methods 405: problem+json; garbage is \
malformedRequest`, async () => {
      const wrongType = await fetch(`${url}/ocsp`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "x",
      });
      expect(wrongType.status).to.equal(415);
      expect(wrongType.headers.get("content-type")).to.equal("application/problem+json");
      const big = await fetch(`${url}/ocsp`, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request" },
        body: new Uint8Array(20000),
      });
      expect(big.status).to.equal(413);
      const put = await fetch(`${url}/ocsp`, { method: "PUT" });
      expect(put.status).to.equal(405);
      const garbage = await fetch(`${url}/ocsp`, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request" },
        body: new Uint8Array([0x30, 0x03, 0x02, 0x01]),
      });
      expect(garbage.status).to.equal(200);
      expect(Buffer.from(await garbage.arrayBuffer()).toString("hex")).to.equal("30030a0101");
      const badGet = await fetch(`${url}/ocsp/%%%`);
      expect(Buffer.from(await badGet.arrayBuffer()).toString("hex")).to.equal("30030a0101");
    });

    it("ok/fuzz: 4,000 mutated and random bodies, never a 5xx, and the server still answers", async () => {
      const reqFile = join(dir, "fuzz-seed.der");
      await openssl([
        "ocsp",
        "-issuer",
        issuing,
        "-cert",
        certs.alice!.pem,
        "-cert",
        certs.carol!.pem,
        "-reqout",
        reqFile,
      ]);
      const seed = readFileSync(reqFile);
      const statuses = new Map<number, number>();
      const bodies: Uint8Array[] = [];
      for (let i = 0; i < 4000; i++) {
        const kind = i % 4;
        let b: Buffer;
        if (kind === 0)
          b = randomBytes(1 + (i % 300)); // random
        else if (kind === 1) {
          b = Buffer.from(seed); // bit flips
          for (let k = 0; k < 1 + (i % 5); k++)
            b[Math.floor(Math.random() * b.length)] ^= 1 << Math.floor(Math.random() * 8);
        } else if (kind === 2)
          b = seed.subarray(0, Math.floor(Math.random() * seed.length)); // truncation
        else {
          b = Buffer.from(seed); // length octets and tags
          const p = Math.floor(Math.random() * b.length);
          b[p] = [0x00, 0x7f, 0x80, 0x81, 0x84, 0xff, 0x30, 0x04][i % 8]!;
        }
        bodies.push(b);
      }
      for (let i = 0; i < bodies.length; i += 32) {
        await Promise.all(
          bodies.slice(i, i + 32).map(async (body) => {
            const r = await fetch(`${url}/ocsp`, {
              method: "POST",
              headers: { "content-type": "application/ocsp-request" },
              body,
            });
            await r.arrayBuffer();
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          }),
        );
      }
      expect(
        [...statuses.keys()].every((s) => s < 500),
        JSON.stringify([...statuses]),
      ).to.equal(true);
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      expect((await ocsp(["-cert", certs.alice!.pem])).out).to.match(/alice\.pem: good/);
    });

    it(`ok/Java PKIX CertPathValidator with OCSP: VALID for a good certificate, REVOKED for a revoked \
one`, async function () {
      requireTool(this, "javac");
      const jdir = mkdtempSync(join(tmpdir(), "pkix-"));
      copyFileSync(join(REPO_ROOT, "test", "support", "PkixOcspCheck.java"), join(jdir, "PkixOcspCheck.java"));
      const c = spawnSync("javac", ["-d", jdir, join(jdir, "PkixOcspCheck.java")], { encoding: "utf8" });
      expect(c.status, c.stderr).to.equal(0);
      const java = (leaf: string) => run("java", ["-cp", jdir, "PkixOcspCheck", root, issuing, leaf, `${url}/ocsp`]);
      const good = await java(certs.alice!.pem);
      expect(good.stdout.trim(), good.stderr).to.equal("VALID");
      const revoked = await java(certs.bob!.pem);
      expect(revoked.stdout, revoked.stderr).to.match(/^REVOKED:.*KEY_COMPROMISE/i);
      writeFileSync(join(jdir, "done"), "");
    });
  });

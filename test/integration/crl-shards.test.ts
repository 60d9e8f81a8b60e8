import { expect } from "chai";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { toPem } from "../../src/asn1/der.js";
import { cdpIdpDisagreement, shardOf, tbsOf } from "../../src/ca/crl-shards.js";
import { demoEnvReady, openssl, writeTemp, type DemoEnv } from "../support/environment.js";
import { testKey } from "../support/keys.js";
import { ORG_SUBJECT, REPO_ROOT } from "../support/test-ca.js";

const SHARDS = 4;

/** CRL partitions (RFC 5280 5.2.5) judged by `openssl verify -crl_check` / `-crl_check_all`. */
describe("CRL shards: issuing distribution points by serial hash (RFC 5280 5.2.5) [sqlite]", function () {
  this.timeout(180_000);
  let env: DemoEnv;
  let svc: Service;
  let dir: string;
  let url: string;
  let chain: string;
  let rootCrl: string;
  const certs: { pem: string; serial: string; der: Uint8Array; shard: number }[] = [];

  const issue = async () => {
    const out = await svc.parts.issuer.issue(svc.parts.authority("demo-issuing"), {
      profileId: "loa3-smartcard-auth",
      publicKey: testKey("P-256").spki,
      subject: ORG_SUBJECT,
      requestedBy: "test",
      allowedKinds: ["end-entity"],
    });
    const pem = writeTemp(dir, `c${certs.length}.pem`, toPem("CERTIFICATE", out.der));
    const c = { pem, serial: out.serial, der: out.der, shard: shardOf(out.serial, SHARDS) };
    certs.push(c);
    return c;
  };
  const fetchCrl = async (path: string, name: string) => {
    const res = await fetch(`${url}${path}`);
    expect(res.status, path).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("application/pkix-crl");
    const der = new Uint8Array(await res.arrayBuffer());
    return { der, pem: writeTemp(dir, name, toPem("X509 CRL", der)) };
  };

  before(async function () {
    env = await demoEnvReady(this, "sqlite");
    dir = mkdtempSync(join(tmpdir(), "crl-shards-"));
    const policyDir = join(dir, "policies");
    cpSync(join(REPO_ROOT, "policies"), policyDir, { recursive: true });
    const rp = join(policyDir, "revocation", "revocation.yaml");
    writeFileSync(
      rp,
      readFileSync(rp, "utf8").replace(
        /(\n\s+keepExpiredDays: .*\n)/,
        `$1  shards: { count: ${SHARDS}, by: serialHash }\n`,
      ),
    );
    svc = await startService(
      { ...loadConfig({ ...env.env, CARDPKI_RA_PORT: "0" }), policyDir, host: "127.0.0.1", port: 0 },
      { eventPollMs: 100, crlTickMs: 300 },
    );
    url = svc.url;
    const root = join(env.caStore, "demo-root", "cert.pem");
    const issuing = join(env.caStore, "demo-issuing", "cert.pem");
    chain = writeTemp(dir, "chain.pem", readFileSync(issuing, "utf8") + readFileSync(root, "utf8"));
    rootCrl = (await fetchCrl("/crl/demo-root.crl", "root.crl.pem")).pem;
    // Two certificates in different shards.
    const a = await issue();
    while (certs.every((c) => c.shard === a.shard)) await issue();
  });
  after(async () => svc?.stop());

  it(`ok/each certificate's CDP names its shard's URL; the shard CRL carries a critical IDP with that \
URL`, async () => {
    const a = certs[0]!;
    const text = openssl(["x509", "-in", a.pem, "-noout", "-text"]).out;
    expect(text).to.include(`URI:http://pki.test:8080/crl/demo-issuing/${a.shard}.crl`);
    await svc.parts.crls.generateFull(svc.parts.authority("demo-issuing"), "test", a.shard);
    const crl = await fetchCrl(`/crl/demo-issuing/${a.shard}.crl`, "a.crl.pem");
    const crlText = openssl(["crl", "-in", crl.pem, "-noout", "-text"]).out;
    expect(crlText).to.match(/X509v3 Issuing Distribution Point: critical/);
    expect(crlText).to.include(`URI:http://pki.test:8080/crl/demo-issuing/${a.shard}.crl`);
    expect(crlText).to.match(/Only User Certificates/);
    expect(crlText).to.include(`URI:http://pki.test:8080/crl/demo-issuing/${a.shard}-delta.crl`); // freshestCRL
    expect(cdpIdpDisagreement(tbsOf(a.der), tbsOf(crl.der))).to.equal(undefined);
    const other = certs.find((c) => c.shard !== a.shard)!;
    expect(cdpIdpDisagreement(tbsOf(other.der), tbsOf(crl.der))).to.match(/does not cover/);
  });

  it(`ok/revoked and good certificates in different shards: openssl verify -crl_check and -crl_check_all judge each by \
its shard CRL, and the unsharded CRL still covers both`, async () => {
    const revoked = certs[0]!;
    const good = certs.find((c) => c.shard !== revoked.shard)!;
    await svc.parts.registry.revoke({ serial: revoked.serial, reason: "keyCompromise", actor: "officer:test" });
    const a = svc.parts.authority("demo-issuing");
    for (const s of [revoked.shard, good.shard]) await svc.parts.crls.generateFull(a, "test", s);
    await svc.parts.crls.generateFull(a, "test");
    const rCrl = await fetchCrl(`/crl/demo-issuing/${revoked.shard}.crl`, "r.crl.pem");
    const gCrl = await fetchCrl(`/crl/demo-issuing/${good.shard}.crl`, "g.crl.pem");
    const full = await fetchCrl(`/crl/demo-issuing.crl`, "full.crl.pem");
    // The certificate's shard CRL is the one that lists it; the other shard does not.
    expect(openssl(["crl", "-in", rCrl.pem, "-noout", "-text"]).out).to.include(revoked.serial.toUpperCase());
    expect(openssl(["crl", "-in", gCrl.pem, "-noout", "-text"]).out).to.not.include(revoked.serial.toUpperCase());
    const verify = (crl: string, cert: string, all = false) =>
      openssl(["verify", all ? "-crl_check_all" : "-crl_check", "-CAfile", chain, "-CRLfile", crl, cert]);
    expect(verify(rCrl.pem, revoked.pem).out).to.match(/certificate revoked/);
    expect(verify(gCrl.pem, good.pem).out).to.match(/: OK/);
    // A shard CRL is not the scope of another shard's certificate (RFC 5280 6.3.3 b.2).
    const wrong = verify(rCrl.pem, good.pem);
    expect(wrong.status).to.not.equal(0);
    expect(wrong.out).to.match(/different CRL scope/);
    // The whole chain, with the root's CRL for the issuing CA.
    const both = (crl: string) =>
      writeTemp(dir, `all-${Math.random()}.pem`, readFileSync(crl, "utf8") + readFileSync(rootCrl, "utf8"));
    expect(verify(both(rCrl.pem), revoked.pem, true).out).to.match(/certificate revoked/);
    expect(verify(both(gCrl.pem), good.pem, true).out).to.match(/: OK/);
    // Unsharded full CRL (no IDP): still covers every certificate of the CA.
    expect(verify(full.pem, revoked.pem).out).to.match(/certificate revoked/);
    expect(verify(both(full.pem), good.pem, true).out).to.match(/: OK/);
  });

  it("ok/the service publishes every shard and its delta on its schedule; fail/no shard beyond the count", async () => {
    const a = svc.parts.authority("demo-issuing");
    for (let s = 0; s < SHARDS; s++) {
      await fetchCrl(`/crl/demo-issuing/${s}.crl`, `s${s}.crl.pem`);
      await svc.parts.crls.generateDelta(a, "test", s);
      const d = await fetchCrl(`/crl/demo-issuing/${s}-delta.crl`, `s${s}-delta.crl.pem`);
      const t = openssl(["crl", "-in", d.pem, "-noout", "-text"]).out;
      expect(t).to.match(/Delta CRL Indicator: critical/);
      expect(t).to.include(`URI:http://pki.test:8080/crl/demo-issuing/${s}.crl`);
    }
    expect((await fetch(`${url}/crl/demo-issuing/${SHARDS}.crl`)).status).to.equal(404);
    expect((await fetch(`${url}/crl/demo-issuing/x.crl`)).status).to.equal(404);
  });
});

import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireTool, run } from "../support/environment.js";
import { expiredCertificate, otherCaCard, softwareCard, startRpCa, type RpCa } from "../support/relying-party.js";

/**
 * NSS (Firefox/Chromium-class validation, Debian libnss3-tools) judges our card certificates:
 * `vfychain -pp` (CERT_PKIXVerifyCert) for TLS client use, the demo root as the only trust anchor,
 * revocation by OCSP fetched from the URL in the certificate's AIA, fresh information required
 * (RFC 6960; REQ-17..20 as a relying party sees them).
 */
/**
 * vfychain's refusal for revocation (SEC_ERROR_REVOKED_CERTIFICATE; certificateHold included). vfychain's error log
 * names the chain's last certificate, whatever its depth: the same chain validates once the card is good again.
 */
const LEAF_REVOKED = /Chain is bad![\s\S]*ERROR -8180: Peer's Certificate has been revoked/;

describe("relying party: NSS vfychain with OCSP fetching (libnss3-tools)", function () {
  this.timeout(180_000);
  let ca: RpCa;
  let db: string;

  before(async function () {
    for (const t of ["vfychain", "certutil"]) requireTool(this, t);
    ca = await startRpCa(this, "nss");
    db = mkdtempSync(join(ca.dir, "nssdb-"));
    const r = await run("certutil", ["-N", "-d", `sql:${db}`, "--empty-password"]);
    expect(r.status, r.out).to.equal(0);
    // The root as a trust anchor in the NSS database, as a relying party installs it. (An explicit vfychain -t anchor
    // is not used for the OCSP responder's own chain: NSS then cannot verify the delegated responder and fails.)
    const t = await run("certutil", [
      "-A",
      "-d",
      `sql:${db}`,
      "-n",
      "cardpki-demo-root",
      "-t",
      "CT,C,C",
      "-a",
      "-i",
      ca.rootFile,
    ]);
    expect(t.status, t.out).to.equal(0);
  });
  after(async () => ca?.stop());

  /**
   * vfychain for TLS client use (-u 0), leaf checked by OCSP with fresh info required; the root as the trust anchor in
   * its database.
   */
  const vfychain = async (certPem: string, name = "leaf") => {
    const leaf = join(ca.dir, `${name}-${Date.now()}.pem`);
    writeFileSync(leaf, certPem);
    const r = await run("vfychain", [
      ...["-d", `sql:${db}`, "-pp", "-u", "0", "-v"],
      // Fresh OCSP information for the leaf or no validation (fail closed); CA certificates by the trust anchor alone.
      ...["-g", "leaf", "-h", "requireFreshInfo", "-m", "ocsp", "-s", "failIfNoInfo", "-m", "crl", "-s", "doNotUse"],
      ...["-a", leaf, "-a", ca.issuingFile],
    ]);
    return { ok: r.status === 0 && /Chain is good/.test(r.out), out: r.out };
  };
  /**
   * The responder answers a state change within the policy time (REQ-19: seconds): vfychain until it says `ok`,
   * bounded.
   */
  const vfychainUntil = async (certPem: string, ok: boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await vfychain(certPem);
      if (v.ok === ok || Date.now() > end) return v;
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it(`ok/an activated card is good; the same card on hold (before activation, after a suspension) and after revocation \
is refused`, async () => {
    const card = await softwareCard(ca);
    const held = await vfychain(card.certPem);
    expect(held.ok, held.out).to.equal(false);
    expect(held.out, "on hold from issuance until activation (REQ-16): certificateHold").to.match(LEAF_REVOKED);

    await card.activate();
    const good = await vfychainUntil(card.certPem, true);
    expect(good.ok, good.out).to.equal(true);

    await card.suspend();
    const suspended = await vfychainUntil(card.certPem, false);
    expect(suspended.ok, suspended.out).to.equal(false);
    expect(suspended.out).to.match(LEAF_REVOKED);

    await card.resume();
    expect((await vfychainUntil(card.certPem, true)).ok).to.equal(true);

    await card.revoke("keyCompromise");
    const revoked = await vfychainUntil(card.certPem, false);
    expect(revoked.ok, revoked.out).to.equal(false);
    expect(revoked.out).to.match(LEAF_REVOKED);
  });

  it(`fail/an expired card of our own issuing CA is refused (expired), a card of another CA is refused (unknown \
issuer)`, async () => {
    const expired = await expiredCertificate(ca);
    const e = await vfychain(expired.certPem, "expired");
    expect(e.ok, e.out).to.equal(false);
    expect(e.out).to.match(/expired|-8181/i);

    const other = await otherCaCard(ca.dir);
    const o = await vfychain(other.certPem, "other");
    expect(o.ok, o.out).to.equal(false);
    expect(o.out).to.match(/issuer|-8179|-8172/i);
  });
});

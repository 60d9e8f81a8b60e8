import { expect } from "chai";
import { createPublicKey, verify } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as graphene from "graphene-pk11";
import { Pkcs11Keystore } from "../../src/hsm/pkcs11-keystore.js";
import { staticPin } from "../../src/hsm/pin-source.js";
import { CaError } from "../../src/shared/ca-error.js";
import { demoEnv, type DemoEnv } from "../support/environment.js";

const LIB = "/usr/lib/softhsm/libsofthsm2.so";

describe("hsm/pkcs11-keystore on SoftHSM2", function () {
  this.timeout(120_000);
  let env: DemoEnv;
  let ks: Pkcs11Keystore;
  before(async function () {
    env = demoEnv(this);
    ks = new Pkcs11Keystore({
      library: LIB,
      tokenLabel: env.spareToken.label,
      pin: staticPin(env.spareToken.pin),
      sessions: 4,
    });
    await ks.open();
  });
  after(() => ks?.close());

  for (const kt of ["P-256", "P-384", "RSA-2048"] as const) {
    it(`ok/${kt}: generated sensitive, non-extractable, sign-only; signatures verify`, async () => {
      const info = await ks.generateKeyPair(`it-${kt}`, kt);
      const a = await ks.keyAttributes({ id: info.id });
      expect(a).to.include({
        sensitive: true,
        extractable: false,
        sign: true,
        decrypt: false,
        unwrap: false,
        derive: false,
        token: true,
        private: true,
        neverExtractable: true,
        alwaysSensitive: true,
      });
      const signer = await ks.signer({ label: `it-${kt}` });
      const data = Buffer.from("to be signed");
      const sig = await signer.sign(data);
      const pub = createPublicKey({ key: Buffer.from(info.spki), format: "der", type: "spki" });
      expect(
        verify(kt.startsWith("RSA") ? "sha256" : kt === "P-384" ? "sha384" : "sha256", data, pub, Buffer.from(sig)),
      ).to.equal(true);
    });
  }

  it("ok/pkcs11-tool --list-objects shows the key as sensitive and never extractable", function () {
    if (spawnSync("sh", ["-c", "command -v pkcs11-tool"]).status !== 0) {
      if (process.env.CI === "true") throw new Error("pkcs11-tool required under CI");
      this.skip();
    }
    const r = spawnSync(
      "pkcs11-tool",
      [
        "--module",
        LIB,
        "--token-label",
        env.spareToken.label,
        "--login",
        "--pin",
        env.spareToken.pin,
        "--list-objects",
        "--type",
        "privkey",
      ],
      { env: { ...process.env, SOFTHSM2_CONF: env.softhsmConf }, encoding: "utf8" },
    );
    expect(r.stdout).to.match(/label:\s+it-P-256/);
    expect(r.stdout).to.match(/Access:\s+sensitive, always sensitive, never extractable/);
    expect(r.stdout).to.match(/Usage:\s+sign\s*\n/);
  });

  it("fail/an existing key label is refused", async () => {
    let err: unknown;
    await ks.generateKeyPair("it-P-256", "P-256").catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("conflict");
  });

  it("ok/200 parallel signatures over the session pool all verify", async () => {
    const signer = await ks.signer({ label: "it-P-256" });
    const pub = createPublicKey({ key: Buffer.from(signer.spki), format: "der", type: "spki" });
    const sigs = await Promise.all(Array.from({ length: 200 }, (_, i) => signer.sign(Buffer.from(`m${i}`))));
    sigs.forEach((s, i) => expect(verify("sha256", Buffer.from(`m${i}`), pub, Buffer.from(s))).to.equal(true));
  });

  it("ok/recovers after every session on the token is closed (token restart), no process restart", async () => {
    const signer = await ks.signer({ label: "it-P-256" });
    const before = ks.recoveries;
    ks.simulateTokenRestart();
    const sigs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signer.sign(Buffer.from(`after-restart-${i}`))),
    );
    expect(sigs).to.have.length(20);
    expect(ks.recoveries).to.be.greaterThan(before);
  });

  it("ok/recovers after the library is finalized under it (library restart)", async () => {
    const signer = await ks.signer({ label: "it-P-256" });
    // Another handle on the same library finalizes it, as an HSM client restart would.
    const other = graphene.Module.load(LIB);
    other.finalize();
    const sig = await signer.sign(Buffer.from("after library restart"));
    const pub = createPublicKey({ key: Buffer.from(signer.spki), format: "der", type: "spki" });
    expect(verify("sha256", Buffer.from("after library restart"), pub, Buffer.from(sig))).to.equal(true);
  });

  it("fail/wrong PIN: unauthorized; unknown token: hsm-unavailable; unknown key: not-found", async () => {
    // Login state is per application and token (PKCS#11 6.7.4): use a token this process has not logged in to.
    const bad = new Pkcs11Keystore({ library: LIB, tokenLabel: "cardpki-root", pin: staticPin("000000") });
    let err: unknown;
    await bad.open().catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("unauthorized");
    const none = new Pkcs11Keystore({ library: LIB, tokenLabel: "no-such-token", pin: staticPin("1") });
    err = undefined;
    await none.open().catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("hsm-unavailable");
    err = undefined;
    await ks.signer({ label: "no-such-key" }).catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("not-found");
  });
});

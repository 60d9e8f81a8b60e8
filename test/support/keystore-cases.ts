// The HSM keystore cases (src/hsm/pkcs11-keystore.ts), run on each PKCS#11 implementation the project supports:
// SoftHSM2 (test/integration/pkcs11-keystore.test.ts) and openCryptoki's software token
// (test/integration/opencryptoki-keystore.test.ts).
import { expect } from "chai";
import { createPublicKey, verify } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as graphene from "graphene-pk11";
import { Pkcs11Keystore } from "../../src/hsm/pkcs11-keystore.js";
import { staticPin } from "../../src/hsm/pin-source.js";
import { CaError } from "../../src/shared/ca-error.js";
import type { KeyType } from "../../src/shared/key-type.js";

export interface KeystoreTarget {
  readonly library: string;
  readonly tokenLabel: string;
  readonly pin: string;
  /** A token this process has not logged in to (login state is per application and token, PKCS#11 6.7.4). */
  readonly otherTokenLabel: string;
  /** Environment for pkcs11-tool (e.g. SOFTHSM2_CONF). */
  readonly toolEnv?: NodeJS.ProcessEnv;
  /** Why OpenSC's pkcs11-tool cannot list the token's private keys, when it cannot. */
  readonly noListObjects?: string;
}

/**
 * Registers the keystore cases in the current describe: `keyTypes` the token makes and signs with (the first is
 * the one the pool and recovery cases use), `missingKeyTypes` those it lacks the mechanisms for (refused by name
 * before anything is made); `target` is called in the before hook.
 */
export function keystoreCases(
  keyTypes: readonly KeyType[],
  target: (ctx: Mocha.Context) => KeystoreTarget | Promise<KeystoreTarget>,
  missingKeyTypes: readonly KeyType[] = [],
): void {
  const main = `it-${keyTypes[0]}`;
  let t: KeystoreTarget;
  let ks: Pkcs11Keystore;
  before(async function () {
    t = await target(this);
  });

  it("fail/wrong PIN: unauthorized; unknown token: hsm-unavailable", async () => {
    const bad = new Pkcs11Keystore({ library: t.library, tokenLabel: t.otherTokenLabel, pin: staticPin("0000") });
    let err: unknown;
    await bad.open().catch((e) => (err = e));
    expect((err as CaError).kind, String(err)).to.equal("unauthorized");
    const none = new Pkcs11Keystore({ library: t.library, tokenLabel: "no-such-token", pin: staticPin("1") });
    err = undefined;
    await none.open().catch((e) => (err = e));
    expect((err as CaError).kind).to.equal("hsm-unavailable");
  });

  describe("a keystore open on the token", () => {
    before(async () => {
      ks = new Pkcs11Keystore({ library: t.library, tokenLabel: t.tokenLabel, pin: staticPin(t.pin), sessions: 4 });
      await ks.open();
    });
    after(() => ks?.close());

    for (const kt of missingKeyTypes)
      it(`fail/${kt}: the token lacks the mechanisms; refused by name, nothing made`, async () => {
        let err: unknown;
        await ks.generateKeyPair(`it-${kt}`, kt).catch((e) => (err = e));
        expect([(err as CaError).kind, (err as CaError).code], String(err)).to.deep.equal([
          "config",
          "hsm-mechanism-missing",
        ]);
        expect((err as Error).message).to.match(/CKM_EC_KEY_PAIR_GEN|CKM_ECDSA|CKM_RSA_PKCS/);
        expect(await ks.hasKey({ label: `it-${kt}` })).to.equal(false);
      });

    for (const kt of keyTypes) {
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
      if (t.noListObjects) this.skip(); // named by the target, see its noListObjects
      if (spawnSync("sh", ["-c", "command -v pkcs11-tool"]).status !== 0) {
        if (process.env.CI === "true") throw new Error("pkcs11-tool required under CI");
        this.skip();
      }
      const r = spawnSync(
        "pkcs11-tool",
        [
          ...["--module", t.library, "--token-label", t.tokenLabel, "--login", "--pin", t.pin],
          ...["--list-objects", "--type", "privkey"],
        ],
        { env: { ...process.env, ...t.toolEnv }, encoding: "utf8" },
      );
      expect(r.stdout, r.stderr).to.match(new RegExp(`label:\\s+${main}`));
      expect(r.stdout).to.match(/Access:\s+sensitive, always sensitive, never extractable/);
      expect(r.stdout).to.match(/Usage:\s+sign\s*\n/);
    });

    it("fail/an existing key label is refused; an unknown key is not-found", async () => {
      let err: unknown;
      await ks.generateKeyPair(main, keyTypes[0]!).catch((e) => (err = e));
      expect((err as CaError).kind).to.equal("conflict");
      err = undefined;
      await ks.signer({ label: "no-such-key" }).catch((e) => (err = e));
      expect((err as CaError).kind).to.equal("not-found");
    });

    it("ok/200 parallel signatures over the session pool all verify", async () => {
      const signer = await ks.signer({ label: main });
      const pub = createPublicKey({ key: Buffer.from(signer.spki), format: "der", type: "spki" });
      const sigs = await Promise.all(Array.from({ length: 200 }, (_, i) => signer.sign(Buffer.from(`m${i}`))));
      sigs.forEach((s, i) => expect(verify("sha256", Buffer.from(`m${i}`), pub, Buffer.from(s))).to.equal(true));
    });

    it("ok/recovers after every session on the token is closed (token restart), no process restart", async () => {
      const signer = await ks.signer({ label: main });
      const before = ks.recoveries;
      ks.simulateTokenRestart();
      const sigs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => signer.sign(Buffer.from(`after-restart-${i}`))),
      );
      expect(sigs).to.have.length(20);
      expect(ks.recoveries).to.be.greaterThan(before);
    });

    it("ok/recovers after the library is finalized under it (library restart)", async () => {
      const signer = await ks.signer({ label: main });
      // Another handle on the same library finalizes it, as an HSM client restart would.
      const other = graphene.Module.load(t.library);
      other.finalize();
      const sig = await signer.sign(Buffer.from("after library restart"));
      const pub = createPublicKey({ key: Buffer.from(signer.spki), format: "der", type: "spki" });
      expect(verify("sha256", Buffer.from("after library restart"), pub, Buffer.from(sig))).to.equal(true);
    });
  });
}

import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { keystoreCases } from "../support/keystore-cases.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { openCryptokiToken, type OcToken } from "../support/opencryptoki.js";

/** The same HSM keystore cases as on SoftHSM2, on openCryptoki's software token (its own slot daemon). */
describe("hsm/pkcs11-keystore on openCryptoki (software token, pkcsslotd)", function () {
  this.timeout(120_000);
  let tok: OcToken | undefined;
  keystoreCases(
    ["RSA-2048"],
    (ctx) => {
      tok = openCryptokiToken(ctx);
      return {
        library: tok.library,
        tokenLabel: tok.label,
        pin: tok.pin,
        // openCryptoki has one software token: the wrong PIN is tried on it before this process logs in.
        otherTokenLabel: tok.label,
        noListObjects:
          "OpenSC's pkcs11-tool stops at C_GetAttributeValue(CKA_CLASS) = " +
          "CKR_ATTRIBUTE_SENSITIVE on openCryptoki's private keys",
      };
    },
    // openCryptoki 3.8's software token (Debian 12) has no EC mechanisms at all.
    ["P-256", "P-384"],
  );
  it(`ok/a process that signed from the thread pool and closed the keystore exits cleanly (the library stays \
loaded)`, () => {
    // openCryptoki leaves thread-exit handlers (libitm) on the threads that called it: unloaded, they crash the exit.
    const script = join(REPO_ROOT, "dist", "test", "support", "pkcs11-exit.js");
    for (let run = 0; run < 3; run++) {
      const r = spawnSync(process.execPath, ["--expose-gc", script, tok!.library, tok!.label, tok!.pin], {
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.stdout, r.stderr).to.include("CLOSED loaded");
      expect({ status: r.status, signal: r.signal }, r.stderr).to.deep.equal({ status: 0, signal: null });
    }
  });
  after(() => tok?.stop());
});

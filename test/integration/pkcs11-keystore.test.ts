import { demoEnv } from "../support/environment.js";
import { keystoreCases } from "../support/keystore-cases.js";

const LIB = "/usr/lib/softhsm/libsofthsm2.so";

describe("hsm/pkcs11-keystore on SoftHSM2", function () {
  this.timeout(120_000);
  keystoreCases(["P-256", "P-384", "RSA-2048"], (ctx) => {
    const env = demoEnv(ctx);
    return {
      library: LIB,
      tokenLabel: env.spareToken.label,
      pin: env.spareToken.pin,
      otherTokenLabel: "cardpki-root", // a demo token this process has not logged in to
      toolEnv: { SOFTHSM2_CONF: env.softhsmConf },
    };
  });
});

import { keystoreCases } from "../support/keystore-cases.js";
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
          "OpenSC's pkcs11-tool stops at C_GetAttributeValue(CKA_CLASS) = CKR_ATTRIBUTE_SENSITIVE on openCryptoki's private keys",
      };
    },
    // openCryptoki 3.8's software token (Debian 12) has no EC mechanisms at all.
    ["P-256", "P-384"],
  );
  after(() => tok?.stop());
});

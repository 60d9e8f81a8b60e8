import { isAbsolute, relative, resolve } from "node:path";
import { CaError } from "../shared/ca-error.js";
import type { Authority } from "../ca/authority.js";
import type { RevocationPolicy } from "../policy/revocation-policy.js";
import { envPin, filePin, type PinSource } from "../hsm/pin-source.js";
import { APP_ROOT, type Config } from "./config.js";
import { embeddedSoftHsmConfig } from "./data-folder.js";

/** Points SoftHSM2 at the embedded default's token directory when nothing else is configured. */
export function useEmbeddedSoftHsm(config: Config): void {
  if (process.env.SOFTHSM2_CONF) return;
  const conf = embeddedSoftHsmConfig(config.dataDir); // the data folder's own tokens, also in a copy of it
  if (conf) process.env.SOFTHSM2_CONF = conf;
}

export function pinSourceFor(config: Config, token: string, override?: PinSource): PinSource {
  if (override) return override;
  const p = config.tokenPins[token];
  if (!p)
    throw new CaError(
      "config",
      `no PIN source configured for token '${token}' (tokenPins in cardpki.json or CARDPKI_PIN_FILE_<TOKEN>)`,
    );
  if ("env" in p) return envPin(p.env);
  // REQ-26: a PIN never comes from a file in the repository (the git-ignored data folder is not part of it).
  const file = resolve(p.file);
  const inside = (dir: string) => !relative(dir, file).startsWith("..") && !isAbsolute(relative(dir, file));
  if (inside(APP_ROOT) && !inside(config.dataDir))
    throw new CaError(
      "config",
      `PIN file ${file} lies inside the project folder; keep PINs outside the repository (or in the data folder)`,
    );
  return filePin(file);
}

/** The URLs a CA puts into what it issues (AIA and CRL DP are built from configuration). */
export function caUrls(baseUrl: string) {
  return (caId: string, kind: "root" | "issuing"): Authority["urls"] => ({
    ...(kind === "issuing" ? { ocsp: `${baseUrl}/ocsp` } : {}),
    caIssuers: `${baseUrl}/ca/${caId}.cer`,
    crl: `${baseUrl}/crl/${caId}.crl`,
  });
}

/** RFC 5280 5.2.5: an issuing CA takes the revocation policy's CRL shards (a root's CRL stays whole). */
export function withCrlSharding(a: Authority, policy: RevocationPolicy, kind: "root" | "issuing"): Authority {
  const shards = policy.crl.shards;
  return shards && kind === "issuing" ? { ...a, crlSharding: { count: shards.count } } : a;
}

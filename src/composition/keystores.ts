import { Pkcs11Keystore } from "../hsm/pkcs11-keystore.js";
import type { PinSource } from "../hsm/pin-source.js";
import type { Config } from "./config.js";
import { pinSourceFor } from "./ca-settings.js";

/** The PKCS#11 tokens a role opens, each once, on first use; closed together. */
export interface Keystores {
  keystore(token: string): Promise<Pkcs11Keystore>;
  close(): Promise<void>;
}

export function openKeystores(config: Config, pins?: Readonly<Record<string, PinSource>>): Keystores {
  const keystores = new Map<string, Promise<Pkcs11Keystore>>();
  return {
    keystore(token) {
      let ks = keystores.get(token);
      if (!ks) {
        const k = new Pkcs11Keystore({
          library: config.pkcs11Library,
          tokenLabel: token,
          pin: pinSourceFor(config, token, pins?.[token]),
          sessions: config.hsmSessions,
        });
        ks = k.open().then(() => k);
        ks.catch(() => keystores.delete(token));
        keystores.set(token, ks);
      }
      return ks;
    },
    async close() {
      for (const ks of keystores.values()) await ks.then((k) => k.close()).catch(() => undefined);
      keystores.clear();
    },
  };
}

import { createCipheriv, createDecipheriv } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { SecretSealer } from "../card/ports.js";
import type { Random } from "../shared/random.js";

/**
 * Card secrets at rest (management keys, PUKs) under AES-256-GCM with a key-encryption key;
 * the context (card id and field) is the associated data, so a sealed value cannot be moved to
 * another card or field. Format `v1.<base64 iv|tag|ciphertext>`.
 */
export function aesGcmSealer(kek: Uint8Array, random: Random): SecretSealer {
  return {
    seal(plain, context) {
      const iv = random.bytes(12);
      const c = createCipheriv("aes-256-gcm", kek, iv);
      c.setAAD(Buffer.from(context, "utf8"));
      const ct = Buffer.concat([c.update(plain), c.final()]);
      return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64")}`;
    },
    open(sealed, context) {
      const m = /^v1\.([A-Za-z0-9+/=]+)$/.exec(sealed);
      if (!m) throw new CaError("internal", "a sealed card secret has an unknown format");
      const raw = Buffer.from(m[1]!, "base64");
      try {
        const d = createDecipheriv("aes-256-gcm", kek, raw.subarray(0, 12));
        d.setAAD(Buffer.from(context, "utf8"));
        d.setAuthTag(raw.subarray(12, 28));
        return new Uint8Array(Buffer.concat([d.update(raw.subarray(28)), d.final()]));
      } catch {
        throw new CaError("config", `a sealed card secret (${context}) does not open with this key-encryption key`);
      }
    },
  };
}

import { CaError } from "../shared/ca-error.js";

/** RFC 7512 PKCS#11 URI of a key: token, object label, id, type. Never carries a PIN. */
export interface Pkcs11KeyUri {
  readonly token: string;
  readonly object?: string;
  readonly id?: string; // hex
}

const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** `type` (RFC 7512 2.3): private for signing keys, secret-key for the AES data-key wrapping key (REQ-29). */
export function formatPkcs11Uri(u: Pkcs11KeyUri & { readonly type?: "private" | "secret-key" }): string {
  const parts = [`token=${enc(u.token)}`];
  if (u.object !== undefined) parts.push(`object=${enc(u.object)}`);
  if (u.id !== undefined) parts.push(`id=${u.id.replace(/(..)/g, "%$1")}`);
  parts.push(`type=${u.type ?? "private"}`);
  return `pkcs11:${parts.join(";")}`;
}

export function parsePkcs11Uri(s: string): Pkcs11KeyUri {
  const m = /^pkcs11:([^?]*)(\?.*)?$/.exec(s.trim());
  if (!m) throw new CaError("config", `not a PKCS#11 URI: ${s}`);
  if (m[2] && /pin-value|pin-source/i.test(m[2]))
    throw new CaError("config", "PKCS#11 URIs in cardpki never carry a PIN (RFC 7512 2.3 pin-value)");
  const attrs: Record<string, string> = {};
  for (const part of m[1]!.split(";").filter(Boolean)) {
    const i = part.indexOf("=");
    if (i < 0) throw new CaError("config", `bad PKCS#11 URI attribute '${part}'`);
    const k = part.slice(0, i);
    const raw = part.slice(i + 1);
    try {
      // id is raw bytes (RFC 7512 2.3): decode %XX octet by octet, not as UTF-8.
      attrs[k] =
        k === "id"
          ? Buffer.from(
              raw.replace(
                /%([0-9a-fA-F]{2})|(.)/gs,
                (_m, h: string, c: string) => h ?? Buffer.from(c, "utf8").toString("hex"),
              ),
              "hex",
            ).toString("hex")
          : decodeURIComponent(raw);
    } catch {
      throw new CaError("config", `bad percent-encoding in PKCS#11 URI attribute '${k}'`);
    }
  }
  if (!attrs.token) throw new CaError("config", `PKCS#11 URI without token: ${s}`);
  const id = attrs.id;
  return {
    token: attrs.token,
    ...(attrs.object !== undefined ? { object: attrs.object } : {}),
    ...(id !== undefined ? { id } : {}),
  };
}

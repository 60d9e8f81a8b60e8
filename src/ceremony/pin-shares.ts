import { createCipheriv, createDecipheriv, createHash, scryptSync, timingSafeEqual } from "node:crypto";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, type Frozen } from "../shared/schema-types.js";
import { combine, split } from "shamir-secret-sharing";

/**
 * One custodian's share of a token PIN (REQ-26, multi-person control). Split and combined by the
 * audited `shamir-secret-sharing` package (GF(2^8), the AES field; its share is y || x, stored
 * here as `index` = x and the encrypted y: the same file format as before it). The share is encrypted
 * with a key derived from the custodian's own passphrase (scrypt); AES-256-GCM authenticates
 * the whole file, so a wrong passphrase or an altered byte is detected, never a wrong PIN.
 */
/** A share file as written (one per custodian); every field but the ciphertext is authenticated (AAD). */
const PIN_SHARE_FILE = Closed({
  format: Type.Literal("cardpki-pin-share/1"),
  token: Type.String(),
  custodian: Type.String(),
  /** The share's x coordinate in GF(2^8), 1..255 (files before the library: 1..n; both combine alike). */
  index: Type.Integer(),
  threshold: Type.Integer(),
  shares: Type.Integer(),
  /** Identifies one split: shares of different splits never combine. */
  setId: Type.String(),
  /** SHA-256(setId || PIN): checks the rebuilt PIN. */
  commitment: Type.String(),
  kdf: Closed({
    name: Type.Literal("scrypt"),
    N: Type.Integer(),
    r: Type.Integer(),
    p: Type.Integer(),
    salt: Type.String(),
  }),
  iv: Type.String(),
  ciphertext: Type.String(),
  tag: Type.String(),
});
export type PinShareFile = Frozen<Static<typeof PIN_SHARE_FILE>>;
const validateShareFile = new Ajv({ allErrors: true, strict: true }).compile<PinShareFile>(PIN_SHARE_FILE);

export interface Custodian {
  readonly name: string;
  readonly passphrase: string;
}

const KDF = { N: 1 << 15, r: 8, p: 1 };
const MIN_PASSPHRASE = 8;

function header(f: Omit<PinShareFile, "iv" | "ciphertext" | "tag" | "kdf"> & { kdf: PinShareFile["kdf"] }): Buffer {
  // Everything but the ciphertext is authenticated as AAD.
  return Buffer.from(
    JSON.stringify([f.format, f.token, f.custodian, f.index, f.threshold, f.shares, f.setId, f.commitment, f.kdf]),
  );
}

function kek(passphrase: string, kdf: PinShareFile["kdf"]): Buffer {
  return scryptSync(passphrase.normalize("NFC"), Buffer.from(kdf.salt, "base64"), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * 1024 * 1024,
  });
}

function commitment(setId: string, pin: Uint8Array): string {
  return createHash("sha256").update(setId).update(pin).digest("hex");
}

/**
 * Splits a PIN among custodians, any `threshold` of whom rebuild it. The polynomial coefficients
 * and x coordinates come from the library's own CSPRNG (crypto.getRandomValues); `random` makes
 * the split id, salts and IVs.
 */
export async function createPinShares(
  token: string,
  pin: string,
  custodians: readonly Custodian[],
  threshold: number,
  random: Random,
): Promise<PinShareFile[]> {
  const names = custodians.map((c) => c.name);
  if (new Set(names).size !== names.length) throw new CaError("invalid-input", "custodian names must be distinct");
  for (const c of custodians) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(c.name)) throw new CaError("invalid-input", `bad custodian name '${c.name}'`);
    if (c.passphrase.length < MIN_PASSPHRASE)
      throw new CaError("invalid-input", `passphrase of ${c.name} shorter than ${MIN_PASSPHRASE} characters`);
  }
  if (!Number.isInteger(threshold) || threshold < 2 || custodians.length < threshold || custodians.length > 255)
    throw new CaError("invalid-input", `need 2 <= quorum (${threshold}) <= shares (${custodians.length}) <= 255`);
  const secret = new TextEncoder().encode(pin);
  if (secret.length === 0) throw new CaError("invalid-input", "an empty PIN cannot be split");
  const setId = Buffer.from(random.bytes(16)).toString("hex");
  const parts = (await split(secret, custodians.length, threshold)).map((s) => ({
    x: s[s.length - 1]!,
    y: s.subarray(0, s.length - 1),
  }));
  return custodians.map((c, i) => {
    const kdf = { name: "scrypt" as const, ...KDF, salt: Buffer.from(random.bytes(16)).toString("base64") };
    const meta = {
      format: "cardpki-pin-share/1" as const,
      token,
      custodian: c.name,
      index: parts[i]!.x,
      threshold,
      shares: custodians.length,
      setId,
      commitment: commitment(setId, secret),
      kdf,
    };
    const iv = Buffer.from(random.bytes(12));
    const cipher = createCipheriv("aes-256-gcm", kek(c.passphrase, kdf), iv);
    cipher.setAAD(header(meta));
    const ct = Buffer.concat([cipher.update(parts[i]!.y), cipher.final()]);
    return {
      ...meta,
      iv: iv.toString("base64"),
      ciphertext: ct.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
    };
  });
}

export function parseShareFile(text: string, source: string): PinShareFile {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch {
    throw new CaError("invalid-input", `${source} is not a share file (JSON)`);
  }
  if (!validateShareFile(f))
    throw new CaError(
      "invalid-input",
      `${source} is not a cardpki PIN share (${schemaErrorText(validateShareFile.errors)})`,
    );
  return f;
}

export interface OpenedShare {
  readonly file: PinShareFile;
  readonly y: Uint8Array;
}

/** Decrypts one share with its custodian's passphrase; a wrong passphrase or altered file is refused. */
export function openShare(file: PinShareFile, passphrase: string): OpenedShare {
  try {
    const d = createDecipheriv("aes-256-gcm", kek(passphrase, file.kdf), Buffer.from(file.iv, "base64"));
    d.setAAD(header(file));
    d.setAuthTag(Buffer.from(file.tag, "base64"));
    const y = Buffer.concat([d.update(Buffer.from(file.ciphertext, "base64")), d.final()]);
    return { file, y: new Uint8Array(y) };
  } catch {
    throw new CaError(
      "unauthorized",
      `share of custodian '${file.custodian}' for token '${file.token}' does not ` +
        `open: wrong passphrase or the share file was altered`,
    );
  }
}

/** Rebuilds the PIN from at least `threshold` opened shares of one split. */
export async function combinePinShares(token: string, opened: readonly OpenedShare[]): Promise<string> {
  const mine = opened.filter((o) => o.file.token === token);
  if (mine.length === 0) throw new CaError("unauthorized", `no custodian share for token '${token}'`);
  const { threshold, setId, commitment: want } = mine[0]!.file;
  if (mine.some((o) => o.file.setId !== setId))
    throw new CaError("invalid-input", `shares for token '${token}' come from different splits`);
  const distinct = new Map(mine.map((o) => [o.file.index, o]));
  if (distinct.size < threshold)
    throw new CaError(
      "unauthorized",
      `token '${token}' needs ${threshold} of ${mine[0]!.file.shares} custodians; ` +
        `${distinct.size} present (${[...distinct.values()].map((o) => o.file.custodian).join(", ")})`,
    );
  const chosen = [...distinct.values()].slice(0, threshold);
  const len = chosen[0]!.y.length;
  if (chosen.some((o) => o.y.length !== len || o.file.index < 1 || o.file.index > 255))
    throw new CaError("invalid-input", `shares for token '${token}' are of different secrets`);
  let pin: Uint8Array;
  try {
    pin = await combine(chosen.map((o) => Uint8Array.from([...o.y, o.file.index])));
  } catch (e) {
    throw new CaError("invalid-input", `shares for token '${token}' do not combine: ${(e as Error).message}`);
  }
  const got = Buffer.from(commitment(setId, pin), "hex");
  if (!timingSafeEqual(got, Buffer.from(want, "hex")))
    throw new CaError("unauthorized", `shares for token '${token}' do not rebuild the PIN`);
  return new TextDecoder().decode(pin);
}

import { createCipheriv, createDecipheriv } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";

/** Where a value lives: its table, column and row id (the associated data of its encryption). */
export interface FieldPlace {
  readonly table: string;
  readonly column: string;
  readonly id: string;
}

/** A data-encryption key (DEK) in clear, in memory only: its id and 32 bytes (unwrapped by the HSM at start). */
export interface DataKey {
  readonly id: string;
  readonly key: Uint8Array;
}

const PREFIX = "enc:v1:";
const IV = 12;
const TAG = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * REQ-29: personal data encrypted at rest, field by field, with AES-256-GCM in process (a few
 * microseconds a field; the HSM is asked once at start to unwrap the data keys, never per field).
 *
 * Format `enc:v1:<keyId>:<base64url(iv | ciphertext | tag)>`, a fresh random 96-bit IV per value.
 * The associated data is the format version, the key id and the value's place (table, column, row
 * id): a ciphertext copied to another row or column, or relabelled with another key id, does not
 * open. Several keys may be live (rotation): new values go under the current one, older values
 * still open. A stored value without the prefix is legacy cleartext and reads as it is (until
 * `cardpki data encrypt-existing` seals it).
 */
export class FieldCipher {
  private readonly keys = new Map<string, Uint8Array>();
  private loading: Promise<void> | undefined;

  /**
   * `loadMissing` fetches data keys this process has not loaded (made by another process after a
   * rotation); stores call `ready()` with what they read before opening it.
   */
  constructor(
    keys: readonly DataKey[],
    readonly currentKeyId: string,
    private readonly random: Random,
    private readonly loadMissing?: (ids: readonly string[]) => Promise<readonly DataKey[]>,
  ) {
    this.add(keys);
    if (!this.keys.has(currentKeyId))
      throw new CaError("config", `the current data key ${currentKeyId} is not among the loaded data keys`);
  }

  private add(keys: readonly DataKey[]): void {
    for (const k of keys) {
      if (!KEY_ID.test(k.id))
        throw new CaError(
          "config",
          `data key id '${k.id}' is not usable in the field format (letters, digits, - and _ only)`,
        );
      if (k.key.length !== 32)
        throw new CaError("config", `data key ${k.id} is ${k.key.length} bytes; AES-256 needs 32`);
      this.keys.set(k.id, k.key);
    }
  }

  /** Loads the data keys named by these stored values that are not loaded yet (cheap when all are). */
  async ready(...stored: readonly (string | null | undefined)[]): Promise<void> {
    let missing: Set<string> | undefined;
    for (const v of stored) {
      if (v == null || !v.startsWith(PREFIX)) continue;
      const id = v.slice(PREFIX.length, v.indexOf(":", PREFIX.length));
      if (!this.keys.has(id) && KEY_ID.test(id)) (missing ??= new Set()).add(id);
    }
    if (!missing || !this.loadMissing) return;
    while (this.loading) await this.loading;
    const still = [...missing].filter((id) => !this.keys.has(id));
    if (still.length === 0) return;
    this.loading = this.loadMissing(still)
      .then((keys) => this.add(keys))
      .finally(() => (this.loading = undefined));
    await this.loading;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Encrypts under the current key. */
  seal(value: string, place: FieldPlace): string {
    const keyId = this.currentKeyId;
    const iv = this.random.bytes(IV);
    if (iv.length !== IV) throw new CaError("internal", "the random source gave a short IV");
    const c = createCipheriv("aes-256-gcm", this.keys.get(keyId)!, iv);
    c.setAAD(aad(keyId, place));
    const ct = Buffer.concat([c.update(value, "utf8"), c.final()]);
    return `${PREFIX}${keyId}:${Buffer.concat([iv, ct, c.getAuthTag()]).toString("base64url")}`;
  }

  /** Decrypts a sealed value; legacy cleartext (no prefix) is returned as it is. */
  open(stored: string, place: FieldPlace): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const rest = stored.slice(PREFIX.length);
    const colon = rest.indexOf(":");
    const keyId = colon > 0 ? rest.slice(0, colon) : "";
    const body = colon > 0 ? rest.slice(colon + 1) : "";
    const where = `${place.table}.${place.column} of ${place.id}`;
    if (!KEY_ID.test(keyId) || !/^[A-Za-z0-9_-]+$/.test(body))
      throw new CaError("internal", `personal data in ${where} is malformed (not the enc:v1 format)`, {
        ...place,
        reason: "malformed",
      });
    const key = this.keys.get(keyId);
    if (!key)
      throw new CaError(
        "config",
        `personal data in ${where} is encrypted under data key ${keyId}, which is ` +
          `not loaded (loaded: ${this.keyIds.join(", ")}): is this database's ` +
          `data_keys table intact?`,
        { ...place, keyId, reason: "unknown-key" },
      );
    const raw = Buffer.from(body, "base64url");
    if (raw.length < IV + TAG)
      throw new CaError("internal", `personal data in ${where} is truncated`, { ...place, keyId, reason: "malformed" });
    try {
      const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV));
      d.setAAD(aad(keyId, place));
      d.setAuthTag(raw.subarray(raw.length - TAG));
      return Buffer.concat([d.update(raw.subarray(IV, raw.length - TAG)), d.final()]).toString("utf8");
    } catch {
      // REQ-29: never garbage: an altered value, or one moved from another row or column, is refused.
      throw new CaError(
        "internal",
        `personal data in ${where} fails authentication (altered, or moved from another row or column)`,
        { ...place, keyId, reason: "authentication-failed" },
      );
    }
  }

  sealOptional(value: string | null | undefined, place: FieldPlace): string | null {
    return value == null ? null : this.seal(value, place);
  }

  openOptional(stored: string | null | undefined, place: FieldPlace): string | undefined {
    return stored == null ? undefined : this.open(stored, place);
  }

  /** True for legacy cleartext and for values under an older key: `encrypt-existing` seals them again. */
  needsSealing(stored: string): boolean {
    return !stored.startsWith(`${PREFIX}${this.currentKeyId}:`);
  }

  /** True when a stored value is in the encrypted format (any key). */
  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }
}

function aad(keyId: string, place: FieldPlace): Buffer {
  // Lengths first, so no choice of names can make two different places read alike.
  const parts = ["cardpki-field", "v1", keyId, place.table, place.column, place.id];
  return Buffer.from(parts.map((p) => `${Buffer.byteLength(p)}:${p}`).join("|"), "utf8");
}

import { createHash, createPublicKey } from "node:crypto";
import * as graphene from "graphene-pk11";
import pkcs11js from "pkcs11js"; // default import: the CJS constants are not named ESM exports
import { CaError } from "../shared/ca-error.js";
import type { KeyType } from "../shared/key-type.js";
import type { PinSource } from "./pin-source.js";
import type { Pkcs11KeyUri } from "./pkcs11-uri.js";
import {
  ecdsaRawToDer,
  rsaDigestInfo,
  signatureAlgorithmFor,
  type SignatureAlgorithm,
} from "./signature-algorithms.js";
import { cryptoRandom } from "../shared/random.js";

export interface Pkcs11Options {
  /** Path of the PKCS#11 library (SoftHSM2 by default, any HSM by configuration). */
  readonly library: string;
  readonly tokenLabel: string;
  readonly pin: PinSource;
  /** Sessions kept open for parallel signing (each holds one operation at a time). */
  readonly sessions?: number;
}

export interface KeyRef {
  readonly label?: string;
  /** CKA_ID as hex. */
  readonly id?: string;
}

export interface KeyInfo {
  readonly label: string;
  readonly id: string;
  readonly keyType: KeyType;
  readonly spki: Uint8Array;
}

export interface KeyAttributes {
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly alwaysSensitive: boolean;
  readonly neverExtractable: boolean;
  readonly sign: boolean;
  readonly decrypt: boolean;
  readonly unwrap: boolean;
  readonly derive: boolean;
  readonly token: boolean;
  readonly private: boolean;
}

/** Errors after which a fresh C_Initialize/login/session set may succeed (token or library restarted). */
const RECOVERABLE = [
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_DEVICE_REMOVED",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_USER_NOT_LOGGED_IN",
  "CKR_DEVICE_ERROR",
  "CKR_OBJECT_HANDLE_INVALID",
  "CKR_KEY_HANDLE_INVALID",
  "CKR_TOKEN_NOT_RECOGNIZED",
  "CKR_SLOT_ID_INVALID",
  "CKR_OPERATION_ACTIVE",
];

function isRecoverable(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return RECOVERABLE.some((c) => m.includes(c));
}

const EC_PARAMS: Record<string, Buffer> = {
  "P-256": Buffer.from("06082a8648ce3d030107", "hex"),
  "P-384": Buffer.from("06052b81040022", "hex"),
};
const CURVE_BY_PARAMS: Record<string, KeyType> = { "06082a8648ce3d030107": "P-256", "06052b81040022": "P-384" };

/**
 * One C_Initialize per library per process, shared by every keystore on it (a second
 * C_Finalize would pull the library from under the others: testbed notes).
 */
class Pkcs11Library {
  private static readonly all = new Map<string, Pkcs11Library>();
  module: graphene.Module | undefined;
  /**
   * The library as loaded (dlopen), kept for the whole process: it is initialized and finalized
   * again, never unloaded. Libraries such as openCryptoki (through libitm) leave thread-specific
   * data with destructors on the thread-pool threads that called them; once unloaded, those
   * destructors point at unmapped code and the process dies with SIGSEGV when the threads exit.
   * (pkcs11js unloads a library when its object is garbage-collected, so the object is kept.)
   */
  private loaded: graphene.Module | undefined;
  private refs = 0;
  /** Bumped on every C_Initialize: sessions from an older generation are gone. */
  generation = 0;

  private constructor(readonly path: string) {}

  /** Whether some keystore in this process still holds the library (it is finalized when the last one closes). */
  static inUse(path: string): boolean {
    return (this.all.get(path)?.refs ?? 0) > 0;
  }

  static get(path: string): Pkcs11Library {
    let lib = this.all.get(path);
    if (!lib) this.all.set(path, (lib = new Pkcs11Library(path)));
    return lib;
  }

  acquire(): graphene.Module {
    if (!this.module) this.initialize();
    this.refs++;
    return this.module!;
  }

  release(): void {
    if (--this.refs > 0) return;
    this.refs = 0;
    try {
      this.module?.finalize();
    } catch {
      /* already finalized */
    }
    this.module = undefined;
  }

  private initialize(): void {
    try {
      const mod = (this.loaded ??= graphene.Module.load(this.path, "cardpki"));
      // SoftHSM2 and most HSMs corrupt state under parallel use without OS locking (testbed notes).
      const flags = pkcs11js.CKF_OS_LOCKING_OK;
      if (typeof flags !== "number") throw new Error("pkcs11js constant CKF_OS_LOCKING_OK missing");
      mod.initialize({ flags });
      this.module = mod;
      this.generation++;
    } catch (e) {
      throw new CaError("hsm-unavailable", `cannot load PKCS#11 library ${this.path}: ${(e as Error).message}`);
    }
  }

  /** After the library or token restarted: finalize and initialize again, once per generation. */
  reinitialize(seenGeneration: number): void {
    if (this.generation !== seenGeneration && this.module) return; // somebody already did
    try {
      this.module?.finalize();
    } catch {
      /* the library may already consider itself finalized */
    }
    this.module = undefined;
    this.initialize();
  }
}

/**
 * Whether a keystore in this process still holds the PKCS#11 library at `path`. SoftHSM2 reads
 * SOFTHSM2_CONF (its token directory) at C_Initialize only; code that points this process at
 * another token directory checks that nothing holds the library first.
 */
export function pkcs11LibraryInUse(path: string): boolean {
  return Pkcs11Library.inUse(path);
}

/** Keystores that hold a library now, with where they opened it (diagnostics for a keystore left open). */
const holders = new Map<object, string>();
export function pkcs11LibraryHolders(): string[] {
  return [...holders.values()];
}

/**
 * PKCS#11 keystore over graphene-pk11: token found by label, PIN from an injected source,
 * a pool of logged-in sessions for parallel signing (C_Initialize with CKF_OS_LOCKING_OK),
 * and recovery after the token or library restarts, without a process restart (REQ-26).
 */
export class Pkcs11Keystore {
  private readonly library: Pkcs11Library;
  private acquired = false;
  private libGeneration = 0;
  private slot: graphene.Slot | undefined;
  private sessions: graphene.Session[] = [];
  private free: graphene.Session[] = [];
  private waiters: ((s: graphene.Session) => void)[] = [];
  private recovering: Promise<void> | undefined;
  /** Bumped on every (re)open: cached object handles from an older generation are stale. */
  generation = 0;
  recoveries = 0;
  private pin: string | undefined;

  constructor(readonly options: Pkcs11Options) {
    this.library = Pkcs11Library.get(options.library);
  }

  get tokenLabel(): string {
    return this.options.tokenLabel;
  }

  async open(): Promise<void> {
    this.closed = false;
    this.pin ??= await this.options.pin.read();
    this.openSync();
  }

  /** Set by close(): a late caller (a job finishing after shutdown) must not silently open the library again. */
  private closed = false;

  private openSync(): void {
    if (!this.acquired) {
      this.library.acquire();
      this.acquired = true;
      holders.set(
        this,
        `token '${this.options.tokenLabel}' opened at ${new Error().stack?.split("\n").slice(2, 9).join(" <- ")}`,
      );
    }
    const mod = this.library.module!;
    this.libGeneration = this.library.generation;
    let slots: graphene.SlotCollection;
    try {
      slots = mod.getSlots(true);
    } catch (e) {
      this.closeQuietly(); // a keystore that failed to open holds no reference on the library
      throw new CaError("hsm-unavailable", `PKCS#11 C_GetSlotList: ${(e as Error).message}`);
    }
    let slot: graphene.Slot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const s = slots.items(i);
      if (s.getToken().label.trim() === this.options.tokenLabel) slot = s;
    }
    if (!slot) {
      this.closeQuietly(); // else the library was never finalized after a token was not found
      throw new CaError("hsm-unavailable", `token '${this.options.tokenLabel}' not found in ${this.options.library}`);
    }
    this.slot = slot;
    const n = Math.max(1, this.options.sessions ?? 4);
    this.sessions = [];
    for (let i = 0; i < n; i++)
      this.sessions.push(slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION));
    try {
      this.sessions[0]!.login(this.pin!, graphene.UserType.USER);
    } catch (e) {
      const m = (e as Error).message;
      if (!m.includes("CKR_USER_ALREADY_LOGGED_IN")) {
        this.closeQuietly();
        throw new CaError(
          m.includes("CKR_PIN") ? "unauthorized" : "hsm-unavailable",
          `login to token '${this.options.tokenLabel}' failed: ${m}`,
        );
      }
    }
    this.free = [...this.sessions];
    this.generation++;
    // Hand the fresh sessions to anybody who waited through a recovery.
    while (this.waiters.length > 0 && this.free.length > 0) this.waiters.shift()!(this.free.pop()!);
  }

  private closeSessions(): void {
    for (const s of this.sessions) {
      try {
        s.close();
      } catch {
        /* already gone */
      }
    }
    this.sessions = [];
    this.free = [];
  }

  private closeQuietly(): void {
    this.closeSessions();
    if (this.acquired) this.library.release();
    this.acquired = false;
    holders.delete(this);
  }

  close(): void {
    this.closed = true;
    try {
      this.sessions[0]?.logout();
    } catch {
      /* session may be gone */
    }
    this.closeQuietly();
    this.pin = undefined;
  }

  /** Re-initialises the library, finds the token again, logs in, reopens sessions. */
  async recover(): Promise<void> {
    if (!this.recovering) {
      this.recovering = (async () => {
        this.recoveries++;
        this.closeSessions();
        try {
          this.openSync();
        } catch {
          // The library itself lost its state (C_Finalize elsewhere, HSM client restart): start it again.
          this.closeSessions();
          this.library.reinitialize(this.libGeneration);
          this.openSync();
        }
      })().finally(() => {
        this.recovering = undefined;
      });
    }
    return this.recovering;
  }

  private async acquire(): Promise<graphene.Session> {
    if (this.recovering) await this.recovering;
    if (!this.acquired) {
      if (this.closed)
        throw new CaError(
          "hsm-unavailable",
          `the keystore of token '${this.options.tokenLabel}' is closed (the service is shutting down)`,
        );
      await this.open();
    }
    const s = this.free.pop();
    if (s) return s;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(s: graphene.Session): void {
    if (!this.sessions.includes(s)) return; // from before a recovery
    const w = this.waiters.shift();
    if (w) w(s);
    else this.free.push(s);
  }

  /** Runs fn on a pooled session; after a recoverable error, recovers once and retries. */
  async withSession<T>(fn: (s: graphene.Session) => Promise<T> | T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const gen = this.generation;
      const s = await this.acquire();
      try {
        return await fn(s);
      } catch (e) {
        if (attempt === 0 && isRecoverable(e)) {
          if (this.generation === gen) await this.recover().catch(() => undefined);
          continue;
        }
        throw e instanceof CaError
          ? e
          : new CaError("hsm-unavailable", `PKCS#11: ${(e as Error).message}`, undefined, { cause: e });
      } finally {
        this.release(s);
      }
    }
  }

  private findObjects(s: graphene.Session, cls: graphene.ObjectClass, ref: KeyRef): graphene.SessionObject[] {
    const tmpl: graphene.ITemplate = { class: cls };
    if (ref.label !== undefined) tmpl.label = ref.label;
    if (ref.id !== undefined) tmpl.id = Buffer.from(ref.id, "hex");
    const found = s.find(tmpl);
    const out: graphene.SessionObject[] = [];
    for (let i = 0; i < found.length; i++) out.push(found.items(i));
    return out;
  }

  /** Public information about the key pair named by label and/or id. */
  async keyInfo(ref: KeyRef): Promise<KeyInfo> {
    return this.withSession((s) => {
      const pubs = this.findObjects(s, graphene.ObjectClass.PUBLIC_KEY, ref);
      if (pubs.length === 0) throw new CaError("not-found", `no key ${describe(ref)} on token '${this.tokenLabel}'`);
      if (pubs.length > 1)
        throw new CaError(
          "conflict",
          `${pubs.length} keys match ${describe(ref)} on token '${this.tokenLabel}': name it by id`,
        );
      return publicKeyInfo(pubs[0]!.toType<graphene.PublicKey>());
    });
  }

  /**
   * Health without a signature: a pooled session is still logged in (C_GetSessionInfo) and, when
   * given, the private key is on the token (C_FindObjects). Never uses the key.
   */
  async probe(ref?: KeyRef): Promise<void> {
    await this.withSession((s) => {
      const info = s.lib.C_GetSessionInfo(s.handle);
      const CKS_RO_USER_FUNCTIONS = 1;
      const CKS_RW_USER_FUNCTIONS = 3;
      if (info.state !== CKS_RO_USER_FUNCTIONS && info.state !== CKS_RW_USER_FUNCTIONS)
        throw new CaError("hsm-unavailable", `token '${this.tokenLabel}': session not logged in (state ${info.state})`);
      if (ref && this.findObjects(s, graphene.ObjectClass.PRIVATE_KEY, ref).length === 0)
        throw new CaError("hsm-unavailable", `token '${this.tokenLabel}': private key ${describe(ref)} not found`);
    });
  }

  async hasKey(ref: KeyRef): Promise<boolean> {
    return this.withSession((s) =>
      [graphene.ObjectClass.PRIVATE_KEY, graphene.ObjectClass.PUBLIC_KEY, graphene.ObjectClass.SECRET_KEY].some(
        (c) => this.findObjects(s, c, ref).length > 0,
      ),
    );
  }

  async keyAttributes(ref: KeyRef): Promise<KeyAttributes> {
    return this.withSession((s) => {
      const privs = this.findObjects(s, graphene.ObjectClass.PRIVATE_KEY, ref);
      if (privs.length !== 1) throw new CaError("not-found", `${privs.length} private keys match ${describe(ref)}`);
      const a = privs[0]!.getAttribute({
        sensitive: null,
        extractable: null,
        alwaysSensitive: null,
        neverExtractable: null,
        sign: null,
        decrypt: null,
        unwrap: null,
        derive: null,
        token: null,
        private: null,
      }) as Record<string, boolean>;
      return {
        sensitive: !!a.sensitive,
        extractable: !!a.extractable,
        alwaysSensitive: !!a.alwaysSensitive,
        neverExtractable: !!a.neverExtractable,
        sign: !!a.sign,
        decrypt: !!a.decrypt,
        unwrap: !!a.unwrap,
        derive: !!a.derive,
        token: !!a.token,
        private: !!a.private,
      };
    });
  }

  /**
   * Generates a sign-only, sensitive, non-extractable key pair on the token (REQ-26). Runs off
   * the event loop (C_GenerateKeyPair in the thread pool), so callers can show progress.
   */
  async generateKeyPair(label: string, keyType: KeyType): Promise<KeyInfo> {
    this.requireMechanisms(keyType);
    if (await this.hasKey({ label }))
      throw new CaError("conflict", `a key labelled '${label}' already exists on token '${this.tokenLabel}'`);
    return this.withSession(async (s) => {
      const id = Buffer.from(cryptoRandom.bytes(16));
      const common = { token: true, label, id };
      const priv = {
        ...common,
        private: true,
        sign: true,
        sensitive: true,
        extractable: false,
        decrypt: false,
        unwrap: false,
        derive: false,
      };
      const pub = { ...common, private: false, verify: true, encrypt: false, wrap: false };
      const [mech, pubT, privT] =
        keyType === "P-256" || keyType === "P-384"
          ? [
              graphene.KeyGenMechanism.EC,
              { ...pub, keyType: graphene.KeyType.EC, paramsEC: EC_PARAMS[keyType] },
              { ...priv, keyType: graphene.KeyType.EC },
            ]
          : [
              graphene.KeyGenMechanism.RSA,
              {
                ...pub,
                keyType: graphene.KeyType.RSA,
                modulusBits: Number(keyType.slice(4)),
                publicExponent: Buffer.from([1, 0, 1]),
              },
              { ...priv, keyType: graphene.KeyType.RSA },
            ];
      const pair = await new Promise<graphene.IKeyPair>((resolve, reject) =>
        s.generateKeyPair(mech, pubT, privT, (err, kp) =>
          err || !kp ? reject(err ?? new Error("no key pair")) : resolve(kp),
        ),
      );
      return publicKeyInfo(pair.publicKey);
    });
  }

  /**
   * Generates an AES-256 secret key on the token for wrapping data keys (REQ-29): sensitive, never
   * extractable, encrypt/decrypt only (no wrap, unwrap, sign or derive), so its value never leaves
   * the HSM and it wraps nothing but what we hand it through C_Encrypt.
   */
  async generateAesKey(label: string): Promise<{ label: string; id: string }> {
    if (await this.hasKey({ label }))
      throw new CaError("conflict", `a key labelled '${label}' already exists on token '${this.tokenLabel}'`);
    return this.withSession((s) => {
      const id = Buffer.from(cryptoRandom.bytes(16));
      s.generateKey(graphene.KeyGenMechanism.AES, {
        class: graphene.ObjectClass.SECRET_KEY,
        keyType: graphene.KeyType.AES,
        valueLen: 32,
        token: true,
        private: true,
        label,
        id,
        sensitive: true,
        extractable: false,
        encrypt: true,
        decrypt: true,
        wrap: false,
        unwrap: false,
        sign: false,
        verify: false,
        derive: false,
      });
      return { label, id: id.toString("hex") };
    });
  }

  /** Attributes of the secret key that matches ref (ceremony checks). */
  async secretKeyAttributes(
    ref: KeyRef,
  ): Promise<KeyAttributes & { encrypt: boolean; wrap: boolean; valueLen: number }> {
    return this.withSession((s) => {
      const keys = this.findObjects(s, graphene.ObjectClass.SECRET_KEY, ref);
      if (keys.length !== 1)
        throw new CaError(
          "not-found",
          `${keys.length} secret keys match ${describe(ref)} on token '${this.tokenLabel}'`,
        );
      const a = keys[0]!.getAttribute({
        sensitive: null,
        extractable: null,
        alwaysSensitive: null,
        neverExtractable: null,
        sign: null,
        encrypt: null,
        decrypt: null,
        wrap: null,
        unwrap: null,
        derive: null,
        token: null,
        private: null,
        valueLen: null,
      }) as Record<string, boolean | number>;
      return {
        sensitive: !!a.sensitive,
        extractable: !!a.extractable,
        alwaysSensitive: !!a.alwaysSensitive,
        neverExtractable: !!a.neverExtractable,
        sign: !!a.sign,
        encrypt: !!a.encrypt,
        decrypt: !!a.decrypt,
        wrap: !!a.wrap,
        unwrap: !!a.unwrap,
        derive: !!a.derive,
        token: !!a.token,
        private: !!a.private,
        valueLen: Number(a.valueLen),
      };
    });
  }

  /** The AES key an RFC 7512 URI names (by CKA_ID when it has one, else by label), for wrapping data keys. */
  async aesKeyFor(uri: Pkcs11KeyUri): Promise<Pkcs11AesKey> {
    const ref: KeyRef = uri.id !== undefined ? { id: uri.id } : { label: uri.object! };
    const id = await this.withSession((s) => {
      const keys = this.findObjects(s, graphene.ObjectClass.SECRET_KEY, ref);
      if (keys.length === 0)
        throw new CaError(
          "hsm-unavailable",
          `no secret key ${describe(ref)} on token '${this.tokenLabel}' (REQ-29: the data-key wrapping key is missing)`,
        );
      if (keys.length > 1)
        throw new CaError(
          "conflict",
          `${keys.length} secret keys match ${describe(ref)} on token '${this.tokenLabel}': name it by id`,
        );
      const a = keys[0]!.getAttribute({ id: null, keyType: null, encrypt: null, decrypt: null }) as {
        id: Buffer;
        keyType: number;
        encrypt: boolean;
        decrypt: boolean;
      };
      if (a.keyType !== graphene.KeyType.AES || !a.encrypt || !a.decrypt)
        throw new CaError(
          "config",
          `key ${describe(ref)} on token '${this.tokenLabel}' is not an AES key that may encrypt and decrypt`,
        );
      return a.id.toString("hex");
    });
    return new Pkcs11AesKey(this, id);
  }

  /**
   * Used by Pkcs11AesKey: one C_Encrypt or C_Decrypt with CKM_AES_GCM (PKCS#11 v2.40 parameters, as SoftHSM2 2.6 takes
   * them).
   */
  async aesGcm(
    op: "encrypt" | "decrypt",
    keyId: string,
    iv: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
  ): Promise<Uint8Array> {
    return this.withSession(async (s) => {
      const key = this.secretKeyHandle(s, keyId);
      const mech = { name: "AES_GCM", params: new graphene.AesGcm240Params(Buffer.from(iv), Buffer.from(aad), 128) };
      const out = Buffer.alloc(input.length + 16);
      const run = op === "encrypt" ? s.createCipher(mech, key) : s.createDecipher(mech, key);
      return new Promise<Uint8Array>((resolve, reject) =>
        run.once(Buffer.from(input), out, (err, res) => (err ? reject(err) : resolve(new Uint8Array(res)))),
      );
    });
  }

  private secretKeyHandle(s: graphene.Session, keyId: string): graphene.SecretKey {
    return this.keyHandle<graphene.SecretKey>(s, graphene.ObjectClass.SECRET_KEY, keyId, "secret");
  }

  /**
   * The PIN lengths the token accepts (C_GetTokenInfo ulMinPinLen / ulMaxPinLen). Tokens differ: SoftHSM2 takes 4..255
   * characters, openCryptoki's software token 4..8.
   */
  pinLengths(): { min: number; max: number } {
    if (!this.acquired || !this.slot) this.openSync();
    const t = this.slot!.getToken();
    return { min: t.minPinLen, max: t.maxPinLen };
  }

  /** C_SetPIN: replaces the user PIN of the logged-in token (before splitting it among custodians). */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    await this.withSession((s) => s.setPin(oldPin, newPin));
    this.pin = newPin;
  }

  /** A KeySigner for the key an RFC 7512 URI names (by CKA_ID when it has one, else by label). */
  async signerFor(uri: Pkcs11KeyUri): Promise<Pkcs11Signer> {
    return this.signer(uri.id !== undefined ? { id: uri.id } : { label: uri.object! });
  }

  /** A KeySigner for the private key that matches ref. */
  async signer(ref: KeyRef): Promise<Pkcs11Signer> {
    const info = await this.keyInfo(ref);
    return new Pkcs11Signer(this, info);
  }

  /** Used by Pkcs11Signer: signs in a pooled session with the key found by CKA_ID. */
  async signRaw(keyId: string, mechanism: "ECDSA" | "RSA_PKCS", input: Uint8Array): Promise<Uint8Array> {
    return this.withSession(async (s) => {
      const key = this.privateKeyHandle(s, keyId);
      const op = s.createSign(mechanism, key);
      return new Promise<Uint8Array>((resolve, reject) =>
        op.once(Buffer.from(input), (err, sig) => (err ? reject(err) : resolve(new Uint8Array(sig)))),
      );
    });
  }

  private privateKeyHandle(s: graphene.Session, keyId: string): graphene.PrivateKey {
    return this.keyHandle<graphene.PrivateKey>(s, graphene.ObjectClass.PRIVATE_KEY, keyId, "private");
  }

  /** Key handles by class and CKA_ID, found once per library generation (a restart invalidates them). */
  private readonly handles = new Map<string, { gen: number; key: graphene.Key }>();

  private keyHandle<T extends graphene.Key>(
    s: graphene.Session,
    cls: graphene.ObjectClass,
    keyId: string,
    what: string,
  ): T {
    const k = `${cls}:${keyId}`;
    const cached = this.handles.get(k);
    if (cached && cached.gen === this.generation) return cached.key as T;
    const found = this.findObjects(s, cls, { id: keyId });
    if (found.length !== 1)
      throw new CaError("hsm-unavailable", `${what} key id ${keyId} not found on token '${this.tokenLabel}'`);
    const key = found[0]!.toType<T>();
    this.handles.set(k, { gen: this.generation, key });
    return key;
  }

  /** The token's mechanism list (C_GetMechanismList): CKM_ type numbers. */
  mechanisms(): Set<number> {
    if (!this.acquired || !this.slot) this.openSync();
    const list = this.slot!.getMechanisms();
    const out = new Set<number>();
    for (let i = 0; i < list.length; i++) out.add(list.items(i).type);
    return out;
  }

  /**
   * Tokens differ in what they can do (openCryptoki 3.8's software token has RSA only: no EC key generation, no
   * ECDSA): a key type whose generation or signing mechanism the token lacks is refused before anything is made,
   * naming the missing mechanisms (CKM_EC_KEY_PAIR_GEN / CKM_ECDSA, CKM_RSA_PKCS_KEY_PAIR_GEN / CKM_RSA_PKCS).
   */
  requireMechanisms(keyType: KeyType): void {
    const M = graphene.MechanismEnum;
    const need: [number, string][] = keyType.startsWith("RSA")
      ? [
          [M.RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN"],
          [M.RSA_PKCS, "CKM_RSA_PKCS"],
        ]
      : [
          [M.EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"],
          [M.ECDSA, "CKM_ECDSA"],
        ];
    const have = this.mechanisms();
    const missing = need.filter(([m]) => !have.has(m)).map(([, n]) => n);
    if (missing.length > 0)
      throw new CaError(
        "config",
        `token '${this.tokenLabel}' cannot make or use ${keyType} keys: its mechanism list lacks ${missing.join(", ")}`,
        { token: this.tokenLabel, keyType, missing },
        { code: "hsm-mechanism-missing" },
      );
  }

  /** Test hook and operator aid: closes every session of this application on the token. */
  simulateTokenRestart(): void {
    this.slot?.closeAll();
  }
}

function describe(ref: KeyRef): string {
  return [ref.label !== undefined ? `label '${ref.label}'` : "", ref.id !== undefined ? `id ${ref.id}` : ""]
    .filter(Boolean)
    .join(" ");
}

function publicKeyInfo(pub: graphene.PublicKey): KeyInfo {
  const { label, id, keyType } = pub.getAttribute({ label: null, id: null, keyType: null }) as {
    label: string;
    id: Buffer;
    keyType: number;
  };
  if (keyType === graphene.KeyType.EC) {
    // graphene reports CKA_EC_PARAMS under its older alias paramsECDSA.
    const a = pub.getAttribute({ paramsEC: null, pointEC: null }) as {
      paramsEC?: Buffer;
      paramsECDSA?: Buffer;
      pointEC: Buffer;
    };
    const paramsEC = (a.paramsEC ?? a.paramsECDSA)!;
    const pointEC = a.pointEC;
    const kt = CURVE_BY_PARAMS[paramsEC.toString("hex")];
    if (!kt) throw new CaError("hsm-unavailable", `unsupported EC parameters ${paramsEC.toString("hex")}`);
    const size = kt === "P-256" ? 32 : 48;
    // CKA_EC_POINT is a DER OCTET STRING around 04||X||Y (some tokens omit the wrapper).
    const pt = pointEC.subarray(pointEC.length - (2 * size + 1));
    const jwk = {
      kty: "EC",
      crv: kt,
      x: pt.subarray(1, 1 + size).toString("base64url"),
      y: pt.subarray(1 + size).toString("base64url"),
    };
    const spki = createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" });
    return { label, id: id.toString("hex"), keyType: kt, spki: new Uint8Array(spki) };
  }
  if (keyType === graphene.KeyType.RSA) {
    const { modulus, publicExponent } = pub.getAttribute({ modulus: null, publicExponent: null }) as {
      modulus: Buffer;
      publicExponent: Buffer;
    };
    const bits = modulus.length * 8;
    const kt = `RSA-${bits}` as KeyType;
    if (![2048, 3072, 4096].includes(bits)) throw new CaError("hsm-unavailable", `unsupported RSA size ${bits}`);
    const spki = createPublicKey({
      key: { kty: "RSA", n: modulus.toString("base64url"), e: publicExponent.toString("base64url") },
      format: "jwk",
    }).export({ type: "spki", format: "der" });
    return { label, id: id.toString("hex"), keyType: kt, spki: new Uint8Array(spki) };
  }
  throw new CaError("hsm-unavailable", `unsupported key type ${keyType}`);
}

/** KeySigner (ca/ports) for a key in the HSM: hash in software, sign the digest on the token. */
export class Pkcs11Signer {
  readonly keyType: KeyType;
  readonly spki: Uint8Array;
  readonly algorithmDer: Uint8Array;
  readonly algorithmOid: string;
  private readonly alg: SignatureAlgorithm;

  constructor(
    private readonly keystore: Pkcs11Keystore,
    readonly key: KeyInfo,
  ) {
    this.keyType = key.keyType;
    this.spki = key.spki;
    this.alg = signatureAlgorithmFor(key.keyType);
    this.algorithmDer = this.alg.der;
    this.algorithmOid = this.alg.oid;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.keyType.startsWith("RSA")) {
      return this.keystore.signRaw(this.key.id, "RSA_PKCS", rsaDigestInfo(this.alg.hash, data));
    }
    // SoftHSM 2.6 lacks CKM_ECDSA_SHA256: hash here, CKM_ECDSA on the token (testbed notes).
    const digest = createHash(this.alg.hash).update(data).digest();
    const raw = await this.keystore.signRaw(this.key.id, "ECDSA", digest);
    return ecdsaRawToDer(raw);
  }
}

/**
 * An AES-256 key in the HSM that wraps data-encryption keys (REQ-29) with AES-GCM: 12-byte IV and
 * associated data from the caller, output ciphertext | 16-byte tag. Called once per data key at
 * start and at rotation, never per field.
 */
export class Pkcs11AesKey {
  constructor(
    private readonly keystore: Pkcs11Keystore,
    readonly id: string,
  ) {}

  encrypt(iv: Uint8Array, aad: Uint8Array, plain: Uint8Array): Promise<Uint8Array> {
    return this.keystore.aesGcm("encrypt", this.id, iv, aad, plain);
  }

  /** Throws CaError config when the value does not open with this key (wrong key, altered or moved value). */
  async decrypt(iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.keystore.aesGcm("decrypt", this.id, iv, aad, sealed);
    } catch (e) {
      if (CaError.is(e) && e.kind !== "hsm-unavailable") throw e;
      const m = (e as Error).message;
      // SoftHSM2 reports a failed GCM tag as CKR_GENERAL_ERROR, others as CKR_ENCRYPTED_DATA_INVALID.
      if (/CKR_GENERAL_ERROR|CKR_ENCRYPTED_DATA_INVALID|CKR_ENCRYPTED_DATA_LEN_RANGE/.test(m))
        throw new CaError(
          "config",
          `the value does not open with HSM key id ${this.id} on token ` +
            `'${this.keystore.tokenLabel}' (another key, or the value was altered)`,
          undefined,
          { cause: e },
        );
      throw e;
    }
  }
}

#!/usr/bin/env node
// PIV (NIST SP 800-73-4) card emulator, YubiKey-flavoured, speaking the vsmartcard "vpcd" socket protocol.
// It plugs into a REAL pcscd (through the vsmartcard-vpcd IFD handler), so PC/SC clients (node pcsclite,
// OpenSC, yubico-piv-tool) talk to it exactly as they would to a card in a USB reader. For tests only:
// keys and PINs are kept in clear, in memory and (optionally) in a JSON state file.
//
//   node dist/test/support/piv-emulator.js [--host 127.0.0.1] [--port 35963] [--state FILE] [--serial N] [--verbose]
//
// vpcd protocol (vsmartcard docs): TCP, every message is uint16be length + payload.
//   vpcd -> card: 1-byte control: 00 power off, 01 power on, 02 reset, 04 get ATR (card answers the ATR);
//                 anything longer is a C-APDU
//   card -> vpcd: the ATR or an R-APDU.
//
// Card defaults: PIN 123456, PUK 12345678, 3 tries each, management key 0102..08 x3 (3DES),
// a CHUID (5FC102) and a CCC (5FC107) so that OpenSC and yubico-piv-tool see a personalised card.
//
// Attestation (YubiKey): with --maker DIR the card is "manufactured" with its own attestation key in
// slot f9 and a certificate for it (object 5FFF01) from the test card-maker root in DIR (made there
// on first use, see piv-attestation-maker.ts); INS F9 (ATTEST) then returns an X.509 attestation
// certificate for a key generated in a slot, signed by the f9 key. Without --maker (or with
// --no-attestation) the card has no attestation, like most non-YubiKey PIV cards.
import net from "node:net";
import fs from "node:fs";
import crypto, { type JsonWebKey } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { p256, p384 } from "@noble/curves/nist.js";
import {
  attestationCertificate,
  loadOrCreateMakerRoot,
  manufactureAttestationKey,
  type Signer,
} from "./piv-attestation-maker.js";

// ---------------------------------------------------------------- constants

/** PIV algorithm identifiers (SP 800-78-4 table 6-2 / YubiKey). */
export const PIV_ALG = {
  TDES: 0x03,
  RSA1024: 0x06,
  RSA2048: 0x07,
  AES128: 0x08,
  AES192: 0x0a,
  AES256: 0x0c,
  P256: 0x11,
  P384: 0x14,
} as const;

export const DEFAULT_PIN = "123456";
export const DEFAULT_PUK = "12345678";
export const DEFAULT_MANAGEMENT_KEY_HEX = "010203040506070801020304050607080102030405060708";
export const DEFAULT_SERIAL = 0x00c0ffee;
export const DEFAULT_VPCD_HOST = "127.0.0.1";
/** vpcd's first reader, "Virtual PCD 00 00"; 35964 is "Virtual PCD 00 01". */
export const DEFAULT_VPCD_PORT = 35963;

/** The AID is matched on its first 5 bytes (full AID A0 00 00 03 08 00 00 10 00 01 00). */
const PIV_AID_PREFIX = Buffer.from("a000000308", "hex");
const KEY_SLOTS = new Set<number>([0x9a, 0x9c, 0x9d, 0x9e, ...Array.from({ length: 20 }, (_, i) => 0x82 + i), 0xf9]);
/** < 5.3, so that clients do not rely on GET METADATA. */
const VERSION = Buffer.from([5, 2, 7]);
const DISCOVERY = Buffer.from("7e124f0ba0000003080000100001005f2f024000", "hex");
const EMPTY = Buffer.alloc(0);
const MGM_CIPHERS: Record<number, string | undefined> = {
  [PIV_ALG.TDES]: "des-ede3",
  [PIV_ALG.AES128]: "aes-128-ecb",
  [PIV_ALG.AES192]: "aes-192-ecb",
  [PIV_ALG.AES256]: "aes-256-ecb",
};

/** ATR: 3B 8F 80 01 <15 historical bytes "PIVEMU-VPCD-0.1"> TCK (T=1, TCK = XOR of T0..last). */
function makeAtr(): Buffer {
  const hist = Buffer.from("PIVEMU-VPCD-0.1").subarray(0, 15);
  const body = Buffer.concat([Buffer.from([0x80 | hist.length, 0x80, 0x01]), hist]);
  let tck = 0;
  for (const b of body) tck ^= b;
  return Buffer.concat([Buffer.from([0x3b]), body, Buffer.from([tck])]);
}
export const PIV_EMULATOR_ATR: Uint8Array = makeAtr();

// ---------------------------------------------------------------- TLV helpers (BER length)

function berLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

function tlv(tag: number, value: Uint8Array): Buffer {
  const t = tag > 0xff ? Buffer.from([tag >> 8, tag & 0xff]) : Buffer.from([tag]);
  return Buffer.concat([t, berLen(value.length), value]);
}

interface Tlv {
  readonly tag: number;
  readonly value: Buffer;
}

/** Flat BER-TLV list; multi-byte tags become one number (5F C1 02 -> 0x5fc102). Truncated input is cut short. */
function parseTlv(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  const at = (k: number): number => buf[k] ?? 0;
  while (i < buf.length) {
    let tag = at(i++);
    if ((tag & 0x1f) === 0x1f) {
      let more: boolean;
      do {
        tag = (tag << 8) | at(i);
        more = (at(i++) & 0x80) !== 0;
      } while (more && i < buf.length);
    }
    let len = at(i++);
    if (len === 0x81) len = at(i++);
    else if (len === 0x82) {
      len = (at(i) << 8) | at(i + 1);
      i += 2;
    }
    out.push({ tag, value: buf.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** Tag -> value; a repeated tag keeps its last value. */
function tlvMap(buf: Buffer): Map<number, Buffer> {
  return new Map(parseTlv(buf).map((x) => [x.tag, x.value]));
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
const fromB64u = (s: string | undefined): Buffer => {
  if (s === undefined) throw new Error("JWK component missing");
  return Buffer.from(s, "base64url");
};

const padPin = (s: string): Buffer =>
  Buffer.concat([Buffer.from(s, "latin1"), Buffer.alloc(Math.max(0, 8 - s.length), 0xff)]);
const unpad = (b: Buffer): string => {
  let e = b.length;
  while (e > 0 && b[e - 1] === 0xff) e--;
  return b.subarray(0, e).toString("latin1");
};

// ---------------------------------------------------------------- card state

/** A key in a slot: PIV algorithm id + the key as a JWK (private parts included). */
export interface PivKeyRecord {
  alg: number;
  jwk: JsonWebKey;
  /**
   * Yubico PIN policy (1 never, 2 once, 3 always) and touch policy (1 never, 2 always, 3 cached); absent: the slot's
   * default.
   */
  pinPolicy?: number;
  touchPolicy?: number;
  /**
   * Only keys generated on the card are attested (YubiKey refuses imported keys). Absent: generated (older state
   * files).
   */
  origin?: "generated" | "imported" | "factory";
}

/** YubiKey default PIN policy per slot: 9C always, 9E never, the others once. */
const defaultPinPolicy = (slot: number): number => (slot === 0x9c ? 3 : slot === 0x9e ? 1 : 2);
/** The attestation certificate object (YubiKey 5FFF01, in the CertInfo format of the other certificate objects). */
const ATTESTATION_OBJECT = "5fff01";

/** Persistent card state; this is also the --state JSON format (compatible with the testbed's piv-emu.mjs). */
export interface PivCardState {
  pin: string;
  puk: string;
  /** Configured number of tries (SET PIN RETRIES). */
  pinRetries: number;
  pukRetries: number;
  /** Tries left. */
  pinTries: number;
  pukTries: number;
  /** Management key, hex. */
  mgmKey: string;
  mgmAlg: number;
  /** Data objects: hex tag (e.g. "5fc105") -> hex content of the 53 TLV. */
  objects: Record<string, string>;
  /** Keys: hex slot (e.g. "9a") -> key. */
  keys: Record<string, PivKeyRecord>;
}

function freshState(): PivCardState {
  return {
    pin: DEFAULT_PIN,
    puk: DEFAULT_PUK,
    pinRetries: 3,
    pukRetries: 3,
    pinTries: 3,
    pukTries: 3,
    mgmKey: DEFAULT_MANAGEMENT_KEY_HEX,
    mgmAlg: PIV_ALG.TDES,
    objects: {},
    keys: {},
  };
}

/** Default CHUID / CCC, so that OpenSC and yubico-piv-tool find a "personalised" card. */
function defaultObjects(serial: number): Record<string, string> {
  const guid = crypto.createHash("sha256").update(`piv-emu${serial}`).digest().subarray(0, 16);
  const chuid = Buffer.concat([
    tlv(0x30, Buffer.from("d4e739da739ced39ce739d836858210842108421c84210c3eb", "hex")), // FASC-N (test value)
    tlv(0x34, guid),
    tlv(0x35, Buffer.from("20301231")), // expiry
    tlv(0x3e, EMPTY),
    tlv(0xfe, EMPTY),
  ]);
  const ccc = Buffer.concat([
    tlv(0xf0, Buffer.concat([Buffer.from([0xa0, 0x00, 0x00, 0x01, 0x16, 0xff, 0x02]), crypto.randomBytes(14)])),
    tlv(0xf1, Buffer.from([0x21])),
    tlv(0xf2, Buffer.from([0x21])),
    tlv(0xf3, EMPTY),
    tlv(0xf4, Buffer.from([0x00])),
    tlv(0xf5, Buffer.from([0x10])),
    tlv(0xf6, EMPTY),
    tlv(0xf7, EMPTY),
    tlv(0xfa, EMPTY),
    tlv(0xfb, EMPTY),
    tlv(0xfc, EMPTY),
    tlv(0xfd, EMPTY),
    tlv(0xfe, EMPTY),
  ]);
  return { "5fc102": chuid.toString("hex"), "5fc107": ccc.toString("hex") };
}

/** Volatile security status (lost on power-off/reset and on re-SELECT). */
interface SecurityStatus {
  selected: boolean;
  pinOk: boolean;
  mgmOk: boolean;
  witness: Buffer | null;
  challenge: Buffer | null;
}
const noSecurity = (selected = false): SecurityStatus => ({
  selected,
  pinOk: false,
  mgmOk: false,
  witness: null,
  challenge: null,
});

interface Reply {
  readonly sw: number;
  readonly data: Buffer;
}
const sw = (s: number, data: Buffer = EMPTY): Reply => ({ sw: s, data });

interface Apdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Buffer;
  readonly le: number;
  readonly ext: boolean;
}

/** Short and extended APDUs (cases 1-4). Le 0 means 256 (short) / 65536 (extended). */
function parseApdu(b: Buffer): Apdu {
  const cla = b[0] ?? 0,
    ins = b[1] ?? 0,
    p1 = b[2] ?? 0,
    p2 = b[3] ?? 0;
  const at = (k: number): number => b[k] ?? 0;
  let data: Buffer = EMPTY,
    le = 0,
    ext = false;
  if (b.length <= 4) le = 0;
  else if (b.length === 5) le = at(4) || 256;
  else if (at(4) !== 0) {
    const lc = at(4);
    data = b.subarray(5, 5 + lc);
    if (b.length > 5 + lc) le = at(5 + lc) || 256;
  } else {
    ext = true;
    if (b.length === 7) le = (at(5) << 8) | at(6) || 65536;
    else {
      const lc = (at(5) << 8) | at(6);
      data = b.subarray(7, 7 + lc);
      if (b.length > 7 + lc) le = (at(7 + lc) << 8) | at(8 + lc) || 65536;
    }
  }
  return { cla, ins, p1, p2, data, le, ext };
}

// ---------------------------------------------------------------- crypto helpers

const isEc = (alg: number): boolean => alg === PIV_ALG.P256 || alg === PIV_ALG.P384;
const isRsa = (alg: number): boolean => alg === PIV_ALG.RSA1024 || alg === PIV_ALG.RSA2048;
const ecdhCurveName = (alg: number): string => (alg === PIV_ALG.P256 ? "prime256v1" : "secp384r1");

function generateKey(alg: number): JsonWebKey | null {
  if (isEc(alg)) {
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: alg === PIV_ALG.P256 ? "P-256" : "P-384" });
    return privateKey.export({ format: "jwk" });
  }
  if (isRsa(alg)) {
    const { privateKey } = crypto.generateKeyPairSync("rsa", {
      modulusLength: alg === PIV_ALG.RSA2048 ? 2048 : 1024,
      publicExponent: 65537,
    });
    return privateKey.export({ format: "jwk" });
  }
  return null;
}

/** 7F49 template: EC 86 = uncompressed point; RSA 81 = modulus, 82 = exponent. */
function publicKeyTemplate(alg: number, jwk: JsonWebKey): Buffer {
  if (isEc(alg)) return tlv(0x7f49, tlv(0x86, Buffer.concat([Buffer.from([4]), fromB64u(jwk.x), fromB64u(jwk.y)])));
  return tlv(0x7f49, Buffer.concat([tlv(0x81, fromB64u(jwk.n)), tlv(0x82, fromB64u(jwk.e))]));
}

/**
 * EC: the input is the hash (truncated / left-padded to the key size by the host): raw ECDSA, DER signature out.
 * RSA: the input is the already padded block: raw private-key operation.
 */
function privateOp(key: PivKeyRecord, input: Buffer): Buffer {
  if (isEc(key.alg)) {
    const curve = key.alg === PIV_ALG.P256 ? p256 : p384;
    return Buffer.from(curve.sign(input, fromB64u(key.jwk.d), { prehash: false, format: "der" }));
  }
  const k = crypto.createPrivateKey({ key: key.jwk, format: "jwk" });
  return crypto.privateDecrypt({ key: k, padding: crypto.constants.RSA_NO_PADDING }, input);
}

function ecdh(key: PivKeyRecord, point: Buffer): Buffer {
  const e = crypto.createECDH(ecdhCurveName(key.alg));
  e.setPrivateKey(fromB64u(key.jwk.d));
  return e.computeSecret(point);
}

/** RSA JWK from CRT components (YubiKey IMPORT KEY sends p, q, dp, dq, qinv; e is 65537). */
function rsaJwkFromCrt(p: Buffer, q: Buffer, dp: Buffer, dq: Buffer, qi: Buffer): JsonWebKey {
  const bi = (b: Buffer): bigint => BigInt("0x" + (b.length ? b.toString("hex") : "0"));
  const ib = (n: bigint, len: number): Buffer => Buffer.from(n.toString(16).padStart(len * 2, "0"), "hex");
  const P = bi(p),
    Q = bi(q),
    E = 65537n,
    N = P * Q;
  const phi = (P - 1n) * (Q - 1n);
  const modInv = (a: bigint, m: bigint): bigint => {
    let [x, x1, r, r1] = [0n, 1n, m, a % m];
    while (r1) {
      const qt = r / r1;
      [r, r1] = [r1, r - qt * r1];
      [x, x1] = [x1, x - qt * x1];
    }
    return ((x % m) + m) % m;
  };
  const D = modInv(E, phi);
  const nlen = Math.ceil(N.toString(16).length / 2);
  return {
    kty: "RSA",
    n: b64u(ib(N, nlen)),
    e: "AQAB",
    d: b64u(ib(D, nlen)),
    p: b64u(p),
    q: b64u(q),
    dp: b64u(dp),
    dq: b64u(dq),
    qi: b64u(qi),
  };
}

// ---------------------------------------------------------------- the card

export interface PivEmulatorOptions {
  /** Card serial (YubiKey GET SERIAL 0xF8, and the seed of the default CHUID GUID). Default 0x00c0ffee. */
  serial?: number;
  /** JSON file the card state is loaded from (if it exists) and saved to after every change. */
  statePath?: string;
  /** Diagnostics (handler exceptions). */
  log?: (message: string) => void;
  /**
   * The card maker's root: a card without an attestation key in its state gets one at "manufacture"
   * (slot f9, certificate in 5FFF01 from this root). Absent: a card without attestation (INS F9 not supported).
   */
  attestationMaker?: Signer;
}

/** One PIV card: persistent state, volatile security status, command/response chaining. */
export class PivEmulator {
  readonly serial: number;
  readonly atr: Uint8Array = PIV_EMULATOR_ATR;
  private st: PivCardState;
  private sec: SecurityStatus = noSecurity();
  /** Command chaining buffer (CLA bit 0x10). */
  private chain: Buffer | null = null;
  /** Response chaining remainder (61xx / GET RESPONSE). */
  private pendingOut: Buffer | null = null;
  private readonly statePath: string | undefined;
  private readonly log: (message: string) => void;

  constructor(options: PivEmulatorOptions = {}) {
    const serial = options.serial ?? DEFAULT_SERIAL;
    if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff)
      throw new RangeError(`serial out of range: ${serial}`);
    this.serial = serial;
    this.statePath = options.statePath;
    this.log = options.log ?? (() => {});
    let st = freshState();
    if (this.statePath && fs.existsSync(this.statePath)) {
      st = { ...st, ...(JSON.parse(fs.readFileSync(this.statePath, "utf8")) as Partial<PivCardState>) };
    }
    if (!st.objects["5fc102"]) st.objects = { ...defaultObjects(this.serial), ...st.objects };
    if (options.attestationMaker && !st.keys.f9) {
      const f9 = manufactureAttestationKey(options.attestationMaker, this.serial);
      st.keys.f9 = { alg: PIV_ALG.P256, jwk: f9.key.export({ format: "jwk" }), origin: "factory" };
      st.objects[ATTESTATION_OBJECT] = Buffer.concat([
        tlv(0x70, f9.certDer),
        tlv(0x71, Buffer.from([0])),
        tlv(0xfe, EMPTY),
      ]).toString("hex");
    }
    this.st = st;
    this.save();
  }

  /** The card's attestation key and certificate (slot f9), if it has them. */
  private attestationSigner(): Signer | undefined {
    const k = this.st.keys.f9;
    const obj = this.st.objects[ATTESTATION_OBJECT];
    const der = obj ? tlvMap(Buffer.from(obj, "hex")).get(0x70) : undefined;
    if (!k || !der) return undefined;
    return { key: crypto.createPrivateKey({ key: k.jwk, format: "jwk" }), certDer: der };
  }

  /** A deep copy of the persistent state (for tests and diagnostics). */
  get state(): PivCardState {
    return structuredClone(this.st);
  }

  /** Power off / on / warm reset: drops the volatile security status and any chaining in progress. */
  powerReset(): void {
    this.sec = noSecurity();
    this.chain = null;
    this.pendingOut = null;
  }

  /** One C-APDU in, one R-APDU (data || SW1 SW2) out. */
  processApdu(raw: Uint8Array): Uint8Array {
    const a = parseApdu(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    if (a.ins === 0xc0) {
      // GET RESPONSE
      if (!this.pendingOut) return Buffer.from([0x6a, 0x86]);
      const n = a.le || 256;
      const chunk = this.pendingOut.subarray(0, n);
      this.pendingOut = this.pendingOut.length > n ? this.pendingOut.subarray(n) : null;
      const tail = this.pendingOut
        ? Buffer.from([0x61, Math.min(this.pendingOut.length, 256) & 0xff])
        : Buffer.from([0x90, 0x00]);
      return Buffer.concat([chunk, tail]);
    }
    this.pendingOut = null;
    if (a.cla & 0x10) {
      this.chain = Buffer.concat([this.chain ?? EMPTY, a.data]);
      return Buffer.from([0x90, 0x00]);
    }
    const data = this.chain ? Buffer.concat([this.chain, a.data]) : Buffer.from(a.data);
    this.chain = null;
    let r: Reply;
    try {
      r = this.handle(a.ins, a.p1, a.p2, data);
    } catch (e) {
      this.log(`handler error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      r = sw(0x6f00);
    }
    return this.respond(r.data, r.sw, a.ext);
  }

  private respond(data: Buffer, swv: number, ext: boolean): Buffer {
    const max = ext ? 65536 : 256;
    if (swv === 0x9000 && data.length > max) {
      this.pendingOut = data.subarray(max);
      const rem = Math.min(this.pendingOut.length, 256) & 0xff;
      return Buffer.concat([data.subarray(0, max), Buffer.from([0x61, rem])]);
    }
    return Buffer.concat([data, Buffer.from([swv >> 8, swv & 0xff])]);
  }

  private save(): void {
    if (this.statePath) fs.writeFileSync(this.statePath, JSON.stringify(this.st, null, 1));
  }

  private mgmCipher(decrypt: boolean, data: Buffer): Buffer {
    const key = Buffer.from(this.st.mgmKey, "hex");
    const name = MGM_CIPHERS[this.st.mgmAlg];
    if (!name) throw new Error(`unsupported management key algorithm ${this.st.mgmAlg}`);
    const c = decrypt ? crypto.createDecipheriv(name, key, null) : crypto.createCipheriv(name, key, null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(data), c.final()]);
  }

  private blockLen(): number {
    return this.st.mgmAlg === PIV_ALG.TDES ? 8 : 16;
  }

  private handle(ins: number, p1: number, p2: number, data: Buffer): Reply {
    const st = this.st;
    if (ins === 0xa4) return this.select(p1, data);
    if (!this.sec.selected) return sw(0x6d00);
    switch (ins) {
      case 0xcb: {
        // GET DATA: 5C <tag>
        const t = parseTlv(data).find((x) => x.tag === 0x5c);
        if (!t) return sw(0x6a80);
        const tag = t.value.toString("hex");
        if (tag === "7e") return sw(0x9000, DISCOVERY);
        if (tag === "7f61") return sw(0x6a82); // biometric information templates group template
        const v = st.objects[tag];
        if (v === undefined) return sw(0x6a82);
        if (tag === "5fc109" && !this.sec.pinOk) return sw(0x6982); // printed information is PIN-protected
        return sw(0x9000, tlv(0x53, Buffer.from(v, "hex")));
      }
      case 0xdb: {
        // PUT DATA: 5C <tag> 53 <content> (needs the management key); empty content deletes
        if (!this.sec.mgmOk) return sw(0x6982);
        const parts = parseTlv(data);
        const t = parts.find((x) => x.tag === 0x5c);
        const v = parts.find((x) => x.tag === 0x53);
        if (!t || !v) return sw(0x6a80);
        const tag = t.value.toString("hex");
        if (v.value.length === 0) delete st.objects[tag];
        else st.objects[tag] = v.value.toString("hex");
        this.save();
        return sw(0x9000);
      }
      case 0x20: {
        // VERIFY: P2 80 = PIN. Empty data: status query. P1 FF: reset the PIN security status.
        if (p2 !== 0x80) return sw(0x6a88);
        if (p1 === 0xff) {
          this.sec.pinOk = false;
          return sw(0x9000);
        }
        if (st.pinTries === 0) return sw(0x6983);
        if (data.length === 0) return sw(this.sec.pinOk ? 0x9000 : 0x63c0 | st.pinTries);
        if (data.length !== 8) return sw(0x6a80);
        if (unpad(data) === st.pin) {
          st.pinTries = st.pinRetries;
          this.sec.pinOk = true;
          this.save();
          return sw(0x9000);
        }
        st.pinTries--;
        this.sec.pinOk = false;
        this.save();
        return sw(st.pinTries === 0 ? 0x6983 : 0x63c0 | st.pinTries);
      }
      case 0x24: {
        // CHANGE REFERENCE DATA: P2 80 PIN, 81 PUK; data = old(8) || new(8)
        if ((p2 !== 0x80 && p2 !== 0x81) || data.length !== 16) return sw(0x6a80);
        const isPin = p2 === 0x80;
        const tries = (): number => (isPin ? st.pinTries : st.pukTries);
        const setTries = (n: number): void => {
          if (isPin) st.pinTries = n;
          else st.pukTries = n;
        };
        if (tries() === 0) return sw(0x6983);
        const oldV = unpad(data.subarray(0, 8)),
          newV = unpad(data.subarray(8));
        if (oldV !== (isPin ? st.pin : st.puk)) {
          setTries(tries() - 1);
          this.save();
          return sw(tries() === 0 ? 0x6983 : 0x63c0 | tries());
        }
        if (newV.length < 6) return sw(0x6a80);
        if (isPin) st.pin = newV;
        else st.puk = newV;
        setTries(isPin ? st.pinRetries : st.pukRetries);
        this.save();
        return sw(0x9000);
      }
      case 0x2c: {
        // RESET RETRY COUNTER: data = PUK(8) || new PIN(8)
        if (p2 !== 0x80 || data.length !== 16) return sw(0x6a80);
        if (st.pukTries === 0) return sw(0x6983);
        if (unpad(data.subarray(0, 8)) !== st.puk) {
          st.pukTries--;
          this.save();
          return sw(st.pukTries === 0 ? 0x6983 : 0x63c0 | st.pukTries);
        }
        st.pin = unpad(data.subarray(8));
        st.pinTries = st.pinRetries;
        st.pukTries = st.pukRetries;
        this.save();
        return sw(0x9000);
      }
      case 0x47: {
        // GENERATE ASYMMETRIC KEY PAIR: AC { 80 01 alg [AA 01 pin policy] [AB 01 touch policy] }
        if (!this.sec.mgmOk) return sw(0x6982);
        if (!KEY_SLOTS.has(p2) || p2 === 0xf9) return sw(0x6a86);
        const ac = parseTlv(data).find((x) => x.tag === 0xac);
        const algT = ac && parseTlv(ac.value).find((x) => x.tag === 0x80);
        if (!algT || algT.value.length === 0) return sw(0x6a80);
        const alg = algT.value[0]!;
        const policies = tlvMap(ac!.value);
        const pinPolicy = policies.get(0xaa)?.[0],
          touchPolicy = policies.get(0xab)?.[0];
        if (
          (pinPolicy !== undefined && (pinPolicy < 1 || pinPolicy > 3)) ||
          (touchPolicy !== undefined && (touchPolicy < 1 || touchPolicy > 3))
        )
          return sw(0x6a80);
        const jwk = generateKey(alg);
        if (!jwk) return sw(0x6a80);
        st.keys[p2.toString(16)] = {
          alg,
          jwk,
          origin: "generated",
          ...(pinPolicy ? { pinPolicy } : {}),
          ...(touchPolicy ? { touchPolicy } : {}),
        };
        this.save();
        return sw(0x9000, publicKeyTemplate(alg, jwk));
      }
      case 0x87:
        return this.generalAuthenticate(p1, p2, data);
      // ------------------------------ YubiKey extensions used by yubico-piv-tool / OpenSC
      case 0xfd: // GET VERSION
        return sw(0x9000, VERSION);
      case 0xf8: {
        // GET SERIAL
        const s = Buffer.alloc(4);
        s.writeUInt32BE(this.serial);
        return sw(0x9000, s);
      }
      case 0xff: {
        // SET MANAGEMENT KEY: data = alg 9B len key
        if (!this.sec.mgmOk) return sw(0x6982);
        if (data.length < 3 || data[1] !== 0x9b) return sw(0x6a80);
        st.mgmAlg = data[0]!;
        st.mgmKey = data.subarray(3, 3 + data[2]!).toString("hex");
        this.save();
        return sw(0x9000);
      }
      case 0xfa: {
        // SET PIN RETRIES: P1 PIN tries, P2 PUK tries (needs management key + PIN); resets PIN and PUK to defaults
        if (!this.sec.mgmOk || !this.sec.pinOk) return sw(0x6982);
        st.pinRetries = st.pinTries = p1;
        st.pukRetries = st.pukTries = p2;
        st.pin = DEFAULT_PIN;
        st.puk = DEFAULT_PUK;
        this.save();
        return sw(0x9000);
      }
      case 0xfb: {
        // RESET the applet: only when PIN and PUK are both blocked
        if (st.pinTries !== 0 || st.pukTries !== 0) return sw(0x6985);
        // YubiKey: the attestation key and certificate survive a reset of the PIV application.
        const f9 = st.keys.f9,
          f9cert = st.objects[ATTESTATION_OBJECT];
        this.st = freshState();
        this.st.objects = { ...defaultObjects(this.serial), ...(f9cert ? { [ATTESTATION_OBJECT]: f9cert } : {}) };
        if (f9) this.st.keys.f9 = f9;
        this.save();
        return sw(0x9000);
      }
      case 0xfe:
        return this.importKey(p1, p2, data);
      case 0xf9:
        return this.attest(p1);
      default:
        return sw(0x6d00);
    }
  }

  private select(p1: number, data: Buffer): Reply {
    if (p1 === 0x04 && data.length >= 5 && data.subarray(0, 5).equals(PIV_AID_PREFIX)) {
      this.sec = noSecurity(true);
      const apt = tlv(
        0x61,
        Buffer.concat([
          tlv(0x4f, Buffer.from("000010000100", "hex")),
          tlv(0x79, tlv(0x4f, Buffer.from("a000000308", "hex"))),
          tlv(0x50, Buffer.from("PIV emulator")),
          tlv(0xac, Buffer.from("800103800108800111800114060100", "hex")),
        ]),
      );
      return sw(0x9000, apt);
    }
    this.sec.selected = false;
    return sw(0x6a82);
  }

  /** GENERAL AUTHENTICATE: 7C { 80 witness | 81 challenge | 82 response | 85 exponentiation }. */
  private generalAuthenticate(p1: number, p2: number, data: Buffer): Reply {
    const top = parseTlv(data).find((x) => x.tag === 0x7c);
    if (!top) return sw(0x6a80);
    const t = tlvMap(top.value);
    const t80 = t.get(0x80),
      t81 = t.get(0x81),
      t82 = t.get(0x82),
      t85 = t.get(0x85);
    if (p2 === 0x9b) {
      if (p1 !== this.st.mgmAlg) return sw(0x6a86);
      const bl = this.blockLen();
      // mutual auth step 1: 80 00 -> card returns E(K, witness)
      if (t80 && t80.length === 0) {
        this.sec.witness = crypto.randomBytes(bl);
        return sw(0x9000, tlv(0x7c, tlv(0x80, this.mgmCipher(false, this.sec.witness))));
      }
      // mutual auth step 2: 80 = decrypted witness, 81 = host challenge -> 82 = E(K, challenge)
      if (t80 && t81) {
        const ok = this.sec.witness !== null && t80.equals(this.sec.witness);
        this.sec.witness = null;
        if (!ok) return sw(0x6982);
        this.sec.mgmOk = true;
        return sw(0x9000, tlv(0x7c, tlv(0x82, this.mgmCipher(false, t81))));
      }
      // external auth step 1: 81 00 -> plain challenge
      if (t81 && t81.length === 0) {
        this.sec.challenge = crypto.randomBytes(bl);
        return sw(0x9000, tlv(0x7c, tlv(0x81, this.sec.challenge)));
      }
      // external auth step 2: 82 = E(K, challenge)
      if (t82 && t82.length) {
        const ok = this.sec.challenge !== null && this.mgmCipher(true, t82).equals(this.sec.challenge);
        this.sec.challenge = null;
        if (!ok) return sw(0x6982);
        this.sec.mgmOk = true;
        return sw(0x9000);
      }
      return sw(0x6a80);
    }
    const key = this.st.keys[p2.toString(16)];
    if (!key) return sw(0x6a88);
    if (key.alg !== p1) return sw(0x6a86);
    const pinPolicy = key.pinPolicy ?? defaultPinPolicy(p2);
    if (pinPolicy !== 1 && !this.sec.pinOk) return sw(0x6982);
    let out: Buffer;
    if (t81 !== undefined) out = privateOp(key, t81);
    else if (t85 !== undefined) out = ecdh(key, t85);
    else return sw(0x6a80);
    if (pinPolicy === 3) this.sec.pinOk = false; // PIN always (the digital signature slot's default)
    return sw(0x9000, tlv(0x7c, tlv(0x82, out)));
  }

  /** YubiKey IMPORT ASYMMETRIC KEY: P1 alg, P2 slot; EC 06 = private scalar; RSA 01..05 = p, q, dp, dq, qinv. */
  private importKey(p1: number, p2: number, data: Buffer): Reply {
    if (!this.sec.mgmOk) return sw(0x6982);
    const parts = tlvMap(data);
    let jwk: JsonWebKey;
    if (isEc(p1)) {
      const d = parts.get(0x06);
      if (!d) return sw(0x6a80);
      const e = crypto.createECDH(ecdhCurveName(p1));
      e.setPrivateKey(d);
      const pub = e.getPublicKey();
      const n = (pub.length - 1) / 2;
      jwk = {
        kty: "EC",
        crv: p1 === PIV_ALG.P256 ? "P-256" : "P-384",
        d: b64u(d),
        x: b64u(pub.subarray(1, 1 + n)),
        y: b64u(pub.subarray(1 + n)),
      };
    } else if (isRsa(p1)) {
      const [p, q, dp, dq, qi] = [1, 2, 3, 4, 5].map((k) => parts.get(k));
      if (!p || !q || !dp || !dq || !qi) return sw(0x6a80);
      jwk = rsaJwkFromCrt(p, q, dp, dq, qi);
    } else return sw(0x6a80);
    const pinPolicy = parts.get(0xaa)?.[0],
      touchPolicy = parts.get(0xab)?.[0];
    this.st.keys[p2.toString(16)] = {
      alg: p1,
      jwk,
      origin: "imported",
      ...(pinPolicy ? { pinPolicy } : {}),
      ...(touchPolicy ? { touchPolicy } : {}),
    };
    this.save();
    return sw(0x9000);
  }

  /**
   * YubiKey ATTEST (INS F9, P1 = slot): the X.509 attestation certificate for a key generated on the
   * card, signed by the f9 key (yubico-piv-tool ykpiv_attest; no PIN or management key needed).
   */
  private attest(slot: number): Reply {
    const f9 = this.attestationSigner();
    if (!f9) return sw(0x6d00);
    if (!KEY_SLOTS.has(slot) || slot === 0xf9) return sw(0x6a86);
    const key = this.st.keys[slot.toString(16)];
    if (!key) return sw(0x6a88);
    if (key.origin === "imported") return sw(0x6a80);
    const spki = crypto.createPublicKey({ key: key.jwk, format: "jwk" }).export({ type: "spki", format: "der" });
    const der = attestationCertificate(f9, {
      slot,
      spki: new Uint8Array(spki),
      cardSerial: this.serial,
      firmware: [VERSION[0]!, VERSION[1]!, VERSION[2]!],
      pinPolicy: key.pinPolicy ?? defaultPinPolicy(slot),
      touchPolicy: key.touchPolicy ?? 1,
      formFactor: 1,
    });
    return sw(0x9000, Buffer.from(der));
  }
}

/** PIN/PUK as VERIFY / CHANGE REFERENCE DATA expect it: ASCII, padded to 8 bytes with FF. */
export function pivPinBlock(pin: string): Uint8Array {
  return padPin(pin);
}

// ---------------------------------------------------------------- vpcd client

export interface VpcdClientOptions {
  host: string;
  port: number;
  emulator: PivEmulator;
  /** Connection events (connected, disconnected, socket errors). */
  log?: (message: string) => void;
  /** Every control message and APDU exchange, and every failed connection attempt (verbose). */
  trace?: (message: string) => void;
  /** Delay before reconnecting after the connection closed or failed. Default 500 ms. */
  reconnectDelayMs?: number;
}

export interface VpcdClient {
  /** True while the TCP connection to vpcd is up. */
  readonly connected: boolean;
  /** Stops reconnecting and closes the connection (the card is "removed"). */
  close(): Promise<void>;
}

/** Connects the emulator to vpcd and serves it; reconnects whenever the connection closes, until close(). */
export function connectToVpcd(options: VpcdClientOptions): VpcdClient {
  const { host, port, emulator } = options;
  const log = options.log ?? (() => {});
  const trace = options.trace ?? (() => {});
  const delay = options.reconnectDelayMs ?? 500;
  let sock: net.Socket | null = null;
  let timer: NodeJS.Timeout | null = null;
  let connected = false;
  let stopped = false;

  const connect = (): void => {
    timer = null;
    const s = net.connect({ host, port });
    sock = s;
    let buf: Buffer = EMPTY;
    s.setNoDelay(true);
    s.on("connect", () => {
      connected = true;
      log(`connected to vpcd ${host}:${port}`);
    });
    s.on("data", (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        let out: Uint8Array | null = null;
        if (len === 1) {
          const c = msg[0]!;
          if (c === 0x04) out = emulator.atr;
          else {
            emulator.powerReset(); // 00 power off, 01 power on, 02 reset
            trace(`ctrl ${c.toString(16).padStart(2, "0")}`); // 04 (ATR poll) comes every ~0.4 s: not traced
          }
        } else {
          out = emulator.processApdu(msg);
          trace(`> ${msg.toString("hex")}\n< ${Buffer.from(out).toString("hex")}`);
        }
        if (out) {
          const frame = Buffer.alloc(2 + out.length);
          frame.writeUInt16BE(out.length, 0);
          frame.set(out, 2);
          s.write(frame);
        }
      }
    });
    s.on("error", (e: Error) => (connected ? log : trace)(`socket error: ${e.message}`));
    s.on("close", () => {
      if (connected) log(`disconnected from vpcd ${host}:${port}`);
      connected = false;
      if (sock === s) sock = null;
      emulator.powerReset();
      if (!stopped) timer = setTimeout(connect, delay);
    });
  };
  connect();

  return {
    get connected() {
      return connected;
    },
    close(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const s = sock;
      if (!s || s.destroyed) return Promise.resolve();
      return new Promise((resolve) => {
        s.once("close", () => resolve());
        s.destroy();
      });
    },
  };
}

// ---------------------------------------------------------------- program

const USAGE =
  "usage: piv-emulator [--host 127.0.0.1] [--port 35963] [--state FILE] " +
  "[--serial N] [--maker DIR] [--no-attestation] [--verbose]";

function main(argv: string[]): void {
  let values: {
    host?: string;
    port?: string;
    state?: string;
    serial?: string;
    maker?: string;
    "no-attestation"?: boolean;
    verbose?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        state: { type: "string" },
        serial: { type: "string" },
        maker: { type: "string" },
        "no-attestation": { type: "boolean" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`piv-emulator: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const host = values.host ?? DEFAULT_VPCD_HOST;
  const port = Number(values.port ?? DEFAULT_VPCD_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`piv-emulator: bad --port ${values.port}\n${USAGE}`);
    process.exit(2);
  }
  let serial = DEFAULT_SERIAL;
  if (values.serial !== undefined) {
    serial = /^\d+$/.test(values.serial) ? Number(values.serial) : NaN;
    if (!Number.isInteger(serial) || serial > 0xffffffff) {
      console.error(`piv-emulator: bad --serial ${values.serial} (decimal, 0..4294967295)\n${USAGE}`);
      process.exit(2);
    }
  }
  const verbose = values.verbose === true;
  const stamp = (m: string): void => console.log(`${new Date().toISOString()} ${m}`);
  const maker = values.maker && !values["no-attestation"] ? loadOrCreateMakerRoot(values.maker) : undefined;
  const emulator = new PivEmulator({
    serial,
    ...(values.state ? { statePath: values.state } : {}),
    ...(maker ? { attestationMaker: maker } : {}),
    log: stamp,
  });
  const client = connectToVpcd({
    host,
    port,
    emulator,
    log: (m) => stamp(`piv-emulator: ${m}`),
    ...(verbose ? { trace: stamp } : {}),
  });
  stamp(
    `piv-emulator: serial ${serial} (0x${serial.toString(16).padStart(8, "0")}), ` +
      `vpcd ${host}:${port}${values.state ? `, state ${values.state}` : ""}, ` +
      `attestation ${maker ? `by the maker root in ${values.maker}` : "none"}`,
  );
  const shutdown = (): void => {
    void client.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) main(process.argv.slice(2));

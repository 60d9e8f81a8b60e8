import { OID } from "../asn1/oids.js";
import { concat, derLength, derTlv, fromHex, unsignedIntegerContent } from "../asn1/der.js";
import {
  childrenOf,
  content,
  decodeOid,
  decodeTime,
  encodeGeneralizedTime,
  encodeOid,
  encodeTime,
  readTlv,
} from "../asn1/der-reader.js";
import type { Authority } from "./authority.js";
import { idpValue, OID_ISSUING_DISTRIBUTION_POINT } from "./crl-shards.js";

/** RFC 5280 5.3.1 CRLReason codes by name. */
export const CRL_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

export interface CrlEntry {
  readonly serial: string; // hex
  readonly revokedAt: Date;
  readonly reason?: string | undefined;
  readonly invalidityDate?: Date | undefined;
}

export interface CrlInput {
  readonly issuer: Authority;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: bigint;
  /** Entries, or batches of them from a database stream. */
  readonly entries: Iterable<CrlEntry> | AsyncIterable<readonly CrlEntry[]>;
  /** Delta CRL: the number of its base full CRL (RFC 5280 5.2.4, critical deltaCRLIndicator). */
  readonly deltaBase?: bigint;
  /** Full CRL: where the delta CRLs are (RFC 5280 5.2.6 freshestCRL). */
  readonly freshestUrl?: string;
  /** A shard's CRL: its URL in a critical issuingDistributionPoint (RFC 5280 5.2.5). */
  readonly idpUrl?: string;
}

/** Appends bytes into large chunks, so a million entries are not a million small arrays. */
class ChunkWriter {
  private chunks: Buffer[] = [];
  private cur = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  length = 0;
  write(b: Uint8Array): void {
    if (this.pos + b.length > this.cur.length) {
      this.chunks.push(this.cur.subarray(0, this.pos));
      this.cur = Buffer.allocUnsafe(Math.max(1 << 20, b.length));
      this.pos = 0;
    }
    this.cur.set(b, this.pos);
    this.pos += b.length;
    this.length += b.length;
  }
  parts(): Buffer[] {
    return [...this.chunks, this.cur.subarray(0, this.pos)];
  }
}

function bigintContent(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return unsignedIntegerContent(fromHex(hex));
}

const ext = (oid: string, critical: boolean, value: Uint8Array): Uint8Array =>
  derTlv(
    0x30,
    concat(encodeOid(oid), critical ? Uint8Array.of(0x01, 0x01, 0xff) : new Uint8Array(0), derTlv(0x04, value)),
  );

/** A shared scratch buffer for one entry; entries are copied from it into the chunk writer. */
const scratch = Buffer.alloc(256);
const REASON_EXT = Buffer.from("0603551d15", "hex"); // OID 2.5.29.21
const INVALIDITY_EXT = Buffer.from("0603551d18", "hex"); // OID 2.5.29.24
let lastTimeMs = NaN;
let lastUtc = Buffer.alloc(15);

/** RFC 5280 4.1.2.5.1 UTCTime YYMMDDHHMMSSZ (years 1950..2049; later years use GeneralizedTime). */
function timeBytes(ms: number): Buffer {
  if (ms === lastTimeMs) return lastUtc;
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const p = (n: number) => (n < 10 ? "0" + n : String(n));
  const body =
    `${y < 2050 ? p(y % 100) : String(y)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  lastUtc = Buffer.concat([Buffer.of(y < 2050 ? 0x17 : 0x18, body.length), Buffer.from(body, "latin1")]);
  lastTimeMs = ms;
  return lastUtc;
}

function putLength(buf: Buffer, at: number, n: number): number {
  if (n < 0x80) return buf.writeUInt8(n, at);
  if (n < 0x100) return buf.writeUInt8(0x81, at) && buf.writeUInt8(n, at + 1);
  buf.writeUInt8(0x82, at);
  return buf.writeUInt16BE(n, at + 1);
}

/** revokedCertificates entry (RFC 5280 5.1.2.6) written straight into the scratch buffer. */
function writeEntry(w: ChunkWriter, e: CrlEntry): void {
  const reason = e.reason === undefined ? 0 : CRL_REASONS[e.reason];
  if (reason === undefined) throw new Error(`unknown CRL reason '${e.reason}'`);
  if (e.serial.length % 2 !== 0 || e.serial.length > 42) throw new Error(`bad serial ${e.serial}`);
  // Body after the outer SEQUENCE header, assembled from position 4 (room for a 4-octet header).
  let p = 4;
  const serialLen = e.serial.length / 2;
  const pad = parseInt(e.serial.slice(0, 2), 16) >= 0x80 ? 1 : 0; // DER INTEGER stays positive
  scratch[p++] = 0x02;
  scratch[p++] = serialLen + pad;
  if (pad) scratch[p++] = 0;
  p += scratch.write(e.serial, p, "hex");
  p += timeBytes(e.revokedAt.getTime()).copy(scratch, p);
  // RFC 5280 5.3.1: reasonCode absent rather than unspecified.
  const inv = e.invalidityDate ? timeBytesGeneralized(e.invalidityDate) : undefined;
  if (reason !== 0 || inv) {
    const reasonExt = reason !== 0 ? 2 + REASON_EXT.length + 2 + 3 : 0; // 30 L { oid, 04 03 { 0a 01 r } }
    const invExt = inv ? 2 + INVALIDITY_EXT.length + 2 + inv.length : 0;
    scratch[p++] = 0x30;
    p = putLength(scratch, p, reasonExt + invExt);
    if (reason !== 0) {
      scratch[p++] = 0x30;
      scratch[p++] = REASON_EXT.length + 5;
      p += REASON_EXT.copy(scratch, p);
      scratch[p++] = 0x04;
      scratch[p++] = 0x03;
      scratch[p++] = 0x0a;
      scratch[p++] = 0x01;
      scratch[p++] = reason;
    }
    if (inv) {
      scratch[p++] = 0x30;
      scratch[p++] = INVALIDITY_EXT.length + 2 + inv.length;
      p += INVALIDITY_EXT.copy(scratch, p);
      scratch[p++] = 0x04;
      scratch[p++] = inv.length;
      p += inv.copy(scratch, p);
    }
  }
  const bodyLen = p - 4;
  const head = bodyLen < 0x80 ? 2 : 3;
  scratch[4 - head] = 0x30;
  putLength(scratch, 4 - head + 1, bodyLen);
  w.write(scratch.subarray(4 - head, p));
}

/** RFC 5280 5.3.2 invalidityDate is a GeneralizedTime. */
function timeBytesGeneralized(d: Date): Buffer {
  return Buffer.from(encodeGeneralizedTime(d));
}

/**
 * TBSCertList (RFC 5280 5.1), written as DER directly: entries are streamed into large byte
 * chunks, never held as ASN.1 objects. v2, AKI and cRLNumber always (5.2.1, 5.2.3).
 */
export async function buildCrlTbs(input: CrlInput): Promise<{ der: Uint8Array; entries: number }> {
  if (input.nextUpdate <= input.thisUpdate) throw new Error("nextUpdate must be after thisUpdate (RFC 5280 5.1.2.5)");
  const w = new ChunkWriter();
  let entries = 0;
  if (Symbol.asyncIterator in input.entries) {
    for await (const batch of input.entries as AsyncIterable<readonly CrlEntry[]>)
      for (const e of batch) {
        writeEntry(w, e);
        entries++;
      }
  } else
    for (const e of input.entries as Iterable<CrlEntry>) {
      writeEntry(w, e);
      entries++;
    }
  const akiValue = derTlv(0x30, derTlv(0x80, input.issuer.ski)); // AuthorityKeyIdentifier { [0] keyIdentifier }
  const exts: Uint8Array[] = [
    ext(OID.extAuthorityKeyIdentifier, false, akiValue),
    ext("2.5.29.20", false, derTlv(0x02, bigintContent(input.crlNumber))),
  ];
  if (input.deltaBase !== undefined) exts.push(ext("2.5.29.27", true, derTlv(0x02, bigintContent(input.deltaBase))));
  if (input.freshestUrl) {
    // CRLDistributionPoints syntax: SEQUENCE { DistributionPoint { [0] { [0] fullName { [6] URI } } } }
    const uri = derTlv(0x86, new TextEncoder().encode(input.freshestUrl));
    exts.push(ext("2.5.29.46", false, derTlv(0x30, derTlv(0x30, derTlv(0xa0, derTlv(0xa0, uri))))));
  }
  if (input.idpUrl) exts.push(ext(OID_ISSUING_DISTRIBUTION_POINT, true, idpValue(input.idpUrl)));
  const head = concat(
    Uint8Array.of(0x02, 0x01, 0x01), // version v2
    input.issuer.signer.algorithmDer,
    input.issuer.nameDer,
    encodeTime(input.thisUpdate),
    encodeTime(input.nextUpdate),
  );
  const revoked = entries > 0 ? [Uint8Array.of(0x30), derLength(w.length), ...w.parts()] : [];
  const tail = derTlv(0xa0, derTlv(0x30, concat(...exts)));
  const bodyLen = head.length + revoked.reduce((n, p) => n + p.length, 0) + tail.length;
  const der = Buffer.concat([Buffer.of(0x30), Buffer.from(derLength(bodyLen)), head, ...revoked, tail]);
  return { der: new Uint8Array(der.buffer, der.byteOffset, der.length), entries };
}

/** thisUpdate, nextUpdate and cRLNumber of a DER CRL (RFC 5280 5.1), read without an ASN.1 library. */
export function readCrlInfo(der: Uint8Array): { number: bigint; thisUpdate: Date; nextUpdate: Date } {
  const top = readTlv(der, 0);
  const tbs = childrenOf(der, top)[0]!;
  const f = childrenOf(der, tbs);
  let i = f[0]!.tag === 0x02 ? 1 : 0; // version
  i += 2; // signature, issuer
  const thisUpdate = decodeTime(der, f[i++]!);
  const nextUpdate = decodeTime(der, f[i]!);
  let number = 0n;
  const extsWrap = f.find((t) => t.tag === 0xa0);
  if (extsWrap)
    for (const e of childrenOf(der, childrenOf(der, extsWrap)[0]!)) {
      const parts = childrenOf(der, e);
      if (decodeOid(content(der, parts[0]!)) === "2.5.29.20") {
        const v = content(der, parts[parts.length - 1]!);
        number = BigInt("0x" + Buffer.from(content(v, readTlv(v, 0))).toString("hex"));
      }
    }
  return { number, thisUpdate, nextUpdate };
}

import { OID } from "../asn1/oids.js";
import { concat, derLength, derTlv, fromHex, unsignedIntegerContent } from "../asn1/der.js";
import { childrenOf, content, decodeOid, decodeTime, encodeOid, encodeTime, readTlv } from "../asn1/der-reader.js";
import type { Authority } from "./authority.js";

/** RFC 5280 5.3.1 CRLReason codes by name. */
export const CRL_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0, keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4,
  cessationOfOperation: 5, certificateHold: 6, removeFromCRL: 8, privilegeWithdrawn: 9, aACompromise: 10,
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
  readonly entries: Iterable<CrlEntry> | AsyncIterable<CrlEntry>;
  /** Delta CRL: the number of its base full CRL (RFC 5280 5.2.4, critical deltaCRLIndicator). */
  readonly deltaBase?: bigint;
  /** Full CRL: where the delta CRLs are (RFC 5280 5.2.6 freshestCRL). */
  readonly freshestUrl?: string;
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

const ext = (oid: string, critical: boolean, value: Uint8Array) =>
  derTlv(0x30, concat(encodeOid(oid), critical ? Uint8Array.of(0x01, 0x01, 0xff) : new Uint8Array(0), derTlv(0x04, value)));

const REASON_OID = encodeOid("2.5.29.21");
const INVALIDITY_OID = encodeOid("2.5.29.24");

/** RFC 5280 5.3.2 invalidityDate is a GeneralizedTime. */
function generalizedTime(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const s = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return Uint8Array.of(0x18, s.length, ...Buffer.from(s, "latin1"));
}

function entryDer(e: CrlEntry): Uint8Array {
  const reason = e.reason === undefined ? 0 : CRL_REASONS[e.reason];
  if (reason === undefined) throw new Error(`unknown CRL reason '${e.reason}'`);
  const exts: Uint8Array[] = [];
  // RFC 5280 5.3.1: reasonCode absent rather than unspecified.
  if (reason !== 0) exts.push(derTlv(0x30, concat(REASON_OID, derTlv(0x04, Uint8Array.of(0x0a, 0x01, reason)))));
  if (e.invalidityDate) exts.push(derTlv(0x30, concat(INVALIDITY_OID, derTlv(0x04, generalizedTime(e.invalidityDate)))));
  return derTlv(0x30, concat(derTlv(0x02, unsignedIntegerContent(fromHex(e.serial))), encodeTime(e.revokedAt), exts.length ? derTlv(0x30, concat(...exts)) : new Uint8Array(0)));
}

/**
 * TBSCertList (RFC 5280 5.1), written as DER directly: entries are streamed into large byte
 * chunks, never held as ASN.1 objects. v2, AKI and cRLNumber always (5.2.1, 5.2.3).
 */
export async function buildCrlTbs(input: CrlInput): Promise<{ der: Uint8Array; entries: number }> {
  if (input.nextUpdate <= input.thisUpdate) throw new Error("nextUpdate must be after thisUpdate (RFC 5280 5.1.2.5)");
  const w = new ChunkWriter();
  let entries = 0;
  for await (const e of input.entries) {
    w.write(entryDer(e));
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
  const nextUpdate = decodeTime(der, f[i++]!);
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

import { CaError } from "../shared/ca-error.js";

/** One DER TLV inside a buffer (X.690 8.1). */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

const bad = (m: string) => new CaError("invalid-input", `DER: ${m}`);

/** Reads the TLV at offset; definite, minimal lengths only (DER, X.690 10.1). Single-octet tags only. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw bad("truncated header");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw bad("multi-octet tags not supported");
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw bad("indefinite or oversized length");
    if (p + n > limit) throw bad("truncated length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80 || (n > 1 && buf[p] === 0)) throw bad("non-minimal length");
    p += n;
  }
  if (p + len > limit) throw bad("content runs past its parent");
  return { tag, start: offset, contentStart: p, end: p + len };
}

/** The TLVs directly inside a constructed TLV. */
export function childrenOf(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end;) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function content(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.contentStart, t.end);
}

export function whole(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

/** OBJECT IDENTIFIER content octets to dotted form (X.690 8.19). */
export function decodeOid(c: Uint8Array): string {
  if (c.length === 0) throw bad("empty OID");
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    // X.690 8.19.2: a subidentifier is minimal, its first octet never 0x80.
    if (c[i] === 0x80 && (i === 0 || (c[i - 1]! & 0x80) === 0)) throw bad("OID subidentifier not minimally encoded");
    v = v * 128 + (c[i]! & 0x7f);
    if ((c[i]! & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  if ((c[c.length - 1]! & 0x80) !== 0) throw bad("truncated OID");
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join(".");
}

/** Dotted OID to its DER TLV. */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split(".").map(Number);
  const out: number[] = [];
  const push = (n: number) => {
    const bytes = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) bytes.unshift((n & 0x7f) | 0x80);
    out.push(...bytes);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Uint8Array.of(0x06, out.length, ...out);
}

/** UTCTime (tag 0x17) or GeneralizedTime (0x18) in the RFC 5280 4.1.2.5 form (Z, seconds, no fractions). */
export function decodeTime(buf: Uint8Array, t: Tlv): Date {
  const s = Buffer.from(content(buf, t)).toString("latin1");
  const m =
    t.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw bad(`time '${s}' is not RFC 5280 UTCTime/GeneralizedTime`);
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year >= 50 ? 1900 : 2000;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (seconds, Z). */
export function encodeTime(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const y = d.getUTCFullYear();
  const rest =
    `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const s = y < 2050 ? `${p(y % 100)}${rest}` : `${p(y, 4)}${rest}`;
  return Uint8Array.of(y < 2050 ? 0x17 : 0x18, s.length, ...Buffer.from(s, "latin1"));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 4.1.2.5.2; RFC 6960 uses it for every time). */
export function encodeGeneralizedTime(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const s =
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return Uint8Array.of(0x18, s.length, ...Buffer.from(s, "latin1"));
}

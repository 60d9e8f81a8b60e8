import { CaError } from "../shared/ca-error.js";

/** BER-TLV as PIV uses it (SP 800-73-4 part 2 / ISO 7816-4 5.2): 1-3 byte tags, lengths up to 3 bytes. */
export function berLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x81, n);
  if (n < 0x10000) return Uint8Array.of(0x82, n >> 8, n & 0xff);
  return Uint8Array.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff);
}

export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const t = tag > 0xffff ? [tag >> 16, (tag >> 8) & 0xff, tag & 0xff] : tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  return Buffer.concat([Uint8Array.from(t), berLength(value.length), value]);
}

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

export function parseTlvs(buf: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  const need = (n: number) => {
    if (i + n > buf.length) throw new CaError("invalid-input", "the card sent a truncated TLV");
  };
  while (i < buf.length) {
    if (buf[i] === 0x00 || buf[i] === 0xff) {
      i++; // padding between objects (ISO 7816-4 5.2.2)
      continue;
    }
    need(1);
    let tag = buf[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      do {
        need(1);
        tag = (tag << 8) | buf[i]!;
      } while (buf[i++]! & 0x80);
    }
    need(1);
    let len = buf[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 3) throw new CaError("invalid-input", "the card sent a TLV length the parser does not take");
      need(n);
      len = 0;
      for (let k = 0; k < n; k++) len = (len << 8) | buf[i++]!;
    }
    need(len);
    out.push({ tag, value: buf.subarray(i, i + len) });
    i += len;
  }
  return out;
}

export function findTlv(buf: Uint8Array, tag: number): Uint8Array | undefined {
  return parseTlvs(buf).find((t) => t.tag === tag)?.value;
}

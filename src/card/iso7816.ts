import { CaError } from "../shared/ca-error.js";
import type { ResponseApdu } from "./status-words.js";

/** A connected card: one raw exchange of a command APDU for a response APDU (SW included). */
export interface CardChannel {
  readonly reader: string;
  readonly atr: Uint8Array;
  /** One exchange; `timeoutMs` for slow operations (on-card RSA key generation). */
  transmit(apdu: Uint8Array, timeoutMs?: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface Command {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data?: Uint8Array;
  /** Expect response data (Le absent when false). */
  readonly le?: boolean;
}

const SHORT_MAX = 255;

/**
 * ISO/IEC 7816-4 transmission over a channel: command chaining (CLA bit b5, 5.1.1.1) or
 * extended length (5.1) for long data, 61xx → GET RESPONSE and 6Cxx → repeat with the right Le
 * (7816-3 / 7816-4 5.1.3). Counts round trips.
 */
export class Iso7816 {
  roundTrips = 0;

  constructor(
    private readonly channel: CardChannel,
    readonly extendedLength: boolean,
  ) {}

  private async exchange(apdu: Uint8Array): Promise<ResponseApdu> {
    this.roundTrips++;
    const r = await this.channel.transmit(apdu);
    if (r.length < 2)
      throw new CaError(
        "unavailable",
        `the card in ${this.channel.reader} answered ${r.length} bytes (no status word)`,
      );
    return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
  }

  async send(c: Command): Promise<ResponseApdu> {
    const data = c.data ?? new Uint8Array(0);
    const le = c.le ?? true;
    if (this.extendedLength && data.length > SHORT_MAX)
      return this.complete(c, await this.exchange(encodeExtended(c.cla, c.ins, c.p1, c.p2, data, le)));
    let off = 0;
    let r: ResponseApdu;
    let apdu: Uint8Array;
    do {
      const chunk = data.subarray(off, off + SHORT_MAX);
      off += chunk.length;
      const last = off >= data.length;
      apdu = encodeShort(last ? c.cla : c.cla | 0x10, c.ins, c.p1, c.p2, chunk, last && le ? 0 : undefined);
      r = await this.exchange(apdu);
      if (!last && r.sw !== 0x9000) return r; // the card refused a chained part
    } while (off < data.length);
    return this.complete(c, r, apdu);
  }

  /** 6Cxx: repeat with Le = xx; 61xx: GET RESPONSE until 9000 or an error. */
  private async complete(c: Command, first: ResponseApdu, lastApdu?: Uint8Array): Promise<ResponseApdu> {
    let r = first;
    if ((r.sw & 0xff00) === 0x6c00 && lastApdu && c.le !== false) {
      const again = Uint8Array.from(lastApdu);
      again[again.length - 1] = r.sw & 0xff;
      r = await this.exchange(again);
    }
    const parts: Uint8Array[] = [r.data];
    while ((r.sw & 0xff00) === 0x6100) {
      r = await this.exchange(Uint8Array.of(c.cla & 0x0f, 0xc0, 0x00, 0x00, r.sw & 0xff));
      parts.push(r.data);
    }
    return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts), sw: r.sw };
  }
}

/** Case 1-4 short APDU (7816-4 5.1): Lc 1 byte, Le 1 byte (00 = 256). */
export function encodeShort(
  cla: number,
  ins: number,
  p1: number,
  p2: number,
  data: Uint8Array,
  le?: number,
): Uint8Array {
  if (data.length > SHORT_MAX) throw new CaError("internal", `short APDU data of ${data.length} bytes`);
  const out = [cla, ins, p1, p2];
  if (data.length) out.push(data.length, ...data);
  if (le !== undefined) out.push(le & 0xff);
  return Uint8Array.from(out);
}

/** Extended-length APDU (7816-4 5.1): 00 Lc(2) data Le(2). */
export function encodeExtended(
  cla: number,
  ins: number,
  p1: number,
  p2: number,
  data: Uint8Array,
  le: boolean,
): Uint8Array {
  const out = [cla, ins, p1, p2, 0x00];
  if (data.length) out.push(data.length >> 8, data.length & 0xff, ...data);
  if (le) out.push(0x00, 0x00);
  return Uint8Array.from(out);
}

/**
 * Whether the card says it takes extended Lc/Le: the third software function table byte of the
 * card capabilities (compact-TLV tag 7x in the ATR historical bytes, ISO/IEC 7816-4 8.1.1.2.7, bit b7).
 */
export function extendedLengthFromAtr(atr: Uint8Array): boolean {
  const hist = historicalBytes(atr);
  if (!hist || hist[0] !== 0x80) return false; // category indicator 80: compact-TLV objects follow
  for (let i = 1; i < hist.length;) {
    const tag = hist[i]! >> 4;
    const len = hist[i]! & 0x0f;
    if (tag === 0x7 && len >= 3) return (hist[i + 3]! & 0x40) !== 0;
    i += 1 + len;
  }
  return false;
}

/** The historical bytes of an ATR (ISO/IEC 7816-3 8.2): T0's low nibble is their count. */
export function historicalBytes(atr: Uint8Array): Uint8Array | undefined {
  if (atr.length < 2) return undefined;
  const k = atr[1]! & 0x0f;
  let i = 1;
  let y = atr[1]! >> 4;
  while (true) {
    const ta = (y & 1) !== 0,
      tb = (y & 2) !== 0,
      tc = (y & 4) !== 0,
      td = (y & 8) !== 0;
    i += (ta ? 1 : 0) + (tb ? 1 : 0) + (tc ? 1 : 0);
    if (!td) break;
    i += 1;
    if (i >= atr.length) return undefined;
    y = atr[i]! >> 4;
  }
  const start = i + 1;
  return start + k <= atr.length ? atr.subarray(start, start + k) : undefined;
}

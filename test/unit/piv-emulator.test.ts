import { expect } from "chai";
import { createCipheriv, createDecipheriv, createHash, createPublicKey, verify } from "node:crypto";
import { DEFAULT_MANAGEMENT_KEY_HEX, PIV_ALG, PivEmulator, pivPinBlock } from "../support/piv-emulator.js";
import { cryptoRandom } from "../../src/shared/random.js";

const PIV_AID = Buffer.from("a000000308000010000100", "hex");

/** Short APDU: CLA INS P1 P2 [Lc data] [Le]. */
function apdu(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Buffer {
  const parts = [Buffer.from([cla, ins, p1, p2])];
  if (data && data.length) parts.push(Buffer.from([data.length]), Buffer.from(data));
  if (le !== undefined) parts.push(Buffer.from([le]));
  return Buffer.concat(parts);
}

function tlv(tag: number, value: Uint8Array): Buffer {
  const t = tag > 0xffff ? [tag >> 16, (tag >> 8) & 0xff, tag & 0xff] : tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const n = value.length;
  const l = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from(t), Buffer.from(l), value]);
}

interface Res {
  data: Buffer;
  sw: number;
  /** GET RESPONSE commands needed (transmit only). */
  rounds?: number;
}
function send(card: PivEmulator, c: Uint8Array): Res {
  const r = Buffer.from(card.processApdu(c));
  return { data: r.subarray(0, r.length - 2), sw: r.readUInt16BE(r.length - 2) };
}

/** Sends data with command chaining (255-byte blocks), then follows 61xx with GET RESPONSE. */
function transmit(card: PivEmulator, ins: number, p1: number, p2: number, data: Uint8Array): Res {
  let off = 0;
  while (data.length - off > 255) {
    const r = send(card, apdu(0x10, ins, p1, p2, data.subarray(off, off + 255)));
    expect(r.sw, "chained block").to.equal(0x9000);
    off += 255;
  }
  let r = send(card, apdu(0x00, ins, p1, p2, data.subarray(off), 0));
  const out = [r.data];
  let rounds = 0;
  while (r.sw >> 8 === 0x61) {
    r = send(card, apdu(0x00, 0xc0, 0, 0, undefined, r.sw & 0xff));
    out.push(r.data);
    rounds++;
  }
  return { data: Buffer.concat(out), sw: r.sw, rounds };
}

/** The value of the first top-level TLV in buf with the given tag (multi-byte tags as one number). */
function firstValue(buf: Buffer, tag: number): Buffer {
  let i = 0;
  while (i < buf.length) {
    let t = buf[i++]!;
    if ((t & 0x1f) === 0x1f)
      do t = (t << 8) | buf[i]!;
      while (buf[i++]! & 0x80);
    let len = buf[i++]!;
    if (len === 0x81) len = buf[i++]!;
    else if (len === 0x82) {
      len = buf.readUInt16BE(i);
      i += 2;
    }
    if (t === tag) return buf.subarray(i, i + len);
    i += len;
  }
  throw new Error(`tag ${tag.toString(16)} not found`);
}

function select(card: PivEmulator): Res {
  return send(card, apdu(0x00, 0xa4, 0x04, 0x00, PIV_AID, 0));
}

function des3(decrypt: boolean, data: Buffer): Buffer {
  const key = Buffer.from(DEFAULT_MANAGEMENT_KEY_HEX, "hex");
  const c = decrypt ? createDecipheriv("des-ede3", key, null) : createCipheriv("des-ede3", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** 3DES mutual authentication with the default management key; returns the final status word. */
function mutualAuth(card: PivEmulator, tamper = false): number {
  const step1 = send(card, apdu(0x00, 0x87, PIV_ALG.TDES, 0x9b, tlv(0x7c, tlv(0x80, Buffer.alloc(0))), 0));
  expect(step1.sw).to.equal(0x9000);
  const witness = des3(true, firstValue(firstValue(step1.data, 0x7c), 0x80));
  if (tamper) witness[0] ^= 1;
  const challenge = Buffer.from(cryptoRandom.bytes(8));
  const step2 = send(
    card,
    apdu(0x00, 0x87, PIV_ALG.TDES, 0x9b, tlv(0x7c, Buffer.concat([tlv(0x80, witness), tlv(0x81, challenge)])), 0),
  );
  if (step2.sw === 0x9000) expect(des3(true, firstValue(firstValue(step2.data, 0x7c), 0x82))).to.deep.equal(challenge);
  return step2.sw;
}

describe("test-support/piv-emulator", () => {
  let card: PivEmulator;
  beforeEach(() => {
    card = new PivEmulator();
  });

  it("ok/SELECT answers the application property template", () => {
    const r = select(card);
    expect(r.sw).to.equal(0x9000);
    expect(r.data[0]).to.equal(0x61);
    expect(firstValue(firstValue(r.data, 0x61), 0x4f).toString("hex")).to.equal("000010000100");
  });

  it("fail/commands before SELECT, or after selecting another AID, are refused", () => {
    expect(send(card, apdu(0x00, 0xfd, 0, 0)).sw).to.equal(0x6d00);
    expect(select(card).sw).to.equal(0x9000);
    expect(send(card, apdu(0x00, 0xa4, 0x04, 0x00, Buffer.from("a0000000030000", "hex"), 0)).sw).to.equal(0x6a82);
    expect(send(card, apdu(0x00, 0xfd, 0, 0)).sw).to.equal(0x6d00);
  });

  it("fail/a wrong PIN counts down (63C2); the right PIN then verifies (9000) and restores the tries", () => {
    select(card);
    expect(send(card, apdu(0x00, 0x20, 0x00, 0x80, pivPinBlock("654321"))).sw).to.equal(0x63c2);
    expect(send(card, apdu(0x00, 0x20, 0x00, 0x80)).sw, "status query").to.equal(0x63c2);
    expect(send(card, apdu(0x00, 0x20, 0x00, 0x80, pivPinBlock("123456"))).sw).to.equal(0x9000);
    expect(send(card, apdu(0x00, 0x20, 0x00, 0x80)).sw, "status query").to.equal(0x9000);
    expect(card.state.pinTries).to.equal(3);
    expect(send(card, apdu(0x00, 0x20, 0xff, 0x80)).sw, "reset security status").to.equal(0x9000);
    expect(send(card, apdu(0x00, 0x20, 0x00, 0x80)).sw).to.equal(0x63c3);
  });

  it("ok/3DES mutual authentication with the default management key (a wrong witness is refused)", () => {
    select(card);
    expect(mutualAuth(card, true)).to.equal(0x6982);
    expect(mutualAuth(card)).to.equal(0x9000);
  });

  it("ok/generates a P-256 key in 9A and signs a digest; the DER signature verifies with node:crypto", () => {
    select(card);
    const noAuth = send(card, apdu(0x00, 0x47, 0x00, 0x9a, tlv(0xac, tlv(0x80, Buffer.from([PIV_ALG.P256]))), 0));
    expect(noAuth.sw, "generate without management key").to.equal(0x6982);
    expect(mutualAuth(card)).to.equal(0x9000);
    const gen = send(card, apdu(0x00, 0x47, 0x00, 0x9a, tlv(0xac, tlv(0x80, Buffer.from([PIV_ALG.P256]))), 0));
    expect(gen.sw).to.equal(0x9000);
    const point = firstValue(firstValue(gen.data, 0x7f49), 0x86);
    expect(point.length).to.equal(65);
    expect(point[0]).to.equal(0x04);
    const publicKey = createPublicKey({
      key: {
        kty: "EC",
        crv: "P-256",
        x: point.subarray(1, 33).toString("base64url"),
        y: point.subarray(33).toString("base64url"),
      },
      format: "jwk",
    });

    const message = Buffer.from("to be signed on the card");
    const digest = createHash("sha256").update(message).digest();
    const auth = (): Buffer => tlv(0x7c, Buffer.concat([tlv(0x82, Buffer.alloc(0)), tlv(0x81, digest)]));
    expect(send(card, apdu(0x00, 0x87, PIV_ALG.P256, 0x9a, auth(), 0)).sw, "sign without PIN").to.equal(0x6982);
    expect(send(card, apdu(0x00, 0x20, 0x00, 0x80, pivPinBlock("123456"))).sw).to.equal(0x9000);
    const sig = send(card, apdu(0x00, 0x87, PIV_ALG.P256, 0x9a, auth(), 0));
    expect(sig.sw).to.equal(0x9000);
    const der = firstValue(firstValue(sig.data, 0x7c), 0x82);
    expect(der[0]).to.equal(0x30);
    expect(verify("sha256", message, publicKey, der)).to.equal(true);
    expect(verify("sha256", Buffer.from("something else"), publicKey, der)).to.equal(false);
  });

  it("ok/PUT DATA and GET DATA of a 2000-byte object through command chaining and 61xx GET RESPONSE", () => {
    select(card);
    const content = Buffer.from(cryptoRandom.bytes(2000));
    const put = Buffer.concat([tlv(0x5c, Buffer.from("5fc105", "hex")), tlv(0x53, content)]);
    expect(transmit(card, 0xdb, 0x3f, 0xff, put).sw, "PUT DATA without management key").to.equal(0x6982);
    expect(mutualAuth(card)).to.equal(0x9000);
    expect(transmit(card, 0xdb, 0x3f, 0xff, put).sw).to.equal(0x9000);

    const got = transmit(card, 0xcb, 0x3f, 0xff, tlv(0x5c, Buffer.from("5fc105", "hex")));
    expect(got.sw).to.equal(0x9000);
    expect(got.rounds, "GET RESPONSE rounds").to.be.greaterThan(0);
    expect(got.data.subarray(0, 4).toString("hex")).to.equal("538207d0");
    expect(got.data.subarray(4).equals(content)).to.equal(true);
  });

  it("ok/GET SERIAL returns the configured serial; fail/GET DATA of an absent object is 6A82", () => {
    const other = new PivEmulator({ serial: 4242 });
    select(other);
    expect(send(other, apdu(0x00, 0xf8, 0, 0)).data.readUInt32BE(0)).to.equal(4242);
    select(card);
    expect(send(card, apdu(0x00, 0xf8, 0, 0)).data.readUInt32BE(0)).to.equal(0x00c0ffee);
    const chuid = (c: PivEmulator): string => c.state.objects["5fc102"]!;
    expect(chuid(card)).to.not.equal(chuid(other));
    expect(send(card, apdu(0x00, 0xcb, 0x3f, 0xff, tlv(0x5c, Buffer.from("5fc10a", "hex")), 0)).sw).to.equal(0x6a82);
  });
});

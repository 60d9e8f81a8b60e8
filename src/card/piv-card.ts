import { createCipheriv, createDecipheriv } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import type { Random } from "../shared/random.js";
import { concat, derTlv, unsignedIntegerContent } from "../asn1/der.js";
import { encodeOid } from "../asn1/der-reader.js";
import { OID } from "../asn1/oids.js";
import { findTlv, tlv } from "./ber-tlv.js";
import { Iso7816, extendedLengthFromAtr, type CardChannel } from "./iso7816.js";
import { expectOk, SW_OK, statusError } from "./status-words.js";

/** SP 800-73-4 part 1 2.2: the PIV card application AID. */
const PIV_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00]);

/** SP 800-78-4 table 6-2: cryptographic mechanism identifiers. */
export const PIV_ALG = {
  "3DES": 0x03,
  "AES-128": 0x08,
  "AES-192": 0x0a,
  "AES-256": 0x0c,
  "RSA-1024": 0x06,
  "RSA-2048": 0x07,
  "P-256": 0x11,
  "P-384": 0x14,
} as const;
export type ManagementKeyAlgorithm = "3DES" | "AES-128" | "AES-192" | "AES-256";
export type KeyAlgorithm = "P-256" | "P-384" | "RSA-2048";
export type Slot = "9a" | "9c" | "9d" | "9e";

export const MGM_KEY_BYTES: Record<ManagementKeyAlgorithm, number> = {
  "3DES": 24,
  "AES-128": 16,
  "AES-192": 24,
  "AES-256": 32,
};
const MGM_CIPHER: Record<ManagementKeyAlgorithm, string> = {
  "3DES": "des-ede3",
  "AES-128": "aes-128-ecb",
  "AES-192": "aes-192-ecb",
  "AES-256": "aes-256-ecb",
};

/** SP 800-73-4 part 1 table 3 / 4b: the data object of each key slot's certificate, CHUID, CCC. */
export const OBJECT = {
  chuid: 0x5fc102,
  ccc: 0x5fc107,
  cert9a: 0x5fc105,
  cert9c: 0x5fc10a,
  cert9d: 0x5fc10b,
  cert9e: 0x5fc101,
  attestation: 0x5fff01,
} as const;
const CERT_OBJECT: Record<Slot, number> = {
  "9a": OBJECT.cert9a,
  "9c": OBJECT.cert9c,
  "9d": OBJECT.cert9d,
  "9e": OBJECT.cert9e,
};
const slotByte = (s: Slot) => parseInt(s, 16);

/** SP 800-73-4 part 2 3.2.1: PIN (6-8 digits here), padded with FF to 8 bytes. */
function pinBlock(pin: string, what: string): Uint8Array {
  if (!/^[0-9]{6,8}$/.test(pin))
    throw new CaError("invalid-input", `${what} must be 6 to 8 digits`, undefined, { code: "card.pin-format" });
  const b = new Uint8Array(8).fill(0xff);
  b.set(Buffer.from(pin, "ascii"));
  return b;
}

function mgmCrypt(alg: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(MGM_CIPHER[alg], key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/**
 * The generated key's public key template (7F49, SP 800-73-4 part 2 3.3.2) as a DER SubjectPublicKeyInfo (RFC 5480 /
 * RFC 3279).
 */
export function spkiFromTemplate(alg: KeyAlgorithm, template: Uint8Array): Uint8Array {
  const inner = findTlv(template, 0x7f49);
  if (!inner) throw new CaError("invalid-input", "the card returned no public key template (7F49)");
  if (alg === "RSA-2048") {
    const n = findTlv(inner, 0x81),
      e = findTlv(inner, 0x82);
    if (!n || !e) throw new CaError("invalid-input", "RSA public key template without modulus or exponent");
    const rsaKey = derTlv(
      0x30,
      concat(derTlv(0x02, unsignedIntegerContent(n)), derTlv(0x02, unsignedIntegerContent(e))),
    );
    const algId = derTlv(0x30, concat(encodeOid(OID.rsaEncryption), Uint8Array.of(0x05, 0x00)));
    return derTlv(0x30, concat(algId, derTlv(0x03, concat(Uint8Array.of(0), rsaKey))));
  }
  const point = findTlv(inner, 0x86);
  const size = alg === "P-256" ? 65 : 97;
  if (!point || point.length !== size || point[0] !== 0x04)
    throw new CaError("invalid-input", `the card returned no uncompressed ${alg} point`);
  const algId = derTlv(
    0x30,
    concat(encodeOid(OID.ecPublicKey), encodeOid(alg === "P-256" ? OID.secp256r1 : OID.secp384r1)),
  );
  return derTlv(0x30, concat(algId, derTlv(0x03, concat(Uint8Array.of(0), point))));
}

/**
 * The PIV card application (NIST SP 800-73-4 part 2) over an ISO 7816 link, with the YubiKey
 * extensions every common PIV token has (serial, version, set management key, reset).
 */
export class PivCard {
  constructor(
    private readonly link: Iso7816,
    private readonly random: Random,
  ) {}

  /** The PIV application on a connected card, selected; extended length when the ATR offers it. */
  static async open(channel: CardChannel, random: Random): Promise<PivCard> {
    const piv = new PivCard(new Iso7816(channel, extendedLengthFromAtr(channel.atr)), random);
    await piv.select();
    return piv;
  }

  /** What tells this card apart: the serial number, else the CHUID GUID in hex ("" when it has neither). */
  async cardSerial(): Promise<string> {
    return (await this.serial()) ?? Buffer.from((await this.chuidGuid()) ?? new Uint8Array(0)).toString("hex");
  }

  get roundTrips(): number {
    return this.link.roundTrips;
  }

  /** SP 800-73-4 part 2 3.1.1 SELECT. */
  async select(): Promise<void> {
    expectOk(await this.link.send({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: PIV_AID }), "SELECT PIV");
  }

  /** YubiKey GET SERIAL (INS F8); undefined when the card has no such command. */
  async serial(): Promise<string | undefined> {
    const r = await this.link.send({ cla: 0x00, ins: 0xf8, p1: 0x00, p2: 0x00 });
    return r.sw === SW_OK && r.data.length === 4 ? String(Buffer.from(r.data).readUInt32BE(0)) : undefined;
  }

  /** YubiKey GET VERSION (INS FD). */
  async version(): Promise<string | undefined> {
    const r = await this.link.send({ cla: 0x00, ins: 0xfd, p1: 0x00, p2: 0x00 });
    return r.sw === SW_OK && r.data.length === 3 ? Array.from(r.data).join(".") : undefined;
  }

  /** SP 800-73-4 part 2 3.1.2 GET DATA: the content of the 53 template, or undefined when absent. */
  async getData(tag: number): Promise<Uint8Array | undefined> {
    const r = await this.link.send({
      cla: 0x00,
      ins: 0xcb,
      p1: 0x3f,
      p2: 0xff,
      data: tlv(0x5c, Uint8Array.of(tag >> 16, (tag >> 8) & 0xff, tag & 0xff)),
    });
    if (r.sw === 0x6a82) return undefined;
    const data = expectOk(r, `GET DATA ${tag.toString(16)}`);
    return findTlv(data, 0x53) ?? new Uint8Array(0);
  }

  /** SP 800-73-4 part 2 3.3.2 PUT DATA (needs the management key). */
  async putData(tag: number, content: Uint8Array): Promise<void> {
    const data = concat(tlv(0x5c, Uint8Array.of(tag >> 16, (tag >> 8) & 0xff, tag & 0xff)), tlv(0x53, content));
    expectOk(
      await this.link.send({ cla: 0x00, ins: 0xdb, p1: 0x3f, p2: 0xff, data, le: false }),
      `PUT DATA ${tag.toString(16)}`,
    );
  }

  /**
   * Tries left on the PIN without using one (VERIFY with no data, SP 800-73-4 part 2 3.2.1); undefined = already
   * verified.
   */
  async pinTriesLeft(): Promise<number | undefined> {
    const r = await this.link.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, le: false });
    if (r.sw === SW_OK) return undefined;
    if ((r.sw & 0xfff0) === 0x63c0) return r.sw & 0x0f;
    if (r.sw === 0x6983) return 0;
    throw statusError(r.sw, "PIN status");
  }

  /** VERIFY the PIN (REQ-13); a wrong PIN throws `unauthorized` with the tries left, a blocked one `forbidden`. */
  async verifyPin(pin: string): Promise<void> {
    expectOk(
      await this.link.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data: pinBlock(pin, "the PIN"), le: false }),
      "VERIFY PIN",
    );
  }

  /** SP 800-73-4 part 2 3.2.2 CHANGE REFERENCE DATA (PIN 80, PUK 81). */
  async changeReference(which: "pin" | "puk", oldValue: string, newValue: string): Promise<void> {
    const what = which === "pin" ? "the PIN" : "the PUK";
    const data = concat(
      pinBlock(oldValue, `the current ${which.toUpperCase()}`),
      pinBlock(newValue, `the new ${which.toUpperCase()}`),
    );
    expectOk(
      await this.link.send({ cla: 0x00, ins: 0x24, p1: 0x00, p2: which === "pin" ? 0x80 : 0x81, data, le: false }),
      `CHANGE ${what}`,
    );
  }

  /** SP 800-73-4 part 2 3.2.3 RESET RETRY COUNTER: unblock the PIN with the PUK and set a new PIN. */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    const data = concat(pinBlock(puk, "the PUK"), pinBlock(newPin, "the new PIN"));
    expectOk(
      await this.link.send({ cla: 0x00, ins: 0x2c, p1: 0x00, p2: 0x80, data, le: false }),
      "RESET RETRY COUNTER (unblock PIN)",
    );
  }

  /** SP 800-73-4 part 2 3.2.4 GENERAL AUTHENTICATE, mutual authentication with the management key (9B). */
  async authenticate(key: Uint8Array, alg: ManagementKeyAlgorithm): Promise<void> {
    if (key.length !== MGM_KEY_BYTES[alg])
      throw new CaError("invalid-input", `a ${alg} management key is ${MGM_KEY_BYTES[alg]} bytes`);
    const p1 = PIV_ALG[alg];
    const block = alg === "3DES" ? 8 : 16;
    const step1 = await this.link.send({
      cla: 0x00,
      ins: 0x87,
      p1,
      p2: 0x9b,
      data: tlv(0x7c, tlv(0x80, new Uint8Array(0))),
    });
    const encWitness = findTlv(
      findTlv(expectOk(step1, "management key authentication (witness)"), 0x7c) ?? new Uint8Array(0),
      0x80,
    );
    if (!encWitness || encWitness.length !== block)
      throw new CaError("invalid-input", "the card sent no witness for the management key");
    const witness = new Uint8Array(createDecipherBlock(alg, key, encWitness));
    const challenge = this.random.bytes(block);
    const step2 = await this.link.send({
      cla: 0x00,
      ins: 0x87,
      p1,
      p2: 0x9b,
      data: tlv(0x7c, concat(tlv(0x80, witness), tlv(0x81, challenge))),
    });
    if (step2.sw === 0x6982)
      throw new CaError("unauthorized", "the management key is wrong for this card", { sw: "6982" });
    const answer = findTlv(findTlv(expectOk(step2, "management key authentication"), 0x7c) ?? new Uint8Array(0), 0x82);
    // Mutual: the card must prove it knows the key too.
    if (!answer || !Buffer.from(answer).equals(Buffer.from(mgmCrypt(alg, key, challenge))))
      throw new CaError("unauthorized", "the card failed to prove the management key (not the card we expect)");
  }

  /** YubiKey SET MANAGEMENT KEY (INS FF): a new key after authenticating with the old one. */
  async setManagementKey(key: Uint8Array, alg: ManagementKeyAlgorithm): Promise<void> {
    if (key.length !== MGM_KEY_BYTES[alg])
      throw new CaError("invalid-input", `a ${alg} management key is ${MGM_KEY_BYTES[alg]} bytes`);
    expectOk(
      await this.link.send({
        cla: 0x00,
        ins: 0xff,
        p1: 0xff,
        p2: 0xff,
        data: concat(Uint8Array.of(PIV_ALG[alg], 0x9b, key.length), key),
        le: false,
      }),
      "SET MANAGEMENT KEY",
    );
  }

  /** SP 800-73-4 part 2 3.3.2 GENERATE ASYMMETRIC KEY PAIR: the key stays on the card (REQ-14); returns its SPKI. */
  async generateKey(slot: Slot, alg: KeyAlgorithm): Promise<Uint8Array> {
    const r = await this.link.send({
      cla: 0x00,
      ins: 0x47,
      p1: 0x00,
      p2: slotByte(slot),
      data: tlv(0xac, tlv(0x80, Uint8Array.of(PIV_ALG[alg]))),
    });
    return spkiFromTemplate(alg, expectOk(r, `GENERATE KEY in ${slot}`));
  }

  /**
   * SP 800-73-4 part 1 table 10: certificate object = 70 cert, 71 CertInfo (00: not compressed), FE error detection
   * (LRC, empty).
   */
  async putCertificate(slot: Slot, der: Uint8Array): Promise<void> {
    await this.putData(
      CERT_OBJECT[slot],
      concat(tlv(0x70, der), tlv(0x71, Uint8Array.of(0x00)), tlv(0xfe, new Uint8Array(0))),
    );
  }

  async readCertificate(slot: Slot): Promise<Uint8Array | undefined> {
    return this.readCertificateObject(CERT_OBJECT[slot], slot);
  }

  private async readCertificateObject(tag: number, what: string): Promise<Uint8Array | undefined> {
    const obj = await this.getData(tag);
    if (!obj || obj.length === 0) return undefined;
    const info = findTlv(obj, 0x71);
    if (info && info[0] !== 0x00)
      throw new CaError(
        "invalid-input",
        `the certificate in ${what} is compressed (CertInfo ${info[0]}); not supported`,
      );
    return findTlv(obj, 0x70);
  }

  /**
   * YubiKey ATTEST (INS F9, P1 = slot; yubico-piv-tool ykpiv_attest): the X.509 certificate in which
   * the card's attestation key (f9) vouches that the key in `slot` was generated on this card (REQ-14).
   * Undefined when the card has no attestation (instruction or function not supported).
   */
  async attest(slot: Slot): Promise<Uint8Array | undefined> {
    const r = await this.link.send({ cla: 0x00, ins: 0xf9, p1: slotByte(slot), p2: 0x00 });
    if (r.sw === 0x6d00 || r.sw === 0x6a81) return undefined;
    if (r.sw === 0x6a80)
      throw new CaError("policy-violation", `the card does not attest the key in ${slot} (not generated on the card)`, {
        sw: "6a80",
      });
    const der = expectOk(r, `ATTEST ${slot}`);
    if (der[0] !== 0x30)
      throw new CaError("invalid-input", `the card's attestation for ${slot} is not a DER certificate`);
    return der;
  }

  /** The card's own attestation certificate (slot f9, YubiKey object 5FFF01), which chains to the card maker's root. */
  async attestationCertificate(): Promise<Uint8Array | undefined> {
    return this.readCertificateObject(OBJECT.attestation, "f9");
  }

  /** Removes a certificate object (PUT DATA with an empty 53). */
  async deleteObject(tag: number): Promise<void> {
    await this.putData(tag, new Uint8Array(0));
  }

  /**
   * SP 800-73-4 part 1 3.1.2: CHUID with FASC-N (no-agency test value), GUID, expiry date (YYYYMMDD)
   * and an empty issuer signature / error detection code.
   */
  async putChuid(guid: Uint8Array, expires: Date): Promise<void> {
    if (guid.length !== 16) throw new CaError("invalid-input", "the CHUID GUID is 16 bytes");
    // all-zero agency/system/credential (SP 800-73-4 part 1 3.1.2 note)
    const fascn = Buffer.from("d4e739da739ced39ce739d836858210842108421c84210c3eb", "hex");
    const ymd = expires.toISOString().slice(0, 10).replace(/-/g, "");
    await this.putData(
      OBJECT.chuid,
      concat(
        tlv(0x30, fascn),
        tlv(0x34, guid),
        tlv(0x35, Buffer.from(ymd, "ascii")),
        tlv(0x3e, new Uint8Array(0)),
        tlv(0xfe, new Uint8Array(0)),
      ),
    );
  }

  async chuidGuid(): Promise<Uint8Array | undefined> {
    const c = await this.getData(OBJECT.chuid);
    return c ? findTlv(c, 0x34) : undefined;
  }

  /** SP 800-73-4 part 1 3.1.1: Card Capability Container with a fresh card identifier. */
  async putCcc(cardId: Uint8Array): Promise<void> {
    if (cardId.length !== 14)
      throw new CaError("invalid-input", "the CCC card identifier is 14 bytes after the GSC-RID prefix");
    const e = new Uint8Array(0);
    await this.putData(
      OBJECT.ccc,
      concat(
        tlv(0xf0, concat(Uint8Array.of(0xa0, 0x00, 0x00, 0x01, 0x16, 0xff, 0x02), cardId)),
        tlv(0xf1, Uint8Array.of(0x21)),
        tlv(0xf2, Uint8Array.of(0x21)),
        tlv(0xf3, e),
        tlv(0xf4, Uint8Array.of(0x00)),
        tlv(0xf5, Uint8Array.of(0x10)),
        tlv(0xf6, e),
        tlv(0xf7, e),
        tlv(0xfa, e),
        tlv(0xfb, e),
        tlv(0xfc, e),
        tlv(0xfd, e),
        tlv(0xfe, e),
      ),
    );
  }

  /**
   * GENERAL AUTHENTICATE with a slot key over a digest (EC) or a padded block (RSA); needs the PIN for 9A/9C/9D
   * (REQ-13).
   */
  async sign(slot: Slot, alg: KeyAlgorithm, input: Uint8Array): Promise<Uint8Array> {
    const r = await this.link.send({
      cla: 0x00,
      ins: 0x87,
      p1: PIV_ALG[alg],
      p2: slotByte(slot),
      data: tlv(0x7c, concat(tlv(0x82, new Uint8Array(0)), tlv(0x81, input))),
    });
    const sig = findTlv(findTlv(expectOk(r, `sign with ${slot}`), 0x7c) ?? new Uint8Array(0), 0x82);
    if (!sig) throw new CaError("invalid-input", "the card returned no signature");
    return sig;
  }

  /** YubiKey RESET (INS FB): back to factory state; the card allows it only with PIN and PUK blocked. */
  async reset(): Promise<void> {
    expectOk(
      await this.link.send({ cla: 0x00, ins: 0xfb, p1: 0x00, p2: 0x00, le: false }),
      "RESET the PIV application",
    );
  }

  /** Uses up the PIN and PUK tries with values that are certainly wrong (zeroisation before a reset). */
  async blockPinAndPuk(): Promise<void> {
    for (const which of ["pin", "puk"] as const)
      for (let i = 0; i < 16; i++) {
        const r =
          which === "pin"
            ? await this.link.send({
                cla: 0x00,
                ins: 0x20,
                p1: 0x00,
                p2: 0x80,
                data: pinBlock("00000000", "x"),
                le: false,
              })
            : await this.link.send({
                cla: 0x00,
                ins: 0x2c,
                p1: 0x00,
                p2: 0x80,
                data: concat(pinBlock("00000000", "x"), pinBlock("00000000", "x")),
                le: false,
              });
        if (r.sw === 0x6983) break;
        if (r.sw === SW_OK)
          throw new CaError(
            "conflict",
            `the ${which.toUpperCase()} was 00000000; refusing to continue the zeroisation`,
          );
      }
  }
}

/** ECB decryption of one block (the witness), no padding. */
function createDecipherBlock(alg: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array): Buffer {
  const d = createDecipheriv(MGM_CIPHER[alg], key, null);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(block), d.final()]);
}

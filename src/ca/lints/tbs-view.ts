import { childrenOf, content, decodeOid, decodeTime, readTlv, whole, type Tlv } from "../../asn1/der-reader.js";
import { CaError } from "../../shared/ca-error.js";

export interface AttributeView {
  readonly oid: string;
  /** Universal tag of the string (0x0c UTF8String, 0x13 PrintableString, ...). */
  readonly tag: number;
  readonly value: string;
}

export interface ExtensionView {
  readonly oid: string;
  readonly critical: boolean;
  /** Content of extnValue (the DER of the extension's own value). */
  readonly value: Uint8Array;
}

export interface TimeView {
  readonly tag: number;
  readonly date: Date;
}

/**
 * A TBSCertificate read straight from its DER by cardpki's own reader (RFC 5280 4.1),
 * independent of the encoder that built it: what the lints look at.
 */
export interface TbsView {
  readonly version: number;
  readonly serial: Uint8Array;
  readonly signatureDer: Uint8Array;
  readonly signatureOid: string;
  readonly signatureHasParameters: boolean;
  readonly issuerDer: Uint8Array;
  readonly notBefore: TimeView;
  readonly notAfter: TimeView;
  readonly subjectDer: Uint8Array;
  readonly subject: readonly (readonly AttributeView[])[];
  readonly spkiDer: Uint8Array;
  readonly extensions: readonly ExtensionView[];
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x16, 0x14, 0x1e, 0x1c]);

function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw new CaError("invalid-input", `TBS: ${what} has tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return t;
}

export function readName(buf: Uint8Array, t: Tlv): AttributeView[][] {
  expectTag(t, 0x30, "Name");
  return childrenOf(buf, t).map((rdn) =>
    childrenOf(buf, expectTag(rdn, 0x31, "RelativeDistinguishedName")).map((atv) => {
      const [type, value] = childrenOf(buf, expectTag(atv, 0x30, "AttributeTypeAndValue"));
      if (!type || !value) throw new CaError("invalid-input", "TBS: short AttributeTypeAndValue");
      if (!STRING_TAGS.has(value.tag)) throw new CaError("invalid-input", `TBS: attribute value tag 0x${value.tag.toString(16)} is not a string`);
      const bytes = content(buf, value);
      const str = value.tag === 0x1e ? Buffer.from(bytes).swap16().toString("utf16le") : Buffer.from(bytes).toString(value.tag === 0x0c ? "utf8" : "latin1");
      return { oid: decodeOid(content(buf, expectTag(type, 0x06, "attribute type"))), tag: value.tag, value: str };
    }));
}

export function readTbsView(der: Uint8Array): TbsView {
  const top = expectTag(readTlv(der, 0), 0x30, "TBSCertificate");
  if (top.end !== der.length) throw new CaError("invalid-input", "TBS: trailing bytes");
  const f = childrenOf(der, top);
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    const v = childrenOf(der, f[0])[0]!;
    version = content(der, expectTag(v, 0x02, "version"))[0]! + 1;
    i = 1;
  }
  const serial = content(der, expectTag(f[i++]!, 0x02, "serialNumber"));
  const sig = expectTag(f[i++]!, 0x30, "signature");
  const sigParts = childrenOf(der, sig);
  const issuer = expectTag(f[i++]!, 0x30, "issuer");
  const validity = childrenOf(der, expectTag(f[i++]!, 0x30, "validity"));
  const subject = expectTag(f[i++]!, 0x30, "subject");
  const spki = expectTag(f[i++]!, 0x30, "subjectPublicKeyInfo");
  const extensions: ExtensionView[] = [];
  for (; i < f.length; i++) {
    const t = f[i]!;
    if (t.tag !== 0xa3) throw new CaError("invalid-input", `TBS: unexpected field tag 0x${t.tag.toString(16)} (unique identifiers are not used)`);
    const seq = childrenOf(der, t)[0]!;
    for (const e of childrenOf(der, expectTag(seq, 0x30, "Extensions"))) {
      const parts = childrenOf(der, expectTag(e, 0x30, "Extension"));
      const oid = decodeOid(content(der, expectTag(parts[0]!, 0x06, "extnID")));
      let critical = false;
      let valueTlv = parts[1]!;
      if (valueTlv.tag === 0x01) {
        critical = content(der, valueTlv)[0] !== 0;
        valueTlv = parts[2]!;
      }
      extensions.push({ oid, critical, value: content(der, expectTag(valueTlv, 0x04, "extnValue")) });
    }
  }
  return {
    version,
    serial,
    signatureDer: whole(der, sig),
    signatureOid: decodeOid(content(der, expectTag(sigParts[0]!, 0x06, "signature algorithm"))),
    signatureHasParameters: sigParts.length > 1,
    issuerDer: whole(der, issuer),
    notBefore: { tag: validity[0]!.tag, date: decodeTime(der, validity[0]!) },
    notAfter: { tag: validity[1]!.tag, date: decodeTime(der, validity[1]!) },
    subjectDer: whole(der, subject),
    subject: readName(der, subject),
    spkiDer: whole(der, spki),
    extensions,
  };
}

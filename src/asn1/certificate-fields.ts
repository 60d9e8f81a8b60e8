import { childrenOf, content, decodeOid, decodeTime, readTlv, whole, type Tlv } from "./der-reader.js";

/** The fields of an X.509 certificate that signature and attribute checks read (RFC 5280 4.1). */
export interface CertificateFields {
  /** The signed part (whole TLV), its signature algorithm OID and the signature (BIT STRING content, no pad octet). */
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  /** RFC 5280 4.1.2.4, 4.1.2.6: the issuer and subject Names as encoded (whole TLVs). */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  /** The subject's commonName (UTF8String, PrintableString or IA5String), if it has exactly one. */
  readonly commonName?: string;
  /** The subject as text, attributes in encoded order ("C=SE, O=..., CN=..."), for messages and evidence. */
  readonly subjectText: string;
  readonly issuerText: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** RFC 5280 4.1: OID → extnValue octets. */
  readonly extensions: ReadonlyMap<string, Uint8Array>;
}

const COMMON_NAME = "2.5.4.3";
const STRING_TAGS = new Set([0x0c, 0x13, 0x16]); // UTF8String, PrintableString, IA5String

/** RFC 4514 short names of the attributes card-maker and CA names use; others print as their OID. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.97": "organizationIdentifier",
};

/** RFC 4514 2.4: special characters escaped, as OpenSSL prints them. */
const escapeValue = (v: string) =>
  v
    .replace(/[\\,+"<>;]/g, (c) => `\\${c}`)
    .replace(/^[#\s]/, (c) => `\\${c}`)
    .replace(/\s$/, (c) => `\\${c}`);

function nameText(der: Uint8Array, name: Tlv): string {
  const parts: string[] = [];
  for (const rdn of childrenOf(der, name))
    for (const atv of childrenOf(der, rdn)) {
      const [type, value] = childrenOf(der, atv);
      if (type?.tag !== 0x06 || !value) continue;
      const oid = decodeOid(content(der, type));
      const text = STRING_TAGS.has(value.tag)
        ? Buffer.from(content(der, value)).toString(value.tag === 0x0c ? "utf8" : "latin1")
        : `#${Buffer.from(whole(der, value)).toString("hex")}`;
      parts.push(`${SHORT_NAMES[oid] ?? oid}=${escapeValue(text)}`);
    }
  return parts.join(", ");
}

function commonNameOf(der: Uint8Array, name: Tlv): string | undefined {
  const found: string[] = [];
  for (const rdn of childrenOf(der, name))
    for (const atv of childrenOf(der, rdn)) {
      const [type, value] = childrenOf(der, atv);
      if (type?.tag === 0x06 && decodeOid(content(der, type)) === COMMON_NAME && value && STRING_TAGS.has(value.tag))
        found.push(Buffer.from(content(der, value)).toString(value.tag === 0x0c ? "utf8" : "latin1"));
    }
  return found.length === 1 ? found[0] : undefined;
}

/**
 * RFC 5280 4.1: a certificate's fields, read by walking its DER. What they say counts only once the
 * signature over `tbs` is verified (or the certificate is this CA's own). A DER walk, not the
 * @peculiar library or OpenSSL's X509 parse, because those were 7 % and 8 % of the RA benchmark's
 * CPU (attestations, activation keys); test/unit/piv-attestation.test.ts compares the walk with
 * both on every fixture. Throws Error with what did not parse.
 */
export function certificateFields(der: Uint8Array): CertificateFields {
  {
    const cert = readTlv(der, 0);
    if (cert.tag !== 0x30 || cert.end !== der.length) throw new Error("not one SEQUENCE");
    const [tbs, alg, sig, ...extra] = childrenOf(der, cert);
    if (!tbs || tbs.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03 || extra.length)
      throw new Error("not a Certificate");
    const fields = childrenOf(der, tbs);
    const at = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
    const [, innerAlg, issuer, validity, subject, spki] = fields.slice(at);
    if (!innerAlg || !issuer || !validity || !subject || !spki || spki.tag !== 0x30 || issuer.tag !== 0x30)
      throw new Error("no subjectPublicKeyInfo");
    // RFC 5280 4.1.1.2: the signature field inside the TBS equals the outer signatureAlgorithm.
    if (Buffer.compare(whole(der, innerAlg), whole(der, alg)) !== 0) throw new Error("signature algorithms differ");
    const [algOid] = childrenOf(der, alg);
    const [notBefore, notAfter] = childrenOf(der, validity);
    if (algOid?.tag !== 0x06 || !notBefore || !notAfter) throw new Error("no algorithm or validity");
    const bits = content(der, sig);
    if (bits.length < 2 || bits[0] !== 0) throw new Error("signature is not whole octets");
    const extensions = new Map<string, Uint8Array>();
    const wrapper = fields.slice(at + 6).find((f) => f.tag === 0xa3); // [3] EXPLICIT Extensions
    if (wrapper) {
      const [list] = childrenOf(der, wrapper);
      for (const e of list ? childrenOf(der, list) : []) {
        const parts = childrenOf(der, e);
        const oid = parts[0],
          value = parts[parts.length - 1];
        if (e.tag !== 0x30 || oid?.tag !== 0x06 || value?.tag !== 0x04) throw new Error("malformed extension");
        extensions.set(decodeOid(content(der, oid)), content(der, value).slice());
      }
    }
    const cn = commonNameOf(der, subject);
    return {
      tbs: whole(der, tbs).slice(),
      signatureAlgorithm: decodeOid(content(der, algOid)),
      signature: bits.slice(1),
      issuer: whole(der, issuer).slice(),
      subject: whole(der, subject).slice(),
      ...(cn !== undefined ? { commonName: cn } : {}),
      subjectText: nameText(der, subject),
      issuerText: nameText(der, issuer),
      notBefore: decodeTime(der, notBefore),
      notAfter: decodeTime(der, notAfter),
      spki: whole(der, spki).slice(),
      extensions,
    };
  }
}

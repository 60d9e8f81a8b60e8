import { childrenOf, content, decodeOid, readTlv, type Tlv } from "../../asn1/der-reader.js";
import { toHex } from "../../asn1/der.js";

export const OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2";
const HASH_LEN: Record<string, number> = { "1.3.14.3.2.26": 20, "2.16.840.1.101.3.4.2.1": 32, "2.16.840.1.101.3.4.2.2": 48, "2.16.840.1.101.3.4.2.3": 64 };

export interface CertIdRequest {
  readonly hashOid: string;
  readonly issuerNameHash: string; // hex
  readonly issuerKeyHash: string; // hex
  readonly serial: string; // hex, minimal
}

export interface ParsedOcspRequest {
  readonly requests: readonly CertIdRequest[];
  /** RFC 8954 nonce: present and 1..32 octets; longer nonces are not echoed (RFC 8954 2.1). */
  readonly nonce: Uint8Array | undefined;
  readonly signed: boolean;
}

/** Anything that is not a well-formed OCSPRequest (answered with malformedRequest, RFC 6960 2.3). */
export class MalformedOcspRequest extends Error {}

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new MalformedOcspRequest(what);
}

/** OCSPRequest (RFC 6960 4.1.1), read with the strict DER reader; at most maxRequests CertIDs. */
export function parseOcspRequest(der: Uint8Array, maxRequests: number): ParsedOcspRequest {
  try {
    const top = readTlv(der, 0);
    need(top.tag === 0x30 && top.end === der.length, "OCSPRequest is not one SEQUENCE");
    const [tbs, sig, extra] = childrenOf(der, top);
    need(tbs && tbs.tag === 0x30 && !extra, "bad OCSPRequest");
    need(!sig || sig.tag === 0xa0, "bad optionalSignature");
    const fields = childrenOf(der, tbs);
    let i = 0;
    if (fields[i]?.tag === 0xa0) {
      const v = childrenOf(der, fields[i]!)[0];
      need(v && v.tag === 0x02 && content(der, v).length === 1 && content(der, v)[0] === 0, "unsupported OCSP version");
      i++;
    }
    if (fields[i]?.tag === 0xa1) i++; // requestorName
    const list = fields[i++];
    need(list && list.tag === 0x30, "requestList missing");
    const items = childrenOf(der, list);
    need(items.length >= 1, "empty requestList");
    need(items.length <= maxRequests, `more than ${maxRequests} requests`);
    const requests = items.map((r) => certId(der, r));
    let nonce: Uint8Array | undefined;
    const extsWrap = fields[i];
    if (extsWrap) {
      need(extsWrap.tag === 0xa2 && i === fields.length - 1, "bad requestExtensions");
      const exts = childrenOf(der, extsWrap)[0];
      need(exts && exts.tag === 0x30, "bad requestExtensions");
      const seen = new Set<string>();
      for (const e of childrenOf(der, exts)) {
        const parts = childrenOf(der, e);
        need(parts[0]?.tag === 0x06, "bad extension");
        const oid = decodeOid(content(der, parts[0]!));
        need(!seen.has(oid), "repeated extension");
        seen.add(oid);
        const value = parts[parts.length - 1]!;
        need(value.tag === 0x04, "bad extnValue");
        if (parts.length === 3) need(parts[1]!.tag === 0x01, "bad critical flag");
        if (oid === OCSP_NONCE) {
          // RFC 8954 2.1: extnValue holds an OCTET STRING with the nonce.
          const inner = content(der, value);
          const n = readTlv(inner, 0);
          need(n.tag === 0x04 && n.end === inner.length, "nonce is not an OCTET STRING");
          const bytes = content(inner, n);
          need(bytes.length >= 1, "empty nonce");
          if (bytes.length <= 32) nonce = Uint8Array.from(bytes);
        } else if (parts.length === 3 && content(der, parts[1]!)[0] !== 0) {
          need(false, `unsupported critical extension ${oid}`);
        }
      }
    } else need(i === fields.length, "trailing TBSRequest fields");
    return { requests, nonce, signed: sig !== undefined };
  } catch (e) {
    if (e instanceof MalformedOcspRequest) throw e;
    throw new MalformedOcspRequest((e as Error).message);
  }
}

function certId(der: Uint8Array, req: Tlv): CertIdRequest {
  need(req.tag === 0x30, "Request is not a SEQUENCE");
  const [cid, single] = childrenOf(der, req);
  need(cid && cid.tag === 0x30 && (!single || single.tag === 0xa0), "bad Request");
  const [alg, nameHash, keyHash, serial, extra] = childrenOf(der, cid);
  need(alg?.tag === 0x30 && nameHash?.tag === 0x04 && keyHash?.tag === 0x04 && serial?.tag === 0x02 && !extra, "bad CertID");
  const algParts = childrenOf(der, alg);
  need(algParts[0]?.tag === 0x06, "bad hashAlgorithm");
  const hashOid = decodeOid(content(der, algParts[0]!));
  const len = HASH_LEN[hashOid];
  need(len !== undefined, `unsupported CertID hash ${hashOid}`);
  need(content(der, nameHash).length === len && content(der, keyHash).length === len, "CertID hash length");
  const s = content(der, serial);
  need(s.length >= 1 && s.length <= 20 && (s[0]! & 0x80) === 0 && !(s.length > 1 && s[0] === 0 && (s[1]! & 0x80) === 0), "bad serialNumber");
  return { hashOid, issuerNameHash: toHex(content(der, nameHash)), issuerKeyHash: toHex(content(der, keyHash)), serial: toHex(s).replace(/^(00)+(?=.)/, "") || "00" };
}

import { AsnProp, AsnPropTypes, OctetString } from "@peculiar/asn1-schema";
import { Extension, GeneralName } from "@peculiar/asn1-x509";
import { CertID, Signature } from "@peculiar/asn1-ocsp";
import { parseDer } from "../../asn1/parse.js";
import { toHex } from "../../asn1/der.js";
import { CaError } from "../../shared/ca-error.js";

export const OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2";
const HASH_LEN: Record<string, number> = {
  "1.3.14.3.2.26": 20,
  "2.16.840.1.101.3.4.2.1": 32,
  "2.16.840.1.101.3.4.2.2": 48,
  "2.16.840.1.101.3.4.2.3": 64,
};

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
export class MalformedOcspRequest extends CaError {
  constructor(message: string) {
    super("invalid-input", `OCSP request: ${message}`);
  }
}

// RFC 6960 4.1.1 on the @peculiar/asn1-ocsp classes. Request is declared here because the
// package's Request lacks the [0] EXPLICIT tag of singleRequestExtensions.
export class OcspSingleRequest {
  @AsnProp({ type: CertID }) reqCert = new CertID();
  @AsnProp({ type: Extension, context: 0, repeated: "sequence", optional: true }) singleRequestExtensions?: Extension[];
}

export class OcspTbsRequest {
  @AsnProp({ type: AsnPropTypes.Integer, context: 0, defaultValue: 0 }) version = 0;
  @AsnProp({ type: GeneralName, context: 1, optional: true }) requestorName?: GeneralName;
  @AsnProp({ type: OcspSingleRequest, repeated: "sequence" }) requestList: OcspSingleRequest[] = [];
  @AsnProp({ type: Extension, context: 2, optional: true, repeated: "sequence" }) requestExtensions?: Extension[];
}

export class OcspRequestMessage {
  @AsnProp({ type: OcspTbsRequest }) tbsRequest = new OcspTbsRequest();
  @AsnProp({ type: Signature, optional: true, context: 0 }) optionalSignature?: Signature;
}

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new MalformedOcspRequest(what);
}

/** OCSPRequest (RFC 6960 4.1.1) read with the library schema; at most maxRequests CertIDs. */
export function parseOcspRequest(der: Uint8Array, maxRequests: number): ParsedOcspRequest {
  let msg: OcspRequestMessage;
  try {
    msg = parseDer(der, OcspRequestMessage, "OCSPRequest");
  } catch (e) {
    throw new MalformedOcspRequest((e as Error).message);
  }
  const tbs = msg.tbsRequest;
  need(tbs.version === 0, "unsupported OCSP version");
  need(tbs.requestList.length >= 1, "empty requestList");
  need(tbs.requestList.length <= maxRequests, `more than ${maxRequests} requests`);
  const requests = tbs.requestList.map((r) => certId(r.reqCert));
  let nonce: Uint8Array | undefined;
  const seen = new Set<string>();
  for (const e of tbs.requestExtensions ?? []) {
    need(!seen.has(e.extnID), "repeated extension");
    seen.add(e.extnID);
    if (e.extnID === OCSP_NONCE) {
      // RFC 8954 2.1: extnValue holds an OCTET STRING with the nonce.
      let inner: OctetString;
      try {
        inner = parseDer(new Uint8Array(e.extnValue.buffer), OctetString, "nonce");
      } catch {
        need(false, "nonce is not an OCTET STRING");
      }
      need(inner.byteLength >= 1, "empty nonce");
      if (inner.byteLength <= 32) nonce = new Uint8Array(inner.buffer).slice();
    } else need(!e.critical, `unsupported critical extension ${e.extnID}`);
  }
  return { requests, nonce, signed: msg.optionalSignature !== undefined };
}

function certId(c: CertID): CertIdRequest {
  const hashOid = c.hashAlgorithm.algorithm;
  const len = HASH_LEN[hashOid];
  need(len !== undefined, `unsupported CertID hash ${hashOid}`);
  need(c.issuerNameHash.byteLength === len && c.issuerKeyHash.byteLength === len, "CertID hash length");
  const s = new Uint8Array(c.serialNumber);
  // RFC 5280 4.1.2.2: a positive INTEGER of at most 20 octets, minimally encoded (X.690 8.3.2).
  need(
    s.length >= 1 && s.length <= 20 && (s[0]! & 0x80) === 0 && !(s.length > 1 && s[0] === 0 && (s[1]! & 0x80) === 0),
    "bad serialNumber",
  );
  return {
    hashOid,
    issuerNameHash: toHex(new Uint8Array(c.issuerNameHash.buffer)),
    issuerKeyHash: toHex(new Uint8Array(c.issuerKeyHash.buffer)),
    serial: toHex(s).replace(/^(00)+(?=.)/, "") || "00",
  };
}

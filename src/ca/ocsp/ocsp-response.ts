import { concat, derTlv, fromHex, unsignedIntegerContent } from "../../asn1/der.js";
import { encodeGeneralizedTime, encodeOid } from "../../asn1/der-reader.js";
import { CRL_REASONS } from "../crl-builder.js";
import type { CertIdRequest } from "./ocsp-request.js";
import { OCSP_NONCE } from "./ocsp-request.js";

/** OCSPResponseStatus (RFC 6960 4.2.1). */
export const OCSP_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

export type CertStatus =
  | { readonly kind: "good" }
  | { readonly kind: "revoked"; readonly revokedAt: Date; readonly reason: string | undefined }
  | { readonly kind: "unknown" };

const ID_PKIX_OCSP_BASIC = encodeOid("1.3.6.1.5.5.7.48.1.1");
const HASH_ALG_DER: Record<string, Uint8Array> = {};

const generalizedTime = encodeGeneralizedTime;

/** CertID with the hash algorithm as OpenSSL writes it (parameters NULL). */
export function certIdDer(c: CertIdRequest): Uint8Array {
  let alg = HASH_ALG_DER[c.hashOid];
  if (!alg) HASH_ALG_DER[c.hashOid] = alg = derTlv(0x30, concat(encodeOid(c.hashOid), Uint8Array.of(0x05, 0x00)));
  return derTlv(
    0x30,
    concat(
      alg,
      derTlv(0x04, fromHex(c.issuerNameHash)),
      derTlv(0x04, fromHex(c.issuerKeyHash)),
      derTlv(0x02, unsignedIntegerContent(fromHex(c.serial))),
    ),
  );
}

/** SingleResponse (RFC 6960 4.2.1): certID, certStatus, thisUpdate, [0] nextUpdate. */
export function singleResponse(certId: Uint8Array, status: CertStatus, thisUpdate: Date, nextUpdate: Date): Uint8Array {
  let st: Uint8Array;
  if (status.kind === "good") st = Uint8Array.of(0x80, 0x00);
  else if (status.kind === "unknown") st = Uint8Array.of(0x82, 0x00);
  else {
    const reason = status.reason === undefined ? undefined : CRL_REASONS[status.reason];
    // RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
    st = derTlv(
      0xa1,
      concat(
        generalizedTime(status.revokedAt),
        reason !== undefined && reason !== 0 ? derTlv(0xa0, Uint8Array.of(0x0a, 0x01, reason)) : new Uint8Array(0),
      ),
    );
  }
  return derTlv(0x30, concat(certId, st, generalizedTime(thisUpdate), derTlv(0xa0, generalizedTime(nextUpdate))));
}

/** ResponseData with responderID byKey (RFC 6960 4.2.2.3) and the nonce echoed (RFC 8954). */
export function responseData(
  responderKeyHash: Uint8Array,
  producedAt: Date,
  singles: readonly Uint8Array[],
  nonce?: Uint8Array,
): Uint8Array {
  const exts = nonce
    ? derTlv(0xa1, derTlv(0x30, derTlv(0x30, concat(encodeOid(OCSP_NONCE), derTlv(0x04, derTlv(0x04, nonce))))))
    : new Uint8Array(0);
  return derTlv(
    0x30,
    concat(
      derTlv(0xa2, derTlv(0x04, responderKeyHash)),
      generalizedTime(producedAt),
      derTlv(0x30, concat(...singles)),
      exts,
    ),
  );
}

/** OCSPResponse { successful, ResponseBytes { id-pkix-ocsp-basic, BasicOCSPResponse } }. */
export function successfulResponse(
  tbsResponseData: Uint8Array,
  algorithmDer: Uint8Array,
  signature: Uint8Array,
  responderCertDer: Uint8Array,
): Uint8Array {
  const basic = derTlv(
    0x30,
    concat(
      tbsResponseData,
      algorithmDer,
      derTlv(0x03, concat(Uint8Array.of(0), signature)),
      derTlv(0xa0, derTlv(0x30, responderCertDer)),
    ),
  );
  return derTlv(
    0x30,
    concat(
      Uint8Array.of(0x0a, 0x01, 0x00),
      derTlv(0xa0, derTlv(0x30, concat(ID_PKIX_OCSP_BASIC, derTlv(0x04, basic)))),
    ),
  );
}

/** An OCSPResponse without responseBytes (malformedRequest, unauthorized, tryLater, ...). */
export function errorResponse(status: number): Uint8Array {
  return Uint8Array.of(0x30, 0x03, 0x0a, 0x01, status);
}

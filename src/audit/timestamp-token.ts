import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { createHash, webcrypto } from "node:crypto";

/** RFC 3161 time-stamp tokens for audit checkpoints (REQ-27): request, response, verification. */

const SHA256 = "2.16.840.1.101.3.4.2.1";
const ID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const ID_CT_TSTINFO = "1.2.840.113549.1.9.16.1.4";
const EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8";

let engineSet = false;
function engine(): void {
  if (engineSet) return;
  pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as never }));
  engineSet = true;
}

const ab = (u: Uint8Array): ArrayBuffer => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
const hex = (b: ArrayBuffer | Uint8Array) =>
  Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString("hex");

/** The imprint of what is timestamped: SHA-256 of the bytes. */
export function imprintOf(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** A DER TimeStampReq (RFC 3161 2.4.1) for SHA-256 `imprint`, asking for the TSA's certificate, with a nonce. */
export function timeStampRequest(imprint: Uint8Array, nonce: Uint8Array): Uint8Array {
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA256 }),
      hashedMessage: new asn1js.OctetString({ valueHex: ab(imprint) }),
    }),
    // Leading 0x01: positive, no lost leading zero.
    nonce: new asn1js.Integer({ valueHex: ab(Uint8Array.of(0x01, ...nonce)) }),
    certReq: true,
  });
  return new Uint8Array(req.toSchema().toBER(false));
}

/** What a token states (RFC 3161 2.4.2 TSTInfo). */
export interface TokenInfo {
  readonly genTime: Date;
  readonly imprint: string;
  readonly serial: string;
  readonly policy: string;
  readonly nonce?: string;
}

function tstInfoOf(token: pkijs.ContentInfo): { signed: pkijs.SignedData; info: pkijs.TSTInfo } {
  if (token.contentType !== ID_SIGNED_DATA) throw new Error("the token is not CMS SignedData");
  const signed = new pkijs.SignedData({ schema: token.content });
  if (signed.encapContentInfo.eContentType !== ID_CT_TSTINFO || !signed.encapContentInfo.eContent)
    throw new Error("the token does not carry a TSTInfo");
  const parsed = asn1js.fromBER(signed.encapContentInfo.eContent.getValue());
  if (parsed.offset === -1) throw new Error("the TSTInfo is not DER");
  return { signed, info: new pkijs.TSTInfo({ schema: parsed.result }) };
}

const describeInfo = (info: pkijs.TSTInfo): TokenInfo => ({
  genTime: info.genTime,
  imprint: hex(info.messageImprint.hashedMessage.getValue()),
  serial: hex(info.serialNumber.valueBlock.valueHexView),
  policy: info.policy,
  ...(info.nonce ? { nonce: hex(info.nonce.valueBlock.valueHexView) } : {}),
});

/**
 * Reads a DER TimeStampResp: status granted (0) or grantedWithMods (1), a token for `imprint`
 * with our nonce. Returns the token (DER ContentInfo) and what it states; throws otherwise.
 */
export function readTimeStampResponse(
  der: Uint8Array,
  imprint: Uint8Array,
  nonce: Uint8Array,
): { token: Uint8Array; info: TokenInfo } {
  const parsed = asn1js.fromBER(ab(der));
  if (parsed.offset === -1) throw new Error("the TSA's answer is not DER");
  const resp = new pkijs.TimeStampResp({ schema: parsed.result });
  const status = resp.status.status;
  if (status !== 0 && status !== 1)
    throw new Error(
      `the TSA refused (PKIStatus ${status}` +
        (resp.status.statusStrings?.length
          ? `: ${resp.status.statusStrings.map((s) => s.valueBlock.value).join("; ")}`
          : "") +
        ")",
    );
  if (!resp.timeStampToken) throw new Error("the TSA's answer has no token");
  const { info } = tstInfoOf(resp.timeStampToken);
  const stated = describeInfo(info);
  if (stated.imprint !== hex(imprint)) throw new Error("the token is for another imprint");
  if (stated.nonce !== hex(Uint8Array.of(0x01, ...nonce))) throw new Error("the token does not echo our nonce");
  return { token: new Uint8Array(resp.timeStampToken.toSchema().toBER(false)), info: stated };
}

/** Parses a certificate (DER) for token verification, checking it is a time-stamping certificate (RFC 3161 2.3). */
export function tsaCertificate(der: Uint8Array): pkijs.Certificate {
  const cert = pkijs.Certificate.fromBER(ab(der));
  const eku = cert.extensions?.find((e) => e.extnID === "2.5.29.37");
  const purposes = (eku?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  if (!eku?.critical || purposes.length !== 1 || purposes[0] !== EKU_TIME_STAMPING)
    throw new Error(
      "the TSA certificate must have the sole, critical extended key usage id-kp-timeStamping (RFC 3161 2.3)",
    );
  return cert;
}

/**
 * Verifies a stored token (DER ContentInfo) against the configured TSA certificate and the
 * expected imprint: the CMS signature must be the TSA's (the certificate the token carries is
 * ignored: only the configured one counts), the signed attributes must match the TSTInfo, and the
 * TSTInfo's imprint must be SHA-256 of `data` (the checkpoint's bytes).
 */
export async function verifyTimeStampToken(
  token: Uint8Array,
  data: Uint8Array,
  tsa: pkijs.Certificate,
): Promise<{ ok: true; info: TokenInfo } | { ok: false; reason: string }> {
  engine();
  let signed: pkijs.SignedData, info: pkijs.TSTInfo;
  try {
    const parsed = asn1js.fromBER(ab(token));
    if (parsed.offset === -1) return { ok: false, reason: "the token is not DER" };
    ({ signed, info } = tstInfoOf(new pkijs.ContentInfo({ schema: parsed.result })));
  } catch (e) {
    return { ok: false, reason: `the token does not parse: ${(e as Error).message}` };
  }
  const expectedImprint = imprintOf(data);
  const stated = describeInfo(info);
  if (info.messageImprint.hashAlgorithm.algorithmId !== SHA256)
    return { ok: false, reason: "the token's imprint is not SHA-256" };
  if (stated.imprint !== hex(expectedImprint))
    return {
      ok: false,
      reason:
        `the token's imprint ${stated.imprint.slice(0, 16)}… is not the checkpoint's ` +
        `${hex(expectedImprint).slice(0, 16)}…: the checkpoint is not what the TSA timestamped`,
    };
  try {
    signed.certificates = [tsa];
    const ok = await signed.verify({ signer: 0, data: ab(data), checkChain: false, extendedMode: false });
    if (!ok) return { ok: false, reason: "the token's signature does not verify with the TSA certificate" };
  } catch (e) {
    const msg =
      (e as { message?: string; resultMessage?: string })?.resultMessage ?? (e as Error)?.message ?? String(e);
    return { ok: false, reason: `the token is not signed by the configured TSA: ${msg}` };
  }
  return { ok: true, info: stated };
}

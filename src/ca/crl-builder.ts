import { OID } from "../asn1/oids.js";
import { concat, derTlv, fromHex } from "../asn1/der.js";
import { encodeOid, encodeTime } from "../asn1/der-reader.js";
import { unsignedIntegerContent } from "../asn1/der.js";
import type { Authority } from "./authority.js";

/** RFC 5280 5.3.1 CRLReason codes by name. */
export const CRL_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0, keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4,
  cessationOfOperation: 5, certificateHold: 6, removeFromCRL: 8, privilegeWithdrawn: 9, aACompromise: 10,
};

export interface CrlEntry {
  readonly serial: string; // hex
  readonly revokedAt: Date;
  readonly reason?: string;
}

export interface CrlInput {
  readonly issuer: Authority;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: bigint;
  readonly entries: Iterable<CrlEntry>;
}

function bigintContent(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return unsignedIntegerContent(fromHex(hex));
}

const ext = (oid: string, critical: boolean, value: Uint8Array) =>
  derTlv(0x30, concat(encodeOid(oid), critical ? Uint8Array.of(0x01, 0x01, 0xff) : new Uint8Array(0), derTlv(0x04, value)));

/**
 * TBSCertList (RFC 5280 5.1), written as DER directly: entries are streamed into bytes, never
 * held as ASN.1 objects. v2, AKI and cRLNumber always (RFC 5280 5.2.1, 5.2.3); reasonCode only
 * when not unspecified (5.3.1).
 */
export function buildCrlTbs(input: CrlInput): Uint8Array {
  if (input.nextUpdate <= input.thisUpdate) throw new Error("nextUpdate must be after thisUpdate (RFC 5280 5.1.2.5)");
  const entries: Uint8Array[] = [];
  for (const e of input.entries) {
    const reason = e.reason === undefined ? 0 : CRL_REASONS[e.reason];
    if (reason === undefined) throw new Error(`unknown CRL reason '${e.reason}'`);
    const entryExts = reason !== 0 ? derTlv(0x30, ext("2.5.29.21", false, Uint8Array.of(0x0a, 0x01, reason))) : new Uint8Array(0);
    entries.push(derTlv(0x30, concat(derTlv(0x02, unsignedIntegerContent(fromHex(e.serial))), encodeTime(e.revokedAt), entryExts)));
  }
  const akiValue = derTlv(0x30, derTlv(0x80, input.issuer.ski)); // AuthorityKeyIdentifier { [0] keyIdentifier }
  const crlExts = derTlv(0xa0, derTlv(0x30, concat(
    ext(OID.extAuthorityKeyIdentifier, false, akiValue),
    ext("2.5.29.20", false, derTlv(0x02, bigintContent(input.crlNumber))),
  )));
  return derTlv(0x30, concat(
    Uint8Array.of(0x02, 0x01, 0x01), // version v2
    input.issuer.signer.algorithmDer,
    input.issuer.nameDer,
    encodeTime(input.thisUpdate),
    encodeTime(input.nextUpdate),
    entries.length > 0 ? derTlv(0x30, concat(...entries)) : new Uint8Array(0),
    crlExts,
  ));
}

import { createHash } from "node:crypto";
import { concat, derTlv } from "../asn1/der.js";
import { childrenOf, content, decodeOid, readTlv, whole, type Tlv } from "../asn1/der-reader.js";

/** RFC 5280 5.2.5 issuingDistributionPoint. */
export const OID_ISSUING_DISTRIBUTION_POINT = "2.5.29.28";
const OID_CRL_DISTRIBUTION_POINTS = "2.5.29.31";

/** How an issuing CA's CRL is partitioned (CPS 4.9.7; absent: one CRL per CA, the default). */
export interface CrlSharding {
  /** Number of shards; a certificate's shard is a hash of its serial (as Let's Encrypt's partitioned CRLs). */
  readonly count: number;
}

/** The shard of a serial: SHA-256 of the serial's octets, first four octets as an unsigned integer, modulo count. */
export function shardOf(serialHex: string, count: number): number {
  const h = createHash("sha256").update(Buffer.from(serialHex, "hex")).digest();
  return h.readUInt32BE(0) % count;
}

/** The URL of a shard's CRL next to the CA's full one: /crl/<ca>.crl -> /crl/<ca>/<shard>.crl. */
export function shardUrl(fullUrl: string, shard: number): string {
  return fullUrl.replace(/\.crl$/, `/${shard}.crl`);
}

/** The CRL scope a shard's CRLs are numbered and stored under (RFC 5280 5.2.3: numbers increase per scope). */
export function shardScope(caId: string, shard: number): string {
  return `${caId}/${shard}`;
}

/** The CDP URL a certificate of this serial carries: its shard's, or the CA's full CRL when unsharded. */
export function cdpUrlFor(fullUrl: string, serialHex: string, sharding: CrlSharding | undefined): string {
  return sharding ? shardUrl(fullUrl, shardOf(serialHex, sharding.count)) : fullUrl;
}

/**
 * IssuingDistributionPoint value (RFC 5280 5.2.5): distributionPoint fullName = the shard's URI,
 * onlyContainsUserCerts TRUE (an issuing CA's shard lists end-entity certificates only).
 */
export function idpValue(url: string): Uint8Array {
  const uri = derTlv(0x86, new TextEncoder().encode(url));
  return derTlv(0x30, concat(derTlv(0xa0, derTlv(0xa0, uri)), Uint8Array.of(0x81, 0x01, 0xff)));
}

/** The URIs of distributionPoint.fullName in a CDP (SEQUENCE OF DistributionPoint) or IDP value. */
function fullNameUris(v: Uint8Array, isIdp: boolean): string[] {
  const uris: string[] = [];
  const top = readTlv(v, 0);
  const points = isIdp ? [top] : childrenOf(v, top);
  for (const p of points) {
    const dpName = childrenOf(v, p).find((t) => t.tag === 0xa0);
    if (!dpName) continue;
    const fullName = childrenOf(v, dpName).find((t) => t.tag === 0xa0);
    if (!fullName) continue;
    for (const g of childrenOf(v, fullName))
      if (g.tag === 0x86) uris.push(Buffer.from(content(v, g)).toString("latin1"));
  }
  return uris;
}

/** Extensions of a TBSCertificate ([3]) or TBSCertList ([0]) as { oid, critical, value }. */
function extensionsOf(tbsDer: Uint8Array, wrapTag: number) {
  const tbs = readTlv(tbsDer, 0);
  const wrap = childrenOf(tbsDer, tbs).find((t: Tlv) => t.tag === wrapTag);
  if (!wrap) return [];
  return childrenOf(tbsDer, childrenOf(tbsDer, wrap)[0]!).map((e) => {
    const parts = childrenOf(tbsDer, e);
    const critical = parts.length === 3 && content(tbsDer, parts[1]!)[0] === 0xff;
    return { oid: decodeOid(content(tbsDer, parts[0]!)), critical, value: content(tbsDer, parts[parts.length - 1]!) };
  });
}

/** The CDP URIs of a TBSCertificate. */
export function certificateCdpUris(tbsCertDer: Uint8Array): string[] {
  const e = extensionsOf(tbsCertDer, 0xa3).find((x) => x.oid === OID_CRL_DISTRIBUTION_POINTS);
  return e ? fullNameUris(e.value, false) : [];
}

/** The IDP of a TBSCertList: its URIs and criticality, or undefined when the CRL has none. */
export function crlIdp(tbsCrlDer: Uint8Array): { uris: string[]; critical: boolean } | undefined {
  const e = extensionsOf(tbsCrlDer, 0xa0).find((x) => x.oid === OID_ISSUING_DISTRIBUTION_POINT);
  return e ? { uris: fullNameUris(e.value, true), critical: e.critical } : undefined;
}

/** The TBS inside a signed certificate or CRL. */
export function tbsOf(signedDer: Uint8Array): Uint8Array {
  const top = readTlv(signedDer, 0);
  return whole(signedDer, childrenOf(signedDer, top)[0]!);
}

/**
 * Lint (RFC 5280 5.2.5, 6.3.3 b.2): a certificate and the CRL that is to cover it agree: the CRL's
 * critical IDP names one of the certificate's CDP URIs, or both name none (unsharded full CRL).
 * Undefined when they agree, else the reason.
 */
export function cdpIdpDisagreement(tbsCertDer: Uint8Array, tbsCrlDer: Uint8Array): string | undefined {
  const cdp = certificateCdpUris(tbsCertDer);
  const idp = crlIdp(tbsCrlDer);
  if (!idp) return undefined; // a full-scope CRL covers every certificate of its issuer
  if (!idp.critical) return "issuingDistributionPoint MUST be critical (RFC 5280 5.2.5)";
  if (!idp.uris.some((u) => cdp.includes(u)))
    return `CRL scope ${idp.uris.join(",")} does not cover the certificate's CDP ${cdp.join(",") || "(none)"}`;
  return undefined;
}

import { AsnConvert } from "@peculiar/asn1-schema";
import type { Extension, TBSCertificate } from "@peculiar/asn1-x509";

export function findExtensions(tbs: TBSCertificate, oid: string): Extension[] {
  return (tbs.extensions ?? []).filter((e) => e.extnID === oid);
}

/** Parses the single extension with this OID, or undefined when absent. */
export function readExtension<T>(tbs: TBSCertificate, oid: string, type: new () => T): { ext: Extension; value: T } | undefined {
  const found = findExtensions(tbs, oid)[0];
  if (!found) return undefined;
  return { ext: found, value: AsnConvert.parse(found.extnValue.buffer, type) };
}

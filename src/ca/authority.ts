import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, SubjectKeyIdentifier } from "@peculiar/asn1-x509";
import { CaError } from "../shared/ca-error.js";
import { toArrayBuffer, toHex } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import type { KeySigner } from "./ports.js";
import type { CrlSharding } from "./crl-shards.js";

/** A CA that signs: its name, key identifier, validity end, signer and published URLs. */
export interface Authority {
  readonly id: string;
  /** DER of the CA certificate's subject Name (becomes tbs.issuer byte for byte, RFC 5280 4.1.2.4). */
  readonly nameDer: Uint8Array;
  /** The CA's subjectKeyIdentifier (becomes the AKI keyIdentifier, RFC 5280 4.2.1.1). */
  readonly ski: Uint8Array;
  readonly notAfter: Date;
  readonly signer: KeySigner;
  /** First serial octet (1..127): tells CA instances apart, keeps serials positive. */
  readonly serialPrefix: number;
  readonly urls: { readonly ocsp?: string; readonly caIssuers?: string; readonly crl?: string };
  /** The CA certificate (absent only while a root signs itself). */
  readonly certDer?: Uint8Array;
  /** RFC 5280 5.2.5: the CA's CRL is also published in shards; each certificate's CDP names its shard. */
  readonly crlSharding?: CrlSharding;
}

/** Builds an Authority from its certificate; refuses a signer whose key is not the certificate's. */
export function authorityFromCertificate(
  id: string,
  certDer: Uint8Array,
  signer: KeySigner,
  serialPrefix: number,
  urls: Authority["urls"],
): Authority {
  const cert = AsnConvert.parse(toArrayBuffer(certDer), Certificate);
  const tbs = cert.tbsCertificate;
  const spki = new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo));
  if (toHex(spki) !== toHex(signer.spki))
    throw new CaError("config", `CA '${id}': the HSM key does not match the CA certificate's public key`);
  const skiExt = (tbs.extensions ?? []).find((e) => e.extnID === OID.extSubjectKeyIdentifier);
  if (!skiExt) throw new CaError("config", `CA '${id}': certificate has no subjectKeyIdentifier`);
  const ski = new Uint8Array(AsnConvert.parse(skiExt.extnValue.buffer, SubjectKeyIdentifier).buffer);
  return {
    id,
    nameDer: new Uint8Array(AsnConvert.serialize(tbs.subject)),
    ski,
    notAfter: tbs.validity.notAfter.getTime(),
    signer,
    serialPrefix,
    urls,
    certDer,
  };
}

import { verify as nodeVerify } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { CaError } from "../shared/ca-error.js";
import { OID } from "../asn1/oids.js";
import { pemBlocks } from "../asn1/der.js";
import { parseDer } from "../asn1/parse.js";
import { parseSubjectKey, toKeyObject, type SubjectKey } from "./public-key.js";

const SIG_HASH: Record<string, string> = {
  [OID.ecdsaWithSHA256]: "sha256",
  [OID.ecdsaWithSHA384]: "sha384",
  [OID.sha256WithRSAEncryption]: "sha256",
  [OID.sha384WithRSAEncryption]: "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.3.4": "sha512",
};

const MAX_CSR_BYTES = 16 * 1024;

/**
 * Reads a PKCS#10 request (RFC 2986) with the @peculiar ASN.1 library and checks its proof of possession: the signature
 * over
 * certificationRequestInfo verifies with the enclosed key. Only the public key is used;
 * the requested subject and extensions are ignored (TBS comes from verified attributes only).
 */
export function verifyCsr(input: Uint8Array | string): SubjectKey {
  const der =
    typeof input === "string" ? pemBlocks(input, "CERTIFICATE REQUEST")[0] : pemBlocks(input, "CERTIFICATE REQUEST")[0];
  if (!der || der.length === 0)
    throw new CaError("invalid-input", "CSR: no PKCS#10 request found (PEM 'CERTIFICATE REQUEST' or DER)");
  if (der.length > MAX_CSR_BYTES) throw new CaError("invalid-input", `CSR larger than ${MAX_CSR_BYTES} bytes`);
  let req: CertificationRequest;
  try {
    req = parseDer(der, CertificationRequest, "PKCS#10 request");
  } catch (e) {
    throw new CaError("invalid-input", `CSR is not valid DER PKCS#10: ${(e as Error).message}`);
  }
  if (req.certificationRequestInfo.version !== 0)
    throw new CaError("invalid-input", "CSR version must be 0 (RFC 2986 4.1)");
  const spki = new Uint8Array(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo));
  const key = parseSubjectKey(spki);
  const hash = SIG_HASH[req.signatureAlgorithm.algorithm];
  if (!hash)
    throw new CaError("invalid-input", `CSR signature algorithm ${req.signatureAlgorithm.algorithm} not supported`);
  const info = req.certificationRequestInfoRaw
    ? new Uint8Array(req.certificationRequestInfoRaw)
    : new Uint8Array(AsnConvert.serialize(req.certificationRequestInfo));
  const ok = nodeVerify(hash, info, toKeyObject(spki), Buffer.from(req.signature));
  if (!ok)
    throw new CaError(
      "invalid-input",
      "CSR signature does not verify: no proof of possession of the private key (RFC 2986 3)",
    );
  return key;
}

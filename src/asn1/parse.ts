import { AsnConvert, AsnParser } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { CaError } from "../shared/ca-error.js";
import { readTlv } from "./der-reader.js";

/** Nothing untrusted is parsed above this size (a certificate, CSR or OCSP request is a few KiB). */
export const MAX_PARSED_BYTES = 64 * 1024;

/**
 * Reads untrusted DER with the @peculiar/asn1-schema class `type` (the library's schema check
 * and decoder). The outer TLV must be one definite, minimal-length element that covers the whole
 * input (X.690 10.1: no trailing bytes, no indefinite length). Any failure, including a crash
 * inside the decoder, is a CaError invalid-input naming `what`.
 */
export function parseDer<T>(der: Uint8Array, type: new () => T, what: string): T {
  if (der.length === 0) throw new CaError("invalid-input", `${what}: empty input`);
  if (der.length > MAX_PARSED_BYTES)
    throw new CaError("invalid-input", `${what}: larger than ${MAX_PARSED_BYTES} bytes`);
  let end: number;
  try {
    end = readTlv(der, 0).end;
  } catch (e) {
    throw new CaError("invalid-input", `${what} is not DER: ${(e as Error).message}`);
  }
  if (end !== der.length)
    throw new CaError("invalid-input", `${what} is not DER: ${der.length - end} bytes after the outer element`);
  try {
    return AsnParser.parse(der, type);
  } catch (e) {
    throw new CaError(
      "invalid-input",
      `${what} does not match its ASN.1 schema: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * DER check through the library: its re-encoding of what it parsed equals the input
 * (a BER-only encoding, a DEFAULT value written out, an unsorted SET... all differ).
 */
export function isLibraryDer(der: Uint8Array, value: unknown): boolean {
  const again = new Uint8Array(AsnConvert.serialize(value));
  return Buffer.compare(Buffer.from(der.buffer, der.byteOffset, der.length), Buffer.from(again)) === 0;
}

/** The library's own DER of a parsed value (the bytes of one field of a parsed structure). */
export function reencode(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

/** An X.509 certificate (RFC 5280 4.1) from untrusted bytes, e.g. a TLS client certificate. */
export function parseCertificate(der: Uint8Array, what = "certificate"): Certificate {
  return parseDer(der, Certificate, what);
}

/** The certificate's serialNumber as lower-case hex, leading zero octets removed (as the store keys it). */
export function certificateSerialHex(cert: Certificate): string {
  return Buffer.from(cert.tbsCertificate.serialNumber)
    .toString("hex")
    .replace(/^(00)+(?=.)/, "");
}

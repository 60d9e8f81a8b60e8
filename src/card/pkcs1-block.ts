/** DigestInfo prefixes for SHA-256 and SHA-384 (RFC 8017 9.2, note 1). */
export const DIGEST_INFO = {
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
} as const;

/** RFC 8017 9.2 EMSA-PKCS1-v1_5: 00 01 FF.. 00 DigestInfo, for a raw RSA operation on the card. */
export function pkcs1Block(digestInfo: Uint8Array, k: number): Uint8Array {
  const out = new Uint8Array(k).fill(0xff);
  out[0] = 0x00;
  out[1] = 0x01;
  out[k - digestInfo.length - 1] = 0x00;
  out.set(digestInfo, k - digestInfo.length);
  return out;
}

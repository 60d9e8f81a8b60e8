import { generateKeyPairSync, sign as nodeSign, type KeyObject } from "node:crypto";
import type { KeyType } from "../shared/key-type.js";
import { signatureAlgorithmFor } from "./signature-algorithms.js";

/**
 * A KeySigner with the key in process memory. For unit tests and throw-away dry runs only:
 * production CA keys live in the HSM (REQ-26).
 */
export class SoftwareSigner {
  readonly spki: Uint8Array;
  readonly algorithmDer: Uint8Array;
  readonly algorithmOid: string;
  private readonly hash: string;
  calls = 0;

  constructor(
    readonly keyType: KeyType,
    private readonly privateKey: KeyObject,
    publicKey: KeyObject,
  ) {
    this.spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
    const alg = signatureAlgorithmFor(keyType);
    this.algorithmDer = alg.der;
    this.algorithmOid = alg.oid;
    this.hash = alg.hash;
  }

  static generate(keyType: KeyType): SoftwareSigner {
    const { privateKey, publicKey } = keyType.startsWith("RSA")
      ? generateKeyPairSync("rsa", { modulusLength: Number(keyType.slice(4)) })
      : generateKeyPairSync("ec", { namedCurve: keyType });
    return new SoftwareSigner(keyType, privateKey, publicKey);
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    this.calls++;
    return new Uint8Array(nodeSign(this.hash, data, this.privateKey)); // DER for ECDSA by default
  }
}

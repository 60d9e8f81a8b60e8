import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { parseName, encodeName } from "../../src/asn1/name.js";
import { toArrayBuffer } from "../../src/asn1/der.js";
import type { KeyType } from "../../src/shared/key-type.js";

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly spki: Uint8Array;
}

export function testKey(type: KeyType): TestKey {
  const { privateKey, publicKey } = type.startsWith("RSA")
    ? generateKeyPairSync("rsa", { modulusLength: Number(type.slice(4)) })
    : generateKeyPairSync("ec", { namedCurve: type });
  return { privateKey, publicKey, spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })) };
}

/** A PKCS#10 request signed by key (or, to test proof of possession, by another key). */
export function makeCsr(key: TestKey, cn = "requested", signWith: KeyObject = key.privateKey): Uint8Array {
  const info = new CertificationRequestInfo({
    version: 0,
    subject: parseName(encodeName({ CN: cn })),
    subjectPKInfo: AsnConvert.parse(toArrayBuffer(key.spki), SubjectPublicKeyInfo),
  });
  const infoDer = new Uint8Array(AsnConvert.serialize(info));
  const isRsa = key.publicKey.asymmetricKeyType === "rsa";
  const alg = new AlgorithmIdentifier({
    algorithm: isRsa ? "1.2.840.113549.1.1.11" : "1.2.840.10045.4.3.2",
    ...(isRsa ? { parameters: null } : {}),
  });
  const sig = sign("sha256", infoDer, signWith);
  const req = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: alg,
    signature: toArrayBuffer(new Uint8Array(sig)),
  });
  return new Uint8Array(AsnConvert.serialize(req));
}

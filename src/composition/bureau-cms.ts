import "reflect-metadata";
import * as pkijs from "pkijs";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import { createHash, createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { pemBlocks, toPem } from "../asn1/der.js";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";
import type { BureauSeal } from "../ra/bureau/bureau-ports.js";
import type { KeySigner } from "../ca/ports.js";

pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as never }));
x509.cryptoProvider.set(webcrypto as never);

const ab = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const ID_DATA = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const ID_ENVELOPED_DATA = "1.2.840.113549.1.7.3";

/** A party of the bureau exchange: its certificate, and (for our own side) its private key. */
export interface ExchangeIdentity {
  readonly certDer: Uint8Array;
  readonly keyPkcs8?: Uint8Array;
}

const signAlgorithm = (cert: pkijs.Certificate): { name: string; hash?: string; namedCurve?: string } => {
  const oid = cert.subjectPublicKeyInfo.algorithm.algorithmId;
  if (oid === "1.2.840.10045.2.1") return { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  if (oid === "1.2.840.113549.1.1.1") return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  throw new CaError("config", `exchange key algorithm ${oid} is not supported (P-256 or RSA)`);
};

/** RFC 5652 5: a detached SignedData (no eContent) over `data`, with the signer's certificate. */
export async function signDetached(data: Uint8Array, me: ExchangeIdentity): Promise<Uint8Array> {
  if (!me.keyPkcs8) throw new CaError("config", "the exchange identity has no private key");
  const cert = pkijs.Certificate.fromBER(ab(me.certDer));
  const alg = signAlgorithm(cert);
  const key = await webcrypto.subtle.importKey("pkcs8", ab(me.keyPkcs8), alg as never, false, ["sign"]);
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: ID_DATA }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
      }),
    ],
    certificates: [cert],
  });
  await signed.sign(key as never, 0, "SHA-256", ab(data));
  const ci = new pkijs.ContentInfo({ contentType: ID_SIGNED_DATA, content: signed.toSchema(true) });
  return new Uint8Array(ci.toSchema().toBER(false));
}

const HASH_OF_SIGNATURE: Record<string, { oid: string; node: string }> = {
  "1.2.840.10045.4.3.2": { oid: "2.16.840.1.101.3.4.2.1", node: "sha256" }, // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3": { oid: "2.16.840.1.101.3.4.2.2", node: "sha384" }, // ecdsa-with-SHA384
  "1.2.840.113549.1.1.11": { oid: "2.16.840.1.101.3.4.2.1", node: "sha256" }, // sha256WithRSAEncryption
};

/**
 * RFC 5652 5.3/5.4: a detached SignedData over `data` by a key that never leaves the HSM (the RA's bureau-signer key,
 * made by a ceremony): signed attributes content-type and message-digest, their DER SET signed by `signer`, the
 * signer's
 * certificate included.
 */
export async function signDetachedWith(data: Uint8Array, certDer: Uint8Array, signer: KeySigner): Promise<Uint8Array> {
  const hash = HASH_OF_SIGNATURE[signer.algorithmOid];
  if (!hash) throw new CaError("config", `bureau signer algorithm ${signer.algorithmOid} is not supported`);
  const cert = pkijs.Certificate.fromBER(ab(certDer));
  const certSpki = new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
  if (!Buffer.from(certSpki).equals(Buffer.from(signer.spki)))
    throw new CaError("config", "the bureau signer's certificate is not for its HSM key");
  const digest = createHash(hash.node).update(data).digest();
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({ type: "1.2.840.113549.1.9.3", values: [new asn1js.ObjectIdentifier({ value: ID_DATA })] }),
      new pkijs.Attribute({ type: "1.2.840.113549.1.9.4", values: [new asn1js.OctetString({ valueHex: ab(digest) })] }),
    ],
  });
  // RFC 5652 5.4: the signature is over the DER of the attributes with the SET OF tag, not the [0] IMPLICIT one.
  const toSign = new Uint8Array(signedAttrs.toSchema().toBER(false));
  toSign[0] = 0x31;
  const signature = await signer.sign(toSign);
  const digestAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: hash.oid, algorithmParams: new asn1js.Null() });
  const signed = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [digestAlgorithm],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: ID_DATA }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
        digestAlgorithm,
        signedAttrs,
        signatureAlgorithm: pkijs.AlgorithmIdentifier.fromBER(ab(signer.algorithmDer)),
        signature: new asn1js.OctetString({ valueHex: ab(signature) }),
      }),
    ],
    certificates: [cert],
  });
  const ci = new pkijs.ContentInfo({ contentType: ID_SIGNED_DATA, content: signed.toSchema(true) });
  return new Uint8Array(ci.toSchema().toBER(false));
}

/**
 * Verifies a detached SignedData over `data` made with the key of exactly `signer` (the
 * certificate installed for the other party; the certificates the file carries do not count).
 */
export async function verifyDetached(data: Uint8Array, signature: Uint8Array, signer: Uint8Array): Promise<void> {
  let signed: pkijs.SignedData;
  try {
    const ci = pkijs.ContentInfo.fromBER(ab(signature));
    if (ci.contentType !== ID_SIGNED_DATA) throw new Error("not a CMS SignedData");
    signed = new pkijs.SignedData({ schema: ci.content });
  } catch (e) {
    throw new CaError("invalid-input", `the signature file is not a CMS SignedData: ${(e as Error).message}`);
  }
  if (signed.signerInfos.length !== 1) throw new CaError("invalid-input", "the signature must have exactly one signer");
  const trusted = pkijs.Certificate.fromBER(ab(signer));
  const sid = signed.signerInfos[0]!.sid;
  const sidOk =
    sid instanceof pkijs.IssuerAndSerialNumber &&
    sid.issuer.isEqual(trusted.issuer) &&
    sid.serialNumber.isEqual(trusted.serialNumber);
  if (!sidOk) throw new CaError("policy-violation", "the file is not signed by the expected party's certificate");
  signed.certificates = [trusted];
  let ok: boolean;
  try {
    ok = (await signed.verify({ signer: 0, data: ab(data), checkChain: false })) as unknown as boolean;
  } catch (e) {
    throw new CaError("policy-violation", `the signature does not verify: ${(e as Error).message}`);
  }
  if (!ok) throw new CaError("policy-violation", "the signature does not verify over the file");
}

/**
 * RFC 5652 6: EnvelopedData to the recipient's RSA certificate (RSAES-OAEP SHA-256 key transport, AES-256-CBC content,
 * as OpenSSL reads it).
 */
export async function encryptTo(data: Uint8Array, recipient: Uint8Array): Promise<Uint8Array> {
  // One primitive OCTET STRING for the ciphertext: split into 1024-byte pieces, a batch of a few MB passes asn1js's
  // node limit (10,000) and could not be read back.
  const env = new pkijs.EnvelopedData({ disableSplit: true } as never);
  env.addRecipientByCertificate(pkijs.Certificate.fromBER(ab(recipient)), { oaepHashAlgorithm: "SHA-256" });
  await env.encrypt({ name: "AES-CBC", length: 256 } as never, ab(data));
  const ci = new pkijs.ContentInfo({ contentType: ID_ENVELOPED_DATA, content: env.toSchema() });
  return new Uint8Array(ci.toSchema().toBER(false));
}

export async function decryptWith(der: Uint8Array, me: ExchangeIdentity): Promise<Uint8Array> {
  if (!me.keyPkcs8) throw new CaError("config", "the exchange identity has no private key");
  try {
    const ci = pkijs.ContentInfo.fromBER(ab(der));
    if (ci.contentType !== ID_ENVELOPED_DATA) throw new Error("not a CMS EnvelopedData");
    const env = new pkijs.EnvelopedData({ schema: ci.content });
    const out = await env.decrypt(0, {
      recipientCertificate: pkijs.Certificate.fromBER(ab(me.certDer)),
      recipientPrivateKey: ab(me.keyPkcs8),
    });
    return new Uint8Array(out);
  } catch (e) {
    throw new CaError("invalid-input", `the file cannot be decrypted: ${(e as Error).message}`);
  }
}

/**
 * Makes an exchange identity in `dir`: `<name>.key` (PKCS#8 PEM, 0600) and `<name>.crt`, a
 * self-signed certificate the other party installs. `rsa` for a party that also receives
 * encrypted files (the bureau), P-256 for one that only signs (the RA).
 */
export async function createExchangeIdentity(
  dir: string,
  name: string,
  o: { subject: string; rsa?: boolean; clock: Clock; random: Random; days?: number },
): Promise<ExchangeIdentity> {
  const keyFile = join(dir, `${name}.key`),
    certFile = join(dir, `${name}.crt`);
  if (existsSync(keyFile) || existsSync(certFile))
    throw new CaError("conflict", `${keyFile} or ${certFile} exists already; an exchange key is never overwritten`);
  const alg = o.rsa
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 }
    : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = o.clock.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(o.random.bytes(16))
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    name: o.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (o.days ?? 3 * 365) * 86_400_000),
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.KeyUsagesExtension(
        o.rsa
          ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
          : x509.KeyUsageFlags.digitalSignature,
        true,
      ),
    ],
  });
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyFile, toPem("PRIVATE KEY", pkcs8), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const certDer = new Uint8Array(cert.rawData);
  writeFileSync(certFile, toPem("CERTIFICATE", certDer));
  return { certDer, keyPkcs8: pkcs8 };
}

/** Reads `<name>.crt` (and `<name>.key` when `withKey`) from `dir`. */
export function readExchangeIdentity(dir: string, name: string, withKey: boolean): ExchangeIdentity {
  const certFile = join(dir, `${name}.crt`);
  if (!existsSync(certFile)) throw new CaError("config", `no exchange certificate ${certFile}`);
  const certDer = pemBlocks(new Uint8Array(readFileSync(certFile)), "CERTIFICATE")[0];
  if (!certDer) throw new CaError("config", `${certFile} holds no certificate`);
  new X509Certificate(certDer);
  if (!withKey) return { certDer };
  const key = createPrivateKey(readFileSync(join(dir, `${name}.key`)));
  return { certDer, keyPkcs8: new Uint8Array(key.export({ type: "pkcs8", format: "der" })) };
}

/** The RA's own side of the exchange: the certificate of its bureau-signer key and that key in the HSM. */
export interface RaExchangeSigner {
  readonly certDer: Uint8Array;
  signer(): Promise<KeySigner>;
}

/** The RA's side of the exchange over CMS: signs as the RA (HSM key), encrypts to the bureau, verifies the bureau. */
export function cmsBureauSeal(ra: RaExchangeSigner, bureau: ExchangeIdentity): BureauSeal {
  return {
    sign: async (data) => signDetachedWith(data, ra.certDer, await ra.signer()),
    encryptToBureau: (data) => encryptTo(data, bureau.certDer),
    verifyBureau: (data, sig) => verifyDetached(data, sig, bureau.certDer),
  };
}

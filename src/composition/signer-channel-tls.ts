import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../shared/clock.js";
import type { Random } from "../shared/random.js";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

const pemKey = async (k: CryptoKey) =>
  `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey("pkcs8", k))
    .toString("base64")
    .replace(/.{64}/g, "$&\n")}\n-----END PRIVATE KEY-----\n`;

export interface SignerChannelFiles {
  readonly ca: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/**
 * The signer channel's own small PKI (nothing else trusts it): a channel CA, the signer's server
 * certificate for the loopback/private address, and the RA role's client certificate. Keys are
 * owner-only files; give the signer's pair to the signer's user and the client pair to the RA's.
 */
export async function writeSignerChannelCertificates(
  dir: string,
  clock: Clock,
  random: Random,
  opts: { hosts?: readonly string[]; days?: number; clientName?: string } = {},
): Promise<SignerChannelFiles> {
  x509.cryptoProvider.set(webcrypto as never);
  const now = clock.now().getTime();
  const days = opts.days ?? 825;
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + days * 86_400_000) };
  const serial = () =>
    Buffer.from(random.bytes(16))
      .toString("hex")
      .replace(/^[89a-f]/, "1");
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: "CN=cardpki signer channel CA",
      keys: caKeys as never,
      signingAlgorithm: ALG,
      ...validity,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as never, false, webcrypto as never),
      ],
    },
    webcrypto as never,
  );
  const leaf = async (name: string, eku: string, san?: readonly string[]) => {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: name,
        issuer: ca.subject,
        publicKey: keys.publicKey as never,
        signingKey: caKeys.privateKey as never,
        signingAlgorithm: ALG,
        ...validity,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([eku]),
          await x509.AuthorityKeyIdentifierExtension.create(ca, false, webcrypto as never),
          ...(san
            ? [
                new x509.SubjectAlternativeNameExtension(
                  san.map((h) =>
                    /^[0-9.]+$|:/.test(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h },
                  ),
                ),
              ]
            : []),
        ],
      },
      webcrypto as never,
    );
    return { cert: cert.toString("pem") + "\n", key: await pemKey(keys.privateKey) };
  };
  const server = await leaf(
    "CN=cardpki ca-signer",
    x509.ExtendedKeyUsage.serverAuth,
    opts.hosts ?? ["127.0.0.1", "localhost", "::1"],
  );
  const client = await leaf(`CN=${opts.clientName ?? "cardpki ra"}`, x509.ExtendedKeyUsage.clientAuth);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: SignerChannelFiles = {
    ca: join(dir, "channel-ca.crt"),
    tlsCert: join(dir, "signer.crt"),
    tlsKey: join(dir, "signer.key"),
    clientCert: join(dir, "ra-client.crt"),
    clientKey: join(dir, "ra-client.key"),
  };
  writeFileSync(files.ca, ca.toString("pem") + "\n");
  writeFileSync(files.tlsCert, server.cert);
  writeFileSync(files.tlsKey, server.key, { mode: 0o600 });
  writeFileSync(files.clientCert, client.cert);
  writeFileSync(files.clientKey, client.key, { mode: 0o600 });
  return files;
}

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock, type Clock } from "../shared/clock.js";
import { cryptoRandom, type Random } from "../shared/random.js";

/**
 * The demo's RA server certificate: self-signed, P-256, for localhost. A TLS server
 * certificate comes from the operator's web PKI in production (config ra.tlsCert / ra.tlsKey).
 */
export async function writeDemoServerCertificate(
  dir: string,
  hosts: readonly string[] = ["localhost", "127.0.0.1", "::1"],
  days = 365,
  clock: Clock = systemClock,
  random: Random = cryptoRandom,
): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as never);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const now = clock.now().getTime();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(random.bytes(16))
        .toString("hex")
        .replace(/^[89a-f]/, "1"),
      name: "CN=cardpki demo RA server",
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + days * 86_400_000),
      keys: keys as never,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hosts.map((h) =>
            /^[0-9.]+$|:/.test(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h },
          ),
        ),
      ],
    },
    webcrypto as never,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, "ra-server.crt");
  const keyFile = join(dir, "ra-server.key");
  writeFileSync(
    keyFile,
    `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END PRIVATE KEY-----\n`,
    { mode: 0o600 },
  );
  writeFileSync(certFile, cert.toString("pem") + "\n");
  return { cert: certFile, key: keyFile };
}

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { CaError } from "../shared/ca-error.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import type { KeySigner } from "../ca/ports.js";
import type { RaExchangeSigner } from "./bureau-cms.js";
import type { Parts } from "./parts.js";
import { caStoreSignerNames } from "./ca-store-signers.js";

/**
 * The RA's card bureau exchange signers in the CA store: `<ca>/bureau-signers/<label>/` with cert.pem, chain.pem and
 * key.uri, made by a bureau-signer ceremony (CPS 4.4.1, REQ-26), never by a command on the RA host.
 */
export function bureauSignerNames(caStoreDir: string): string[] {
  return caStoreSignerNames(caStoreDir, "bureau-signers", ["cert.pem", "key.uri"], true);
}

/** Folder of one bureau signer (`<ca>/<label>`): cert.pem is what the bureau installs to check the RA's files. */
export function bureauSignerDir(caStoreDir: string, name: string): string {
  if (!/^[a-z0-9-]+\/[A-Za-z0-9._-]{1,64}$/.test(name))
    throw new CaError("config", `bureau signer '${name}' is not <ca>/<label>`);
  const [ca, label] = name.split("/") as [string, string];
  return join(caStoreDir, ca, "bureau-signers", label);
}

/** The configured bureau signer (`bureau.signer`) or the first one in the CA store. */
export function bureauSignerName(rt: Parts<"config">): string {
  const name = rt.config.bureau.signer ?? bureauSignerNames(rt.config.caStoreDir)[0];
  if (!name)
    throw new CaError(
      "config",
      `no bureau signer in ${rt.config.caStoreDir}: the RA's exchange key is made ` +
        `by a bureau-signer ceremony (e.g. policies/ceremonies/demo-bureau-signer.yaml)`,
    );
  return name;
}

/** The RA's exchange signer: its certificate from the CA store, its key in the HSM (opened on first use). */
export function raExchangeSigner(rt: Parts<"config" | "keystore">): RaExchangeSigner {
  const dir = bureauSignerDir(rt.config.caStoreDir, bureauSignerName(rt));
  const certFile = join(dir, "cert.pem");
  if (!existsSync(certFile)) throw new CaError("config", `no bureau signer certificate ${certFile}`);
  const certDer = new Uint8Array(new X509Certificate(readFileSync(certFile)).raw);
  let signer: Promise<KeySigner> | undefined;
  return {
    certDer,
    signer: () =>
      (signer ??= (async () => {
        const uri = parsePkcs11Uri(readFileSync(join(dir, "key.uri"), "utf8").trim());
        return (await rt.keystore(uri.token)).signerFor(uri);
      })().catch((e) => {
        signer = undefined;
        throw e;
      })),
  };
}

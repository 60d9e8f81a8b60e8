import { readFileSync } from "node:fs";
import { CertificateIssuer } from "../ca/certificate-issuer.js";
import { authorityFromCertificate, type Authority } from "../ca/authority.js";
import { CaError } from "../shared/ca-error.js";
import { SignerClient } from "../rpc/signer-client.js";
import type { CaRecords } from "./ca-records.js";
import type { Keystores } from "./keystores.js";
import { caUrls, withCrlSharding } from "./ca-settings.js";
import { authorityLookup, signingGate } from "./ca-signer-role.js";
import { publicKeyOnly } from "./public-role.js";
import { newSigningStats } from "./signing-stats.js";
import type { Parts } from "./parts.js";

/** The RA role's end of the signer channel, from the configured client certificate. */
export function signerClient(rec: Pick<CaRecords, "config">): SignerClient {
  const s = rec.config.signer;
  const read = (what: string, f: string) => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new CaError(
        "config",
        `signer channel ${what} ${f}: ${(e as Error).message} (see docs/operations.md, split deployment)`,
      );
    }
  };
  return new SignerClient({
    url: s.url,
    cert: read("client certificate", s.clientCert),
    key: read("client key", s.clientKey),
    ca: read("CA", s.ca),
  });
}

/**
 * The RA role's view of the CA: the same records and issuance pipeline as in one process, but the
 * issuing CAs' private keys stay in the signer process: each Authority's KeySigner sends the
 * recorded TBS over the channel. No CRL signer, no CA key, no CA token opened here.
 */
export type RaCaSide = Omit<CaRecords, "close"> &
  Parts<"issuer" | "authorities" | "authority" | "keystore" | "signing">;

export async function openRaCaSide(rec: CaRecords, keystores: Keystores, client: SignerClient): Promise<RaCaSide> {
  const held = new Map((await client.describe()).map((c) => [c.id, c]));
  const urls = caUrls(rec.config.baseUrl);
  const authorities = new Map<string, Authority>();
  for (const id of rec.config.issuingCas) {
    if (!held.has(id))
      throw new CaError(
        "config",
        `issuing CA '${id}' is not held by the CA signer at ${rec.config.signer.url} ` +
          `(it holds: ${[...held.keys()].join(", ") || "none"})`,
      );
    const ca = rec.caDir.load(id);
    authorities.set(
      id,
      withCrlSharding(
        authorityFromCertificate(
          id,
          ca.certDer,
          client.keySigner(id, publicKeyOnly(id, ca.certDer)),
          ca.manifest.serialPrefix,
          urls(id, ca.manifest.kind),
        ),
        rec.revocationPolicy,
        ca.manifest.kind,
      ),
    );
  }
  const issuer = new CertificateIssuer({
    profiles: rec.profiles,
    store: rec.store,
    clock: rec.clock,
    random: rec.random,
    gate: await signingGate(rec),
  });
  return {
    config: rec.config,
    clock: rec.clock,
    random: rec.random,
    db: rec.db,
    readDb: rec.readDb,
    profiles: rec.profiles,
    store: rec.store,
    caDir: rec.caDir,
    revocationPolicy: rec.revocationPolicy,
    revocations: rec.revocations,
    registry: rec.registry,
    issuer,
    authorities,
    signing: newSigningStats(),
    authority: authorityLookup(authorities),
    keystore: keystores.keystore, // records, tokens and the client are closed by their owners
  };
}

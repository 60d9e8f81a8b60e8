import { existsSync, readdirSync, readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { authorityFromCertificate, type Authority } from "../ca/authority.js";
import type { KeySigner } from "../ca/ports.js";
import { spkiKeyType } from "../ca/spki.js";
import { readCrlInfo } from "../ca/crl-builder.js";
import { OcspResponder, type OcspIssuer } from "../ca/ocsp/ocsp-responder.js";
import { signatureAlgorithmFor } from "../hsm/signature-algorithms.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import type { PublishedCa } from "../http/ca.routes.js";
import type { PublishedCrl } from "../http/crl.routes.js";
import type { CaRecords } from "./ca-records.js";
import type { Keystores } from "./keystores.js";
import { counted, newSigningStats, type SigningStats } from "./signing-stats.js";
import { caUrls, withCrlSharding } from "./ca-settings.js";
import { shardScope } from "../ca/crl-shards.js";
import { KnexOcspResponseStore } from "../store/ocsp-response.store.js";

/**
 * The public role's graph: OCSP, CRLs and CA certificates from the database and the CA store.
 * It holds the delegated OCSP responder keys and no CA key; it builds no issuer and no CRL signer.
 */
export interface PublicRole {
  /** The issuing CAs by their certificates: the public key only (OCSP matches requests by it). */
  readonly authorities: ReadonlyMap<string, Authority>;
  readonly ocsp: OcspResponder;
  /** OCSP responder signatures (ocsp:<ca>/<label>) for /metrics. */
  readonly signing: SigningStats;
  published(): PublishedCa[];
  crl(caId: string, kind: "full" | "delta", shard?: number): Promise<PublishedCrl | undefined>;
}

/** `writable`: this process writes the database (role all): responses signed on a miss are stored. */
export async function openPublicRole(
  rec: CaRecords,
  keystores: Keystores,
  opts: { readonly writable?: boolean } = {},
): Promise<PublicRole> {
  const { config, caDir, revocations } = rec;
  const urls = caUrls(config.baseUrl);
  const authorities = new Map<string, Authority>();
  for (const id of config.issuingCas) {
    const ca = caDir.load(id);
    authorities.set(
      id,
      withCrlSharding(
        authorityFromCertificate(
          id,
          ca.certDer,
          publicKeyOnly(id, ca.certDer),
          ca.manifest.serialPrefix,
          urls(id, ca.manifest.kind),
        ),
        rec.revocationPolicy,
        ca.manifest.kind,
      ),
    );
  }
  const signing = newSigningStats();
  const ocsp = new OcspResponder(
    await loadOcspIssuers(rec, [...authorities.values()], keystores, signing),
    revocations,
    rec.revocationPolicy,
    rec.clock,
    { responses: new KnexOcspResponseStore(rec.db, rec.readDb), writable: opts.writable === true },
  );
  return {
    authorities,
    ocsp,
    signing,
    published: () =>
      caDir.list().map((id) => {
        const ca = caDir.load(id);
        return { id, certDer: ca.certDer, chainDer: ca.chainDer };
      }),
    async crl(caId, kind, shard) {
      const a = authorities.get(caId);
      if (shard !== undefined)
        return a?.crlSharding && shard < a.crlSharding.count
          ? revocations.latestCrl(shardScope(caId, shard), kind)
          : undefined;
      if (a) return revocations.latestCrl(caId, kind);
      // Offline roots: the newest CRL their ceremony wrote to ca-store/<root>/crl/.
      if (kind === "delta" || !caDir.exists(caId)) return undefined;
      const n = caDir.crlNumbers(caId).reduce((a, b) => (b > a ? b : a), 0n);
      if (n === 0n) return undefined;
      const der = new Uint8Array(readFileSync(join(caDir.dir(caId), "crl", `${n}.crl`)));
      return { der, ...readCrlInfo(der) };
    },
  };
}

/** The CA's public key without its private key: the public role answers OCSP, it never signs as the CA. */
export function publicKeyOnly(caId: string, certDer: Uint8Array): KeySigner {
  const spki = new Uint8Array(new X509Certificate(certDer).publicKey.export({ type: "spki", format: "der" }));
  const keyType = spkiKeyType(spki);
  if (!keyType) throw new CaError("config", `CA '${caId}': unsupported key type in its certificate`);
  const alg = signatureAlgorithmFor(keyType);
  return {
    keyType,
    spki,
    algorithmDer: alg.der,
    algorithmOid: alg.oid,
    sign: async () => {
      throw new CaError(
        "forbidden",
        `CA '${caId}': this process holds no CA key; only the ca-signer role signs with it`,
      );
    },
  };
}

/**
 * The delegated OCSP responder of each active CA: of the ocsp-signers in ca-store/<ca>/, the valid
 * one that lasts longest (a newer ceremony rotates it in on the next start).
 */
export async function loadOcspIssuers(
  rec: Pick<CaRecords, "config" | "clock">,
  authorities: readonly Authority[],
  keystores: Keystores,
  signing: SigningStats,
): Promise<OcspIssuer[]> {
  const out: OcspIssuer[] = [];
  const now = rec.clock.now();
  for (const ca of authorities) {
    const base = join(rec.config.caStoreDir, ca.id, "ocsp-signers");
    if (!existsSync(base)) continue;
    let best: { label: string; cert: X509Certificate; der: Uint8Array; uri: string } | undefined;
    for (const label of readdirSync(base)) {
      const certFile = join(base, label, "cert.pem");
      if (!existsSync(certFile)) continue;
      const cert = new X509Certificate(readFileSync(certFile));
      const notAfter = new Date(cert.validTo);
      if (notAfter <= now || new Date(cert.validFrom) > now) continue;
      if (!best || notAfter > new Date(best.cert.validTo))
        best = {
          label,
          cert,
          der: new Uint8Array(cert.raw),
          uri: readFileSync(join(base, label, "key.uri"), "utf8").trim(),
        };
    }
    if (!best) continue;
    const uri = parsePkcs11Uri(best.uri);
    const ks = await keystores.keystore(uri.token);
    const signer = await ks.signerFor(uri);
    out.push({
      ca,
      responder: {
        signer: counted(signer, `ocsp:${ca.id}/${best.label}`, signing),
        certDer: best.der,
        notAfter: new Date(best.cert.validTo),
        label: best.label,
      },
    });
  }
  return out;
}

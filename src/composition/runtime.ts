import { existsSync, readdirSync, readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { isAbsolute, join, relative, resolve } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { systemClock, type Clock } from "../shared/clock.js";
import { cryptoRandom, type Random } from "../shared/random.js";
import { newId } from "../shared/ids.js";
import { loadProfiles } from "../policy/profile-loader.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import { CertificateIssuer } from "../ca/certificate-issuer.js";
import { authorityFromCertificate, type Authority } from "../ca/authority.js";
import { Pkcs11Keystore } from "../hsm/pkcs11-keystore.js";
import { envPin, filePin, type PinSource } from "../hsm/pin-source.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import { openDatabase, openReader, type Database } from "../store/database.js";
import { KnexCertStore } from "../store/cert.store.js";
import { KnexAuditStore } from "../store/audit.store.js";
import { restoreGap } from "./audit.js";
import { CaDirectory } from "../ceremony/ca-directory.js";
import { KnexRevocationStore } from "../store/revocation.store.js";
import { loadRevocationPolicy, type RevocationPolicy } from "../policy/revocation-policy.js";
import { RevocationRegistry } from "../ca/revocation-registry.js";
import { CrlPublisher } from "../ca/crl-publisher.js";
import type { OcspIssuer } from "../ca/ocsp/ocsp-responder.js";
import { embeddedSoftHsmConfig } from "./data-folder.js";
import { APP_ROOT, type Config } from "./config.js";
import type { KeySigner } from "../ca/ports.js";
import { spkiKeyType } from "../ca/spki.js";
import { signatureAlgorithmFor } from "../hsm/signature-algorithms.js";
import { logger } from "../shared/log.js";

const log = logger("runtime");

/** Everything a CA process needs, wired from configuration (the only place that picks backends). */
export interface Runtime {
  readonly config: Config;
  readonly clock: Clock;
  readonly random: Random;
  readonly db: Database;
  /** Reads that may run beside the writer (the same pool on PostgreSQL). */
  readonly readDb: Database;
  readonly profiles: ReadonlyMap<string, CertificateProfile>;
  readonly store: KnexCertStore;
  readonly issuer: CertificateIssuer;
  readonly caDir: CaDirectory;
  readonly authorities: ReadonlyMap<string, Authority>;
  readonly revocationPolicy: RevocationPolicy;
  readonly revocations: KnexRevocationStore;
  readonly registry: RevocationRegistry;
  readonly crls: CrlPublisher;
  /** Signatures and HSM failures per key since start (for /metrics). */
  readonly signing: SigningStats;
  keystore(token: string): Promise<Pkcs11Keystore>;
  authority(id: string): Authority;
  close(): Promise<void>;
}

/** Points SoftHSM2 at the embedded default's token directory when nothing else is configured. */
export function useEmbeddedSoftHsm(config: Config): void {
  if (process.env.SOFTHSM2_CONF) return;
  const conf = embeddedSoftHsmConfig(config.dataDir); // the data folder's own tokens, also in a copy of it
  if (conf) process.env.SOFTHSM2_CONF = conf;
}

export function pinSourceFor(config: Config, token: string, override?: PinSource): PinSource {
  if (override) return override;
  const p = config.tokenPins[token];
  if (!p) throw new CaError("config", `no PIN source configured for token '${token}' (tokenPins in cardpki.json or CARDPKI_PIN_FILE_<TOKEN>)`);
  if ("env" in p) return envPin(p.env);
  // REQ-26: a PIN never comes from a file in the repository (the git-ignored data folder is not part of it).
  const file = resolve(p.file);
  const inside = (dir: string) => !relative(dir, file).startsWith("..") && !isAbsolute(relative(dir, file));
  if (inside(APP_ROOT) && !inside(config.dataDir))
    throw new CaError("config", `PIN file ${file} lies inside the project folder; keep PINs outside the repository (or in the data folder)`);
  return filePin(file);
}

/** The URLs a CA puts into what it issues (AIA and CRL DP are built from configuration). */
export function caUrls(baseUrl: string) {
  return (caId: string, kind: "root" | "issuing"): Authority["urls"] => ({
    ...(kind === "issuing" ? { ocsp: `${baseUrl}/ocsp` } : {}),
    caIssuers: `${baseUrl}/ca/${caId}.cer`,
    crl: `${baseUrl}/crl/${caId}.crl`,
  });
}

export interface RuntimeOptions {
  readonly clock?: Clock;
  readonly random?: Random;
  /** PINs handed in directly (ceremony custodians, tests), by token label. */
  readonly pins?: Readonly<Record<string, PinSource>>;
  /** Skip loading the configured issuing CAs (ceremonies before any CA exists). */
  readonly withoutAuthorities?: boolean;
  /** Run crash recovery of unfinished serials (only the single CA writer does this). */
  readonly recover?: boolean;
  /**
   * A public replica (REQ-33): read-only database, no restore check, and no CA private key: the
   * issuing CAs are loaded from their certificates with a signer that refuses. Only the OCSP
   * responder keys are used.
   */
  readonly publicOnly?: boolean;
  /** Another condition for signing (the writer lease): throws when this process must not sign. */
  readonly fence?: () => void;
}

export async function openRuntime(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
  useEmbeddedSoftHsm(config);
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? cryptoRandom;
  const profiles = loadProfiles(join(config.policyDir, "profiles"));
  const db = await openDatabase(config.databaseUrl, { readOnly: opts.publicOnly === true });
  const readDb = await openReader(config.databaseUrl, db, config.databaseReaders).catch(async (e) => {
    await db.destroy();
    throw new CaError("unavailable", `database readers: ${(e as Error).message}`);
  });
  const store = new KnexCertStore(db, readDb);
  // REQ-30: a database restored from an older backup signs nothing until the operator reconciles.
  const gap = opts.publicOnly ? undefined : await restoreGap(new KnexAuditStore(db, readDb), config.audit.checkpointFile).catch(async (e) => {
    if (readDb !== db) await readDb.destroy();
    await db.destroy();
    throw e;
  });
  const gate = () => {
    if (opts.publicOnly) throw new CaError("forbidden", "this is a public replica: only the CA role issues certificates and CRLs");
    if (gap) throw new CaError("conflict", gap);
    opts.fence?.();
  };
  const issuer = new CertificateIssuer({ profiles, store, clock, random, gate });
  const revocationPolicy = loadRevocationPolicy(join(config.policyDir, "revocation", "revocation.yaml"));
  const revocations = new KnexRevocationStore(db);
  const registry = new RevocationRegistry({ certs: store, revocations, policy: revocationPolicy, clock, random });
  const crls = new CrlPublisher({ revocations, certs: store, policy: revocationPolicy, clock, random, gate });
  const caDir = new CaDirectory(config.caStoreDir);
  const keystores = new Map<string, Promise<Pkcs11Keystore>>();
  const keystore = (token: string): Promise<Pkcs11Keystore> => {
    let ks = keystores.get(token);
    if (!ks) {
      const k = new Pkcs11Keystore({ library: config.pkcs11Library, tokenLabel: token, pin: pinSourceFor(config, token, opts.pins?.[token]), sessions: config.hsmSessions });
      ks = k.open().then(() => k);
      ks.catch(() => keystores.delete(token));
      keystores.set(token, ks);
    }
    return ks;
  };
  const authorities = new Map<string, Authority>();
  const signing: SigningStats = { ok: new Map(), failed: new Map() };
  const close = async () => {
    for (const ks of keystores.values()) await ks.then((k) => k.close()).catch(() => undefined);
    if (readDb !== db) await readDb.destroy();
    await db.destroy();
  };
  try {
    if (opts.recover) {
      const recovered = await store.recoverUnfinished(clock.now(), (serial) => ({
        id: newId(random), at: clock.now(), actor: "system:recovery", action: "cert.recover-unfinished", objectType: "certificate",
        objectId: serial, outcome: "success", details: { reason: "serial reserved before a crash; published as revoked" },
      }));
      if (recovered.length > 0) log.warn("recovered unfinished serials; they are published as revoked", { count: recovered.length });
    }
    if (!opts.withoutAuthorities) {
      const urls = caUrls(config.baseUrl);
      for (const id of config.issuingCas) {
        const ca = caDir.load(id);
        const uri = parsePkcs11Uri(ca.manifest.keyUri);
        const signer = opts.publicOnly ? refusingSigner(id, ca.certDer) : await (await keystore(uri.token)).signerFor(uri);
        authorities.set(id, authorityFromCertificate(id, ca.certDer, opts.publicOnly ? signer : counted(signer, `ca:${id}`, signing), ca.manifest.serialPrefix, urls(id, ca.manifest.kind)));
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    config, clock, random, db, readDb, profiles, store, issuer, caDir, authorities, keystore, close, revocationPolicy, revocations, registry, crls, signing,
    authority: (id) => {
      const a = authorities.get(id);
      if (!a) throw new CaError("not-found", `CA '${id}' is not an active issuing CA here (active: ${[...authorities.keys()].join(", ") || "none"})`);
      return a;
    },
  };
}

export interface SigningStats {
  readonly ok: Map<string, number>;
  readonly failed: Map<string, number>;
}

/** Counts each key's signatures and HSM failures (metrics: cardpki_hsm_signatures_total, cardpki_hsm_errors_total). */
function counted(signer: KeySigner, key: string, stats: SigningStats): KeySigner {
  const bump = (m: Map<string, number>) => m.set(key, (m.get(key) ?? 0) + 1);
  for (const m of [stats.ok, stats.failed]) if (!m.has(key)) m.set(key, 0); // every key has its series from the start
  return {
    keyType: signer.keyType, spki: signer.spki, algorithmDer: signer.algorithmDer, algorithmOid: signer.algorithmOid,
    sign: (data) => signer.sign(data).then((sig) => {
      bump(stats.ok);
      return sig;
    }, (e: unknown) => {
      bump(stats.failed);
      throw e;
    }),
  };
}

/** The CA's public key without its private key: a public replica answers OCSP, it never signs as the CA. */
function refusingSigner(caId: string, certDer: Uint8Array): KeySigner {
  const spki = new Uint8Array(new X509Certificate(certDer).publicKey.export({ type: "spki", format: "der" }));
  const keyType = spkiKeyType(spki);
  if (!keyType) throw new CaError("config", `CA '${caId}': unsupported key type in its certificate`);
  const alg = signatureAlgorithmFor(keyType);
  return {
    keyType, spki, algorithmDer: alg.der, algorithmOid: alg.oid,
    sign: async () => {
      throw new CaError("forbidden", `CA '${caId}': this is a public replica; only the CA role signs with the CA key`);
    },
  };
}

/**
 * The delegated OCSP responder of each active CA: of the ocsp-signers in ca-store/<ca>/, the valid
 * one that lasts longest (a newer ceremony rotates it in on the next start).
 */
export async function loadOcspIssuers(rt: Runtime): Promise<OcspIssuer[]> {
  const out: OcspIssuer[] = [];
  const now = rt.clock.now();
  for (const ca of rt.authorities.values()) {
    const base = join(rt.config.caStoreDir, ca.id, "ocsp-signers");
    if (!existsSync(base)) continue;
    let best: { label: string; cert: X509Certificate; der: Uint8Array; uri: string } | undefined;
    for (const label of readdirSync(base)) {
      const certFile = join(base, label, "cert.pem");
      if (!existsSync(certFile)) continue;
      const cert = new X509Certificate(readFileSync(certFile));
      const notAfter = new Date(cert.validTo);
      if (notAfter <= now || new Date(cert.validFrom) > now) continue;
      if (!best || notAfter > new Date(best.cert.validTo)) best = { label, cert, der: new Uint8Array(cert.raw), uri: readFileSync(join(base, label, "key.uri"), "utf8").trim() };
    }
    if (!best) continue;
    const uri = parsePkcs11Uri(best.uri);
    const ks = await rt.keystore(uri.token);
    const signer = await ks.signerFor(uri);
    out.push({ ca, responder: { signer: counted(signer, `ocsp:${ca.id}/${best.label}`, rt.signing), certDer: best.der, notAfter: new Date(best.cert.validTo), label: best.label } });
  }
  return out;
}

/** Opens the runtime for one task (a CLI command) and closes it whatever happens. */
export async function withRuntime<T>(config: Config, opts: RuntimeOptions, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await openRuntime(config, opts);
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

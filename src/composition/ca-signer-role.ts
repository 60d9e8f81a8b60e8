import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { CertificateIssuer } from "../ca/certificate-issuer.js";
import { authorityFromCertificate, type Authority } from "../ca/authority.js";
import { CrlPublisher } from "../ca/crl-publisher.js";
import type { Pkcs11Keystore } from "../hsm/pkcs11-keystore.js";
import type { PinSource } from "../hsm/pin-source.js";
import { parsePkcs11Uri } from "../hsm/pkcs11-uri.js";
import { KnexAuditStore } from "../store/audit.store.js";
import { logger } from "../shared/log.js";
import { restoreGap } from "./audit.js";
import type { CaRecords } from "./ca-records.js";
import { openKeystores, type Keystores } from "./keystores.js";
import { counted, newSigningStats, type SigningStats } from "./signing-stats.js";
import { caUrls, withCrlSharding } from "./ca-settings.js";
import { OcspProducer } from "../ca/ocsp/ocsp-producer.js";
import { KnexOcspResponseStore } from "../store/ocsp-response.store.js";
import { loadOcspIssuers } from "./public-role.js";

const log = logger("ca-signer");

/**
 * The CA signer's graph: the issuing CA keys in the HSM, the issuance pipeline and CRL signing.
 * The only role that holds a CA private key.
 */
export interface CaSigner {
  readonly issuer: CertificateIssuer;
  readonly crls: CrlPublisher;
  readonly authorities: ReadonlyMap<string, Authority>;
  readonly signing: SigningStats;
  /**
   * Pre-produces OCSP responses into the database (with `ocsp: true` and a delegated responder
   * key in reach). `ocsp.statusChanged(serials)` is the hook for every status change.
   */
  readonly ocsp?: OcspProducer;
  /** Health of each CA key without a signature (session logged in, key present): by CA id. */
  readonly probes: ReadonlyMap<string, () => Promise<void>>;
  authority(id: string): Authority;
  keystore(token: string): Promise<Pkcs11Keystore>;
  /** Refuses while this process must not sign (restored database not reconciled, writer lease lost). */
  gate(): void;
  close(): Promise<void>;
}

export interface CaSignerOptions {
  /** PINs handed in directly (ceremony custodians, tests), by token label. */
  readonly pins?: Readonly<Record<string, PinSource>>;
  /** Skip loading the configured issuing CAs (ceremonies before any CA exists). */
  readonly withoutAuthorities?: boolean;
  /** Run crash recovery of unfinished serials (only the single CA writer does this). */
  readonly recover?: boolean;
  /** Another condition for signing (the writer lease): throws when this process must not sign. */
  readonly fence?: () => void;
  /** Tokens already opened by the caller (shared with other parts of the same process). */
  readonly keystores?: Keystores;
  /** Pre-produce OCSP responses (the writer that signs: roles all and ca-signer). */
  readonly ocsp?: boolean;
}

export function authorityLookup(authorities: ReadonlyMap<string, Authority>): (id: string) => Authority {
  return (id) => {
    const a = authorities.get(id);
    if (!a)
      throw new CaError(
        "not-found",
        `CA '${id}' is not an active issuing CA here (active: ${[...authorities.keys()].join(", ") || "none"})`,
      );
    return a;
  };
}

/**
 * REQ-30: a database restored from an older backup signs nothing until the operator reconciles; nor does a fenced
 * writer.
 */
export async function signingGate(rec: CaRecords, fence?: () => void): Promise<() => void> {
  const gap = await restoreGap(new KnexAuditStore(rec.db, rec.readDb), rec.config.audit.checkpointFile);
  return () => {
    if (gap) throw new CaError("conflict", gap);
    fence?.();
  };
}

/** The issuing CAs' keys in the HSM and what signs with them, without the issuance pipeline or CRL signing. */
export interface IssuingCas {
  readonly authorities: ReadonlyMap<string, Authority>;
  readonly signing: SigningStats;
  readonly probes: ReadonlyMap<string, () => Promise<void>>;
  readonly keystores: Keystores;
  authority(id: string): Authority;
  gate(): void;
  close(): Promise<void>;
}

/** Opens the configured issuing CAs (none with `withoutAuthorities`); with `recover`, runs crash recovery first. */
export async function openIssuingCas(rec: CaRecords, opts: CaSignerOptions = {}): Promise<IssuingCas> {
  const { config, clock, random, store } = rec;
  const gate = await signingGate(rec, opts.fence);
  const ks = opts.keystores ?? openKeystores(config, opts.pins);
  const close = async () => {
    if (!opts.keystores) await ks.close();
  };
  const authorities = new Map<string, Authority>();
  const probes = new Map<string, () => Promise<void>>();
  const signing = newSigningStats();
  try {
    if (opts.recover) {
      const recovered = await store.recoverUnfinished(clock.now(), (serial) => ({
        id: newId(random),
        at: clock.now(),
        actor: "system:recovery",
        action: "cert.recover-unfinished",
        objectType: "certificate",
        objectId: serial,
        outcome: "success",
        details: { reason: "serial reserved before a crash; published as revoked" },
      }));
      if (recovered.length > 0)
        log.warn("recovered unfinished serials; they are published as revoked", { count: recovered.length });
    }
    if (!opts.withoutAuthorities) {
      const urls = caUrls(config.baseUrl);
      for (const id of config.issuingCas) {
        const ca = rec.caDir.load(id);
        const uri = parsePkcs11Uri(ca.manifest.keyUri);
        const keystore = await ks.keystore(uri.token);
        const signer = await keystore.signerFor(uri);
        authorities.set(
          id,
          withCrlSharding(
            authorityFromCertificate(
              id,
              ca.certDer,
              counted(signer, `ca:${id}`, signing),
              ca.manifest.serialPrefix,
              urls(id, ca.manifest.kind),
            ),
            rec.revocationPolicy,
            ca.manifest.kind,
          ),
        );
        const ref = uri.id !== undefined ? { id: uri.id } : { label: uri.object! };
        probes.set(id, () => keystore.probe(ref));
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { authorities, signing, probes, keystores: ks, authority: authorityLookup(authorities), gate, close };
}

/** The issuance pipeline (profile, TBS, lint, sign, record) behind the signing gate. */
export function issuerFor(rec: CaRecords, gate: () => void, onIssued?: (serial: string) => void): CertificateIssuer {
  return new CertificateIssuer({
    profiles: rec.profiles,
    store: rec.store,
    clock: rec.clock,
    random: rec.random,
    gate,
    ...(onIssued ? { onIssued } : {}),
  });
}

/** RFC 5280 5.2.3: CRLs signed with the issuing CAs' keys, behind the signing gate. */
export function crlPublisher(rec: CaRecords, gate: () => void): CrlPublisher {
  return new CrlPublisher({
    revocations: rec.revocations,
    certs: rec.store,
    policy: rec.revocationPolicy,
    clock: rec.clock,
    random: rec.random,
    gate,
  });
}

export async function openCaSigner(rec: CaRecords, opts: CaSignerOptions = {}): Promise<CaSigner> {
  const cas = await openIssuingCas(rec, opts);
  const { authorities, signing, gate } = cas;
  let producer: OcspProducer | undefined;
  const issuer = issuerFor(rec, gate, (serial) => producer?.issued(serial));
  const crls = crlPublisher(rec, gate);
  try {
    if (opts.ocsp && authorities.size > 0) {
      const ocspIssuers = await loadOcspIssuers(rec, [...authorities.values()], cas.keystores, signing).catch(
        (e: unknown) => {
          log.warn("OCSP responses not pre-produced here: no delegated responder key", { error: e });
          return [];
        },
      );
      if (ocspIssuers.length > 0)
        producer = new OcspProducer(
          ocspIssuers,
          new KnexOcspResponseStore(rec.db, rec.readDb),
          rec.revocationPolicy,
          rec.clock,
        );
    }
  } catch (e) {
    await cas.close();
    throw e;
  }
  return {
    issuer,
    crls,
    authorities,
    signing,
    ...(producer ? { ocsp: producer } : {}),
    probes: cas.probes,
    authority: cas.authority,
    keystore: cas.keystores.keystore,
    gate,
    close: cas.close,
  };
}

/** Role `all` (the demo, tests): the records and the CA signer in one process, as the RA and the tests reach them. */
export type CaInProcess = Omit<CaRecords, "close"> &
  Pick<CaSigner, "issuer" | "crls" | "authorities" | "authority" | "keystore" | "signing">;

export function caInProcess(rec: CaRecords, signer: CaSigner): CaInProcess {
  const { close: _close, ...records } = rec;
  const { issuer, crls, authorities, authority, keystore, signing } = signer;
  return { ...records, issuer, crls, authorities, authority, keystore, signing };
}

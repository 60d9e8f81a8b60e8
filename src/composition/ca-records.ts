import { join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { systemClock, type Clock } from "../shared/clock.js";
import { cryptoRandom, type Random } from "../shared/random.js";
import { loadProfiles } from "../policy/profile-loader.js";
import type { CertificateProfile } from "../policy/certificate-profile.js";
import { openDatabase, openReader, type Database } from "../store/database.js";
import { KnexCertStore } from "../store/cert.store.js";
import { KnexRevocationStore } from "../store/revocation.store.js";
import { loadRevocationPolicy, type RevocationPolicy } from "../policy/revocation-policy.js";
import { RevocationRegistry } from "../ca/revocation-registry.js";
import { CaDirectory } from "../ceremony/ca-directory.js";
import type { Config } from "./config.js";
import { closeDatabase } from "../store/commit-queue.js";

/**
 * The CA's records without any key: database, certificate and revocation stores, the revocation
 * registry (state changes only; no signature), profiles and the CA store folder. Every role that
 * reads or writes CA state starts from this; none of it signs.
 */
export interface CaRecords {
  readonly config: Config;
  readonly clock: Clock;
  readonly random: Random;
  readonly db: Database;
  /** Reads that may run beside the writer (the same pool on PostgreSQL). */
  readonly readDb: Database;
  readonly profiles: ReadonlyMap<string, CertificateProfile>;
  readonly store: KnexCertStore;
  readonly caDir: CaDirectory;
  readonly revocationPolicy: RevocationPolicy;
  readonly revocations: KnexRevocationStore;
  readonly registry: RevocationRegistry;
  close(): Promise<void>;
}

export interface CaRecordsOptions {
  readonly clock?: Clock;
  readonly random?: Random;
  /** A public replica opens the database read-only. */
  readonly readOnly?: boolean;
}

export async function openCaRecords(config: Config, opts: CaRecordsOptions = {}): Promise<CaRecords> {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? cryptoRandom;
  const profiles = loadProfiles(join(config.policyDir, "profiles"));
  const revocationPolicy = loadRevocationPolicy(join(config.policyDir, "revocation", "revocation.yaml"));
  const db = await openDatabase(config.databaseUrl, { readOnly: opts.readOnly === true });
  const readDb = await openReader(config.databaseUrl, db, config.databaseReaders).catch(async (e) => {
    await closeDatabase(db);
    throw new CaError("unavailable", `database readers: ${(e as Error).message}`);
  });
  const store = new KnexCertStore(db, readDb);
  const revocations = new KnexRevocationStore(db);
  const registry = new RevocationRegistry({ certs: store, revocations, policy: revocationPolicy, clock, random });
  return {
    config,
    clock,
    random,
    db,
    readDb,
    profiles,
    store,
    caDir: new CaDirectory(config.caStoreDir),
    revocationPolicy,
    revocations,
    registry,
    async close() {
      if (readDb !== db) await readDb.destroy();
      await closeDatabase(db);
    },
  };
}

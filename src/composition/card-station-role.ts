import { systemClock } from "../shared/clock.js";
import { cryptoRandom } from "../shared/random.js";
import { openDatabase, openReader } from "../store/database.js";
import type { Config } from "./config.js";
import { useEmbeddedSoftHsm } from "./ca-settings.js";
import { openKeystores } from "./keystores.js";
import type { Parts } from "./parts.js";
import { closeDatabase } from "../store/commit-queue.js";

/** What the card station and the sealing of personal data need: database, clock, randomness and the data-key token. */
export type StationParts = Parts<"config" | "clock" | "random" | "db" | "readDb" | "keystore">;

/**
 * The card station's graph: the card ledger on the database and the data-key token (REQ-29); no
 * CA records, no issuer, no CA key. Orders and certificates go through the RA API as the station's
 * officer (ra-api-client.ts).
 */
export async function withCardStation<T>(config: Config, fn: (rt: StationParts) => Promise<T>): Promise<T> {
  useEmbeddedSoftHsm(config);
  const db = await openDatabase(config.databaseUrl);
  const keystores = openKeystores(config);
  try {
    const readDb = await openReader(config.databaseUrl, db, config.databaseReaders);
    try {
      return await fn({ config, clock: systemClock, random: cryptoRandom, db, readDb, keystore: keystores.keystore });
    } finally {
      if (readDb !== db) await readDb.destroy();
    }
  } finally {
    await keystores.close();
    await closeDatabase(db);
  }
}

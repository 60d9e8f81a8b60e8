import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresDatabase } from "./shell-database.js";

export interface TestDatabase {
  readonly name: "sqlite" | "postgres";
  /** A new, empty database of this kind (migrations run when it is opened). */
  url(): Promise<string>;
}

/**
 * The backends the store and integration tests run against: SQLite always, PostgreSQL when
 * ./scripts/test started one (required under CI=true; skipped locally otherwise).
 */
export function testDatabases(): TestDatabase[] {
  const out: TestDatabase[] = [
    { name: "sqlite", url: async () => `sqlite:${join(mkdtempSync(join(tmpdir(), "db-")), "t.db")}` },
  ];
  const pgUrl = process.env.CARDPKI_TEST_PG_URL;
  if (pgUrl) out.push({ name: "postgres", url: async () => createPostgresDatabase(pgUrl) });
  else if (process.env.CI === "true")
    throw new Error("CARDPKI_TEST_PG_URL is required under CI=true (./scripts/test starts a local PostgreSQL)");
  return out;
}

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface TestDatabase {
  readonly name: "sqlite" | "postgres";
  /** A new, empty database of this kind (migrations run when it is opened). */
  url(): Promise<string>;
}

/** A fresh database on the test PostgreSQL (./scripts/test starts it and sets CARDPKI_TEST_PG_URL). */
async function freshPostgres(base: string): Promise<string> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * The backends the store and integration tests run against: SQLite always, PostgreSQL when
 * ./scripts/test started one (required under CI=true; skipped locally otherwise).
 */
export function testDatabases(): TestDatabase[] {
  const out: TestDatabase[] = [{ name: "sqlite", url: async () => `sqlite:${join(mkdtempSync(join(tmpdir(), "db-")), "t.db")}` }];
  const pgUrl = process.env.CARDPKI_TEST_PG_URL;
  if (pgUrl) out.push({ name: "postgres", url: () => freshPostgres(pgUrl) });
  else if (process.env.CI === "true") throw new Error("CARDPKI_TEST_PG_URL is required under CI=true (./scripts/test starts a local PostgreSQL)");
  return out;
}

import knexFactory, { type Knex } from "knex";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { migrationSource } from "./migrations/index.js";
import { CachedStatementsSqlite3 } from "./sqlite-statement-cache.js";
import type { Database as SqliteConnection } from "sqlite3";
import type { ClientBase as PgConnection } from "pg";

export type Database = Knex;

/** SQLite (node-sqlite3, prepared statements kept per connection: sqlite-statement-cache.ts). */
export const isSqlite = (db: Knex | Knex.Transaction): boolean =>
  (db as { client?: { dialect?: string } }).client?.dialect === "sqlite3";

/** PostgreSQL rather than SQLite (for the few statements that differ). */
export const isPostgres = (db: Knex | Knex.Transaction): boolean =>
  (db as { client?: { dialect?: string } }).client?.dialect === "postgresql";

/** The file of a `sqlite:` URL (undefined for other URLs). */
export function sqliteFile(url: string): string | undefined {
  return url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : undefined;
}

/**
 * A knex handle on one SQLite file with a single connection: the writer (WAL, synchronous=FULL, each
 * transaction BEGIN IMMEDIATE: it takes the write lock first, so a second writer, such as the writer
 * thread of sqlite-writer-thread.ts, makes it wait rather than fail on a stale snapshot) or a
 * public replica's reader (query_only refuses every write on its connection).
 */
export function sqliteKnex(filename: string, role: "writer" | "replica"): Knex {
  return knexFactory({
    client: CachedStatementsSqlite3,
    connection: { filename, ...(role === "writer" ? { immediateTransactions: true } : {}) },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        const pragmas =
          role === "replica"
            ? "PRAGMA query_only=ON; PRAGMA busy_timeout=10000;"
            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;";
        conn.exec(pragmas, (err: Error | null) => done(err, conn));
      },
    },
  });
}

/**
 * Gives a single-connection handle its connection for good, where nothing else queries through it
 * (the SQLite writer thread): each query then skips the pool's acquire and release, a timer each.
 * Returns the undo, to call before the handle is destroyed.
 */
export async function holdConnection(db: Knex): Promise<() => Promise<void>> {
  type Pooled = { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  const client = db.client as Pooled;
  const { acquireConnection, releaseConnection } = client;
  const connection = await acquireConnection.call(client);
  client.acquireConnection = () => Promise.resolve(connection);
  client.releaseConnection = () => Promise.resolve();
  return async () => {
    Object.assign(client, { acquireConnection, releaseConnection });
    await releaseConnection.call(client, connection);
  };
}

/**
 * Opens the database named by a URL: `sqlite:/path/file.db` (embedded default) or
 * `postgres://...`. SQLite runs in WAL mode with synchronous=FULL: a commit is on disk.
 */
export async function openDatabase(url: string, opts: { readOnly?: boolean } = {}): Promise<Database> {
  let db: Knex;
  const filename = sqliteFile(url);
  if (filename !== undefined) {
    if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true });
    db = sqliteKnex(filename, opts.readOnly ? "replica" : "writer");
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    db = knexFactory({
      client: "pg",
      connection: url,
      pool: {
        min: 1,
        max: 10,
        // A public replica may point at a hot standby (streaming replica): its sessions are read-only.
        ...(opts.readOnly
          ? {
              afterCreate: (conn: PgConnection, done: (err: Error | null, conn: unknown) => void) =>
                conn.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", (err: Error | null) =>
                  done(err, conn),
                ),
            }
          : {}),
      },
    });
  } else {
    throw new CaError("config", `unsupported database URL '${url}' (sqlite:/path or postgres://)`);
  }
  try {
    if (opts.readOnly) await requireCurrentSchema(db);
    else await db.migrate.latest({ migrationSource });
  } catch (e) {
    await db.destroy();
    if (CaError.is(e)) throw e;
    throw new CaError(
      "unavailable",
      `database ${opts.readOnly ? "schema check" : "migration"} failed: ${(e as Error).message}`,
    );
  }
  return db;
}

/** A reader never migrates: it refuses a schema the writer has not brought up to date. */
async function requireCurrentSchema(db: Knex): Promise<void> {
  const known = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
  const done = new Set(
    (
      await db("knex_migrations")
        .select("name")
        .catch(() => [])
    ).map((r: { name: string }) => r.name),
  );
  const missing = known.filter((n) => !done.has(n));
  if (missing.length > 0)
    throw new CaError(
      "unavailable",
      `database schema is behind this version (missing ${missing.join(", ")}); start the CA role once to migrate it`,
    );
}

/**
 * The pool for reads. SQLite: a few read-only connections beside the single writer; in WAL mode
 * they read the last committed state while the writer commits, instead of queueing behind it.
 * PostgreSQL (and an in-memory SQLite database): the writer's own pool.
 */
export async function openReader(url: string, writer: Database, size: number): Promise<Database> {
  const filename = sqliteFile(url);
  if (filename === undefined || filename === ":memory:") return writer;
  const reader = knexFactory({
    client: CachedStatementsSqlite3,
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: size,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        conn.exec("PRAGMA query_only=ON; PRAGMA busy_timeout=10000;", (err: Error | null) => done(err, conn));
      },
    },
  });
  await reader.raw("select 1");
  return reader;
}

/** Rows per multi-row INSERT: well inside SQLite's and PostgreSQL's bound-parameter limits. */
export const INSERT_CHUNK = 200;

/** A multi-row insert, in statements of at most INSERT_CHUNK rows. */
export async function insertChunked(
  trx: Knex.Transaction,
  table: string,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx(table).insert(rows.slice(i, i + INSERT_CHUNK));
}

/** Unique-constraint violation on SQLite or PostgreSQL. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (err?.code === "SQLITE_CONSTRAINT" && /UNIQUE|PRIMARY/.test(err.message ?? "")) || err?.code === "23505";
}

/** Health probe: the database answers a trivial query. */
export async function pingDatabase(db: Database): Promise<void> {
  await db.raw("select 1");
}

import { createRequire } from "node:module";
import type { Knex } from "knex";

/**
 * knex's SQLite client (node-sqlite3), with each connection's prepared statements kept for reuse.
 * knex prepares and finalizes a statement per query: two thread-pool round trips (prepare, then
 * step) and SQLite's parse and plan each time. A kept statement is one round trip (bind + step).
 * A statement always runs to completion here (knex uses `all` for anything that returns rows, `run`
 * only for writes), so a kept statement holds no read snapshot between queries.
 */
const require = createRequire(import.meta.url);
// knex ships its dialects as CommonJS classes without typings.
const ClientSqlite3 = require("knex/lib/dialects/sqlite3/index.js") as typeof Knex.Client;

/** Statements kept per connection (least recently used dropped first); multi-row variants count apart. */
export const STATEMENTS_PER_CONNECTION = 256;

interface SqliteStatement {
  all(params: unknown[], cb: (this: SqliteStatement, err: Error | null, rows: unknown) => void): void;
  run(
    params: unknown[],
    cb: (this: SqliteStatement & { lastID: number; changes: number }, err: Error | null) => void,
  ): void;
  finalize(cb?: () => void): void;
}
interface SqliteConnection {
  prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement;
  close(cb: (err: Error | null) => void): void;
}

/** Per connection: SQL text → the statement once prepared (a failed prepare is not kept). Map order is LRU order. */
const kept = new WeakMap<SqliteConnection, Map<string, Promise<SqliteStatement>>>();

function statementFor(connection: SqliteConnection, sql: string): Promise<SqliteStatement> {
  let cache = kept.get(connection);
  if (!cache) kept.set(connection, (cache = new Map()));
  const hit = cache.get(sql);
  if (hit) {
    cache.delete(sql);
    cache.set(sql, hit);
    return hit;
  }
  // Calls queued on a statement whose prepare fails are dropped by node-sqlite3: wait for the prepare.
  const ready = new Promise<SqliteStatement>((resolve, reject) => {
    const stmt = connection.prepare(sql, (err) => {
      if (!err) return resolve(stmt);
      if (cache!.get(sql) === ready) cache!.delete(sql);
      reject(err);
    });
  });
  cache.set(sql, ready);
  if (cache.size > STATEMENTS_PER_CONNECTION) {
    const [oldest, s] = cache.entries().next().value as [string, Promise<SqliteStatement>];
    cache.delete(oldest);
    s.then(
      (st) => st.finalize(),
      () => undefined,
    ); // finalize runs after any call still queued on it
  }
  return ready;
}

/**
 * A trailing `limit ?` (and `offset ?`) with whole-number bindings, written into the SQL as literals.
 * SQLite plans a bound LIMIT by its value, so such a statement carries an "expires when rebound" mask,
 * and node-sqlite3 clears the bindings before each run: every run of a kept statement was re-prepared
 * (measured: 8 % of the RA benchmark's CPU). knex binds the LIMIT of every `.first()`.
 */
export function literalLimit(sql: string, bindings: unknown[]): { sql: string; bindings: unknown[] } {
  const m = / limit \?( offset \?)?$/i.exec(sql);
  if (!m) return { sql, bindings };
  const n = m[1] ? 2 : 1;
  const values = bindings.slice(bindings.length - n);
  if (values.length !== n || !values.every((v) => Number.isSafeInteger(v) && (v as number) >= 0))
    return { sql, bindings };
  const text = m[1] ? ` limit ${values[0]} offset ${values[1]}` : ` limit ${values[0]}`;
  return { sql: sql.slice(0, m.index) + text, bindings: bindings.slice(0, bindings.length - n) };
}

/** The knex client class: `client: CachedStatementsSqlite3` in a knex config. */
export class CachedStatementsSqlite3 extends ClientSqlite3 {
  _query(
    connection: SqliteConnection,
    obj: {
      sql?: string;
      method?: string;
      returning?: unknown;
      bindings?: unknown[];
      response?: unknown;
      context?: unknown;
    },
  ): Promise<unknown> {
    // A writer's transactions take the write lock at BEGIN (see database.ts sqliteKnex).
    const immediate = (this as { config?: { connection?: { immediateTransactions?: boolean } } }).config?.connection
      ?.immediateTransactions;
    const begin = obj.sql === "BEGIN;" && immediate ? "BEGIN IMMEDIATE;" : obj.sql;
    if (!begin) return Promise.reject(new Error("The query is empty"));
    const { sql, bindings } = literalLimit(begin, obj.bindings ?? []);
    // As knex's own client: rows for anything that may return them, `run` (changes, lastID) for plain writes.
    const method =
      obj.method === "insert" || obj.method === "update"
        ? obj.returning
          ? "all"
          : "run"
        : obj.method === "counter" || obj.method === "del"
          ? "run"
          : "all";
    return statementFor(connection, sql).then(
      (stmt) =>
        new Promise((resolve, reject) => {
          const done = function (this: unknown, err: Error | null, rows?: unknown) {
            if (err) return reject(err);
            obj.response = rows;
            obj.context = this; // lastID and changes, as knex's processResponse reads them
            resolve(obj);
          };
          if (method === "run") stmt.run(bindings, done);
          else stmt.all(bindings, done);
        }),
    );
  }

  override async destroyRawConnection(connection: SqliteConnection): Promise<void> {
    const cache = kept.get(connection);
    if (cache) {
      const ready = await Promise.allSettled(cache.values());
      await Promise.all(
        ready.map((s) =>
          s.status === "fulfilled" ? new Promise<void>((r) => s.value.finalize(() => r())) : undefined,
        ),
      );
      kept.delete(connection);
    }
    await new Promise<void>((resolve, reject) => connection.close((err) => (err ? reject(err) : resolve())));
  }
}

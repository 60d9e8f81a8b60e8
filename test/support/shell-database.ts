import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * A demo database as an operator (or an attacker with database access) reaches it from a shell:
 * the sqlite3 tool for SQLite, psql / pg_dump / pg_restore for PostgreSQL. Synchronous, like the
 * CLI calls the integration tests make around it.
 */
export interface ShellDatabase {
  /** The DATABASE_URL of this database. */
  readonly url: string;
  /** Runs SQL; the rows of the last statement, columns separated by '|', one row per line. */
  sql(statements: string): string;
  /** A private copy (consistent while others write to this one), named after `name`. */
  copy(name: string): ShellDatabase;
  /** Every row of `table` in `from` (a copy of the same schema) added to this database. */
  copyRows(table: string, from: ShellDatabase): void;
  /**
   * Puts `other`'s content in place of this database's, as restoring an old backup by hand would; nobody may be
   * connected.
   */
  replaceWith(other: ShellDatabase): void;
  /** Everything the database stores, as bytes (its files, or a plain dump), to search for what must never be stored. */
  rawBytes(): Buffer;
}

export function shellDatabase(url: string, scratchDir: string): ShellDatabase {
  return url.startsWith("sqlite:")
    ? sqliteDatabase(url.slice("sqlite:".length), scratchDir)
    : postgresDatabase(url, scratchDir);
}

function check(tool: string, r: ReturnType<typeof spawnSync>): string {
  if (r.status !== 0) throw new Error(`${tool}: ${r.stderr?.toString() || r.error?.message || `exit ${r.status}`}`);
  return r.stdout?.toString() ?? "";
}

function sqliteDatabase(file: string, scratchDir: string): ShellDatabase & { file: string } {
  const sql = (s: string) => check("sqlite3", spawnSync("sqlite3", [file, s], { encoding: "utf8" })).trim();
  return {
    url: `sqlite:${file}`,
    file,
    sql,
    copy(name) {
      const to = join(scratchDir, `${name}.db`);
      sql(`.backup '${to}'`);
      return sqliteDatabase(to, scratchDir);
    },
    copyRows(table, from) {
      sql(
        `ATTACH '${(from as ShellDatabase & { file: string }).file}' AS b; INSERT ` +
          `INTO ${table} SELECT * FROM b.${table};`,
      );
    },
    replaceWith(other) {
      copyFileSync((other as ShellDatabase & { file: string }).file, file);
      for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    },
    rawBytes() {
      return Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    },
  };
}

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};
const databaseName = (url: string) => new URL(url).pathname.slice(1);
const psql = (url: string, args: string[], input?: string) =>
  check(
    "psql",
    spawnSync("psql", ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, ...args], {
      encoding: "utf8",
      input: input ?? "",
    }),
  );

/** A new, empty database on the server of `url` (t_* : scripts/lib/postgres.sh start drops those of earlier runs). */
export function createPostgresDatabase(url: string): string {
  const name = `t_${randomBytes(6).toString("hex")}`;
  psql(url, ["-c", `CREATE DATABASE ${name}`]);
  return withDatabase(url, name);
}

function postgresDatabase(url: string, scratchDir: string): ShellDatabase {
  return {
    url,
    sql: (s) => psql(url, ["-c", s]).trim(),
    copy() {
      const to = createPostgresDatabase(url);
      const dump = execFileSync("pg_dump", ["-Fc", "-d", url], { maxBuffer: 1 << 30 });
      execFileSync("pg_restore", ["--no-owner", "--exit-on-error", "-d", to], {
        input: dump,
        stdio: ["pipe", "ignore", "pipe"],
      });
      return postgresDatabase(to, scratchDir);
    },
    copyRows(table, from) {
      const rows = psql(from.url, ["-c", `\\copy ${table} TO pstdout`]);
      psql(url, ["-c", `\\copy ${table} FROM pstdin`], rows);
    },
    replaceWith(other) {
      const name = databaseName(url);
      // From another database of the server: one cannot drop the database one is connected to.
      const admin = withDatabase(url, "postgres");
      psql(admin, [
        "-c",
        `DROP DATABASE ${name} WITH (FORCE)`,
        "-c",
        `CREATE DATABASE ${name} TEMPLATE ${databaseName(other.url)}`,
      ]);
    },
    rawBytes() {
      return execFileSync("pg_dump", ["-d", url], { maxBuffer: 1 << 30 });
    },
  };
}

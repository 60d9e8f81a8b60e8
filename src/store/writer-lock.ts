import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import pg from "pg";
import { CaError } from "../shared/ca-error.js";
import { sqliteFile } from "./database.js";

/**
 * The CA/RA writer's lease (REQ-33): one process at a time signs CRLs, runs crash
 * recovery, the RA and the audit checkpoints for a database. PostgreSQL: a session advisory lock
 * on a connection of its own, so it is released the moment that process or its connection dies.
 * SQLite (one machine): a lock file beside the database, naming the holder's host and pid.
 */
export interface WriterLock {
  /** Describes the holder for logs ("postgres advisory lock 7021..."). */
  readonly description: string;
  /** Settles when the lease is lost (connection gone, lock file replaced); the holder must stop signing. */
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

/** The advisory lock key: the first 8 bytes of SHA-256("cardpki-ca-writer") as a signed 64-bit integer. */
export const WRITER_LOCK_KEY = "-3919873346052873196";

export interface WriterLockOptions {
  /** How often the lease is checked (PostgreSQL: a round trip on the lock's connection). */
  readonly checkMs?: number;
}

/** Tries once; undefined when another process holds the lease. */
export async function tryWriterLock(url: string, opts: WriterLockOptions = {}): Promise<WriterLock | undefined> {
  const checkMs = opts.checkMs ?? 2000;
  if (/^postgres(ql)?:\/\//.test(url)) return tryPostgresLock(url, checkMs);
  const file = sqliteFile(url);
  if (file === undefined || file === ":memory:")
    throw new CaError("config", `no writer lock for database URL '${url}'`);
  return tryFileLock(`${file}.writer.lock`, checkMs);
}

async function tryPostgresLock(url: string, checkMs: number): Promise<WriterLock | undefined> {
  const client = new pg.Client({ connectionString: url, keepAlive: true, application_name: "cardpki-writer-lock" });
  try {
    await client.connect();
  } catch (e) {
    throw new CaError("unavailable", `database: ${(e as Error).message}`);
  }
  const got = await client
    .query("SELECT pg_try_advisory_lock($1::bigint) AS ok", [WRITER_LOCK_KEY])
    .catch(async (e) => {
      await client.end().catch(() => undefined);
      throw new CaError("unavailable", `database: ${(e as Error).message}`);
    });
  if (!got.rows[0]?.ok) {
    await client.end().catch(() => undefined);
    return undefined;
  }
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<Error>((resolve) => {
    const lose = (why: string) => {
      if (released) return;
      released = true;
      clearInterval(timer);
      void client.end().catch(() => undefined);
      resolve(new CaError("unavailable", `writer lock lost: ${why}`));
    };
    client.on("error", (e) => lose(e.message));
    client.on("end", () => lose("connection closed"));
    // A silent network split shows here: the check fails or times out.
    timer = setInterval(() => {
      const t = setTimeout(() => lose(`no answer within ${checkMs} ms`), checkMs);
      client.query("SELECT 1").then(
        () => clearTimeout(t),
        (e: Error) => {
          clearTimeout(t);
          lose(e.message);
        },
      );
    }, checkMs);
    timer.unref();
  });
  return {
    description: `postgres advisory lock ${WRITER_LOCK_KEY}`,
    lost,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      await client.query("SELECT pg_advisory_unlock($1::bigint)", [WRITER_LOCK_KEY]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

interface FileLockContent {
  readonly host: string;
  readonly pid: number;
  readonly token: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(file: string): FileLockContent | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as FileLockContent;
  } catch {
    return undefined;
  }
}

async function tryFileLock(file: string, checkMs: number): Promise<WriterLock | undefined> {
  const me: FileLockContent = {
    host: hostname(),
    pid: process.pid,
    token: `${process.pid}-${process.hrtime.bigint()}`,
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600); // O_EXCL: exactly one creator wins
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new CaError("unavailable", `writer lock ${file}: ${(e as Error).message}`);
      const holder = readLock(file);
      // A holder on this host that no longer runs left a stale lock: take it over once.
      if (attempt === 0 && holder && holder.host === me.host && !alive(holder.pid)) {
        unlinkSync(file);
        continue;
      }
      return undefined;
    }
  }
  if (readLock(file)?.token !== me.token) return undefined;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<Error>((resolve) => {
    timer = setInterval(() => {
      if (released) return;
      const now = existsSync(file) ? readLock(file) : undefined;
      if (now?.token === me.token) return;
      released = true;
      clearInterval(timer);
      resolve(new CaError("unavailable", `writer lock lost: ${file} was removed or replaced`));
    }, checkMs);
    timer.unref();
  });
  return {
    description: `lock file ${file}`,
    lost,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (readLock(file)?.token === me.token) unlinkSync(file);
    },
  };
}

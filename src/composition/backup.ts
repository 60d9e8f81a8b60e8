import { createCipheriv, createDecipheriv } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CaError } from "../shared/ca-error.js";
import { newId } from "../shared/ids.js";
import { KnexAuditStore } from "../store/audit.store.js";
import { recordAuditEvent } from "../store/commit-queue.js";
import { cryptoRandom } from "../shared/random.js";
import { sha256Hex } from "../shared/digest.js";
import { sqliteFile } from "../store/database.js";
import { ownerOnlyKey } from "./key-file.js";
import type { Config } from "./config.js";
import type { Parts } from "./parts.js";
import type { Random } from "../shared/random.js";

const MAGIC = "CARDPKI-BACKUP-1";

export interface BackupHeader {
  readonly format: typeof MAGIC;
  readonly createdAt: string;
  readonly database: "sqlite" | "postgres";
  readonly auditHead: { readonly seq: number; readonly entryHash: string } | null;
  /** SHA-256 of the plaintext dump. */
  readonly sha256: string;
}

const backupKey = (file: string, random: Random) => ownerOnlyKey(file, random, { what: "backup key", exact: true });

/** pg_dump / pg_restore get the password through the environment: in argv every local user could read it (ps). */
function pgTool(url: string): { database: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = "";
  return { database: u.toString(), env: password ? { ...process.env, PGPASSWORD: password } : process.env };
}

/**
 * REQ-30: a consistent online backup (SQLite VACUUM INTO, PostgreSQL pg_dump -Fc), encrypted with
 * AES-256-GCM under the backup key (`backup.keyFile`; keep a copy of it away from the backups);
 * the header (authenticated, not secret) names the audit head it contains.
 */
export async function createBackup(
  rt: Parts<"clock" | "config" | "db" | "random">,
  out: string,
  operator: string,
): Promise<BackupHeader> {
  if (existsSync(out)) throw new CaError("conflict", `${out} exists; refusing to overwrite`);
  const file = sqliteFile(rt.config.databaseUrl);
  let plain: Buffer;
  if (file) {
    const tmp = join(dirname(out), `.cardpki-backup-${process.pid}.db`);
    rmSync(tmp, { force: true });
    try {
      await rt.db.raw("VACUUM INTO ?", [tmp]);
      plain = readFileSync(tmp);
    } finally {
      rmSync(tmp, { force: true });
    }
  } else {
    const pg = pgTool(rt.config.databaseUrl);
    plain = execFileSync("pg_dump", ["-Fc", "-d", pg.database], { maxBuffer: 1 << 30, env: pg.env });
  }
  const head = await new KnexAuditStore(rt.db).head();
  const header: BackupHeader = {
    format: MAGIC,
    createdAt: rt.clock.now().toISOString(),
    database: file ? "sqlite" : "postgres",
    auditHead: head ? { seq: head.seq, entryHash: head.entryHash } : null,
    sha256: sha256Hex(plain),
  };
  const headerText = JSON.stringify(header);
  const iv = rt.random.bytes(12);
  const c = createCipheriv("aes-256-gcm", backupKey(rt.config.backup.keyFile, rt.random), iv);
  c.setAAD(Buffer.from(headerText));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  writeFileSync(out, Buffer.concat([Buffer.from(`${MAGIC}\n${headerText}\n`), iv, c.getAuthTag(), ct]), {
    flag: "wx",
    mode: 0o600,
  });
  await recordAuditEvent(rt.db, {
    id: newId(rt.random),
    at: rt.clock.now(),
    actor: operator.startsWith("os:") ? operator : `operator:${operator}`,
    action: "backup.create",
    objectType: "backup",
    objectId: out.slice(-128),
    outcome: "success",
    details: { database: header.database, auditHead: header.auditHead, sha256: header.sha256, bytes: plain.length },
  });
  return header;
}

/** Reads and decrypts a backup; a wrong key or a changed byte is refused. */
export function openBackup(config: Config, from: string): { header: BackupHeader; plain: Buffer } {
  const raw = readFileSync(from);
  const first = raw.indexOf(0x0a);
  const second = raw.indexOf(0x0a, first + 1);
  if (first < 0 || second < 0 || raw.subarray(0, first).toString() !== MAGIC)
    throw new CaError("invalid-input", `${from} is not a cardpki backup`);
  const headerText = raw.subarray(first + 1, second).toString();
  const header = JSON.parse(headerText) as BackupHeader;
  const body = raw.subarray(second + 1);
  let plain: Buffer;
  try {
    const d = createDecipheriv("aes-256-gcm", backupKey(config.backup.keyFile, cryptoRandom), body.subarray(0, 12));
    d.setAAD(Buffer.from(headerText));
    d.setAuthTag(body.subarray(12, 28));
    plain = Buffer.concat([d.update(body.subarray(28)), d.final()]);
  } catch {
    throw new CaError(
      "invalid-input",
      `${from}: does not decrypt with the backup key ${config.backup.keyFile} (wrong key, or the file was changed)`,
    );
  }
  if (sha256Hex(plain) !== header.sha256)
    throw new CaError("invalid-input", `${from}: content does not match its SHA-256`);
  return { header, plain };
}

/**
 * Restores a backup over the configured database (the service must be stopped). The next start
 * refuses to sign until `cardpki audit reconcile`, when the restore went back behind the audit
 * checkpoint kept outside the database.
 */
export async function restoreBackup(config: Config, from: string): Promise<BackupHeader> {
  const { header, plain } = openBackup(config, from);
  const file = sqliteFile(config.databaseUrl);
  if ((header.database === "sqlite") !== (file !== undefined))
    throw new CaError("invalid-input", `${from} is a ${header.database} backup; the configured database is not`);
  if (file) {
    const tmp = `${file}.restore-${process.pid}`;
    writeFileSync(tmp, plain, { mode: 0o600 });
    for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    renameSync(tmp, file);
  } else {
    // One transaction: a restore that fails half way leaves the database as it was, not half dropped.
    const pg = pgTool(config.databaseUrl);
    execFileSync(
      "pg_restore",
      ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error", "-d", pg.database],
      { input: plain, maxBuffer: 1 << 30, env: pg.env },
    );
  }
  return header;
}

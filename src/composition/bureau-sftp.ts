import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { CaError } from "../shared/ca-error.js";
import type { DropFolder } from "./bureau-drop.js";

/**
 * The drop folder over SFTP, through OpenSSH's `sftp` client in batch mode: key-only login
 * (BatchMode, the given identity only), the server's host key pinned in a known_hosts file
 * (StrictHostKeyChecking). Files are put under `.part` and renamed, as in the plain folder.
 */
export function sftpDrop(url: string, o: { identity: string; knownHosts: string }): DropFolder {
  const m =
    /^sftp:\/\/([a-z_][a-z0-9_-]{0,31})@([A-Za-z0-9.-]+|\[[0-9a-f:]+\]):([0-9]{1,5})(\/[A-Za-z0-9._/-]*)?$/.exec(url);
  if (!m) throw new CaError("invalid-input", `--sftp '${url}' is not sftp://user@host:port/path`);
  const [, user, host, port, path] = m as unknown as [string, string, string, string, string | undefined];
  const base = path && path !== "/" ? path.replace(/\/$/, "") : ".";
  const run = (script: string[]): string => {
    const r = spawnSync(
      "sftp",
      [
        "-b",
        "-",
        "-P",
        port,
        "-i",
        o.identity,
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        `UserKnownHostsFile=${o.knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=10",
        `${user}@${host}`,
      ],
      { input: script.join("\n") + "\n", encoding: "utf8", timeout: 60_000 },
    );
    if (r.status !== 0)
      throw new CaError(
        "unavailable",
        `sftp to ${host}:${port} failed: ${[r.stderr, r.stdout, r.error ? String(r.error) : ""].join(" ").trim()}`,
        undefined,
        {
          code: "bureau.sftp-failed",
        },
      );
    return r.stdout;
  };
  const q = (p: string) => `"${p.replace(/["\\]/g, "")}"`;
  const remote = (box: string, name: string) => posix.join(base, box, name);
  return {
    where: url,
    async put(box, name, data) {
      const dir = mkdtempSync(join(tmpdir(), "cardpki-sftp-"));
      try {
        const local = join(dir, "f");
        writeFileSync(local, data, { mode: 0o600 });
        const to = remote(box, name);
        run([
          `-mkdir ${q(posix.dirname(to))}`,
          `put ${q(local)} ${q(`${to}.part`)}`,
          `-rm ${q(to)}`,
          `rename ${q(`${to}.part`)} ${q(to)}`,
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async list(box) {
      const out = run([`-mkdir ${q(posix.join(base, box))}`, `ls -l ${q(posix.join(base, box))}`]);
      // Regular files only (mode string starting with '-'); the name is the last field (names have no spaces).
      return out
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith("-"))
        .map((l) => posix.basename(l.split(/\s+/).pop()!))
        .filter((n) => !n.endsWith(".part"))
        .sort();
    },
    async get(box, name) {
      const dir = mkdtempSync(join(tmpdir(), "cardpki-sftp-"));
      try {
        const local = join(dir, "f");
        run([`get ${q(remote(box, name))} ${q(local)}`]);
        return new Uint8Array(readFileSync(local));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async file(name, to) {
      const dest = posix.join(base, "from-bureau", to);
      run([`-mkdir ${q(dest)}`, `rename ${q(remote("from-bureau", name))} ${q(posix.join(dest, name))}`]);
    },
  };
}

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * A drop folder shared with the card bureau: `to-bureau/` (batch files, certificate return files)
 * and `from-bureau/` (answers and status files; taken ones move to `done/`, refused ones to
 * `refused/` with their report). Plain folders here; SFTP in bureau-sftp.ts.
 */
export interface DropFolder {
  readonly where: string;
  put(box: "to-bureau" | "from-bureau", name: string, data: Uint8Array): Promise<void>;
  list(box: "to-bureau" | "from-bureau"): Promise<string[]>;
  get(box: "to-bureau" | "from-bureau", name: string): Promise<Uint8Array>;
  /** Moves a file of from-bureau to from-bureau/done or from-bureau/refused. */
  file(name: string, to: "done" | "refused"): Promise<void>;
}

/** Written under a temporary name, then renamed: the other side never reads half a file. */
function writeWhole(file: string, data: Uint8Array): void {
  writeFileSync(`${file}.part`, data, { mode: 0o640 });
  renameSync(`${file}.part`, file);
}

export function folderDrop(root: string): DropFolder {
  const box = (b: string) => {
    const d = join(root, b);
    mkdirSync(d, { recursive: true });
    return d;
  };
  return {
    where: root,
    async put(b, name, data) {
      const f = join(box(b), name);
      mkdirSync(dirname(f), { recursive: true });
      writeWhole(f, data);
    },
    async list(b) {
      const d = box(b);
      return readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.endsWith(".part"))
        .map((e) => e.name)
        .sort();
    },
    async get(b, name) {
      return new Uint8Array(readFileSync(join(box(b), name)));
    },
    async file(name, to) {
      const from = join(box("from-bureau"), name);
      const dest = box(join("from-bureau", to));
      if (existsSync(from)) renameSync(from, join(dest, name));
    },
  };
}

import { readFileSync, statSync } from "node:fs";
import { CaError } from "../shared/ca-error.js";
import type { PopulationRegister, RegisterStatus } from "../ra/ports.js";

const STATUSES: readonly RegisterStatus[] = ["alive", "deceased", "missing", "incapacitated"];

/**
 * A file-backed stand-in for the population register (REQ-07), for the demo and tests:
 * `{ "people": { "<national id>": { "status": "alive", "name": "..." } } }`. Production wires
 * an adapter to the real register behind the same port.
 */
export function fileRegister(path: string): PopulationRegister {
  let cache: { mtimeMs: number; people: Record<string, { status: RegisterStatus; name?: string }> } | undefined;
  const load = () => {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new CaError("unavailable", `register file ${path} is missing`);
    }
    if (!cache || cache.mtimeMs !== st.mtimeMs) {
      const doc = JSON.parse(readFileSync(path, "utf8")) as { people?: Record<string, { status: RegisterStatus; name?: string }> };
      if (!doc.people || typeof doc.people !== "object") throw new CaError("config", `register file ${path} has no 'people' object`);
      for (const [k, v] of Object.entries(doc.people)) if (!STATUSES.includes(v.status)) throw new CaError("config", `register file ${path}: ${k} has unknown status '${v.status}'`);
      cache = { mtimeMs: st.mtimeMs, people: doc.people };
    }
    return cache.people;
  };
  return {
    source: `file:${path}`,
    async lookup(nationalId) {
      const e = load()[nationalId.replace(/[\s-]/g, "").toUpperCase()];
      return e ? { status: e.status, ...(e.name ? { name: e.name } : {}) } : { status: "not-found" };
    },
  };
}

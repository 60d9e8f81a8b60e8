import { readFileSync, statSync } from "node:fs";
import { CaError } from "../shared/ca-error.js";
import type { DocumentRegister, PopulationRegister, RegisteredName, RegisterStatus } from "../ra/ports.js";

const STATUSES: readonly RegisterStatus[] = ["alive", "deceased", "missing", "incapacitated"];
const REASONS = ["lost", "stolen", "invalidated"];

/** A JSON file read again whenever it changes; a missing file means the register does not answer. */
function watchedJson<T>(path: string, parse: (doc: any) => T): () => T {
  let cache: { mtimeMs: number; value: T } | undefined;
  return () => {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new CaError("unavailable", `register file ${path} is missing`, undefined, { code: "register.unavailable" });
    }
    if (!cache || cache.mtimeMs !== st.mtimeMs) {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(path, "utf8"));
      } catch (e) {
        throw new CaError("config", `register file ${path}: ${(e as Error).message}`);
      }
      cache = { mtimeMs: st.mtimeMs, value: parse(doc) };
    }
    return cache.value;
  };
}

const normalise = (s: string) => s.replace(/[\s-]/g, "").toUpperCase();

interface RegisterEntry {
  readonly status: RegisterStatus;
  /** The full name; when absent, given name and surname joined by a space. */
  readonly name?: string;
  readonly givenName?: string;
  readonly surname?: string;
}

/** REQ-07: the registered name of an entry, when the entry has one. */
function registeredName(e: RegisterEntry): RegisteredName | undefined {
  const fullName = e.name ?? (e.givenName && e.surname ? `${e.givenName} ${e.surname}` : undefined);
  if (!fullName) return undefined;
  return { fullName, ...(e.givenName ? { givenName: e.givenName } : {}), ...(e.surname ? { surname: e.surname } : {}) };
}

/**
 * A file-backed stand-in for the population register (REQ-07), for the demo and tests:
 * `{ "people": { "<national id>": { "status": "alive", "givenName": "...", "surname": "...", "name": "<full name>" } }
 * }`
 * (`name` defaults to given name and surname). Production wires an adapter to the real register
 * behind the same port.
 */
export function fileRegister(path: string): PopulationRegister {
  const load = watchedJson(path, (doc: { people?: Record<string, RegisterEntry> }) => {
    if (!doc?.people || typeof doc.people !== "object")
      throw new CaError("config", `register file ${path} has no 'people' object`);
    for (const [k, v] of Object.entries(doc.people)) {
      if (!STATUSES.includes(v?.status))
        throw new CaError("config", `register file ${path}: ${k} has unknown status '${v?.status}'`);
      for (const f of ["name", "givenName", "surname"] as const)
        if (v[f] !== undefined && (typeof v[f] !== "string" || v[f].length === 0))
          throw new CaError("config", `register file ${path}: ${k}.${f} must be a non-empty string`);
    }
    return doc.people;
  });
  return {
    source: `file:${path}`,
    async lookup(nationalId) {
      const e = load()[normalise(nationalId)];
      if (!e) return { status: "not-found" };
      const name = registeredName(e);
      return { status: e.status, ...(name ? { name } : {}) };
    },
  };
}

/**
 * A file-backed stand-in for the lost/stolen document register (REQ-05):
 * `{ "documents": [{ "type": "passport", "number": "AA1234567", "reason": "stolen" }] }`.
 */
export function fileDocumentRegister(path: string): DocumentRegister {
  const load = watchedJson(path, (doc: { documents?: { type: string; number: string; reason: string }[] }) => {
    if (!Array.isArray(doc?.documents))
      throw new CaError("config", `document register file ${path} has no 'documents' list`);
    const byKey = new Map<string, string>();
    for (const d of doc.documents) {
      if (typeof d?.type !== "string" || typeof d.number !== "string" || !REASONS.includes(d.reason))
        throw new CaError(
          "config",
          `document register file ${path}: each entry needs type, number and a reason (${REASONS.join(", ")})`,
        );
      byKey.set(`${d.type}:${normalise(d.number)}`, d.reason);
    }
    return byKey;
  });
  return {
    source: `file:${path}`,
    async lookup(d) {
      const reason = load().get(`${d.type}:${normalise(d.number)}`);
      return reason ? { reported: true, reason } : { reported: false };
    },
  };
}

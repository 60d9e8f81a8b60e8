import { readFileSync, statSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { CaError } from "../shared/ca-error.js";
import { schemaErrorText } from "../shared/schema-errors.js";
import { Closed, Enum } from "../shared/schema-types.js";
import type { DocumentRegister, PopulationRegister, RegisteredName } from "../ra/ports.js";

const NonEmpty = Type.String({ minLength: 1 });
/** One person of the file register: the status, and the name as the register holds it (REQ-07). */
const REGISTER_ENTRY = Closed({
  status: Enum(["alive", "deceased", "missing", "incapacitated"] as const),
  /** The full name; when absent, given name and surname joined by a space. */
  name: Type.Optional(NonEmpty),
  givenName: Type.Optional(NonEmpty),
  surname: Type.Optional(NonEmpty),
});
type RegisterEntry = Static<typeof REGISTER_ENTRY>;
const REGISTER_FILE = Closed({ people: Type.Record(Type.String(), REGISTER_ENTRY) });
const DOCUMENT_REGISTER_FILE = Closed({
  documents: Type.Array(
    Closed({ type: Type.String(), number: Type.String(), reason: Enum(["lost", "stolen", "invalidated"] as const) }),
  ),
});
const ajv = new Ajv({ allErrors: true, strict: true });
const checkRegister = ajv.compile<Static<typeof REGISTER_FILE>>(REGISTER_FILE);
const checkDocumentRegister = ajv.compile<Static<typeof DOCUMENT_REGISTER_FILE>>(DOCUMENT_REGISTER_FILE);

/**
 * A JSON file read again whenever it changes, checked against its schema (refused naming each bad field); a missing
 * file means the register does not answer.
 */
function watchedJson<D, T>(path: string, what: string, check: ValidateFunction<D>, parse: (doc: D) => T): () => T {
  let cache: { mtimeMs: number; value: T } | undefined;
  return () => {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new CaError("unavailable", `${what} ${path} is missing`, undefined, { code: "register.unavailable" });
    }
    if (!cache || cache.mtimeMs !== st.mtimeMs) {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(path, "utf8"));
      } catch (e) {
        throw new CaError("config", `${what} ${path}: ${(e as Error).message}`);
      }
      if (!check(doc)) throw new CaError("config", `${what} ${path}: ${schemaErrorText(check.errors)}`);
      cache = { mtimeMs: st.mtimeMs, value: parse(doc) };
    }
    return cache.value;
  };
}

const normalise = (s: string) => s.replace(/[\s-]/g, "").toUpperCase();

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
  const load = watchedJson(path, "register file", checkRegister, (doc) => doc.people);
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
  const load = watchedJson(
    path,
    "document register file",
    checkDocumentRegister,
    (doc) => new Map<string, string>(doc.documents.map((d) => [`${d.type}:${normalise(d.number)}`, d.reason])),
  );
  return {
    source: `file:${path}`,
    async lookup(d) {
      const reason = load().get(`${d.type}:${normalise(d.number)}`);
      return reason ? { reported: true, reason } : { reported: false };
    },
  };
}

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { IntlMessageFormat } from "intl-messageformat";
import { CaError } from "../shared/ca-error.js";
import { LANGUAGES, type Language } from "./languages.js";

/** The catalogues: one JSON file per language and name, `{ section: { key: ICU message } }`. */
export type CatalogueName = "refusals" | "notifications";
export type MessageValue = string | number | boolean | Date;

/** The project folder's `locales/`: found upwards from this module (src/i18n or dist/src/i18n). */
export function localesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "locales", "en", "refusals.json"))) return join(dir, "locales");
    dir = resolve(dir, "..");
  }
  throw new CaError("config", "the message catalogues (locales/<lang>/*.json) were not found beside the program");
}

/** One catalogue in every language: flat keys `section.key`, compiled on first use. */
export class Catalogue {
  private readonly messages = new Map<Language, ReadonlyMap<string, string>>();
  private readonly compiled = new Map<string, IntlMessageFormat>();

  constructor(
    readonly name: CatalogueName,
    dir: string = localesDir(),
  ) {
    for (const lang of LANGUAGES) {
      const file = join(dir, lang, `${name}.json`);
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, "utf8"));
      } catch (e) {
        throw new CaError("config", `message catalogue ${file}: ${(e as Error).message}`);
      }
      this.messages.set(lang, flatten(doc, file));
    }
  }

  /** Every key of one language (the unit test checks that all languages have the same). */
  keys(lang: Language): string[] {
    return [...this.messages.get(lang)!.keys()];
  }

  has(key: string, lang: Language = "en"): boolean {
    return this.messages.get(lang)!.has(key);
  }

  /** The raw ICU message, for checks. */
  source(lang: Language, key: string): string | undefined {
    return this.messages.get(lang)!.get(key);
  }

  /**
   * The message in `lang` (English when a key is missing there), placeholders filled; undefined when no language has
   * the key.
   */
  format(lang: Language, key: string, values: Record<string, MessageValue> = {}): string | undefined {
    const use = this.messages.get(lang)!.has(key) ? lang : this.messages.get("en")!.has(key) ? "en" : undefined;
    if (!use) return undefined;
    const id = `${use}\u0000${key}`;
    let f = this.compiled.get(id);
    if (!f) {
      f = new IntlMessageFormat(this.messages.get(use)!.get(key)!, use, undefined, { ignoreTag: true });
      this.compiled.set(id, f);
    }
    let out;
    try {
      out = f.format(values);
    } catch {
      // A placeholder the thrower did not fill: the words still go out, with that part left empty.
      const filled: Record<string, MessageValue> = { ...values };
      for (const n of argumentNames(f.getAst() as unknown[])) if (!(n in filled)) filled[n] = "";
      out = f.format(filled);
    }
    return Array.isArray(out) ? out.join("") : String(out);
  }
}

function argumentNames(nodes: readonly unknown[], out: Set<string> = new Set()): Set<string> {
  for (const n of nodes as { type: number; value?: string; options?: Record<string, { value: unknown[] }> }[]) {
    if (n.type >= 1 && n.type <= 6 && typeof n.value === "string") out.add(n.value);
    if (n.options) for (const o of Object.values(n.options)) argumentNames(o.value, out);
  }
  return out;
}

function flatten(doc: unknown, file: string): Map<string, string> {
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new CaError("config", `message catalogue ${file}: expected an object of sections`);
  const out = new Map<string, string>();
  for (const [section, entries] of Object.entries(doc as Record<string, unknown>)) {
    if (section.startsWith("//")) continue; // a comment for translators
    if (!entries || typeof entries !== "object" || Array.isArray(entries))
      throw new CaError("config", `message catalogue ${file}: section '${section}' is not an object`);
    for (const [key, v] of Object.entries(entries as Record<string, unknown>)) {
      if (key.startsWith("//")) continue;
      if (typeof v !== "string")
        throw new CaError("config", `message catalogue ${file}: ${section}.${key} is not a string`);
      out.set(`${section}.${key}`, v);
    }
  }
  return out;
}

const shared = new Map<CatalogueName, Catalogue>();
/** The catalogue of the project's `locales/`, loaded once per process. */
export function catalogue(name: CatalogueName): Catalogue {
  let c = shared.get(name);
  if (!c) {
    c = new Catalogue(name);
    shared.set(name, c);
  }
  return c;
}

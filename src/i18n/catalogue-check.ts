import { IntlMessageFormat } from "intl-messageformat";
import { Catalogue, type CatalogueName } from "./catalogue.js";
import { LANGUAGES } from "./languages.js";

/** The argument names an ICU message uses (`{action}`, `{n, plural, ...}`), nested ones included. */
export function placeholders(message: string, lang: string): Set<string> {
  const out = new Set<string>();
  const walk = (nodes: readonly unknown[]) => {
    for (const n of nodes as {
      type: number;
      value?: string;
      options?: Record<string, { value: unknown[] }>;
      children?: unknown[];
    }[]) {
      if (n.type >= 1 && n.type <= 6 && typeof n.value === "string") out.add(n.value);
      if (n.options) for (const o of Object.values(n.options)) walk(o.value);
      if (n.children) walk(n.children);
    }
  };
  walk(new IntlMessageFormat(message, lang, undefined, { ignoreTag: true }).getAst() as unknown[]);
  return out;
}

/**
 * What is wrong with a catalogue: a key one language lacks, a message that does not parse, or a
 * message whose placeholders differ from the English one. Empty when all three languages agree.
 */
export function catalogueProblems(name: CatalogueName, dir?: string): string[] {
  let c: Catalogue;
  try {
    c = dir ? new Catalogue(name, dir) : new Catalogue(name);
  } catch (e) {
    return [(e as Error).message];
  }
  const problems: string[] = [];
  const en = new Set(c.keys("en"));
  for (const lang of LANGUAGES) {
    const keys = new Set(c.keys(lang));
    for (const k of en) if (!keys.has(k)) problems.push(`${name}: ${lang} lacks ${k}`);
    for (const k of keys) if (!en.has(k)) problems.push(`${name}: ${lang} has ${k}, which en does not`);
    for (const k of keys) {
      if (!en.has(k)) continue;
      let mine: Set<string>, theirs: Set<string>;
      try {
        mine = placeholders(c.source(lang, k)!, lang);
        theirs = placeholders(c.source("en", k)!, "en");
      } catch (e) {
        problems.push(`${name}: ${lang} ${k} does not parse: ${(e as Error).message}`);
        continue;
      }
      const a = [...mine].sort().join(","),
        b = [...theirs].sort().join(",");
      if (a !== b) problems.push(`${name}: ${lang} ${k} has placeholders {${a}}, en has {${b}}`);
    }
  }
  return problems;
}

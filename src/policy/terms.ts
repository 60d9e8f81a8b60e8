import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { Type, type Static } from "@sinclair/typebox";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";
import { sha256Hex } from "../shared/digest.js";
import { Closed, type Frozen } from "../shared/schema-types.js";

/** The languages a terms text may be written in besides English (the original). */
export const TERMS_LANGUAGES = ["en", "sv", "da"] as const;

/** The YAML head of a terms file (REQ-06). */
export const TERMS_HEAD_SCHEMA = Closed({
  language: Type.Optional(
    Type.Unsafe<(typeof TERMS_LANGUAGES)[number]>({ type: "string", enum: [...TERMS_LANGUAGES] }),
  ),
  id: Type.String({ pattern: "^[a-z][a-z0-9-]{1,63}$" }),
  version: Type.String({ pattern: "^[0-9A-Za-z.-]{1,32}$" }),
  title: Type.String({ minLength: 1, maxLength: 200 }),
  cps: Type.Array(Type.String()),
});
const validate = new Ajv({ allErrors: true, strict: true }).compile(TERMS_HEAD_SCHEMA);

/** The terms of use an applicant accepts (REQ-06): policy data, shown as text, never as HTML. */
export type TermsOfUse = Frozen<Omit<Static<typeof TERMS_HEAD_SCHEMA>, "language">> & {
  /** The language of this text (`en` for `<version>.md`, else the `<version>.<language>.md` it came from). */
  readonly language: string;
  /**
   * SHA-256 (hex) of the file as stored (line ends as LF): what the acceptance records, so an auditor can match it to
   * the text (REQ-06).
   */
  readonly sha256: string;
  /** The body as written (Markdown-like plain text: `#` headings, `-` items, blank lines between paragraphs). */
  readonly text: string;
};

/**
 * Loads `<dir>/<version>.md` (English) or `<dir>/<version>.<language>.md`: a YAML head (id,
 * version, title, cps, optional language) between `---` lines, then the text. The head's version
 * must be the file's name, so the version an applicant accepts is the text they were shown.
 */
export function loadTerms(dir: string, version: string, language = "en"): TermsOfUse {
  if (!/^[0-9A-Za-z.-]{1,32}$/.test(version) || version.includes(".."))
    throw new CaError("config", `bad terms version '${version}'`);
  if (!(TERMS_LANGUAGES as readonly string[]).includes(language))
    throw new CaError("config", `terms in language '${language}' are not supported (${TERMS_LANGUAGES.join(", ")})`);
  const file = join(dir, language === "en" ? `${version}.md` : `${version}.${language}.md`);
  if (!existsSync(file))
    throw new CaError(
      "config",
      `the terms of use of the current version ${version} are missing (${file}); ` +
        `applicants cannot accept terms they cannot read (REQ-06)`,
    );
  const raw = readFileSync(file, "utf8").replace(/\r\n/g, "\n");
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(raw);
  if (!m) throw new CaError("config", `${file}: expected a YAML head between '---' lines, then the text`);
  let head: unknown;
  try {
    head = parseYaml(m[1]!, { uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `${file}: ${(e as Error).message}`);
  }
  if (!validate(head))
    throw new CaError(
      "config",
      `${file}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`,
    );
  const h = head as Static<typeof TERMS_HEAD_SCHEMA>;
  if (h.version !== version)
    throw new CaError("config", `${file}: its head says version ${h.version}, the file name ${version}`);
  if ((h.language ?? "en") !== language)
    throw new CaError("config", `${file}: its head says language ${h.language ?? "en"}, the file name ${language}`);
  const text = m[2]!.trim();
  if (!text) throw new CaError("config", `${file}: no text`);
  return Object.freeze({
    id: h.id,
    version: h.version,
    title: h.title,
    cps: Object.freeze([...h.cps]),
    language,
    sha256: sha256Hex(raw),
    text,
  });
}

/** The terms of one version in each language they are written in (English always). */
export type TermsInLanguages = ReadonlyMap<string, TermsOfUse>;

/**
 * The English terms of `version` and each translation beside them (`<version>.sv.md`,
 * `<version>.da.md`); a translation must be of the same terms (id, CPS sections).
 */
export function loadTermsTranslations(dir: string, version: string): TermsInLanguages {
  const en = loadTerms(dir, version);
  const all = new Map<string, TermsOfUse>([["en", en]]);
  for (const lang of TERMS_LANGUAGES) {
    if (lang === "en" || !existsSync(join(dir, `${version}.${lang}.md`))) continue;
    const t = loadTerms(dir, version, lang);
    if (t.id !== en.id || t.cps.join() !== en.cps.join())
      throw new CaError("config", `terms ${version} in ${lang}: id or CPS sections differ from the English text`);
    all.set(lang, t);
  }
  return all;
}

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { CaError } from "../shared/ca-error.js";

/** The terms of use an applicant accepts (REQ-06): policy data, shown as text, never as HTML. */
export interface TermsOfUse {
  readonly id: string;
  readonly version: string;
  readonly title: string;
  readonly cps: readonly string[];
  /** The body as written (Markdown-like plain text: `#` headings, `-` items, blank lines between paragraphs). */
  readonly text: string;
}

const HEAD = {
  type: "object", additionalProperties: false, required: ["id", "version", "title", "cps"],
  properties: {
    id: { type: "string", pattern: "^[a-z][a-z0-9-]{1,63}$" },
    version: { type: "string", pattern: "^[0-9A-Za-z.-]{1,32}$" },
    title: { type: "string", minLength: 1, maxLength: 200 },
    cps: { type: "array", items: { type: "string" } },
  },
} as const;
const validate = new Ajv({ allErrors: true, strict: true }).compile(HEAD);

/**
 * Loads `<dir>/<version>.md`: a YAML head (id, version, title, cps) between `---` lines, then the
 * text. The head's version must be the file's name, so the version an applicant accepts is the
 * text they were shown.
 */
export function loadTerms(dir: string, version: string): TermsOfUse {
  if (!/^[0-9A-Za-z.-]{1,32}$/.test(version) || version.includes("..")) throw new CaError("config", `bad terms version '${version}'`);
  const file = join(dir, `${version}.md`);
  if (!existsSync(file)) throw new CaError("config", `the terms of use of the current version ${version} are missing (${file}); applicants cannot accept terms they cannot read (REQ-06)`);
  const raw = readFileSync(file, "utf8").replace(/\r\n/g, "\n");
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(raw);
  if (!m) throw new CaError("config", `${file}: expected a YAML head between '---' lines, then the text`);
  let head: unknown;
  try {
    head = parseYaml(m[1]!, { uniqueKeys: true });
  } catch (e) {
    throw new CaError("config", `${file}: ${(e as Error).message}`);
  }
  if (!validate(head)) throw new CaError("config", `${file}: ${(validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`);
  const h = head as { id: string; version: string; title: string; cps: string[] };
  if (h.version !== version) throw new CaError("config", `${file}: its head says version ${h.version}, the file name ${version}`);
  const text = m[2]!.trim();
  if (!text) throw new CaError("config", `${file}: no text`);
  return Object.freeze({ id: h.id, version: h.version, title: h.title, cps: Object.freeze([...h.cps]), text });
}

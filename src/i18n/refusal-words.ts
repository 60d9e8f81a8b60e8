import type { ErrorKind, RefusalParam } from "../shared/ca-error.js";
import { catalogue, type MessageValue } from "./catalogue.js";
import type { Language } from "./languages.js";

/** What a refusal is made of, as `CaError` carries it (the i18n module needs no more). */
export interface RefusalFacts {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly params: Readonly<Record<string, RefusalParam>>;
}

/** One field a request body got wrong (from the schema check), for words per field. */
export interface FieldFault {
  /** JSON pointer into the body: `/nationalId`, `/document/number`. */
  readonly pointer: string;
  /** The schema keyword that failed: required, pattern, maxLength, additionalProperties, enum, type, format... */
  readonly keyword: string;
  /** The keyword's limit (maxLength 32), the unknown property's name... */
  readonly limit?: number;
  readonly property?: string;
}

export interface FieldWords {
  /** The body property as the form names it, dotted for nested ones (`document.number`). */
  readonly field: string;
  readonly pointer: string;
  readonly code: string;
  readonly detail: string;
}

/**
 * Params whose values are internal names (a state, an action, a role...) are shown through the
 * catalogue's words for them, never as they are (no internal state name where a person reads).
 */
const PARAM_SECTIONS: Readonly<Record<string, string>> = {
  state: "state",
  action: "action",
  earlierAction: "action",
  role: "role",
  otherRole: "role",
  roles: "role",
  documentType: "document",
  documentTypes: "document",
  reason: "reason",
  reasons: "reason",
  channel: "channel",
  registerStatus: "register-status",
  field: "field",
  nameField: "name-part",
  status: "status",
  kindOfCaller: "caller",
};
/** List params read "a, b or c" (a choice) unless named here ("a, b and c"). */
const CONJUNCTION_PARAMS: ReadonlySet<string> = new Set(["unknownQuestions"]);
const DATE_PARAM = /(At|Until|Date|expires)$/;

const refusals = () => catalogue("refusals");

/**
 * A time as every language's pages show it, with the zone named (the server does not know the reader's zone):
 * 2026-12-01 18:14 UTC.
 */
export function whenText(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A word for an internal name: the catalogue's, else the name made readable (never shown raw when a word exists). */
export function wordFor(lang: Language, section: string, value: string): string {
  return refusals().format(lang, `${section}.${value}`) ?? value.replace(/[-_]+/g, " ").toLowerCase();
}

function values(lang: Language, params: Readonly<Record<string, RefusalParam>>): Record<string, MessageValue> {
  const out: Record<string, MessageValue> = {};
  for (const [name, v] of Object.entries(params)) {
    const section = PARAM_SECTIONS[name];
    if (Array.isArray(v)) {
      const words = v.map((x) => (section ? wordFor(lang, section, String(x)) : String(x)));
      out[name] = new Intl.ListFormat(lang, {
        type: CONJUNCTION_PARAMS.has(name) ? "conjunction" : "disjunction",
      }).format(words);
      out[`${name}Count`] = v.length;
    } else if (section && typeof v === "string") out[name] = wordFor(lang, section, v);
    else if (typeof v === "string" && DATE_PARAM.test(name) && !Number.isNaN(Date.parse(v)))
      out[name] = whenText(new Date(v));
    else out[name] = v as MessageValue;
  }
  return out;
}

/** The title and detail of a refusal in `lang`: by its code, or by its kind when the code has no words. */
export function refusalWords(lang: Language, e: RefusalFacts): { title: string; detail: string; worded: boolean } {
  const c = refusals();
  const v = values(lang, e.params);
  let detail: string | undefined;
  if (e.code === "order.action-not-in-state" && typeof e.params.state === "string") {
    // Per state (and per action where the state alone says too little): what the order is waiting for.
    const action = String(e.params.action ?? "");
    detail =
      c.format(lang, `situation-for.${action}.${e.params.state}`, v) ??
      c.format(lang, `situation.${e.params.state}`, v);
  }
  detail ??= c.format(lang, `detail.${e.code}`, v);
  const worded = detail !== undefined;
  detail ??= c.format(lang, `kind-detail.${e.kind}`, v)!;
  const title = c.format(lang, `title.${e.code}`, v) ?? c.format(lang, `kind-title.${e.kind}`, v)!;
  return { title, detail, worded };
}

/** Words for each field a request body got wrong, tied to the field (the page puts focus on it). */
export function fieldWords(lang: Language, faults: readonly FieldFault[]): FieldWords[] {
  const c = refusals();
  return faults.map((f) => {
    const path = f.pointer
      .split("/")
      .filter(Boolean)
      .filter((s) => !/^\d+$/.test(s));
    const segments =
      f.keyword === "additionalProperties" && f.property
        ? [...path, f.property]
        : f.keyword === "required" && f.property
          ? [...path, f.property]
          : path;
    const field = segments.join(".") || "body";
    const name = segments[segments.length - 1] ?? "body";
    const label = c.format(lang, `field.${field}`) ?? c.format(lang, `field.${name}`) ?? name;
    const v: Record<string, MessageValue> = { field: label, limit: f.limit ?? 0, name: f.property ?? name };
    // A field with a format rule explains the rule in words, never the pattern.
    const formatRule = ["pattern", "minLength", "maxLength", "format"].includes(f.keyword)
      ? (c.format(lang, `format.${field}`, v) ?? c.format(lang, `format.${name}`, v))
      : undefined;
    const keyword = c.has(`validation.${f.keyword}`) ? f.keyword : "other";
    return {
      field,
      pointer: segments.length ? `/${segments.join("/")}` : "/",
      code: `validation.${keyword}`,
      detail: formatRule ?? c.format(lang, `validation.${keyword}`, v)!,
    };
  });
}

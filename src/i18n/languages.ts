/** The languages people read cardpki in: pages, refusals and notifications. */
export const LANGUAGES = ["en", "sv", "da"] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = "en";

export function isLanguage(v: unknown): v is Language {
  return typeof v === "string" && (LANGUAGES as readonly string[]).includes(v);
}

/**
 * The language of an `Accept-Language` header (RFC 9110 12.5.4): the highest-weighted range that
 * names one of ours (`sv-SE` counts as `sv`; Norwegian `nb`/`no`/`nn` read Danish best), else English.
 */
export function negotiateLanguage(header: string | readonly string[] | undefined): Language {
  const value = Array.isArray(header) ? header.join(",") : (header as string | undefined);
  if (!value) return DEFAULT_LANGUAGE;
  const ranges = value
    .split(",")
    .slice(0, 32)
    .map((part, i) => {
      const [tag, ...attrs] = part.trim().split(";");
      const q = attrs.map((a) => /^\s*q=([0-9.]+)\s*$/i.exec(a)).find(Boolean);
      const weight = q ? Number(q[1]) : 1;
      return { tag: (tag ?? "").trim().toLowerCase(), weight: Number.isFinite(weight) ? weight : 0, i };
    })
    .filter((r) => r.tag && r.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.i - b.i);
  for (const r of ranges) {
    const primary = r.tag.split("-")[0]!;
    if (isLanguage(primary)) return primary;
    if (primary === "nb" || primary === "no" || primary === "nn") return "da";
    if (primary === "*") return DEFAULT_LANGUAGE;
  }
  return DEFAULT_LANGUAGE;
}

/** A person's language when none was chosen at binding: from the organisation's country (ISO 3166-1 alpha-2). */
export function languageOfCountry(country: string | undefined): Language {
  switch ((country ?? "").toUpperCase()) {
    case "SE":
    case "AX":
      return "sv";
    case "DK":
    case "GL":
    case "FO":
      return "da";
    default:
      return "en";
  }
}

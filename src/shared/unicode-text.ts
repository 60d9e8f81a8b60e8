/**
 * Character rules for names that people read in a certificate (subject and SAN strings): no
 * control or invisible characters, no bidirectional overrides or isolates, no mixed scripts.
 * Pure functions over code points, used by the CA's lints and by the RA before it records a
 * registered name. Each returns a refusal in words, or undefined when the string passes.
 */

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * UAX #9 2.1-2.6 explicit directional embeddings, overrides and isolates, and the implicit marks
 * (ALM, LRM, RLM): they reorder what a reader sees (the "Trojan Source" attack, CVE-2021-42574).
 */
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

/**
 * C0/C1 controls and DEL (Cc), line and paragraph separators, surrogates, private-use and
 * unassigned code points, and invisible format characters (Cf) other than the bidi ones above.
 */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\p{Cf}]/u;
const JOINERS = new Set([0x200c, 0x200d]);
/** Scripts whose names never need a zero-width (non-)joiner between letters. */
const NO_JOINER_SCRIPTS = new Set(["Latin", "Greek", "Cyrillic"]);

/** The first bidirectional formatting character, described; undefined when there is none. */
export function bidiControl(s: string): string | undefined {
  const m = BIDI.exec(s);
  return m ? `bidirectional formatting character ${hex(m[0].codePointAt(0)!)} at position ${m.index}` : undefined;
}

/**
 * The first control, separator, private-use, unassigned or invisible format character, described.
 * ZWNJ/ZWJ (U+200C/U+200D) are allowed only between two letters of a script that uses them in
 * names (Arabic, Indic...), as in IDNA's CONTEXTJ rule (RFC 5892 A.1/A.2); bidi characters are the
 * subject of bidiControl.
 */
export function controlCharacter(s: string): string | undefined {
  const cps = [...s];
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i]!;
    if (!CONTROL.test(ch) || BIDI.test(ch)) continue;
    const cp = ch.codePointAt(0)!;
    if (JOINERS.has(cp) && joinerAllowed(cps[i - 1], cps[i + 1])) continue;
    return `control or invisible character ${hex(cp)} at position ${i}`;
  }
  return undefined;
}

function joinerAllowed(before: string | undefined, after: string | undefined): boolean {
  if (!before || !after || !/[\p{L}\p{M}]/u.test(before) || !/[\p{L}\p{M}]/u.test(after)) return false;
  const a = scriptsOf(before.codePointAt(0)!);
  const b = scriptsOf(after.codePointAt(0)!);
  if (a === ALL || b === ALL) return false;
  return [...a].some((x) => b.has(x) && !NO_JOINER_SCRIPTS.has(x));
}

/** Unicode script values (Script_Extensions), the long names ECMAScript's \p{scx=...} knows. */
const SCRIPT_NAMES = (
  "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum " +
  "Bassa_Vah Batak Bengali Bhaiksuki Bopomofo Brahmi Braille " +
  "Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham " +
  "Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan " +
  "Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs " +
  "Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha " +
  "Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo " +
  "Hatran Hebrew Hiragana Imperial_Aramaic Inscriptional_Pahlavi " +
  "Inscriptional_Parthian Javanese Kaithi Kannada Kawi Katakana Kayah_Li " +
  "Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin " +
  "Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar " +
  "Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin " +
  "Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi " +
  "Mongolian Mro Multani Myanmar Nabataean Nag_Mundari " +
  "Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham " +
  "Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic " +
  "Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage " +
  "Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa " +
  "Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada " +
  "Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo " +
  "Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet " +
  "Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh " +
  "Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi " +
  "Zanabazar_Square Garay Gurung_Khema Kirat_Rai Ol_Onal Sunuwar Todhri " +
  "Tulu_Tigalari"
).split(" ");

/** The scripts this engine's Unicode tables know (a newer name an older engine lacks is left out). */
const SCRIPTS: readonly { name: string; re: RegExp }[] = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [{ name, re: new RegExp(`^\\p{scx=${name}}$`, "u") }];
  } catch {
    return [];
  }
});

/** UTS #39 5.1: Common and Inherited characters count for every script. */
const ALL = Symbol("all scripts");
type ScriptSet = ReadonlySet<string> | typeof ALL;
const COMMON = /^[\p{scx=Zyyy}\p{scx=Zinh}]$/u;
/** UTS #39 5.1 augmented script sets: Han goes with Japanese, Chinese (Hanb) and Korean writing. */
const AUGMENT: Readonly<Record<string, readonly string[]>> = {
  Han: ["Hanb", "Jpan", "Kore"],
  Hiragana: ["Jpan"],
  Katakana: ["Jpan"],
  Hangul: ["Kore"],
  Bopomofo: ["Hanb"],
};
const cache = new Map<number, ScriptSet>();

function scriptsOf(cp: number): ScriptSet {
  let s = cache.get(cp);
  if (s === undefined) {
    const ch = String.fromCodePoint(cp);
    if (COMMON.test(ch)) s = ALL;
    else {
      const set = new Set<string>();
      for (const { name, re } of SCRIPTS) if (re.test(ch)) for (const n of [name, ...(AUGMENT[name] ?? [])]) set.add(n);
      s = set; // empty for a code point of no known script (Unknown): mixes with everything
    }
    if (cache.size > 65_536) cache.clear();
    cache.set(cp, s);
  }
  return s;
}

/** UTS #39 5.2 "Highly Restrictive": Latin may go with the scripts of Japanese, Chinese or Korean writing. */
const HIGHLY_RESTRICTIVE_SETS: readonly (readonly string[])[] = [
  ["Latin", "Han", "Hiragana", "Katakana", "Jpan"],
  ["Latin", "Han", "Bopomofo", "Hanb"],
  ["Latin", "Han", "Hangul", "Kore"],
];
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/**
 * UTS #39 5.1/5.2: the string must be single-script (its resolved script set, the intersection of
 * its characters' augmented Script_Extensions, is not empty) or covered by one of the Highly
 * Restrictive combinations. Returns the scripts that mix, described; undefined when it passes.
 */
export function mixedScripts(s: string): string | undefined {
  if (PLAIN_ASCII.test(s)) return undefined; // Latin and Common only
  const sets = [...s].map((c) => scriptsOf(c.codePointAt(0)!)).filter((x): x is ReadonlySet<string> => x !== ALL);
  if (sets.length === 0) return undefined;
  let resolved = new Set(sets[0]);
  for (const x of sets.slice(1)) resolved = new Set([...resolved].filter((n) => x.has(n)));
  if (resolved.size > 0) return undefined;
  if (HIGHLY_RESTRICTIVE_SETS.some((allowed) => sets.every((x) => allowed.some((n) => x.has(n))))) return undefined;
  const seen = new Set<string>();
  for (const x of sets) {
    const main = [...x].filter((n) => !["Hanb", "Jpan", "Kore"].includes(n));
    seen.add(main.length ? main.join("/") : "Unknown");
  }
  return `mixes scripts ${[...seen].sort().join(", ")}`;
}

/** Every rule at once, for callers that refuse before a certificate is built (the RA). */
export function textProblem(s: string): { rule: "control" | "bidi" | "mixed-script"; message: string } | undefined {
  const c = controlCharacter(s);
  if (c) return { rule: "control", message: c };
  const b = bidiControl(s);
  if (b) return { rule: "bidi", message: b };
  const m = mixedScripts(s);
  return m ? { rule: "mixed-script", message: m } : undefined;
}

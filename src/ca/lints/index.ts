import type { Lint } from "./lint.js";
import { serialLints } from "./serial.lint.js";
import { validityLints } from "./validity.lint.js";
import { nameLints } from "./name.lint.js";
import { keyLints } from "./key.lint.js";
import { extensionLints } from "./extensions.lint.js";
import { textLints } from "./text.lint.js";

/** Every lint run before any signature (RFC 5280 + the profile + the CPS). */
export const ALL_LINTS: readonly Lint[] = [
  ...serialLints,
  ...validityLints,
  ...nameLints,
  ...keyLints,
  ...extensionLints,
  ...textLints,
];
export { runLints, assertLintsPass, type Lint, type LintFinding, type LintContext } from "./lint.js";

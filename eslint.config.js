// Guard-rails checked in ./scripts/test (`npx eslint .`): time and randomness only through the injected
// Clock and Random (src/shared/clock.ts, src/shared/random.ts), and no work-item numbers in comments or
// test titles (cite the rule instead: RFC, REQ, CPS section).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { noWorkItemRefs } from "./scripts/lint/no-work-item-refs.js";

const CLOCK = "Time comes from the injected Clock (src/shared/clock.ts)";
const RANDOM = "Randomness comes from the injected Random (src/shared/random.ts)";

/** The wall clock and the CSPRNG, wherever they are reached from. */
const clockAndRandom = {
  "no-restricted-properties": [
    "error",
    { object: "Date", property: "now", message: CLOCK },
    { object: "Math", property: "random", message: RANDOM },
    { object: "crypto", property: "randomBytes", message: RANDOM },
    { object: "crypto", property: "randomUUID", message: RANDOM },
    { object: "crypto", property: "randomInt", message: RANDOM },
    { object: "crypto", property: "randomFillSync", message: RANDOM },
    { object: "crypto", property: "getRandomValues", message: RANDOM },
    { object: "webcrypto", property: "getRandomValues", message: RANDOM },
  ],
  "no-restricted-syntax": [
    "error",
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: CLOCK },
    { selector: "CallExpression[callee.name='Date'][arguments.length=0]", message: CLOCK },
  ],
  "no-restricted-imports": [
    "error",
    {
      paths: ["node:crypto", "crypto"].map((name) => ({
        name,
        importNames: ["randomBytes", "randomUUID", "randomInt", "randomFillSync", "randomFill", "getRandomValues"],
        message: RANDOM,
      })),
    },
  ],
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "data/**", "test-artifacts/**", "src/http/portal-assets/**"] },
  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { cardpki: { rules: { "no-work-item-refs": noWorkItemRefs } } },
    rules: {
      ...clockAndRandom,
      "cardpki/no-work-item-refs": "error",
      // Lines of at most 120 columns, also where prettier cannot wrap (strings, test titles, regular expressions).
      "max-len": ["error", { code: 120, tabWidth: 2 }],
      // Casts at the edges (parsed JSON, ASN.1 classes, test doubles) are reviewed by hand; strict TS does the rest.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
    },
  },
  // The stores read rows typed once (src/store/rows.ts, knex's Tables registry): no untyped row in them.
  { files: ["src/store/**/*.ts"], rules: { "@typescript-eslint/no-explicit-any": "error" } },
  // The injected implementations themselves.
  {
    files: ["src/shared/clock.ts", "src/shared/random.ts"],
    rules: { "no-restricted-properties": "off", "no-restricted-syntax": "off", "no-restricted-imports": "off" },
  },
  // Tests through public surfaces drive real servers, processes and cards: they wait on the wall clock and
  // make unique names with real randomness. Unit tests and everything under src/ and scripts/ stay injected.
  {
    files: ["test/integration/**/*.ts", "test/e2e/**/*.ts", "test/support/**/*.ts"],
    rules: { "no-restricted-properties": "off", "no-restricted-syntax": "off", "no-restricted-imports": "off" },
  },
  // chai's property assertions (`expect(x).to.exist`) are expressions.
  { files: ["test/**/*.ts"], rules: { "@typescript-eslint/no-unused-expressions": "off" } },
  {
    files: ["**/*.js", "**/*.cjs"],
    extends: [js.configs.recommended],
    plugins: { cardpki: { rules: { "no-work-item-refs": noWorkItemRefs } } },
    languageOptions: {
      globals: {
        process: "readonly",
        require: "writable",
        module: "writable",
        console: "readonly",
        __dirname: "readonly",
      },
    },
    rules: { "cardpki/no-work-item-refs": "error" },
  },
  // The rule's own documentation shows what it refuses.
  { files: ["scripts/lint/no-work-item-refs.js"], rules: { "cardpki/no-work-item-refs": "off" } },
);

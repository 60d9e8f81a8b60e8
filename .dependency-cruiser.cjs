// Module boundaries (design.md "Modules"): dependencies point inward; only composition/ wires concrete
// backends. Checked by test/unit/module-boundaries.test.ts (`depcruise src`), which fails on any violation.

/** Each module of src/ and the modules it may import (its own files always). */
const ALLOWED = {
  shared: [],
  i18n: ["shared"], // message catalogues (locales/<lang>/*.json): refusals and notifications in en, sv, da
  asn1: ["shared"],
  policy: ["shared", "asn1"],
  hsm: ["shared"],
  ca: ["shared", "asn1", "policy"],
  store: ["shared", "ca", "ra", "policy", "card", "audit", "delivery"], // the ports it implements (types only, below); audit: the hash chain
  audit: ["shared"],
  card: ["shared", "asn1"],
  delivery: ["shared", "i18n"], // the outbox worker, its ports and channel adapters (SMTP, SMS gateway, print file)
  ceremony: ["shared", "asn1", "policy", "ca", "hsm"],
  ra: ["shared", "policy", "ca"], // ca: ports.ts only, types only (below)
  rpc: ["shared", "ca"], // the CA signer channel (mutual TLS, versioned schema-checked messages); ca: the KeySigner port
  http: ["shared", "asn1", "ra", "i18n"], // ra: the service types composition hands in (below)
  cli: ["shared", "asn1", "composition", "ceremony"],
  composition: [
    "shared",
    "asn1",
    "policy",
    "hsm",
    "ca",
    "store",
    "ceremony",
    "http",
    "ra",
    "card",
    "audit",
    "delivery",
    "i18n",
    "rpc",
  ],
};

const moduleRules = Object.entries(ALLOWED).map(([mod, allowed]) => ({
  name: `module-${mod}`,
  comment: `design.md: ${mod}/ may import ${allowed.length ? allowed.join(", ") : "nothing"} (and itself)`,
  severity: "error",
  from: { path: `^src/${mod}/` },
  to: { path: "^src/", pathNot: `^src/(${[mod, ...allowed].join("|")})/` },
}));

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    ...moduleRules,
    {
      name: "module-unknown",
      comment: "every folder of src/ is a module of design.md with its row in ALLOWED",
      severity: "error",
      from: { path: "^src/", pathNot: `^src/(${Object.keys(ALLOWED).join("|")})/` },
      to: {},
    },
    {
      name: "ra-to-ca-ports-only",
      comment: "design.md: the RA talks to the CA only through its narrow port (src/ca/ports.ts), and only its types",
      severity: "error",
      from: { path: "^src/ra/" },
      to: { path: "^src/ca/", pathNot: "^src/ca/ports\\.ts$" },
    },
    {
      name: "ra-to-ca-types-only",
      comment: "design.md: the RA holds no CA code; composition hands it the port's implementation",
      severity: "error",
      from: { path: "^src/ra/" },
      to: { path: "^src/ca/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "store-implements-ports-types-only",
      comment:
        "design.md: store/ implements the ports of ca, ra, card, delivery and policy; it runs none of their code",
      severity: "error",
      from: { path: "^src/store/" },
      to: { path: "^src/(ca|ra|card|delivery|policy)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "http-ra-services-types-only",
      comment:
        "design.md: http/ gets the RA services from composition; it imports their types, and only the pure helpers as code",
      severity: "error",
      from: { path: "^src/http/" },
      to: { path: "^src/ra/", pathNot: "^src/ra/(actor-checks|person-names)\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "database-drivers-in-store-only",
      comment: "design.md: knex stores live in store/; no other module talks SQL",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(store|composition)/" },
      to: { path: "node_modules/(knex|pg|sqlite3)/" },
    },
    {
      name: "src-not-to-tests-or-scripts",
      comment: "the product never imports its tests, test support or benchmark scripts",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|scripts)/" },
    },
    {
      name: "src-not-to-dev-dependencies",
      comment: "a devDependency is absent from a production install (npm ci --omit=dev)",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "not-in-package-json",
      comment: "every imported package is declared in package.json",
      severity: "error",
      from: {},
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "not-resolvable",
      comment: "an import that resolves to nothing",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      extensions: [".ts", ".js", ".cjs", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["node", "import", "require", "default", "types"],
    },
  },
};
// The table itself, for the test that every folder of src/ has its row (not a dependency-cruiser option).
Object.defineProperty(module.exports, "ALLOWED", { value: ALLOWED, enumerable: false });

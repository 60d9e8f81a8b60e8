import { expect } from "chai";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../support/test-ca.js";

const CONFIG = join(REPO_ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(REPO_ROOT, "node_modules", ".bin", "depcruise");

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

/** dependency-cruiser as ./scripts/test runs it: the violations it finds under `dirs` of `cwd`. */
async function cruise(cwd: string, dirs: readonly string[]): Promise<string[]> {
  const run = await promisify(execFile)(DEPCRUISE, ["--config", CONFIG, "--output-type", "json", ...dirs], {
    cwd,
    maxBuffer: 64 << 20,
  }).catch((e: { stdout?: string; stderr?: string }) => {
    if (!e.stdout) throw new Error(`depcruise did not run: ${e.stderr}`);
    return { stdout: e.stdout }; // non-zero exit: violations found, the report is still on stdout
  });
  const report = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/**
 * design.md "Modules": dependencies point inward; only composition wires concrete backends (.dependency-cruiser.cjs).
 */
describe("module boundaries (design.md, dependency-cruiser)", function () {
  this.timeout(120_000);
  const src = join(REPO_ROOT, "src");

  it("ok/src, scripts and test import only what design.md allows", async () => {
    expect(await cruise(REPO_ROOT, ["src", "scripts", "test"])).to.deep.equal([]);
  });

  it("ok/every folder of src/ is a module with its row in the table", () => {
    const table = (createRequire(import.meta.url)(CONFIG) as { ALLOWED: Record<string, string[]> }).ALLOWED;
    const modules = readdirSync(src).filter((f) => statSync(join(src, f)).isDirectory());
    expect(
      modules.filter((m) => !(m in table)),
      "modules without a row",
    ).to.deep.equal([]);
  });

  it("fail/a tree that crosses the boundaries is refused rule by rule", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardpki-depcruise-"));
    try {
      cpSync(join(REPO_ROOT, "tsconfig.json"), join(dir, "tsconfig.json"));
      const put = (path: string, text: string) => {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      };
      put("src/ra/order.ts", "export interface Order { id: string }\nexport const E164 = /^\\+[0-9]+$/;\n");
      put(
        "src/ca/ports.ts",
        "export interface KeySigner { sign(b: Uint8Array): Uint8Array }\nexport const PORT_VERSION = 1;\n",
      );
      put("src/ca/tbs-builder.ts", 'import type { Order } from "../ra/order.js";\nexport type Built = Order;\n');
      put(
        "src/ra/issuer-use.ts",
        'import { PORT_VERSION } from "../ca/ports.js";\nimport type { Built } from "../ca/tbs-builder.js";\nexport ' +
          "const v: Built | number = PORT_VERSION;\n",
      );
      put(
        "src/store/orders.ts",
        'import type { KeySigner } from "../ca/ports.js";\nimport { E164 } from "../ra/order.js";\nexport const s: ' +
          "KeySigner | RegExp = E164;\n",
      );
      put("src/reports/x.ts", 'import type { Order } from "../ra/order.js";\nexport type X = Order;\n');
      expect((await cruise(dir, ["src"])).sort()).to.deep.equal([
        "module-ca: src/ca/tbs-builder.ts -> src/ra/order.ts", // ca knows nothing of ra, even as a type
        "module-unknown: src/reports/x.ts -> src/ra/order.ts",
        "ra-to-ca-ports-only: src/ra/issuer-use.ts -> src/ca/tbs-builder.ts",
        "ra-to-ca-types-only: src/ra/issuer-use.ts -> src/ca/ports.ts",
        "store-implements-ports-types-only: src/store/orders.ts -> src/ra/order.ts",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ok/no SQL outside store/", () => {
    const offenders = files(src).filter(
      (f) =>
        !relative(src, f).startsWith("store/") &&
        /\b(knex|\.raw\(|select \*|insert into)\b/i.test(readFileSync(f, "utf8")),
    );
    expect(offenders.map((f) => relative(src, f))).to.deep.equal([]);
  });
});

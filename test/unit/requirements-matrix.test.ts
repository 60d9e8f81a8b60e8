import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { loadRequirementsMatrix } from "../../src/policy/requirements-matrix.js";
import { REPO_ROOT } from "../support/test-ca.js";

/**
 * A test title as written, or produced by a template literal `it(\`...${x}...\`` in that file (a long title wrapped
 * with line continuations, which add nothing to it).
 */
function titleIn(written: string, name: string): boolean {
  const source = written.replace(/\\\n/g, "");
  const inTemplate = name.replace(/[`\\]/g, "\\$&").replace(/\$\{/g, "\\${");
  if (source.includes(JSON.stringify(name)) || source.includes(`"${name}"`) || source.includes(`\`${inTemplate}\``))
    return true;
  for (const m of source.matchAll(/it\(`([^`]*)`/g)) {
    const re = new RegExp(
      `^${m[1]!
        .split(/\$\{[^}]*\}/)
        .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".+")}$`,
    );
    if (re.test(name)) return true;
  }
  return false;
}

describe("policies/requirements-matrix.yaml (REQ-01..33 traceability)", () => {
  const rows = loadRequirementsMatrix(join(REPO_ROOT, "policies", "requirements-matrix.yaml"));
  it(`ok/every requirement once, in order; every control names a symbol in an existing file; every test title \
exists`, () => {
    expect(rows.map((r) => r.req)).to.deep.equal(
      Array.from({ length: 33 }, (_, i) => `REQ-${String(i + 1).padStart(2, "0")}`),
    );
    const problems: string[] = [];
    for (const r of rows) {
      if ((r.status === "enforced" || r.status === "partial") && (r.controls.length === 0 || r.tests.length === 0))
        problems.push(`${r.req}: ${r.status} without control or test`);
      for (const c of r.controls) {
        const f = join(REPO_ROOT, c.path);
        if (!existsSync(f)) problems.push(`${r.req}: no file ${c.path}`);
        else if (!readFileSync(f, "utf8").includes(c.symbol)) problems.push(`${r.req}: ${c.symbol} not in ${c.path}`);
      }
      for (const t of r.tests) {
        const f = join(REPO_ROOT, t.path);
        if (!existsSync(f)) problems.push(`${r.req}: no test file ${t.path}`);
        else if (!titleIn(readFileSync(f, "utf8"), t.name)) problems.push(`${r.req}: no test "${t.name}" in ${t.path}`);
      }
    }
    expect(problems).to.deep.equal([]);
    expect([
      titleIn('it("ok/a", f)', "ok/b"),
      titleIn("it(`fail/${x} is refused`, f)", "fail/y is refused"),
      titleIn("it(`ok/a long \\\ntitle`, f)", "ok/a long title"),
    ]).to.deep.equal([false, true, true]);
  });

  it("fail/a control without its symbol or a test without its title is refused at load, naming the entry", () => {
    const dir = mkdtempSync(join(tmpdir(), "matrix-"));
    try {
      const doc = parseYaml(readFileSync(join(REPO_ROOT, "policies", "requirements-matrix.yaml"), "utf8"));
      doc.requirements[0].controls[0] = { path: "src/ra/onboarding.ts", name: "bindPerson" };
      doc.requirements[1].tests[0] = { path: "test/unit/x.test.ts" };
      const file = join(dir, "requirements-matrix.yaml");
      writeFileSync(file, stringify(doc));
      expect(() => loadRequirementsMatrix(file)).to.throw(
        `requirements matrix ${file}: /requirements/0/controls/0 must have required property 'symbol'; ` +
          `/requirements/0/controls/0 must NOT have additional properties 'name'; ` +
          `/requirements/1/tests/0 must have required property 'name'`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { expect } from "chai";
import { join } from "node:path";
import { ESLint } from "eslint";
import { REPO_ROOT } from "../support/test-ca.js";

/**
 * eslint.config.js as ./scripts/test runs it: time and randomness only through the injected Clock and
 * Random (src/shared/clock.ts, src/shared/random.ts); comments and test titles cite the rule, not a
 * work-item number. Each banned form is linted as if it were a file of the repository.
 */
describe("guard-rails (eslint.config.js)", function () {
  this.timeout(60_000);
  const eslint = new ESLint({ cwd: REPO_ROOT });
  const rulesFired = async (code: string, file: string) =>
    (await eslint.lintText(code, { filePath: join(REPO_ROOT, file) })).flatMap((r) =>
      r.messages.map((m) => m.ruleId ?? m.message),
    );

  const banned: [string, string, string][] = [
    ["Date.now()", "export const t = Date.now();\n", "no-restricted-properties"],
    ["Date.now as a value", "export const now: () => number = Date.now;\n", "no-restricted-properties"],
    ["new Date() without argument", "export const d = new Date();\n", "no-restricted-syntax"],
    ["Date() as a function", "export const s = Date();\n", "no-restricted-syntax"],
    ["Math.random", "export const r = Math.random();\n", "no-restricted-properties"],
    [
      "randomBytes from node:crypto",
      'import { randomBytes } from "node:crypto";\nexport const b = randomBytes(8);\n',
      "no-restricted-imports",
    ],
    ["crypto.randomUUID", "export const u = crypto.randomUUID();\n", "no-restricted-properties"],
    ["a work-item number in a comment", "// as asked in issue 12\nexport const x = 1;\n", "cardpki/no-work-item-refs"],
    ["a bare #14 in a comment", "/** Fixed in #14. */\nexport const x = 1;\n", "cardpki/no-work-item-refs"],
  ];
  for (const [what, code, rule] of banned) {
    it(`fail/${what} in src/ is refused by ${rule}`, async () => {
      expect(await rulesFired(code, "src/http/example.ts")).to.include(rule);
    });
  }
  it("fail/a work-item number in a test title is refused", async () => {
    expect(await rulesFired('describe("orders (task 9)", () => undefined);\n', "test/unit/example.test.ts")).to.include(
      "cardpki/no-work-item-refs",
    );
  });
  it("fail/a line over 120 columns (a test title prettier cannot wrap) is refused by max-len", async () => {
    const title = `ok/${"a long title ".repeat(9)}`;
    expect(await rulesFired(`it("${title}", () => undefined);\n`, "test/unit/example.test.ts")).to.include("max-len");
    expect(
      await rulesFired(`it("${title.slice(0, 90)}", () => undefined);\n`, "test/unit/example.test.ts"),
    ).to.not.include("max-len");
  });
  it("fail/unit tests get the same time and randomness rules as src/", async () => {
    expect(await rulesFired("export const t = Date.now();\n", "test/unit/example.test.ts")).to.include(
      "no-restricted-properties",
    );
  });
  it("ok/the injected implementations, a date from a value and rule citations pass", async () => {
    expect(
      await rulesFired(
        'import { randomBytes } from "node:crypto";\nexport const b = () => randomBytes(8);\n',
        "src/shared/random.ts",
      ),
    ).to.deep.equal([]);
    expect(await rulesFired("export const d = (ms: number) => new Date(ms);\n", "src/http/example.ts")).to.deep.equal(
      [],
    );
    expect(
      await rulesFired(
        "// RFC 6960 4.2.2.2, REQ-15, CPS 4.4.1, UTS #39 5.2, UAX #9\nexport const x = 1;\n",
        "src/http/example.ts",
      ),
    ).to.deep.equal([]);
  });
});

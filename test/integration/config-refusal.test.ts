import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../support/environment.js";

/**
 * A bad environment value stops `cardpki` before it does anything: the variable is named with what it must be
 * and what it got, and the exit is non-zero (an unchecked CARDPKI_EXPIRY_SWEEP_SECONDS=abc became NaN and
 * setInterval(NaN) ran every millisecond). The CLI runs as a subprocess on an empty data folder.
 */
describe("cli/configuration refused at start", function () {
  this.timeout(60_000);
  let dataDir: string;
  before(() => (dataDir = mkdtempSync(join(tmpdir(), "cardpki-config-refusal-"))));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const run = (args: string[], extra: NodeJS.ProcessEnv) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, CARDPKI_DATA_DIR: dataDir, ...extra };
    return spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8", timeout: 30_000 });
  };

  it("fail/serve with CARDPKI_EXPIRY_SWEEP_SECONDS=abc exits 1 naming the variable", () => {
    const r = run(["serve", "--role", "public"], { CARDPKI_EXPIRY_SWEEP_SECONDS: "abc", CARDPKI_PORT: "0" });
    expect(r.stderr.trim()).to.equal(
      "cardpki: CARDPKI_EXPIRY_SWEEP_SECONDS must be a whole number of seconds from 1 to 86400 (got 'abc')",
    );
    expect([r.status, r.stdout]).to.deep.equal([1, ""]);
  });

  it("fail/crl generate with CARDPKI_DRAIN_SECONDS=-5 and CARDPKI_HSM_SESSIONS=4x names both and exits 1", () => {
    const r = run(["crl", "generate", "--ca", "demo-issuing", "--out", join(dataDir, "x.crl"), "--operator", "alice"], {
      CARDPKI_DRAIN_SECONDS: "-5",
      CARDPKI_HSM_SESSIONS: "4x",
    });
    expect(r.status, r.stderr).to.equal(1);
    expect(
      r.stderr
        .trim()
        .replace(/^cardpki: /, "")
        .split("; "),
    ).to.have.members([
      "CARDPKI_DRAIN_SECONDS must be a whole number of seconds from 0 to 300 (got '-5')",
      "CARDPKI_HSM_SESSIONS must be a whole number from 1 to 64 (got '4x')",
    ]);
  });
});

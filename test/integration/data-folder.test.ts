import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, demoEnv, type DemoEnv } from "../support/environment.js";

/**
 * A data folder is self-contained: the generated cardpki.json names its PIN file relative to the folder,
 * the generated SoftHSM2 config is pointed at the folder's own tokens, so a copied or moved folder uses
 * its own tokens and PIN files; a configuration that points outside the folder says so at start (REQ-26:
 * the PIN and the token that go together stay together). The CLI runs as a subprocess.
 */
describe("composition/data folder: a copy uses its own tokens and PIN files", function () {
  this.timeout(180_000);
  let demo: DemoEnv;
  let copy: string;
  const envOf = (dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...demo.env, CARDPKI_DATA_DIR: dataDir, ...extra };
    delete env.SOFTHSM2_CONF; // the data folder's own, as on a fresh start
    delete env.DATABASE_URL; // the SQLite file in the data folder
    delete env.CARDPKI_CONFIG;
    return env;
  };
  const cli = (args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8" });
  const crl = (dataDir: string, name: string, extra: NodeJS.ProcessEnv = {}) => {
    const out = join(copy, name);
    return {
      out,
      r: cli(["crl", "generate", "--ca", "demo-issuing", "--out", out, "--operator", "alice"], envOf(dataDir, extra)),
    };
  };

  before(function () {
    demo = demoEnv(this, "sqlite");
    copy = mkdtempSync(join(tmpdir(), "cardpki-copied-"));
    cpSync(join(demo.dir, "data"), join(copy, "data"), { recursive: true });
  });
  after(() => copy && rmSync(copy, { recursive: true, force: true }));

  it("ok/started from the copy with the original moved away, it signs a CRL with the copy's token and PIN file", () => {
    const original = join(demo.dir, "data");
    renameSync(original, `${original}.moved`);
    try {
      const { out, r } = crl(join(copy, "data"), "from-copy.crl");
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.match(
        /softhsm2\.conf named the token directory .* outside this data folder; it now names the folder's own tokens/,
      );
      const verified = execFileSync(
        "openssl",
        ["crl", "-inform", "der", "-in", out, "-noout", "-CAfile", join(demo.caStore, "demo-issuing", "cert.pem")],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      expect(verified + "").to.equal("");
      expect(readFileSync(join(copy, "data", "softhsm", "softhsm2.conf"), "utf8")).to.include(
        `directories.tokendir = ${join(copy, "data", "softhsm", "tokens")}`,
      );
      expect(
        JSON.parse(readFileSync(join(copy, "data", "cardpki.json"), "utf8")).tokenPins["cardpki-issuing"],
      ).to.deep.equal({ file: join("pins", "cardpki-issuing.pin") });
      // Started again, the config already names the copy's tokens: nothing to say.
      const again = crl(join(copy, "data"), "again.crl");
      expect(again.r.status, again.r.stderr).to.equal(0);
      expect(again.r.stderr).to.not.match(/token directory/);
    } finally {
      renameSync(`${original}.moved`, original);
    }
    expect(existsSync(join(original, "softhsm", "tokens"))).to.equal(true);
  });

  it("fail/a configuration that names a PIN file outside the data folder says so at start", () => {
    const file = join(copy, "data", "cardpki.json");
    const config = JSON.parse(readFileSync(file, "utf8"));
    const outside = join(demo.dir, "data", "pins", "cardpki-issuing.pin");
    writeFileSync(file, JSON.stringify({ ...config, tokenPins: { "cardpki-issuing": { file: outside } } }));
    try {
      const { r } = crl(join(copy, "data"), "outside.crl");
      expect(r.stderr).to.include(
        `tokenPins.cardpki-issuing.file points outside the data folder ${join(copy, "data")}`,
      );
    } finally {
      writeFileSync(file, JSON.stringify(config));
    }
  });

  it(`fail/an environment value the schema refuses stops the start with the variable's name and a non-zero \
exit`, () => {
    for (const [name, value, words] of [
      [
        "CARDPKI_EXPIRY_SWEEP_SECONDS",
        "abc",
        /CARDPKI_EXPIRY_SWEEP_SECONDS must be a whole number of seconds from 1 to 86400 \(got 'abc'\)/,
      ],
      [
        "CARDPKI_AUDIT_CHECKPOINT_SECONDS",
        "NaN",
        /CARDPKI_AUDIT_CHECKPOINT_SECONDS must be a whole number from 1 to 86400 \(got 'NaN'\)/,
      ],
      ["CARDPKI_HSM_SESSIONS", "4x", /CARDPKI_HSM_SESSIONS must be a whole number from 1 to 64/],
    ] as const) {
      const r = cli(
        ["serve", "--role", "all"],
        envOf(join(copy, "data"), {
          [name]: value,
          CARDPKI_PORT: "0",
          CARDPKI_RA_PORT: "0",
          CARDPKI_HOST: "127.0.0.1",
        }),
      );
      expect(r.status, `${name}=${value}: ${r.stderr}`).to.not.equal(0);
      expect(r.stderr).to.match(words);
    }
  });
});

import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, openssl, requireTool } from "../support/environment.js";

/** Ceremonies as an operator runs them: the cardpki CLI against a real SoftHSM2, judged by OpenSSL and OpenSC. */
describe("cardpki ceremony (REQ-26) on SoftHSM2", function () {
  this.timeout(180_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: string;
  const cli = (args: string[], input?: string) =>
    spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8", input: input ?? "" });
  const share = (token: string, who: string) =>
    `${join(dir, "shares", `${token}-${who}.share`)}=${join(dir, `${who}.pass`)}`;
  const file = (name: string, yaml: string) => {
    const p = join(dir, `${name}.yaml`);
    writeFileSync(p, yaml);
    return p;
  };
  const transcripts = (ca: string) =>
    existsSync(join(store, ca, "transcripts")) ? readdirSync(join(store, ca, "transcripts")) : [];
  const common = 'cps: ["CPS 6.1.1"]\ncustodians: { quorum: 2, of: 3 }\nwitness: required\n';
  let rootFile: string, issuingFile: string, ocspFile: string, crlFile: string;
  const run = (f: string, shares: string[], extra: string[] = []) =>
    cli([
      "ceremony",
      "run",
      f,
      "--operator",
      "olga",
      "--witness",
      "walter",
      ...shares.flatMap((s) => ["--share", s]),
      "--yes",
      ...extra,
    ]);

  before(function () {
    requireTool(this, "softhsm2-util");
    requireTool(this, "openssl");
    dir = mkdtempSync(join(tmpdir(), "ceremony-"));
    store = join(dir, "ca-store");
    env = {
      ...process.env,
      CARDPKI_DATA_DIR: join(dir, "data"),
      CARDPKI_CA_STORE: store,
      CARDPKI_BASE_URL: "http://pki.example",
      SOFTHSM2_CONF: join(dir, "softhsm2.conf"),
    };
    delete env.CARDPKI_CONFIG;
    spawnSync("mkdir", ["-p", join(dir, "tokens")]);
    writeFileSync(
      join(dir, "softhsm2.conf"),
      `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    for (const who of ["alice", "bob", "carol"])
      writeFileSync(join(dir, `${who}.pass`), `${who} has a long passphrase\n`, { mode: 0o600 });
    for (const token of ["t-root", "t-issuing"]) {
      const r = cli([
        "ceremony",
        "init-softhsm-token",
        "--token",
        token,
        "--quorum",
        "2",
        "--out-dir",
        join(dir, "shares"),
        ...["alice", "bob", "carol"].flatMap((w) => ["--custodian", `${w}=${join(dir, `${w}.pass`)}`]),
      ]);
      expect(r.status, r.stderr).to.equal(0);
    }
    rootFile = file(
      "root",
      `id: t-root-ceremony\nversion: 1\ndescription: test root\nkind: root\ntoken: ` +
        `t-root\nkey: { label: root-key, type: P-384 }\nca: { id: t-root, ` +
        `serialPrefix: 1 }\nprofile: root-ca\nsubject: { CN: Test Root, O: cardpki ` +
        `tests, C: SE }\n${common}`,
    );
    issuingFile = file(
      "issuing",
      `id: t-issuing-ceremony\nversion: 1\ndescription: test issuing\nkind: ` +
        `issuing-ca\ntoken: t-issuing\nkey: { label: issuing-key, type: RSA-3072 ` +
        `}\nca: { id: t-issuing, serialPrefix: 2 }\nparent: t-root\nprofile: ` +
        `issuing-ca\nvalidityDays: 1825\nsubject: { CN: Test Issuing CA, O: cardpki ` +
        `tests, C: SE }\n${common}`,
    );
    ocspFile = file(
      "ocsp",
      `id: t-ocsp-ceremony\nversion: 1\ndescription: test ocsp\nkind: ` +
        `ocsp-signer\ntoken: t-issuing\nkey: { label: ocsp-key-1, type: P-256 ` +
        `}\nparent: t-issuing\nprofile: ocsp-signer\nvalidityDays: 7\nsubject: { CN: ` +
        `Test OCSP 1, O: cardpki tests, C: SE }\n${common}`,
    );
    crlFile = file(
      "crl",
      `id: t-root-crl\nversion: 1\ndescription: test root crl\nkind: ` +
        `root-crl\ntoken: t-root\nparent: t-root\ncrl: { nextUpdateDays: 90 }\n${common}`,
    );
  });

  it("fail/one custodian short of the quorum (M-1 shares): refused, nothing made", () => {
    const r = run(rootFile, [share("t-root", "alice")]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/needs 2 of 3 custodians; 1 present \(alice\)/);
    expect(existsSync(join(store, "t-root"))).to.equal(false);
  });

  it("fail/a tampered share is refused, not turned into a wrong PIN", () => {
    const f = JSON.parse(readFileSync(join(dir, "shares", "t-root-bob.share"), "utf8"));
    const ct = Buffer.from(f.ciphertext, "base64");
    ct[3] ^= 0x40;
    writeFileSync(join(dir, "bob-tampered.share"), JSON.stringify({ ...f, ciphertext: ct.toString("base64") }));
    const r = run(rootFile, [share("t-root", "alice"), `${join(dir, "bob-tampered.share")}=${join(dir, "bob.pass")}`]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/share of custodian 'bob' for token 't-root' does not open/);
  });

  it("fail/a wrong passphrase is refused", () => {
    const r = run(rootFile, [
      share("t-root", "alice"),
      `${join(dir, "shares", "t-root-bob.share")}=${join(dir, "carol.pass")}`,
    ]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/wrong passphrase/);
  });

  it("fail/without a witness, and without a terminal or --yes: refused before any key is made", () => {
    const noWitness = cli([
      "ceremony",
      "run",
      rootFile,
      "--operator",
      "olga",
      "--share",
      share("t-root", "alice"),
      "--share",
      share("t-root", "bob"),
      "--yes",
    ]);
    expect(noWitness.status).to.equal(1);
    expect(noWitness.stderr).to.match(/needs a witness/);
    const noYes = cli([
      "ceremony",
      "run",
      rootFile,
      "--operator",
      "olga",
      "--witness",
      "walter",
      "--share",
      share("t-root", "alice"),
      "--share",
      share("t-root", "bob"),
    ]);
    expect(noYes.status).to.equal(2);
    expect(noYes.stderr).to.match(/confirmation needed/);
    expect(existsSync(join(store, "t-root"))).to.equal(false);
  });

  it("ok/--dry-run runs the whole issuing-CA ceremony on throw-away tokens and touches nothing", () => {
    const r = run(issuingFile, [], ["--dry-run"]);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout);
    expect(out.dryRun).to.equal(true);
    expect(out.transcript.dryRun).to.equal(true);
    expect(out.transcript.steps.map((s: { action: string }) => s.action)).to.include.members([
      "generate-key",
      "check-key",
      "sign-certificate",
    ]);
    expect(existsSync(join(store, "t-issuing"))).to.equal(false);
  });

  it("ok/root + issuing CA + OCSP signer with 2 of 3 custodians: numbered steps, chain verifies with openssl", () => {
    const root = run(rootFile, [share("t-root", "alice"), share("t-root", "carol")]);
    expect(root.status, root.stderr).to.equal(0);
    expect(root.stderr).to.match(/^\[1\] checks passed/m);
    expect(root.stderr).to.match(
      /^\[3\] key id [0-9a-f]+, SPKI SHA-256 [0-9a-f]{64}: sensitive, never extractable, sign-only/m,
    );
    const issuing = run(issuingFile, [
      share("t-root", "bob"),
      share("t-root", "carol"),
      share("t-issuing", "alice"),
      share("t-issuing", "bob"),
    ]);
    expect(issuing.status, issuing.stderr).to.equal(0);
    const ocsp = run(ocspFile, [share("t-issuing", "alice"), share("t-issuing", "carol")]);
    expect(ocsp.status, ocsp.stderr).to.equal(0);
    const rootPem = join(store, "t-root", "cert.pem");
    const v = openssl([
      "verify",
      "-x509_strict",
      "-CAfile",
      rootPem,
      "-untrusted",
      join(store, "t-issuing", "cert.pem"),
      join(store, "t-issuing", "ocsp-signers", "ocsp-key-1", "cert.pem"),
    ]);
    expect(v.out).to.include(": OK");
    const text = openssl([
      "x509",
      "-in",
      join(store, "t-issuing", "ocsp-signers", "ocsp-key-1", "cert.pem"),
      "-noout",
      "-text",
    ]).out;
    expect(text).to.include("OCSP No Check");
    expect(text).to.include("OCSP Signing");
    const issuingText = openssl(["x509", "-in", join(store, "t-issuing", "cert.pem"), "-noout", "-text", "-dates"]).out;
    expect(issuingText).to.include("Public-Key: (3072 bit)");
    expect(readFileSync(join(store, "t-issuing", "key.uri"), "utf8")).to.match(
      /^pkcs11:token=t-issuing;object=issuing-key;id=(%[0-9a-f]{2})+;type=private\n$/,
    );
    expect(readFileSync(join(store, "t-issuing", "key.uri"), "utf8")).to.not.match(/pin/i);
  });

  it("ok/pkcs11-tool --list-objects shows the CA keys sensitive, never extractable, sign-only", function () {
    requireTool(this, "pkcs11-tool");
    const pin = spawnSync(
      process.execPath,
      [
        "-e",
        `
      import("${join(process.cwd(), "dist/src/ceremony/pin-shares.js")}").then((m) => {
        const fs = require("fs");
        const open = (w) =>
          m.openShare(
            m.parseShareFile(fs.readFileSync("${join(dir, "shares")}/t-issuing-" + w + ".share", "utf8"), w),
            fs.readFileSync("${dir}/" + w + ".pass", "utf8").trim(),
          );
        return m.combinePinShares("t-issuing", [open("alice"), open("bob")]).then((pin) => process.stdout.write(pin));
      })`,
      ],
      { encoding: "utf8" },
    ).stdout;
    const r = spawnSync(
      "pkcs11-tool",
      [
        "--module",
        "/usr/lib/softhsm/libsofthsm2.so",
        "--token-label",
        "t-issuing",
        "--login",
        "--pin",
        pin,
        "--list-objects",
        "--type",
        "privkey",
      ],
      { env, encoding: "utf8" },
    );
    expect(r.stdout).to.match(/label:\s+issuing-key/);
    expect(r.stdout).to.match(/label:\s+ocsp-key-1/);
    for (const block of r.stdout.split(/Private Key Object/).slice(1)) {
      expect(block).to.match(/Usage:\s+sign\s*\n/);
      expect(block).to.match(/Access:\s+sensitive, always sensitive, never extractable/);
    }
  });

  it("fail/an existing key label is refused, and so is an existing CA id", () => {
    const sameLabel = file(
      "again",
      readFileSync(rootFile, "utf8").replace("id: t-root,", "id: t-root-2,").replace("t-root-ceremony", "t-root-2"),
    );
    const r1 = run(sameLabel, [share("t-root", "alice"), share("t-root", "bob")]);
    expect(r1.status).to.equal(1);
    expect(r1.stderr).to.match(/key label 'root-key' already exists on token 't-root'/);
    expect(existsSync(join(store, "t-root-2"))).to.equal(false);
    const r2 = run(rootFile, [share("t-root", "alice"), share("t-root", "bob")]);
    expect(r2.stderr).to.match(/CA 't-root' already exists/);
  });

  it("ok/root CRL ceremony: openssl verifies it; the CRL number increases", () => {
    for (const n of [1, 2]) {
      const r = run(crlFile, [share("t-root", "alice"), share("t-root", "bob")]);
      expect(r.status, r.stderr).to.equal(0);
      const crl = join(store, "t-root", "crl", `${n}.crl`);
      const v = openssl([
        "crl",
        "-inform",
        "der",
        "-in",
        crl,
        "-CAfile",
        join(store, "t-root", "cert.pem"),
        "-noout",
        "-text",
      ]);
      expect(v.out).to.include("verify OK");
      expect(v.out).to.match(new RegExp(`X509v3 CRL Number: \\n\\s+${n}\\n`));
    }
  });

  it("ok/every transcript verifies; fail/a changed byte is detected", () => {
    let count = 0;
    for (const ca of ["t-root", "t-issuing"])
      for (const t of transcripts(ca)) {
        const r = cli(["ceremony", "verify", join(store, ca, "transcripts", t)]);
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^OK: /);
        count++;
      }
    expect(count).to.equal(5); // root, issuing, ocsp signer, two CRLs
    const t = join(
      store,
      "t-issuing",
      "transcripts",
      transcripts("t-issuing").find((f) => f.startsWith("t-issuing"))!,
    );
    const text = readFileSync(t, "utf8");
    const doc = JSON.parse(text);
    expect(doc.custodians).to.deep.equal([
      { token: "t-root", name: "bob" },
      { token: "t-root", name: "carol" },
      { token: "t-issuing", name: "alice" },
      { token: "t-issuing", name: "bob" },
    ]);
    expect(doc.witness).to.equal("walter");
    expect(doc.keys[0].attributes).to.include({
      sensitive: true,
      extractable: false,
      sign: true,
      decrypt: false,
      unwrap: false,
      derive: false,
    });
    const i = text.indexOf("walter");
    const altered = join(dir, "altered.json");
    writeFileSync(altered, text.slice(0, i) + "Walter" + text.slice(i + 6));
    const r = cli(["ceremony", "verify", altered]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/altered/);
  });

  it("ok/key-backup archives the token under its encryption and never overwrites", () => {
    const out = join(dir, "backup", "t-issuing.tar.gz");
    const f = file(
      "backup",
      `id: t-backup\nversion: 1\ndescription: backup\nkind: key-backup\ntoken: ` +
        `t-issuing\nparent: t-issuing\noutput: ${out}\n${common}`,
    );
    const r = run(f, [share("t-issuing", "bob"), share("t-issuing", "carol")]);
    expect(r.status, r.stderr).to.equal(0);
    expect(existsSync(out)).to.equal(true);
    const again = run(f, [share("t-issuing", "bob"), share("t-issuing", "carol")]);
    expect(again.status).to.equal(1);
    expect(again.stderr).to.match(/exists; refusing to overwrite/);
  });
});

import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, openssl, requireTool } from "../support/environment.js";
import { openCryptokiToken, type OcToken } from "../support/opencryptoki.js";
import { combinePinShares, openShare } from "../../src/ceremony/pin-shares.js";
import { Pkcs11Keystore } from "../../src/hsm/pkcs11-keystore.js";
import { staticPin } from "../../src/hsm/pin-source.js";
import { parsePkcs11Uri } from "../../src/hsm/pkcs11-uri.js";

/**
 * A CA key ceremony and issuance on openCryptoki's software token (its own pkcsslotd), as an operator runs them on an
 * HSM that is not SoftHSM2: the token initialised with the vendor's tool (pkcsconf), its PIN replaced and split among
 * custodians by `ceremony split-pin`, root and issuing CA ceremonies (RSA-3072: the software token has no EC), the
 * root CRL ceremony, then `cert issue` signing with the issuing key on the token; judged by OpenSSL.
 */
describe("cardpki ceremony and issuance on openCryptoki (software token, pkcsslotd)", function () {
  this.timeout(300_000);
  let tok: OcToken | undefined;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: string;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, encoding: "utf8", input: "" });
  const share = (who: string) => `${join(dir, "shares", `${tok!.label}-${who}.share`)}=${join(dir, `${who}.pass`)}`;
  const ceremony = (name: string, yaml: string, who: string[]) => {
    const f = join(dir, `${name}.yaml`);
    writeFileSync(f, yaml);
    return cli([
      ...["ceremony", "run", f, "--operator", "olga", "--witness", "walter"],
      ...who.flatMap((w) => ["--share", share(w)]),
      "--yes",
    ]);
  };
  const common = 'cps: ["CPS 6.1.1"]\ncustodians: { quorum: 2, of: 3 }\nwitness: required\n';

  before(function () {
    requireTool(this, "openssl");
    tok = openCryptokiToken(this);
    dir = mkdtempSync(join(tmpdir(), "ock-ceremony-"));
    store = join(dir, "ca-store");
    env = {
      ...process.env,
      CARDPKI_DATA_DIR: join(dir, "data"),
      CARDPKI_CA_STORE: store,
      CARDPKI_BASE_URL: "http://pki.example",
      PKCS11_LIBRARY: tok.library,
    };
    delete env.SOFTHSM2_CONF;
    delete env.CARDPKI_CONFIG;
    for (const who of ["alice", "bob", "carol"])
      writeFileSync(join(dir, `${who}.pass`), `${who} has a long passphrase\n`, { mode: 0o600 });
  });
  after(() => tok?.stop());

  const shareFiles = () => ["alice", "bob"].map((w) => share(w).split("=")[0]!);

  it(`ok/split-pin replaces the vendor-set PIN with a random one the token takes (8 characters at most) and splits it \
2 of 3`, async () => {
    const r = cli(
      [
        ...["ceremony", "split-pin", "--token", tok!.label, "--pin-env", "OCK_CURRENT_PIN", "--quorum", "2"],
        ...["--out-dir", join(dir, "shares")],
        ...["alice", "bob", "carol"].flatMap((w) => ["--custodian", `${w}=${join(dir, `${w}.pass`)}`]),
      ],
      { OCK_CURRENT_PIN: tok!.pin },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/PIN replaced; 2 of 3 custodians now needed/);
    const opened = ["alice", "bob"].map((w, i) =>
      openShare(
        JSON.parse(readFileSync(shareFiles()[i]!, "utf8")),
        readFileSync(join(dir, `${w}.pass`), "utf8").trim(),
      ),
    );
    const pin = await combinePinShares(tok!.label, opened);
    expect(pin).to.match(/^[A-Za-z0-9_-]{8}$/);
    expect(pin).to.not.equal(tok!.pin);
  });

  it(`ok/root and issuing CA ceremonies (RSA-3072) and the root CRL ceremony on the token; openssl verifies the chain \
and the CRL`, () => {
    const root = ceremony(
      "root",
      `id: ock-root-ceremony\nversion: 1\ndescription: root on openCryptoki\nkind: ` +
        `root\ntoken: ${tok!.label}\nkey: { label: ock-root-key, type: RSA-3072 ` +
        `}\nca: { id: ock-root, serialPrefix: 1 }\nprofile: root-ca\nsubject: { CN: ` +
        `openCryptoki Test Root, O: cardpki tests, C: SE }\n${common}`,
      ["alice", "carol"],
    );
    expect(root.status, root.stderr).to.equal(0);
    expect(root.stderr).to.match(
      /key id [0-9a-f]+, SPKI SHA-256 [0-9a-f]{64}: sensitive, never extractable, sign-only/,
    );
    const issuing = ceremony(
      "issuing",
      `id: ock-issuing-ceremony\nversion: 1\ndescription: issuing CA on ` +
        `openCryptoki\nkind: issuing-ca\ntoken: ${tok!.label}\nkey: { label: ` +
        `ock-issuing-key, type: RSA-3072 }\nca: { id: ock-issuing, serialPrefix: 2 ` +
        `}\nparent: ock-root\nprofile: issuing-ca\nvalidityDays: 1825\nsubject: { ` +
        `CN: openCryptoki Test Issuing CA, O: cardpki tests, C: SE }\n${common}`,
      ["bob", "carol"],
    );
    expect(issuing.status, issuing.stderr).to.equal(0);
    const crl = ceremony(
      "root-crl",
      `id: ock-root-crl\nversion: 1\ndescription: root CRL on openCryptoki\nkind: ` +
        `root-crl\ntoken: ${tok!.label}\nparent: ock-root\ncrl: { nextUpdateDays: 90 }\n${common}`,
      ["alice", "bob"],
    );
    expect(crl.status, crl.stderr).to.equal(0);
    const rootPem = join(store, "ock-root", "cert.pem");
    const v = openssl(["verify", "-x509_strict", "-CAfile", rootPem, join(store, "ock-issuing", "cert.pem")]);
    expect(v.out).to.include(": OK");
    expect(openssl(["x509", "-in", rootPem, "-noout", "-text"]).out).to.include("Public-Key: (3072 bit)");
    const crlFile = readdirSync(join(store, "ock-root", "crl")).find((n) => n.endsWith(".crl"));
    expect(crlFile, "root CRL in ca-store").to.be.a("string");
    const c = openssl([
      "crl",
      "-inform",
      "DER",
      "-in",
      join(store, "ock-root", "crl", crlFile!),
      "-CAfile",
      rootPem,
      "-noout",
    ]);
    expect(c.out).to.match(/verify OK/);
    expect(readFileSync(join(store, "ock-issuing", "key.uri"), "utf8")).to.match(
      new RegExp(`^pkcs11:token=${tok!.label};object=ock-issuing-key;id=(%[0-9a-f]{2})+;type=private\\n$`),
    );
  });

  it(`ok/cert issue signs with the issuing key on the token (kdc profile); openssl verifies the certificate to the \
root`, async () => {
    // The operator unlocks the online issuing token with its PIN (here from two custodians' shares) in an owner-only
    // file.
    const opened = ["alice", "bob"].map((w, i) =>
      openShare(
        JSON.parse(readFileSync(shareFiles()[i]!, "utf8")),
        readFileSync(join(dir, `${w}.pass`), "utf8").trim(),
      ),
    );
    const pinFile = join(dir, "issuing.pin");
    writeFileSync(pinFile, (await combinePinShares(tok!.label, opened)) + "\n", { mode: 0o600 });
    const k = openssl([
      ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", join(dir, "kdc.key"), "-out", join(dir, "kdc.csr"), "-subj", "/CN=kdc.example.org"],
    ]);
    expect(k.status, k.out).to.equal(0);
    const pinVar = `CARDPKI_PIN_FILE_${tok!.label.toUpperCase().replace(/-/g, "_")}`;
    const r = cli(
      [
        ...["cert", "issue", "--profile", "kdc", "--ca", "ock-issuing", "--csr", join(dir, "kdc.csr")],
        ...["--subject", "CN=kdc.example.org,O=cardpki tests,C=SE"],
        ...["--krb5-principal", "krbtgt/EXAMPLE.ORG@EXAMPLE.ORG", "--out", join(dir, "kdc.pem"), "--operator", "olga"],
      ],
      { [pinVar]: pinFile, CARDPKI_ISSUING_CAS: "ock-issuing" },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/issued serial [0-9a-f]+ \(kdc\) by ock-issuing/);
    const v = openssl([
      ...["verify", "-x509_strict", "-CAfile", join(store, "ock-root", "cert.pem")],
      ...["-untrusted", join(store, "ock-issuing", "cert.pem"), join(dir, "kdc.pem")],
    ]);
    expect(v.out).to.include(": OK");
    expect(openssl(["x509", "-in", join(dir, "kdc.pem"), "-noout", "-text"]).out).to.include(
      "Signature Algorithm: sha256WithRSAEncryption",
    );
  });

  it(`ok/the issuing key keeps signing while pkcsslotd restarts under the open keystore, no process \
restart`, async () => {
    const opened = ["alice", "bob"].map((w, i) =>
      openShare(
        JSON.parse(readFileSync(shareFiles()[i]!, "utf8")),
        readFileSync(join(dir, `${w}.pass`), "utf8").trim(),
      ),
    );
    const pin = await combinePinShares(tok!.label, opened);
    const ks = new Pkcs11Keystore({ library: tok!.library, tokenLabel: tok!.label, pin: staticPin(pin), sessions: 2 });
    await ks.open();
    try {
      const signer = await ks.signerFor(
        parsePkcs11Uri(readFileSync(join(store, "ock-issuing", "key.uri"), "utf8").trim()),
      );
      const pub = createPublicKey({ key: Buffer.from(signer.spki), format: "der", type: "spki" });
      const signs = async (m: string) =>
        verify("sha256", Buffer.from(m), pub, Buffer.from(await signer.sign(Buffer.from(m))));
      expect(await signs("before the restart")).to.equal(true);
      const before = ks.recoveries;
      tok!.restartDaemon();
      const after = await Promise.all(Array.from({ length: 8 }, (_, i) => signs(`after the restart ${i}`)));
      expect(after).to.deep.equal(Array(8).fill(true));
      // openCryptoki 3.8: the software token lives in the client's process and pkcsslotd only coordinates, so the
      // sessions outlive the daemon's restart: nothing to recover (the recovery cases themselves run in
      // opencryptoki-keystore.test.ts: every session closed, the library finalized under the keystore).
      expect(ks.recoveries, "sessions outlive a pkcsslotd restart").to.equal(before);
    } finally {
      ks.close();
    }
  });
});

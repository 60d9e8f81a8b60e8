import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate, randomBytes } from "node:crypto";
import { CLI, requireTool, run, waitFor } from "../support/environment.js";
import { freePort } from "../support/free-port.js";
import { freshCard, virtualCard } from "../support/virtual-card.js";
import { sanAsOpenSslReads } from "../support/openssl-san.js";
import {
  crlUntil,
  demoOrgDomain,
  expiredCertificate,
  freshOrgNumber,
  otherCaCard,
  startRpCa,
  virtualCardLife,
  type CardLife,
  type RpCa,
} from "../support/relying-party.js";

/**
 * Kerberos smart-card logon (PKINIT, RFC 4556) with MIT Kerberos from Debian (krb5-kdc, krb5-pkinit, krb5-user,
 * kadmin.local from krb5-admin-server): a KDC of its own (krb5.conf / kdc.conf in a temp dir, a free port) with a
 * certificate of our `kdc` profile issued by the operator CLI, the demo root as its only PKINIT anchor,
 * `pkinit_eku_checking = scLogin` and CRL checking required (`pkinit_revoke` with our CRLs, fetched over HTTP). The
 * holder's card is the virtual PIV card personalised for a real order of the shipped `loa3-card-order-logon` workflow
 * (RSA-2048 card, `loa3-smartcard-logon` profile); `kinit` signs with the key on the card through OpenSC's PKCS#11
 * module, the PIN on stdin. The card certificate carries the holder's id-pkinit-san (and UPN), which the RA derived
 * from their e-mail in the organisation's validated domain; the realm is that domain in upper case. The KDC matches
 * the client principal with the SAN (MIT's default): no `pkinit_cert_match` for our cards.
 */
/** The organisation (validated domain org<n>.example, REQ-01) and the realm named after it (RFC 4120 6.1). */
const ORG = freshOrgNumber("58");
const DOMAIN = demoOrgDomain(ORG);
const REALM = DOMAIN.toUpperCase();
const OPENSC = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
/** What the KDC logs when it refuses a client certificate: OpenSSL's verify error for the card (depth 0). */
const kdcRefusal = (why: string) =>
  new RegExp(`preauth \\(pkinit\\) verify failure: Failed to verify received certificate \\(depth 0\\): ${why}`);
const KDC_REVOKED = kdcRefusal("certificate revoked");

describe(`relying party: MIT Kerberos PKINIT smart-card logon with the key on the card (kinit, KDC CRL \
checking)`, function () {
  this.timeout(240_000);
  let ca: RpCa;
  let kdc: ChildProcess | undefined;
  let port = 0;
  let card: CardLife & { transportPin: string; pin: () => string };
  let tickets = 0;
  const f = (n: string) => join(ca.dir, n);
  const kdcLog = () => (existsSync(f("kdc.log")) ? readFileSync(f("kdc.log"), "utf8") : "");
  const krbEnv = () => ({
    ...process.env,
    KRB5_CONFIG: f("krb5.conf"),
    KRB5_KDC_PROFILE: f("kdc.conf"),
  });
  /** A Kerberos tool with this test's configuration; `input` on stdin (the PIN). */
  const krb = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, input = "") =>
    new Promise<{ status: number; out: string }>((resolve, reject) => {
      const child = spawn(cmd, args, { env: { ...krbEnv(), ...env }, stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ status: code ?? -1, out }));
      child.stdin.on("error", () => undefined);
      child.stdin.end(input);
    });
  const kadmin = async (query: string) => {
    const r = await krb("kadmin.local", ["-r", REALM, "-q", query]);
    expect(r.status, `kadmin.local ${query}: ${r.out}`).to.equal(0);
    expect(r.out, query).to.not.match(/error|not found|usage/i);
  };
  /**
   * The subject or issuer DN as MIT PKINIT matches it (X509_NAME_print_ex, XN_FLAG_SEP_COMMA_PLUS): a whole-string
   * regex.
   */
  const dnRule = async (pem: string, which: "subject" | "issuer") => {
    const file = f(`dn-${randomBytes(4).toString("hex")}.pem`);
    writeFileSync(file, pem);
    const r = await run("openssl", ["x509", "-in", file, "-noout", `-${which}`, "-nameopt", "sep_comma_plus"]);
    expect(r.status, r.out).to.equal(0);
    const dn = r.stdout.trim().replace(new RegExp(`^${which}=`), "");
    return `^${dn.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
  };
  /**
   * A principal the KDC maps a certificate to by its DN (MIT's `pkinit_cert_match`), PKINIT only (no key, preauth
   * required): for another CA's card, which names no principal, so that its refusal is the chain's and not the name's.
   */
  const principalFor = async (name: string, rule: string) => {
    await kadmin(`addprinc -nokey +requires_preauth ${name}`);
    await kadmin(`set_string ${name} pkinit_cert_match "${rule.replace(/"/g, '\\"')}"`);
  };

  /** The KDC (re)started: it reads its CRLs (`pkinit_revoke`) at start, as a KDC does after a CRL refresh. */
  const startKdc = async () => {
    await stopKdc();
    const before = (kdcLog().match(/commencing operation/g) ?? []).length;
    const p = spawn("krb5kdc", ["-n", "-r", REALM], { env: krbEnv(), stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d) => (err += d));
    kdc = p;
    const up = await waitFor(
      () => p.exitCode !== null || (kdcLog().match(/commencing operation/g) ?? []).length > before,
      10_000,
      100,
    );
    expect(up && p.exitCode === null, `krb5kdc did not start: ${err} ${kdcLog().slice(-800)}`).to.equal(true);
  };
  const stopKdc = async () => {
    const p = kdc;
    kdc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
  };

  /**
   * `kinit` with an identity (the card through PKCS#11, or files); the PIN on stdin; `klist` of the new cache.
   * `o.anchors`: the client's own trust anchor (a client trusting another CA sends that CA's card to the KDC).
   */
  const kinit = async (principal: string, identity: string, pin = "", o: { anchors?: string } = {}) => {
    tickets += 1;
    const cache = `FILE:${f(`cc-${tickets}`)}`;
    const mark = kdcLog().length;
    const args = [
      ...(o.anchors ? ["-X", `X509_anchors=FILE:${o.anchors}`] : []),
      ...["-X", `X509_user_identity=${identity}`, `${principal}@${REALM}`],
    ];
    const r = await krb("kinit", args, { KRB5CCNAME: cache }, pin ? `${pin}\n` : "");
    const l = await krb("klist", [], { KRB5CCNAME: cache });
    return { ...r, klist: l, kdc: kdcLog().slice(mark) };
  };
  const cardLogon = () => kinit("cy.holder", `PKCS11:${OPENSC}`, card.pin());
  const expectTicket = (r: Awaited<ReturnType<typeof kinit>>, principal: string) => {
    expect(r.status, `kinit: ${r.out}\nKDC: ${r.kdc}`).to.equal(0);
    expect(r.klist.status, r.klist.out).to.equal(0);
    expect(r.klist.out).to.include(`Default principal: ${principal}@${REALM}`);
    expect(r.klist.out).to.include(`krbtgt/${REALM}@${REALM}`);
  };
  const expectRefused = (r: Awaited<ReturnType<typeof kinit>>, why: string, kdcSays: RegExp) => {
    expect(r.status, `${why}: kinit must fail: ${r.out}`).to.not.equal(0);
    expect(r.klist.status, `${why}: no ticket`).to.not.equal(0);
    expect(r.kdc, `${why}: the KDC names the reason`).to.match(kdcSays);
  };

  before(async function () {
    for (const t of ["krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist", "openssl", "yubico-piv-tool"])
      requireTool(this, t);
    if (!existsSync("/usr/lib/x86_64-linux-gnu/krb5/plugins/preauth/pkinit.so")) {
      if (process.env.CI === "true") throw new Error("krb5-pkinit is required under CI=true");
      this.skip();
    }
    virtualCard(this);
    // The shipped policies as they are: loa3-card-order-logon makes RSA-2048 cards (MIT krb5 1.20 signs with a
    // PKCS#11 key only by CKM_RSA_PKCS) with the logon names in the SAN.
    ca = await startRpCa(this, "kerberos", { virtualCard: true });
    await freshCard(0x61000000 + (Date.now() % 0x0fffffff));

    // The KDC's key and its certificate from the `kdc` profile, by the operator CLI as an operator issues it.
    const o = await run("openssl", [
      ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", f("kdc.key"), "-out", f("kdc.csr"), "-subj", "/CN=kdc.cardpki.test"],
    ]);
    expect(o.status, o.out).to.equal(0);
    const issued = await new Promise<{ status: number; out: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        [
          CLI,
          ...["cert", "issue", "--profile", "kdc", "--ca", "demo-issuing", "--csr", f("kdc.csr")],
          ...["--subject", "CN=kdc.cardpki.test,O=cardpki demo,C=SE"],
          ...["--krb5-principal", `krbtgt/${REALM}@${REALM}`, "--out", f("kdc.pem"), "--operator", "ed"],
        ],
        { env: ca.env.env, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      c.stdout.on("data", (d) => (out += d));
      c.stderr.on("data", (d) => (out += d));
      c.on("close", (code) => resolve({ status: code ?? -1, out }));
    });
    expect(issued.status, `cert issue --profile kdc: ${issued.out}`).to.equal(0);
    expect(issued.out).to.match(/issued serial [0-9a-f]+ \(kdc\) by demo-issuing/);

    port = await freePort();
    const realm = (lines: string[]) => [`  ${REALM} = {`, ...lines.map((l) => `    ${l}`), `  }`];
    writeFileSync(
      f("kdc.conf"),
      [
        `[kdcdefaults]`,
        `  kdc_ports = ${port}`,
        `  kdc_tcp_ports = ${port}`,
        `[realms]`,
        ...realm([
          `database_name = ${f("principal")}`,
          `key_stash_file = ${f("stash")}`,
          `acl_file = ${f("kadm5.acl")}`,
          `pkinit_identity = FILE:${f("kdc.pem")},${f("kdc.key")}`,
          `pkinit_anchors = FILE:${ca.rootFile}`,
          `pkinit_pool = FILE:${ca.issuingFile}`,
          `pkinit_eku_checking = scLogin`,
          `pkinit_revoke = FILE:${f("crls.pem")}`,
          `pkinit_require_crl_checking = true`,
        ]),
        `[logging]`,
        `  kdc = FILE:${f("kdc.log")}`,
        ``,
      ].join("\n"),
    );
    writeFileSync(
      f("krb5.conf"),
      [
        `[libdefaults]`,
        `  default_realm = ${REALM}`,
        `  dns_lookup_kdc = false`,
        `  dns_lookup_realm = false`,
        `[realms]`,
        ...realm([
          `kdc = 127.0.0.1:${port}`,
          `pkinit_anchors = FILE:${ca.rootFile}`,
          `pkinit_pool = FILE:${ca.issuingFile}`,
        ]),
        ``,
      ].join("\n"),
    );
    const db = await krb("kdb5_util", ["create", "-s", "-r", REALM, "-P", randomBytes(12).toString("hex")]);
    expect(db.status, db.out).to.equal(0);

    card = await virtualCardLife(ca, "592817", {
      workflowId: "loa3-card-order-logon",
      orgNumber: ORG,
      email: `Cy.Holder@${DOMAIN}`,
    });
    const key = new X509Certificate(card.certPem).publicKey;
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength], "the card's key").to.deep.equal([
      "rsa",
      2048,
    ]);
    // The holder's principal, PKINIT only: the KDC finds it in the card's id-pkinit-san, nothing maps it.
    await kadmin("addprinc -nokey +requires_preauth cy.holder");
    await kadmin("addprinc -nokey +requires_preauth mallory"); // another holder of the realm
    await crlUntil(ca, card.serial, true); // on hold from issuance: certificateHold on the CRL
    await startKdc();
  });
  after(async () => {
    await stopKdc();
    await ca?.stop();
  });

  it(`ok/the card certificate names the holder as OpenSSL reads it: UPN and id-pkinit-san from the validated \
e-mail`, async () => {
    writeFileSync(f("card.pem"), card.certPem);
    const san = await sanAsOpenSslReads(f("card.pem"), "PEM");
    expect(san.text).to.include(`othername: UPN::cy.holder@${DOMAIN}`);
    expect(san.text).to.include("othername: 1.3.6.1.5.2.2::");
    expect(san.der).to.deep.equal([
      "OBJECT :Microsoft User Principal Name",
      `UTF8STRING :cy.holder@${DOMAIN}`, // the e-mail on the holder's record, lower-case
      "OBJECT :1.3.6.1.5.2.2",
      `GENERALSTRING :${REALM}`,
      "INTEGER :01",
      "GENERALSTRING :cy.holder",
    ]);
    const ext = await run("openssl", ["x509", "-in", f("card.pem"), "-noout", "-ext", "extendedKeyUsage"]);
    expect(ext.stdout).to.match(/TLS Web Client Authentication, Microsoft Smartcard Login/);
  });

  it("fail/a card on hold before activation gets no ticket: the KDC finds it on the CRL", async () => {
    expectRefused(await cardLogon(), "held", KDC_REVOKED);
  });

  it("ok/the activated card gets a ticket with its PIN: klist shows the holder's TGT", async () => {
    await card.activate();
    await crlUntil(ca, card.serial, false);
    await startKdc(); // with the CRL that no longer lists the card
    const r = await cardLogon();
    expectTicket(r, "cy.holder");
    expect(r.kdc).to.match(new RegExp(`ISSUE: .* cy\\.holder@${REALM.replace(/\./g, "\\.")} for krbtgt/`));
  });

  it("fail/the card asking for another principal of the realm gets no ticket: its SAN names the holder", async () => {
    const r = await kinit("mallory", `PKCS11:${OPENSC}`, card.pin());
    expectRefused(r, "another principal", /preauth \(pkinit\) verify failure: Client name mismatch/);
    expect(r.kdc, "the KDC issued nothing").to.not.match(/ISSUE:/);
  });

  it("fail/the wrong PIN gets no ticket", async () => {
    const r = await kinit("cy.holder", `PKCS11:${OPENSC}`, "000000");
    expect(r.status, r.out).to.not.equal(0);
    expect(r.klist.status).to.not.equal(0);
    expect(r.kdc, "the KDC issued nothing").to.not.match(/ISSUE:/);
  });

  it("fail/a revoked card gets no ticket once the KDC has the CRL that lists it", async () => {
    await card.revoke("keyCompromise");
    await crlUntil(ca, card.serial, true);
    await startKdc();
    expectRefused(await cardLogon(), "revoked", KDC_REVOKED);
  });

  it(`fail/a card of another CA (mapped to a principal by DN) and an expired card of our CA get no \
ticket`, async () => {
    const other = await otherCaCard(ca.dir);
    writeFileSync(f("other.crt"), other.certPem);
    writeFileSync(f("other.key"), other.keyPem, { mode: 0o600 });
    await principalFor("alice", `<SUBJECT>${await dnRule(other.certPem, "subject")}`);
    expectRefused(
      await kinit("alice", `FILE:${f("other.crt")},${f("other.key")}`, "", { anchors: other.rootFile }),
      "another CA",
      kdcRefusal("unable to get local issuer certificate"),
    );

    // Our expired card names its principal in the SAN as a live one does.
    const expired = await expiredCertificate(ca, {
      profileId: "loa3-smartcard-logon",
      san: { upn: [`expired@${DOMAIN}`], krb5Principal: [`expired@${REALM}`] },
      validatedDomains: [DOMAIN],
    });
    writeFileSync(f("expired.crt"), expired.certPem);
    writeFileSync(f("expired.key"), expired.keyPem, { mode: 0o600 });
    await kadmin("addprinc -nokey +requires_preauth expired");
    // MIT's client verifies its own chain before it signs (and our CA did not exist when this one was valid, so no
    // client clock lets it through): kinit refuses the expired card itself, and the KDC issues nothing.
    const r = await kinit("expired", `FILE:${f("expired.crt")},${f("expired.key")}`);
    expect(r.status, r.out).to.not.equal(0);
    expect(r.out).to.match(/Failed to verify own certificate \(depth 0\): certificate has expired/);
    expect(r.klist.status, "expired: no ticket").to.not.equal(0);
    expect(r.kdc, "expired: the KDC issued nothing").to.not.match(/ISSUE:/);
  });
});

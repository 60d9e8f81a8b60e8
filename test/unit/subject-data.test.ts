import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateIssuer, newSerial } from "../../src/ca/certificate-issuer.js";
import { ALL_LINTS, runLints } from "../../src/ca/lints/index.js";
import { buildTbs } from "../../src/ca/tbs-builder.js";
import { CaError } from "../../src/shared/ca-error.js";
import { FixedClock } from "../../src/shared/clock.js";
import { SeqRandom } from "../../src/shared/random.js";
import { bidiControl, controlCharacter, mixedScripts } from "../../src/shared/unicode-text.js";
import { emailWithinDomains } from "../../src/shared/email-domain.js";
import { registeredNameFrom } from "../../src/ra/subject-builder.js";
import { fileRegister } from "../../src/composition/file-register.js";
import { MemoryCertStore } from "../support/fakes.js";
import { testKey } from "../support/keys.js";
import { refused } from "../support/refused.js";
import { ORG_SUBJECT, PROFILES, softwareAuthority } from "../support/test-ca.js";
import type { SoftwareSigner } from "../../src/hsm/software-signer.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const EE = ["end-entity"] as const;

function setup() {
  const store = new MemoryCertStore();
  const issuer = new CertificateIssuer({
    profiles: PROFILES,
    store,
    clock: new FixedClock(NOW),
    random: new SeqRandom(11),
  });
  const ca = softwareAuthority();
  return { store, issuer, ca, signer: ca.signer as SoftwareSigner };
}

describe("shared/unicode-text (UTS #39, UAX #9)", () => {
  it(`ok/names people have: accents, hyphens, apostrophes, one script each, and Latin with CJK (Highly \
Restrictive)`, () => {
    for (const s of [
      "Åsa Öberg-Lindqvist",
      "Zoë O'Brien",
      "Ngô Bảo Châu",
      "Ελένη Παπαδοπούλου",
      "Анна Иванова",
      "محمد عبد الله",
      "王小明",
      "山田 太郎",
      "やまだ たろう",
      "김민준",
      "Acme 株式会社",
      "NTRSE-5560000001",
      "ada@example.org",
    ]) {
      expect(controlCharacter(s), s).to.equal(undefined);
      expect(bidiControl(s), s).to.equal(undefined);
      expect(mixedScripts(s), s).to.equal(undefined);
    }
    // ZWNJ between two Arabic-script letters (Persian names) is allowed, as in IDNA CONTEXTJ.
    expect(controlCharacter("می\u200Cخواهم")).to.equal(undefined);
  });
  it("fail/control, separator, invisible and private-use characters", () => {
    for (const [s, cp] of [
      ["Ada\u0000", "U+0000"],
      ["Ada\tAdmin", "U+0009"],
      ["Ada\u007F", "U+007F"],
      ["Ada\u0085", "U+0085"],
      ["Ada\u2028", "U+2028"],
      ["A\u200Bda", "U+200B"],
      ["Ada\uFEFF", "U+FEFF"],
      ["Ad\u00ADa", "U+00AD"],
      ["Ada\uE000", "U+E000"],
      ["A\u200Dda", "U+200D"],
    ] as const)
      expect(controlCharacter(s), JSON.stringify(s)).to.include(cp);
  });
  it("fail/bidirectional overrides, embeddings, isolates and marks", () => {
    for (const cp of [0x202e, 0x202d, 0x202a, 0x202b, 0x202c, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c])
      expect(bidiControl(`Ada ${String.fromCodePoint(cp)}nimdA`), cp.toString(16)).to.include(
        `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`,
      );
    expect(controlCharacter("Ada \u202Enimda"), "bidi characters are the bidi rule's").to.equal(undefined);
  });
  it(`fail/mixed scripts: Cyrillic or Greek look-alikes in a Latin name, Latin with Cyrillic, Han with Hangul and \
Hiragana`, () => {
    expect(mixedScripts("\u0410da Admin")).to.match(/Cyrillic.*Latin/); // Cyrillic А
    expect(mixedScripts("Ad\u03B1 Admin")).to.match(/Greek.*Latin/); // Greek α
    expect(mixedScripts("Anna Иванова")).to.match(/Cyrillic, Latin/);
    expect(mixedScripts("김민준 やまだ")).to.match(/mixes scripts/);
    expect(mixedScripts("paypal\u0661")).to.match(/Arabic/); // an Arabic-Indic digit in a Latin string
  });
});

describe("ca/lints: subject and SAN text (one lint per rule)", () => {
  it(`fail/the issuer refuses a registered name with a control character, a bidi override or mixed scripts: \
lint-failed, nothing signed or recorded`, async () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ CN: "Ada\u0007 Admin" }, "text_no_control_characters", /RFC 5280 4\.1\.2\.6.*: subject CN .*U\+0007/],
      [{ CN: "Ada \u202Enimda" }, "text_no_bidi_controls", /UAX #9.*: subject CN .*U\+202E/],
      [{ O: "Example \u2067AB\u2069" }, "text_no_bidi_controls", /: subject O .*U\+2067/],
      [{ CN: "\u0410da Admin", GN: "\u0410da" }, "text_single_script", /UTS #39.*: subject GN .*Cyrillic, Latin/],
    ];
    for (const [change, id, re] of cases) {
      const { issuer, ca, store, signer } = setup();
      const e = await refused(
        issuer.issue(ca, {
          profileId: "loa3-smartcard-auth",
          publicKey: testKey("P-256").spki,
          subject: { ...ORG_SUBJECT, ...change },
          requestedBy: "o",
          allowedKinds: EE,
        }),
      );
      expect(e.kind, id).to.equal("lint-failed");
      expect(e.message).to.include(id);
      expect(e.message).to.match(re);
      expect((e.details!.findings as { id: string }[]).map((f) => f.id)).to.deep.equal([id]);
      expect(signer.calls).to.equal(0);
      expect(store.rows.size).to.equal(0);
    }
  });

  it("fail/SAN strings are linted too: a bidi isolate in the UPN, mixed scripts in the e-mail", () => {
    const ca = softwareAuthority();
    const profile = PROFILES.get("loa3-smartcard-auth")!;
    const lint = (san: { email?: string[]; upn?: string[] }) =>
      runLints(ALL_LINTS, {
        tbsDer: buildTbs({
          profile,
          issuer: ca,
          subject: ORG_SUBJECT,
          san,
          spki: testKey("P-256").spki,
          serial: newSerial(9, new SeqRandom()),
          now: NOW,
        }).der,
        profile,
        issuer: ca,
        selfSigned: false,
        validatedEmailDomains: ["example.se"],
      });
    expect(lint({ email: ["ada@example.se"], upn: ["ada@corp.example"] })).to.deep.equal([]);
    const upn = lint({ upn: ["ada\u2066@corp.example"] });
    expect(upn.map((f) => f.id)).to.deep.equal(["text_no_bidi_controls"]);
    expect(upn[0]!.message).to.match(/SAN otherName UPN/);
    const upnCtl = lint({ upn: ["ada\u0000@corp.example"] });
    expect(upnCtl.map((f) => f.id)).to.deep.equal(["text_no_control_characters"]);
    expect(lint({ upn: ["аda@corp.example"] }).map((f) => f.id)).to.deep.equal(["text_single_script"]);
  });

  it(`ok/a Cyrillic-only or Greek-only name is one script and passes; the certificate carries it in \
UTF8String`, async () => {
    const { issuer, ca } = setup();
    const out = await issuer.issue(ca, {
      profileId: "loa3-smartcard-auth",
      publicKey: testKey("P-256").spki,
      subject: { ...ORG_SUBJECT, CN: "Анна Иванова", GN: "Анна", SN: "Иванова" },
      requestedBy: "o",
      allowedKinds: EE,
    });
    const x = new X509Certificate(Buffer.from(out.der));
    expect(x.subject)
      .to.include("CN=Анна " + "Иванова")
      .and.include("GN=Анна")
      .and.include("SN=Иванова");
  });
});

describe("ca/certificate-issuer: e-mail SAN only within a validated domain (REQ-01, per profile)", () => {
  const issueWith = (profileId: string, email: string, domains?: string[]) => {
    const { issuer, ca, store, signer } = setup();
    const p = issuer.issue(ca, {
      profileId,
      publicKey: testKey("P-256").spki,
      subject: ORG_SUBJECT,
      san: { email: [email] },
      requestedBy: "o",
      allowedKinds: profileId === "ra-officer" ? ["infrastructure"] : EE,
      ...(domains ? { validatedEmailDomains: domains } : {}),
    });
    return { p, store, signer };
  };
  const emails = (der: Uint8Array) => new X509Certificate(Buffer.from(der)).subjectAltName ?? "";

  it("ok/the domain or a subdomain of it, case-insensitive", () => {
    expect(emailWithinDomains("ada@kund.example", ["kund.example"])).to.equal(true);
    expect(emailWithinDomains("ada@Mail.KUND.example", ["kund.example."])).to.equal(true);
    expect(emailWithinDomains("ada@evilkund.example", ["kund.example"])).to.equal(false);
    expect(emailWithinDomains("ada@kund.example.evil", ["kund.example"])).to.equal(false);
    expect(emailWithinDomains("ada@kund.example", [])).to.equal(false);
  });

  it("ok/within the validated domain the e-mail SAN is issued", async () => {
    for (const profileId of ["loa2-smartcard-auth", "loa3-smartcard-auth", "loa3-smartcard-sign", "ra-officer"]) {
      const out = await issueWith(profileId, "ada@mail.kund.example", ["kund.example"]).p;
      expect(emails(out.der), profileId).to.include("email:ada@mail.kund.example");
      expect(out.omittedEmails, profileId).to.equal(undefined);
    }
  });

  it(`ok/authentication profiles (loa2/loa3-smartcard-auth, ra-officer) issue without an e-mail outside the validated \
domain, and say so`, async () => {
    for (const profileId of ["loa2-smartcard-auth", "loa3-smartcard-auth", "ra-officer"]) {
      expect(PROFILES.get(profileId)!.subjectAltName.email!.outsideValidatedDomain, profileId).to.equal("omit");
      const { p, store } = issueWith(profileId, "ada@gmail.example", ["kund.example"]);
      const out = await p;
      expect(emails(out.der), profileId).to.not.include("gmail");
      expect(out.omittedEmails).to.deep.equal(["ada@gmail.example"]);
      expect(store.audit.find((a) => a.action === "cert.reserve")!.details).to.include({ emailSanOmitted: 1 });
      // No validated domain at all: no e-mail SAN.
      expect(emails((await issueWith(profileId, "ada@kund.example").p).der)).to.not.include("email:");
    }
  });

  it(`fail/the signature profile (loa3-smartcard-sign: the mailbox is what it binds) refuses an e-mail outside the \
validated domain: nothing signed`, async () => {
    expect(PROFILES.get("loa3-smartcard-sign")!.subjectAltName.email!.outsideValidatedDomain).to.equal("refuse");
    const { p, store, signer } = issueWith("loa3-smartcard-sign", "ada@gmail.example", ["kund.example"]);
    const e = await refused(p);
    expect(e.kind).to.equal("policy-violation");
    expect(e.message).to.match(/outside the organisation's validated domains \(kund\.example\).*REQ-01/);
    expect(signer.calls).to.equal(0);
    expect(store.rows.size).to.equal(0);
  });

  it(`fail/the lint san_email_within_validated_domain catches a TBS that carries an e-mail outside the validated \
domains`, () => {
    const ca = softwareAuthority();
    const profile = PROFILES.get("loa3-smartcard-auth")!;
    const tbsDer = buildTbs({
      profile,
      issuer: ca,
      subject: ORG_SUBJECT,
      san: { email: ["ada@gmail.example"] },
      spki: testKey("P-256").spki,
      serial: newSerial(9, new SeqRandom()),
      now: NOW,
    }).der;
    const f = runLints(ALL_LINTS, {
      tbsDer,
      profile,
      issuer: ca,
      selfSigned: false,
      validatedEmailDomains: ["kund.example"],
    });
    expect(f.map((x) => x.id)).to.deep.equal(["san_email_within_validated_domain"]);
    expect(f[0]!.citation).to.include("REQ-01");
  });
});

describe("ra/subject-builder: the registered name (REQ-07)", () => {
  it("ok/the register's name, trimmed; given name and surname when the register has them", () => {
    expect(
      registeredNameFrom({ name: { fullName: " Ada Admin ", givenName: "Ada", surname: "Admin" } }, "t"),
    ).to.deep.equal({ fullName: "Ada Admin", givenName: "Ada", surname: "Admin" });
    expect(registeredNameFrom({ name: { fullName: "Ada Admin" } }, "t")).to.deep.equal({ fullName: "Ada Admin" });
  });
  it(`fail/no name, a name too long for CN, or one no certificate may carry: refused naming REQ-07 and the \
rule`, () => {
    const bad: [Parameters<typeof registeredNameFrom>[0], RegExp][] = [
      [{}, /without a name.*REQ-07/],
      [{ name: { fullName: "  " } }, /without a name/],
      [{ name: { fullName: "A".repeat(65) } }, /longer than 64.*REQ-07/],
      [{ name: { fullName: "Ada \u202EnimdA" } }, /fullName.*U\+202E.*UAX #9.*REQ-07/],
      [
        { name: { fullName: "Ada Admin", givenName: "\u0410da" } },
        /givenName.*mixes scripts.*UTS #39 5\.2 mixed-script.*REQ-07/,
      ],
      [{ name: { fullName: "Ada\u0000Admin" } }, /U\+0000.*RFC 5280/],
    ];
    for (const [answer, re] of bad) {
      let e: unknown;
      try {
        registeredNameFrom(answer, "file:reg.json");
      } catch (x) {
        e = x;
      }
      expect(e, JSON.stringify(answer)).to.be.instanceOf(CaError);
      expect((e as CaError).kind).to.equal("policy-violation");
      expect((e as CaError).message).to.match(re);
    }
  });
  it("ok/the file register answers given name, surname and full name (full name defaults to both)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardpki-reg-"));
    const f = join(dir, "register.json");
    writeFileSync(
      f,
      JSON.stringify({
        people: {
          "199001011234": { status: "alive", givenName: "Ada", surname: "Admin" },
          "198001011000": {
            status: "alive",
            name: "Anna Maria von Berg",
            givenName: "Anna Maria",
            surname: "von Berg",
          },
          "197001011000": { status: "alive" },
        },
      }),
    );
    const r = fileRegister(f);
    expect(await r.lookup("19900101-1234")).to.deep.equal({
      status: "alive",
      name: { fullName: "Ada Admin", givenName: "Ada", surname: "Admin" },
    });
    expect((await r.lookup("198001011000")).name).to.deep.equal({
      fullName: "Anna Maria von Berg",
      givenName: "Anna Maria",
      surname: "von Berg",
    });
    expect(await r.lookup("197001011000")).to.deep.equal({ status: "alive" });
    writeFileSync(f, JSON.stringify({ people: { "1": { status: "alive", givenName: 7 } } }));
    let e: unknown;
    await r.lookup("1").catch((x) => (e = x));
    expect((e as CaError).message).to.equal(`register file ${f}: /people/1/givenName must be string`);
    writeFileSync(f, JSON.stringify({ people: { "1": { status: "alive", givenName: "", given_name: "Ada" } } }));
    e = undefined;
    await r.lookup("1").catch((x) => (e = x));
    expect((e as CaError).message).to.equal(
      `register file ${f}: /people/1 must NOT have additional properties 'given_name'; ` +
        `/people/1/givenName must NOT have fewer than 1 characters`,
    );
  });
});

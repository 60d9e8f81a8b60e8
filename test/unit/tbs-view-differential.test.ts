import { expect } from "chai";
import { readTbsView, type TbsView } from "../../src/ca/lints/tbs-view.js";
import { readTbsViewFast } from "../../src/ca/lints/fast-tbs-view.js";
import { buildTbs } from "../../src/ca/tbs-builder.js";
import { CaError } from "../../src/shared/ca-error.js";
import { testKey, type TestKey } from "../support/keys.js";
import { ORG_SUBJECT, PROFILES, softwareAuthority } from "../support/test-ca.js";

/** A small deterministic generator (no Math.random in tests). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Everything a lint reads, in a form deep-equal compares (bytes as hex). */
function plain(v: TbsView) {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return {
    ...v,
    serial: hex(v.serial),
    signatureDer: hex(v.signatureDer),
    issuerDer: hex(v.issuerDer),
    subjectDer: hex(v.subjectDer),
    spkiDer: hex(v.spkiDer),
    notBefore: { tag: v.notBefore.tag, ms: v.notBefore.date.getTime() },
    notAfter: { tag: v.notAfter.tag, ms: v.notAfter.date.getTime() },
    spki: {
      ...v.spki,
      bits: hex(v.spki.bits),
      rsa: v.spki.rsa ? { modulus: hex(v.spki.rsa.modulus), exponent: hex(v.spki.rsa.exponent) } : undefined,
    },
    extensions: v.extensions.map((e) => ({ ...e, value: hex(e.value) })),
  };
}

type Outcome = { ok: true; view: ReturnType<typeof plain> } | { ok: false; error: unknown };
const run = (f: (d: Uint8Array) => TbsView, d: Uint8Array): Outcome => {
  try {
    return { ok: true, view: plain(f(d)) };
  } catch (error) {
    return { ok: false, error };
  }
};

/** The hot-path reader never accepts what the library refuses, and where both read, they agree. */
function agree(der: Uint8Array): "both" | "neither" | "library only" {
  const lib = run(readTbsView, der);
  const fast = run(readTbsViewFast, der);
  const hex = Buffer.from(der).toString("hex");
  for (const o of [lib, fast])
    if (!o.ok) expect(o.error, `a crash on ${hex}: ${(o.error as Error)?.stack}`).to.be.instanceOf(CaError);
  if (fast.ok) {
    expect(
      lib.ok,
      `the fast reader accepted what the library refuses (${!lib.ok && (lib.error as Error).message}): ${hex}`,
    ).to.equal(true);
    expect(fast.view, hex).to.deep.equal((lib as { view: unknown }).view);
    return "both";
  }
  return lib.ok ? "library only" : "neither";
}

const NAMES = [
  "Alice Andersson",
  "Åsa Öberg-Ünal",
  "Иван Петров",
  "Γιώργος Παπαδόπουλος",
  "山田 太郎",
  "김민준",
  "O'Brien (Jr.)",
  "x",
  "Zoë Saldaña",
  "José María Ñúñez",
  "A".repeat(64),
];

describe("ca/lints: the hand-written TBS reader against the library reader (differential)", function () {
  this.timeout(300_000);
  const next = lcg(2026);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const keys: TestKey[] = [testKey("P-256"), testKey("P-256"), testKey("P-384"), testKey("RSA-2048")];
  const cas = [
    softwareAuthority("P-256"),
    softwareAuthority("P-384"),
    softwareAuthority("P-256", new Date("2060-01-01T00:00:00Z")),
  ];
  const generated: Uint8Array[] = [];
  for (let i = 0; i < 240; i++) {
    const profile = pick([...PROFILES.values()]);
    const ca = pick(cas);
    const selfSigned = profile.kind === "ca" && next() < 0.5;
    const cn = pick(NAMES);
    const subject = Object.fromEntries(
      Object.entries({ ...ORG_SUBJECT, CN: cn, GN: cn.split(" ")[0]!, SN: cn.split(" ").pop()! }).filter(
        ([k]) => profile.subject[k],
      ),
    );
    const san = {
      ...(profile.subjectAltName.email && next() < 0.7
        ? {
            email: [
              `${
                cn
                  .split(" ")[0]!
                  .toLowerCase()
                  .replace(/[^a-z]/g, "") || "x"
              }@example.se`,
            ],
          }
        : {}),
      ...(profile.subjectAltName.upn && next() < 0.7 ? { upn: [`u${i}@corp.example`] } : {}),
      ...(profile.subjectAltName.krb5Principal ? { krb5Principal: [`krbtgt/R${i}.EXAMPLE@R${i}.EXAMPLE`] } : {}),
    };
    const now = new Date(
      Date.UTC(
        2026 + Math.floor(next() * 30),
        Math.floor(next() * 12),
        1 + Math.floor(next() * 28),
        Math.floor(next() * 24),
        Math.floor(next() * 60),
        Math.floor(next() * 60),
      ),
    );
    const serial =
      "0" +
      (1 + Math.floor(next() * 7)).toString(16) +
      Array.from({ length: 16 }, () =>
        Math.floor(next() * 256)
          .toString(16)
          .padStart(2, "0"),
      ).join("");
    generated.push(buildTbs({ profile, issuer: ca, subject, san, spki: pick(keys).spki, serial, now, selfSigned }).der);
  }

  it(`ok/240 generated TBS of every profile (names in several scripts, SANs, P-256/P-384/RSA keys, UTCTime and \
GeneralizedTime): both readers, the same view`, () => {
    for (const der of generated) expect(agree(der)).to.equal("both");
  });

  it(`fail/thousands of truncated, flipped and overwritten TBS: the hand-written reader never reads one the library \
refuses, and agrees where both read`, () => {
    const counts = { both: 0, neither: 0, "library only": 0 };
    for (const der of generated.slice(0, 24)) {
      for (let n = 0; n < der.length; n += 7) counts[agree(der.slice(0, n))]++;
      for (let i = 0; i < der.length; i += 3) {
        const m = der.slice();
        m[i] ^= 1 << Math.floor(next() * 8);
        counts[agree(m)]++;
      }
      for (let k = 0; k < 40; k++) {
        const m = der.slice();
        m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
        counts[agree(m)]++;
      }
    }
    expect(counts.neither + counts.both + counts["library only"]).to.be.greaterThan(5000);
    expect(counts.neither).to.be.greaterThan(1000);
  });

  it(`fail/DER rules both readers enforce: BOOLEAN FALSE written out, a 13th month; the hand-written one also refuses \
a BOM in a UTF8String`, () => {
    const der = generated.find((d) => Buffer.from(d).includes(Buffer.from("0101ff", "hex")))!;
    const hex = Buffer.from(der).toString("hex");
    const explicitFalse = Buffer.from(hex.replace("0101ff", "010100"), "hex");
    const utc = hex.indexOf("170d"); // notBefore YYMMDDHHMMSSZ: the month is octets 2..3 of the value
    const month13 = Buffer.from(der);
    month13.write("13", utc / 2 + 2 + 2, "latin1");
    const profile = PROFILES.get("loa3-smartcard-auth")!;
    const bom = buildTbs({
      profile,
      issuer: cas[0]!,
      subject: { ...ORG_SUBJECT, CN: "\uFEFFAlice Andersson" },
      san: {},
      spki: keys[0]!.spki,
      serial: "01" + "aa".repeat(16),
      now: new Date("2026-03-01T00:00:00Z"),
    }).der;
    for (const [what, d] of [
      ["explicit FALSE", explicitFalse],
      ["13th month", month13],
      ["BOM", bom],
    ] as const) {
      expect(agree(new Uint8Array(d)), what).to.not.equal("both");
      expect(() => readTbsViewFast(new Uint8Array(d)), what).to.throw(CaError);
    }
  });
});

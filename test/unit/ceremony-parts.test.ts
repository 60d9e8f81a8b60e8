import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  combinePinShares,
  createPinShares,
  openShare,
  parseShareFile,
  type PinShareFile,
} from "../../src/ceremony/pin-shares.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { canonicalJson, TranscriptRecorder, verifyTranscript } from "../../src/ceremony/transcript.js";
import { parseCeremonyScript } from "../../src/ceremony/ceremony-script.js";
import { SoftwareSigner } from "../../src/hsm/software-signer.js";
import { CaError } from "../../src/shared/ca-error.js";
import { randomPinFor } from "../../src/composition/ceremonies.js";
import { FixedClock } from "../../src/shared/clock.js";
import { cryptoRandom } from "../../src/shared/random.js";

/** The promise is rejected with a CaError whose message matches. */
async function rejected(p: Promise<unknown>, re: RegExp): Promise<void> {
  let err: unknown;
  await p.then(
    () => undefined,
    (e) => (err = e),
  );
  expect(err).to.be.instanceOf(CaError);
  expect((err as Error).message).to.match(re);
}

const CUSTODIANS = [
  { name: "alice", passphrase: "alice-pass-1" },
  { name: "bob", passphrase: "bob-pass-22" },
  { name: "carol", passphrase: "carol-pass-3" },
];

describe("ceremony/pin-shares: shamir-secret-sharing and the share files made before it", function () {
  this.timeout(60_000);
  const FIXTURE = join(REPO_ROOT, "test", "fixtures", "pin-shares-v1");
  const fixture = (who: string) =>
    parseShareFile(readFileSync(join(FIXTURE, `fixture-token-${who}.share`), "utf8"), who);
  const pass = (who: string) => `${who}-fixture-passphrase`;
  it(`ok/share files written by the hand-written GF(256) code (x = 1..n) still rebuild their PIN, any \
pair`, async () => {
    for (const [a, b] of [
      ["alice", "bob"],
      ["alice", "carol"],
      ["bob", "carol"],
    ] as const)
      expect(
        await combinePinShares("fixture-token", [openShare(fixture(a), pass(a)), openShare(fixture(b), pass(b))]),
      ).to.equal("fixture-pin-2468-QwErTy");
    expect([fixture("alice").index, fixture("bob").index, fixture("carol").index]).to.deep.equal([1, 2, 3]);
  });
  it("fail/a share file with a field of the wrong type, a missing field or an unknown key is refused naming it", () => {
    const text = readFileSync(join(FIXTURE, "fixture-token-alice.share"), "utf8");
    const doc = JSON.parse(text) as Record<string, unknown>;
    const { tag: _tag, ...noTag } = doc;
    const bad = (d: unknown) => {
      try {
        parseShareFile(JSON.stringify(d), "alice.share");
      } catch (e) {
        expect(e).to.be.instanceOf(CaError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect([
      bad({ ...doc, index: "1" }),
      bad(noTag),
      bad({ ...doc, kdf: { ...(doc.kdf as object), N: "16384" }, note: "x" }),
    ]).to.deep.equal([
      "alice.share is not a cardpki PIN share (/index must be integer)",
      "alice.share is not a cardpki PIN share (/ must have required property 'tag')",
      "alice.share is not a cardpki PIN share (/ must NOT have additional properties 'note'; /kdf/N must be integer)",
    ]);
  });
  it("fail/one old share and one of a new split of the same PIN do not mix", async () => {
    const fresh = await createPinShares("fixture-token", "fixture-pin-2468-QwErTy", CUSTODIANS, 2, cryptoRandom);
    await rejected(
      combinePinShares("fixture-token", [
        openShare(fixture("alice"), pass("alice")),
        openShare(fresh[1]!, CUSTODIANS[1]!.passphrase),
      ]),
      /different splits/,
    );
  });
  it("ok/any m of n rebuild a PIN split by the library; the x coordinates are distinct, 1..255", async () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ name: `c${i}`, passphrase: `passphrase-${i}` }));
    const files = await createPinShares("t5", "pin-of-five", many, 3, cryptoRandom);
    const xs = files.map((f) => f.index);
    expect(new Set(xs).size).to.equal(5);
    expect(xs.every((x) => x >= 1 && x <= 255)).to.equal(true);
    const opened = files.map((f, i) => openShare(f, many[i]!.passphrase));
    for (const pick of [
      [0, 1, 2],
      [4, 2, 0],
      [1, 3, 4],
    ])
      expect(
        await combinePinShares(
          "t5",
          pick.map((i) => opened[i]!),
        ),
      ).to.equal("pin-of-five");
    await rejected(combinePinShares("t5", [opened[0]!, opened[1]!]), /needs 3 of 5/);
  });
  it("fail/quorum out of range is refused at split time", async () => {
    await rejected(createPinShares("t", "pin", CUSTODIANS, 1, cryptoRandom), /quorum/);
    await rejected(createPinShares("t", "pin", CUSTODIANS.slice(0, 2), 3, cryptoRandom), /quorum/);
  });
});

describe("ceremony/pin-shares", function () {
  this.timeout(30_000);
  let shares: PinShareFile[];
  before(async () => void (shares = await createPinShares("tok", "the-token-pin-1234", CUSTODIANS, 2, cryptoRandom)));
  const open = (i: number, pass = CUSTODIANS[i]!.passphrase, f: PinShareFile = shares[i]!) => openShare(f, pass);

  it("ok/2 of 3 custodians rebuild the PIN, any pair", async () => {
    for (const [a, b] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ])
      expect(await combinePinShares("tok", [open(a!), open(b!)])).to.equal("the-token-pin-1234");
  });
  it("fail/one custodian alone is refused with who was present", async () => {
    await rejected(combinePinShares("tok", [open(0)]), /needs 2 of 3.*alice/);
  });
  it("fail/the same custodian twice counts once", async () => {
    await rejected(combinePinShares("tok", [open(0), open(0)]), /needs 2 of 3/);
  });
  it("fail/a wrong passphrase is detected", () => {
    expect(() => open(0, "bob-pass-22")).to.throw(CaError, /wrong passphrase or the share file was altered/);
  });
  for (const field of ["ciphertext", "index", "threshold", "custodian", "commitment"] as const) {
    it(`fail/a share with an altered ${field} is detected, never a wrong PIN`, () => {
      const f = { ...shares[0]! } as any;
      if (field === "ciphertext") {
        const b = Buffer.from(f.ciphertext, "base64");
        b[0] ^= 1;
        f.ciphertext = b.toString("base64");
      } else if (typeof f[field] === "number") f[field] = f[field] + 1;
      else f[field] = f[field].replace(/^./, (c: string) => (c === "a" ? "b" : "a"));
      expect(() => open(0, CUSTODIANS[0]!.passphrase, f)).to.throw(CaError, /does not open/);
    });
  }
  it("fail/shares of two different splits do not mix", async () => {
    const other = await createPinShares("tok", "the-token-pin-1234", CUSTODIANS, 2, cryptoRandom);
    await rejected(
      combinePinShares("tok", [open(0), openShare(other[1]!, CUSTODIANS[1]!.passphrase)]),
      /different splits/,
    );
  });
  it("fail/short passphrases and duplicate custodians are refused at split time", async () => {
    await rejected(
      createPinShares("t", "p", [{ name: "a", passphrase: "short" }, CUSTODIANS[1]!], 2, cryptoRandom),
      /shorter/,
    );
    await rejected(createPinShares("t", "p", [CUSTODIANS[0]!, CUSTODIANS[0]!], 2, cryptoRandom), /distinct/);
  });
});

describe("ceremony/transcript", () => {
  const clock = new FixedClock("2026-05-01T10:00:00Z");
  const head = {
    ceremony: { id: "c", version: 1, kind: "root", fileSha256: "00", cps: ["CPS 5.2.2"] },
    dryRun: false,
    operator: "op",
    witness: "w",
    custodians: [{ token: "t", name: "alice" }],
  };
  it("ok/canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).to.equal(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });
  it("ok/signed transcript verifies; fail/any changed field, or a different key", async () => {
    const signer = SoftwareSigner.generate("P-256");
    const rec = new TranscriptRecorder(clock, head);
    rec.step("generate-key", { label: "k" });
    rec.output("x/cert.pem", "data");
    const t = await rec.sign(signer, "ca:x");
    expect(() => verifyTranscript(t, signer.spki)).to.not.throw();
    expect(() => verifyTranscript({ ...t, operator: "mallory" }, signer.spki)).to.throw(CaError, /altered/);
    expect(() => verifyTranscript({ ...t, steps: [] }, signer.spki)).to.throw(CaError, /altered/);
    const other = SoftwareSigner.generate("P-256");
    const forged = await new TranscriptRecorder(clock, { ...head, operator: "mallory" }).sign(other, "ca:x");
    expect(() => verifyTranscript(forged, signer.spki)).to.throw(CaError, /other than/);
  });
});

describe("ceremony/ceremony-script", () => {
  const base = {
    id: "c",
    version: 1,
    cps: ["CPS 6.1.1"],
    description: "d",
    token: "t",
    custodians: { quorum: 2, of: 3 },
  };
  it("ok/each kind with its fields; witness defaults to required", () => {
    const s = parseCeremonyScript({ ...base, kind: "root-crl", parent: "r", crl: { nextUpdateDays: 30 } }, "x");
    expect(s.witness).to.equal("required");
  });
  const bad: [string, object, RegExp][] = [
    [
      "root without key",
      { kind: "root", ca: { id: "r", serialPrefix: 1 }, profile: "root-ca", subject: { CN: "x" } },
      /needs 'key'/,
    ],
    [
      "root with a parent",
      {
        kind: "root",
        key: { label: "k", type: "P-256" },
        ca: { id: "r", serialPrefix: 1 },
        profile: "root-ca",
        subject: { CN: "x" },
        parent: "p",
      },
      /does not take 'parent'/,
    ],
    ["unknown kind", { kind: "key-ceremony" }, /kind/],
    ["unknown key", { kind: "root-crl", parent: "r", crl: { nextUpdateDays: 3 }, colour: 1 }, /colour/],
    [
      "quorum above custodians",
      { kind: "root-crl", parent: "r", crl: { nextUpdateDays: 3 }, custodians: { quorum: 4, of: 3 } },
      /quorum/,
    ],
    [
      "key label with a space",
      {
        kind: "ocsp-signer",
        key: { label: "a b", type: "P-256" },
        parent: "p",
        profile: "ocsp-signer",
        subject: { CN: "o" },
      },
      /label/,
    ],
    [
      "data-key with a key pair (REQ-29)",
      { kind: "data-key", key: { label: "d", type: "P-256" }, parent: "p" },
      /AES-256/,
    ],
    [
      "data-key with a certificate profile",
      { kind: "data-key", key: { label: "d", type: "AES-256" }, parent: "p", profile: "ocsp-signer" },
      /does not take 'profile'/,
    ],
    [
      "an AES key for a CA",
      {
        kind: "root",
        key: { label: "k", type: "AES-256" },
        ca: { id: "r", serialPrefix: 1 },
        profile: "root-ca",
        subject: { CN: "x" },
      },
      /key pair/,
    ],
  ];
  it("ok/data-key: an AES-256 wrapping key with the CA that signs the transcript (REQ-29)", () => {
    const s = parseCeremonyScript(
      { ...base, kind: "data-key", key: { label: "data-1", type: "AES-256" }, parent: "issuing" },
      "x",
    );
    expect(s.key).to.deep.equal({ label: "data-1", type: "AES-256" });
  });
  it("ok/bureau-signer: a key pair with an infrastructure certificate from the parent CA (CPS 4.4.1)", () => {
    const s = parseCeremonyScript(
      {
        ...base,
        kind: "bureau-signer",
        key: { label: "bureau-1", type: "P-256" },
        parent: "issuing",
        profile: "bureau-signer",
        subject: { CN: "b" },
      },
      "x",
    );
    expect([s.kind, s.parent]).to.deep.equal(["bureau-signer", "issuing"]);
    expect(() =>
      parseCeremonyScript(
        {
          ...base,
          kind: "bureau-signer",
          key: { label: "b", type: "P-256" },
          profile: "bureau-signer",
          subject: { CN: "b" },
        },
        "x",
      ),
    ).to.throw(CaError, /needs 'parent'/);
  });
  for (const [name, doc, re] of bad)
    it(`fail/${name}`, () => expect(() => parseCeremonyScript({ ...base, ...doc }, "x")).to.throw(CaError, re));
});

describe("composition/ceremonies: the PIN split-pin sets fits the token", () => {
  it("ok/32 characters where the token takes them (SoftHSM2 4..255), 8 on openCryptoki's software token (4..8)", () => {
    expect(randomPinFor({ min: 4, max: 255 }, "t")).to.match(/^[A-Za-z0-9_-]{32}$/);
    expect(randomPinFor({ min: 4, max: 8 }, "t")).to.match(/^[A-Za-z0-9_-]{8}$/);
    expect(randomPinFor({ min: 4, max: 8 }, "t")).to.not.equal(randomPinFor({ min: 4, max: 8 }, "t"));
  });
  it("fail/a token that takes fewer than 6 characters is refused by name", () => {
    expect(() => randomPinFor({ min: 4, max: 5 }, "tiny")).to.throw(CaError, /token 'tiny' takes PINs of 4\.\.5/);
  });
});

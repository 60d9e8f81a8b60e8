import { expect } from "chai";
import { combine, split } from "../../src/ceremony/shamir.js";
import { combinePinShares, createPinShares, openShare, type PinShareFile } from "../../src/ceremony/pin-shares.js";
import { canonicalJson, TranscriptRecorder, verifyTranscript } from "../../src/ceremony/transcript.js";
import { parseCeremonyScript } from "../../src/ceremony/ceremony-script.js";
import { SoftwareSigner } from "../../src/hsm/software-signer.js";
import { CaError } from "../../src/shared/ca-error.js";
import { FixedClock } from "../../src/shared/clock.js";
import { cryptoRandom } from "../../src/shared/random.js";

const CUSTODIANS = [{ name: "alice", passphrase: "alice-pass-1" }, { name: "bob", passphrase: "bob-pass-22" }, { name: "carol", passphrase: "carol-pass-3" }];

describe("ceremony/shamir (GF(256))", () => {
  it("ok/any m of n shares rebuild the secret; m-1 do not", () => {
    const secret = new Uint8Array(Buffer.from("correct horse battery staple"));
    for (const [n, m] of [[3, 2], [5, 3], [7, 7]]) {
      const shares = split(secret, n!, m!, cryptoRandom);
      for (let trial = 0; trial < 10; trial++) {
        const pick = [...shares].sort(() => Math.random() - 0.5).slice(0, m);
        expect(Buffer.from(combine(pick)).toString()).to.equal("correct horse battery staple");
        expect(Buffer.from(combine(pick.slice(0, m! - 1))).toString()).to.not.equal("correct horse battery staple");
      }
    }
  });
  it("fail/quorum out of range, duplicate share", () => {
    expect(() => split(new Uint8Array(4), 3, 1, cryptoRandom)).to.throw(CaError);
    expect(() => split(new Uint8Array(4), 2, 3, cryptoRandom)).to.throw(CaError);
    const s = split(new Uint8Array(4), 3, 2, cryptoRandom);
    expect(() => combine([s[0]!, s[0]!])).to.throw(CaError, /twice/);
  });
});

describe("ceremony/pin-shares", function () {
  this.timeout(30_000);
  const shares = createPinShares("tok", "the-token-pin-1234", CUSTODIANS, 2, cryptoRandom);
  const open = (i: number, pass = CUSTODIANS[i]!.passphrase, f: PinShareFile = shares[i]!) => openShare(f, pass);

  it("ok/2 of 3 custodians rebuild the PIN, any pair", () => {
    for (const [a, b] of [[0, 1], [0, 2], [1, 2]]) expect(combinePinShares("tok", [open(a!), open(b!)])).to.equal("the-token-pin-1234");
  });
  it("fail/one custodian alone is refused with who was present", () => {
    expect(() => combinePinShares("tok", [open(0)])).to.throw(CaError, /needs 2 of 3.*alice/);
  });
  it("fail/the same custodian twice counts once", () => {
    expect(() => combinePinShares("tok", [open(0), open(0)])).to.throw(CaError, /needs 2 of 3/);
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
  it("fail/shares of two different splits do not mix", () => {
    const other = createPinShares("tok", "the-token-pin-1234", CUSTODIANS, 2, cryptoRandom);
    expect(() => combinePinShares("tok", [open(0), openShare(other[1]!, CUSTODIANS[1]!.passphrase)])).to.throw(CaError, /different splits/);
  });
  it("fail/short passphrases and duplicate custodians are refused at split time", () => {
    expect(() => createPinShares("t", "p", [{ name: "a", passphrase: "short" }, CUSTODIANS[1]!], 2, cryptoRandom)).to.throw(CaError, /shorter/);
    expect(() => createPinShares("t", "p", [CUSTODIANS[0]!, CUSTODIANS[0]!], 2, cryptoRandom)).to.throw(CaError, /distinct/);
  });
});

describe("ceremony/transcript", () => {
  const clock = new FixedClock("2026-05-01T10:00:00Z");
  const head = { ceremony: { id: "c", version: 1, kind: "root", fileSha256: "00", cps: ["CPS 5.2.2"] }, dryRun: false, operator: "op", witness: "w", custodians: [{ token: "t", name: "alice" }] };
  it("ok/canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).to.equal('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
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
  const base = { id: "c", version: 1, cps: ["CPS 6.1.1"], description: "d", token: "t", custodians: { quorum: 2, of: 3 } };
  it("ok/each kind with its fields; witness defaults to required", () => {
    const s = parseCeremonyScript({ ...base, kind: "root-crl", parent: "r", crl: { nextUpdateDays: 30 } }, "x");
    expect(s.witness).to.equal("required");
  });
  const bad: [string, object, RegExp][] = [
    ["root without key", { kind: "root", ca: { id: "r", serialPrefix: 1 }, profile: "root-ca", subject: { CN: "x" } }, /needs 'key'/],
    ["root with a parent", { kind: "root", key: { label: "k", type: "P-256" }, ca: { id: "r", serialPrefix: 1 }, profile: "root-ca", subject: { CN: "x" }, parent: "p" }, /does not take 'parent'/],
    ["unknown kind", { kind: "key-ceremony" }, /kind/],
    ["unknown key", { kind: "root-crl", parent: "r", crl: { nextUpdateDays: 3 }, colour: 1 }, /colour/],
    ["quorum above custodians", { kind: "root-crl", parent: "r", crl: { nextUpdateDays: 3 }, custodians: { quorum: 4, of: 3 } }, /quorum/],
    ["key label with a space", { kind: "ocsp-signer", key: { label: "a b", type: "P-256" }, parent: "p", profile: "ocsp-signer", subject: { CN: "o" } }, /label/],
    ["data-key with a key pair (REQ-29)", { kind: "data-key", key: { label: "d", type: "P-256" }, parent: "p" }, /AES-256/],
    ["data-key with a certificate profile", { kind: "data-key", key: { label: "d", type: "AES-256" }, parent: "p", profile: "ocsp-signer" }, /does not take 'profile'/],
    ["an AES key for a CA", { kind: "root", key: { label: "k", type: "AES-256" }, ca: { id: "r", serialPrefix: 1 }, profile: "root-ca", subject: { CN: "x" } }, /key pair/],
  ];
  it("ok/data-key: an AES-256 wrapping key with the CA that signs the transcript (REQ-29)", () => {
    const s = parseCeremonyScript({ ...base, kind: "data-key", key: { label: "data-1", type: "AES-256" }, parent: "issuing" }, "x");
    expect(s.key).to.deep.equal({ label: "data-1", type: "AES-256" });
  });
  for (const [name, doc, re] of bad) it(`fail/${name}`, () => expect(() => parseCeremonyScript({ ...base, ...doc }, "x")).to.throw(CaError, re));
});

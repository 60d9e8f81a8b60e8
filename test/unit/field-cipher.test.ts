import { expect } from "chai";
import { FieldCipher, type DataKey } from "../../src/store/field-cipher.js";
import { CaError } from "../../src/shared/ca-error.js";
import { SeqRandom } from "../../src/shared/random.js";
import { loadConfig } from "../../src/composition/config.js";

/** REQ-29: personal data sealed field by field (AES-256-GCM, AAD = table, column, row id). */
describe("store/field-cipher (REQ-29)", () => {
  const k1: DataKey = { id: "dk1", key: new Uint8Array(32).fill(1) };
  const k2: DataKey = { id: "dk2", key: new Uint8Array(32).fill(2) };
  const place = { table: "people", column: "name", id: "p1" };
  const cipher = (keys: DataKey[] = [k1], current = "dk1") => new FieldCipher(keys, current, new SeqRandom(7));
  const failure = (f: () => unknown): CaError => {
    try {
      f();
    } catch (e) {
      expect(e).to.be.instanceOf(CaError);
      return e as CaError;
    }
    throw new Error("expected a refusal");
  };

  it("ok/round trip: the stored value is enc:v1:<key id>:<base64url>, never the clear text", () => {
    const c = cipher();
    const sealed = c.seal("Åsa Öberg", place);
    expect(sealed).to.match(/^enc:v1:dk1:[A-Za-z0-9_-]+$/);
    expect(sealed).to.not.include("Åsa");
    expect(c.open(sealed, place)).to.equal("Åsa Öberg");
    expect(c.open(c.seal("", place), place)).to.equal("");
  });
  it("ok/a fresh IV per value: the same text seals differently each time", () => {
    const c = cipher();
    expect(c.seal("x", place)).to.not.equal(c.seal("x", place));
  });
  it("fail/a value moved to another row, column or table does not open", () => {
    const c = cipher();
    const sealed = c.seal("ada@example.org", { table: "people", column: "email", id: "p1" });
    for (const other of [
      { table: "people", column: "email", id: "p2" },
      { table: "people", column: "name", id: "p1" },
      { table: "notifications", column: "email", id: "p1" },
    ]) {
      const e = failure(() => c.open(sealed, other));
      expect(e.kind).to.equal("internal");
      expect(e.message).to.match(/fails authentication/);
      expect(e.details?.reason).to.equal("authentication-failed");
    }
  });
  it("fail/a tampered byte (IV, ciphertext or tag) is refused, not returned as garbage", () => {
    const c = cipher();
    const sealed = c.seal("PIN 123456", place);
    const [head, body] = [sealed.slice(0, "enc:v1:dk1:".length), sealed.slice("enc:v1:dk1:".length)];
    const raw = Buffer.from(body, "base64url");
    for (const i of [0, 13, raw.length - 1]) {
      const t = Buffer.from(raw);
      t[i]! ^= 0x01;
      expect(failure(() => c.open(head + t.toString("base64url"), place)).details?.reason).to.equal(
        "authentication-failed",
      );
    }
    expect(failure(() => c.open(head + raw.subarray(0, 20).toString("base64url"), place)).details?.reason).to.equal(
      "malformed",
    );
    expect(failure(() => c.open("enc:v1:dk1:not base64!", place)).details?.reason).to.equal("malformed");
  });
  it("fail/relabelling a value with another loaded key id does not open it", () => {
    const c = cipher([k1, k2], "dk2");
    const sealed = c.seal("Bo", place);
    expect(failure(() => c.open(sealed.replace("enc:v1:dk2:", "enc:v1:dk1:"), place)).details?.reason).to.equal(
      "authentication-failed",
    );
  });
  it("ok/legacy cleartext (no prefix) reads as it is and needs sealing", () => {
    const c = cipher();
    expect(c.open("Cy Holder", place)).to.equal("Cy Holder");
    expect(c.needsSealing("Cy Holder")).to.equal(true);
    expect(c.openOptional(null, place)).to.equal(undefined);
    expect(c.sealOptional(undefined, place)).to.equal(null);
  });
  it("ok/rotation: new values under the newest key, older values still open and need sealing again", () => {
    const old = cipher([k1], "dk1").seal("Di", place);
    const c = cipher([k1, k2], "dk2");
    expect(c.open(old, place)).to.equal("Di");
    expect(c.needsSealing(old)).to.equal(true);
    const fresh = c.seal("Di", place);
    expect(fresh).to.match(/^enc:v1:dk2:/);
    expect(c.needsSealing(fresh)).to.equal(false);
  });
  it("fail/a value under a data key that is not loaded gives a config error naming the key", () => {
    const other = cipher([k2], "dk2").seal("Eve", place);
    const e = failure(() => cipher([k1], "dk1").open(other, place));
    expect(e.kind).to.equal("config");
    expect(e.message).to.match(/data key dk2/);
  });
  it("ok/ready() loads a data key made by another process once, then opens its values", async () => {
    let asked: readonly string[] = [];
    const c = new FieldCipher([k1], "dk1", new SeqRandom(3), async (ids) => ((asked = ids), [k2]));
    const other = cipher([k2], "dk2").seal("Fia", place);
    await c.ready(other, "clear", null);
    expect(asked).to.deep.equal(["dk2"]);
    expect(c.open(other, place)).to.equal("Fia");
  });
  it("fail/keys that are not AES-256, or a current key that is not loaded", () => {
    expect(() => new FieldCipher([{ id: "dk1", key: new Uint8Array(16) }], "dk1", new SeqRandom())).to.throw(
      CaError,
      /32/,
    );
    expect(() => new FieldCipher([k1], "dk9", new SeqRandom())).to.throw(CaError, /dk9/);
    expect(() => new FieldCipher([{ id: "dk:1", key: k1.key }], "dk:1", new SeqRandom())).to.throw(CaError, /id/);
  });
  it("fail/config: the data wrapping key must be a PKCS#11 URI", () => {
    expect(
      loadConfig({ CARDPKI_DATA_DIR: "/nonexistent-pii", CARDPKI_DATA_WRAPPING_KEY: "pkcs11:token=t;object=d" }, "/")
        .dataEncryption.wrappingKey,
    ).to.equal("pkcs11:token=t;object=d");
    expect(() =>
      loadConfig({ CARDPKI_DATA_DIR: "/nonexistent-pii", CARDPKI_DATA_WRAPPING_KEY: "/etc/key" }, "/"),
    ).to.throw(CaError, /PKCS#11 URI/);
  });
});

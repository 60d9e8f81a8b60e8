import { expect } from "chai";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { formatPkcs11Uri, parsePkcs11Uri } from "../../src/hsm/pkcs11-uri.js";
import { ecdsaRawToDer } from "../../src/hsm/signature-algorithms.js";
import { filePin } from "../../src/hsm/pin-source.js";
import { parseSubjectArg } from "../../src/cli/subject-arg.js";
import { loadConfig } from "../../src/composition/config.js";
import { CaError, ERROR_KINDS } from "../../src/shared/ca-error.js";
import { verifyCsr } from "../../src/ca/csr.js";
import { toPem } from "../../src/asn1/der.js";
import { makeCsr, testKey } from "../support/keys.js";

describe("hsm/pkcs11-uri (RFC 7512)", () => {
  it("ok/round-trips token, label and binary id", () => {
    const u = { token: "cardpki issuing", object: "ca;key", id: "00ff7f80" };
    const s = formatPkcs11Uri(u);
    expect(s).to.equal("pkcs11:token=cardpki%20issuing;object=ca%3Bkey;id=%00%ff%7f%80;type=private");
    expect(parsePkcs11Uri(s)).to.deep.equal(u);
  });
  it("fail/a URI carrying a PIN is refused", () => {
    expect(() => parsePkcs11Uri("pkcs11:token=a?pin-value=1234")).to.throw(CaError, /PIN/);
  });
  it("fail/not a PKCS#11 URI, or no token", () => {
    expect(() => parsePkcs11Uri("file:/x")).to.throw(CaError);
    expect(() => parsePkcs11Uri("pkcs11:object=x")).to.throw(CaError, /token/);
  });
});

describe("hsm/signature-algorithms", () => {
  it("ok/CKM_ECDSA r||s becomes a DER Ecdsa-Sig-Value that verifies (high bits, leading zeros)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`m${i}`);
      const raw = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
      expect(verify("sha256", data, publicKey, Buffer.from(ecdsaRawToDer(raw))), `i=${i}`).to.equal(true);
    }
  });
});

describe("hsm/pin-source", () => {
  it("fail/a PIN file readable by others is refused; ok/mode 600", async () => {
    const f = join(mkdtempSync(join(tmpdir(), "pin-")), "pin");
    writeFileSync(f, "1234\n");
    chmodSync(f, 0o644);
    let err: unknown;
    await filePin(f)
      .read()
      .catch((e) => (err = e));
    expect((err as CaError).message).to.match(/readable by group or others/);
    chmodSync(f, 0o600);
    expect(await filePin(f).read()).to.equal("1234");
  });
});

describe("cli/subject-arg", () => {
  it("ok/parses attributes with escaped commas", () => {
    expect(parseSubjectArg("CN=Ann\\, Jr,O=Org AB,C=SE")).to.deep.equal({ CN: "Ann, Jr", O: "Org AB", C: "SE" });
  });
  it("fail/unknown attribute, duplicates, empty", () => {
    expect(() => parseSubjectArg("XX=1")).to.throw(CaError, /unknown subject attribute/);
    expect(() => parseSubjectArg("CN=a,CN=b")).to.throw(CaError, /twice/);
    expect(() => parseSubjectArg("")).to.throw(CaError, /empty/);
  });
});

describe("composition/config", () => {
  it("ok/defaults, then environment", () => {
    const c = loadConfig({ CARDPKI_DATA_DIR: "/tmp/nowhere-cardpki", CARDPKI_PORT: "9001" });
    expect(c.port).to.equal(9001);
    expect(c.baseUrl).to.equal("http://localhost:9001");
    expect(c.databaseUrl).to.equal("sqlite:/tmp/nowhere-cardpki/cardpki.db");
    expect(c.databaseReaders).to.equal(8);
    expect(loadConfig({ CARDPKI_DATA_DIR: "/tmp/x", CARDPKI_DB_READERS: "2" }).databaseReaders).to.equal(2);
  });
  it("fail/unknown keys in the config file, bad port, missing explicit file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    writeFileSync(join(dir, "cardpki.json"), JSON.stringify({ prot: 1 }));
    expect(() => loadConfig({ CARDPKI_DATA_DIR: dir })).to.throw(CaError, /additional properties/);
    expect(() => loadConfig({ CARDPKI_DATA_DIR: "/tmp/x", CARDPKI_PORT: "99999" })).to.throw(CaError, /port/);
    expect(() => loadConfig({ CARDPKI_CONFIG: "/nonexistent/c.json" })).to.throw(CaError, /not found/);
    for (const bad of ["0", "many", "2.5", "65"])
      expect(() => loadConfig({ CARDPKI_DATA_DIR: "/tmp/x", CARDPKI_DB_READERS: bad })).to.throw(
        CaError,
        /CARDPKI_DB_READERS/,
      );
  });
});

describe("ca/csr (RFC 2986)", () => {
  it("ok/PEM and DER, EC and RSA", () => {
    for (const kt of ["P-256", "P-384", "RSA-2048"] as const) {
      const k = testKey(kt);
      const der = makeCsr(k);
      expect(verifyCsr(der).keyType).to.equal(kt);
      expect(verifyCsr(toPem("CERTIFICATE REQUEST", der)).keyType).to.equal(kt);
    }
  });
  it("fail/tampered request, wrong PEM label, oversized", () => {
    const der = makeCsr(testKey("P-256"), "abc");
    const i = Buffer.from(der).indexOf(Buffer.from("abc"));
    const bad = Uint8Array.from(der);
    bad[i] = 0x78;
    expect(() => verifyCsr(bad)).to.throw(CaError, /proof of possession/);
    expect(() => verifyCsr(toPem("CERTIFICATE", der))).to.throw(CaError, /no PKCS#10/);
    expect(() => verifyCsr(new Uint8Array(20000))).to.throw(CaError, /larger/);
  });
});

describe("shared/ca-error", () => {
  it("ok/a closed set of kinds", () => {
    expect(ERROR_KINDS).to.include.members(["invalid-input", "not-found", "lint-failed", "hsm-unavailable"]);
    expect(new CaError("conflict", "x").kind).to.equal("conflict");
  });
});

describe("composition/pinSourceFor", () => {
  it("fail/a PIN file inside the project folder (outside the data folder) is refused; ok/outside it", async () => {
    const { pinSourceFor } = await import("../../src/composition/ca-settings.js");
    const { APP_ROOT } = await import("../../src/composition/config.js");
    const base = loadConfig({ CARDPKI_DATA_DIR: "/tmp/cardpki-pin-test-data" });
    const inRepo = { ...base, tokenPins: { t: { file: join(APP_ROOT, "policies", "pin.txt") } } };
    expect(() => pinSourceFor(inRepo, "t")).to.throw(CaError, /inside the project folder/);
    const outside = { ...base, tokenPins: { t: { file: "/etc/cardpki/pin" } } };
    expect(pinSourceFor(outside, "t").description).to.equal("file /etc/cardpki/pin");
    const inData = {
      ...loadConfig({ CARDPKI_DATA_DIR: join(APP_ROOT, "data") }),
      tokenPins: { t: { file: join(APP_ROOT, "data", "pins", "x.pin") } },
    };
    expect(pinSourceFor(inData, "t").description).to.match(/data\/pins\/x\.pin$/);
  });
});

import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { Ajv } from "ajv";
import { CONFIG_FILE_SCHEMA, CONFIG_SCHEMA, ENV_KEYS, loadConfig } from "../../src/composition/config.js";
import { CaError } from "../../src/shared/ca-error.js";

const NOWHERE = { CARDPKI_DATA_DIR: "/nonexistent-cardpki-config" };
const refusal = (env: NodeJS.ProcessEnv, cwd?: string): string => {
  try {
    loadConfig({ ...NOWHERE, ...env }, cwd);
  } catch (e) {
    expect(e).to.be.instanceOf(CaError);
    expect((e as CaError).kind).to.equal("config");
    return (e as CaError).message;
  }
  throw new Error(`${JSON.stringify(env)} was accepted`);
};
function dataDirWith(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "cfg-schema-"));
  writeFileSync(join(dir, "cardpki.json"), JSON.stringify(config));
  return dir;
}

/** One schema (CONFIG_FILE_SCHEMA) for the file and the environment. */
describe("composition/config: one schema for the file and the environment", () => {
  it("ok/every environment variable sets a key the file's schema has", () => {
    const at = (key: string): TSchema | undefined =>
      key
        .split(".")
        .reduce<TSchema | undefined>(
          (s, k) => (s?.properties as Record<string, TSchema> | undefined)?.[k],
          CONFIG_FILE_SCHEMA,
        );
    expect(Object.entries(ENV_KEYS).filter(([, key]) => at(key) === undefined)).to.deep.equal([]);
  });

  it("ok/environment text is coerced by the schema: whole numbers, numbers, switches, lists", () => {
    const c = loadConfig({
      ...NOWHERE,
      CARDPKI_EXPIRY_SWEEP_SECONDS: "60",
      CARDPKI_DELIVERY_BACKOFF_SECONDS: "0.25",
      CARDPKI_SMTP_URL: "smtp://mail.example:587",
      CARDPKI_SMTP_REQUIRE_TLS: "false",
      CARDPKI_ISSUING_CAS: "ca-a, ca-b",
      CARDPKI_HSM_SESSIONS: "2",
      CARDPKI_PORT: "",
    });
    expect([
      c.ra.expirySweepSeconds,
      c.delivery.backoffSeconds,
      c.delivery.email?.requireTls,
      c.issuingCas,
      c.hsmSessions,
      c.port,
    ]).to.deep.equal([60, 0.25, false, ["ca-a", "ca-b"], 2, 8080]);
  });

  it("fail/CARDPKI_EXPIRY_SWEEP_SECONDS=abc names the variable, what it must be and what it got (not NaN)", () => {
    expect(refusal({ CARDPKI_EXPIRY_SWEEP_SECONDS: "abc" })).to.equal(
      "CARDPKI_EXPIRY_SWEEP_SECONDS must be a whole number of seconds from 1 to 86400 (got 'abc')",
    );
    for (const [name, value] of [
      ["CARDPKI_EXPIRY_SWEEP_SECONDS", "0"],
      ["CARDPKI_BUREAU_SWEEP_SECONDS", "0"],
      ["CARDPKI_BUREAU_SIGNER", "no-label"],
      ["CARDPKI_AUDIT_CHECKPOINT_SECONDS", "1.5"],
      ["CARDPKI_HSM_SESSIONS", "NaN"],
      ["CARDPKI_RA_PORT", "-1"],
      ["CARDPKI_DELIVERY_POLL_MS", "10"],
      ["CARDPKI_LOG_FORMAT", "xml"],
      ["CARDPKI_RA_PUBLIC_URL", "http://ra.example"],
    ])
      expect(refusal({ [name!]: value }), `${name}=${value}`).to.match(
        new RegExp(`^${name} must be .* \\(got '${value!.replace(/[.]/g, "\\.")}'\\)$`),
      );
  });

  it("fail/several bad values are all named at once", () => {
    const words = refusal({ CARDPKI_PORT: "99999", CARDPKI_DB_READERS: "many" }).split("; ");
    expect(words).to.have.members([
      "CARDPKI_DB_READERS must be a whole number from 1 to 64 (got 'many')",
      "CARDPKI_PORT must be a port number from 0 to 65535 (got '99999')",
    ]);
  });

  it("fail/the file is checked as written: text where the schema wants a number is refused, not coerced", () => {
    const dir = dataDirWith({ ra: { expirySweepSeconds: "300" } });
    expect(refusal({ CARDPKI_DATA_DIR: dir })).to.equal(
      `${join(dir, "cardpki.json")}: /ra/expirySweepSeconds must be a whole number of seconds from 1 to 86400`,
    );
  });

  it(`ok/relative paths in the file resolve against the data folder, those in the environment against the project \
folder`, () => {
    const dir = dataDirWith({ tokenPins: { t: { file: "pins/t.pin" } }, backup: { keyFile: "keys/backup.key" } });
    const c = loadConfig({ CARDPKI_DATA_DIR: dir, CARDPKI_CARD_KEK: "elsewhere/kek" }, "/srv/cardpki");
    expect([c.tokenPins.t, c.backup.keyFile, c.card.kekFile]).to.deep.equal([
      { file: join(dir, "pins", "t.pin") },
      join(dir, "keys", "backup.key"),
      "/srv/cardpki/elsewhere/kek",
    ]);
  });

  it("ok/the resolved configuration is what CONFIG_SCHEMA (the type Config) says: defaults and every setting", () => {
    const check = new Ajv({ allErrors: true, strict: true }).compile(CONFIG_SCHEMA);
    const errors = (c: unknown) => (check(c) ? [] : check.errors!.map((e) => `${e.instancePath} ${e.message}`));
    expect(errors(loadConfig(NOWHERE))).to.deep.equal([]);
    const dir = dataDirWith({
      delivery: {
        email: { url: "smtps://mail.example:465", user: "u", password: { env: "PW" }, caFile: "ca.pem" },
        sms: { url: "https://sms.example/send", token: { file: "sms.token" }, template: { to: "{{to}}" } },
        mail: { spoolDir: "letters" },
      },
      audit: { tsaUrl: "https://tsa.example", tsaCertFile: "tsa.pem", signer: "ca/audit" },
      card: { reader: "r", raCa: "ra.pem", officerCert: "o.crt", officerKey: "o.key" },
      bureau: { signer: "ca/bureau" },
      dataEncryption: { wrappingKey: "pkcs11:token=t;object=k" },
      tokenPins: { t: { env: "T_PIN" } },
    });
    const env = Object.fromEntries(Object.keys(ENV_KEYS).map((name) => [name, ""]));
    const full = loadConfig({ ...env, CARDPKI_DATA_DIR: dir, CARDPKI_RA_PUBLIC_URL: "https://ra.example/" });
    expect(errors(full)).to.deep.equal([]);
    expect(errors({ ...full, ra: { ...full.ra, expirySweepSeconds: Number.NaN } })).to.deep.equal([
      "/ra/expirySweepSeconds must be integer",
    ]);
    expect([full.delivery.sms?.token, full.ra.publicUrl, full.ra.publicUrlConfigured]).to.deep.equal([
      { file: join(dir, "sms.token") },
      "https://ra.example",
      true,
    ]);
  });

  it("ok/every key the file may set is a key of the resolved configuration, checked by the same schema", () => {
    const keys = (s: TSchema, at = ""): string[] =>
      Object.entries((s.properties ?? {}) as Record<string, TSchema>).flatMap(([k, v]) => [
        `${at}${k}`,
        ...keys(v, `${at}${k}.`),
      ]);
    const resolved = new Map<string, TSchema>();
    const walk = (s: TSchema, at = "") => {
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, TSchema>)) {
        resolved.set(`${at}${k}`, v);
        walk(v, `${at}${k}.`);
      }
    };
    walk(CONFIG_SCHEMA);
    const file = keys(CONFIG_FILE_SCHEMA);
    expect(file.filter((k) => !resolved.has(k))).to.deep.equal([]);
    // Each leaf says the same in both: one definition of what each setting may hold.
    const leaf = (s: TSchema, key: string): TSchema =>
      key.split(".").reduce((x, k) => (x.properties as Record<string, TSchema>)[k]!, s);
    const leaves = file.filter((k) => leaf(CONFIG_FILE_SCHEMA, k).type !== "object");
    const differ = (k: string) =>
      JSON.stringify(leaf(CONFIG_FILE_SCHEMA, k)) !== JSON.stringify(leaf(CONFIG_SCHEMA, k));
    expect(leaves.filter(differ)).to.deep.equal([]);
    expect(leaves.length).to.be.greaterThan(60);
  });
});

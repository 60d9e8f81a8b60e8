import { expect } from "chai";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";
import { REPO_ROOT } from "../support/test-ca.js";

/** design.md: dependencies point inward; only composition wires concrete backends. */
const ALLOWED: Record<string, string[]> = {
  shared: [],
  i18n: ["shared"], // message catalogues (locales/<lang>/*.json): refusals and notifications in en, sv, da
  asn1: ["shared"],
  policy: ["shared", "asn1"],
  hsm: ["shared"],
  ca: ["shared", "asn1", "policy"],
  store: ["shared", "ca", "ra", "policy", "card", "audit", "delivery"], // implements the ca, ra, card and delivery ports (types only); audit: the hash chain
  audit: ["shared"],
  card: ["shared", "asn1"],
  delivery: ["shared", "i18n"], // the outbox worker, its ports and channel adapters (SMTP, SMS gateway, print file)
  ceremony: ["shared", "asn1", "policy", "ca", "hsm"],
  ra: ["shared", "policy", "ca"], // ca: ports only
  rpc: ["shared", "ca"], // the CA signer channel (mutual TLS, versioned schema-checked messages); ca: the KeySigner port
  http: ["shared", "asn1", "ra", "i18n"], // ra: the service types composition hands in
  cli: ["shared", "asn1", "composition", "ceremony"],
  composition: ["shared", "asn1", "policy", "hsm", "ca", "store", "ceremony", "http", "ra", "card", "audit", "delivery", "i18n", "rpc"],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("module boundaries (design.md)", () => {
  const src = join(REPO_ROOT, "src");
  it("ok/every src module imports only what design.md allows", () => {
    const violations: string[] = [];
    for (const f of files(src)) {
      const mod = relative(src, f).split("/")[0]!;
      expect(ALLOWED, `unknown module ${mod}`).to.have.property(mod);
      for (const m of readFileSync(f, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)) {
        const target = relative(src, resolve(dirname(f), m[1]!)).split("/")[0]!;
        if (target !== mod && !ALLOWED[mod]!.includes(target)) violations.push(`${relative(src, f)} -> ${m[1]}`);
      }
    }
    expect(violations).to.deep.equal([]);
  });
  it("ok/no SQL outside store/", () => {
    const offenders = files(src).filter((f) => !relative(src, f).startsWith("store/") && /\b(knex|\.raw\(|select \*|insert into)\b/i.test(readFileSync(f, "utf8")));
    expect(offenders.map((f) => relative(src, f))).to.deep.equal([]);
  });
});

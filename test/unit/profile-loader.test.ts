import { expect } from "chai";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { loadProfiles, parseProfile } from "../../src/policy/profile-loader.js";
import { CaError } from "../../src/shared/ca-error.js";
import { REPO_ROOT } from "../support/test-ca.js";

const base = () => parse(readFileSync(join(REPO_ROOT, "policies/profiles/loa3-smartcard-auth.yaml"), "utf8"));

describe("policy/profile-loader", () => {
  it("ok/loads every profile the issue names, each with id, version and cps", () => {
    const ps = loadProfiles(join(REPO_ROOT, "policies", "profiles"));
    for (const id of [
      "loa2-smartcard-auth",
      "loa3-smartcard-auth",
      "loa3-smartcard-sign",
      "ra-officer",
      "ocsp-signer",
      "kdc",
      "issuing-ca",
      "root-ca",
    ]) {
      const p = ps.get(id);
      expect(p, id).to.exist;
      expect(p!.version).to.be.greaterThan(0);
      expect(p!.cps.length).to.be.greaterThan(0);
    }
    expect(ps.get("loa3-smartcard-sign")!.keyUsage).to.deep.equal(["nonRepudiation"]);
    expect(ps.get("loa3-smartcard-auth")!.extendedKeyUsage).to.include("smartcardLogon");
    expect(ps.get("loa2-smartcard-auth")!.certificatePolicies).to.not.deep.equal(
      ps.get("loa3-smartcard-auth")!.certificatePolicies,
    );
  });

  it("ok/profiles are frozen", () => {
    const p = parseProfile(base(), "x");
    expect(Object.isFrozen(p)).to.equal(true);
    expect(Object.isFrozen(p.subject)).to.equal(true);
  });

  const bad: [string, (d: any) => void, RegExp][] = [
    ["unknown top-level key", (d) => (d.colour = "blue"), /colour/],
    ["unknown nested key", (d) => (d.validity.weeks = 3), /weeks/],
    ["unknown key type", (d) => (d.keyTypes = ["P-521"]), /keyTypes/],
    ["unknown EKU", (d) => (d.extendedKeyUsage = ["codeSigning"]), /extendedKeyUsage/],
    ["missing cps", (d) => delete d.cps, /cps/],
    ["bad policy OID", (d) => (d.certificatePolicies = ["1.2.x"]), /certificatePolicies/],
    ["CA flag on end-entity", (d) => (d.basicConstraints = { ca: true }), /keyCertSign|basicConstraints/],
    ["invalid regex", (d) => (d.subject.CN.pattern = "(["), /regular expression/],
    ["end-entity without loa", (d) => delete d.loa, /loa/],
    ["nocheck without ocspSigning", (d) => (d.ocspNoCheck = true), /ocspNoCheck/],
  ];
  for (const [name, mutate, re] of bad) {
    it(`fail/${name}`, () => {
      const d = base();
      mutate(d);
      expect(() => parseProfile(d, "t.yaml")).to.throw(CaError, re);
    });
  }

  it("fail/id must match the file name", () => {
    const dir = mkdtempSync(join(tmpdir(), "profiles-"));
    writeFileSync(join(dir, "other.yaml"), readFileSync(join(REPO_ROOT, "policies/profiles/loa3-smartcard-auth.yaml")));
    expect(() => loadProfiles(dir)).to.throw(CaError, /must match the file name/);
  });

  it("fail/duplicate YAML keys are rejected", () => {
    const dir = mkdtempSync(join(tmpdir(), "profiles-"));
    writeFileSync(join(dir, "x.yaml"), "id: x\nid: y\n");
    expect(() => loadProfiles(dir)).to.throw(CaError, /x\.yaml/);
  });
});

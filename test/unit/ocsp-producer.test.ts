import { expect } from "chai";
import { join } from "node:path";
import { OcspProducer } from "../../src/ca/ocsp/ocsp-producer.js";
import type { OcspIssuer } from "../../src/ca/ocsp/ocsp-signing.js";
import type { OcspResponseStore, OcspSubject, StoredOcspResponse } from "../../src/ca/ports.js";
import { loadRevocationPolicy } from "../../src/policy/revocation-policy.js";
import { FixedClock } from "../../src/shared/clock.js";
import { REPO_ROOT, softwareAuthority } from "../support/test-ca.js";

const clock = new FixedClock(new Date("2026-06-01T00:00:00Z"));
const policy = loadRevocationPolicy(join(REPO_ROOT, "policies", "revocation", "revocation.yaml"));

/** An in-memory response store over a mutable certificate table; each signature takes a few milliseconds. */
function fixture(count: number) {
  const ca = softwareAuthority();
  const issuer: OcspIssuer = {
    ca,
    responder: {
      signer: { ...ca.signer, sign: async (d) => (await new Promise((r) => setTimeout(r, 3)), ca.signer.sign(d)) },
      certDer: new Uint8Array([0x30, 0x00]),
      notAfter: new Date("2030-01-01T00:00:00Z"),
      label: "unit responder",
    },
  };
  const certs = new Map<string, OcspSubject>();
  for (let i = 0; i < count; i++) {
    const serial = (0x1000 + i).toString(16);
    certs.set(serial, {
      serial,
      issuerId: ca.id,
      status: "issued",
      revokedAt: undefined,
      reason: undefined,
      notAfter: new Date("2029-01-01T00:00:00Z"),
    });
  }
  const stored = new Map<string, StoredOcspResponse>();
  const store: OcspResponseStore = {
    get: async (_i, serial) => stored.get(serial),
    put: async (rows) => rows.forEach((r) => stored.set(r.serial, r)),
    remove: async (_i, serials) => serials.forEach((s) => stored.delete(s)),
    due: async () => [],
    missing: async (_i, _n, after) => ({
      subjects: after === "" ? [...certs.values()].filter((c) => !stored.has(c.serial)).map((c) => ({ ...c })) : [],
      next: after === "" ? "zz" : undefined,
    }),
    subjects: async (serials) => serials.flatMap((s) => (certs.has(s) ? [{ ...certs.get(s)! }] : [])),
  };
  return { issuer, certs, stored, store };
}

describe("OCSP producer: pre-produced responses follow status changes", () => {
  it(`ok/a revocation during a backfill page ends stored as revoked: the page read before it cannot overwrite \
it`, async () => {
    const f = fixture(40);
    const producer = new OcspProducer([f.issuer], f.store, policy, clock, { concurrency: 1 });
    const page = producer.sweep(); // reads 40 statuses as good, then signs them one by one
    await new Promise((r) => setTimeout(r, 10));
    const victim = [...f.certs.keys()][0]!;
    f.certs.set(victim, { ...f.certs.get(victim)!, revokedAt: clock.now(), reason: "keyCompromise" });
    const changed = producer.statusChanged([victim]); // the revocation event, while the page is in flight
    expect(await page).to.equal(40);
    expect(await changed).to.equal(1);
    expect(f.stored.get(victim)).to.deep.include({ status: "revoked", reason: "keyCompromise" });
    expect([...f.stored.values()].filter((r) => r.status === "good")).to.have.length(39);
  });

  it("ok/a failed piece of work does not stop the next one", async () => {
    const f = fixture(2);
    const producer = new OcspProducer([f.issuer], f.store, policy, clock);
    const put = f.store.put;
    f.store.put = async () => {
      throw new Error("disk full");
    };
    let failed = "";
    await producer.statusChanged([...f.certs.keys()]).catch((e: Error) => (failed = e.message));
    expect(failed).to.equal("disk full");
    f.store.put = put;
    expect(await producer.statusChanged([...f.certs.keys()])).to.equal(2);
    expect(f.stored.size).to.equal(2);
  });
});

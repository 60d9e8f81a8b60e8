import { expect } from "chai";
import type { AuditEvent, CertRecord, CertStore, Reservation } from "../../src/ca/ports.js";
import { MemorySessionStore, type SessionRecord, type SessionStore } from "../../src/http/portal.routes.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { KnexCertStore } from "../../src/store/cert.store.js";
import { KnexPortalSessionStore } from "../../src/store/portal-session.store.js";
import { testDatabases } from "../support/databases.js";
import { MemoryCertStore } from "../support/fakes.js";
import { refused } from "../support/refused.js";

/**
 * Store contracts: the same cases on the in-memory fake the unit tests use, on SQLite and on PostgreSQL
 * (when ./scripts/test started one), so a fake that drifts from the stores it stands for fails here.
 * Ports: CertStore (ca/ports.ts: record serial + TBS before signing, never reuse a serial, signed but
 * not stored -> revoked) and the portal's SessionStore (REQ-33: shared by the writer and its standby).
 */
interface Backend {
  readonly name: string;
  open(): Promise<{ certs: CertStore; sessions: SessionStore; audited(): Promise<string[]>; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: "memory (test/support/fakes.ts, http MemorySessionStore)",
    open: async () => {
      const certs = new MemoryCertStore();
      return {
        certs,
        sessions: new MemorySessionStore(),
        audited: async () => certs.audit.map((e) => e.id),
        close: async () => undefined,
      };
    },
  },
  ...testDatabases().map((db): Backend => ({
    name: db.name,
    open: async () => {
      const knex: Database = await openDatabase(await db.url());
      return {
        certs: new KnexCertStore(knex),
        sessions: new KnexPortalSessionStore(knex),
        audited: async () => (await knex("audit_events").orderBy("seq").select("id")).map((r: { id: string }) => r.id),
        close: () => knex.destroy(),
      };
    },
  })),
];

const T0 = new Date("2026-06-01T12:00:00Z");
let n = 0;
const audit = (action: string, objectId: string): AuditEvent => ({
  id: `ev-${++n}`,
  at: T0,
  actor: "test",
  action,
  objectType: "certificate",
  objectId,
  outcome: "success",
});
const reservation = (serial: string, issuerId = "ca-a"): Reservation => ({
  serial,
  issuerId,
  profileId: "loa3-smartcard-auth",
  profileVersion: 3,
  subjectDn: "CN=Ada Andersson",
  notBefore: T0,
  notAfter: new Date("2029-06-01T12:00:00Z"),
  tbs: Uint8Array.of(0x30, 0x00),
  requestedBy: "officer:o1",
});
/** The record as the port defines it; createdAt is when it was reserved (the audit event's time). */
const expected = (serial: string, status: CertRecord["status"], more: Partial<CertRecord> = {}): CertRecord => ({
  serial,
  issuerId: "ca-a",
  profileId: "loa3-smartcard-auth",
  profileVersion: 3,
  status,
  subjectDn: "CN=Ada Andersson",
  notBefore: T0,
  notAfter: new Date("2029-06-01T12:00:00Z"),
  der: undefined,
  revokedAt: undefined,
  revocationReason: undefined,
  createdAt: T0,
  ...more,
});
const session = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  csrfHash: "c".repeat(64),
  credential: "01ab",
  created: 1_000,
  lastSeen: 1_000,
  kind: "officer",
  ...over,
});

for (const backend of backends)
  describe(`store contract on ${backend.name}`, function () {
    this.timeout(60_000);
    let s: Awaited<ReturnType<Backend["open"]>>;
    beforeEach(async () => (s = await backend.open()));
    afterEach(async () => s?.close());

    describe("CertStore (ca/ports.ts)", () => {
      it("ok/reserve, then complete: the record is reserved without a certificate, then issued with it", async () => {
        await s.certs.reserve(reservation("0a01"), audit("cert.reserve", "0a01"));
        expect(await s.certs.get("0a01")).to.deep.equal(expected("0a01", "reserved"));
        await s.certs.complete("0a01", Uint8Array.of(1, 2, 3), audit("cert.issue", "0a01"));
        expect(await s.certs.get("0a01")).to.deep.equal(expected("0a01", "issued", { der: Uint8Array.of(1, 2, 3) }));
      });
      it("ok/an unknown serial is undefined", async () => {
        expect(await s.certs.get("0a99")).to.equal(undefined);
      });
      it("fail/a serial is never reserved twice (conflict), whatever became of it", async () => {
        await s.certs.reserve(reservation("0b01"), audit("cert.reserve", "0b01"));
        expect((await refused(s.certs.reserve(reservation("0b01"), audit("cert.reserve", "0b01")))).kind).to.equal(
          "conflict",
        );
        await s.certs.fail("0b01", audit("cert.fail", "0b01"));
        expect(
          (await refused(s.certs.reserve(reservation("0b01", "ca-b"), audit("cert.reserve", "0b01")))).kind,
        ).to.equal("conflict");
      });
      it("fail/only a reserved serial is completed or failed (conflict otherwise)", async () => {
        expect((await refused(s.certs.complete("0c01", Uint8Array.of(1), audit("cert.issue", "0c01")))).kind).to.equal(
          "conflict",
        );
        await s.certs.reserve(reservation("0c02"), audit("cert.reserve", "0c02"));
        await s.certs.fail("0c02", audit("cert.fail", "0c02"));
        expect(await s.certs.get("0c02")).to.deep.equal(expected("0c02", "failed"));
        expect((await refused(s.certs.complete("0c02", Uint8Array.of(1), audit("cert.issue", "0c02")))).kind).to.equal(
          "conflict",
        );
        await s.certs.reserve(reservation("0c03"), audit("cert.reserve", "0c03"));
        await s.certs.complete("0c03", Uint8Array.of(1), audit("cert.issue", "0c03"));
        expect((await refused(s.certs.fail("0c03", audit("cert.fail", "0c03")))).kind).to.equal("conflict");
      });
      it(`ok/after a crash every serial still reserved becomes unfinished and revoked; issued ones stay as they \
are`, async () => {
        for (const serial of ["0d01", "0d02", "0d03"])
          await s.certs.reserve(reservation(serial), audit("cert.reserve", serial));
        await s.certs.complete("0d02", Uint8Array.of(9), audit("cert.issue", "0d02"));
        const at = new Date("2026-06-02T00:00:00Z");
        const recovered = await s.certs.recoverUnfinished(at, (serial) => audit("cert.unfinished", serial));
        expect([...recovered].sort()).to.deep.equal(["0d01", "0d03"]);
        expect(await s.certs.get("0d01")).to.deep.include({
          status: "unfinished",
          revokedAt: at,
          revocationReason: "unspecified",
        });
        expect(await s.certs.get("0d02")).to.deep.include({ status: "issued", revokedAt: undefined });
        expect((await s.certs.listRevoked("ca-a")).map((r) => r.serial).sort()).to.deep.equal(["0d01", "0d03"]);
        expect(await s.certs.listRevoked("ca-other")).to.deep.equal([]);
        // A signer that comes back late cannot complete a recovered serial: it stays revoked.
        expect((await refused(s.certs.complete("0d01", Uint8Array.of(9), audit("cert.issue", "0d01")))).kind).to.equal(
          "conflict",
        );
        expect(await s.certs.recoverUnfinished(at, (serial) => audit("cert.unfinished", serial))).to.deep.equal([]);
      });
      it("ok/every write that happened is audited, a refused one is not", async () => {
        const before = new Set(await s.audited());
        const r = audit("cert.reserve", "0e01");
        const dup = audit("cert.reserve", "0e01");
        const done = audit("cert.issue", "0e01");
        await s.certs.reserve(reservation("0e01"), r);
        await refused(s.certs.reserve(reservation("0e01"), dup));
        await s.certs.complete("0e01", Uint8Array.of(1), done);
        expect((await s.audited()).filter((id) => !before.has(id))).to.deep.equal([r.id, done.id]);
      });
    });

    describe("SessionStore (http/portal.routes.ts)", () => {
      it("ok/put, get, delete", async () => {
        await s.sessions.put("h1", session());
        expect(await s.sessions.get("h1")).to.deep.equal(session());
        expect(await s.sessions.get("h2")).to.equal(undefined);
        await s.sessions.delete("h1");
        expect(await s.sessions.get("h1")).to.equal(undefined);
      });
      it("ok/the kind survives the round trip", async () => {
        await s.sessions.put("h3", session({ kind: "holder" }));
        expect((await s.sessions.get("h3"))!.kind).to.equal("holder");
      });
      it("ok/touch moves lastSeen forward only (two replicas touching out of order)", async () => {
        await s.sessions.put("h4", session({ lastSeen: 5_000 }));
        await s.sessions.touch("h4", 9_000);
        await s.sessions.touch("h4", 7_000);
        expect((await s.sessions.get("h4"))!.lastSeen).to.equal(9_000);
        await s.sessions.touch("h-none", 9_000); // no session: nothing happens
        expect(await s.sessions.get("h-none")).to.equal(undefined);
      });
      it("ok/deleteExpired removes the idle and the too old, keeps the rest", async () => {
        await s.sessions.put("idle", session({ created: 10_000, lastSeen: 10_000 }));
        await s.sessions.put("old", session({ created: 1_000, lastSeen: 50_000 }));
        await s.sessions.put("live", session({ created: 10_000, lastSeen: 50_000 }));
        await s.sessions.deleteExpired(20_000, 5_000);
        expect([
          await s.sessions.get("idle"),
          await s.sessions.get("old"),
          (await s.sessions.get("live"))?.lastSeen,
        ]).to.deep.equal([undefined, undefined, 50_000]);
      });
    });
  });

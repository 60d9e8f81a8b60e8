import { expect } from "chai";
import type { Knex } from "knex";
import { openDatabase, openReader, type Database } from "../../src/store/database.js";
import { testDatabases } from "../support/databases.js";
import { KnexAuditStore, appendAuditEvents } from "../../src/store/audit.store.js";
import { verifyChain } from "../../src/audit/chain-verifier.js";
import { chain } from "../../src/audit/audit-chain.js";
import { closeDatabase, commitQueueOf, recordAuditEvent, type BatchWrite } from "../../src/store/commit-queue.js";
import { KnexCertStore } from "../../src/store/cert.store.js";
import { CaError } from "../../src/shared/ca-error.js";
import type { AuditEvent } from "../../src/ca/ports.js";

const event = (id: string, objectId: string): AuditEvent => ({
  id,
  at: new Date(0),
  actor: "test",
  action: "test.write",
  objectType: "test",
  objectId,
  outcome: "success",
});

/**
 * The database's one commit queue, on a real SQLite file in WAL mode (with a read pool beside it) and on PostgreSQL.
 */
for (const backend of testDatabases())
  describe(`store/commit-queue on ${backend.name}`, function () {
    this.timeout(30_000);
    let db: Database;
    let reader: Database;
    const statements: string[] = [];

    // Two kinds of writes to two scratch tables; each audits what it wrote through the queue's sink.
    const intoA: BatchWrite<{ id: string; auditId?: string }, string> = async (trx, ops, audit) => {
      await trx("qa").insert(ops.map((o) => ({ id: o.id })));
      for (const o of ops) audit(event(o.auditId ?? `a-${o.id}`, o.id));
      return ops.map((o) => `a:${o.id}`);
    };
    const intoB: BatchWrite<{ id: string }, string> = async (trx, ops, audit) => {
      await trx("qb").insert(ops.map((o) => ({ id: o.id })));
      for (const o of ops) audit(event(`b-${o.id}`, o.id));
      return ops.map((o) => `b:${o.id}`);
    };
    const auditedOnce = async (
      _trx: Knex.Transaction,
      ops: readonly { id: string }[],
      audit: (e: AuditEvent) => void,
    ) => {
      for (const o of ops) audit(event(`c-${o.id}`, o.id));
      throw new Error("write failed after its audit event was taken");
    };

    before(async () => {
      const url = await backend.url();
      db = await openDatabase(url);
      await db.schema.createTable("qa", (t) => t.string("id").primary());
      await db.schema.createTable("qb", (t) => t.string("id").primary());
      reader = await openReader(url, db, 2);
      db.on("query", (q: { sql: string }) => statements.push(q.sql));
    });
    after(async () => {
      if (reader !== db) await reader?.destroy();
      await db?.destroy();
    });

    it(`ok/writes of two kinds that arrive together share one transaction; one multi-row insert per kind and one for \
all audit events`, async () => {
      const q = commitQueueOf(db);
      expect(commitQueueOf(db)).to.equal(q); // one queue per database handle
      const before = q.commits;
      statements.length = 0;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? q.run(intoA, { id: `x${i}` }) : q.run(intoB, { id: `x${i}` }))),
      );
      expect(results[0]).to.equal("b:x0");
      expect(results[1]).to.equal("a:x1");
      expect(q.commits - before).to.equal(1);
      expect(statements.filter((s) => /^insert/i.test(s))).to.have.length(3);
      expect(statements.filter((s) => /^commit/i.test(s))).to.have.length(1);
      expect(Number((await reader("qa").count({ n: "*" }).first())?.n)).to.equal(20);
      expect(
        Number((await reader("audit_events").whereIn("id", ["a-x1", "b-x0"]).count({ n: "*" }).first())?.n),
      ).to.equal(2);
    });

    it(`ok/writes that arrive while a transaction commits go into the next, which starts before the first one's \
callers continue`, async () => {
      const q = commitQueueOf(db);
      const before = q.commits;
      const first = q.run(intoA, { id: "p1" });
      await new Promise((r) => setImmediate(r)); // the first transaction is under way
      const second = q.run(intoA, { id: "p2" });
      let startedWhenFirstAnswered = -1;
      await first.then(() => (startedWhenFirstAnswered = q.commits - before));
      expect(startedWhenFirstAnswered).to.equal(2); // the writer is not left idle while the first caller's code runs
      expect(await second).to.equal("a:p2");
      expect(
        (await reader("qa").whereIn("id", ["p1", "p2"]).select("id")).map((r: { id: string }) => r.id).sort(),
      ).to.deep.equal(["p1", "p2"]);
    });

    it(`fail/one bad write in a shared transaction fails alone, with its own error; its neighbours \
commit`, async () => {
      const q = commitQueueOf(db);
      await q.run(intoA, { id: "taken" });
      const settled = await Promise.allSettled([
        q.run(intoA, { id: "n1" }),
        q.run(intoA, { id: "taken", auditId: "a-taken-again" }),
        q.run(intoB, { id: "n2" }),
      ]);
      expect(settled.map((s) => s.status)).to.deep.equal(["fulfilled", "rejected", "fulfilled"]);
      expect(String((settled[1] as PromiseRejectedResult).reason)).to.match(/UNIQUE|duplicate key/);
      expect(Number((await reader("qa").whereIn("id", ["n1"]).count({ n: "*" }).first())?.n)).to.equal(1);
      expect(await reader("audit_events").where({ id: "a-taken-again" }).first()).to.equal(undefined);
    });

    it(`fail/a write that throws leaves neither its rows nor its audit events (REQ-27: no audit without the change, no \
change without audit)`, async () => {
      const q = commitQueueOf(db);
      const settled = await Promise.allSettled([q.run(auditedOnce, { id: "z1" }), q.run(intoA, { id: "z2" })]);
      expect(settled.map((s) => s.status)).to.deep.equal(["rejected", "fulfilled"]);
      expect(await reader("audit_events").where({ id: "c-z1" }).first()).to.equal(undefined);
      expect(await reader("audit_events").where({ id: "a-z2" }).first()).to.not.equal(undefined);
    });

    it(`ok/audit entries appended by concurrent transactions outside the queue still form one chain (PostgreSQL: \
advisory lock)`, async () => {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          db.transaction((trx) => appendAuditEvents(trx, [event(`c-${i}`, `o${i}`)])),
        ),
      );
      const r = await verifyChain({
        pages: new KnexAuditStore(db).pages(7),
        checkpoints: [],
        verifySignature: () => true,
      });
      expect(r.problem?.message).to.equal(undefined);
      expect(r.ok).to.equal(true);
    });

    it(`ok/an entry appended by someone else in between (another process) is noticed: the next append links to it, the \
chain stays whole`, async () => {
      await commitQueueOf(db).run(intoA, { id: "before-foreign" });
      const last = await db("audit_events").orderBy("seq", "desc").first();
      const foreign = {
        id: "foreign-1",
        at: 1,
        actor: "other-process",
        organisationId: null,
        action: "x",
        objectType: "test",
        objectId: "f",
        outcome: "success",
        policy: null,
        details: null,
      };
      const [linked] = chain(last!.entry_hash!, [foreign]);
      await db("audit_events").insert({
        id: linked!.id,
        at: 1,
        actor: linked!.actor,
        action: "x",
        object_type: "test",
        object_id: "f",
        outcome: "success",
        prev_hash: linked!.prevHash,
        entry_hash: linked!.entryHash,
      });
      await commitQueueOf(db).run(intoA, { id: "after-foreign" });
      const after = await db("audit_events").where({ id: "a-after-foreign" }).first();
      expect(after!.prev_hash).to.equal(linked!.entryHash);
      expect(
        (await verifyChain({ pages: new KnexAuditStore(db).pages(), checkpoints: [], verifySignature: () => true })).ok,
      ).to.equal(true);
    });

    it(`ok/the read pool sees a write as soon as it committed, and cannot write (SQLite read connections; PostgreSQL \
reads through the writer's own pool)`, async function () {
      if (backend.name !== "sqlite") {
        expect(reader).to.equal(db);
        return;
      }
      await commitQueueOf(db).run(intoB, { id: "seen" });
      expect(await reader("qb").where({ id: "seen" }).first()).to.deep.equal({ id: "seen" });
      let err: unknown;
      try {
        await reader("qb").insert({ id: "via-reader" });
      } catch (e) {
        err = e;
      }
      expect(String(err)).to.match(/readonly|read-only|SQLITE_READONLY/i);
    });
  });

/** SQLite files: the named writes of the stores run in the writer thread, on a connection of their own. */
describe("store/commit-queue: the SQLite writer thread", function () {
  this.timeout(30_000);
  const sqliteUrl = async () => await testDatabases()[0]!.url();
  const certAudit = (id: string): AuditEvent => ({
    ...event(id, "serial"),
    action: "certificate.issued",
    objectType: "certificate",
  });

  it(`ok/named writes that arrive together commit in one transaction of the writer thread: the main connection runs \
none of their statements`, async () => {
    const url = await sqliteUrl();
    const db = await openDatabase(url);
    const reader = await openReader(url, db, 2);
    try {
      const onMain: string[] = [];
      db.on("query", (q: { sql: string }) => onMain.push(q.sql));
      const q = commitQueueOf(db);
      const before = q.commits;
      await Promise.all(Array.from({ length: 12 }, (_, i) => recordAuditEvent(db, event(`w-${i}`, `o${i}`))));
      expect(q.commits - before).to.equal(1);
      expect(onMain, "statements on the main connection").to.deep.equal([]);
      expect(Number((await reader("audit_events").where("id", "like", "w-%").count({ n: "*" }).first())?.n)).to.equal(
        12,
      );
      // The main connection still writes what is not named (BEGIN IMMEDIATE: it waits for the writer thread's lock).
      await Promise.all([
        db.transaction((trx) => appendAuditEvents(trx, [event("main-1", "m")])),
        recordAuditEvent(db, event("w-after", "o")),
      ]);
      const r = await verifyChain({
        pages: new KnexAuditStore(db).pages(5),
        checkpoints: [],
        verifySignature: () => true,
      });
      expect(r.ok, r.problem?.message).to.equal(true);
    } finally {
      await reader.destroy();
      await closeDatabase(db);
    }
  });

  it(`fail/an error thrown in the writer thread reaches the store as its own class: completing a serial never reserved \
is a conflict; nothing is written`, async () => {
    const url = await sqliteUrl();
    const db = await openDatabase(url);
    try {
      const certs = new KnexCertStore(db);
      let err: unknown;
      try {
        await certs.complete("0badc0de", new Uint8Array([0x30, 0x00]), certAudit("never-reserved"));
      } catch (e) {
        err = e;
      }
      expect(CaError.is(err, "conflict"), String(err)).to.equal(true);
      expect(String((err as Error).message)).to.match(/is not reserved/);
      expect(await db("audit_events").where({ id: "never-reserved" }).first()).to.equal(undefined);
    } finally {
      await closeDatabase(db);
    }
  });

  it(`fail/a shared transaction of the writer thread that fails after a write is rolled back whole: the good \
write commits on its own, once, the bad one leaves nothing (REQ-27)`, async () => {
    const url = await sqliteUrl();
    const db = await openDatabase(url);
    try {
      const certs = new KnexCertStore(db);
      const at = new Date(0);
      await certs.reserve(
        {
          serial: "0abc01",
          issuerId: "test-ca",
          profileId: "p",
          profileVersion: 1,
          subjectDn: "CN=Rollback",
          notBefore: at,
          notAfter: at,
          tbs: new Uint8Array([0x30, 0x00]),
          requestedBy: "test",
        },
        certAudit("rb-reserve"),
      );
      const q = commitQueueOf(db);
      const before = q.commits;
      // One turn: both share a transaction; its one UPDATE changes 0abc01, then the unreserved serial fails it.
      const settled = await Promise.allSettled([
        certs.complete("0abc01", new Uint8Array([0x30, 0x01]), certAudit("rb-good")),
        certs.complete("0abc02", new Uint8Array([0x30, 0x02]), certAudit("rb-bad")),
      ]);
      expect(settled.map((r) => r.status)).to.deep.equal(["fulfilled", "rejected"]);
      expect(q.commits - before, "the shared transaction, then one each").to.equal(3);
      const row = await db("certificates").where({ serial: "0abc01" }).first("status", "der");
      expect(row?.status).to.equal("issued");
      expect(Buffer.from(row!.der!).toString("hex")).to.equal("3001");
      const audited = await db("audit_events").whereIn("id", ["rb-good", "rb-bad"]).pluck("id");
      expect(audited).to.deep.equal(["rb-good"]);
      // And the connection is usable: no transaction was left open.
      await recordAuditEvent(db, event("rb-after", "o"));
      const r = await verifyChain({
        pages: new KnexAuditStore(db).pages(5),
        checkpoints: [],
        verifySignature: () => true,
      });
      expect(r.ok, r.problem?.message).to.equal(true);
    } finally {
      await closeDatabase(db);
    }
  });

  it("ok/closing the database lets the transaction under way finish, then stops the writer thread", async () => {
    const url = await sqliteUrl();
    const db = await openDatabase(url);
    const writes = Array.from({ length: 5 }, (_, i) => recordAuditEvent(db, event(`c-${i}`, "close")));
    await closeDatabase(db);
    await Promise.all(writes);
    const again = await openDatabase(url);
    try {
      expect(Number((await again("audit_events").where({ object_id: "close" }).count({ n: "*" }).first())?.n)).to.equal(
        5,
      );
      let err: unknown;
      try {
        await recordAuditEvent(db, event("late", "close"));
      } catch (e) {
        err = e;
      }
      expect(err, "a write on a closed handle is refused").to.be.instanceOf(Error);
    } finally {
      await closeDatabase(again);
    }
  });
});

import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { openDatabase, isPostgres, type Database } from "../../src/store/database.js";
import { closeDatabase } from "../../src/store/commit-queue.js";
import { KnexOrderStore } from "../../src/store/order.store.js";
import { KnexCertStore } from "../../src/store/cert.store.js";
import { KnexOcspResponseStore } from "../../src/store/ocsp-response.store.js";
import { KnexCertificateCounts } from "../../src/store/certificate-counts.store.js";
import { KnexActivationStore } from "../../src/store/activation.store.js";
import { FieldCipher } from "../../src/store/field-cipher.js";
import { cryptoRandom } from "../../src/shared/random.js";
import { testDatabases } from "../support/databases.js";

/** The tables that grow with the population: a lookup in them never reads the whole table. */
const POPULATION_TABLES = [
  "orders",
  "certificates",
  "order_actors",
  "order_identifications",
  "people",
  "notifications",
  "cards",
  "ocsp_responses",
  "activation_challenges",
  "transport_pin_replacements",
];

/** The SQL a call runs, with its bindings (captured from the handle's query events). */
async function statementsOf(
  db: Knex,
  call: () => Promise<unknown>,
): Promise<{ sql: string; bindings: readonly unknown[] }[]> {
  const seen: { sql: string; bindings: readonly unknown[] }[] = [];
  const listener = (q: { sql: string; bindings?: readonly unknown[] }) =>
    void seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
  db.on("query", listener);
  try {
    await call();
  } finally {
    db.removeListener("query", listener);
  }
  return seen.filter((s) => /^\s*select/i.test(s.sql));
}

/**
 * Full scans of population tables in a statement's plan (SQLite EXPLAIN QUERY PLAN; PostgreSQL EXPLAIN, no seq scan
 * allowed).
 */
async function fullScans(db: Knex, s: { sql: string; bindings: readonly unknown[] }): Promise<string[]> {
  if (isPostgres(db)) {
    const sql = s.sql.replace(/\$\d+/g, "?"); // the event shows PostgreSQL's own placeholders
    const rows = await db.transaction(async (trx) => {
      // an empty table is scanned whatever the indexes: ask for the plan with them
      await trx.raw("set local enable_seqscan = off");
      return (await trx.raw(`explain ${sql}`, s.bindings as never)).rows as { "QUERY PLAN": string }[];
    });
    return rows
      .map((r) => r["QUERY PLAN"])
      .filter((l) => POPULATION_TABLES.some((t) => new RegExp(`Seq Scan on ${t}\\b`).test(l)));
  }
  const rows = (await db.raw(`explain query plan ${s.sql}`, s.bindings as never)) as { detail: string }[];
  return rows
    .map((r) => r.detail)
    .filter((d) =>
      POPULATION_TABLES.some((t) => new RegExp(`^SCAN ${t}\\b`).test(d) && !/USING (COVERING )?INDEX/.test(d)),
    );
}

for (const backend of testDatabases())
  describe(`store/query plans on ${backend.name}: lookups and sweeps use indexes, never a scan of the \
population`, function () {
    this.timeout(60_000);
    let db: Database;
    let orders: KnexOrderStore;
    let certs: KnexCertStore;
    let responses: KnexOcspResponseStore;
    let counts: KnexCertificateCounts;

    before(async () => {
      db = await openDatabase(await backend.url());
      orders = new KnexOrderStore(db, db, new FieldCipher([{ id: "dk1", key: randomBytes(32) }], "dk1", cryptoRandom));
      certs = new KnexCertStore(db, db);
      responses = new KnexOcspResponseStore(db, db);
      counts = new KnexCertificateCounts(db);
    });
    after(async () => {
      if (db) await closeDatabase(db);
    });

    const calls: [string, () => Promise<unknown>][] = [
      ["an order by id (every RA action)", () => orders.load("0123456789abcdef0123456789abcdef")],
      ["an order by its certificate (the holder's card at logon)", () => orders.byCertificate("0a1b2c3d")],
      ["the orders of one applicant (my cards)", () => orders.ofApplicant("0123456789abcdef0123456789abcdef", 20)],
      [
        "the expiry sweep: handed out before the deadline",
        () => orders.handedOutBefore("loa3-card-order", new Date(0), 100),
      ],
      [
        "the expiry sweep: in a state since before the deadline",
        () => orders.inStateSince("PRODUCED", new Date(0), 100, "loa3-card-order"),
      ],
      ["the expiry sweep: producing for too long", () => orders.inStateSince("PRODUCING", new Date(0), 100)],
      ["the repair sweep: expired orders with a live certificate", () => orders.expiredWithLiveCertificate(100)],
      ["a certificate by serial (OCSP miss, activation)", () => certs.get("0a1b2c3d")],
      [
        "activation: the order's challenge and the certificate's latest PIN record",
        () => new KnexActivationStore(db, db).forActivation("0123456789abcdef0123456789abcdef", "0a1b2c3d"),
      ],
      [
        "an organisation's open orders (the officer's work queue)",
        () => orders.listOpen("0123456789abcdef0123456789abcdef", 50),
      ],
      [
        "the production sweep: recent card certificates without a produced order",
        () =>
          orders.orphanCertificates(
            ["loa3-smartcard-auth"],
            { createdAfter: new Date(0), createdBefore: new Date(1) },
            100,
          ),
      ],
      [
        "a person's live certificates (unbinding revokes them)",
        () => orders.liveCertificatesOf("0123456789abcdef0123456789abcdef"),
      ],
      ["OCSP: a pre-produced response by issuer and serial", () => responses.get("demo-issuing", "0a1b2c3d")],
      ["OCSP: the re-signing sweep's due rows, oldest first", () => responses.due(new Date(0), 200)],
      [
        "OCSP: one backfill page of certificates without a response",
        () => responses.missing("demo-issuing", new Date(0), "0a", 200),
      ],
      ["OCSP: the state of changed serials", () => responses.subjects(["0a1b2c3d", "0a1b2c3e"])],
      ["/metrics: certificates by status", () => counts.byStatus()],
      ["/metrics: issued certificates by profile", () => counts.issuedByProfile()],
    ];
    for (const [what, call] of calls)
      it(`ok/${what}`, async () => {
        const statements = await statementsOf(db, call);
        expect(statements, "the call ran at least one query").to.not.have.length(0);
        for (const s of statements) expect(await fullScans(db, s), s.sql).to.deep.equal([]);
      });

    it(`ok/the certificate counts follow inserts, status changes and deletes (triggers), as a GROUP BY over the table \
says`, async () => {
      const row = (serial: string, status: string, profile: string) => ({
        serial,
        issuer_id: "counts-test",
        profile_id: profile,
        profile_version: 1,
        status,
        subject_dn: "CN=x",
        not_before: 0,
        not_after: 1,
        tbs: Buffer.from([0]),
        requested_by: "test",
        created_at: 0,
        updated_at: 0,
      });
      const serials = Array.from({ length: 40 }, () => randomBytes(8).toString("hex"));
      await db("certificates").insert(serials.map((s, i) => row(s, "reserved", i % 2 ? "counts-a" : "counts-b")));
      await db("certificates").whereIn("serial", serials.slice(0, 25)).update({ status: "issued" });
      await db("certificates").whereIn("serial", serials.slice(20, 30)).update({ status: "failed" });
      await db("certificates").whereIn("serial", serials.slice(35)).delete();
      const truth = async (q: Knex.QueryBuilder) => Object.fromEntries((await q).map((r: any) => [r.k, Number(r.n)]));
      expect(await counts.byStatus()).to.deep.equal(
        await truth(db("certificates").groupBy("status").select("status as k").count({ n: "*" })),
      );
      expect(await counts.issuedByProfile()).to.deep.equal(
        await truth(
          db("certificates")
            .where({ status: "issued" })
            .groupBy("profile_id")
            .select("profile_id as k")
            .count({ n: "*" }),
        ),
      );
      expect((await counts.issuedByProfile())["counts-a"]).to.equal(
        serials.slice(0, 20).filter((_, i) => i % 2).length,
      );
      await db("certificates").where({ issuer_id: "counts-test" }).delete();
    });

    it("fail/the check finds a full scan when there is one (a lookup by an unindexed column)", async () => {
      const statements = await statementsOf(db, () => db("orders").where({ terms_version: "v1" }).select("id"));
      expect(await fullScans(db, statements[0]!)).to.have.length(1);
    });
  });

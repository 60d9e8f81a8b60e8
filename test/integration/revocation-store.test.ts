import { expect } from "chai";
import { openDatabase, type Database } from "../../src/store/database.js";
import { KnexRevocationStore } from "../../src/store/revocation.store.js";
import type { AuditEvent } from "../../src/ca/ports.js";
import { testDatabases } from "../support/databases.js";

/**
 * The revocation store under concurrent writers, as the service, `cardpki` commands and further
 * instances share one database: two connection pools stand for two processes. PostgreSQL runs their
 * transactions side by side (READ COMMITTED); SQLite has one writer at a time.
 */
for (const backend of testDatabases())
  describe(`store/revocation under concurrent writers on ${backend.name}`, function () {
    this.timeout(60_000);
    let a: Database;
    let b: Database;
    const audit = (id: string): AuditEvent => ({
      id,
      at: new Date(0),
      actor: "test",
      action: "cert.revoke",
      objectType: "certificate",
      objectId: id,
      outcome: "success",
    });

    before(async () => {
      const url = await backend.url();
      a = await openDatabase(url);
      b = await openDatabase(url);
    });
    after(async () => {
      await a?.destroy();
      await b?.destroy();
    });

    it(`ok/CRL numbers drawn at the same time by two processes never repeat and never go back (RFC 5280 \
5.2.3)`, async () => {
      const stores = [new KnexRevocationStore(a), new KnexRevocationStore(b)];
      const drawn = (await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.nextCrlNumber("ca-x")))).map(
        String,
      );
      expect(new Set(drawn).size, drawn.join(",")).to.equal(40);
      expect(drawn.map(Number).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it(`ok/revocation events become visible in seq order, so a reader following the highest seq (OCSP invalidation, \
delta CRLs) misses none`, async () => {
      const n = 40;
      const serials = Array.from({ length: n }, (_, i) => `aa${String(i).padStart(4, "0")}`);
      await a("certificates").insert(
        serials.map((serial) => ({
          serial,
          issuer_id: "ca-y",
          profile_id: "p",
          profile_version: 1,
          status: "issued",
          subject_dn: "CN=x",
          not_before: 0,
          not_after: 4e12,
          tbs: Buffer.from([0]),
          der: Buffer.from([0]),
          requested_by: "test",
          created_at: 0,
          updated_at: 0,
        })),
      );
      if (backend.name === "postgres") {
        // A slow writer (network, GC, a busy disk): the first change stalls after its event drew its seq.
        await a.raw(
          `CREATE FUNCTION slow_first() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
            `IF NEW.serial = '${serials[0]}' THEN PERFORM pg_sleep(0.4); END IF; RETURN ` +
            `NEW; END $$`,
        );
        await a.raw(
          "CREATE TRIGGER slow_first AFTER INSERT ON revocation_events FOR EACH ROW EXECUTE FUNCTION slow_first()",
        );
      }
      const stores = [new KnexRevocationStore(a), new KnexRevocationStore(b)];
      const at = new Date(1_000);
      const revoke = (serial: string, i: number) =>
        stores[i % 2]!.apply(
          {
            serial,
            issuerId: "ca-y",
            kind: "revoke",
            revokedAt: at,
            reason: "keyCompromise",
            invalidityDate: undefined,
            at,
            actor: "test",
            expectedReason: undefined,
          },
          audit(`rev-${serial}`),
        );
      // A reader as the service runs one: it follows the highest seq it has seen.
      const seen = new Set<string>();
      let cursor = 0;
      let writing = true;
      const reader = (async () => {
        while (writing) {
          for (const e of await stores[0]!.eventsSince(cursor, "ca-y")) {
            seen.add(e.serial);
            cursor = e.seq;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const first = revoke(serials[0]!, 0);
      await new Promise((r) => setTimeout(r, 100));
      const done = await Promise.all([first, ...serials.slice(1).map((s, i) => revoke(s, i + 1))]);
      writing = false;
      await reader;
      for (const e of await stores[0]!.eventsSince(cursor, "ca-y")) seen.add(e.serial);
      expect(done.every(Boolean)).to.equal(true);
      expect(
        serials.filter((s) => !seen.has(s)),
        "revocations the reader never saw",
      ).to.deep.equal([]);
      if (backend.name === "postgres") await a.raw("DROP TRIGGER slow_first ON revocation_events");
    });
  });

import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, openReader, type Database } from "../../src/store/database.js";
import { STATEMENTS_PER_CONNECTION, literalLimit } from "../../src/store/sqlite-statement-cache.js";

// node-sqlite3 itself, to count how often a statement is prepared.
const sqlite3 = createRequire(import.meta.url)("sqlite3") as {
  Database: { prototype: { prepare: (...a: unknown[]) => unknown } };
};

/** The SQLite client keeps each connection's prepared statements: a kept statement is one round trip, not two. */
describe("store/sqlite statement cache (real SQLite file, WAL, writer and read pool)", function () {
  this.timeout(30_000);
  let dir: string;
  let db: Database;
  let reader: Database;
  let prepared: string[] = [];
  const original = sqlite3.Database.prototype.prepare;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cardpki-stmt-"));
    const url = `sqlite:${join(dir, "t.db")}`;
    db = await openDatabase(url);
    await db.schema.createTable("kv", (t) => {
      t.string("k").primary();
      t.integer("v").notNullable();
    });
    reader = await openReader(url, db, 1);
    sqlite3.Database.prototype.prepare = function (this: unknown, ...a: unknown[]) {
      prepared.push(String(a[0]));
      return original.apply(this, a);
    };
  });
  after(async () => {
    sqlite3.Database.prototype.prepare = original;
    await reader?.destroy();
    await db?.destroy(); // closes with kept statements (they are finalized first)
    rmSync(dir, { recursive: true, force: true });
  });

  it("ok/the same statement run many times is prepared once per connection", async () => {
    await db("kv").insert({ k: "a", v: 1 });
    prepared = [];
    for (let i = 0; i < 20; i++) expect((await reader("kv").where({ k: "a" }).first())?.v).to.equal(1);
    expect(prepared.filter((s) => /from `kv`/.test(s))).to.have.length(1);
  });

  it("ok/a kept read statement sees each later commit of the writer (no snapshot held between queries)", async () => {
    for (let v = 2; v < 8; v++) {
      await db("kv").where({ k: "a" }).update({ v });
      expect((await reader("kv").where({ k: "a" }).first())?.v).to.equal(v);
    }
  });

  it("ok/writes through kept statements report their changes (compare-and-set relies on it)", async () => {
    expect(await db("kv").where({ k: "a", v: 7 }).update({ v: 8 })).to.equal(1);
    expect(await db("kv").where({ k: "a", v: 7 }).update({ v: 9 })).to.equal(0);
  });

  it("fail/a statement that does not prepare is refused with SQLite's error and not kept", async () => {
    for (let i = 0; i < 2; i++) {
      const e = await db.raw("select * from no_such_table").then(
        () => undefined,
        (x: Error) => x,
      );
      expect(e?.message).to.match(/no such table/);
    }
    expect(prepared.filter((s) => /no_such_table/.test(s))).to.have.length(2);
  });

  it("fail/a constraint violation fails that write only; the kept statement works for the next", async () => {
    const e = await db("kv")
      .insert({ k: "a", v: 1 })
      .then(
        () => undefined,
        (x: Error & { code?: string }) => x,
      );
    expect(e?.code).to.equal("SQLITE_CONSTRAINT");
    await db("kv").insert({ k: "b", v: 1 });
    expect((await reader("kv").orderBy("k").select("k")).map((r: { k: string }) => r.k)).to.deep.equal(["a", "b"]);
  });

  it(`ok/more distinct statements than the cache holds: the oldest are dropped and still answer when asked \
again`, async () => {
    for (let i = 0; i < STATEMENTS_PER_CONNECTION + 20; i++)
      expect((await reader.raw(`select ${i} as n`))[0].n).to.equal(i);
    prepared = [];
    expect((await reader.raw("select 0 as n"))[0].n).to.equal(0);
    expect(prepared).to.deep.equal(["select 0 as n"]); // dropped, prepared again
  });

  it(`ok/a LIMIT bound by knex (\`.first()\`, \`.limit().offset()\`) runs as a literal: one statement per limit, the \
same rows`, async () => {
    await db("kv").insert([
      { k: "l1", v: 1 },
      { k: "l2", v: 2 },
      { k: "l3", v: 3 },
    ]);
    prepared = [];
    for (const k of ["l1", "l2", "l3", "l1"])
      expect((await reader("kv").where({ k }).first())?.v).to.equal(Number(k[1]));
    const page = await reader("kv").whereIn("k", ["l1", "l2", "l3"]).orderBy("k").limit(2).offset(1);
    expect(page.map((r: { k: string }) => r.k)).to.deep.equal(["l2", "l3"]);
    // prepared once, the LIMIT written in
    expect(prepared.filter((q) => /from `kv` where `k` = \? limit 1$/.test(q))).to.have.length(1);
    expect(prepared.some((q) => /limit 2 offset 1$/.test(q))).to.equal(true);
    expect(prepared.some((q) => /limit \?/.test(q))).to.equal(false);
  });
});

describe("store/sqlite statement cache: literal LIMIT", () => {
  it("ok/a trailing limit and offset of whole numbers become literals, the bindings before them stay", () => {
    expect(literalLimit("select * from t where a = ? limit ?", ["x", 1])).to.deep.equal({
      sql: "select * from t where a = ? limit 1",
      bindings: ["x"],
    });
    expect(literalLimit("select * from t limit ? offset ?", [50, 100])).to.deep.equal({
      sql: "select * from t limit 50 offset 100",
      bindings: [],
    });
  });
  it(`fail/anything else is left as it was: no trailing limit, a limit inside, a value that is not a whole \
number`, () => {
    for (const [sql, b] of [
      ["select * from t where a = ?", ["x"]],
      ["select * from (select * from t limit ?) where a = ?", [1, "x"]],
      ["select * from t limit ?", ["1; drop table t"]],
      ["select * from t limit ?", [1.5]],
      ["select * from t limit ?", [-1]],
    ] as [string, unknown[]][])
      expect(literalLimit(sql, b)).to.deep.equal({ sql, bindings: b });
  });
});

import { expect } from "chai";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa, type Opened, type OperatorCa } from "../../src/composition/operator-role.js";
import { openRa, type Ra } from "../../src/composition/ra.js";
import { openAuditTrail, type AuditTrail } from "../../src/composition/audit.js";
import { demoOrderInProduction, staffActor } from "../../src/composition/demo-orders.js";
import { DEMO_OFFICERS } from "../../src/composition/demo-setup.js";
import { FixedClock } from "../../src/shared/clock.js";
import { activateWithSoftwareKey } from "../support/activation.js";
import { CLI, demoBackends, demoEnvReady, requireTool, type DemoEnv } from "../support/environment.js";
import { shellDatabase, type ShellDatabase } from "../support/shell-database.js";
import { produceAttested, trustFixtureMaker } from "../support/attestation-fixture.js";

const doc = { type: "passport", number: "AT123456", expires: new Date("2035-01-01") };

/**
 * The tamper-evident audit trail on the real demo (SQLite and PostgreSQL, SoftHSM2 audit key from
 * the demo ceremony): evidence for a LoA3 card, the five tamper kinds and a restored old database detected
 * by `cardpki audit verify`, retention that keeps the chain verifiable, and the report in Chromium.
 */
for (const backend of demoBackends())
  describe(`audit trail (REQ-27, REQ-31): hash chain, HSM-signed checkpoints, evidence, report \
[${backend}]`, function () {
    this.timeout(180_000);
    let env: DemoEnv;
    let rt: Opened<OperatorCa>;
    let ra: Ra;
    let trail: AuditTrail;
    let dir: string;
    let serial: string;
    let demoDb: ShellDatabase;

    before(async function () {
      env = await demoEnvReady(this, backend);
      if (backend === "sqlite") requireTool(this, "sqlite3");
      dir = mkdtempSync(join(tmpdir(), "audit-it-"));
      demoDb = shellDatabase(env.databaseUrl, dir);
      // REQ-14: the software test cards' maker root, as an operator installs a maker's root
      trustFixtureMaker(env.caStore);
      rt = await openOperatorCa(loadConfig(env.env));
      ra = await openRa(rt);
      trail = openAuditTrail(rt, ra.workflows);
    });
    after(async () => rt?.close());

    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [CLI, ...args], { env: { ...env.env, ...extra }, encoding: "utf8" });

    it(`ok/evidence for a LoA3 card: two identifiers and a third officer at hand-out, each rule passed with its REQ \
and CPS; the CLI prints the same`, async () => {
      const staff = await staffActor(ra, "556000-0000", "199001011234");
      const { orderId, holderId, officers } = await demoOrderInProduction(rt, ra, {
        staff,
        orgNumber: `58${String(Date.now() % 1e8).padStart(8, "0")}`,
        holder: { nationalId: "197003033456", name: "Cy Holder" },
      });
      const producer = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ed.nationalId); // the demo's ca-operator
      const { certSerial, card } = await produceAttested(rt, ra, orderId, producer);
      serial = certSerial;
      await ra.orders.act(orderId, "hand-out", officers[2]!, {
        secondIdentification: { document: doc, faceCompared: true },
      });
      await activateWithSoftwareKey(ra, {
        orderId,
        holderId,
        serial,
        loa: 3,
        station: officers[2]!,
        privateKey: card.privateKey,
      });
      const e = await trail.evidence(serial);
      expect(e.verdict).to.equal("pass");
      expect(e.verdicts.find((v) => v.rule.startsWith("three distinct officers"))).to.deep.include({
        result: "pass",
        detail: "3 distinct officer(s)",
        requirement: "REQ-03, REQ-04, REQ-10",
      });
      expect(e.verdicts.find((v) => v.rule === "on hold from issuance until the holder's activation")).to.deep.include({
        result: "pass",
        requirement: "REQ-16",
      });
      expect(
        e.verdicts.find((v) => v.rule === "activated by the card after the transport PIN was replaced"),
      ).to.deep.include({ result: "pass", requirement: "REQ-16" });
      expect(e.story.map((s) => s.step)).to.include.members([
        "terms accepted by the applicant",
        "identified in person",
        "approved for production",
        "certificate issued for the card's key",
        "card handed out",
        "card activated by the holder",
      ]);
      expect(e.story.filter((s) => s.step === "identified in person").map((s) => s.actor)).to.deep.equal(
        officers.slice(0, 2).map((o) => `officer:${o.personId}`),
      );
      const out = cli(["audit", "evidence", "--serial", serial]);
      expect(out.status, out.stderr).to.equal(0);
      const printed = JSON.parse(out.stdout);
      expect(printed.verdict).to.equal("pass");
      // REQ-14: the attestation is in the evidence: card, slot, policies, fingerprints, and the certificates
      // themselves.
      expect(printed.keyOrigin).to.include({
        method: "piv-attestation",
        cardSerial: card.cardSerial,
        slot: "9a",
        pinPolicy: "once",
        touchPolicy: "never",
      });
      expect(
        Buffer.from(printed.keyOrigin.attestationCertificate, "base64").equals(
          Buffer.from(card.attestation.certificate),
        ),
      ).to.equal(true);
      expect(e.verdicts.find((v) => v.requirement === "REQ-14")).to.deep.include({
        rule: "key generated on the card (attested)",
        result: "pass",
      });
      expect(e.story.find((s) => s.step === "certificate issued for the card's key")!.detail).to.match(
        new RegExp(`PIV attestation by card ${card.cardSerial}, slot 9a \\(PIN once`),
      );
      expect(cli(["audit", "evidence", "--serial", "zz"]).status).to.equal(2);
    });

    /** A private copy of the demo database and its own external checkpoint file, for tampering. */
    function isolated(name: string): { db: ShellDatabase; file: string; env: NodeJS.ProcessEnv } {
      const db = demoDb.copy(name);
      // The shared demo database may carry checkpoints from services other test files ran on it: start unchecked.
      db.sql("DELETE FROM audit_timestamps; DELETE FROM audit_checkpoints;");
      const file = join(dir, `${name}.checkpoint.json`);
      return { db, file, env: { DATABASE_URL: db.url, CARDPKI_AUDIT_CHECKPOINT_FILE: file } };
    }

    it(`ok/checkpoint then verify; fail/each tamper kind (changed byte, deleted, reordered, inserted, cut tail) names \
the first bad entry and exits 1`, async () => {
      const base = isolated("pristine");
      const cp = cli(["audit", "checkpoint"], base.env);
      expect(cp.status, cp.stderr).to.equal(0);
      const c = JSON.parse(cp.stdout);
      expect(c.signer).to.equal("demo-issuing/demo-audit-1");
      expect(JSON.parse(readFileSync(base.file, "utf8")).seq).to.equal(c.seq);
      const ok = cli(["audit", "verify"], base.env);
      expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
      expect(JSON.parse(ok.stdout)).to.deep.include({ ok: true, checkpointsVerified: 1 });
      const head = c.seq as number;
      const mid = Math.floor(head / 2);
      const cases: [string, string, string, number][] = [
        ["changed byte", `UPDATE audit_events SET actor = actor || 'x' WHERE seq = ${mid}`, "changed", mid],
        ["deleted entry", `DELETE FROM audit_events WHERE seq = ${mid}`, "broken-link", mid + 1],
        [
          "reordered",
          `UPDATE audit_events SET seq = -1 WHERE seq = ${mid}; UPDATE audit_events ` +
            `SET seq = ${mid} WHERE seq = ${mid + 1}; UPDATE audit_events SET seq = ` +
            `${mid + 1} WHERE seq = -1`,
          "broken-link",
          mid,
        ],
        [
          "inserted",
          `UPDATE audit_events SET seq = seq + 1000000 WHERE seq > ${mid}; INSERT INTO ` +
            `audit_events (seq, id, at, actor, action, object_type, object_id, outcome, ` +
            `prev_hash, entry_hash) SELECT ${mid + 1}, 'forged', at, 'officer:mallory', ` +
            `action, object_type, object_id, outcome, entry_hash, entry_hash FROM ` +
            `audit_events WHERE seq = ${mid}`,
          "changed",
          mid + 1,
        ],
        ["cut tail", `DELETE FROM audit_events WHERE seq > ${head - 3}`, "truncated", -1],
      ];
      for (const [name, sql, kind, seq] of cases) {
        const t = isolated(name.replace(/ /g, "-"));
        copyFileSync(base.file, t.file);
        // The copy made before the checkpoint lacks it: take the checkpoint rows over too.
        t.db.copyRows("audit_checkpoints", base.db);
        t.db.sql(sql);
        const r = cli(["audit", "verify"], t.env);
        expect(r.status, `${name}: ${r.stdout}`).to.equal(1);
        const res = JSON.parse(r.stdout);
        expect(res.problem.kind, name).to.equal(kind);
        if (seq > 0) expect(res.problem.seq, name).to.equal(seq);
        expect(r.stderr).to.match(/NOT intact/);
      }
    });

    it("fail/a database restored from an old backup is detected through the checkpoint kept outside it", async () => {
      const live = isolated("live");
      expect(cli(["audit", "checkpoint"], live.env).status).to.equal(0);
      const old = live.db.copy("old-backup");
      // new audited work after the backup
      const crl = cli(["crl", "generate", "--ca", "demo-issuing", "--operator", "auditor-test"], live.env);
      expect(crl.status, crl.stderr).to.equal(0);
      expect(cli(["audit", "checkpoint"], live.env).status).to.equal(0);
      expect(cli(["audit", "verify"], live.env).status).to.equal(0);
      live.db.replaceWith(old); // restore the old backup over the live database
      const r = cli(["audit", "verify"], { ...live.env });
      expect(r.status).to.equal(1);
      expect(JSON.parse(r.stdout).problem.kind).to.equal("rolled-back");
    });

    it(`ok/retention removes only entries older than five years under a checkpoint, audits itself, and the chain still \
verifies`, async () => {
      const copy = isolated("retention");
      const config = { ...loadConfig({ ...env.env, ...copy.env }) };
      const later = await openOperatorCa(config, { clock: new FixedClock("2033-01-01T00:00:00Z") });
      try {
        const t = openAuditTrail(later);
        await t.checkpoint();
        const before = Number(copy.db.sql("SELECT count(*) FROM audit_events"));
        const r = await t.retention(later.clock.now(), "operator:retention-test");
        expect(r!.count).to.equal(before);
        expect(copy.db.sql("SELECT action FROM audit_events ORDER BY seq")).to.equal("audit.retention");
        const v = await t.verify();
        expect([v.ok, v.entries]).to.deep.equal([true, 1]);
      } finally {
        await later.close();
      }
      const none = await trail.retention(rt.clock.now(), "operator:retention-test"); // nothing is five years old today
      expect(none).to.equal(undefined);
    });

    it(`ok/the conformance report (HTML + JSON) has the chain verdict, issuance, the REQ matrix; it opens in headless \
Chromium without errors`, async function () {
      requireTool(this, "chromium");
      const html = join(dir, "report.html");
      const json = join(dir, "report.json");
      // A period within policies/audit/audit-access.yaml's cap; a longer one is refused (REQ-31).
      const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
      const tooLong = cli(["audit", "report", "--from", "2020-01-01", "--to", "2100-01-01", "--out", html]);
      expect([tooLong.status, tooLong.stderr]).to.satisfy(
        ([c, e]: [number, string]) => c === 2 && /at most 366 days.*report-period.*REQ-31/.test(e),
      );
      const r = cli(["audit", "report", "--from", day(-30), "--to", day(2), "--out", html, "--json", json]);
      expect(r.status, r.stderr).to.equal(0);
      const rep = JSON.parse(readFileSync(json, "utf8"));
      expect(rep.requirements).to.have.length(33);
      expect(rep.issued.total).to.be.greaterThan(0);
      expect(
        rep.ceremonies.some(
          (c: { ceremony: string; verified: boolean }) => c.ceremony.startsWith("demo-audit-signer") && c.verified,
        ),
      ).to.equal(true);
      expect(rep.violations.filter((v: { serial: string }) => v.serial === serial)).to.deep.equal([]);
      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
        await page.goto(`file://${html}`);
        expect(await page.title()).to.match(/conformance report/);
        expect(await page.textContent("#chain")).to.match(/hash chain verified/);
        expect(await page.locator("table").last().locator("tbody tr").count()).to.equal(33); // the REQ-01..33 matrix
        expect(errors).to.deep.equal([]);
      } finally {
        await browser.close();
      }
      // refuses to overwrite
      expect(cli(["audit", "report", "--from", day(-30), "--to", day(2), "--out", html]).status).to.equal(1);
    });
  });

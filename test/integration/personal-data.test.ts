import { parseTemplateBody } from "../../src/shared/message-template.js";
import { expect } from "chai";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa, type Opened, type OperatorCa } from "../../src/composition/operator-role.js";
import { openRa, type Ra } from "../../src/composition/ra.js";
import { bootstrapDemoStaff } from "../../src/composition/demo-setup.js";
import { demoOrderInProduction } from "../../src/composition/demo-orders.js";
import {
  fieldCipher,
  personalDataStatus,
  rotateDataKey,
  sealExistingPersonalData,
} from "../../src/composition/data-keys.js";
import { Pkcs11Keystore } from "../../src/hsm/pkcs11-keystore.js";
import { staticPin } from "../../src/hsm/pin-source.js";
import { formatPkcs11Uri } from "../../src/hsm/pkcs11-uri.js";
import { CaError } from "../../src/shared/ca-error.js";
import type { Actor } from "../../src/ra/order.js";
import { spawnSync } from "node:child_process";
import { CLI, demoEnv, type DemoEnv } from "../support/environment.js";
import { testDatabases } from "../support/databases.js";

const HOLDER = { nationalId: "197003033456", name: "Greta Lövgren-Pii", email: "greta.pii@example.org" };
/** The holder's name in the demo population register (REQ-07): the certificate's name, not the one typed at binding. */
const REGISTERED_NAME = "Cy Holder";
const EMAIL = "pii-officer@example.org";

async function refusal(p: Promise<unknown>): Promise<CaError> {
  try {
    await p;
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(CaError);
    return e as CaError;
  }
  throw new Error("expected a refusal");
}

/**
 * REQ-29 with the real parts: the data keys wrapped by the demo's AES key in SoftHSM2 (made by the
 * demo-data-key ceremony), the stores on SQLite and PostgreSQL. The rows and the SQLite file hold
 * no name, email or outbox text in clear; the stores give them back; legacy rows are sealed by
 * `encrypt-existing`; a missing or wrong HSM key, or an altered value, is refused.
 */
for (const backend of testDatabases())
  describe(`personal data encrypted at rest (REQ-29) on ${backend.name}`, function () {
    this.timeout(180_000);
    let demo: DemoEnv;
    let env: NodeJS.ProcessEnv;
    let url: string;
    let rt: Opened<OperatorCa>;
    let ra: Ra;
    let holderId: string;
    let staffId: string;
    let orderId: string;

    const open = async (extra: NodeJS.ProcessEnv = {}, opts: Parameters<typeof openOperatorCa>[1] = {}) =>
      openOperatorCa(loadConfig({ ...env, ...extra }), opts);

    before(async function () {
      demo = demoEnv(this);
      url = await backend.url();
      const own = mkdtempSync(join(tmpdir(), "pii-it-"));
      // A database of its own (and its own outside audit checkpoint), on the demo's HSM and CA store.
      env = { ...demo.env, DATABASE_URL: url, CARDPKI_AUDIT_CHECKPOINT_FILE: join(own, "checkpoint.json") };
      rt = await open();
      ra = await openRa(rt);
      const { group } = await bootstrapDemoStaff(rt, ra, { operator: "pii-test", emails: { ada: EMAIL } });
      const ada = group.members.find((m) => m.id === "ada")!;
      staffId = ada.personId;
      const staff: Actor = {
        kind: "officer",
        personId: ada.personId,
        roles: ada.roles,
        organisationId: group.organisationId,
        serviceOwnerStaff: true,
      };
      const o = await demoOrderInProduction(rt, ra, { staff, orgNumber: "5569990001", holder: HOLDER });
      holderId = o.holderId;
      orderId = o.orderId;
    });
    after(async () => rt?.close());

    it("ok/names, emails and outbox messages are sealed in the rows; the stores return them in clear", async () => {
      const holderRow = await rt.db("people").where({ id: holderId }).first();
      const staffRow = await rt.db("people").where({ id: staffId }).first();
      expect(holderRow!.name).to.match(/^enc:v1:dk\d+:/);
      expect(staffRow!.email).to.match(/^enc:v1:dk\d+:/);
      const notes = await rt.db("notifications").where({ person_id: holderId });
      expect(notes.length).to.be.greaterThan(0);
      for (const n of notes) {
        expect(n.subject).to.match(/^enc:v1:/);
        expect(n.body).to.match(/^enc:v1:/);
      }
      expect((await ra.directory.person(holderId))!.name).to.equal(HOLDER.name);
      expect((await ra.directory.person(staffId))!.email).to.equal(EMAIL);
      expect((await ra.directory.person(holderId))!.email).to.equal(HOLDER.email);
      const [note] = await ra.outbox.recent({ personId: holderId, limit: 1 });
      const stored = parseTemplateBody(note!.body)!; // written in the applicant's language when it is sent
      expect([stored.key, stored.params.orderId]).to.deep.equal(["terms-link", orderId]);
      const token = stored.params.token!;
      expect(token).to.match(/^[A-Z0-9]{20,}$/);
      // No clear text anywhere in the raw rows (the token, the name, the email).
      const dump = JSON.stringify([await rt.db("people"), await rt.db("notifications")]);
      for (const secret of [HOLDER.name, HOLDER.email, EMAIL, token, orderId]) expect(dump).to.not.include(secret);
      // REQ-07: the name the register answered is recorded with the order, sealed to its row.
      const orderRow = await rt.db("orders").where({ id: orderId }).first();
      expect(orderRow!.registered_name).to.match(/^enc:v1:dk\d+:/);
      expect(JSON.stringify(await rt.db("orders"))).to.not.include(REGISTERED_NAME);
      expect((await ra.orderStore.registeredName(orderId))!.fullName).to.equal(REGISTERED_NAME);
      // The data key itself is in the database only wrapped.
      const keys = await rt.db("data_keys");
      expect(keys.length).to.be.greaterThan(0);
      expect(keys[0].wrapping_key).to.match(/^pkcs11:token=cardpki-issuing;object=demo-data-1;.*type=secret-key$/);
      if (backend.name === "sqlite") {
        // The SQLite file (and its WAL) as a thief would copy it: no name, email or token in it. (The holder
        // has no certificate yet: an issued certificate carries its subject's name and email by design.)
        await rt.db.raw("PRAGMA wal_checkpoint(FULL)");
        const file = url.slice("sqlite:".length);
        const dir = join(file, "..");
        // Read by a child process: opening and closing the file here would drop this process's SQLite locks (POSIX
        // fcntl).
        const files = readdirSync(dir)
          .filter((f) => f.startsWith("t.db"))
          .map((f) => join(dir, f));
        for (const secret of [HOLDER.name, HOLDER.email, token, REGISTERED_NAME]) {
          const g = spawnSync("grep", ["-c", "-a", "-F", secret, ...files], { encoding: "utf8" });
          expect(g.status, `${secret} found: ${g.stdout}`).to.equal(1); // grep: 1 = no line matched in any file
        }
      }
    });

    it(`ok/legacy cleartext rows read as they are; 'data encrypt-existing' seals them, audited, and is \
idempotent`, async () => {
      const org = (await ra.directory.person(holderId))!.organisationId;
      await rt.db("people").insert({
        id: "legacy-person",
        organisation_id: org,
        national_id_hash: `legacy-${randomBytes(4).toString("hex")}`,
        name: "Olle Legacy",
        email: "olle@example.org",
        created_at: 0,
      });
      await rt.db("notifications").insert({
        id: "legacy-note",
        person_id: "legacy-person",
        channel: "sms",
        subject: "Your PIN",
        body: "PIN 246810",
        created_at: 1,
      });
      expect((await ra.directory.person("legacy-person"))!.name).to.equal("Olle Legacy");
      expect((await personalDataStatus(rt)).tables.people!.cleartext).to.equal(1);
      const report = await sealExistingPersonalData(rt, "operator:pii-test");
      expect(report.find((r) => r.table === "people")!.sealed).to.equal(1);
      expect(report.find((r) => r.table === "notifications")!.sealed).to.equal(1);
      const row = await rt.db("people").where({ id: "legacy-person" }).first();
      expect(row!.name)
        .to.match(/^enc:v1:/)
        .and.not.include("Olle");
      expect((await rt.db("notifications").where({ id: "legacy-note" }).first())!.body).to.match(/^enc:v1:/);
      expect((await ra.directory.person("legacy-person"))!.email).to.equal("olle@example.org");
      expect((await ra.outbox.recent({ personId: "legacy-person" }))[0]!.body).to.equal("PIN 246810");
      const audited = await rt.db("audit_events").where({ action: "data.encrypt-existing" });
      expect(audited.map((a: any) => a.object_id).sort()).to.deep.equal(["notifications", "people"]);
      expect((await sealExistingPersonalData(rt, "operator:pii-test")).every((r) => r.sealed === 0)).to.equal(true);
      const status = await personalDataStatus(rt);
      expect(status.tables.people!.cleartext + status.tables.notifications!.cleartext).to.equal(0);
    });

    it(`ok/the CLI: 'cardpki data encrypt-existing' seals a cleartext row and 'data status' shows none \
left`, async () => {
      const org = (await ra.directory.person(holderId))!.organisationId;
      await rt.db("people").insert({
        id: "cli-person",
        organisation_id: org,
        national_id_hash: `cli-${randomBytes(4).toString("hex")}`,
        name: "Cli Clear",
        created_at: 0,
      });
      const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8" });
      const r = cli(["data", "encrypt-existing", "--operator", "pii-cli"]);
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).find((t: any) => t.table === "people").sealed).to.equal(1);
      expect((await rt.db("people").where({ id: "cli-person" }).first())!.name).to.match(/^enc:v1:/);
      const st = cli(["data", "status"]);
      expect(st.status, st.stderr).to.equal(0);
      expect(JSON.parse(st.stdout).tables.people.cleartext).to.equal(0);
      expect(
        await rt
          .db("audit_events")
          .where({ action: "data.encrypt-existing" })
          .andWhere("actor", "like", "operator:pii-cli@os:%")
          .first(),
      ).to.not.equal(undefined);
    });

    it(`ok/rotation: a new data key for new writes, older values still open; encrypt-existing moves them to the new \
key`, async () => {
      const before = (await fieldCipher(rt)).currentKeyId;
      const { id } = await rotateDataKey(rt, "operator:pii-test");
      expect(id).to.not.equal(before);
      expect(await rt.db("audit_events").where({ action: "data-key.create", object_id: id }).first()).to.not.equal(
        undefined,
      );
      // This process's stores still hold the older key; a value under the new one (another process) is loaded on
      // demand.
      const later = await open({}, { withoutAuthorities: true });
      try {
        const cipher = await fieldCipher(later);
        expect(cipher.currentKeyId).to.equal(id);
        await rt
          .db("people")
          .where({ id: "legacy-person" })
          .update({ name: cipher.seal("Olle Rotated", { table: "people", column: "name", id: "legacy-person" }) });
        expect((await ra.directory.person("legacy-person"))!.name).to.equal("Olle Rotated");
        expect((await ra.directory.person(holderId))!.name).to.equal(HOLDER.name);
        await sealExistingPersonalData(later, "operator:pii-test");
        const status = await personalDataStatus(later);
        expect(status.tables.people!.olderKey + status.tables.notifications!.olderKey).to.equal(0);
        expect((await later.db("people").where({ id: holderId }).first())!.name).to.match(new RegExp(`^enc:v1:${id}:`));
      } finally {
        await later.close();
      }
      expect((await ra.directory.person(holderId))!.name).to.equal(HOLDER.name);
    });

    it("fail/an altered or moved value is refused with a clear error, never returned as garbage", async () => {
      const row = await rt.db("people").where({ id: holderId }).first();
      // the holder's sealed name copied to another row
      await rt.db("people").where({ id: "legacy-person" }).update({ name: row!.name });
      const moved = await refusal(ra.directory.person("legacy-person"));
      expect(moved.kind).to.equal("internal");
      expect(moved.message).to.match(/people\.name of legacy-person fails authentication/);
      const raw = Buffer.from(row!.name.split(":")[3], "base64url");
      raw[raw.length - 1]! ^= 1;
      await rt
        .db("people")
        .where({ id: holderId })
        .update({ name: row!.name.split(":").slice(0, 3).join(":") + ":" + raw.toString("base64url") });
      expect((await refusal(ra.directory.person(holderId))).details?.reason).to.equal("authentication-failed");
      await rt.db("people").where({ id: holderId }).update({ name: row!.name });
      expect((await ra.directory.person(holderId))!.name).to.equal(HOLDER.name);
    });

    it(`fail/data keys wrapped by another HSM key, or a wrapping key missing from the HSM, refuse to \
open`, async () => {
      // Another AES key of the same kind, on the spare token.
      const ks = new Pkcs11Keystore({
        library: "/usr/lib/softhsm/libsofthsm2.so",
        tokenLabel: demo.spareToken.label,
        pin: staticPin(demo.spareToken.pin),
        sessions: 1,
      });
      await ks.open();
      const label = `pii-other-${backend.name}`;
      const other = await ks.generateAesKey(label);
      ks.close();
      const otherUri = formatPkcs11Uri({
        token: demo.spareToken.label,
        object: label,
        id: other.id,
        type: "secret-key",
      });
      const pins = { [demo.spareToken.label]: staticPin(demo.spareToken.pin) };
      const saved = await rt.db("data_keys").select("id", "wrapping_key");
      try {
        await rt.db("data_keys").update({ wrapping_key: otherUri });
        const wrong = await open({}, { withoutAuthorities: true, pins });
        try {
          const e = await refusal(fieldCipher(wrong));
          expect(e.kind).to.equal("config");
          expect(e.message).to.match(/cannot be unwrapped .* does not open/);
        } finally {
          await wrong.close();
        }
        await rt
          .db("data_keys")
          .update({ wrapping_key: "pkcs11:token=cardpki-issuing;object=no-such-key;type=secret-key" });
        const missing = await open({}, { withoutAuthorities: true });
        try {
          const e = await refusal(openRa(missing));
          expect(e.kind).to.equal("hsm-unavailable");
          expect(e.message).to.match(/no secret key label 'no-such-key'/);
        } finally {
          await missing.close();
        }
      } finally {
        for (const k of saved) await rt.db("data_keys").where({ id: k.id }).update({ wrapping_key: k.wrapping_key });
      }
    });

    it("fail/a new database without any data-key wrapping key does not open the RA", async () => {
      const empty = mkdtempSync(join(tmpdir(), "pii-no-ca-store-"));
      const bare = await open(
        { DATABASE_URL: `sqlite:${join(empty, "t.db")}`, CARDPKI_CA_STORE: empty },
        { withoutAuthorities: true },
      );
      try {
        const e = await refusal(openRa(bare));
        expect(e.kind).to.equal("config");
        expect(e.message).to.match(/no data-key wrapping key .*data-key ceremony/);
      } finally {
        await bare.close();
      }
    });
  });

import { expect } from "chai";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa, type Opened, type OperatorCa } from "../../src/composition/operator-role.js";
import { openRa, type Ra } from "../../src/composition/ra.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { bootstrapDemoStaff } from "../../src/composition/demo-setup.js";
import { demoOrderInProduction } from "../../src/composition/demo-orders.js";
import { openBureauDesk, sendBatch, takeFromDrop, type DropPass } from "../../src/composition/bureau.js";
import { folderDrop } from "../../src/composition/bureau-drop.js";
import { sftpDrop } from "../../src/composition/bureau-sftp.js";
import { freePort } from "../support/free-port.js";
import { mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { connect } from "node:net";
import { humanIdOf } from "../../src/ra/human.js";
import type { Actor } from "../../src/ra/order.js";
import type { BureauDesk } from "../../src/ra/bureau/bureau-desk.js";
import { CLI, demoEnv, type DemoEnv } from "../support/environment.js";
import { testDatabases } from "../support/databases.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { activateWithSoftwareKey } from "../support/activation.js";
import { fixtureMakerRoot, installAttestationRoot } from "../support/attestation-fixture.js";
import { softwareAttestation } from "../support/piv-attestation-maker.js";
import { simCard } from "../../scripts/bureau-sim.js";

const SIM = join(REPO_ROOT, "dist", "scripts", "bureau-sim.js");
const HOLDER = { nationalId: "197003033456", name: "Bureau Holder", email: "bureau.holder@example.org" };

/**
 * Central card production by an external card bureau (CPS 4.4.1), with the real parts: the demo's
 * SoftHSM2 CA, the bureau simulator as its own process with its own exchange key and PIV
 * attestation root, the batch file encrypted to the bureau (judged by `openssl cms -decrypt`), the
 * answer, status and return files signed (CMS, judged by `openssl cms -verify`), the drop folder.
 */
const backends = testDatabases();
for (const backend of backends)
  describe(`card bureau: batch out, attested keys in, certificates back [${backend.name}]`, function () {
    this.timeout(180_000);
    let demo: DemoEnv;
    let rt: Opened<OperatorCa>;
    let ra: Ra;
    let desk: BureauDesk;
    let staff: Actor;
    let ed: Actor;
    let root: string;
    let env: NodeJS.ProcessEnv;
    let raCert: { signer: string; certificate: string; chain: string };
    const own = mkdtempSync(join(tmpdir(), "bureau-it-"));
    const exchange = join(own, "exchange");
    const simState = join(own, "sim");
    const dropDir = join(own, "drop");
    const drop = folderDrop(dropDir);
    let orgSeq = 100;

    const sim = (...args: string[]) => {
      const r = spawnSync("node", [SIM, "--drop", dropDir, "--state", simState, "--once", ...args], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout;
    };
    const order = async () =>
      demoOrderInProduction(rt, ra, {
        staff,
        orgNumber: `55699${String(orgSeq++).padStart(5, "0")}`,
        holder: HOLDER,
        workflowId: "loa3-card-order-bureau",
      });
    const take = async () => takeFromDrop(desk, ed, drop);

    before(async function () {
      demo = demoEnv(this);
      const url = await backend.url();
      env = {
        ...demo.env,
        DATABASE_URL: url,
        CARDPKI_AUDIT_CHECKPOINT_FILE: join(own, "checkpoint.json"),
        CARDPKI_BUREAU_DIR: exchange,
      };
      rt = await openOperatorCa(loadConfig(env));
      ra = await openRa(rt);
      const { group } = await bootstrapDemoStaff(rt, ra, { operator: "bureau-test" });
      const actorOf = async (id: string): Promise<Actor> => {
        const m = group.members.find((x) => x.id === id)!;
        const p = (await ra.directory.person(m.personId))!;
        return {
          kind: "officer",
          personId: m.personId,
          humanId: humanIdOf(p.nationalIdHash),
          roles: m.roles,
          organisationId: group.organisationId,
          serviceOwnerStaff: true,
        };
      };
      staff = await actorOf("ada");
      ed = await actorOf("ed");
      // The exchange: the RA's key made by the demo's bureau-signer ceremony (in the HSM; `cardpki bureau certificate`
      // names its certificate), the bureau's certificate installed with `cardpki bureau trust`, the simulator's own
      // attestation root trusted as an operator would install a card maker's root.
      const printed = spawnSync("node", [SIM, "--state", simState, "--print-cert"], { encoding: "utf8" });
      expect(printed.status, printed.stderr).to.equal(0);
      const trusted = spawnSync("node", [CLI, "bureau", "trust", "--cert", join(simState, "bureau.crt")], {
        env,
        encoding: "utf8",
      });
      expect(trusted.status, trusted.stderr).to.equal(0);
      expect(existsSync(join(exchange, "bureau.crt"))).to.equal(true);
      const named = spawnSync("node", [CLI, "bureau", "certificate"], { env, encoding: "utf8" });
      expect(named.status, named.stderr).to.equal(0);
      raCert = JSON.parse(named.stdout) as { signer: string; certificate: string; chain: string };
      expect(raCert.signer).to.equal("demo-issuing/demo-bureau-1");
      copyFileSync(raCert.certificate, join(simState, "ra-exchange.crt"));
      root = installAttestationRoot(
        rt.config.caStoreDir,
        new Uint8Array(
          Buffer.from(
            /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END/
              .exec(readFileSync(join(simState, "maker", "maker-root.pem"), "utf8"))![1]!
              .replace(/\s+/g, ""),
            "base64",
          ),
        ),
        `bureau-sim-test-${process.pid}`,
      );
      desk = openBureauDesk(rt, ra, { exchangeDir: exchange });
    });
    after(async () => {
      if (root) rmSync(root, { force: true });
      await rt?.close();
    });

    it(`ok/a LoA3 order made by the bureau: batch sent encrypted and signed, attested key in, certificate on hold, \
shipped, handed out, activated`, async () => {
      const o = await order();
      // The card station's path is not this workflow's (production: bureau).
      const station = softwareAttestation(fixtureMakerRoot(), { cardSerial: 4242 });
      const e = await ra.orders
        .act(o.orderId, "produce", ed, {
          attestation: { certificate: station.certificate, intermediate: station.intermediate },
        })
        .then(
          () => undefined,
          (x: Error) => x,
        );
      expect(e?.message).to.match(/production: bureau/);

      const sent = await sendBatch(desk, ed, drop, { orderIds: [o.orderId] });
      const encrypted = join(dropDir, "to-bureau", `${sent.batchId}.jsonl.p7e`);
      expect(readFileSync(encrypted).toString("latin1")).to.not.include("Cy Holder");
      // OpenSSL, as the bureau would: decrypt with the bureau's key, verify the RA's detached signature.
      const plain = join(own, "batch.jsonl");
      const dec = spawnSync(
        "openssl",
        ["cms", "-decrypt", "-inform", "DER", "-in", encrypted, "-inkey", join(simState, "bureau.key"), "-out", plain],
        { encoding: "utf8" },
      );
      expect(dec.status, dec.stderr).to.equal(0);
      const lines = readFileSync(plain, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines[0]).to.include({ type: "batch", batchId: sent.batchId, cards: 1 });
      // The card body carries the name from the population register (REQ-07), not the one typed at binding.
      expect(lines[1].layout.holderName).to.equal("Cy Holder");
      expect(lines[1].cardProfile).to.deep.equal({
        workflow: "loa3-card-order-bureau",
        certificateProfile: "loa3-smartcard-auth",
        loa: 3,
      });
      const ver = spawnSync(
        "openssl",
        [
          "cms",
          "-verify",
          "-binary",
          "-inform",
          "DER",
          "-in",
          join(dropDir, "to-bureau", `${sent.batchId}.jsonl.p7s`),
          "-content",
          plain,
          "-CAfile",
          raCert.chain,
          "-purpose",
          "any",
          "-out",
          "/dev/null",
        ],
        { encoding: "utf8" },
      );
      expect(ver.status, ver.stderr).to.equal(0);
      expect((await desk.tracking(sent.batchId)).cards.map((c) => c.state)).to.deep.equal(["sent"]);

      expect(sim()).to.match(/answered/);
      const taken = await take();
      expect(taken.map((t) => [t.file.replace(/-\d+\./, "."), t.accepted])).to.deep.equal([
        [`S-${sent.batchId}-ack.status.jsonl`, true],
        [`A-${sent.batchId}.answer.jsonl`, true],
      ]);
      const produced = await ra.orderStore.load(o.orderId);
      expect(produced!.state).to.equal("PRODUCED");
      const status = await ra.certs.status(produced!.certSerial!);
      expect([status!.status, status!.holdCause]).to.deep.equal(["on-hold", "activation"]);
      const track1 = (await desk.tracking(sent.batchId)).cards[0]!;
      expect([track1.state, track1.certSerial]).to.deep.equal(["produced", produced!.certSerial]);
      // The card ledger records the bureau's card as it records a card the station writes: `cardpki audit evidence`
      // (a subprocess) shows the card with its serial, and the attested key is of that card.
      const ev = spawnSync("node", [CLI, "audit", "evidence", "--serial", produced!.certSerial!], {
        env,
        encoding: "utf8",
      });
      expect(ev.status, ev.stderr).to.equal(0);
      const evidence = JSON.parse(ev.stdout);
      expect(evidence.card).to.deep.include({
        cardSerial: track1.cardSerial,
        state: "personalised",
        slot: "9a",
        algorithm: "P-256",
      });
      expect(evidence.keyOrigin.cardSerial).to.equal(track1.cardSerial);
      expect(evidence.verdicts.find((x: { code: string }) => x.code === "rule.key-attested")?.result).to.equal("pass");
      expect(evidence.story.map((x: { action: string }) => x.action)).to.include("card.bureau.produce");
      // The return file, signed by the RA, carries the certificate for the chip's key.
      const ret = taken[1]!.returnFile!;
      const verRet = spawnSync(
        "openssl",
        [
          "cms",
          "-verify",
          "-binary",
          "-inform",
          "DER",
          "-in",
          join(dropDir, "to-bureau", `${ret}.p7s`),
          "-content",
          join(dropDir, "to-bureau", ret),
          "-CAfile",
          raCert.chain,
          "-purpose",
          "any",
          "-out",
          "/dev/null",
        ],
        { encoding: "utf8" },
      );
      expect(verRet.status, verRet.stderr).to.equal(0);

      expect(sim()).to.match(/shipped 1 cards/);
      const shipped = await take();
      expect(shipped.map((t) => t.accepted)).to.deep.equal([true]);
      const track2 = (await desk.tracking(sent.batchId)).cards[0]!;
      expect(track2.state).to.equal("shipped");
      expect(track2.trackingId).to.match(/^TRK\d+SE$/);

      // At the RA office: a third officer hands the card out after a second identification; the holder activates with
      // the
      // card.
      const doc = {
        type: "passport",
        number: "BU123456",
        expires: new Date(rt.clock.now().getTime() + 3650 * 86_400_000),
      };
      await ra.orders.act(o.orderId, "hand-out", o.officers[2]!, {
        secondIdentification: { document: doc, faceCompared: true },
      });
      const card = simCard(simState, o.orderId);
      expect(card.certificate, "the certificate was loaded onto the card").to.be.a("string");
      const active = await activateWithSoftwareKey(ra, {
        orderId: o.orderId,
        holderId: o.holderId,
        serial: produced!.certSerial!,
        loa: 3,
        station: o.officers[2]!,
        privateKey: card.key,
      });
      expect(active.state).to.equal("ACTIVE");
      expect((await ra.certs.status(produced!.certSerial!))!.status).to.equal("good");
      // The hand-out received the card: the sweep records it; `cardpki bureau track` (a subprocess) shows the card's
      // way.
      expect((await desk.sweep()).received).to.include(o.orderId);
      const tracked = spawnSync("node", [CLI, "bureau", "track", "--batch", sent.batchId], { env, encoding: "utf8" });
      expect(tracked.status, tracked.stderr).to.equal(0);
      const shown = JSON.parse(tracked.stdout);
      expect(shown.cards.map((c: { state: string; trackingId: string }) => [c.state, c.trackingId])).to.deep.equal([
        ["received", track2.trackingId],
      ]);
    });

    it(`ok/the RA's exchange key is made by the bureau-signer ceremony: transcript verified, key in the HSM, \
certificate under the issuing CA`, () => {
      const dir = join(raCert.certificate, "..");
      expect(readFileSync(join(dir, "key.uri"), "utf8")).to.match(
        /^pkcs11:token=cardpki-issuing;object=demo-bureau-1;/,
      );
      expect(readdirSync(dir).sort()).to.deep.equal(["cert.pem", "chain.pem", "key.uri"]);
      const v = spawnSync("openssl", ["verify", "-CAfile", raCert.chain, raCert.certificate], { encoding: "utf8" });
      expect(v.status, v.stderr).to.equal(0);
      const transcripts = readdirSync(join(demo.caStore, "demo-issuing", "transcripts")).filter((f) =>
        f.startsWith("demo-bureau-signer-"),
      );
      expect(transcripts).to.have.length(1);
      const verified = spawnSync(
        "node",
        [CLI, "ceremony", "verify", join(demo.caStore, "demo-issuing", "transcripts", transcripts[0]!)],
        { env, encoding: "utf8" },
      );
      expect(verified.status, verified.stderr).to.equal(0);
      const t = JSON.parse(readFileSync(join(demo.caStore, "demo-issuing", "transcripts", transcripts[0]!), "utf8"));
      expect([t.ceremony.kind, t.signer.description, t.witness]).to.deep.equal([
        "bureau-signer",
        "bureau-signer:demo-issuing/demo-bureau-1",
        "demo-witness",
      ]);
      expect(t.custodians.map((c: { name: string }) => c.name).sort()).to.deep.equal(["alice", "bob"]);
    });

    it(`fail/the bureau-signer ceremony again: below the custodian quorum, or for a key that exists, refused before \
any key is made`, () => {
      const file = join(REPO_ROOT, "policies", "ceremonies", "demo-bureau-signer.yaml");
      const custodians = join(demo.dir, "data", "demo-custodians");
      const share = (c: string) =>
        `${join(custodians, `cardpki-issuing-${c}.share`)}=${join(custodians, `${c}.passphrase`)}`;
      const run = (...who: string[]) =>
        spawnSync(
          "node",
          [
            CLI,
            "ceremony",
            "run",
            file,
            "--operator",
            "olga",
            "--witness",
            "walter",
            ...who.flatMap((c) => ["--share", share(c)]),
            "--yes",
          ],
          { env, encoding: "utf8" },
        );
      const alone = run("alice");
      expect(alone.status, alone.stderr).to.not.equal(0);
      expect(alone.stderr).to.match(/needs 2 of 3 custodians/);
      const again = run("alice", "bob");
      expect(again.status, again.stderr).to.not.equal(0);
      expect(again.stderr).to.match(/bureau-signer 'demo-bureau-1' of 'demo-issuing' already exists/);
      expect(readdirSync(join(demo.caStore, "demo-issuing", "bureau-signers"))).to.deep.equal(["demo-bureau-1"]);
    });

    const cases: [string, RegExp][] = [
      ["bad-signature", /bureau signature/],
      ["tampered", /bureau signature: the signature does not verify/],
      ["partial", /partial file/],
      ["bad-json", /not JSON/],
      ["untrusted-root", /attestation: PIV attestation/],
      ["wrong-card", /attestation: the key is from card \d+, but the card recorded for this order is \d+/],
      ["wrong-slot", /attestation: the attestation is for slot 9c/],
      ["duplicate", /answered twice/],
      ["card-in-use", /card \d+ belongs to another holder's live eID in the card ledger/],
    ];
    for (const [kind, why] of cases)
      it(`fail/an answer file ${kind} is refused whole, with a report naming the line, audited, and nothing is \
applied`, async () => {
        const o = await order();
        const sent = await sendBatch(desk, ed, drop, { orderIds: [o.orderId] });
        sim("--malformed", kind);
        const taken = await take();
        const answer = taken.find((t) => t.file.includes(".answer.")) as DropPass;
        expect(answer.accepted).to.equal(false);
        expect(answer.problems.map((p) => p.problem).join(" | ")).to.match(why);
        expect(answer.problems.every((p) => Number.isInteger(p.line))).to.equal(true);
        expect(existsSync(join(dropDir, "from-bureau", "refused", `${answer.file}.report.json`))).to.equal(true);
        const after = (await ra.orderStore.load(o.orderId))!;
        expect([after.state, after.certSerial ?? null]).to.deep.equal(["IN_PRODUCTION", null]);
        expect((await desk.tracking(sent.batchId)).cards.map((c) => c.state)).to.deep.equal(["acknowledged"]);
        expect(await rt.db("audit_events").where({ action: "order.produce", object_id: o.orderId })).to.have.length(0);
        const refusal = await rt
          .db("audit_events")
          .where({ action: "bureau.answer.refuse", object_id: answer.file })
          .first();
        expect(refusal?.outcome).to.equal("failure");
      });

    it(`fail/a replayed answer (the same answer again, under another name or the same file once more) is refused; the \
first one stands`, async () => {
      const o = await order();
      await sendBatch(desk, ed, drop, { orderIds: [o.orderId] });
      sim("--malformed", "replay");
      const taken = (await take()).filter((t) => t.file.includes(".answer."));
      expect(taken.map((t) => t.accepted)).to.deep.equal([true, false]);
      expect(taken[1]!.problems.map((p) => p.problem).join(" ")).to.match(/replay/);
      const first = (await ra.orderStore.load(o.orderId))!;
      expect(first.state).to.equal("PRODUCED");
      // The file taken in, put back into the drop folder as it was: refused again, the certificate unchanged.
      copyFileSync(join(dropDir, "from-bureau", "done", taken[0]!.file), join(dropDir, "from-bureau", taken[0]!.file));
      copyFileSync(
        join(dropDir, "from-bureau", "done", `${taken[0]!.file}.p7s`),
        join(dropDir, "from-bureau", `${taken[0]!.file}.p7s`),
      );
      const again = await take();
      expect(again.map((t) => t.accepted)).to.deep.equal([false]);
      expect((await ra.orderStore.load(o.orderId))!.certSerial).to.equal(first.certSerial);
      expect(readdirSync(join(dropDir, "from-bureau", "refused")).length).to.be.greaterThan(0);
    });

    it(`fail/a card shipped and not received within bureau.receivedWithin raises one alarm (audit event), not \
twice`, async () => {
      const o = await order();
      const sent = await sendBatch(desk, ed, drop, { orderIds: [o.orderId] });
      sim();
      await take();
      sim();
      await take();
      expect((await desk.tracking(sent.batchId)).cards[0]!.state).to.equal("shipped");
      // Eleven days on (receivedWithin 10d): the desk, with a clock that far ahead, alarms once.
      const later = { now: () => new Date(rt.clock.now().getTime() + 11 * 86_400_000) };
      const { BureauDesk } = await import("../../src/ra/bureau/bureau-desk.js");
      const { KnexBureauStore } = await import("../../src/store/bureau.store.js");
      const alarmed: string[] = [];
      const lateDesk = new BureauDesk({
        orders: ra.orders,
        orderStore: ra.orderStore,
        directory: ra.directory,
        workflows: ra.workflows,
        store: new KnexBureauStore(rt.db, rt.readDb),
        seal: {
          sign: async () => new Uint8Array(),
          encryptToBureau: async () => new Uint8Array(),
          verifyBureau: async () => {},
        },
        keyOrigins: {},
        clock: later,
        random: rt.random,
        onAlarm: (c) => void alarmed.push(c.orderId),
      });
      expect((await lateDesk.sweep()).alarms).to.include(o.orderId);
      expect((await lateDesk.sweep()).alarms).to.not.include(o.orderId);
      expect(alarmed.filter((id) => id === o.orderId)).to.have.length(1);
      const ev = await rt.db("audit_events").where({ action: "bureau.card.not-received", object_id: o.orderId });
      expect(ev.length).to.equal(1);
    });
    describe(`served (\`cardpki serve\`, role all): the tracking sweep on bureau.sweepSeconds, the alarm on \
/metrics`, function () {
      let svc: Service | undefined;
      let served: NodeJS.ProcessEnv;
      before(async () => {
        // The same database, served with a policy folder whose bureau workflow gives a shipped card one minute.
        const policies = join(own, "policies-short");
        cpSync(join(REPO_ROOT, "policies"), policies, { recursive: true });
        const wf = join(policies, "workflows", "loa3-card-order-bureau.yaml");
        const text = readFileSync(wf, "utf8");
        expect(text).to.match(/receivedWithin: 10d/);
        writeFileSync(wf, text.replace("receivedWithin: 10d", "receivedWithin: 1m"));
        served = { ...env, CARDPKI_POLICY_DIR: policies, CARDPKI_BUREAU_SWEEP_SECONDS: "1" };
        const c = loadConfig(served);
        svc = await startService({ ...c, host: "127.0.0.1", port: 0, ra: { ...c.ra, port: 0 } });
      });
      after(async () => svc?.stop());

      const scrape = async () => {
        const text = await (await fetch(`${svc!.url}/metrics`)).text();
        const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
        return {
          alarms: value(/^cardpki_bureau_cards_not_received_total (\d+)$/m),
          shipped: value(/^cardpki_bureau_cards\{state="shipped"\} (\d+)$/m),
          text,
        };
      };

      it(`fail/a card shipped and not received within the policy time: the served sweep raises one alarm, counted on \
/metrics and in the audit trail`, async () => {
        const before0 = await scrape();
        expect(before0.text).to.match(/# TYPE cardpki_bureau_cards_not_received_total counter/);
        expect(before0.alarms).to.be.a("number").and.not.NaN;
        const o = await order();
        await sendBatch(desk, ed, drop, { orderIds: [o.orderId] });
        sim();
        await take();
        sim();
        await take();
        const shipped = await scrape();
        expect(shipped.shipped).to.equal(before0.shipped + 1);
        expect(shipped.alarms).to.equal(before0.alarms);
        // One minute after shipping (and a sweep every second): the alarm.
        let now = shipped;
        for (let i = 0; i < 100 && now.alarms === before0.alarms; i++) {
          await new Promise((r) => setTimeout(r, 1000));
          now = await scrape();
        }
        expect(now.alarms).to.equal(before0.alarms + 1);
        await new Promise((r) => setTimeout(r, 2500));
        expect((await scrape()).alarms, "raised once, not on every sweep").to.equal(before0.alarms + 1);
        const events = spawnSync(
          "node",
          [CLI, "audit", "events", "--action", "bureau.card.not-received", "--object", o.orderId],
          { env: served, encoding: "utf8" },
        );
        expect(events.status, events.stderr).to.equal(0);
        const lines = events.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect(lines).to.have.length(1);
        expect([
          lines[0].outcome,
          lines[0].actor,
          lines[0].details.rule,
          lines[0].details.receivedWithin,
        ]).to.deep.equal(["failure", "system:bureau-tracking", "bureau.receivedWithin", "1m"]);
      });
    });

    // The transport does not depend on the database: on the first backend only.
    if (backend === backends[0])
      describe("over SFTP to a real OpenSSH server (key-only login, chrooted drop folder)", function () {
        let sshd: ChildProcess | undefined;
        let port: number;
        let jail: string;
        let conf: string;
        before(async function () {
          if (!existsSync("/usr/sbin/sshd") || process.getuid?.() !== 0) {
            if (process.env.CI === "true") throw new Error("sshd (openssh-server) and root are required under CI=true");
            this.skip();
          }
          // A chroot must be root-owned on every path component and not group/other-writable (so not under /tmp).
          jail = join("/var/lib", `cardpki-sftp-test-${process.pid}`);
          conf = join(own, "sshd");
          mkdirSync(join(jail, "drop"), { recursive: true, mode: 0o755 });
          chmodSync(jail, 0o755);
          mkdirSync(conf, { recursive: true });
          mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
          const kg = (file: string) =>
            expect(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]).status).to.equal(0);
          kg(join(conf, "host"));
          kg(join(conf, "ra"));
          kg(join(conf, "stranger"));
          writeFileSync(join(conf, "authorized_keys"), readFileSync(join(conf, "ra.pub")), { mode: 0o600 });
          port = await freePort();
          writeFileSync(
            join(conf, "known_hosts"),
            `[127.0.0.1]:${port} ` +
              `${readFileSync(join(conf, "host.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ")}\n`,
          );
          writeFileSync(
            join(conf, "sshd_config"),
            [
              `Port ${port}`,
              "ListenAddress 127.0.0.1",
              `HostKey ${join(conf, "host")}`,
              `PidFile ${join(conf, "sshd.pid")}`,
              `AuthorizedKeysFile ${join(conf, "authorized_keys")}`,
              "PasswordAuthentication no",
              "KbdInteractiveAuthentication no",
              "PubkeyAuthentication yes",
              "PermitRootLogin prohibit-password",
              "StrictModes no",
              "UsePAM no",
              "AllowUsers root",
              "Subsystem sftp internal-sftp",
              "Match User root",
              `  ChrootDirectory ${jail}`,
              "  ForceCommand internal-sftp",
              "  AllowTcpForwarding no",
              "  X11Forwarding no",
              "",
            ].join("\n"),
          );
          sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(conf, "sshd_config")], {
            stdio: ["ignore", "ignore", "pipe"],
          });
          for (let i = 0; i < 50; i++) {
            const up = await new Promise<boolean>((res) => {
              const c = connect(port, "127.0.0.1", () => (c.end(), res(true)));
              c.on("error", () => res(false));
            });
            if (up) break;
            await new Promise((r) => setTimeout(r, 100));
          }
        });
        after(() => {
          sshd?.kill();
          if (jail) rmSync(jail, { recursive: true, force: true });
        });

        it(`ok/the batch goes up and the answer comes down over SFTP; the bureau's side works in the chrooted \
folder`, async () => {
          const remote = sftpDrop(`sftp://root@127.0.0.1:${port}/drop`, {
            identity: join(conf, "ra"),
            knownHosts: join(conf, "known_hosts"),
          });
          const o = await order();
          const sent = await sendBatch(desk, ed, remote, { orderIds: [o.orderId] });
          expect(existsSync(join(jail, "drop", "to-bureau", `${sent.batchId}.jsonl.p7e`))).to.equal(true);
          const r = spawnSync("node", [SIM, "--drop", join(jail, "drop"), "--state", simState, "--once"], {
            encoding: "utf8",
          });
          expect(r.status, r.stderr).to.equal(0);
          const taken = await takeFromDrop(desk, ed, remote);
          expect(taken.filter((t) => t.file.includes(".answer.")).map((t) => t.accepted)).to.deep.equal([true]);
          expect((await ra.orderStore.load(o.orderId))!.state).to.equal("PRODUCED");
          expect(existsSync(join(jail, "drop", "to-bureau", taken.find((t) => t.returnFile)!.returnFile!))).to.equal(
            true,
          );
        });

        it("fail/an unauthorized key and an unknown host key are refused; the login sees only the chroot", async () => {
          const stranger = sftpDrop(`sftp://root@127.0.0.1:${port}/drop`, {
            identity: join(conf, "stranger"),
            knownHosts: join(conf, "known_hosts"),
          });
          const e1 = await stranger.list("to-bureau").then(
            () => undefined,
            (e: Error) => e,
          );
          expect(e1?.message).to.match(/sftp to 127\.0\.0\.1:\d+ failed: .*Permission denied/);
          writeFileSync(join(conf, "empty_known_hosts"), "");
          const unknownHost = sftpDrop(`sftp://root@127.0.0.1:${port}/drop`, {
            identity: join(conf, "ra"),
            knownHosts: join(conf, "empty_known_hosts"),
          });
          const e2 = await unknownHost.list("to-bureau").then(
            () => undefined,
            (e: Error) => e,
          );
          expect(e2?.message).to.match(/Host key verification failed|No .* host key is known/);
          const top = sftpDrop(`sftp://root@127.0.0.1:${port}/`, {
            identity: join(conf, "ra"),
            knownHosts: join(conf, "known_hosts"),
          });
          // The root of the login is the chroot: its drop folder, and no /etc.
          expect(existsSync("/etc/passwd")).to.equal(true);
          const e3 = await top.get("from-bureau", "../etc/passwd").then(
            () => undefined,
            (e: Error) => e,
          );
          expect(e3?.message).to.match(/not found|No such file/i);
          expect(readdirSync(jail)).to.deep.equal(["drop"]);
        });
      });
  });

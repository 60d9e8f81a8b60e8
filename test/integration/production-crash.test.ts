import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../support/free-port.js";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/composition/config.js";
import { openOperatorCa } from "../../src/composition/operator-role.js";
import { openRa } from "../../src/composition/ra.js";
import { openDelivery } from "../../src/composition/delivery.js";
import { staffActor } from "../../src/composition/demo-orders.js";
import { openDatabase } from "../../src/store/database.js";
import type { Actor } from "../../src/ra/order.js";
import { humanIdOf } from "../../src/ra/human.js";
import { CLI, demoBackends, demoEnvReady, run, waitFor, writeTemp } from "../support/environment.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { startDeliveryPeers } from "../support/delivered.js";
import { raRequest } from "../support/ra-client.js";

/** Enough for every round (at most ten of SLICE each): a round never ends for want of open orders. */
const ORDERS = 120;
/** Orders produced at once in one round (the rest wait for later rounds). */
const SLICE = 12;
const HOLDER = (i: number) => `19750505${String(2000 + i)}`;

/**
 * The production saga judged from outside (REQ-14/16, design: no valid certificate without its
 * record): `cardpki serve` in a child process is killed with SIGKILL at random moments while many
 * orders are produced over the RA API, restarted, and then `openssl ocsp`, the full CRL and the RA
 * API must agree that no certificate is usable (good, or on hold awaiting activation) unless an
 * order in PRODUCED (or later) names it, and that no order is left half-produced.
 */
for (const backend of demoBackends())
  describe(`crash: kill -9 during production over the RA API [${backend}]`, function () {
    this.timeout(600_000);

    it(`ok/after random kills during production: every certificate either belongs to a PRODUCED order (and is on hold) \
or is revoked, by openssl ocsp and the full CRL; no order is left PRODUCING`, async function () {
      const env = await demoEnvReady(this, backend);
      // The terms mails of the preparation go to a real SMTP server of this test (REQ-06, REQ-15); the child server
      // below delivers nothing.
      const peers = await startDeliveryPeers();
      const config = loadConfig({ ...env.env, ...peers.env });
      const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
      for (let i = 0; i < ORDERS; i++)
        // the certificate name comes from the register (REQ-07)
        reg.people[HOLDER(i)] = { status: "alive", givenName: "Crash", surname: `Holder ${i}` };
      writeFileSync(config.ra.registerFile, JSON.stringify(reg));

      // Orders up to IN_PRODUCTION, prepared through the order service (the part under test is production),
      // each with its software card recorded and attested as the card station does before production (REQ-14).
      trustFixtureMaker(env.caStore);
      const orderIds: string[] = [];
      const cardBodies = new Map<string, unknown>();
      const rt = await openOperatorCa(config);
      try {
        const ra = await openRa(rt);
        const delivery = openDelivery(rt, ra);
        // the delivery worker, run here in rounds (no service loop in this phase)
        peers.pump = () => delivery.worker.tick();
        const staff = await staffActor(ra, "556000-0000", "199001011234");
        const org = await ra.onboarding.registerOrganisation(staff, {
          orgNumber: `55${String(Date.now() % 100_000_000).padStart(8, "0")}`,
          name: "Crash AB",
          country: "SE",
        });
        await ra.onboarding.recordOnboardingEvidence(staff, org.id, {
          registrationCertificate: "crash",
          domain: "crash.example",
          domainValidationMethod: "dns-txt",
        });
        const until = new Date(Date.now() + 30 * 86_400_000);
        const officers: Actor[] = [];
        // REQ-10: o1 and o2 identify, o3 approves and releases (the LoA3 separation matrix).
        for (let i = 0; i < 3; i++) {
          const p = await ra.onboarding.bindPerson(staff, org.id, {
            nationalId: `19800101${1000 + i}`,
            name: `Crash Officer ${i}`,
          });
          await ra.onboarding.appointOfficer(staff, p.id, {
            roles: ["ra-officer"],
            qualification: "test",
            qualifiedUntil: until,
          });
          officers.push({
            kind: "officer",
            personId: p.id,
            humanId: humanIdOf(p.nationalIdHash),
            roles: ["ra-officer"],
            organisationId: org.id,
            qualifiedUntil: until,
          });
        }
        const [o1, o2, o3] = officers as [Actor, Actor, Actor];
        const doc = { type: "passport", number: "CR0000001", expires: new Date("2034-01-01") };
        for (let i = 0; i < ORDERS; i++) {
          const holder = await ra.onboarding.bindPerson(staff, org.id, {
            nationalId: HOLDER(i),
            name: `Crash Holder ${i}`,
            email: `holder${i}@crash.example`,
          });
          const o = await ra.orders.create(o1, {
            personId: holder.id,
            workflowId: "loa3-card-order",
            nationalId: HOLDER(i),
          });
          const token = await peers.termsToken(o.id);
          await ra.orders.act(
            o.id,
            "accept-terms",
            { kind: "applicant", roles: [] },
            { applicantToken: token, termsVersion: config.ra.termsVersion, accepted: true },
          );
          await ra.orders.act(o.id, "identify", o1, { document: doc, faceCompared: true });
          await ra.orders.act(o.id, "identify", o2, { document: doc, faceCompared: true });
          await ra.orders.act(o.id, "approve", o3, {});
          await ra.orders.act(o.id, "start-production", o3, {});
          orderIds.push(o.id);
          cardBodies.set(o.id, (await attestedCardFor(rt, ra, o.id)).body);
        }
        await delivery.worker.close();
      } finally {
        await rt.close();
        await peers.stop();
      }

      const port = await freePort();
      const raPort = await freePort();
      const serveEnv = {
        ...env.env,
        CARDPKI_PORT: String(port),
        CARDPKI_RA_PORT: String(raPort),
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_DRAIN_SECONDS: "0",
      };
      // ed, the demo's ca-operator, produces (and reads the orders).
      const ed = {
        key: readFileSync(join(config.dataDir, "demo-officers", "ed.key"), "utf8"),
        cert: readFileSync(join(config.dataDir, "demo-officers", "ed.crt"), "utf8"),
      };
      const serverCa = readFileSync(config.ra.tlsCert, "utf8");
      const call = (method: string, path: string, body?: unknown) =>
        raRequest({ base: new URL(`https://127.0.0.1:${raPort}`), ca: serverCa }, method, path, {
          body,
          cred: ed,
          agent: false,
        });
      const start = async (): Promise<ChildProcess> => {
        const child = spawn(process.execPath, [CLI, "serve"], { env: serveEnv, stdio: "ignore" });
        const up = await waitFor(
          async () => (await call("GET", "/api/v1/me").catch(() => ({ status: 0 }))).status === 200,
          60_000,
          100,
        );
        if (!up) {
          child.kill("SIGKILL");
          throw new Error("cardpki serve did not come up");
        }
        return child;
      };
      const kill = (child: ChildProcess) =>
        new Promise((r) => {
          child.once("exit", r);
          child.kill("SIGKILL");
        });
      const produce = (id: string) =>
        call("POST", `/api/v1/orders/${id}/actions/produce`, cardBodies.get(id)).catch(() => ({
          status: 0,
          body: undefined,
        }));

      const returned = new Set<string>();
      const db = await openDatabase(env.databaseUrl);
      try {
        const compensations = async () =>
          (await db("audit_events").where({ action: "order.production.compensate" }).whereIn("object_id", orderIds))
            .length;
        let rounds = 0;
        // adapted: shorter when a round finished everything before the kill, longer when nothing got through
        let delayMs = 400;
        // Kill rounds (at least three while orders remain) until a kill has cut a production in half (seen as a
        // compensation after restart) and some productions completed in between; at most twenty.
        while (rounds < 3 || (((await compensations()) === 0 || returned.size === 0) && rounds < 20)) {
          const child = await start();
          const open: string[] = [];
          for (const id of orderIds)
            if (
              (await call("GET", `/api/v1/orders/${id}`).catch(() => ({ body: undefined }))).body?.state ===
              "IN_PRODUCTION"
            )
              open.push(id);
          if (open.length === 0) {
            await kill(child);
            break;
          }
          let answered = 0;
          const inFlight = open.slice(0, SLICE).map(async (id) => {
            const r = await produce(id);
            if (r.status === 200) {
              returned.add(r.body.certificateSerial);
              answered++;
            }
          });
          if (rounds % 2 === 1) {
            // Every other round: the kill comes as soon as an order is half-produced (PRODUCING).
            const end = Date.now() + 3000;
            // Read from the database, as recovery will: an answer through the API comes after the order's audited
            // name reads, by which time the production it saw is long complete.
            const slice = open.slice(0, SLICE);
            const producing = async () =>
              (await db("orders").whereIn("id", slice).andWhere({ state: "PRODUCING" }).first("id")) !== undefined;
            while (Date.now() < end && !(await producing())) await new Promise((r) => setTimeout(r, 2));
          } else await new Promise((r) => setTimeout(r, Math.floor(Math.random() * delayMs)));
          await kill(child);
          await Promise.all(inFlight);
          delayMs =
            answered === Math.min(SLICE, open.length)
              ? Math.max(20, delayMs / 2)
              : answered === 0
                ? delayMs * 2
                : delayMs;
          rounds++;
        }

        // Restart: recovery runs before the RA answers.
        const child = await start();
        try {
          const orders: any[] = [];
          // one connection at a time
          for (const id of orderIds) orders.push((await call("GET", `/api/v1/orders/${id}`)).body);
          expect(
            orders.filter((o) => o.state === "PRODUCING"),
            "no order left half-produced",
          ).to.have.length(0);
          for (const o of orders) expect(["IN_PRODUCTION", "PRODUCED"]).to.include(o.state);
          const produced = new Map(
            orders.filter((o) => o.state === "PRODUCED").map((o) => [o.certificateSerial as string, o.id as string]),
          );
          for (const s of returned)
            expect(
              produced.has(s),
              `a certificate returned to the producer (${s}) belongs to a PRODUCED order`,
            ).to.equal(true);

          // Every serial the CA recorded for these orders' profile since the test began (completeness: from the CA's
          // records).
          const all: string[] = (
            await db("certificates")
              .where({ profile_id: "loa3-smartcard-auth" })
              .andWhere("subject_dn", "like", "%Crash Holder%")
              .select("serial")
          ).map((r: any) => r.serial);
          expect(all.length, "productions were attempted").to.be.greaterThan(produced.size - 1);

          // openssl ocsp: up to 10 serials per request (the policy limit).
          const dir = env.dir;
          const issuer = join(env.caStore, "demo-issuing", "cert.pem");
          const rootPem = join(env.caStore, "demo-root", "cert.pem");
          const status = new Map<string, string>();
          for (let i = 0; i < all.length; i += 10) {
            const chunk = all.slice(i, i + 10);
            const r = await run("openssl", [
              "ocsp",
              "-issuer",
              issuer,
              "-CAfile",
              rootPem,
              "-url",
              `http://127.0.0.1:${port}/ocsp`,
              "-no_nonce",
              ...chunk.flatMap((s) => ["-serial", `0x${s}`]),
            ]);
            const out = r.out.toLowerCase();
            for (const s of chunk) {
              // This serial's part of the answer: from "0x<serial>:" to the next serial.
              const at = out.indexOf(`0x${s}:`);
              const part = at < 0 ? "" : out.slice(at, (out.indexOf("\n0x", at + 1) + 1 || out.length + 1) - 1);
              const m = /: (good|revoked|unknown)/.exec(part);
              const reason = /reason: (\w+)/.exec(part)?.[1];
              status.set(
                s,
                !m
                  ? `? ${r.out.slice(0, 300)}`
                  : m[1] === "revoked"
                    ? `revoked:${reason === "certificatehold" ? "certificateHold" : reason}`
                    : m[1]!,
              );
            }
          }
          for (const s of all) {
            const st = status.get(s)!;
            if (produced.has(s))
              expect(st, `${s} of PRODUCED order ${produced.get(s)}: on hold until activation`).to.equal(
                "revoked:certificateHold",
              );
            else expect(st, `${s} has no PRODUCED order: never usable`).to.match(/^revoked:(?!certificateHold)/);
          }
          // The full CRL (no delta: what `openssl verify -crl_check` reads) lists every one of them, within the policy
          // time.
          let text = "";
          const crlFile = join(dir, `crash-full-${backend}.crl`);
          const complete = await waitFor(
            async () => {
              const res = await fetch(`http://127.0.0.1:${port}/crl/demo-issuing.crl`);
              writeFileSync(crlFile, new Uint8Array(await res.arrayBuffer()));
              text = (
                await run("openssl", ["crl", "-inform", "der", "-in", crlFile, "-noout", "-text", "-CAfile", issuer])
              ).out.toUpperCase();
              return all.every((s) => text.includes(s.toUpperCase()));
            },
            60_000,
            500,
          );
          expect(
            complete,
            `serials missing from the full CRL: ${all.filter((s) => !text.includes(s.toUpperCase())).join(", ")}`,
          ).to.equal(true);
          // And a produced card verifies as unusable with the full CRL alone.
          const oneProduced = [...produced.keys()][0];
          if (oneProduced) {
            const der = (await db("certificates").where({ serial: oneProduced }).first())!.der;
            const pem = writeTemp(dir, `crash-card-${backend}.pem`, new X509Certificate(der!).toString());
            const chain = writeTemp(
              dir,
              `crash-chain-${backend}.pem`,
              readFileSync(issuer, "utf8") + readFileSync(rootPem, "utf8"),
            );
            const crlPem = writeTemp(
              dir,
              `crash-full-${backend}.pem`,
              (await run("openssl", ["crl", "-inform", "der", "-in", crlFile])).stdout,
            );
            expect(
              (await run("openssl", ["verify", "-crl_check", "-CAfile", chain, "-CRLfile", crlPem, pem])).out,
            ).to.match(/certificate revoked/);
          }
          const n = await compensations();
          console.log(
            `      ${rounds} kills; ${produced.size} produced, ${returned.size} ` +
              `answered, ${all.length - produced.size} serials revoked by ` +
              `recovery/compensation (${n} compensations)`,
          );
          expect(n, "a kill cut at least one production between reserve and completion").to.be.greaterThan(0);
          expect(produced.size, "some productions completed between kills").to.be.greaterThan(0);
        } finally {
          await new Promise((r) => {
            child.once("exit", r);
            child.kill("SIGTERM");
          });
        }
      } finally {
        await db.destroy();
      }
    });
  });

import { expect } from "chai";
import { raRequest } from "../support/ra-client.js";
import { connect } from "node:net";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { DEMO_OFFICERS } from "../../src/composition/demo-setup.js";
import { staffActor } from "../../src/composition/demo-orders.js";
import { toPem } from "../../src/asn1/der.js";
import { CLI, demoEnvReady, openssl, run, type DemoEnv } from "../support/environment.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";

interface Cred {
  key: string;
  cert: string;
  serial: string;
}
interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Record<string, unknown>;
}

const newKey = () => generateKeyPairSync("ec", { namedCurve: "P-256" });

/**
 * The staff bootstrap (once, as a group, with operator and witness), the card station as an
 * authenticated officer, scoped and capped auditing, browser requests and the RA server's
 * hardening: negative rows over real HTTPS with real client certificates from the demo CA, and the
 * CLI as a subprocess; each refusal names its rule and REQ, changes nothing and is audited.
 */
describe(`staff bootstrap, card-station identity, scoped auditing, browser requests, RA hardening \
(REQ-02/10/22/23/24/27/31)`, function () {
  this.timeout(240_000);
  let demo: DemoEnv;
  let svc: Service;
  let base: URL;
  let serverCa: string;
  let dir: string;
  let peers: DeliveryPeers;
  const D: Record<string, Cred> = {};

  const call = (
    method: string,
    path: string,
    body?: unknown,
    cred?: Cred,
    headers: Record<string, string> = {},
  ): Promise<Reply> => raRequest({ base, ca: serverCa }, method, path, { body, cred, headers, agent: false });
  /** The CLI, asynchronously (the RA server answers from this process). */
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...demo.env, ...extra },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "",
        stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  const count = async (table: string) => Number((await svc.parts.db(table).count({ n: "*" }).first())?.n);
  const lastAudit = async (where: Record<string, unknown>) =>
    svc.parts.db("audit_events").where(where).orderBy("seq", "desc").first();

  before(async function () {
    demo = await demoEnvReady(this, "sqlite");
    dir = mkdtempSync(join(tmpdir(), "staff-it-"));
    peers = await startDeliveryPeers(); // the applicant's terms mail goes to a real SMTP server of this test (REQ-06)
    svc = await startService(
      loadConfig({
        ...demo.env,
        ...peers.env,
        CARDPKI_PORT: "0",
        CARDPKI_RA_PORT: "0",
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_RA_TLS_HANDSHAKE_TIMEOUT: "1",
        CARDPKI_RA_MAX_CONNECTIONS_PER_CLIENT: "6",
      }),
    );
    base = new URL(svc.ra!.url);
    serverCa = readFileSync(svc.parts.config.ra.tlsCert, "utf8");
    for (const id of Object.keys(DEMO_OFFICERS)) {
      const cert = readFileSync(join(demo.env.CARDPKI_DATA_DIR!, "demo-officers", `${id}.crt`), "utf8");
      D[id] = {
        cert,
        key: readFileSync(join(demo.env.CARDPKI_DATA_DIR!, "demo-officers", `${id}.key`), "utf8"),
        serial: new X509Certificate(cert).serialNumber.toLowerCase(),
      };
    }
  });
  after(async () => {
    await svc?.stop();
    await peers?.stop();
  });

  /**
   * A LoA3 order in production through the RA API with the demo officers' certificates: ada
   * onboards the organisation and binds the holder (REQ-01, REQ-21), bo orders, the applicant
   * accepts with the token from the terms mail the SMTP server received (REQ-06), bo and cy
   * identify, di approves and releases (REQ-10).
   */
  async function orderInProduction(
    orgNumber: string,
  ): Promise<{ orderId: string; organisationId: string; officers: string[] }> {
    const ok = async (r: Promise<Reply>, status = 200) => {
      const x = await r;
      expect(x.status, x.text).to.equal(status);
      return x.body;
    };
    const org = await ok(
      call("POST", "/api/v1/organisations", { orgNumber, name: `Demo ${orgNumber} AB`, country: "SE" }, D.ada),
      201,
    );
    await ok(
      call(
        "POST",
        `/api/v1/organisations/${org.id}/onboarding`,
        { registrationCertificate: "test", domain: `org${orgNumber}.example`, domainValidationMethod: "dns-txt" },
        D.ada,
      ),
    );
    const holder = await ok(
      call(
        "POST",
        `/api/v1/organisations/${org.id}/people`,
        { nationalId: "197003033456", name: "Cy Holder", email: `cy.holder@org${orgNumber}.example` },
        D.ada,
      ),
      201,
    );
    const order = await ok(
      call(
        "POST",
        "/api/v1/orders",
        { personId: holder.id, workflowId: "loa3-card-order", nationalId: "197003033456" },
        D.bo,
      ),
      201,
    );
    await ok(
      call("POST", `/api/v1/applicant/orders/${order.id}/accept-terms`, {
        token: await peers.termsToken(order.id),
        termsVersion: "2026-01",
        accepted: true,
      }),
    );
    const doc = {
      type: "passport",
      number: `DM${orgNumber}`,
      expires: new Date(Date.now() + 3650 * 86_400_000).toISOString().slice(0, 10),
    };
    await ok(call("POST", `/api/v1/orders/${order.id}/actions/identify`, { document: doc, faceCompared: true }, D.bo));
    await ok(call("POST", `/api/v1/orders/${order.id}/actions/identify`, { document: doc, faceCompared: true }, D.cy));
    await ok(call("POST", `/api/v1/orders/${order.id}/actions/approve`, {}, D.di));
    const started = await ok(call("POST", `/api/v1/orders/${order.id}/actions/start-production`, {}, D.di));
    expect(started.state).to.equal("IN_PRODUCTION");
    const me = async (who: string) => (await ok(call("GET", "/api/v1/me", undefined, D[who]))).personId as string;
    return { orderId: order.id, organisationId: org.id, officers: [await me("bo"), await me("cy"), await me("di")] };
  }

  it(`ok/the demo's initial staff group: seven officers with certificate, key and PKCS#12 (password file 0600); \
staff.crt is ada's`, async () => {
    const officers = join(demo.env.CARDPKI_DATA_DIR!, "demo-officers");
    const pw = join(officers, "p12-password");
    expect((await import("node:fs")).statSync(pw).mode & 0o777).to.equal(0o600);
    for (const [id, o] of Object.entries(DEMO_OFFICERS)) {
      const me = (await call("GET", "/api/v1/me", undefined, D[id])).body;
      expect(me.roles, id).to.include.members(["service-owner-staff", ...o.roles]);
      const p12 = await run("openssl", [
        "pkcs12",
        "-in",
        join(officers, `${id}.p12`),
        "-passin",
        `file:${pw}`,
        "-nokeys",
        "-clcerts",
      ]);
      expect(p12.stdout, id).to.include("BEGIN CERTIFICATE");
    }
    // no demo officer holds ca-operator with ra-officer
    expect(DEMO_OFFICERS.ed.roles).to.not.include("ra-officer" as never);
    expect(readFileSync(join(officers, "staff.crt"), "utf8")).to.equal(D.ada!.cert);
  });

  it(`fail/bootstrap-staff again (same or another organisation number), without a witness, with a free-text operator: \
exit non-zero, nothing changed; ok/a group on an empty database, then refused there too`, async () => {
    const pubs = ["ann", "ben", "cid", "dot", "eva", "fay"].map((id) => {
      const f = join(dir, `${id}.pub`);
      writeFileSync(f, newKey().publicKey.export({ type: "spki", format: "pem" }) as string);
      return id;
    });
    const group = (ids: string[]) => {
      const f = join(dir, `group-${ids.length}.yaml`);
      writeFileSync(
        f,
        "staff:\n" +
          ids
            .map(
              (id, i) =>
                `  - { id: ${id}, name: "${id.toUpperCase()} Staff", nationalId: ` +
                `"1966010100${i}${i}", roles: ` +
                `[${id === "eva" ? "ca-operator" : id === "fay" ? "auditor" : "ra-officer"}], ` +
                `qualification: "RA identity proofing 2026", qualifiedUntil: "2030-01-01", ` +
                `publicKey: ${id}.pub }`,
            )
            .join("\n") +
          "\n",
      );
      return f;
    };
    const args = (file: string, org = "556000-0000", out = join(dir, "out")) => [
      "ra",
      "bootstrap-staff",
      "--org-number",
      org,
      "--org-name",
      "cardpki demo service owner",
      "--country",
      "SE",
      "--staff",
      file,
      "--out",
      out,
    ];
    const full = group(pubs);
    const before = [
      await count("people"),
      await count("officers"),
      await count("certificates"),
      await count("organisations"),
    ];
    for (const [why, org, re] of [
      ["repeated bootstrap", "556000-0000", /active staff already.*bootstrap-once.*REQ-24/],
      ["another organisation number", "556999-9999", /service owner is organisation 556000-0000.*bootstrap-once/],
    ] as [string, string, RegExp][]) {
      const r = await cli([...args(full, org), "--operator", "carol", "--witness", "dave"]);
      expect([r.status, r.stderr], why).to.satisfy(([c, e]: [number, string]) => c === 1 && re.test(e));
    }
    for (const [why, extra, re] of [
      ["no witness", ["--operator", "carol"], /--witness is required/],
      ["operator with a space", ["--operator", "carol x", "--witness", "dave"], /is not an operator name/],
      [
        "operator with a control character",
        ["--operator", "carol\u0007", "--witness", "dave"],
        /is not an operator name/,
      ],
      ["witness = operator", ["--operator", "carol", "--witness", "carol"], /another person/],
    ] as [string, string[], RegExp][]) {
      const r = await cli([...args(full), ...extra]);
      expect([r.status, r.stderr], why).to.satisfy(([c, e]: [number, string]) => c === 2 && re.test(e));
    }
    expect(
      [await count("people"), await count("officers"), await count("certificates"), await count("organisations")],
      "nothing changed",
    ).to.deep.equal(before);
    expect(existsSync(join(dir, "out"))).to.equal(false);

    // An empty database on the same CA: too small a group is refused, the full group made at once, then never again.
    const fresh = {
      DATABASE_URL: `sqlite:${join(dir, "fresh.db")}`,
      CARDPKI_AUDIT_CHECKPOINT_FILE: join(dir, "fresh-checkpoint.json"),
    };
    const small = await cli([...args(group(pubs.slice(0, 4))), "--operator", "carol", "--witness", "dave"], fresh);
    expect([small.status, small.stderr]).to.satisfy(
      ([c, e]: [number, string]) =>
        c === 2 && /loa3-card-order(-[a-z]+)?@\d+ needs 5 distinct people \(got 4\)/.test(e),
    );
    const ok = await cli([...args(full), "--operator", "carol", "--witness", "dave"], fresh);
    expect(ok.status, ok.stderr).to.equal(0);
    const made = JSON.parse(ok.stdout);
    expect(made.members).to.have.length(6);
    for (const m of made.members) {
      const v = openssl([
        "verify",
        "-CAfile",
        join(demo.caStore, "demo-root", "cert.pem"),
        "-untrusted",
        join(demo.caStore, "demo-issuing", "cert.pem"),
        m.certificate,
      ]);
      expect(v.out, m.id).to.include(": OK");
    }
    const again = await cli(
      [...args(full, "556000-0000", join(dir, "out2")), "--operator", "carol", "--witness", "dave"],
      fresh,
    );
    expect([again.status, again.stderr]).to.satisfy(([c, e]: [number, string]) => c === 1 && /bootstrap-once/.test(e));
    const log = await cli(["audit", "verify"], fresh);
    expect(log.status, log.stderr).to.equal(0);
    const { default: knex } = await import("knex");
    const db = knex({ client: "sqlite3", connection: { filename: join(dir, "fresh.db") }, useNullAsDefault: true });
    try {
      const ev = await db("audit_events").where({ action: "staff.bootstrap" }).first();
      expect(JSON.parse(ev!.details!)).to.deep.include({ operator: "carol", witness: "dave" });
      expect(JSON.parse(ev!.details!).osUser).to.be.a("string").and.not.equal("");
      expect(ev!.actor).to.match(/^operator:carol@os:/);
    } finally {
      await db.destroy();
    }
  });

  it(`fail/the card station without an officer certificate, or with one this CA did not issue: refused before any card \
or order is touched`, async () => {
    const { orderId } = await orderInProduction("5567770001");
    const version = (await call("GET", `/api/v1/orders/${orderId}`, undefined, D.bo)).body;
    const none = await cli(["card", "personalise", "--order", orderId, "--operator", "carol"]);
    expect([none.status, none.stderr]).to.satisfy(
      ([c, e]: [number, string]) => c === 1 && /acts as an authenticated officer.*REQ-22/.test(e),
    );
    const k = newKey();
    writeFileSync(join(dir, "foreign.key"), k.privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    const self = await run("openssl", [
      "req",
      "-new",
      "-x509",
      "-key",
      join(dir, "foreign.key"),
      "-subj",
      "/CN=Ed Operator/O=cardpki demo service owner/C=SE",
      "-days",
      "1",
      "-addext",
      "extendedKeyUsage=clientAuth",
      "-out",
      join(dir, "foreign.crt"),
    ]);
    expect(self.status).to.equal(0);
    const foreign = await cli([
      "card",
      "personalise",
      "--order",
      orderId,
      "--operator",
      "carol",
      "--cert",
      join(dir, "foreign.crt"),
      "--key",
      join(dir, "foreign.key"),
      "--ra-url",
      svc.ra!.url,
    ]);
    expect([foreign.status, foreign.stderr]).to.satisfy(([c, e]: [number, string]) => c === 1 && /401/.test(e));
    const free = await cli([
      "card",
      "personalise",
      "--order",
      orderId,
      "--operator",
      "Carol the operator",
      "--cert",
      join(demo.env.CARDPKI_DATA_DIR!, "demo-officers", "ed.crt"),
      "--key",
      join(demo.env.CARDPKI_DATA_DIR!, "demo-officers", "ed.key"),
    ]);
    expect([free.status, free.stderr]).to.satisfy(
      ([c, e]: [number, string]) => c === 2 && /not an operator name/.test(e),
    );
    const after = (await call("GET", `/api/v1/orders/${orderId}`, undefined, D.bo)).body;
    expect([after.state, after.version]).to.deep.equal([version.state, version.version]);
    const refused = await lastAudit({ action: "api.get /me" });
    expect(refused!.actor, "the refused call is audited with the presented certificate's serial").to.equal(
      `cert:${new X509Certificate(readFileSync(join(dir, "foreign.crt"))).serialNumber.toLowerCase()}`,
    );
    expect(refused!.outcome).to.equal("failure");
  });

  it(`fail/a customer organisation's auditor reads another organisation's evidence; ok/their report shows only their \
organisation; fail/a period beyond the policy cap; every read audited as personal-data access`, async () => {
    const ra = svc.ra!.ra;
    const ada = await staffActor(ra, "556000-0000", DEMO_OFFICERS.ada.nationalId);
    // Organisation A: a card certificate issued for its order, produced by ed over the RA API.
    const a = await orderInProduction("5567770002");
    // REQ-14: production takes the card's attestation (a software test card here, recorded as the card station records
    // it)
    trustFixtureMaker(demo.caStore);
    const produced = await call(
      "POST",
      `/api/v1/orders/${a.orderId}/actions/produce`,
      (await attestedCardFor(svc.parts, ra, a.orderId)).body,
      D.ed,
    );
    expect(produced.status, produced.text).to.equal(200);
    const serial: string = produced.body.certificateSerial;
    // Organisation B and its auditor (fixture: appointed and given an officer certificate in process).
    const orgB = await ra.onboarding.registerOrganisation(ada, {
      orgNumber: "5567770003",
      name: "Other AB",
      country: "SE",
    });
    await ra.onboarding.recordOnboardingEvidence(ada, orgB.id, {
      registrationCertificate: "test",
      domain: "other.example",
      domainValidationMethod: "dns-txt",
    });
    const p = await ra.onboarding.bindPerson(ada, orgB.id, { nationalId: "196902020202", name: "Bea Auditor" });
    const ev = (action: string) => ({
      id: `fx${Date.now()}${action.length}`.padEnd(32, "0").slice(0, 32),
      at: new Date(),
      actor: "test-fixture",
      action,
      objectType: "person",
      objectId: p.id,
      outcome: "success" as const,
    });
    await ra.directory.saveOfficer(
      { personId: p.id, roles: ["auditor"], serviceOwnerStaff: false },
      "test-fixture",
      ev("officer.appoint"),
    );
    const k = newKey();
    const issued = await ra.certs.issue({
      profileId: "ra-officer",
      publicKey: new Uint8Array(k.publicKey.export({ type: "spki", format: "der" })),
      requestedBy: "test-fixture",
      subject: {
        CN: "Bea Auditor",
        O: "Other AB",
        organizationIdentifier: "NTRSE-5567770003",
        C: "SE",
        serialNumber: p.id,
      },
    });
    await ra.directory.addCredential(issued.serial, p.id, new Date(), ev("officer.credential"));
    const bea: Cred = {
      key: k.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      cert: toPem("CERTIFICATE", (await svc.parts.store.get(issued.serial))!.der!),
      serial: issued.serial,
    };

    const foreign = await call("GET", `/api/v1/audit/evidence/${serial}`, undefined, bea);
    expect([foreign.status, foreign.body.rule, foreign.body.requirement]).to.deep.equal([
      403,
      "auditor-scope",
      "REQ-23",
    ]);
    // nothing was read
    expect(await lastAudit({ action: "personal-data.read", object_id: serial })).to.equal(undefined);
    const gu = await call("GET", `/api/v1/audit/evidence/${serial}`, undefined, D.gu);
    expect(gu.status, JSON.stringify(gu.body)).to.equal(200);
    expect(gu.body.certificate.serial).to.equal(serial);
    const read = await lastAudit({ action: "personal-data.read", object_id: serial });
    expect([read!.actor, JSON.parse(read!.details!).scope]).to.deep.equal([
      `officer:${(await call("GET", "/api/v1/me", undefined, D.gu)).body.personId}`,
      "all",
    ]);

    const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
    const own = await call("GET", `/api/v1/audit/report?from=${day(-7)}&to=${day(2)}`, undefined, bea);
    expect(own.status, JSON.stringify(own.body)).to.equal(200);
    expect([own.body.scope.organisationId, own.body.issued.total]).to.deep.equal([orgB.id, 0]);
    const aOfficers = a.officers;
    expect(
      own.body.officerActivity.every((x: { actorId: string }) => !aOfficers.some((id) => x.actorId.includes(id))),
      "no other organisation's activity",
    ).to.equal(true);
    const all = await call("GET", `/api/v1/audit/report?from=${day(-7)}&to=${day(2)}`, undefined, D.gu);
    expect([all.status, all.body.scope.organisationId]).to.deep.equal([200, null]);
    expect(all.body.issued.total).to.be.greaterThan(0);
    expect(String(all.headers["transfer-encoding"])).to.equal("chunked"); // streamed
    // REQ-27: officers by name and label where a person reads the report, never officer:<id>; the raw actor only in
    // actorId.
    const officers = all.body.officerActivity.filter((x: { actorId: string }) => x.actorId.startsWith("officer:"));
    expect(officers.length).to.be.greaterThan(0);
    expect(
      officers.every(
        (x: any) =>
          /^[0-9A-Z]{3}-[0-9A-Z]{3}$/.test(x.actorLabel) &&
          x.actor === (x.actorName ? `${x.actorName} (${x.actorLabel})` : x.actorLabel),
      ),
    ).to.equal(true);
    expect(
      officers.some((x: any) => typeof x.actorName === "string" && x.actorName.length > 0),
      "names for the service owner's auditor",
    ).to.equal(true);
    expect(
      all.body.officerActivity
        .map((x: { actor: string }) => x.actor)
        .filter((x: string) => /^(officer|holder):/.test(x)),
    ).to.deep.equal([]);
    const reportRead = await lastAudit({ action: "personal-data.read", object_type: "audit-report" });
    expect(reportRead!.actor).to.equal(`officer:${(await call("GET", "/api/v1/me", undefined, D.gu)).body.personId}`);
    expect(JSON.parse(reportRead!.details!).named).to.be.greaterThan(0);
    const long = await call("GET", "/api/v1/audit/report?from=2024-01-01&to=2026-01-01", undefined, D.gu);
    expect([long.status, long.body.rule, long.body.requirement]).to.deep.equal([400, "report-period", "REQ-31"]);
    expect(long.body.detail).to.match(/at most 366 days/);
    const plain = await call("GET", `/api/v1/audit/evidence/${serial}`, undefined, D.bo);
    expect(plain.status, "an ra-officer is no auditor").to.equal(403);
  });

  it(`fail/cross-site POSTs with browser fetch metadata, with and without a session cookie; fail/a session request \
without its CSRF token; ok/API clients without such headers`, async () => {
    const orgs = await count("organisations");
    const body = { orgNumber: "5567770009", name: "Forged AB", country: "SE" };
    const rows: [string, Record<string, string>][] = [
      ["Origin of another site", { origin: "https://evil.example" }],
      ["Sec-Fetch-Site cross-site", { "sec-fetch-site": "cross-site" }],
      ["Sec-Fetch-Site same-site", { "sec-fetch-site": "same-site", origin: `https://${base.host}` }],
      ["a form POST from a sandboxed page (Origin null)", { origin: "null", "sec-fetch-site": "cross-site" }],
    ];
    for (const [why, h] of rows) {
      const r = await call("POST", "/api/v1/organisations", body, D.ada, h);
      expect([r.status, r.body.rule, r.body.requirement], why).to.deep.equal([
        403,
        "same-origin-browser-request",
        "REQ-22",
      ]);
    }
    const logged = await lastAudit({ action: "api.post (no route)", outcome: "failure" });
    expect([logged!.actor, JSON.parse(logged!.details!).refusal.rule]).to.deep.equal([
      `cert:${D.ada!.serial}`,
      "same-origin-browser-request",
    ]);
    // With a portal session (opened same-origin): a cross-site request is refused even with the cookie, and a
    // same-origin one needs the CSRF token.
    const open = await call("POST", "/portal/session", {}, D.ada, {
      origin: `https://${base.host}`,
      "sec-fetch-site": "same-origin",
    });
    expect(open.status).to.equal(201);
    const cookie = String((open.headers["set-cookie"] as string[])[0]).split(";")[0]!;
    const withCookie = await call("POST", "/api/v1/organisations", body, D.ada, {
      cookie,
      origin: "https://evil.example",
      "sec-fetch-site": "cross-site",
    });
    expect([withCookie.status, withCookie.body.rule]).to.deep.equal([403, "same-origin-browser-request"]);
    const emptyBody = await call("POST", `/api/v1/certificates/00/resume`, undefined, D.ada, {
      cookie,
      "sec-fetch-site": "cross-site",
    });
    expect([emptyBody.status, emptyBody.body.rule], "an empty cross-site form POST").to.deep.equal([
      403,
      "same-origin-browser-request",
    ]);
    const noCsrf = await call("POST", "/api/v1/organisations", body, D.ada, {
      cookie,
      origin: `https://${base.host}`,
      "sec-fetch-site": "same-origin",
    });
    expect([noCsrf.status, noCsrf.body.code, noCsrf.body.detail]).to.deep.equal([
      403,
      "session.csrf",
      "The page is out of date. Reload it and try again.",
    ]);
    expect(await count("organisations"), "nothing created").to.equal(orgs);
    const api = await call("POST", "/api/v1/organisations", body, D.ada);
    expect(api.status, "an API client without browser headers").to.equal(201);
    const withCsrf = await call("POST", "/api/v1/organisations", { ...body, orgNumber: "5567770010" }, D.ada, {
      cookie,
      "x-csrf-token": open.body.csrfToken,
      origin: `https://${base.host}`,
      "sec-fetch-site": "same-origin",
    });
    expect(withCsrf.status, "the portal's own request").to.equal(201);
  });

  it(`fail/hardening: an allow-list entry '10.0.0.1/' is refused (not read as /0); a stalled TLS handshake is dropped; \
connections over the per-client cap are closed`, async () => {
    const me = (await call("GET", "/api/v1/me", undefined, D.ada)).body;
    for (const c of ["10.0.0.1/", "10.0.0.0/33", "10.0.0.1/8", "::1/129"]) {
      const r = await call("PUT", `/api/v1/organisations/${me.organisationId}/ip-allow-list`, { cidrs: [c] }, D.ada);
      expect([r.status, r.body.code, r.body.requirement, r.body.detail], c).to.deep.equal([
        400,
        "organisation.bad-cidr",
        "REQ-23",
        `${c} is not a network in the form 10.0.0.0/8 or 2001:db8::/32.`,
      ]);
    }
    expect((await svc.parts.db("organisations").where({ id: me.organisationId }).first())!.ip_allow_list).to.equal(
      null,
    );
    // A client that connects and never speaks TLS is dropped after the handshake timeout (1 s here).
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const s = connect(Number(base.port), base.hostname);
      s.on("error", () => undefined);
      s.on("close", () => resolve());
      setTimeout(() => reject(new Error("the stalled handshake was not dropped")), 8000);
    });
    expect(Date.now() - started).to.be.within(500, 6000);
    // Six open connections from one address at most; the seventh is closed at once.
    const socks = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<import("node:net").Socket>((resolve) => {
            const s = connect(Number(base.port), base.hostname, () => resolve(s));
            s.on("error", () => undefined);
          }),
      ),
    );
    const seventh = await new Promise<string>((resolve) => {
      const s = connect(Number(base.port), base.hostname);
      s.on("error", () => undefined);
      s.on("close", () => resolve("closed"));
      setTimeout(() => resolve("open"), 500);
    });
    for (const s of socks) s.destroy();
    expect(seventh).to.equal("closed");
  });
});

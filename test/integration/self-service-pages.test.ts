import { expect } from "chai";
import { request } from "node:https";
import { X509Certificate, createPrivateKey, randomBytes, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "node:https";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { CLI, demoBackends, demoEnvReady, run, type DemoEnv } from "../support/environment.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { loadConfig, type Config } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { openSelfService } from "../../src/composition/self-service.js";
import { buildRaApp, listenRa } from "../../src/http/ra-server.js";
import { PortalSessions } from "../../src/http/portal.routes.js";
import type { RaApiDeps } from "../../src/http/ra.routes.js";
import type { Clock } from "../../src/shared/clock.js";
import { answerChecker, type OpenApiDoc } from "../support/openapi-check.js";

interface Cred {
  key: string;
  cert: string;
  serial: string;
}
interface Reply {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}
interface CallOpts {
  body?: unknown;
  raw?: string;
  cred?: Cred;
  headers?: Record<string, string>;
  cookie?: string;
  csrf?: string;
  localAddress?: string;
  base?: URL;
}

const DAY = 86_400_000;
const doc = { type: "passport", number: "XP445566", expires: "2031-05-01" };

const credOf = (key: string, der: Uint8Array): Cred => {
  const x = new X509Certificate(der);
  return { key, cert: x.toString(), serial: x.serialNumber.toLowerCase() };
};

/**
 * The applicant pages (the single-use link sent to the applicant, exchanged once for a session:
 * terms, acceptance, progress, cancel) and the holder pages (sign-in with the card's certificate:
 * my cards, activation, suspend/resume/revoke, report lost) over real HTTPS with real client
 * certificates from the SoftHSM2 demo CA; OCSP judged by `openssl ocsp`.
 */
for (const backend of demoBackends())
  describe(`http/applicant and holder pages over HTTPS [${backend}]`, function () {
    this.timeout(240_000);
    let svc: Service;
    let peers: DeliveryPeers;
    let demo: DemoEnv;
    let config: Config;
    let serverCa: string;
    let base: URL;
    const staff: Cred[] = [];
    const D: Record<string, Cred> = {};
    const people: Record<string, string> = {};
    const side: Server[] = [];
    const suffix = backend === "sqlite" ? "1" : "2";
    const nid = (n: number) => `1975050${suffix}${String(1000 + n)}`;

    /** Every 2xx answer of this suite is checked against the schema the OpenAPI document gives for it. */
    let answers: ReturnType<typeof answerChecker> | undefined;
    async function call(method: string, path: string, o: CallOpts = {}): Promise<Reply> {
      const r = await send(method, path, o);
      if (/^\/api\/v1\/|^\/(portal|holder)\/session$/.test(path)) answers?.check(method, path, r.status, r.body);
      return r;
    }
    function send(method: string, path: string, o: CallOpts = {}): Promise<Reply> {
      const at = o.base ?? base;
      return new Promise((resolve, reject) => {
        const data = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
        const req = request(
          {
            host: at.hostname,
            port: at.port,
            path,
            method,
            ca: serverCa,
            servername: "localhost",
            ...(o.cred ? { key: o.cred.key, cert: o.cred.cert } : {}),
            ...(o.localAddress ? { localAddress: o.localAddress } : {}),
            headers: {
              ...(data !== undefined
                ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) }
                : {}),
              ...(o.cookie ? { cookie: o.cookie } : {}),
              ...(o.csrf ? { "x-csrf-token": o.csrf } : {}),
              ...o.headers,
            },
          },
          (res) => {
            let text = "";
            res.on("data", (d) => (text += d));
            res.on("end", () => {
              let body: unknown = text;
              try {
                body = text ? JSON.parse(text) : undefined;
              } catch {
                // an HTML page
              }
              resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
            });
          },
        );
        req.on("error", reject);
        req.end(data);
      });
    }
    const ok = async (p: Promise<Reply>, status = 200) => {
      const r = await p;
      expect(r.status, JSON.stringify(r.body)).to.equal(status);
      return r.body;
    };
    const problem = (r: Reply, status: number) => {
      expect(r.status, JSON.stringify(r.body)).to.equal(status);
      expect(r.headers["content-type"]).to.equal("application/problem+json");
      expect(r.body.type).to.match(/^urn:cardpki:problem:/);
      return r.body as { detail: string; code: string; guard?: string; requirement?: string };
    };
    const act = (id: string, action: string, cred: Cred, body: unknown = {}) =>
      ok(call("POST", `/api/v1/orders/${id}/actions/${action}`, { body, cred }));
    const cookieFrom = (r: Reply, name: string) => {
      const c = ([] as string[]).concat(r.headers["set-cookie"] ?? []).find((x) => x.startsWith(`${name}=`));
      expect(c, `cookie ${name}`).to.be.a("string");
      return { header: c!, pair: c!.split(";")[0]! };
    };

    /**
     * Contract 2: the link `<ra.publicUrl>/applicant/#order=<id>&token=<token>` in the terms mail the SMTP server
     * received (REQ-06).
     */
    async function applicantLinkFor(orderId: string): Promise<string> {
      return peers.termsLink(orderId);
    }
    /** What the applicant page's script reads from the link's fragment. */
    const fragment = (link: string) => {
      const f = new URLSearchParams(new URL(link).hash.slice(1));
      return { orderId: f.get("order")!, token: f.get("token")! };
    };
    /** REQ-15: the activation code as the SMS stub received it (LoA2 send-by-mail, the code by SMS). */
    async function activationCodeFor(orderId: string): Promise<string> {
      return peers.activationCode(orderId);
    }

    /** Opens the applicant's link as the page does: one POST with the fragment's order and token. */
    async function openLink(link: string, o: CallOpts = {}): Promise<{ cookie: string; csrf: string; body: any }> {
      const r = await call("POST", "/api/v1/applicant/session", { ...o, body: fragment(link) });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return { cookie: cookieFrom(r, "cardpki_applicant").pair, csrf: r.body.csrfToken, body: r.body };
    }

    /**
     * A card certificate for an order in production (REQ-14): a software card of the test maker with
     * its PIV attestation, recorded for the order as the card station records it (the virtual card
     * itself: test/support/card-client.ts personaliseForOrder + cardRequest).
     */
    async function produceCard(orderId: string): Promise<Cred> {
      const c = await attestedCardFor(svc.parts, svc.ra!.ra, orderId);
      const o = await act(orderId, "produce", D.ed!, c.body);
      return credOf(
        c.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        Buffer.from(o.certificate, "base64"),
      );
    }

    /**
     * REQ-16 at LoA3: the card station (fi, the hand-out officer) records the transport PIN replaced,
     * the card (its software key here) signs the RA's challenge; the body for the activate call.
     */
    async function stationActivationBody(
      h: { orderId: string; card: Cred },
      o: CallOpts = {},
    ): Promise<{ challengeSignature: string }> {
      await ok(
        call("POST", `/api/v1/orders/${h.orderId}/transport-pin-replaced`, {
          body: { cardSerial: "software-card" },
          cred: staff[2],
        }),
      );
      const ch = await ok(
        call("GET", `/api/v1/holder/orders/${h.orderId}/activation-challenge`, { ...o, cred: h.card }),
      );
      return {
        challengeSignature: sign(ch.hash, Buffer.from(ch.message), createPrivateKey(h.card.key)).toString("base64url"),
      };
    }

    /** A card order up to hand-out, the terms accepted on the applicant's link. */
    async function handedOutCard(
      who: string,
      workflowId = "loa3-card-order",
    ): Promise<{ orderId: string; card: Cred }> {
      const [s1, s2, s3] = staff as [Cred, Cred, Cred];
      const order = await ok(
        call("POST", "/api/v1/orders", { body: { nationalId: people[who], workflowId }, cred: s1 }),
        201,
      );
      const a = await openLink(await applicantLinkFor(order.id));
      await ok(
        call("POST", "/api/v1/applicant/accept-terms", {
          body: { termsVersion: config.ra.termsVersion, accepted: true },
          cookie: a.cookie,
          csrf: a.csrf,
        }),
      );
      await act(order.id, "identify", s1, { document: doc, faceCompared: true });
      if (workflowId === "loa3-card-order") await act(order.id, "identify", s2, { document: doc, faceCompared: true });
      await act(order.id, "approve", D.di!);
      await act(order.id, "start-production", D.di!);
      const card = await produceCard(order.id);
      if (workflowId === "loa3-card-order")
        await act(order.id, "hand-out", s3, {
          secondIdentification: { document: { ...doc, type: "national-id-card" }, faceCompared: true },
        });
      else await act(order.id, "send-by-mail", s2, { cardChannel: "mail", activationCodeChannel: "sms" });
      return { orderId: order.id, card };
    }

    /** The holder signs in on the holder pages with the card (session bound to it). */
    async function holderSignIn(card: Cred, at?: URL): Promise<{ cookie: string; csrf: string; me: any }> {
      const r = await call("POST", "/holder/session", { cred: card, body: {}, ...(at ? { base: at } : {}) });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return { cookie: cookieFrom(r, "cardpki_session").pair, csrf: r.body.csrfToken, me: r.body.me };
    }

    /** `openssl ocsp` against the service, until its answer matches (a change reaches OCSP within a second). */
    async function ocsp(card: Cred, expected: RegExp): Promise<string> {
      const pem = join(demo.dir, `self-service-${backend}-${card.serial}.pem`);
      writeFileSync(pem, card.cert);
      let text = "";
      for (let i = 0; i < 25 && !expected.test(text); i++) {
        if (i) await new Promise((r) => setTimeout(r, 200));
        text = (
          await run("openssl", [
            "ocsp",
            "-issuer",
            join(demo.caStore, "demo-issuing", "cert.pem"),
            "-cert",
            pem,
            "-url",
            `${svc.url}/ocsp`,
            "-noverify",
          ])
        ).out;
      }
      expect(text).to.match(expected);
      return text;
    }

    /** A second RA app on the same database (a test-only clock or resolver), over HTTPS with the same TLS files. */
    async function sideApp(o: { clock?: Clock; resolve?: RaApiDeps["resolve"] }): Promise<URL> {
      const ra = svc.ra!.ra;
      const self = openSelfService(svc.parts, ra, o.clock ? { clock: o.clock } : {});
      const app = buildRaApp(
        {
          resolve: o.resolve ?? ((s, d) => ra.resolver.resolve(s, d)),
          onboarding: ra.onboarding,
          orders: ra.orders,
          desk: ra.desk,
          applicant: self.applicant,
          holder: self.holder,
        },
        "1",
        { assetsDir: join(REPO_ROOT, "src", "http", "portal-assets"), sessions: new PortalSessions() },
      );
      const ca = join(demo.caStore, "demo-issuing");
      const server = await listenRa(
        app,
        {
          key: readFileSync(config.ra.tlsKey),
          cert: readFileSync(config.ra.tlsCert),
          clientCas: [readFileSync(join(ca, "cert.pem")), readFileSync(join(ca, "chain.pem"))],
        },
        "127.0.0.1",
        0,
      );
      side.push(server);
      const a = server.address();
      return new URL(`https://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`);
    }

    before(async function () {
      const d = (demo = await demoEnvReady(this, backend));
      trustFixtureMaker(d.caStore); // REQ-14: the software test cards' maker root
      peers = await startDeliveryPeers(); // the service delivers to a real SMTP server and SMS stub of this test
      config = loadConfig({
        ...d.env,
        ...peers.env,
        CARDPKI_PORT: "0",
        CARDPKI_RA_PORT: "0",
        CARDPKI_HOST: "127.0.0.1",
      });
      const reg = JSON.parse(readFileSync(config.ra.registerFile, "utf8"));
      for (let i = 0; i < 20; i++)
        reg.people[nid(i)] = { status: "alive", givenName: "Registered", surname: `Applicant ${i}` };
      writeFileSync(config.ra.registerFile, JSON.stringify(reg));
      svc = await startService(config);
      expect(svc.ra, "RA API started").to.not.equal(undefined);
      base = new URL(svc.ra!.url);
      serverCa = readFileSync(config.ra.tlsCert, "utf8");
      answers = answerChecker((await send("GET", "/api/openapi.json")).body as OpenApiDoc);
      // The demo's initial staff group: bo orders, binds and identifies, cy identifies, di approves and releases, ed
      // produces, fi hands out.
      const demoCred = (id: string): Cred => {
        const cert = readFileSync(join(config.dataDir, "demo-officers", `${id}.crt`), "utf8");
        return {
          key: readFileSync(join(config.dataDir, "demo-officers", `${id}.key`), "utf8"),
          cert,
          serial: new X509Certificate(cert).serialNumber.toLowerCase(),
        };
      };
      staff.push(demoCred("bo"), demoCred("cy"), demoCred("fi"));
      D.di = demoCred("di");
      D.ed = demoCred("ed");
      const org = (await ok(call("GET", "/api/v1/me", { cred: staff[0] }))).organisationId;
      for (const [i, name] of [
        "Anna Applicant",
        "Bo Applicant",
        "Cia Applicant",
        "Dan Applicant",
        "Eva Applicant",
        "Hanna Holder",
        "Gustav Holder",
        "Lena Holder",
        "Mia Applicant",
        "Ole Applicant",
      ].entries()) {
        const p = await ok(
          call("POST", `/api/v1/organisations/${org}/people`, {
            body: {
              nationalId: nid(i),
              name,
              email: `p${i}@self.example`,
              phone: `+467055${suffix}${String(1000 + i)}`,
            },
            cred: staff[0],
          }),
          201,
        );
        expect(p.id).to.match(/^[0-9a-f]{32}$/);
        people[name.split(" ")[0]!] = nid(i);
      }
    });
    after(async () => {
      for (const s of side) await new Promise<void>((r) => s.close(() => r()));
      await svc?.stop();
      await peers?.stop();
    });

    it(`ok/applicant page: the link opens a session once (cookie HttpOnly, Secure, SameSite=Strict); the current terms \
as text; acceptance with the box ticked, recorded with the version (REQ-06); progress in plain words; \
cancel`, async () => {
      const s1 = staff[0]!;
      const page = await call("GET", "/applicant/");
      expect(page.status).to.equal(200);
      expect(String(page.headers["content-security-policy"]))
        .to.match(/script-src 'self'/)
        .and.not.match(/unsafe-inline/);
      expect(String(page.body)).to.not.match(/<script(?![^>]*src=)/); // no inline script
      const order = await ok(
        call("POST", "/api/v1/orders", { body: { nationalId: people.Anna, workflowId: "loa3-card-order" }, cred: s1 }),
        201,
      );
      const link = await applicantLinkFor(order.id);
      expect(link).to.match(new RegExp(`^https://[^/]+/applicant/#order=${order.id}&token=[A-Z0-9]{24}$`));
      const r = await call("POST", "/api/v1/applicant/session", { body: fragment(link) });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const c = cookieFrom(r, "cardpki_applicant").header;
      expect(c)
        .to.match(/; HttpOnly/)
        .and.match(/; Secure/)
        .and.match(/; SameSite=Strict/)
        .and.match(/; Path=\/api\/v1\/applicant/);
      const cookie = c.split(";")[0]!;
      const csrf = r.body.csrfToken as string;
      expect(r.body.progress.canAcceptTerms).to.equal(true);

      const terms = await ok(call("GET", "/api/v1/applicant/terms", { cookie }));
      expect(terms.version).to.equal(config.ra.termsVersion);
      expect(terms.text)
        .to.match(/PIN/)
        .and.not.match(/<[a-z]/i);
      const before = await ok(call("GET", "/api/v1/applicant/progress", { cookie }));
      expect(before.status).to.match(/accept/);
      expect(before.statusCode).to.equal("progress.REQUESTED");
      expect(before.steps[0]).to.deep.equal({
        code: "progress.step.terms",
        label: "Accept the terms of use",
        state: "current",
      });
      expect(JSON.stringify(before), "no ids or hashes").to.not.match(/[0-9a-f]{24,}/);

      const accepted = await ok(
        call("POST", "/api/v1/applicant/accept-terms", {
          body: { termsVersion: terms.version, accepted: true },
          cookie,
          csrf,
        }),
      );
      expect([
        accepted.termsAccepted,
        accepted.canAcceptTerms,
        accepted.steps[0].state,
        accepted.steps[1].state,
      ]).to.deep.equal([terms.version, false, "done", "current"]);
      const seen = await ok(call("GET", `/api/v1/orders/${order.id}`, { cred: s1 }));
      expect([seen.state, seen.termsVersion]).to.deep.equal(["TERMS_ACCEPTED", terms.version]);
      const timeline = await ok(call("GET", `/api/v1/orders/${order.id}/timeline`, { cred: s1 }));
      expect(timeline.map((e: any) => `${e.action}:${e.actor}`)).to.include.members([
        "applicant.link.open:applicant",
        "order.accept-terms:applicant",
      ]);

      await act(order.id, "identify", s1, { document: doc, faceCompared: true });
      const half = await ok(call("GET", "/api/v1/applicant/progress", { cookie }));
      expect(half.status).to.match(/1 of 2 officers/);
      expect([half.statusCode, half.statusParams]).to.deep.equal(["progress.IDENTIFIED.partly", { done: 1, n: 2 }]);
      const cancelled = await ok(call("POST", "/api/v1/applicant/cancel", { body: {}, cookie, csrf }));
      expect([cancelled.closed, cancelled.canCancel, cancelled.status]).to.deep.equal([
        true,
        false,
        "This card order was cancelled.",
      ]);
      expect((await ok(call("GET", `/api/v1/orders/${order.id}`, { cred: s1 }))).state).to.equal("CANCELLED");
      problem(await call("POST", "/api/v1/applicant/cancel", { body: {}, cookie, csrf }), 409);
      expect((await call("DELETE", "/api/v1/applicant/session", { cookie })).status).to.equal(204);
      problem(await call("GET", "/api/v1/applicant/progress", { cookie }), 401);
    });

    it(`ok/the terms in the applicant's language (Swedish, Danish; English for another), named by language and \
SHA-256; the acceptance records version, language and hash (REQ-06); fail/a text changed since it was \
shown`, async () => {
      const s1 = staff[0]!;
      const files = { en: "2026-01.md", sv: "2026-01.sv.md", da: "2026-01.da.md" } as const;
      const sha = (f: string) =>
        createHash("sha256")
          .update(readFileSync(join(REPO_ROOT, "policies", "terms", f), "utf8").replace(/\r\n/g, "\n"))
          .digest("hex");
      const order = await ok(
        call("POST", "/api/v1/orders", { body: { nationalId: people.Mia, workflowId: "loa3-card-order" }, cred: s1 }),
        201,
      );
      const a = await openLink(await applicantLinkFor(order.id));
      const seen: Record<string, any> = {};
      for (const [lang, header] of [
        ["sv", "sv-SE,sv;q=0.9"],
        ["da", "da"],
        ["en", "en-GB"],
        ["en", "de-DE"],
      ] as const) {
        const t = await ok(
          call("GET", "/api/v1/applicant/terms", { cookie: a.cookie, headers: { "accept-language": header } }),
        );
        expect([t.lang, t.version, t.sha256], header).to.deep.equal([lang, config.ra.termsVersion, sha(files[lang])]);
        seen[lang] = t;
      }
      expect(seen.sv.title).to.equal("Användarvillkor för ditt eID-kort");
      expect(seen.sv.text)
        .to.match(/^# Vad du godkänner/)
        .and.match(/PIN-kod/);
      expect(seen.da.text).to.match(/^# Hvad du accepterer/);
      expect(seen.en.text).to.match(/^# What you agree to/);
      // The text changed since it was shown (another hash): refused, nothing accepted.
      const stale = await call("POST", "/api/v1/applicant/accept-terms", {
        body: { termsVersion: seen.sv.version, accepted: true, termsLanguage: "sv", termsSha256: "0".repeat(64) },
        cookie: a.cookie,
        csrf: a.csrf,
        headers: { "accept-language": "sv" },
      });
      problem(stale, 409);
      expect([stale.body.code, stale.body.lang]).to.deep.equal(["applicant.terms-changed", "sv"]);
      expect(stale.body.detail).to.match(/Villkoren har ändrats/);
      const accepted = await ok(
        call("POST", "/api/v1/applicant/accept-terms", {
          body: { termsVersion: seen.sv.version, accepted: true, termsLanguage: "sv", termsSha256: seen.sv.sha256 },
          cookie: a.cookie,
          csrf: a.csrf,
        }),
      );
      expect(accepted.termsAccepted).to.equal(config.ra.termsVersion);
      // What the audit trail holds, as the CA host's operator reads it (cardpki audit events).
      const events: any[] = await new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          [CLI, "audit", "events", "--operator", "terms-test", "--object", order.id, "--action", "order.accept-terms"],
          { env: demo.env },
          (e, out, err) =>
            e
              ? reject(new Error(`${e.message}\n${err}`))
              : resolve(
                  out
                    .split("\n")
                    .filter(Boolean)
                    .map((l) => JSON.parse(l)),
                ),
        ),
      );
      expect(events.map((e) => e.details.terms)).to.deep.equal([
        { version: config.ra.termsVersion, language: "sv", sha256: sha(files.sv) },
      ]);
    });

    it(`fail/applicant links: a reused token, an expired one, another order's, a foreign order; bad JSON, wrong \
content type, oversized body, unknown fields; no cookie, missing or wrong CSRF; absent or unticked acceptance: each a \
4xx problem, refusals audited`, async () => {
      const s1 = staff[0]!;
      const b = await ok(
        call("POST", "/api/v1/orders", { body: { nationalId: people.Bo, workflowId: "loa3-card-order" }, cred: s1 }),
        201,
      );
      const c = await ok(
        call("POST", "/api/v1/orders", { body: { nationalId: people.Cia, workflowId: "loa2-card-order" }, cred: s1 }),
        201,
      );
      const linkB = await applicantLinkFor(b.id);
      const linkC = await applicantLinkFor(c.id);

      // Expired: the same link on an RA whose clock is 8 days on (the link lives 7 days); refused, and not used up by
      // the refusal.
      const later = await sideApp({ clock: { now: () => new Date(Date.now() + 8 * DAY) } });
      const expired = problem(
        await call("POST", "/api/v1/applicant/session", { base: later, body: fragment(linkB) }),
        403,
      );
      expect([expired.code, expired.requirement]).to.deep.equal(["applicant.link-expired", "REQ-06"]);
      expect(expired.detail).to.match(
        /^This link expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC\. Ask your registration office for a new order\.$/,
      );
      const session = await openLink(linkB);

      // Single use.
      const again = problem(await call("POST", "/api/v1/applicant/session", { body: fragment(linkB) }), 409);
      expect(again.detail).to.match(/already been used/);
      const viaApi = problem(
        await call("POST", `/api/v1/applicant/orders/${b.id}/accept-terms`, {
          body: { token: fragment(linkB).token, termsVersion: config.ra.termsVersion, accepted: true },
        }),
        409,
      );
      expect(viaApi.detail).to.match(/already been used/);
      // Another order's token, an order that does not exist.
      expect(
        problem(
          await call("POST", "/api/v1/applicant/session", { body: { orderId: c.id, token: fragment(linkB).token } }),
          403,
        ).detail,
      ).to.match(/not valid for this order/);
      problem(
        await call("POST", "/api/v1/applicant/session", {
          body: { orderId: randomBytes(16).toString("hex"), token: fragment(linkC).token },
        }),
        403,
      );
      // Bad input.
      problem(await call("POST", "/api/v1/applicant/session", { raw: "{not json" }), 400);
      problem(
        await call("POST", "/api/v1/applicant/session", {
          raw: "order=1",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
        415,
      );
      problem(
        await call("POST", "/api/v1/applicant/session", { body: { ...fragment(linkC), pad: "x".repeat(40_000) } }),
        413,
      );
      expect(
        problem(await call("POST", "/api/v1/applicant/session", { body: { ...fragment(linkC), admin: true } }), 400)
          .detail,
      ).to.match(/has no field called admin/);
      problem(
        await call("POST", "/api/v1/applicant/session", {
          body: { orderId: "not-an-id", token: fragment(linkC).token },
        }),
        400,
      );
      problem(await call("POST", "/api/v1/applicant/session", { body: { orderId: c.id, token: "<script>" } }), 400);
      // Session and CSRF.
      problem(await call("GET", "/api/v1/applicant/progress"), 401);
      problem(await call("GET", "/api/v1/applicant/progress", { cookie: "cardpki_applicant=forged" }), 401);
      problem(await call("POST", "/api/v1/applicant/cancel", { body: {}, cookie: session.cookie }), 403);
      problem(
        await call("POST", "/api/v1/applicant/cancel", { body: {}, cookie: session.cookie, csrf: "x".repeat(43) }),
        403,
      );
      problem(
        await call("POST", "/api/v1/applicant/accept-terms", {
          raw: '{"accepted":',
          cookie: session.cookie,
          csrf: session.csrf,
        }),
        400,
      );
      // REQ-06: acceptance absent, unticked, or of another version.
      problem(
        await call("POST", "/api/v1/applicant/accept-terms", {
          body: { termsVersion: config.ra.termsVersion },
          cookie: session.cookie,
          csrf: session.csrf,
        }),
        400,
      );
      const unticked = problem(
        await call("POST", "/api/v1/applicant/accept-terms", {
          body: { termsVersion: config.ra.termsVersion, accepted: false },
          cookie: session.cookie,
          csrf: session.csrf,
        }),
        422,
      );
      expect([unticked.guard, unticked.requirement]).to.deep.equal(["terms-version-current", "REQ-06"]);
      expect(
        problem(
          await call("POST", "/api/v1/applicant/accept-terms", {
            body: { termsVersion: "1999-01", accepted: true },
            cookie: session.cookie,
            csrf: session.csrf,
          }),
          422,
        ).guard,
      ).to.equal("terms-version-current");
      expect((await ok(call("GET", `/api/v1/orders/${b.id}`, { cred: s1 }))).state, "nothing changed").to.equal(
        "REQUESTED",
      );
      await ok(
        call("POST", "/api/v1/applicant/accept-terms", {
          body: { termsVersion: config.ra.termsVersion, accepted: true },
          cookie: session.cookie,
          csrf: session.csrf,
        }),
      );

      // The link of C still works once: the refusals above did not use it up.
      await openLink(linkC);
      const refused = await svc.parts.db("audit_events").where({ action: "applicant.link.refused", object_id: b.id });
      expect(refused.map((e: any) => JSON.parse(e.details).reason).sort()).to.deep.equal(["expired", "used", "used"]);
      expect(refused.every((e: any) => e.outcome === "failure")).to.equal(true);
      const apiLog = await svc.parts
        .db("audit_events")
        .where({ action: "api.post /applicant/session", outcome: "failure" });
      expect(apiLog.length, "every refused request is in the request log").to.be.at.least(6);
    });

    it(`fail/rate limits on applicant links per order and per address (REQ-18): 429 with Retry-After and an alarm in \
the audit trail`, async () => {
      const d = await ok(
        call("POST", "/api/v1/orders", {
          body: { nationalId: people.Dan, workflowId: "loa3-card-order" },
          cred: staff[0],
        }),
        201,
      );
      const link = fragment(await applicantLinkFor(d.id));
      for (let i = 0; i < 5; i++)
        problem(
          await call("POST", "/api/v1/applicant/session", {
            body: { orderId: d.id, token: `WRONG${String(i).padStart(19, "A")}` },
          }),
          403,
        );
      const limited = await call("POST", "/api/v1/applicant/session", { body: link });
      expect(problem(limited, 429)).to.deep.include({ code: "applicant.too-many-attempts", requirement: "REQ-18" });
      expect(limited.headers["retry-after"]).to.match(/^\d+$/);
      expect(
        await svc.parts.db("audit_events").where({ action: "applicant.alarm.link-rate-order", object_id: d.id }),
      ).to.have.length(1);

      // One address guessing across many orders (another loopback address, so the rest of this suite is not limited).
      const from = `127.0.0.${backend === "sqlite" ? 17 : 18}`;
      for (let i = 0; i < 20; i++)
        problem(
          await call("POST", "/api/v1/applicant/session", {
            localAddress: from,
            body: { orderId: randomBytes(16).toString("hex"), token: randomBytes(12).toString("hex").toUpperCase() },
          }),
          403,
        );
      const e = await ok(
        call("POST", "/api/v1/orders", {
          body: { nationalId: people.Eva, workflowId: "loa3-card-order" },
          cred: staff[0],
        }),
        201,
      );
      const linkE = await applicantLinkFor(e.id);
      const byIp = await call("POST", "/api/v1/applicant/session", { localAddress: from, body: fragment(linkE) });
      expect(problem(byIp, 429).detail).to.match(/from your network/);
      const alarms = await svc.parts.db("audit_events").where({ action: "applicant.alarm.link-rate-ip" });
      expect(alarms.some((a: any) => JSON.parse(a.details).ip.endsWith(from))).to.equal(true);
      await openLink(linkE); // from another address the right link still opens
    });

    it(`ok/holder pages: sign-in with the card's certificate over mTLS, activation, my cards, suspend and resume, \
revoke with a reason, report lost; OCSP (openssl) follows each step; fail/without CSRF, someone else's card, a \
suspended card signs in no more`, async () => {
      const [h1, h2, h3] = [await handedOutCard("Hanna"), await handedOutCard("Hanna"), await handedOutCard("Hanna")];
      const page = await call("GET", "/holder/", { cred: h1.card });
      expect([page.status, String(page.headers["content-security-policy"])]).to.satisfy(
        ([s, csp]: [number, string]) => s === 200 && /default-src 'none'/.test(csp),
      );
      problem(await call("POST", "/holder/session", { body: {} }), 401);
      problem(await call("POST", "/holder/session", { body: {}, cred: staff[0] }), 403); // an officer's certificate
      const s = await holderSignIn(h1.card);
      expect([s.me.kind, s.me.loa]).to.deep.equal(["holder", 3]);
      const pending = await ok(call("GET", "/api/v1/holder/activation", { cred: h1.card, cookie: s.cookie }));
      expect([pending.pending, pending.orderId, pending.needsActivationCode, pending.pin]).to.deep.equal([
        true,
        h1.orderId,
        false,
        "transport",
      ]);
      expect([pending.needsChallengeSignature, pending.needsStationPinRecord]).to.deep.equal([true, true]);
      expect([pending.statusCode, Object.keys(pending.statusParams)]).to.deep.equal([
        "activation.status.pending",
        ["day"],
      ]);
      const body1 = await stationActivationBody(h1, { cookie: s.cookie });
      problem(
        await call("POST", `/api/v1/holder/orders/${h1.orderId}/activate`, {
          body: body1,
          cred: h1.card,
          cookie: s.cookie,
        }),
        403,
      ); // no CSRF token
      problem(
        await call("POST", `/api/v1/holder/orders/${h1.orderId}/activate`, {
          body: body1,
          cred: h2.card,
          cookie: s.cookie,
          csrf: s.csrf,
        }),
        401,
      ); // the session is h1's
      expect(
        (
          await ok(
            call("POST", `/api/v1/holder/orders/${h1.orderId}/activate`, {
              body: body1,
              cred: h1.card,
              cookie: s.cookie,
              csrf: s.csrf,
            }),
          )
        ).state,
      ).to.equal("ACTIVE");
      for (const h of [h2, h3])
        await ok(
          call("POST", `/api/v1/holder/orders/${h.orderId}/activate`, {
            body: await stationActivationBody(h),
            cred: h.card,
          }),
        );
      await ocsp(h2.card, /: good/);

      const cards = await ok(call("GET", "/api/v1/holder/cards", { cred: h1.card, cookie: s.cookie }));
      expect(cards).to.have.length(3);
      expect(JSON.stringify(cards), "no hashes").to.not.match(/hash/i);
      const mine = cards.find((c: any) => c.thisCard);
      expect([mine.orderId, mine.status, mine.certificate.serial, mine.certificate.status, mine.actions]).to.deep.equal(
        [h1.orderId, "Active", h1.card.serial, "good", ["suspend", "revoke", "lost"]],
      );
      const post = (serial: string, what: string, body: unknown = {}) =>
        call("POST", `/api/v1/holder/cards/${serial}/${what}`, { body, cred: h1.card, cookie: s.cookie, csrf: s.csrf });

      // Suspend and resume another card of mine, from the holder pages (REQ-17).
      expect((await ok(post(h2.card.serial, "suspend"))).reason).to.equal("certificateHold");
      await ocsp(h2.card, /: revoked[\s\S]*Reason: certificateHold/);
      problem(await call("GET", "/api/v1/holder/cards", { cred: h2.card }), 401); // a suspended card does not sign in
      const held = (await ok(call("GET", "/api/v1/holder/cards", { cred: h1.card, cookie: s.cookie }))).find(
        (c: any) => c.certificate.serial === h2.card.serial,
      );
      expect([held.status, held.statusCode, held.actions]).to.deep.equal([
        "Suspended",
        "card.status.suspended",
        ["resume", "revoke", "lost"],
      ]);
      await ok(post(h2.card.serial, "resume"));
      await ocsp(h2.card, /: good/);
      problem(await post(h2.card.serial, "resume"), 409); // not suspended

      // Revoke with a reason; one a holder may not give is refused.
      expect(problem(await post(h2.card.serial, "revoke", { reason: "affiliationChanged" }), 422)).to.deep.include({
        code: "revocation.holder-reason",
        detail:
          "You can ask for suspension (temporary), key compromise (the card is lost or " +
          "stolen), no reason given, or replaced by a new card.",
      });
      await ok(post(h2.card.serial, "revoke", { reason: "superseded" }));
      await ocsp(h2.card, /: revoked[\s\S]*Reason: superseded/);
      // Report lost: revoked keyCompromise.
      expect((await ok(post(h3.card.serial, "lost"))).lost).to.equal(true);
      await ocsp(h3.card, /: revoked[\s\S]*Reason: keyCompromise/);
      const after = await ok(call("GET", "/api/v1/holder/cards", { cred: h1.card, cookie: s.cookie }));
      expect(
        after
          .filter((c: any) => c.certificate.status === "revoked")
          .map((c: any) => [c.status, c.statusCode, c.actions.length]),
      ).to.deep.equal([
        ["Revoked: this card can no longer be used", "card.status.revoked", 0],
        ["Revoked: this card can no longer be used", "card.status.revoked", 0],
      ]);

      // Someone else's card; bad input.
      const other = await handedOutCard("Gustav");
      problem(await post(other.card.serial, "suspend"), 404);
      problem(await post("zz-not-hex", "suspend"), 400);
      problem(await post(h1.card.serial, "suspend", { reason: "x" }), 400);
      problem(
        await call("POST", `/api/v1/holder/cards/${h1.card.serial}/suspend`, {
          raw: "{",
          cred: h1.card,
          cookie: s.cookie,
          csrf: s.csrf,
        }),
        400,
      );
      // a holder on an officer route
      problem(await call("GET", "/api/v1/me", { cred: h1.card, cookie: s.cookie }), 403);

      // Suspending the card I signed in with ends what it can do at once.
      await ok(post(h1.card.serial, "suspend"));
      problem(await call("GET", "/api/v1/holder/cards", { cred: h1.card, cookie: s.cookie }), 401);
      await ocsp(h1.card, /: revoked[\s\S]*Reason: certificateHold/);
    });

    it(`fail/holder self-service is rate-limited (REQ-18): beyond the daily number 429 and an alarm; ok/a LoA2 card \
activates with its activation code only`, async () => {
      const [g1, g2] = [await handedOutCard("Gustav"), await handedOutCard("Gustav")];
      for (const c of [g1, g2])
        await ok(
          call("POST", `/api/v1/holder/orders/${c.orderId}/activate`, {
            body: await stationActivationBody(c),
            cred: c.card,
          }),
        );
      const s = await holderSignIn(g1.card);
      const post = (what: string) =>
        call("POST", `/api/v1/holder/cards/${g2.card.serial}/${what}`, {
          body: {},
          cred: g1.card,
          cookie: s.cookie,
          csrf: s.csrf,
        });
      const steps = ["suspend", "resume", "suspend", "resume", "suspend", "resume"];
      const answers: number[] = [];
      for (const w of steps) answers.push((await post(w)).status);
      expect(answers).to.deep.equal([200, 200, 200, 200, 200, 429]);
      const alarms = await svc.parts
        .db("audit_events")
        .where({ action: "revocation.alarm.holder-rate", object_id: g2.card.serial });
      expect(alarms).to.have.length(1);

      // LoA2 by mail: the activation code (another channel than the card) is needed.
      const l = await handedOutCard("Lena", "loa2-card-order");
      const ls = await holderSignIn(l.card);
      const a = await ok(call("GET", "/api/v1/holder/activation", { cred: l.card, cookie: ls.cookie }));
      expect([a.pending, a.needsActivationCode, a.loa]).to.deep.equal([true, true, 2]);
      const wrong = problem(
        await call("POST", `/api/v1/holder/orders/${l.orderId}/activate`, {
          body: { activationCode: "WRONGCODE1" },
          cred: l.card,
          cookie: ls.cookie,
          csrf: ls.csrf,
        }),
        422,
      );
      expect(wrong.guard).to.equal("activation-code-correct");
      problem(
        await call("POST", `/api/v1/holder/orders/${l.orderId}/activate`, {
          body: { activationCode: "not a code!" },
          cred: l.card,
          cookie: ls.cookie,
          csrf: ls.csrf,
        }),
        400,
      );
      const code = await activationCodeFor(l.orderId);
      expect(
        (
          await ok(
            call("POST", `/api/v1/holder/orders/${l.orderId}/activate`, {
              body: { activationCode: code },
              cred: l.card,
              cookie: ls.cookie,
              csrf: ls.csrf,
            }),
          )
        ).state,
      ).to.equal("ACTIVE");
      expect(
        (await ok(call("GET", "/api/v1/holder/activation", { cred: l.card, cookie: ls.cookie }))).pending,
      ).to.equal(false);
    });

    it(`fail/a card certificate held until activation (credentialOnHold) signs in and activates, and nothing else \
(REQ-16)`, async () => {
      const h = await handedOutCard("Lena", "loa2-card-order");
      const ra = svc.ra!.ra;
      // The credential resolver of the hold-until-activation change marks such a card; here a resolver that does so for
      // this card.
      const at = await sideApp({
        resolve: async (serial, der) => {
          const r = await ra.resolver.resolve(serial, der);
          const o = await ra.orderStore.byCertificate(serial);
          return serial === h.card.serial && o?.state === "HANDED_OUT"
            ? { ...r, actor: { ...r.actor, credentialOnHold: true } }
            : r;
        },
      });
      const s = await holderSignIn(h.card, at);
      expect(s.me.credentialOnHold).to.equal(true);
      for (const [method, path, body] of [
        ["GET", "/api/v1/holder/cards", undefined],
        ["POST", `/api/v1/holder/cards/${h.card.serial}/suspend`, {}],
        ["POST", `/api/v1/holder/cards/${h.card.serial}/lost`, {}],
        ["POST", "/api/v1/holder/renewals", { workflowId: "loa2-card-order", nationalId: people.Lena }],
      ] as const) {
        const p = problem(
          await call(method, path, {
            base: at,
            cred: h.card,
            cookie: s.cookie,
            csrf: s.csrf,
            ...(body ? { body } : {}),
          }),
          403,
        );
        expect([p.detail, p.requirement], path).to.satisfy(
          ([d, r]: [string, string]) => /activate it first/.test(d) && r === "REQ-16",
        );
      }
      const a = await ok(call("GET", "/api/v1/holder/activation", { base: at, cred: h.card, cookie: s.cookie }));
      expect(a.pending).to.equal(true);
      await ok(
        call("POST", `/api/v1/holder/orders/${h.orderId}/activate`, {
          base: at,
          body: { activationCode: await activationCodeFor(h.orderId) },
          cred: h.card,
          cookie: s.cookie,
          csrf: s.csrf,
        }),
      );
      expect(
        (await ok(call("GET", "/api/v1/holder/cards", { base: at, cred: h.card, cookie: s.cookie }))).length,
      ).to.equal(2); // released: every step is open
    });

    it("ok/OpenAPI lists the applicant and holder pages' endpoints with their schemas and security", async () => {
      const doc = await ok(call("GET", "/api/openapi.json"));
      for (const p of [
        "/api/v1/applicant/session",
        "/api/v1/applicant/accept-terms",
        "/api/v1/holder/cards",
        "/api/v1/holder/cards/{serial}/lost",
        "/api/v1/holder/cards/{serial}/resume",
        "/api/v1/holder/activation",
      ])
        expect(doc.paths, p).to.have.property(p);
      expect(doc.paths["/api/v1/applicant/accept-terms"].post.security).to.deep.equal([{ applicantSession: [] }]);
      expect(
        doc.paths["/api/v1/applicant/session"].post.requestBody.content["application/json"].schema.additionalProperties,
      ).to.equal(false);
      expect(doc.components.securitySchemes.applicantSession).to.include({ type: "apiKey", in: "cookie" });
    });
  });

import { expect } from "chai";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { loadConfig } from "../../src/composition/config.js";
import { startService, type Service } from "../../src/composition/serve.js";
import { spawn, type ChildProcess } from "node:child_process";
import { CLI, demoEnv, requireTool, waitFor, type DemoEnv } from "../support/environment.js";
import { freePort } from "../support/free-port.js";
import { refusalWords } from "../../src/i18n/refusal-words.js";
import { attestedCardFor, trustFixtureMaker } from "../support/attestation-fixture.js";
import { REPO_ROOT } from "../support/test-ca.js";
import { startDeliveryPeers, type DeliveryPeers } from "../support/delivered.js";
import { demoOfficerCreds, officerApi, type DemoOfficerName } from "../support/ra-client.js";
import {
  LANGS,
  axeViolations,
  focusRingProblems,
  fromTheTop,
  internalNames,
  readableText,
  reflowProblems,
  type Lang,
} from "../support/page-checks.js";

// Browser globals inside page.evaluate() callbacks (run in the page; this project compiles without the DOM lib).
declare const document: any, window: any, location: any, history: any, localStorage: any, HashChangeEvent: any;

const APPLICANT = "197003033456"; // alive in the demo register
const DECEASED = "196004044567"; // deceased in the demo register
const ARTIFACTS = join(REPO_ROOT, "test-artifacts", "accessibility");
const CATALOGUES = Object.fromEntries(
  LANGS.map((l) => [
    l,
    JSON.parse(readFileSync(join(REPO_ROOT, "src", "http", "portal-assets", "locales", `${l}.json`), "utf8")),
  ]),
) as Record<Lang, Record<string, string>>;

/**
 * A serial number as certificate viewers print it (upper-case byte pairs with colons): what an officer types from a
 * certificate.
 */
const serialText = (hex: string) => (hex.length % 2 ? `0${hex}` : hex).toUpperCase().match(/../g)!.join(":");

/** The pages' words for `key` in `lang` (the catalogues served to the browser), placeholders filled. */
function T(lang: Lang, key: string, params: Record<string, string | number> = {}): string {
  const s = CATALOGUES[lang][key];
  if (s === undefined) throw new Error(`no words for ${key} in ${lang}`);
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] === undefined ? m : String(params[k])));
}

/**
 * Every screen of the officers' portal, the applicant page and the holder pages, in English,
 * Swedish and Danish, in Debian's headless Chromium over HTTPS: officers with their own client
 * certificates, the applicant from the link in the terms mail the SMTP server received, the holder
 * with the card's certificate and the activation code the SMS stub received. On each screen:
 * axe-core (WCAG 2.1 A and AA rules) finds no serious or critical violation; `<html lang>` is the
 * chosen language; the screen has a title of its own; no raw id, state or workflow id, event type,
 * reason code or server path is shown; at 320 CSS px nothing scrolls sideways or is cut off; the
 * focus ring has 3:1 contrast. And what axe cannot judge: the skip link, focus after a refused
 * submit, sign-out, the revocation confirmation, a stale search banner, the language default and
 * that every request carries the chosen language.
 */
describe("portal, applicant and holder pages: every screen in English, Swedish and Danish (WCAG 2.1 AA)", function () {
  this.timeout(600_000);
  let d: DemoEnv;
  let svc: Service;
  let peers: DeliveryPeers;
  let browser: Browser;
  let api: ReturnType<typeof officerApi>;
  let creds: ReturnType<typeof demoOfficerCreds>;
  let orgId = "";
  let personId = "";
  const orders: Record<string, string> = {};
  let producedSerial = "";
  let holderCard: { certPath: string; keyPath: string; orderId: string; serial: string } | undefined;
  /** Titles seen per language: each screen has its own. */
  const titles: Record<Lang, Map<string, string>> = { en: new Map(), sv: new Map(), da: new Map() };
  /** What each screen showed per language (to check the words change with the language). */
  const texts = new Map<string, Partial<Record<Lang, string>>>();
  const doc = {
    type: "passport",
    number: "XP445566",
    expires: new Date(Date.now() + 3650 * 86_400_000).toISOString().slice(0, 10),
  };
  const stamp = String(Date.now() % 1e8).padStart(8, "0");

  const as = (who: string, method: string, path: string, body?: unknown) => api.as(who, method, path, body);
  const ok = <X = any>(p: ReturnType<typeof as>, status = 200): Promise<X> => api.ok(p, status);

  async function acceptInBrowser(orderId: string) {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(await peers.termsLink(orderId));
    await page.locator("#accept-box").check();
    await page.locator("form button[type=submit]").first().click();
    await page.locator("#message.info").waitFor();
    await ctx.close();
  }
  async function produced(
    workflowId: string,
  ): Promise<{ orderId: string; serial: string; cert: X509Certificate; privateKey: import("node:crypto").KeyObject }> {
    const order = await ok(as("bo", "POST", "/orders", { personId, workflowId, nationalId: APPLICANT }), 201);
    await acceptInBrowser(order.id);
    await ok(as("bo", "POST", `/orders/${order.id}/actions/identify`, { document: doc, faceCompared: true }));
    if (workflowId === "loa3-card-order")
      await ok(
        as("cy", "POST", `/orders/${order.id}/actions/identify`, {
          document: { ...doc, type: "national-id-card" },
          faceCompared: true,
        }),
      );
    await ok(as("di", "POST", `/orders/${order.id}/actions/approve`, {}));
    await ok(as("di", "POST", `/orders/${order.id}/actions/start-production`, {}));
    const card = await attestedCardFor(svc.parts, svc.ra!.ra, order.id);
    const p = await ok(as("ed", "POST", `/orders/${order.id}/actions/produce`, card.body));
    const cert = new X509Certificate(Buffer.from(p.certificate, "base64"));
    return { orderId: order.id, serial: cert.serialNumber.toLowerCase(), cert, privateKey: card.privateKey };
  }

  before(async function () {
    d = demoEnv(this);
    requireTool(this, "chromium");
    trustFixtureMaker(d.caStore); // REQ-14: the software test cards' maker root
    mkdirSync(ARTIFACTS, { recursive: true });
    peers = await startDeliveryPeers();
    const config = loadConfig({
      ...d.env,
      ...peers.env,
      CARDPKI_PORT: "0",
      CARDPKI_RA_PORT: "0",
      CARDPKI_HOST: "127.0.0.1",
    });
    svc = await startService(config);
    creds = demoOfficerCreds(config.dataDir);
    api = officerApi(new URL(svc.ra!.url), readFileSync(config.ra.tlsCert, "utf8"), creds);
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
      ],
    });

    // ada (ra-admin, service-owner staff) onboards a customer organisation and binds the applicant and a deceased
    // person (REQ-01, REQ-21).
    const org = await ok(
      as("ada", "POST", "/organisations", { orgNumber: `56${stamp}`, name: "Tillgänglig Kund AB", country: "SE" }),
      201,
    );
    await ok(
      as("ada", "POST", `/organisations/${org.id}/onboarding`, {
        registrationCertificate: "e2e",
        domain: `a11y${stamp}.example`,
        domainValidationMethod: "dns-txt",
      }),
    );
    orgId = org.id;
    personId = (
      await ok(
        as("ada", "POST", `/organisations/${orgId}/people`, {
          nationalId: APPLICANT,
          name: "Cy Holder",
          email: "cy.holder@a11y.example",
          phone: "+46705550011",
        }),
        201,
      )
    ).id;
    await ok(
      as("ada", "POST", `/organisations/${orgId}/people`, {
        nationalId: DECEASED,
        name: "Di Gone",
        email: "di.gone@a11y.example",
      }),
      201,
    );

    // Orders in the states the screens need, every step over the RA API by the officer the workflow allows (REQ-10).
    orders.requested = (
      await ok(as("bo", "POST", "/orders", { personId, workflowId: "loa3-card-order", nationalId: APPLICANT }), 201)
    ).id;
    orders.kba = (
      await ok(as("bo", "POST", "/orders", { personId, workflowId: "loa2-card-order-kba", nationalId: APPLICANT }), 201)
    ).id;
    await acceptInBrowser(orders.kba);
    orders.inProduction = (
      await ok(as("bo", "POST", "/orders", { personId, workflowId: "loa3-card-order", nationalId: APPLICANT }), 201)
    ).id;
    await acceptInBrowser(orders.inProduction);
    await ok(
      as("bo", "POST", `/orders/${orders.inProduction}/actions/identify`, { document: doc, faceCompared: true }),
    );
    await ok(
      as("cy", "POST", `/orders/${orders.inProduction}/actions/identify`, {
        document: { ...doc, type: "national-id-card" },
        faceCompared: true,
      }),
    );
    await ok(as("di", "POST", `/orders/${orders.inProduction}/actions/approve`, {}));
    await ok(as("di", "POST", `/orders/${orders.inProduction}/actions/start-production`, {}));
    const p = await produced("loa2-card-order");
    orders.produced = p.orderId;
    producedSerial = p.serial;
    // The holder's card: a LoA2 card handed out, its activation code sent by SMS.
    const h = await produced("loa2-card-order");
    await ok(
      as("fi", "POST", `/orders/${h.orderId}/actions/hand-out`, {
        secondIdentification: { document: doc, faceCompared: true },
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), "a11y-holder-"));
    holderCard = {
      certPath: join(dir, "card.crt"),
      keyPath: join(dir, "card.key"),
      orderId: h.orderId,
      serial: h.serial,
    };
    writeFileSync(holderCard.certPath, h.cert.toString());
    writeFileSync(holderCard.keyPath, h.privateKey.export({ type: "pkcs8", format: "pem" }));
  });
  let stopped = false;
  after(async () => {
    await browser?.close();
    if (!stopped) await svc?.stop();
    await peers?.stop();
  });

  interface Session {
    ctx: BrowserContext;
    page: Page;
    errors: string[];
    requests: Request[];
  }
  const sessions = new Map<Page, Session>();
  /**
   * A browser context with an officer's (or a holder's) client certificate, local time in Stockholm; page errors and
   * requests recorded.
   */
  async function session(cert?: { certPath: string; keyPath: string }, o: { locale?: string } = {}): Promise<Session> {
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      timezoneId: "Europe/Stockholm",
      locale: o.locale ?? "en-GB",
      viewport: { width: 1280, height: 900 },
      ...(cert
        ? { clientCertificates: [{ origin: svc.ra!.url, certPath: cert.certPath, keyPath: cert.keyPath }] }
        : {}),
    });
    const page = await ctx.newPage();
    const errors: string[] = [];
    const requests: Request[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on(
      "request",
      (r) => void (new URL(r.url()).pathname.match(/^\/(api|portal\/session|holder\/session)/) && requests.push(r)),
    );
    const s = { ctx, page, errors, requests };
    sessions.set(page, s);
    return s;
  }
  const officer = (who: DemoOfficerName) => session(creds[who]);

  /** Chooses `lang` with the visible switch; the page answers in it (`<html lang>`, the switch's own label). */
  async function choose(page: Page, lang: Lang) {
    await page.waitForLoadState("networkidle");
    const s = sessions.get(page);
    if (s) s.requests.length = 0; // what was asked before, in the language chosen before
    await page.locator("#language").selectOption(lang);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    await page.locator("label[for=language]", { hasText: T(lang, "lang.label") }).waitFor();
  }

  /** Moves to a portal screen by its address fragment and waits for its heading. */
  async function go(page: Page, hash: string, heading: string | RegExp) {
    await page.evaluate((x) => {
      document.getElementById("main")!.replaceChildren(); // the screen is drawn afresh, also at the same address
      if (location.hash === x) window.dispatchEvent(new HashChangeEvent("hashchange"));
      else location.hash = x;
    }, hash);
    await page.locator("main h1", { hasText: heading }).waitFor();
    await page.waitForLoadState("networkidle");
  }

  /** The checks every screen passes, in the language it is shown in. */
  async function check(s: Session, name: string, lang: Lang) {
    const { page } = s;
    expect(await page.evaluate(() => document.documentElement.lang), `${name} (${lang}): <html lang>`).to.equal(lang);
    const violations = await axeViolations(page);
    expect(violations, `${name} (${lang}): axe-core, WCAG 2.1 A/AA, serious or critical`).to.deep.equal([]);
    const title = await page.title();
    const h1 = (await page.locator("main h1").first().textContent())?.trim() ?? "";
    expect(title, `${name} (${lang}): the document title names the screen`).to.include(h1);
    const other = [...titles[lang]].find(([n, t]) => t === title && n.split("#")[0] !== name.split("#")[0]);
    expect(other, `${name} (${lang}): title "${title}" also on ${other?.[0]}`).to.equal(undefined);
    titles[lang].set(name, title);
    const text = await readableText(page);
    expect(internalNames(text), `${name} (${lang}): what a person reads`).to.deep.equal([]);
    texts.set(name, { ...texts.get(name), [lang]: text });
    expect(await reflowProblems(page), `${name} (${lang}): reflow at 320 CSS px`).to.deep.equal([]);
    const rings = await focusRingProblems(page, 5);
    expect(rings.problems, `${name} (${lang}): focus ring contrast`).to.deep.equal([]);
    expect(rings.checked.length, `${name} (${lang}): focus stops reached`).to.be.greaterThan(0);
    expect(s.errors, `${name} (${lang}): page errors`).to.deep.equal([]);
    const wrong = s.requests
      .filter((r) => r.headers()["accept-language"] !== lang)
      .map((r) => `${r.method()} ${new URL(r.url()).pathname}: ${r.headers()["accept-language"]}`);
    s.requests.length = 0;
    expect(wrong, `${name} (${lang}): every request says Accept-Language: ${lang}`).to.deep.equal([]);
    if (lang === "en")
      await page.screenshot({ path: join(ARTIFACTS, `${name.replace(/[^a-z0-9-]+/gi, "_")}.png`), fullPage: true });
  }

  it(`ok/every officer screen in en, sv and da: no serious or critical axe violation, <html lang>, Accept-Language, a \
title per screen, no internal names, reflow at 320 px, focus ring 3:1`, async () => {
    const queue = (l: Lang) => T(l, "queue.title");
    const plan: {
      who: DemoOfficerName;
      screens: {
        name: string;
        hash: string;
        heading: (l: Lang) => string | RegExp;
        then?: (page: Page, l: Lang) => Promise<void>;
      }[];
    }[] = [
      {
        who: "bo",
        screens: [
          { name: "queue", hash: "#/queue", heading: queue },
          {
            name: "order",
            hash: `#/orders/${orders.requested}`,
            heading: (l) => new RegExp(T(l, "order.title", { name: "" }).trim()),
          },
          // An order with its history: two identifications, approval and release (names and labels, no ids, times
          // local).
          {
            name: "order#history",
            hash: `#/orders/${orders.inProduction}`,
            heading: (l) => new RegExp(T(l, "order.title", { name: "" }).trim()),
          },
          {
            name: "identify",
            hash: `#/orders/${orders.kba}/act/identify`,
            heading: (l) => new RegExp(`^${T(l, "action.identify")}:`),
          },
          {
            name: "reject",
            hash: `#/orders/${orders.requested}/act/reject`,
            heading: (l) => new RegExp(`^${T(l, "action.reject")}:`),
          },
          { name: "new-order", hash: "#/new", heading: (l) => T(l, "new.title") },
          {
            name: "new-order#refused",
            hash: "#/new",
            heading: (l) => T(l, "new.title"),
            then: async (page) => {
              await page.locator("main form button[type=submit]").click();
              await page.locator("#message.error").waitFor();
            },
          },
          { name: "people", hash: "#/people", heading: (l) => T(l, "people.title") },
          {
            name: "organisations",
            hash: "#/organisations",
            heading: (l) => new RegExp(`${T(l, "orgs.title")}|${T(l, "error.title")}`),
          },
          { name: "certificates", hash: "#/certificates", heading: (l) => T(l, "cert.title") },
          {
            name: "certificates#found",
            hash: "#/certificates",
            heading: (l) => T(l, "cert.title"),
            then: async (page, l) => {
              await page.locator("main input[name=serial]").fill(producedSerial);
              await page.locator("main form button[type=submit]").first().click();
              await page.locator("#revocation").waitFor();
              await page.locator("#revocation input[value=keyCompromise]").check();
              await page.locator("#revocation form button[type=submit]").last().click();
              await page.locator("#revoke-confirm", { hasText: T(l, "revoke.confirm-title") }).waitFor();
            },
          },
        ],
      },
      {
        who: "di",
        screens: [
          {
            name: "approve",
            hash: `#/orders/${orders.kba}/act/approve`,
            heading: (l) => new RegExp(`^${T(l, "action.approve")}:`),
          },
          {
            name: "start-production",
            hash: `#/orders/${orders.kba}/act/start-production`,
            heading: (l) => new RegExp(`^${T(l, "action.start-production")}:`),
          },
        ],
      },
      {
        who: "fi",
        screens: [
          {
            name: "hand-out",
            hash: `#/orders/${orders.produced}/act/hand-out`,
            heading: (l) => new RegExp(`^${T(l, "action.hand-out")}:`),
          },
          {
            name: "send-by-mail",
            hash: `#/orders/${orders.produced}/act/send-by-mail`,
            heading: (l) => new RegExp(`^${T(l, "action.send-by-mail")}:`),
          },
        ],
      },
      {
        who: "ed",
        screens: [
          { name: "station", hash: "#/station", heading: (l) => T(l, "station.title") },
          {
            name: "produce",
            hash: `#/orders/${orders.inProduction}/act/produce`,
            heading: (l) => new RegExp(`^${T(l, "action.produce")}:`),
            then: async (page, l) =>
              void (await page.waitForFunction(
                (w) => document.getElementById("station")?.textContent !== w,
                T(l, "station.checking"),
              )),
          },
          {
            name: "production-failed",
            hash: `#/orders/${orders.produced}/act/production-failed`,
            heading: (l) => new RegExp(`^${T(l, "action.production-failed")}:`),
          },
        ],
      },
      {
        who: "ada",
        screens: [
          { name: "admin", hash: "#/admin", heading: (l) => T(l, "admin.title") },
          {
            name: "people#found",
            hash: "#/people",
            heading: (l) => T(l, "people.title"),
            then: async (page, l) => {
              await page.locator("main input[name=nationalId]").fill(APPLICANT);
              await page.locator("main select[name=organisationId]").selectOption({ label: "Tillgänglig Kund AB" });
              await page.locator("main form button[type=submit]").first().click();
              await page.locator("#person h2", { hasText: "Cy Holder" }).waitFor();
              await page.getByRole("form", { name: T(l, "appoint.title") }).waitFor(); // ra-admin: appoint as officer
            },
          },
          { name: "deliveries", hash: "#/deliveries", heading: (l) => T(l, "deliveries.title") },
        ],
      },
      {
        who: "gu",
        screens: [
          { name: "audit", hash: "#/audit", heading: (l) => T(l, "audit.title") },
          {
            name: "audit#evidence",
            hash: "#/audit",
            heading: (l) => T(l, "audit.title"),
            then: async (page, l) => {
              await page.locator("main form").first().locator("input[name=serial]").fill(producedSerial);
              await page.locator("main form").first().locator("button[type=submit]").click();
              await page.locator("#evidence h2", { hasText: T(l, "evidence.result") }).waitFor();
            },
          },
          {
            name: "audit#report",
            hash: "#/audit",
            heading: (l) => T(l, "audit.title"),
            then: async (page) => {
              const f = page.locator("main form").nth(1);
              await f
                .locator("input[name=from]")
                .fill(new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10));
              await f.locator("input[name=to]").fill(new Date(Date.now() + 86_400_000).toISOString().slice(0, 10));
              await f.locator("button[type=submit]").click();
              await page.locator("#evidence .pass, #evidence .fail").waitFor();
            },
          },
        ],
      },
    ];
    for (const { who, screens } of plan) {
      const s = await officer(who);
      await s.page.goto(`${svc.ra!.url}/portal/`);
      await s.page.locator("#who:not(:empty)").waitFor();
      for (const lang of LANGS) {
        await choose(s.page, lang);
        for (const sc of screens) {
          try {
            await go(s.page, sc.hash, sc.heading(lang));
            if (sc.then) await sc.then(s.page, lang);
            await check(s, sc.name, lang);
          } catch (e) {
            await s.page.screenshot({
              path: join(ARTIFACTS, `failed-${sc.name.replace(/[^a-z0-9-]+/gi, "_")}-${lang}.png`),
              fullPage: true,
            });
            throw e;
          }
        }
      }
      // Signed out: the screen without a session (in each language).
      await s.page.locator("#signout").click();
      await s.page.locator("main h1", { hasText: T("da", "signout.title") }).waitFor();
      expect(
        s.requests.map((r) => `${r.method()} ${new URL(r.url()).pathname} ${r.headers()["accept-language"]}`),
      ).to.deep.equal(["DELETE /portal/session da"]);
      s.requests.length = 0;
      for (const lang of LANGS) {
        await choose(s.page, lang);
        await s.page.locator("main h1", { hasText: T(lang, "signout.title") }).waitFor();
        await check(s, `signed-out#${who}`, lang);
      }
      await s.ctx.close();
    }
    // Without a client certificate: the sign-in's refusal, in each language.
    const anon = await session();
    await anon.page.goto(`${svc.ra!.url}/portal/`);
    for (const lang of LANGS) {
      await choose(anon.page, lang);
      await anon.page.locator("main h1", { hasText: T(lang, "signin.failed") }).waitFor();
      await check(anon, "sign-in-failed", lang);
    }
    await anon.ctx.close();
    // The words follow the language: each screen reads differently in Swedish and in Danish than in English.
    for (const [name, t] of texts)
      for (const l of ["sv", "da"] as const) expect(t[l], `${name}: ${l} differs from en`).to.not.equal(t.en);
  });
  it(`ok/the applicant page in en, sv and da: the terms, a refused acceptance, the progress, the ended session and a \
used link, each checked like every screen`, async () => {
    const s = await session();
    const link = await peers.termsLink(orders.requested);
    await s.page.goto(link);
    await s.page.locator("#accept-box").waitFor();
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "applicant.title-terms") }).waitFor();
      await s.page.locator("#accept-box").waitFor();
      await check(s, "applicant-terms", lang);
      // Accepting without ticking: the server refuses (REQ-06) in the chosen language; focus on the error summary.
      await s.page.locator("main form button[type=submit]").first().click();
      await s.page.locator("#message.error").waitFor();
      expect(await s.page.evaluate(() => document.activeElement?.id), "focus on the error summary").to.equal("message");
      await check(s, "applicant-terms#refused", lang);
    }
    await s.page.locator("#accept-box").check();
    await s.page.locator("main form button[type=submit]").first().click();
    await s.page.locator("#message.info").waitFor();
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("#status", { hasText: T(lang, "progress.TERMS_ACCEPTED.many", { n: 2 }) }).waitFor();
      await check(s, "applicant-progress", lang);
    }
    await s.page.locator("#signout").click();
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "applicant.ended-title") }).waitFor();
      await check(s, "applicant-ended", lang);
    }
    await s.ctx.close();
    const again = await session();
    await again.page.goto(link);
    for (const lang of LANGS) {
      await choose(again.page, lang);
      await again.page.locator("main h1", { hasText: T(lang, "applicant.unusable-title") }).waitFor();
      await check(again, "applicant-link-used", lang);
    }
    await again.ctx.close();
  });

  it(`ok/the holder pages in en, sv and da: activation (a wrong code refused, then the code from the SMS), my cards, a \
suspension refused without the tick, PIN guidance, signed out`, async () => {
    const card = holderCard!;
    const s = await session(card);
    await s.page.goto(`${svc.ra!.url}/holder/`);
    await s.page.locator("#who:not(:empty)").waitFor();
    const code = await peers.activationCode(card.orderId);
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "activate.title") }).waitFor();
      await s.page.locator("main input[name=code]").waitFor();
      await check(s, "holder-activation", lang);
      await s.page.locator("main input[name=code]").fill(code === "AAAAAAAAAA" ? "BBBBBBBBBB" : "AAAAAAAAAA");
      await s.page.locator("main form button[type=submit]").click();
      await s.page.locator("#message.error").waitFor();
      await check(s, "holder-activation#refused", lang);
    }
    await s.page.locator("main input[name=code]").fill(code);
    await s.page.locator("main form button[type=submit]").click();
    await s.page.locator("main h1", { hasText: T("da", "pin.title") }).waitFor();
    await s.page.waitForLoadState("networkidle");
    s.requests.length = 0; // the activation and the new sign-in, in Danish
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "pin.title") }).waitFor();
      await check(s, "holder-pin", lang);
      await s.page.evaluate(() => void (location.hash = "#/cards"));
      await s.page.locator("main h1", { hasText: T(lang, "holder.cards-title") }).waitFor();
      await s.page.locator(".card-status").first().waitFor();
      await check(s, "holder-cards", lang);
      const suspend = s.page.getByRole("form", { name: T(lang, "holder.suspend") });
      await suspend.locator("button[type=submit]").click();
      const box = suspend.locator("input[name=confirm]");
      await s.page.waitForFunction(() => document.activeElement?.getAttribute("name") === "confirm");
      expect(await box.getAttribute("aria-invalid")).to.equal("true");
      await check(s, "holder-cards#refused", lang);
      await s.page.evaluate(() => void (location.hash = "#/pin"));
    }
    await s.page.locator("#signout").click();
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "signout.title") }).waitFor();
      await check(s, "holder-signed-out", lang);
    }
    await s.ctx.close();
  });

  it("ok/the skip link moves focus to the main content: no navigation, the half-filled form kept", async () => {
    const s = await officer("bo");
    await s.page.goto(`${svc.ra!.url}/portal/#/new`);
    await s.page.locator("main h1", { hasText: T("en", "new.title") }).waitFor();
    for (const lang of ["en", "sv"] as const) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "new.title") }).waitFor();
      const nationalId = s.page.locator("main input[name=nationalId]");
      await nationalId.fill("197003033456");
      await s.page.locator("main select[name=workflowId]").selectOption("loa2-card-order");
      const url = s.page.url();
      const entries: number = await s.page.evaluate(() => history.length);
      await fromTheTop(s.page);
      await s.page.keyboard.press("Tab");
      const skip = s.page.locator("a.skip");
      expect(await skip.evaluate((a) => a === document.activeElement), "the first Tab reaches the skip link").to.equal(
        true,
      );
      expect(await skip.textContent()).to.equal(T(lang, "skip"));
      const box = await skip.boundingBox();
      expect(box && box.x >= 0 && box.y >= 0, "the focused skip link is on screen").to.equal(true);
      await s.page.keyboard.press("Enter");
      await s.page.waitForFunction(() => document.activeElement?.id === "main");
      expect(s.page.url(), "no navigation").to.equal(url);
      expect(await s.page.evaluate(() => history.length), "no history entry").to.equal(entries);
      expect(await nationalId.inputValue(), "the half-filled form is kept").to.equal("197003033456");
      expect(await s.page.locator("main select[name=workflowId]").inputValue()).to.equal("loa2-card-order");
      expect(await s.page.locator("main h1").textContent()).to.equal(T(lang, "new.title"));
      // The next Tab goes on inside the main content.
      await s.page.keyboard.press("Tab");
      expect(
        await s.page.evaluate(() => !!document.activeElement?.closest("main")),
        "the next Tab stays in main",
      ).to.equal(true);
    }
    expect(s.errors).to.deep.equal([]);
    await s.ctx.close();
  });

  it(`fail/a refused submit: focus on the first invalid field, its error tied to it (aria-invalid, aria-describedby); \
a refusal of the server: its words in the chosen language on the error summary, which has focus, no server \
path`, async () => {
    const s = await officer("bo");
    await s.page.goto(`${svc.ra!.url}/portal/#/new`);
    await s.page.locator("main h1", { hasText: T("en", "new.title") }).waitFor();
    const details: Partial<Record<Lang, string>> = {};
    for (const lang of LANGS) {
      await choose(s.page, lang);
      await s.page.locator("main h1", { hasText: T(lang, "new.title") }).waitFor();
      const nationalId = s.page.locator("main input[name=nationalId]");
      await nationalId.fill("");
      await s.page.locator("main form button[type=submit]").click();
      await s.page.waitForFunction(() => document.activeElement?.getAttribute("name") === "nationalId");
      expect(await nationalId.getAttribute("aria-invalid")).to.equal("true");
      const described = (await nationalId.getAttribute("aria-describedby"))!.split(" ");
      const errorId = described.find((x) => x.startsWith("err-"))!;
      expect(await s.page.locator(`[id="${errorId}"]`).textContent()).to.equal(T(lang, "error.required"));
      expect(await s.page.locator("#message.error").textContent()).to.include(T(lang, "error.summary"));
      // The summary's link moves focus to the field, without navigating.
      const url = s.page.url();
      await s.page.locator("main input[name=nationalId]").evaluate((el) => (el as any).blur());
      await s.page.locator("#message.error a").first().click();
      expect(await s.page.evaluate(() => document.activeElement?.getAttribute("name"))).to.equal("nationalId");
      expect(s.page.url()).to.equal(url);
      // A too short number: the page says so in the chosen language before anything is sent.
      await nationalId.fill("12");
      await s.page.locator("main form button[type=submit]").click();
      await s.page.locator(`[id="${errorId}"]`, { hasText: T(lang, "error.national-id") }).waitFor();
      // The deceased person: the register refuses (REQ-07); the server's words, in the chosen language.
      await nationalId.fill(DECEASED);
      await s.page.locator("main select[name=organisationId]").selectOption({ label: "Tillgänglig Kund AB" });
      const answer = s.page.waitForResponse(
        (r) => r.url().endsWith("/api/v1/orders") && r.request().method() === "POST",
      );
      await s.page.locator("main form button[type=submit]").click();
      const r = await answer;
      expect(r.status()).to.equal(422);
      expect(r.request().headers()["accept-language"]).to.equal(lang);
      const problem = await r.json();
      await s.page.locator("#message.error").waitFor();
      await s.page.waitForFunction(
        () =>
          document.activeElement?.id === "message" || document.activeElement?.getAttribute("aria-invalid") === "true",
      );
      const shown = (await s.page.locator("#message").textContent())!;
      expect(shown).to.include(problem.detail);
      expect(internalNames(shown), "the refusal in words").to.deep.equal([]);
      expect(problem.lang ?? r.headers()["content-language"], "the server answered in the chosen language").to.equal(
        lang,
      );
      details[lang] = problem.detail;
    }
    expect(new Set(Object.values(details)).size, "the refusal reads differently in each language").to.equal(3);
    expect(s.errors).to.deep.equal([]);
    await s.ctx.close();
  });

  it(`ok/sign out: the page no longer says signed in, drops the session UI, names the card as the credential and makes \
no request as the officer`, async () => {
    const s = await officer("cy");
    await s.page.goto(`${svc.ra!.url}/portal/#/queue`);
    await s.page.locator("main h1", { hasText: T("en", "queue.title") }).waitFor();
    expect(await s.page.locator("#who").textContent()).to.match(/^Signed in as /);
    await s.page.locator("#signout").click();
    await s.page.locator("main h1", { hasText: T("en", "signout.title") }).waitFor();
    expect(await s.page.locator("body").innerText()).to.not.match(/Signed in/);
    expect(await s.page.locator("#who").textContent()).to.equal("");
    expect(await s.page.locator("nav").isVisible(), "no navigation").to.equal(false);
    expect(await s.page.locator("#signout").isVisible(), "no sign-out button").to.equal(false);
    const text = await s.page.locator("main").innerText();
    for (const k of ["signout.text", "signout.remove-card", "signout.close-browser"])
      expect(text).to.include(T("en", k));
    // The address changes: the page stays signed out and asks nothing of the RA as the officer.
    s.requests.length = 0;
    for (const hash of ["#/queue", `#/orders/${orders.kba}`, "#/certificates"]) {
      await s.page.evaluate((x) => void (location.hash = x), hash);
      await s.page.waitForTimeout(300);
      await s.page.locator("main h1", { hasText: T("en", "signout.title") }).waitFor();
    }
    expect(
      s.requests.map((r) => r.url()),
      "no request after sign-out",
    ).to.deep.equal([]);
    const cookies = (await s.ctx.cookies()).filter((c) => c.name === "cardpki_session");
    expect(cookies, "the session cookie is gone").to.deep.equal([]);
    expect(s.errors).to.deep.equal([]);
    await s.ctx.close();
  });

  it(`ok/revocation with keyCompromise: a reason chosen, then a confirmation step that names what cannot be undone; \
fail/confirming without the tick; nothing revoked until confirmed`, async () => {
    const s = await officer("fi");
    await s.page.goto(`${svc.ra!.url}/portal/#/certificates`);
    await s.page.locator("#who:not(:empty)").waitFor();
    await choose(s.page, "sv");
    await s.page.locator("main h1", { hasText: T("sv", "cert.title") }).waitFor();
    // A search that finds nothing: its banner; the next search's result clears it.
    await s.page.locator("main input[name=serial]").fill("0123456789abcdef");
    await s.page.locator("main form button[type=submit]").first().click();
    await s.page.locator("#message.error").waitFor();
    await s.page.locator("main input[name=serial]").fill(serialText(producedSerial));
    await s.page.locator("main form button[type=submit]").first().click();
    await s.page.locator("#revocation").waitFor();
    expect(await s.page.locator("#message").textContent(), "the failed search's banner is gone").to.equal("");
    expect(await s.page.locator("#message.error").count()).to.equal(0);
    await s.page.getByLabel(T("sv", "reason.keyCompromise"), { exact: true }).check();
    await s.page.getByRole("button", { name: T("sv", "revoke.next") }).click();
    const confirm = s.page.locator("#revoke-confirm");
    await confirm.waitFor();
    expect(await confirm.textContent()).to.include(T("sv", "revoke.confirm-key-compromise"));
    expect(
      (await ok(as("fi", "GET", `/certificates/${producedSerial}`))).status,
      "nothing revoked before the confirmation",
    ).to.equal("on-hold");
    await confirm.getByRole("button", { name: T("sv", "revoke.confirm-submit") }).click();
    await s.page.waitForFunction(() => document.activeElement?.getAttribute("name") === "confirm");
    expect(await confirm.locator("input[name=confirm]").getAttribute("aria-invalid")).to.equal("true");
    expect(
      (await ok(as("fi", "GET", `/certificates/${producedSerial}`))).status,
      "nothing revoked without the tick",
    ).to.equal("on-hold");
    await confirm.getByRole("button", { name: T("sv", "revoke.back") }).click();
    await s.page.getByRole("button", { name: T("sv", "revoke.next") }).waitFor();
    expect((await ok(as("fi", "GET", `/certificates/${producedSerial}`))).status, "back: nothing revoked").to.equal(
      "on-hold",
    );
    await s.page.getByLabel(T("sv", "reason.keyCompromise"), { exact: true }).check();
    await s.page.getByRole("button", { name: T("sv", "revoke.next") }).click();
    await confirm.locator("input[name=confirm]").check();
    await confirm.getByRole("button", { name: T("sv", "revoke.confirm-submit") }).click();
    await s.page
      .locator("#message.info", { hasText: T("sv", "revoke.revoked", { reason: T("sv", "reason.keyCompromise") }) })
      .waitFor();
    expect((await ok(as("fi", "GET", `/certificates/${producedSerial}`))).status).to.equal("revoked");
    await s.page.locator("#certificate", { hasText: T("sv", "cert.revoked-final") }).waitFor();
    expect(s.errors).to.deep.equal([]);
    await s.ctx.close();
  });

  it(`ok/the work queue's steps are separate, spaced actions; times are local with the zone named and the instant in \
<time datetime>`, async () => {
    const s = await officer("bo");
    await s.page.goto(`${svc.ra!.url}/portal/#/queue`);
    await s.page.locator("main h1", { hasText: T("en", "queue.title") }).waitFor();
    const row = s.page.locator("tr", { has: s.page.locator(`a[href="#/orders/${orders.kba}/act/identify"]`) });
    const links = row.locator("ul.next-steps li a");
    expect(await links.allTextContents()).to.deep.equal([T("en", "action.identify"), T("en", "action.reject")]);
    const [a, b] = [(await links.nth(0).boundingBox())!, (await links.nth(1).boundingBox())!];
    expect(b.x >= a.x + a.width + 4 || b.y >= a.y + a.height, "the two steps do not touch").to.equal(true);
    expect(await row.locator("ul.next-steps").innerText()).to.not.include(
      `${T("en", "action.identify")}${T("en", "action.reject")}`,
    );
    await s.page.evaluate((x) => void (location.hash = x), `#/orders/${orders.kba}`);
    await s.page.locator("main h2", { hasText: T("en", "order.timeline") }).waitFor();
    const times = await s.page
      .locator("main time")
      .evaluateAll((ts) => ts.map((x) => [x.getAttribute("datetime"), x.textContent]));
    expect(times.length).to.be.greaterThan(0);
    for (const [iso, text] of times) {
      expect(iso).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const local = new Date(iso!)
        .toLocaleString("sv-SE", { timeZone: "Europe/Stockholm", hour12: false })
        .slice(0, 16);
      expect(text).to.match(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T$/);
      expect(text!.slice(0, 16), "the local time in Stockholm").to.equal(local);
    }
    await s.ctx.close();
  });

  it("ok/the language follows the browser's languages until the person chooses, and the choice is kept", async () => {
    for (const [locale, lang] of [
      ["sv-SE", "sv"],
      ["da-DK", "da"],
      ["fr-FR", "en"],
    ] as const) {
      const s = await session(creds.bo, { locale });
      await s.page.goto(`${svc.ra!.url}/portal/`);
      await s.page.locator("main h1", { hasText: T(lang, "queue.title") }).waitFor();
      expect(await s.page.evaluate(() => document.documentElement.lang)).to.equal(lang);
      expect(await s.page.locator("#language").inputValue()).to.equal(lang);
      if (lang === "sv") {
        await choose(s.page, "da");
        await s.page.reload();
        await s.page.locator("main h1", { hasText: T("da", "queue.title") }).waitFor();
        expect(await s.page.evaluate(() => localStorage.getItem("cardpki.lang"))).to.equal("da");
      }
      await s.ctx.close();
    }
  });

  it(`ok/names where people read them: the officer by name, the applicant's name, birth date and masked national ID on \
the queue, the order and the identify screen; an organisation picker; a person found by national ID`, async () => {
    const s = await officer("bo");
    await s.page.goto(`${svc.ra!.url}/portal/#/queue`);
    await s.page.locator("main h1", { hasText: T("en", "queue.title") }).waitFor();
    expect(await s.page.locator("#who").textContent()).to.match(/^Signed in as Bo Officer \([0-9A-Z-]+\)/);
    await s.page.locator(`main a[href="#/orders/${orders.kba}"]`, { hasText: "Cy Holder" }).waitFor();
    await s.page.evaluate((x) => void (location.hash = x), `#/orders/${orders.kba}/act/identify`);
    const applicant = s.page.locator("#applicant");
    await applicant.waitFor();
    const shown = await applicant.innerText();
    for (const x of ["Cy Holder", "1970-03-03", "19700303-"]) expect(shown).to.include(x);
    expect(shown).to.include("Tillgänglig Kund AB");
    expect(await s.page.title()).to.include("Cy Holder");
    await s.page.evaluate(() => void (location.hash = "#/new"));
    const picker = s.page.locator("main select[name=organisationId]");
    await picker.waitFor();
    expect(await picker.locator("option").allTextContents()).to.include("Tillgänglig Kund AB");
    await s.page.evaluate(() => void (location.hash = "#/people"));
    await s.page.locator("main input[name=nationalId]").fill(APPLICANT);
    await s.page.locator("main select[name=organisationId]").selectOption({ label: "Tillgänglig Kund AB" });
    await s.page.locator("main form button[type=submit]").click();
    await s.page.locator("#person h2", { hasText: "Cy Holder" }).waitFor();
    expect(await s.page.locator("#person").innerText()).to.include("1970-03-03");
    // A search that finds nobody, then one that finds: the first one's banner is gone.
    await s.page.locator("main input[name=nationalId]").fill("198001015099");
    await s.page.locator("main form button[type=submit]").first().click();
    await s.page.locator("#message", { hasText: T("en", "people.none") }).waitFor();
    await s.page.locator("main input[name=nationalId]").fill(APPLICANT);
    await s.page.locator("main form button[type=submit]").first().click();
    await s.page.locator("#person h2", { hasText: "Cy Holder" }).waitFor();
    expect(await s.page.locator("#message").textContent()).to.equal("");
    expect(s.errors).to.deep.equal([]);
    await s.ctx.close();
  });
  it(`fail/no card reader service at the card station: the station and produce screens say so in words in each \
language, with a reference for the service desk, never "internal error"`, async () => {
    // The RA server as its own process with no PC/SC daemon to reach (pcsc-lite's socket moved away); the in-process
    // service steps aside for it (last test).
    const orderId = orders.inProduction!;
    const config = loadConfig({
      ...d.env,
      ...peers.env,
      CARDPKI_PORT: "0",
      CARDPKI_RA_PORT: "0",
      CARDPKI_HOST: "127.0.0.1",
    });
    await svc.stop();
    stopped = true;
    const raPort = await freePort();
    const url = `https://127.0.0.1:${raPort}`;
    let log = "";
    const child: ChildProcess = spawn(process.execPath, [CLI, "serve"], {
      env: {
        ...d.env,
        ...peers.env,
        CARDPKI_PORT: String(await freePort()),
        CARDPKI_RA_PORT: String(raPort),
        CARDPKI_HOST: "127.0.0.1",
        CARDPKI_DRAIN_SECONDS: "0",
        PCSCLITE_CSOCK_NAME: `/nonexistent/pcscd-a11y-${stamp}.comm`,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (x) => (log += x));
    try {
      const childApi = officerApi(new URL(url), readFileSync(config.ra.tlsCert, "utf8"), creds);
      expect(
        await waitFor(
          async () => (await childApi.as("ed", "GET", "/me").catch(() => ({ status: 0 }))).status === 200,
          60_000,
          200,
        ),
        `cardpki serve came up: ${log.slice(-2000)}`,
      ).to.equal(true);
      const ctx = await browser.newContext({
        ignoreHTTPSErrors: true,
        timezoneId: "Europe/Stockholm",
        locale: "en-GB",
        viewport: { width: 1280, height: 900 },
        clientCertificates: [{ origin: url, certPath: creds.ed.certPath, keyPath: creds.ed.keyPath }],
      });
      const page = await ctx.newPage();
      const s: Session = { ctx, page, errors: [], requests: [] };
      page.on("pageerror", (e) => s.errors.push(String(e)));
      page.on(
        "request",
        (r) => void (new URL(r.url()).pathname.match(/^\/(api|portal\/session)/) && s.requests.push(r)),
      );
      sessions.set(page, s);
      await page.goto(`${url}/portal/`);
      await page.locator("#who:not(:empty)").waitFor();
      for (const lang of LANGS) {
        await choose(page, lang);
        const words = refusalWords(lang, { kind: "unavailable", code: "card.reader-service-down", params: {} });
        expect(words.worded, "the refusal has words").to.equal(true);
        await go(page, "#/station", T(lang, "station.title"));
        const problem = (await page.locator("#station-problem").innerText()).trim();
        expect(problem.startsWith(words.detail), `${lang}: ${problem}`).to.equal(true);
        const reference = new RegExp(
          T(lang, "error.incident", { reference: "@@" })
            .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
            .replace("@@", "[0-9A-F-]{8}"),
        );
        expect(problem, lang)
          .to.match(reference)
          .and.not.match(/internal error|SCard|0x8010|is pcscd running\?/i);
        await check(s, "station#reader-service-down", lang);
        await go(page, `#/orders/${orderId}/act/produce`, new RegExp(`^${T(lang, "action.produce")}:`));
        await page.waitForFunction(
          (w) => document.getElementById("station")?.textContent !== w,
          T(lang, "station.checking"),
        );
        const produce = (await page.locator("#station").innerText()).trim();
        expect(produce.startsWith(words.detail), `${lang} produce: ${produce}`).to.equal(true);
        expect(await page.locator("#station.error-text").count(), "shown as an error").to.equal(1);
        await check(s, "produce#reader-service-down", lang);
      }
      expect(log, "the cause in the server's log").to.match(/PC\/SC is not available \(is pcscd running\?\)/);
      await ctx.close();
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});
